"""A local fake of the Slack Web API: an in-memory workspace served over real HTTP.

Point ``slack_sdk.WebClient(base_url=local.api_url)`` (or Bolt's ``App(client=...)``) at it and the
bot talks to it as it would to Slack: same methods, same response shapes, same error codes (HTTP
200 with ``ok: false``), HTTP 429 with ``Retry-After`` when rate limited, trigger ids that expire
after 3 seconds, response URLs that take 5 posts in 30 minutes, the upload flow of
``files_upload_v2``. Everything the bot does is recorded for assertions and announced to
subscribers (the local chat shell prints from there). ``apps.connections.open`` (with the app-level
token) opens Socket Mode: tests then deliver envelopes over a WebSocket and read the acks.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import hashlib
import itertools
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import Message as HttpHeaders
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from bot.check import SLACK_SCOPES
from bot.local_slack import signing, socket_mode

__all__ = [
    "Call",
    "Channel",
    "EventKind",
    "LocalSlack",
    "Message",
    "SlackEvent",
    "UploadedFile",
    "User",
    "Usergroup",
    "View",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Slack's documented limits.
MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_MAX_CHARS = 40_000
VIEW_TITLE_MAX_CHARS = 24
TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
VIEW_STACK_MAX = 3

BOT_SCOPES: tuple[str, ...] = SLACK_SCOPES
"""The bot token's scopes by default: those manifest.yml asks for (sent back in `x-oauth-scopes`)."""

# Methods that take the app-level token (xapp-…), in the Authorization header only; no other does.
_APP_LEVEL_METHODS = frozenset({"apps.connections.open"})
# Methods Slack documents as form-only: a JSON body's arguments are not read (so they count as
# missing), which catches code that sends them with ``api_call(..., json=...)``.
_FORM_ONLY_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.lookupByEmail",
        "usergroups.users.list",
        "files.getUploadURLExternal",
    }
)
_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_OPTION_ELEMENTS = frozenset(
    {
        "static_select",
        "multi_static_select",
        "overflow",
        "checkboxes",
        "radio_buttons",
    }
)


# ---------------------------------------------------------------------------------------------
# Records (immutable snapshots; the workspace replaces them when something changes)
# ---------------------------------------------------------------------------------------------


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


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    created_at: float
    original_ts: str | None
    uses: int = 0


@dataclass
class _Failure:
    error: str
    retry_after: int | None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, data: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
    ) -> _Reply:
        return cls(status, json.dumps(data).encode(), headers=dict(headers or {}))


class _ApiError(Exception):
    """An ``ok: false`` answer; ``extra`` holds fields such as ``errors`` or ``response_metadata``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_arguments(*problems: str) -> _ApiError:
    return _ApiError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
    )


# ---------------------------------------------------------------------------------------------
# Request arguments
# ---------------------------------------------------------------------------------------------


class _Params:
    """Arguments of one call: strings from a form, any JSON value from a JSON body."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise _invalid_arguments(f"missing required field: {key}")
        return value

    def flag(self, key: str) -> bool:
        return self.values.get(key) in (True, 1, "true", "1", "True")

    def decoded(self, key: str, error: str) -> Any:
        """A JSON argument, sent as a JSON string (forms) or as JSON (JSON bodies)."""
        value = self.values.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise _ApiError(error) from None
            self.values[key] = value
        return value


def _multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    parsed = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in parsed.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields[name] = raw if part.get_filename() else raw.decode("utf-8")
    return fields


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _parse_params(
    content_type: str, query: str, body: bytes, *, accepts_json: bool
) -> tuple[dict[str, Any], str | None]:
    """The call's arguments and the token sent as an argument (forms and query strings only)."""
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    if mime == "application/json":
        data = _json_object(body or b"{}")
        if data is None:
            raise _ApiError("invalid_json")
        if accepts_json:
            data.pop("token", None)  # Slack reads the token of a JSON call from the header only
            values.update(data)
    elif mime == "multipart/form-data":
        values.update(_multipart_fields(content_type, body))
    elif body:
        values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    token = values.pop("token", None)
    return values, token if isinstance(token, str) else None


# ---------------------------------------------------------------------------------------------
# Block Kit validation (the subset of Slack's schema that bots get wrong in practice)
# ---------------------------------------------------------------------------------------------


def _text_problems(obj: Any, ptr: str, max_chars: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return [f"must provide a text object [json-pointer:{ptr}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in allowed:
        return [f"must be one of {', '.join(allowed)} [json-pointer:{ptr}/type]"]
    length = len(obj["text"])
    if length == 0:
        return [f"must be more than 0 characters [json-pointer:{ptr}/text]"]
    if length > max_chars:
        return [f"must be less than {max_chars + 1} characters [json-pointer:{ptr}/text]"]
    return []


def _length_problems(value: Any, ptr: str, max_chars: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"must be a string [json-pointer:{ptr}]"]
    if len(value) > max_chars:
        return [f"must be less than {max_chars + 1} characters [json-pointer:{ptr}]"]
    return []


def _element_problems(element: Any, ptr: str) -> list[str]:
    if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
        return [f"missing required field: type [json-pointer:{ptr}]"]
    kind = element["type"]
    problems = _length_problems(element.get("action_id"), f"{ptr}/action_id", 255)
    if kind == "button":
        problems += _text_problems(element.get("text"), f"{ptr}/text", 75, plain_only=True)
        problems += _length_problems(element.get("value"), f"{ptr}/value", 2000)
        problems += _length_problems(element.get("url"), f"{ptr}/url", 3000)
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"must be one of primary, danger [json-pointer:{ptr}/style]")
    if "placeholder" in element:
        problems += _text_problems(element["placeholder"], f"{ptr}/placeholder", 150, plain_only=True)
    if kind in _OPTION_ELEMENTS:
        options = element.get("options")
        groups = element.get("option_groups")
        if options is None and groups is None:
            problems.append(f"must provide options or option_groups [json-pointer:{ptr}]")
        elif isinstance(options, list):
            if len(options) > 100:
                problems.append(f"no more than 100 items allowed [json-pointer:{ptr}/options]")
            plain_only = kind not in ("checkboxes", "radio_buttons")
            for i, option in enumerate(options):
                optr = f"{ptr}/options/{i}"
                if not isinstance(option, Mapping):
                    problems.append(f"must be an option object [json-pointer:{optr}]")
                    continue
                problems += _text_problems(option.get("text"), f"{optr}/text", 75, plain_only=plain_only)
                problems += _length_problems(option.get("value"), f"{optr}/value", 150)
    return problems


def _section_problems(block: Mapping[str, Any], ptr: str) -> list[str]:
    problems: list[str] = []
    if "text" not in block and "fields" not in block:
        problems.append(f"must provide either text or fields [json-pointer:{ptr}]")
    if "text" in block:
        problems += _text_problems(block["text"], f"{ptr}/text", 3000)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > 10:
            problems.append(f"no more than 10 items allowed [json-pointer:{ptr}/fields]")
        else:
            for i, item in enumerate(fields):
                problems += _text_problems(item, f"{ptr}/fields/{i}", 2000)
    if "accessory" in block:
        problems += _element_problems(block["accessory"], f"{ptr}/accessory")
    return problems


def _elements_problems(block: Mapping[str, Any], ptr: str, most: int, *, interactive: bool) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"must provide at least 1 item [json-pointer:{ptr}/elements]"]
    if len(elements) > most:
        return [f"no more than {most} items allowed [json-pointer:{ptr}/elements]"]
    if not interactive:
        return []
    problems: list[str] = []
    for i, element in enumerate(elements):
        problems += _element_problems(element, f"{ptr}/elements/{i}")
    return problems


