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
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.audit import AuditEntry, AuditResult
from domain.errors import AccountRefused, DomainError, SignInRequired, UnknownRequester
from domain.model import AdminRole, User
from domain.ports import Clock

__all__ = [
    "Access",
    "AdminBinding",
    "Binding",
    "BindingStore",
    "EntraStanding",
    "Installation",
    "Refuse",
    "SignIn",
    "SignedIn",
    "SlackAccount",
    "account_refusal",
]

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
    enterprise_teams: tuple[str, ...] = ()
    """On Enterprise Grid, the organization's workspaces the account belongs to."""
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
    same_organization = (
        bool(installation.enterprise_id) and account.enterprise_id == installation.enterprise_id
    )
    if installation.enterprise_install and installation.enterprise_id:
        return not same_organization
    member_here = account.team_id == installation.team_id or (
        same_organization and installation.team_id in account.enterprise_teams
    )
    from_here = account.request_team_id in {"", installation.team_id}
    return not (member_here and from_here)


class AdminBinding(StrEnum):
    """How a Slack account is tied to its tenant user."""

    EMAIL = "email"
    """By the email of the Slack profile, once Slack vouches for the account."""
    ENTRA = "entra"
    """By a Microsoft sign-in: the Slack account is bound to the Entra user who signed in."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A Slack account bound to an Entra user by a Microsoft sign-in (R24)."""

    slack_user_id: str
    slack_team_id: str
    object_id: str
    user_principal_name: str
    email: str
    """The Slack profile email when last seen: a change is noticed (and audited) once."""
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who Microsoft says signed in: the id token's `oid` and `preferred_username`."""

    object_id: str
    user_principal_name: str


class BindingStore(Protocol):
    """The bindings, each change recorded with its audit entry in one transaction."""

    def get(self, slack_user_id: str) -> Binding | None: ...

    def bind(self, binding: Binding, entry: AuditEntry) -> None:
        """Bind (or bind again, replacing the previous binding of the Slack account)."""
        ...

    def unbind(self, slack_user_id: str, entry: AuditEntry) -> bool:
        """Forget the binding; False when there was none (nothing is recorded then)."""
        ...

    def saw_email(self, slack_user_id: str, email: str, entry: AuditEntry) -> None: ...


class SignIn(Protocol):
    """Starts a Microsoft sign-in for a Slack account; when it completes, the adapter calls
    `Access.signed_in`. Called with no transaction open (it talks to the login endpoint)."""

    def start(self, account: SlackAccount) -> str:
        """What the person is told to do: a link to open, or a code to enter and where."""
        ...


EntraStanding = Callable[[str], tuple[User | None, frozenset[AdminRole]]]
"""An Entra object id → the user (None when deleted) and their admin roles, read from the tenant."""


