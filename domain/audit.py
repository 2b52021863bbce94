"""The audit record (R20): who asked, who approved, what, for whom, before and after, result, when.

Next to the tenant identity, every entry recorded while a Slack request is served carries the Slack
account and workspace it came from (R24): the Slack edge states them once per request with
`from_slack`, and every entry made in that request (in that thread or context) takes them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["AuditEntry", "AuditResult", "SlackOrigin", "set_slack_origin", "slack_origin"]


class AuditResult(StrEnum):
    REQUESTED = "requested"
    APPLIED = "applied"
    REFUSED = "refused"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class SlackOrigin:
    """The Slack account and its workspace behind a request."""

    user_id: str
    team_id: str


_ORIGIN: ContextVar[SlackOrigin | None] = ContextVar("licensebot_slack_origin", default=None)


def slack_origin() -> SlackOrigin | None:
    """The Slack account of the request being served here, if any (None in the scheduler)."""
    return _ORIGIN.get()


def set_slack_origin(origin: SlackOrigin | None) -> None:
    """From here on in this context, audit entries record `origin` (None: the bot's own work)."""
    _ORIGIN.set(origin)


def _slack_user() -> str:
    origin = _ORIGIN.get()
    return origin.user_id if origin else ""


def _slack_team() -> str:
    origin = _ORIGIN.get()
    return origin.team_id if origin else ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    result: AuditResult
    target: str = ""
    approver: str = ""
    before: Any = None
    after: Any = None
    reason: str = ""
    correlation_id: str = ""
    change_set_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    slack_user: str = field(default_factory=_slack_user)
    """The Slack user id behind the request (R24); empty for the bot's own work."""
    slack_team: str = field(default_factory=_slack_team)
    """That Slack user's workspace (team id)."""
