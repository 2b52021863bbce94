"""Who is asking (R24): which Slack accounts may act for a tenant user at all.

Slack tells who pressed or typed; the tenant user they act for is found from the email of their
Slack profile (or, with a Microsoft sign-in, from the Entra user they are bound to). An email in
a Slack profile only says who someone is when Slack vouches for it: the account is a full member of
the workspace that installed the bot, a person (not a bot, an app or a workflow), not deleted, and
Slack has confirmed the address. Anyone else is refused before any tenant lookup, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import AccountRefused, DomainError, UnknownRequester

__all__ = ["Access", "Installation", "Refuse", "SlackAccount", "account_refusal"]

Refuse = Callable[[str, str, DomainError, str], None]
"""Audit a refusal in its own commit: who (email or Slack id), what, the refusal, correlation id."""


@dataclass(frozen=True, slots=True)
class Installation:
    """The Slack workspace (and Enterprise Grid organization, if any) that installed the bot."""

    team_id: str
    enterprise_id: str = ""
    enterprise_install: bool = False
    """Installed for a whole Enterprise Grid organization: its members in any of its workspaces count."""


@dataclass(frozen=True, slots=True)
class SlackAccount:
    """What Slack says about the account behind a request: its payload and `users.info`."""

    user_id: str
    team_id: str
    """The account's own workspace (`users.info` `team_id`)."""
    email: str | None
    request_team_id: str = ""
    """The workspace the request says it comes from (the payload's `user.team_id` or `team_id`)."""
    enterprise_id: str = ""
    deleted: bool = False
    bot: bool = False
    app_user: bool = False
    """An app's or a workflow's own user (`is_app_user`), not a person."""
    guest: bool = False
    """A multi-channel guest (`is_restricted`)."""
    single_channel_guest: bool = False
    """A single-channel guest (`is_ultra_restricted`)."""
    stranger: bool = False
    """Slack marks a person of another organization in a shared channel as a stranger."""
    email_confirmed: bool = False


def account_refusal(account: SlackAccount, installation: Installation) -> AccountRefused | None:
    """R24: why this account may not act for anyone in the tenant, or None when it may."""
    if account.deleted:
        return AccountRefused(
            "This Slack account has been deactivated, so it cannot act for anyone in Microsoft 365.",
            "Ask an admin whose Slack account is active.",
        )
    if account.bot or account.app_user:
        return AccountRefused(
            "Requests from bots, apps and workflows cannot change licenses or subscriptions: only a "
            "person can, from their own Slack account.",
            "Ask an admin to do it from their own account.",
        )
    if _outside(account, installation):
        return AccountRefused(
            "Your Slack account belongs to another organization (you reach this workspace through a "
            "shared channel), so it cannot act for anyone in this Microsoft 365 tenant.",
            "Ask an admin of this organization, from this workspace, to do it.",
        )
    if account.guest or account.single_channel_guest:
        kind = "a single-channel guest" if account.single_channel_guest else "a guest"
        return AccountRefused(
            f"Your Slack account is {kind} of this workspace; guests cannot act for anyone in "
            "Microsoft 365, whatever email their profile shows.",
            "Ask an admin who is a full member of the workspace, or ask a Slack admin to make your "
            "account a full member.",
        )
    if not account.email_confirmed:
        return AccountRefused(
            "Slack has not confirmed the email address of your Slack account, so it cannot say "
            "which Microsoft 365 user you are.",
            "Confirm your email address in Slack (Slack sends a confirmation link), then try again.",
        )
    return None


def _outside(account: SlackAccount, installation: Installation) -> bool:
    """Another workspace's or organization's member: Slack Connect, or a request from elsewhere."""
    if account.stranger:
        return True
    if installation.enterprise_install and installation.enterprise_id:
        return account.enterprise_id != installation.enterprise_id
    teams = {account.team_id, account.request_team_id or account.team_id}
    return teams != {installation.team_id}


class Access:
    """Admits the Slack account behind a request, or refuses it with the reason, audited (R24, R20)."""

    def __init__(self, refuse: Refuse) -> None:
        self._refuse = refuse

    def admit(
        self, account: SlackAccount, installation: Installation, action: str, correlation_id: str
    ) -> str:
        """The tenant user the account acts for: the email of its Slack profile, once Slack vouches
        for the account. R16 is then checked on that user."""
        refusal = account_refusal(account, installation)
        if refusal is not None:
            self._refuse(account.email or account.user_id, action, refusal, correlation_id)
            raise refusal
        if account.email is None:
            raise UnknownRequester(account.user_id)
        return account.email
