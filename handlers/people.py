"""Slack people → tenant users: the requester's email, and the email of every person a command names.

Slack knows people by id; the tenant knows them by email or user principal name. `users.info`
gives a person's email (scope `users:read.email`), `usergroups.users.list` a group's members.
Emails and user principal names typed in the command are passed on as typed, and `has:E3` as the
target key `has:E3`, which the domain expands to everyone holding the product.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from domain.errors import InvalidCommand, UnknownRequester, UnknownUser
from domain.services import HOLDERS_PREFIX
from handlers.parsing import Target, TargetKind

__all__ = ["SlackPeople"]

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
    """Looks people up in Slack for one request, asking about each person once."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._emails: dict[str, str | None] = {}

    def requester(self, user_id: str) -> str:
        """The email of the person who sent the command or pressed the button (R16 is checked on it)."""
        email = self._email(user_id)
        if email is None:
            raise UnknownRequester(user_id)
        return email

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
        if user_id not in self._emails:
            self._emails[user_id] = self._lookup(user_id)
        return self._emails[user_id]

    def _lookup(self, user_id: str) -> str | None:
        try:
            response = self._client.users_info(user=user_id)
        except SlackApiError as error:
            if error.response.get("error") in _GONE:
                return None
            raise
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None
        email = (user.get("profile") or {}).get("email")
        return str(email) if email else None
