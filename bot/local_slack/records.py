"""The records of the local Slack workspace: immutable snapshots of users, channels, messages, views
and files (the workspace replaces them when something changes), the calls the bot made and the
events announced to subscribers."""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Call",
    "Channel",
    "EventKind",
    "Message",
    "SlackEvent",
    "Subscriber",
    "UploadedFile",
    "User",
    "Usergroup",
    "View",
]


class EventKind(enum.StrEnum):
    POSTED = "posted"
    UPDATED = "updated"
    DELETED = "deleted"
    EPHEMERAL = "ephemeral"
    VIEW_OPENED = "view_opened"
    VIEW_PUSHED = "view_pushed"
    VIEW_UPDATED = "view_updated"
    VIEW_CLOSED = "view_closed"
    HOME_PUBLISHED = "home_published"
    FILE_UPLOADED = "file_uploaded"


@dataclass(frozen=True)
class Call:
    """One request the bot made: a Web API method, or ``"response_url"`` for a response URL post.

    ``params`` never holds the token; JSON-encoded arguments (blocks, view, files) are decoded.
    """

    method: str
    params: Mapping[str, Any]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    display_name: str
    email: str | None
    is_bot: bool = False
    deleted: bool = False
    is_admin: bool = False
    tz: str = "Europe/Amsterdam"
    is_restricted: bool = False
    """A multi-channel guest."""
    is_ultra_restricted: bool = False
    """A single-channel guest."""
    is_app_user: bool = False
    is_email_confirmed: bool = True
    team_id: str | None = None
    """Another workspace's member (Slack Connect): their own team; None for this workspace."""
    enterprise_id: str | None = None

    def as_api(self, team_id: str) -> dict[str, Any]:
        """The ``user`` object of ``users.info``; ``team_id`` is the workspace's, used unless the
        user belongs to another one (then Slack marks them ``is_stranger`` as well)."""
        team_id = self.team_id or team_id
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "status_text": "",
            "status_emoji": "",
            "team": team_id,
        }
        if self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": self.is_restricted or self.is_ultra_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_bot": self.is_bot,
            "is_app_user": self.is_app_user,
            "is_email_confirmed": self.is_email_confirmed,
            "updated": 0,
        } | self._foreign()

    def _foreign(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.team_id is not None:
            fields["is_stranger"] = True
        if self.enterprise_id is not None:
            fields["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": self.enterprise_id,
                "enterprise_name": self.enterprise_id,
                "is_admin": False,
                "is_owner": False,
                "teams": [self.team_id] if self.team_id else [],
            }
        return fields


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    members: frozenset[str]
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False

    @property
    def command_channel_name(self) -> str:
        """``channel_name`` as a slash command reports it."""
        return "directmessage" if self.is_im else self.name


@dataclass(frozen=True)
class Usergroup:
    id: str
    handle: str
    name: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: tuple[dict[str, Any], ...] = ()
    thread_ts: str | None = None
    ephemeral: bool = False
    recipient: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    team: str | None = None
    edited_ts: str | None = None
    via_response_url: bool = False
    files: tuple[str, ...] = ()
    reactions: tuple[tuple[str, str], ...] = ()
    metadata: Mapping[str, Any] | None = None

    def as_api(self) -> dict[str, Any]:
        """The message object as Slack returns it (``chat.postMessage``'s ``message``)."""
        message: dict[str, Any] = {"type": "message", "user": self.user, "ts": self.ts}
        if self.bot_id is not None:
            message["bot_id"] = self.bot_id
            message["app_id"] = self.app_id
        message["text"] = self.text
        message["team"] = self.team
        if self.blocks:
            message["blocks"] = copy.deepcopy(list(self.blocks))
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.edited_ts is not None:
            message["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.files:
            message["files"] = [{"id": file_id} for file_id in self.files]
        if self.reactions:
            names = dict.fromkeys(name for name, _ in self.reactions)
            message["reactions"] = [
                {
                    "name": name,
                    "users": [u for n, u in self.reactions if n == name],
                    "count": sum(1 for n, _ in self.reactions if n == name),
                }
                for name in names
            ]
        if self.metadata is not None:
            message["metadata"] = copy.deepcopy(dict(self.metadata))
        return message


@dataclass(frozen=True)
class View:
    """A modal or App Home view in its latest state; ``data`` is the object Slack returns."""

    id: str
    user_id: str
    data: Mapping[str, Any]
    closed: bool = False

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def hash(self) -> str:
        return str(self.data.get("hash", ""))

    @property
    def callback_id(self) -> str:
        return str(self.data.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        return str(self.data.get("private_metadata", ""))

    @property
    def external_id(self) -> str:
        return str(self.data.get("external_id", ""))

    @property
    def title(self) -> str:
        title = self.data.get("title")
        return str(title.get("text", "")) if isinstance(title, Mapping) else ""

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.data.get("blocks") or [])


@dataclass(frozen=True)
class UploadedFile:
    id: str
    name: str
    title: str
    content: bytes
    length: int
    user: str
    channels: tuple[str, ...] = ()
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False

    @property
    def channel(self) -> str | None:
        return self.channels[0] if self.channels else None


@dataclass(frozen=True)
class SlackEvent:
    """A change the bot caused, as announced to subscribers."""

    kind: EventKind
    subject: Message | View | UploadedFile


Subscriber = Callable[[SlackEvent], None]