def _block_kind_problems(block: Mapping[str, Any], ptr: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        return _section_problems(block, ptr)
    if kind == "header":
        return _text_problems(block.get("text"), f"{ptr}/text", 150, plain_only=True)
    if kind == "context":
        return _elements_problems(block, ptr, 10, interactive=False)
    if kind == "actions":
        return _elements_problems(block, ptr, 25, interactive=True)
    if kind == "input":
        problems = _text_problems(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
        if "element" not in block:
            problems.append(f"missing required field: element [json-pointer:{ptr}]")
        else:
            problems += _element_problems(block["element"], f"{ptr}/element")
        return problems
    if kind == "image":
        problems = _length_problems(block.get("alt_text"), f"{ptr}/alt_text", 2000)
        if not block.get("alt_text"):
            problems.append(f"missing required field: alt_text [json-pointer:{ptr}]")
        return problems
    return []


def _block_problems(blocks: list[Any], ptr: str, most: int) -> list[str]:
    problems: list[str] = []
    if len(blocks) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{ptr}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        bptr = f"{ptr}/{i}"
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            problems.append(f"missing required field: type [json-pointer:{bptr}]")
            continue
        if block["type"] not in _BLOCK_TYPES:
            problems.append(f"unsupported type: {block['type']} [json-pointer:{bptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            problems += _length_problems(block_id, f"{bptr}/block_id", 255)
            if block_id in seen:
                problems.append(f"duplicate block_id: {block_id} [json-pointer:{bptr}/block_id]")
            seen.add(str(block_id))
        problems += _block_kind_problems(block, bptr)
    return problems


def _interactive_elements(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if block.get("type") == "actions":
        yield from (e for e in block.get("elements") or [] if isinstance(e, dict))
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            yield block[key]


def _short_id(seed: int) -> str:
    return hashlib.blake2s(str(seed).encode(), digest_size=3).hexdigest()


def _find_element(
    blocks: Sequence[Mapping[str, Any]], action_id: str, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in _interactive_elements(dict(block)):
            if element.get("action_id") == action_id:
                return str(block.get("block_id")), element
    return None


# ---------------------------------------------------------------------------------------------
# The workspace
# ---------------------------------------------------------------------------------------------


class LocalSlack:
    """An in-memory Slack workspace with its Web API served on 127.0.0.1.

    Thread-safe: the HTTP server answers on its own threads while tests and the shell query.
    ``clock`` (seconds since the epoch) drives message timestamps, trigger expiry and response
    URL expiry, so tests move time instead of sleeping.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-local-bot-token",  # noqa: S107 - a fake token for a fake server
        app_token: str = "xapp-1-local-app-token",  # noqa: S107 - a fake token for a fake server
        team_id: str = signing.DEFAULT_TEAM_ID,
        team_domain: str = signing.DEFAULT_TEAM_DOMAIN,
        team_name: str = "Local workspace",
        app_id: str = signing.DEFAULT_APP_ID,
        bot_id: str = "B0LOCALBOT",
        bot_user_id: str = "U0LOCALBOT",
        bot_name: str = "licensebot",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: Sequence[str] = BOT_SCOPES,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_id = bot_id
        self.bot_user_id = bot_user_id
        self._bot_token = bot_token
        self._app_token = app_token
        self._scopes = tuple(scopes)
        self._clock = clock
        self._address = (host, port)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._dispatching = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket_mode: socket_mode.SocketModeServer | None = None
        self._sequence = itertools.count(1)
        self._last_micros = 0

        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._conversations_by_members: dict[frozenset[str], str] = {}
        self._usergroups: dict[str, Usergroup] = {}
        self._calls: list[Call] = []
        self._messages: list[Message] = []
        self._views: dict[str, View] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._uploads: dict[str, UploadedFile] = {}
        self._upload_tokens: dict[str, str] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._pending_events: deque[SlackEvent] = deque()
        self._subscribers: list[Subscriber] = []

        self._users[bot_user_id] = User(
            id=bot_user_id,
            name=bot_name,
            real_name=bot_name,
            display_name=bot_name,
            email=None,
            is_bot=True,
        )
        self._methods: dict[str, Callable[[_Params], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "reactions.add": self._reactions_add,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the local Slack server is already running")
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        stopper = threading.Thread(target=server.shutdown, name="local-slack-stop")
        stopper.start()
        # serve_forever only sees the shutdown request when select() returns: a connection wakes
        # it at once instead of after its poll interval.
        with contextlib.suppress(OSError):
            socket.create_connection((self._address[0], server.server_port), timeout=1).close()
        stopper.join()
        server.server_close()
        thread.join()
        # Last, once nothing can call apps.connections.open: connected apps get a close frame.
        with self._lock:
            socket_server, self._socket_mode = self._socket_mode, None
        if socket_server is not None:
            socket_server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the local Slack server first")
        return f"http://{self._address[0]}:{self._server.server_port}/"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``WebClient``: it appends the method name."""
        return self.base_url + "api/"

    @property
    def bot_token(self) -> str:
        return self._bot_token

    @property
    def app_token(self) -> str:
        """The app-level token, for ``apps.connections.open`` (Socket Mode)."""
        return self._app_token

    # -- workspace setup --------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_admin: bool = False,
        user_id: str | None = None,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_app_user: bool = False,
        is_email_confirmed: bool = True,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """A person (or bot) of the workspace; ``team_id`` makes them another organization's member
        reaching it through a shared channel (Slack Connect)."""
        with self._lock:
            new_id = user_id or self._new_id("U")
            self._users[new_id] = User(
                id=new_id,
                name=name,
                real_name=real_name or name,
                display_name=display_name if display_name is not None else name,
                email=email,
                is_bot=is_bot,
                deleted=deleted,
                is_admin=is_admin,
                is_restricted=is_restricted,
                is_ultra_restricted=is_ultra_restricted,
                is_app_user=is_app_user,
                is_email_confirmed=is_email_confirmed,
                team_id=team_id,
                enterprise_id=enterprise_id,
            )
            return new_id

    def set_email(self, user_id: str, email: str | None) -> None:
        """Someone (a Slack admin, a provisioning service) changes the email of a user's profile."""
        with self._lock:
            self._users[user_id] = replace(self._require_user(user_id), email=email)

    def add_channel(
        self,
        name: str,
        *,
        members: Sequence[str] = (),
        bot_is_member: bool = True,
        is_private: bool = False,
        channel_id: str | None = None,
    ) -> str:
        with self._lock:
            new_id = channel_id or self._new_id("G" if is_private else "C")
            everyone = set(members) | ({self.bot_user_id} if bot_is_member else set())
            self._channels[new_id] = Channel(
                id=new_id, name=name, members=frozenset(everyone), is_private=is_private
            )
            return new_id

    def add_usergroup(
        self,
        handle: str,
        users: Sequence[str],
        *,
        name: str | None = None,
        usergroup_id: str | None = None,
    ) -> str:
        with self._lock:
            new_id = usergroup_id or self._new_id("S")
            self._usergroups[new_id] = Usergroup(new_id, handle, name or handle, tuple(users))
            return new_id

    def open_im(self, user_id: str) -> str:
        """The id of the bot's direct-message channel with ``user_id`` (opened if needed)."""
        with self._lock:
            return self._open_conversation([user_id])[0]

    def post_as_user(self, channel: str, user_id: str, text: str, *, thread_ts: str | None = None) -> Message:
        """Record a message a person wrote (the bot cannot update or delete it)."""
        with self._lock:
            message = Message(
                channel=channel,
                ts=self._next_ts(),
                user=user_id,
                text=text,
                thread_ts=thread_ts,
                team=self.team_id,
            )
            self._messages.append(message)
            self._emit(EventKind.POSTED, message)
        self._dispatch()
        return message

    def issue_trigger_id(self, user_id: str) -> str:
        """A trigger id as Slack puts in an interaction; it expires 3 s later (per ``clock``)."""
        with self._lock:
            trigger_id = f"{next(self._sequence)}.{int(self._clock())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(user_id, self._clock())
            return trigger_id

    def new_response_url(self, channel: str, user_id: str, *, message_ts: str | None = None) -> str:
        """A ``response_url`` on this server; ``message_ts`` is the message an action came from."""
        with self._lock:
            token = secrets.token_hex(12)
            self._response_urls[token] = _ResponseUrl(channel, user_id, self._clock(), message_ts)
            kind = "actions" if message_ts else "commands"
            return f"{self.base_url}{kind}/{self.team_id}/{next(self._sequence)}/{token}"

    def fail_next(self, method: str, error: str, retry_after: int | None = None) -> None:
        """Make the next call of ``method`` fail; ``"ratelimited"`` answers HTTP 429."""
        with self._lock:
            self._failures.setdefault(method, deque()).append(_Failure(error, retry_after))

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """Close a modal as Slack does after a submission (or ``response_action: clear``)."""
        with self._lock:
            view = self._require_view(view_id)
            stack = self._stacks.get(view.user_id, [])
            if view_id not in stack:
                raise LookupError(f"view {view_id} is not open")
            cut = 0 if whole_stack else stack.index(view_id)
            for closing in stack[cut:]:
                closed = replace(self._views[closing], closed=True)
                self._views[closing] = closed
                self._emit(EventKind.VIEW_CLOSED, closed)
            del stack[cut:]
        self._dispatch()

    # -- queries ----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[Message]:
        """Messages in posting order (threads included, ephemeral ones not)."""
        with self._lock:
            return [
                m for m in self._messages if not m.ephemeral and (channel is None or m.channel == channel)
            ]

    def ephemerals(self, user: str | None = None, *, channel: str | None = None) -> list[Message]:
        with self._lock:
            return [
                m
                for m in self._messages
                if m.ephemeral
                and (user is None or m.recipient == user)
                and (channel is None or m.channel == channel)
            ]

    def latest_message(self, channel: str) -> Message | None:
        found = self.messages(channel)
        return found[-1] if found else None

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self._find_message(channel, ts)

    def view(self, view_id: str) -> View | None:
        with self._lock:
            return self._views.get(view_id)

    def open_views(self, user_id: str) -> list[View]:
        """The user's modal stack, root first."""
        with self._lock:
            return [self._views[v] for v in self._stacks.get(user_id, [])]

    def home(self, user_id: str) -> View | None:
        with self._lock:
            view_id = self._homes.get(user_id)
            return self._views[view_id] if view_id else None

    def files(self) -> list[UploadedFile]:
        with self._lock:
            return [f for f in self._uploads.values() if f.completed]

    def user(self, user_id: str) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def users(self) -> list[User]:
        with self._lock:
            return list(self._users.values())

    def channel(self, channel_id: str) -> Channel | None:
        with self._lock:
            return self._channels.get(channel_id)

    def usergroup(self, handle: str) -> Usergroup | None:
        """The user group a person mentions as ``@handle`` (what the Slack client looks up)."""
        wanted = handle.lstrip("@").lower()
        with self._lock:
            return next((g for g in self._usergroups.values() if g.handle.lower() == wanted), None)

    def display_name(self, user_id: str) -> str | None:
        """A resolver for ``render_blocks``: the name Slack shows for a user."""
        user = self.user(user_id)
        if user is None:
            return None
        return user.display_name or user.real_name or user.name

    def channel_name(self, channel_id: str) -> str | None:
        """A resolver for ``render_blocks``."""
        channel = self.channel(channel_id)
        return channel.name if channel and not channel.is_im else None

    # -- waiting and subscribing ------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str = "") -> T:
        """Wait until ``predicate()`` returns a truthy value and return it.

        The predicate is re-evaluated whenever something is recorded (no polling with sleeps).
        On timeout a ``TimeoutError`` lists what was recorded, to show what happened instead.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_report(description, timeout))
                self._changed.wait(remaining)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every ``SlackEvent``, in order; returns an unsubscribe function.

        Callbacks run on a server thread, outside the workspace lock (they may query it).
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- Socket Mode: envelopes to the app connected through apps.connections.open ----------

    def socket_send(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) to the app's
        newest connection and return its ``envelope_id``; ``retry_attempt`` marks a redelivery."""
        with self._lock:
            server = self._socket_mode
        if server is None:
            raise ConnectionError("no app is connected over Socket Mode")
        return server.send(
            kind,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    def socket_send_raw(self, text: str, *, envelope_id: str = "") -> None:
        """Deliver `text` as it is over Socket Mode (what Slack never sends: not JSON, a payload
        that is not an object…); `wait_ack(envelope_id)` then waits for its ack."""
        with self._lock:
            server = self._socket_mode
        if server is None:
            raise ConnectionError("no app is connected over Socket Mode")
        server.send_raw(text, envelope_id=envelope_id)

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> socket_mode.Ack:
        """The app's ack of an envelope, once it came (its payload, and how long it took)."""
        ack = self.wait_for(
            lambda: self._socket_mode.ack(envelope_id) if self._socket_mode else None,
            timeout,
            description=f"the ack of envelope {envelope_id}",
        )
        return cast(socket_mode.Ack, ack)

    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._lock:
            return self._socket_mode.connections() if self._socket_mode else 0

    def socket_connects(self) -> int:
        """How many Socket Mode connections were ever opened (a reconnection counts one more)."""
        with self._lock:
            return self._socket_mode.connects() if self._socket_mode else 0

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` on every connection: the app must reconnect through
        ``apps.connections.open`` (``link_disabled`` tells it Socket Mode was turned off)."""
        with self._lock:
            server = self._socket_mode
        if server is not None:
            server.disconnect(reason)

    def socket_close(self, code: int = 1000, reason: str = "") -> None:
        """Close every Socket Mode connection with a close frame, as Slack does when it drops a link."""
        with self._lock:
            server = self._socket_mode
        if server is not None:
            server.close(code, reason)

    def slash_command_payload(
        self, command: str, text: str, *, user_id: str, channel_id: str
    ) -> dict[str, str]:
        """A ``slash_commands`` envelope's payload: the fields of ``slash_command_body``."""
        body = self.slash_command_body(command, text, user_id=user_id, channel_id=channel_id)
        return socket_mode.command_payload(body)

    def action_payload(
        self,
        user_id: str,
        *,
        action_id: str,
        block_id: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: signing.Selection = None,
    ) -> dict[str, Any]:
        """An ``interactive`` envelope's payload: the ``block_actions`` JSON of ``action_body``."""
        body = self.action_body(
            user_id,
            action_id=action_id,
            block_id=block_id,
            channel=channel,
            message_ts=message_ts,
            view_id=view_id,
            selected=selected,
        )
        return socket_mode.interaction_payload(body)

    # -- inbound requests built from the workspace state (sign them with signing.signed_headers)

    def slash_command_body(self, command: str, text: str, *, user_id: str, channel_id: str) -> str:
        """A slash command from ``user_id`` in ``channel_id``, with a fresh trigger and URL."""
        with self._lock:
            user = self._require_user(user_id)
            channel = self._channels.get(channel_id)
            if channel is None:
                raise LookupError(f"no channel {channel_id}")
            return signing.slash_command_body(
                command=command,
                text=text,
                user_id=user_id,
                user_name=user.name,
                channel_id=channel_id,
                channel_name=channel.command_channel_name,
                response_url=self.new_response_url(channel_id, user_id),
                trigger_id=self.issue_trigger_id(user_id),
                team_id=self.team_id,
                team_domain=self.team_domain,
                api_app_id=self.app_id,
            )

    def action_body(
        self,
        user_id: str,
        *,
        action_id: str,
        block_id: str | None = None,
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: signing.Selection = None,
        action_ts: str | None = None,
    ) -> str:
        """A ``block_actions`` payload for pressing or choosing ``action_id``.

        The element is looked up in a view (``view_id``) or a message (``channel`` and
        ``message_ts``; without ``message_ts`` the newest message the user sees that holds the
        element). ``selected`` is the chosen option value(s), user id(s), date...
        """
        with self._lock:
            user = self._require_user(user_id)
            common: dict[str, Any] = {
                "user_id": user_id,
                "user_name": user.name,
                "trigger_id": self.issue_trigger_id(user_id),
                "team_id": self.team_id,
                "team_domain": self.team_domain,
                "api_app_id": self.app_id,
            }
            if view_id is not None:
                view = self._require_view(view_id)
                found = _find_element(view.blocks, action_id, block_id)
                if found is None:
                    raise LookupError(f"no element {action_id!r} in view {view_id}")
                action = signing.action_from_element(
                    found[1], found[0], selected=selected, action_ts=action_ts
                )
                return signing.block_actions_body(
                    action=action,
                    container={"type": "view", "view_id": view_id},
                    view=view.data,
                    **common,
                )
            if channel is None:
                raise ValueError("give the channel of the message, or a view_id")
            message, (found_block, element) = self._message_with_element(
                channel, message_ts, user_id, action_id, block_id
            )
            action = signing.action_from_element(element, found_block, selected=selected, action_ts=action_ts)
            conversation = self._channels.get(channel)
            return signing.block_actions_body(
                action=action,
                container={
                    "type": "message",
                    "message_ts": message.ts,
                    "channel_id": channel,
                    "is_ephemeral": message.ephemeral,
                },
                message=None if message.ephemeral else message.as_api(),
                channel={
                    "id": channel,
                    "name": conversation.command_channel_name if conversation else channel,
                },
                response_url=self.new_response_url(channel, user_id, message_ts=message.ts),
                **common,
            )

    def view_submission_body(
        self, user_id: str, view_id: str, inputs: Mapping[str, signing.Selection]
    ) -> str:
        """A ``view_submission`` of ``view_id`` with ``inputs`` keyed by action_id."""
        with self._lock:
            user = self._require_user(user_id)
            view = self._require_view(view_id)
            return signing.view_submission_body(
                user_id=user_id,
                user_name=user.name,
                view=view.data,
                values=signing.state_values(view.blocks, inputs),
                trigger_id=self.issue_trigger_id(user_id),
                team_id=self.team_id,
                team_domain=self.team_domain,
                api_app_id=self.app_id,
            )

    def app_home_opened_body(self, user_id: str, *, event_id: str | None = None) -> str:
        """An Events API ``app_home_opened`` delivery for ``user_id``."""
        with self._lock:
            self._require_user(user_id)
            event: dict[str, Any] = {
                "type": "app_home_opened",
                "user": user_id,
                "channel": self._open_conversation([user_id])[0],
                "tab": "home",
                "event_ts": self._next_ts(),
            }
            home_id = self._homes.get(user_id)
            if home_id is not None:
                event["view"] = copy.deepcopy(dict(self._views[home_id].data))
            return signing.event_body(
                event,
                team_id=self.team_id,
                api_app_id=self.app_id,
                bot_user_id=self.bot_user_id,
                event_id=event_id,
                event_time=int(self._clock()),
            )

    # -- HTTP entry point -------------------------------------------------------------------

    def _serve(self, path: str, headers: HttpHeaders, body: bytes) -> _Reply:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        try:
            if parts[0] == "api" and len(parts) == 2:
                reply = self._api(parts[1], url.query, headers, body)
            elif parts[0] == "upload" and len(parts) == 3:
                reply = self._receive_upload(parts[2], headers.get("Content-Type", ""), body)
            elif parts[0] in ("commands", "actions") and len(parts) == 4:
                reply = self._receive_response(parts[3], headers.get("Content-Type", ""), body)
            else:
                reply = _Reply(404, b"not found", content_type="text/plain")
        except Exception:
            logger.exception("local Slack failed on %s", url.path)
            reply = _Reply(500, b"internal error in the local Slack fake", "text/plain")
        self._dispatch()
        return reply

    def _api(self, method: str, query: str, headers: HttpHeaders, body: bytes) -> _Reply:
        with self._lock:
            params: dict[str, Any] = {}
            granted: dict[str, str] = {}
            try:
                params, body_token = _parse_params(
                    headers.get("Content-Type", ""),
                    query,
                    body,
                    accepts_json=method not in _FORM_ONLY_METHODS,
                )
                handler = self._methods.get(method)
                if handler is None:
                    raise _ApiError("unknown_method")
                self._authenticate(method, headers.get("Authorization"), body_token)
                if method not in _APP_LEVEL_METHODS:  # Slack names a bot token's scopes on every answer
                    granted["x-oauth-scopes"] = ",".join(self._scopes)
                failure = self._next_failure(method)
                if failure is not None:
                    self._record(Call(method, params, failure.error))
                    if failure.error == "ratelimited":
                        retry_after = str(failure.retry_after if failure.retry_after else 1)
                        return _Reply.json(
                            {"ok": False, "error": "ratelimited"},
                            429,
                            {"Retry-After": retry_after},
                        )
                    return _Reply.json({"ok": False, "error": failure.error}, headers=granted)
                result = handler(_Params(params))
            except _ApiError as error:
                self._record(Call(method, params, error.error))
                return _Reply.json({"ok": False, "error": error.error, **error.extra}, headers=granted)
            else:
                self._record(Call(method, params))
                return _Reply.json({"ok": True, **result}, headers=granted)

    def _authenticate(self, method: str, authorization: str | None, body_token: str | None) -> None:
        token = body_token
        if authorization:
            scheme, _, value = authorization.partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        if not token:
            raise _ApiError("not_authed")
        expected, other = (
            (self._app_token, self._bot_token)
            if method in _APP_LEVEL_METHODS
            else (self._bot_token, self._app_token)
        )
        if token == other:
            raise _ApiError("not_allowed_token_type")
        if token != expected or (method in _APP_LEVEL_METHODS and not authorization):
            # Slack refuses an app-level token sent as a POST parameter.
            raise _ApiError("invalid_auth")

    def _next_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    # -- methods: identity and directory ----------------------------------------------------

    def _auth_test(self, _: _Params) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, _: _Params) -> dict[str, Any]:
        if self._socket_mode is None:
            self._socket_mode = socket_mode.SocketModeServer(
                app_id=self.app_id, host=self._address[0], changed=self._changed
            ).start()
        return {"url": self._socket_mode.issue_url()}

    def _users_info(self, p: _Params) -> dict[str, Any]:
        user = self._users.get(p.require("user"))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": user.as_api(self.team_id)}

    def _users_lookup_by_email(self, p: _Params) -> dict[str, Any]:
        email = p.require("email").lower()
        for user in self._users.values():
            if user.email is not None and user.email.lower() == email:
                return {"user": user.as_api(self.team_id)}
        raise _ApiError("users_not_found")

    def _usergroups_users_list(self, p: _Params) -> dict[str, Any]:
        group = self._usergroups.get(p.require("usergroup"))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group.users)}

    def _conversations_info(self, p: _Params) -> dict[str, Any]:
        channel = self._channels.get(p.require("channel"))
        is_member = channel is not None and self.bot_user_id in channel.members
        if channel is None or (channel.is_private and not is_member):
            raise _ApiError("channel_not_found")  # a private channel is invisible to a non-member
        return {
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_channel": not (channel.is_private or channel.is_im or channel.is_mpim),
                "is_group": channel.is_private,
                "is_im": channel.is_im,
                "is_mpim": channel.is_mpim,
                "is_private": channel.is_private or channel.is_im or channel.is_mpim,
                "is_archived": False,
                "is_member": is_member,
            }
        }

    def _conversations_open(self, p: _Params) -> dict[str, Any]:
        channel_id = p.text("channel")
        if channel_id is not None:
            existing = self._channels.get(channel_id)
            if existing is None or not (existing.is_im or existing.is_mpim):
                raise _ApiError("channel_not_found")
            opened = existing.id
            already = True
        else:
            users = [u.strip() for u in (p.text("users") or "").split(",") if u.strip()]
            if not users:
                raise _ApiError("users_list_not_supplied")
            for user_id in users:
                user = self._users.get(user_id)
                if user is None:
                    raise _ApiError("user_not_found")
                if user.deleted:
                    raise _ApiError("user_disabled")
            opened, already = self._open_conversation(users)
        result: dict[str, Any] = {"channel": {"id": opened}}
        if p.flag("return_im"):
            channel = self._channels[opened]
            others = sorted(channel.members - {self.bot_user_id})
            result["channel"] = {
                "id": opened,
                "created": int(self._clock()),
                "is_im": channel.is_im,
                "is_mpim": channel.is_mpim,
                "is_org_shared": False,
                "user": others[0] if channel.is_im and others else None,
                "is_user_deleted": False,
                "priority": 0,
            }
        if already:
            result.update({"no_op": True, "already_open": True})
        return result

    # -- methods: messages ------------------------------------------------------------------

    def _chat_post_message(self, p: _Params) -> dict[str, Any]:
        channel = self._postable_channel(p.text("channel"))
        text, blocks = self._message_content(p, required=True)
        metadata = p.decoded("metadata", "invalid_metadata_format")
        message = Message(
            channel=channel.id,
            ts=self._next_ts(),
            user=self.bot_user_id,
            text=text or "",
            blocks=tuple(blocks or ()),
            thread_ts=p.text("thread_ts"),
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team_id,
            metadata=metadata if isinstance(metadata, Mapping) else None,
        )
        self._messages.append(message)
        self._emit(EventKind.POSTED, message)
        return {"channel": channel.id, "ts": message.ts, "message": message.as_api()}

    def _chat_post_ephemeral(self, p: _Params) -> dict[str, Any]:
        channel = self._postable_channel(p.text("channel"), allow_user_id=False)
        recipient = p.require("user")
        if recipient not in self._users:
            raise _ApiError("user_not_found")
        if recipient not in channel.members:
            raise _ApiError("user_not_in_channel")
        text, blocks = self._message_content(p, required=True)
        message = Message(
            channel=channel.id,
            ts=self._next_ts(),
            user=self.bot_user_id,
            text=text or "",
            blocks=tuple(blocks or ()),
            thread_ts=p.text("thread_ts"),
            ephemeral=True,
            recipient=recipient,
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team_id,
        )
        self._messages.append(message)
        self._emit(EventKind.EPHEMERAL, message)
        return {"message_ts": message.ts}

    def _chat_update(self, p: _Params) -> dict[str, Any]:
        channel_id = p.require("channel")
        if channel_id not in self._channels:
            raise _ApiError("channel_not_found")
        ts = p.require("ts")
        current = self._find_message(channel_id, ts)
        if current is None or current.ephemeral:
            raise _ApiError("message_not_found")
        if current.user != self.bot_user_id:
            raise _ApiError("cant_update_message")
        text, blocks = self._message_content(p, required=True)
        updated = replace(
            current,
            text=text if text is not None else current.text,
            # Slack keeps the blocks when the update has none; "blocks": [] removes them.
            blocks=tuple(blocks) if blocks is not None else current.blocks,
            edited_ts=self._next_ts(),
        )
        self._replace_message(current, updated)
        self._emit(EventKind.UPDATED, updated)
        return {
            "channel": channel_id,
            "ts": ts,
            "text": updated.text,
            "message": updated.as_api(),
        }

    def _chat_delete(self, p: _Params) -> dict[str, Any]:
        channel_id = p.require("channel")
        if channel_id not in self._channels:
            raise _ApiError("channel_not_found")
        ts = p.require("ts")
        current = self._find_message(channel_id, ts)
        if current is None or current.ephemeral:
            raise _ApiError("message_not_found")
        if current.user != self.bot_user_id:
            raise _ApiError("cant_delete_message")
        self._messages.remove(current)
        self._emit(EventKind.DELETED, current)
        return {"channel": channel_id, "ts": ts}

    def _reactions_add(self, p: _Params) -> dict[str, Any]:
        channel_id = p.require("channel")
        name = p.require("name").strip(":")
        current = self._find_message(channel_id, p.require("timestamp"))
        if current is None or current.ephemeral:
            raise _ApiError("message_not_found")
        if (name, self.bot_user_id) in current.reactions:
            raise _ApiError("already_reacted")
        updated = replace(current, reactions=(*current.reactions, (name, self.bot_user_id)))
        self._replace_message(current, updated)
        self._emit(EventKind.UPDATED, updated)
        return {}

    # -- methods: views ---------------------------------------------------------------------

    def _views_open(self, p: _Params) -> dict[str, Any]:
        payload = self._view_payload(p, "modal")
        user_id = self._exchange_trigger(p)
        view = self._new_view(user_id, payload, root_id=None, previous_id=None)
        self._stacks[user_id] = [view.id]
        self._emit(EventKind.VIEW_OPENED, view)
        return {"view": copy.deepcopy(dict(view.data))}

    def _views_push(self, p: _Params) -> dict[str, Any]:
        payload = self._view_payload(p, "modal")
        user_id = self._exchange_trigger(p)
        stack = self._stacks.get(user_id, [])
        if not stack:
            raise _ApiError("not_found")
        if len(stack) >= VIEW_STACK_MAX:
            raise _ApiError("push_limit_reached")
        view = self._new_view(user_id, payload, root_id=stack[0], previous_id=stack[-1])
        stack.append(view.id)
        self._emit(EventKind.VIEW_PUSHED, view)
        return {"view": copy.deepcopy(dict(view.data))}

    def _views_update(self, p: _Params) -> dict[str, Any]:
        view_id = p.text("view_id")
        external_id = p.text("external_id")
        if view_id is None and external_id is None:
            raise _invalid_arguments("must provide view_id or external_id")
        current = next(
            (
                v
                for v in self._views.values()
                if (view_id is not None and v.id == view_id)
                or (view_id is None and external_id is not None and v.external_id == external_id)
            ),
            None,
        )
        if current is None or current.closed:
            raise _ApiError("not_found")
        expected_hash = p.text("hash")
        if expected_hash is not None and expected_hash != current.hash:
            raise _ApiError("hash_conflict")
        payload = self._view_payload(p, current.type, keep_external_id=current.external_id)
        updated = replace(current, data=self._view_data(current.id, payload, current.data))
        self._views[current.id] = updated
        kind = EventKind.HOME_PUBLISHED if updated.type == "home" else EventKind.VIEW_UPDATED
        self._emit(kind, updated)
        return {"view": copy.deepcopy(dict(updated.data))}

    def _views_publish(self, p: _Params) -> dict[str, Any]:
        user_id = p.require("user_id")
        if user_id not in self._users:
            raise _ApiError("user_not_found")
        payload = self._view_payload(p, "home")
        current_id = self._homes.get(user_id)
        if current_id is None:
            view = self._new_view(user_id, payload, root_id=None, previous_id=None)
            self._homes[user_id] = view.id
        else:
            current = self._views[current_id]
            expected_hash = p.text("hash")
            if expected_hash is not None and expected_hash != current.hash:
                raise _ApiError("hash_conflict")
            view = replace(current, data=self._view_data(current_id, payload, current.data))
            self._views[current_id] = view
        self._emit(EventKind.HOME_PUBLISHED, view)
        return {"view": copy.deepcopy(dict(view.data))}

    # -- methods: files ---------------------------------------------------------------------

    def _files_get_upload_url_external(self, p: _Params) -> dict[str, Any]:
        filename = p.require("filename")
        length_text = p.require("length")
        if not length_text.isdigit():
            raise _invalid_arguments("must be an integer [json-pointer:/length]")
        file_id = self._new_id("F")
        token = secrets.token_hex(12)
        self._uploads[file_id] = UploadedFile(
            id=file_id,
            name=filename,
            title=filename,
            content=b"",
            length=int(length_text),
            user=self.bot_user_id,
        )
        self._upload_tokens[token] = file_id
        return {"upload_url": f"{self.base_url}upload/v1/{token}", "file_id": file_id}

    def _files_complete_upload_external(self, p: _Params) -> dict[str, Any]:
        entries = p.decoded("files", "invalid_arguments")
        if not isinstance(entries, list) or not entries:
            raise _invalid_arguments("missing required field: files")
        channel_ids = [p.text("channel_id")] if p.text("channel_id") else []
        channel_ids += [c for c in (p.text("channels") or "").split(",") if c]
        channels = [self._postable_channel(c) for c in channel_ids]
        thread_ts = p.text("thread_ts")
        comment = p.text("initial_comment")
        completed: list[UploadedFile] = []
        for entry in entries:
            file_id = entry.get("id") if isinstance(entry, Mapping) else None
            pending = self._uploads.get(str(file_id))
            if pending is None or pending.completed:
                raise _ApiError("file_not_found")
            completed.append(
                replace(
                    pending,
                    title=str(entry.get("title") or pending.name),
                    channels=tuple(c.id for c in channels),
                    thread_ts=thread_ts,
                    initial_comment=comment,
                    completed=True,
                )
            )
        for done in completed:
            self._uploads[done.id] = done
        for channel in channels:
            self._messages.append(
                Message(
                    channel=channel.id,
                    ts=self._next_ts(),
                    user=self.bot_user_id,
                    text=comment or "",
                    thread_ts=thread_ts,
                    bot_id=self.bot_id,
                    app_id=self.app_id,
                    team=self.team_id,
                    files=tuple(f.id for f in completed),
                )
            )
        for done in completed:
            self._emit(EventKind.FILE_UPLOADED, done)
        return {"files": [self._file_object(f) for f in completed]}

    def _file_object(self, upload: UploadedFile) -> dict[str, Any]:
        return {
            "id": upload.id,
            "created": int(self._clock()),
            "timestamp": int(self._clock()),
            "name": upload.name,
            "title": upload.title,
            "mimetype": "text/plain",
            "filetype": upload.name.rpartition(".")[2] if "." in upload.name else "text",
            "user": upload.user,
            "user_team": self.team_id,
            "size": len(upload.content),
            "mode": "hosted",
            "is_external": False,
            "is_public": any(
                not self._channels[c].is_private and not self._channels[c].is_im for c in upload.channels
            ),
            "url_private": f"{self.base_url}files/{upload.id}",
            "channels": [c for c in upload.channels if c.startswith("C")],
            "groups": [c for c in upload.channels if c.startswith("G")],
            "ims": [c for c in upload.channels if c.startswith("D")],
        }

    # -- upload and response URL endpoints --------------------------------------------------

    def _receive_upload(self, token: str, content_type: str, body: bytes) -> _Reply:
        with self._lock:
            file_id = self._upload_tokens.pop(token, None)
            if file_id is None:
                return _Reply(404, b"upload url not found", content_type="text/plain")
            content = body
            if content_type.lower().startswith("multipart/form-data"):
                fields = _multipart_fields(content_type, body)
                value = fields.get("file", fields.get("filename", b""))
                content = value if isinstance(value, bytes) else value.encode()
            self._uploads[file_id] = replace(self._uploads[file_id], content=content)
            self._changed.notify_all()
            return _Reply(200, f"OK - {len(content)}".encode(), content_type="text/plain")

    def _receive_response(self, token: str, content_type: str, body: bytes) -> _Reply:
        with self._lock:
            entry = self._response_urls.get(token)
            if entry is None:
                return _Reply.json({"ok": False, "error": "invalid_url"}, 404)
            if self._clock() - entry.created_at > RESPONSE_URL_TTL_SECONDS:
                self._record(Call("response_url", {}, "expired_url"))
                return _Reply.json({"ok": False, "error": "expired_url"}, 404)
            if entry.uses >= RESPONSE_URL_MAX_USES:
                self._record(Call("response_url", {}, "used_url"))
                return _Reply.json({"ok": False, "error": "used_url"}, 404)
            entry.uses += 1
            data = _json_object(body) if content_type.lower().startswith("application/json") else None
            if data is None:
                self._record(Call("response_url", {}, "invalid_payload"))
                return _Reply.json({"ok": False, "error": "invalid_payload"}, 400)
            try:
                self._respond(entry, _Params(data))
            except _ApiError as error:
                self._record(Call("response_url", data, error.error))
                return _Reply.json({"ok": False, "error": error.error, **error.extra}, 400)
            self._record(Call("response_url", data))
            return _Reply.json({"ok": True})

    def _respond(self, entry: _ResponseUrl, p: _Params) -> None:
        original = self._find_message(entry.channel, entry.original_ts) if entry.original_ts else None
        if p.flag("delete_original"):
            if original is not None:
                self._messages.remove(original)
                self._emit(EventKind.DELETED, original)
                entry.original_ts = None
            return
        text, blocks = self._message_content(p, required=True)
        if p.flag("replace_original") and original is not None:
            updated = replace(
                original,
                text=text or "",
                blocks=tuple(blocks or ()),
                edited_ts=self._next_ts(),
            )
            self._replace_message(original, updated)
            self._emit(EventKind.UPDATED, updated)
            return
        in_channel = p.text("response_type") == "in_channel"
        message = Message(
            channel=entry.channel,
            ts=self._next_ts(),
            user=self.bot_user_id,
            text=text or "",
            blocks=tuple(blocks or ()),
            thread_ts=p.text("thread_ts"),
            ephemeral=not in_channel,
            recipient=None if in_channel else entry.user,
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team_id,
            via_response_url=True,
        )
        self._messages.append(message)
        entry.original_ts = message.ts
        self._emit(EventKind.POSTED if in_channel else EventKind.EPHEMERAL, message)

    # -- helpers (called with the lock held) ------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._sequence):08X}"

    def _next_ts(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _record(self, call: Call) -> None:
        self._calls.append(call)
        self._changed.notify_all()

    def _emit(self, kind: EventKind, subject: Message | View | UploadedFile) -> None:
        self._pending_events.append(SlackEvent(kind, subject))
        self._changed.notify_all()

    def _dispatch(self) -> None:
        # Whoever holds the dispatch lock delivers every pending event in order; a callback that
        # calls this server again (from the same thread) must not wait for itself, so a thread
        # that finds the lock taken leaves its events to the holder, which checks once more
        # after releasing.
        while True:
            if not self._dispatching.acquire(blocking=False):
                return
            try:
                while True:
                    with self._lock:
                        if not self._pending_events:
                            break
                        event = self._pending_events.popleft()
                        subscribers = list(self._subscribers)
                    for callback in subscribers:
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("a local Slack subscriber failed on %s", event.kind)
            finally:
                self._dispatching.release()
            with self._lock:
                if not self._pending_events:
                    return

    def _require_user(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise LookupError(f"no user {user_id} in the local workspace")
        return user

    def _require_view(self, view_id: str) -> View:
        view = self._views.get(view_id)
        if view is None:
            raise LookupError(f"no view {view_id}")
        return view

    def _find_message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages if m.channel == channel and m.ts == ts), None)

    def _replace_message(self, current: Message, updated: Message) -> None:
        self._messages[self._messages.index(current)] = updated

    def _message_with_element(
        self,
        channel: str,
        message_ts: str | None,
        user_id: str,
        action_id: str,
        block_id: str | None,
    ) -> tuple[Message, tuple[str, dict[str, Any]]]:
        for message in reversed(self._messages):
            if message.channel != channel or (message_ts is not None and message.ts != message_ts):
                continue
            if message.ephemeral and message.recipient != user_id:
                continue
            found = _find_element(message.blocks, action_id, block_id)
            if found is not None:
                return message, found
        where = f"message {message_ts}" if message_ts else "any message"
        raise LookupError(f"no element {action_id!r} in {where} of {channel} seen by {user_id}")

    def _open_conversation(self, user_ids: Sequence[str]) -> tuple[str, bool]:
        members = frozenset([*user_ids, self.bot_user_id])
        existing = self._conversations_by_members.get(members)
        if existing is not None:
            return existing, True
        is_im = len(user_ids) == 1
        channel_id = self._new_id("D" if is_im else "G")
        name = user_ids[0] if is_im else "mpdm-" + "--".join(sorted(user_ids)) + "-1"
        self._channels[channel_id] = Channel(
            id=channel_id, name=name, members=members, is_im=is_im, is_mpim=not is_im
        )
        self._conversations_by_members[members] = channel_id
        return channel_id, False

    def _postable_channel(self, target: str | None, *, allow_user_id: bool = True) -> Channel:
        if not target:
            raise _ApiError("channel_not_found")
        channel = self._channels.get(target)
        if channel is None and allow_user_id and target in self._users:
            # Posting to a user id writes in the bot's direct-message channel with that user.
            channel = self._channels[self._open_conversation([target])[0]]
        if channel is None:
            name = target.removeprefix("#")
            channel = next((c for c in self._channels.values() if c.name == name and not c.is_im), None)
        if channel is None:
            raise _ApiError("channel_not_found")
        if self.bot_user_id not in channel.members:
            raise _ApiError("not_in_channel")
        return channel

    def _message_content(
        self, p: _Params, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        text = p.text("text")
        if text is not None and len(text) > MESSAGE_MAX_CHARS:
            raise _ApiError("msg_too_long")
        blocks: list[dict[str, Any]] | None = None
        if "blocks" in p.values:
            raw = p.decoded("blocks", "invalid_blocks_format")
            if not isinstance(raw, list):
                raise _ApiError("invalid_blocks_format")
            problems = _block_problems(raw, "/blocks", MESSAGE_MAX_BLOCKS)
            if problems:
                raise _ApiError(
                    "invalid_blocks",
                    errors=problems,
                    response_metadata={"messages": [f"[ERROR] {m}" for m in problems]},
                )
            blocks = self._with_ids(raw)
        has_attachments = bool(p.text("attachments"))
        if required and text is None and not blocks and not has_attachments:
            raise _ApiError("no_text")
        return text, blocks

    def _with_ids(self, blocks: list[Any]) -> list[dict[str, Any]]:
        """A copy of ``blocks`` with the block_id and action_id Slack adds when they are absent."""
        filled: list[dict[str, Any]] = copy.deepcopy(blocks)
        for block in filled:
            block.setdefault("block_id", _short_id(next(self._sequence)))
            for element in _interactive_elements(block):
                element.setdefault("action_id", _short_id(next(self._sequence)))
        return filled

    def _view_payload(self, p: _Params, kind: str, *, keep_external_id: str = "") -> dict[str, Any]:
        raw = p.decoded("view", "invalid_arguments")
        if raw is None:
            raise _invalid_arguments("missing required field: view")
        if not isinstance(raw, dict):
            raise _invalid_arguments("must be an object [json-pointer:/view]")
        problems: list[str] = []
        if raw.get("type") != kind:
            problems.append(f"must be {kind} [json-pointer:/view/type]")
        blocks = raw.get("blocks")
        if not isinstance(blocks, list):
            problems.append("missing required field: blocks [json-pointer:/view]")
            blocks = []
        problems += _block_problems(blocks, "/view/blocks", VIEW_MAX_BLOCKS)
        if kind == "modal":
            if "title" not in raw:
                problems.append("missing required field: title [json-pointer:/view]")
            for key in ("title", "submit", "close"):
                if raw.get(key) is not None:
                    problems += _text_problems(
                        raw[key], f"/view/{key}", VIEW_TITLE_MAX_CHARS, plain_only=True
                    )
            has_inputs = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
            if has_inputs and raw.get("submit") is None:
                problems.append("must provide submit when using input blocks [json-pointer:/view]")
        problems += _length_problems(raw.get("private_metadata"), "/view/private_metadata", 3000)
        problems += _length_problems(raw.get("callback_id"), "/view/callback_id", 255)
        problems += _length_problems(raw.get("external_id"), "/view/external_id", 255)
        if problems:
            raise _invalid_arguments(*problems)
        external_id = raw.get("external_id")
        taken = {v.external_id for v in self._views.values()} - {keep_external_id}
        if external_id and external_id in taken:
            raise _ApiError("duplicate_external_id")
        payload = dict(raw)
        payload["blocks"] = self._with_ids(blocks)
        return payload

    def _exchange_trigger(self, p: _Params) -> str:
        trigger_id = p.text("trigger_id") or p.text("interactivity_pointer")
        if trigger_id is None:
            raise _invalid_arguments("missing required field: trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise _ApiError("invalid_trigger_id")
        if trigger.used:
            raise _ApiError("exchanged_trigger_id")
        if self._clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise _ApiError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    def _new_view(
        self,
        user_id: str,
        payload: dict[str, Any],
        *,
        root_id: str | None,
        previous_id: str | None,
    ) -> View:
        view_id = self._new_id("V")
        data = self._view_data(view_id, payload, None)
        data["root_view_id"] = root_id or view_id
        data["previous_view_id"] = previous_id
        view = View(view_id, user_id, data)
        self._views[view_id] = view
        return view

    def _view_data(
        self, view_id: str, payload: dict[str, Any], previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        kept_state = previous.get("state") if previous else None
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": payload["type"],
            "title": payload.get("title"),
            "submit": payload.get("submit"),
            "close": payload.get("close"),
            "blocks": payload["blocks"],
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "state": copy.deepcopy(kept_state) if kept_state else {"values": {}},
            "hash": f"{int(self._clock())}.{_short_id(next(self._sequence))}",
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "root_view_id": previous.get("root_view_id") if previous else view_id,
            "previous_view_id": previous.get("previous_view_id") if previous else None,
            "app_id": self.app_id,
            "external_id": payload.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _timeout_report(self, description: str, timeout: float) -> str:
        lines = [f"timed out after {timeout:g}s waiting for {description or 'the condition'}"]
        lines.append(f"calls ({len(self._calls)}):")
        for call in self._calls[-30:]:
            outcome = "ok" if call.ok else call.error
            summary = json.dumps(dict(call.params), default=str)
            lines.append(f"  {call.method} -> {outcome}: {summary[:160]}")
        lines.append(f"messages ({len(self._messages)}):")
        for message in self._messages[-20:]:
            kind = f"ephemeral to {message.recipient}" if message.ephemeral else "message"
            lines.append(f"  {message.channel} {message.ts} {kind}: {message.text[:120]!r}")
        open_views = [v for v in self._views.values() if not v.closed]
        lines.append(f"views ({len(open_views)} open):")
        lines.extend(f"  {v.id} {v.type} for {v.user_id}: {v.title!r}" for v in open_views)
        return "\n".join(lines)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], slack: LocalSlack) -> None:
        super().__init__(address, _Handler)
        self.slack = slack


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        slack = cast(_Server, self.server).slack
        reply = slack._serve(self.path, self.headers, body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("local Slack: " + format, *args)