class Access:
    """Admits the Slack account behind a request, or refuses it with the reason, audited (R24, R20).

    With `AdminBinding.ENTRA` (given `bindings`, `sign_in`, `standing` and `clock`), an admitted
    account acts for the Entra user it is bound to, whatever its Slack profile says; an unbound one
    is asked to sign in; a binding whose user was deleted, disabled or holds no admin role any more
    is dropped (audited) and the person asked to sign in again.
    """

    def __init__(
        self,
        refuse: Refuse,
        *,
        bindings: BindingStore | None = None,
        sign_in: SignIn | None = None,
        standing: EntraStanding | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._refuse = refuse
        self._bindings = bindings
        self._sign_in = sign_in
        self._standing = standing
        self._clock = clock

    @property
    def mode(self) -> AdminBinding:
        return AdminBinding.ENTRA if self._bindings is not None else AdminBinding.EMAIL

    def admit(
        self, account: SlackAccount, installation: Installation, action: str, correlation_id: str
    ) -> str:
        """The tenant user the account acts for: the email of its Slack profile, once Slack vouches
        for the account. R16 is then checked on that user."""
        refusal = account_refusal(account, installation)
        if refusal is not None:
            self._refuse(account.email or account.user_id, action, refusal, correlation_id)
            raise refusal
        if self._bindings is not None:
            return self._bound(self._bindings, account, action, correlation_id)
        if account.email is None:
            raise UnknownRequester(account.user_id)
        return account.email

    def signed_in(self, account: SlackAccount, who: SignedIn) -> Binding:
        """Microsoft confirmed who signed in for `account`: bind them, audited."""
        bindings, clock = self._entra()
        binding = Binding(
            slack_user_id=account.user_id,
            slack_team_id=account.team_id,
            object_id=who.object_id,
            user_principal_name=who.user_principal_name,
            email=account.email or "",
            bound_at=clock.now(),
        )
        bindings.bind(
            binding,
            self._entry(
                binding,
                "sign in with Microsoft",
                AuditResult.APPLIED,
                f"Slack account bound to the Entra user {who.user_principal_name}",
            ),
        )
        return binding

    def sign_out(self, account: SlackAccount) -> Binding | None:
        """The person asks to be forgotten: their binding goes (audited); None when there was none."""
        bindings, _ = self._entra()
        binding = bindings.get(account.user_id)
        if binding is None:
            return None
        entry = self._entry(binding, "sign out", AuditResult.APPLIED, "unbound on request")
        return binding if bindings.unbind(account.user_id, entry) else None

    def _bound(self, bindings: BindingStore, account: SlackAccount, action: str, correlation_id: str) -> str:
        binding = bindings.get(account.user_id)
        if binding is None:
            refusal: AccountRefused = SignInRequired(self._start_sign_in(account))
            self._refuse(account.email or account.user_id, action, refusal, correlation_id)
            raise refusal
        lost = self._lost(binding)
        if lost:
            bindings.unbind(
                account.user_id, self._entry(binding, "unbind", AuditResult.APPLIED, lost, correlation_id)
            )
            refusal = SignInRequired(
                f"Your sign-in no longer counts: {lost}. " + self._start_sign_in(account)
            )
            self._refuse(binding.user_principal_name, action, refusal, correlation_id)
            raise refusal
        if account.email and account.email.casefold() != binding.email.casefold():
            bindings.saw_email(
                account.user_id,
                account.email,
                self._entry(
                    binding,
                    "slack profile email changed",
                    AuditResult.REQUESTED,
                    f"the Slack profile email changed from {binding.email or 'none'} to "
                    f"{account.email}; still acting for {binding.user_principal_name}",
                    correlation_id,
                ),
            )
        return binding.object_id

    def _lost(self, binding: Binding) -> str:
        """Why the bound Entra user may no longer act through this binding, or ""."""
        if self._standing is None:
            return ""
        user, roles = self._standing(binding.object_id)
        if user is None:
            return f"the Microsoft 365 user {binding.user_principal_name} no longer exists"
        if not user.account_enabled:
            return f"the Microsoft 365 user {user.user_principal_name} is disabled"
        if not roles:
            return f"{user.user_principal_name} no longer holds an admin role in Microsoft 365"
        return ""

    def _start_sign_in(self, account: SlackAccount) -> str:
        if self._sign_in is None:
            return "Ask the person who runs licensebot to set up the Microsoft sign-in."
        return self._sign_in.start(account)

    def _entra(self) -> tuple[BindingStore, Clock]:
        if self._bindings is None or self._clock is None:
            raise DomainError(
                "licensebot goes by your Slack email here: there is no Microsoft sign-in to use or forget.",
                "Nothing to do.",
            )
        return self._bindings, self._clock

    def _entry(
        self, binding: Binding, action: str, result: AuditResult, reason: str, correlation_id: str = ""
    ) -> AuditEntry:
        _, clock = self._entra()
        return AuditEntry(
            at=clock.now(),
            actor=binding.user_principal_name,
            action=action,
            result=result,
            target=binding.object_id,
            reason=reason,
            correlation_id=correlation_id,
            details={"slack_user": binding.slack_user_id, "slack_team": binding.slack_team_id},
        )
