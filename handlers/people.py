"""Slack people → tenant users: the requester's email, and the email of every person a command names.

Slack knows people by id; the tenant knows them by email or user principal name. `users.info`
gives a person's email (scope `users:read.email`), `usergroups.users.list` a group's members.
Emails and user principal names typed in the command are passed on as typed, and `has:E3` as the
target key `has:E3`, which the domain expands to everyone holding the product.

The requester is more than an email (R24): what Slack says about their account (guest, another
organization, bot or app, deactivated, email confirmed) goes to `admit`, which refuses the account
or says which tenant user it acts for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from domain.access import SlackAccount
from domain.application.lookups import HOLDERS_PREFIX
from domain.errors import InvalidCommand, UnknownRequester, UnknownUser
from handlers.parsing import Target, TargetKind
from handlers.slack_directory import SlackUsers

__all__ = ["Admit", "SlackPeople", "slack_account"]

Admit = Callable[[SlackAccount], str]
"""The account behind a request → the tenant user it acts for (a key the directory finds), or a
refusal raised (and audited)."""

log = logging.getLogger(__name__)

_GONE = {"user_not_found", "users_not_found"}

_GROUP_PROBLEMS = {
    "no_such_subteam": "it does not exist any more, or it is disabled",
    "missing_scope": "the app may not read user groups",
    "plan_upgrade_required": "this Slack plan has no user groups",
    "ratelimited": "Slack is busy right now",
}
"""What Slack's refusal means, in words; the error code itself goes to the log."""

_GROUP_FIXES = {
    "no_such_subteam": "Check in Slack (People > User groups) that the group exists and is enabled, "
    "then mention it again; or mention its members instead.",
    "missing_scope": "The Slack app lacks the `usergroups:read` scope: ask a Slack admin to add it "
    "from manifest.yml and reinstall the app; meanwhile mention the members instead.",
    "plan_upgrade_required": "This Slack plan has no user groups: mention the members instead.",
    "ratelimited": "Slack is busy right now: try again in a minute.",
}


class SlackPeople:
    """Looks people up in Slack for one request, asking about each person once (and Slack only when
    the process's `SlackUsers` cache does not know them)."""

    def __init__(
        self, client: WebClient, admit: Admit, *, request_team: str = "", users: SlackUsers | None = None
    ) -> None:
        self._client = client
        self._admit = admit
        self._request_team = request_team
        self._cache = users or SlackUsers()
        self._users: dict[str, dict[str, Any] | None] = {}
        self._asked: set[str] = set()
        """The people read from Slack afresh during this request."""

    def requester(self, user_id: str) -> str:
        """Who the person who sent the command or pressed the button acts for in the tenant, once
        their Slack account is admitted (R24); R16 is checked on it. Their account is read from Slack
        afresh, not from the process's cache: a guest, a deactivation or a changed email counts at once."""
        user = self._user(user_id, fresh=True)
        if user is None:
            raise UnknownRequester(user_id)
        return self._admit(slack_account(user, request_team=self._request_team))

    def account(self, user_id: str) -> SlackAccount:
        """What Slack says about a person's account, not admitted (to sign them out)."""
        user = self._user(user_id, fresh=True)
        if user is None:
            raise UnknownRequester(user_id)
        return slack_account(user, request_team=self._request_team)

    def tenant_keys(self, targets: Iterable[Target]) -> tuple[str, ...]:
        """What the domain looks users up by, in the order named, each once."""
        keys: dict[str, None] = {}
        for target in targets:
            for key in self._keys(target):
                keys.setdefault(key, None)
        return tuple(keys)

    def _keys(self, target: Target) -> list[str]:
        if target.kind is TargetKind.ADDRESS:
            return [target.value]
        if target.kind is TargetKind.HOLDERS:
            return [f"{HOLDERS_PREFIX}{target.value}"]
        if target.kind is TargetKind.MENTION:
            return [self._member(target.value, target.shown)]
        members = self._group_members(target)
        user_ids = [str(user_id) for user_id in members.get("users") or []]
        if not user_ids:
            raise InvalidCommand(
                f"The user group {target.shown} has no members.",
                fix="Mention people, or a user group that has members.",
            )
        return [self._member(user_id, user_id) for user_id in user_ids]

    def _group_members(self, target: Target) -> SlackResponse:
        """`usergroups.users.list`, with a refusal from Slack explained: which group, what Slack said
        and how to fix it (a deleted or disabled group, a missing scope, a plan without groups)."""
        try:
            return self._client.usergroups_users_list(usergroup=target.value)
        except SlackApiError as error:
            code = str(error.response.get("error") or "an error")
            log.warning("usergroups.users.list refused", extra={"error": code, "group": target.value})
            why = _GROUP_PROBLEMS.get(code, "Slack refused to list them")
            raise InvalidCommand(
                f"Slack would not list the members of the user group {target.shown}: {why}.",
                fix=_GROUP_FIXES.get(
                    code,
                    "Check that the group exists in Slack and that the app was installed with the "
                    "`usergroups:read` scope, or mention the members instead.",
                ),
            ) from error

    def _member(self, user_id: str, shown: str) -> str:
        email = self._email(user_id)
        if email is None:
            raise UnknownUser(shown)
        return email

    def _email(self, user_id: str) -> str | None:
        user = self._user(user_id)
        if user is None or user.get("deleted") or user.get("is_bot"):
            return None
        email = (user.get("profile") or {}).get("email")
        return str(email) if email else None

    def _user(self, user_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        if user_id not in self._users or (fresh and user_id not in self._asked):
            self._users[user_id] = self._lookup(user_id, fresh=fresh)
            if fresh:
                self._asked.add(user_id)
        return self._users[user_id]

    def _lookup(self, user_id: str, *, fresh: bool) -> dict[str, Any] | None:
        try:
            response = self._cache.info(self._client, user_id, fresh=fresh)
        except SlackApiError as error:
            if error.response.get("error") in _GONE:
                return None
            raise
        user = response.get("user")
        return dict(user) if isinstance(user, dict) else None


def slack_account(user: dict[str, Any], *, request_team: str = "") -> SlackAccount:
    """The `users.info` user object as the domain sees it. A field Slack leaves out counts against
    the account: an email is confirmed only when Slack says so."""
    profile = user.get("profile") or {}
    enterprise = user.get("enterprise_user") or {}
    email = profile.get("email")
    return SlackAccount(
        user_id=str(user.get("id") or ""),
        team_id=str(user.get("team_id") or profile.get("team") or ""),
        email=str(email) if email else None,
        request_team_id=request_team,
        enterprise_id=str(enterprise.get("enterprise_id") or ""),
        enterprise_teams=tuple(str(team) for team in enterprise.get("teams") or ()),
        deleted=bool(user.get("deleted")),
        bot=bool(user.get("is_bot")),
        app_user=bool(user.get("is_app_user")) or bool(user.get("is_workflow_bot")),
        guest=bool(user.get("is_restricted")),
        single_channel_guest=bool(user.get("is_ultra_restricted")),
        stranger=bool(user.get("is_stranger")),
        email_confirmed=user.get("is_email_confirmed") is True,
    )
