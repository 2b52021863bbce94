"""The state of the local Slack workspace: who and what is in it (users, channels, messages, views,
files), what the bot did (calls), what is pending (triggers, response URLs, uploads, injected
failures), and the events waiting for subscribers.

Everything here is read and changed with ``lock`` held; the Web API methods, the HTTP endpoints, the
inbound payload builders and the ``LocalSlack`` front all work on one ``WorkspaceState``.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.local_slack import block_kit, socket_mode
from bot.local_slack.records import (
    Call,
    Channel,
    EventKind,
    Message,
    SlackEvent,
    Subscriber,
    UploadedFile,
    User,
    Usergroup,
    View,
)

__all__ = ["Failure", "ResponseUrl", "Trigger", "WorkspaceState"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Trigger:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    channel: str
    user: str
    created_at: float
    original_ts: str | None
    uses: int = 0


@dataclass
class Failure:
    error: str
    retry_after: int | None


class WorkspaceState:
    """One workspace's data and the bot's identity in it.

    ``clock`` (seconds since the epoch) drives message timestamps, trigger expiry and response URL
    expiry, so tests move time instead of sleeping. ``port`` is set while the HTTP server runs.
    """

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str,
        team_id: str,
        team_domain: str,
        team_name: str,
        app_id: str,
        bot_id: str,
        bot_user_id: str,
        bot_name: str,
        clock: Callable[[], float],
        host: str,
        scopes: Sequence[str],
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_id = bot_id
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes = tuple(scopes)
        self.clock = clock
        self.host = host
        self.port: int | None = None
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.dispatching = threading.Lock()
        self.socket_mode: socket_mode.SocketModeServer | None = None
        self.sequence = itertools.count(1)
        self.last_micros = 0

        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.conversations_by_members: dict[frozenset[str], str] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.calls: list[Call] = []
        self.messages: list[Message] = []
        self.views: dict[str, View] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.uploads: dict[str, UploadedFile] = {}
        self.upload_tokens: dict[str, str] = {}
        self.failures: dict[str, deque[Failure]] = {}
        self.pending_events: deque[SlackEvent] = deque()
        self.subscribers: list[Subscriber] = []

        self.users[bot_user_id] = User(
            id=bot_user_id,
            name=bot_name,
            real_name=bot_name,
            display_name=bot_name,
            email=None,
            is_bot=True,
        )

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("start the local Slack server first")
        return f"http://{self.host}:{self.port}/"

    # -- ids and time (called with the lock held) -------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.sequence):08X}"

    def next_ts(self) -> str:
        micros = max(int(self.clock() * 1_000_000), self.last_micros + 1)
        self.last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def issue_trigger_id(self, user_id: str) -> str:
        """A trigger id as Slack puts in an interaction; it expires 3 s later (per ``clock``)."""
        with self.lock:
            trigger_id = f"{next(self.sequence)}.{int(self.clock())}.{secrets.token_hex(16)}"
            self.triggers[trigger_id] = Trigger(user_id, self.clock())
            return trigger_id

    def new_response_url(self, channel: str, user_id: str, *, message_ts: str | None = None) -> str:
        """A ``response_url`` on this server; ``message_ts`` is the message an action came from."""
        with self.lock:
            token = secrets.token_hex(12)
            self.response_urls[token] = ResponseUrl(channel, user_id, self.clock(), message_ts)
            kind = "actions" if message_ts else "commands"
            return f"{self.base_url}{kind}/{self.team_id}/{next(self.sequence)}/{token}"

    def next_failure(self, method: str) -> Failure | None:
        queue = self.failures.get(method)
        return queue.popleft() if queue else None

    # -- recording and announcing -----------------------------------------------------------

    def record(self, call: Call) -> None:
        self.calls.append(call)
        self.changed.notify_all()

    def emit(self, kind: EventKind, subject: Message | View | UploadedFile) -> None:
        self.pending_events.append(SlackEvent(kind, subject))
        self.changed.notify_all()

    def dispatch(self) -> None:
        """Deliver pending events to subscribers (call it without the lock held)."""
        # Whoever holds the dispatch lock delivers every pending event in order; a callback that
        # calls this server again (from the same thread) must not wait for itself, so a thread
        # that finds the lock taken leaves its events to the holder, which checks once more
        # after releasing.
        while True:
            if not self.dispatching.acquire(blocking=False):
                return
            try:
                while True:
                    with self.lock:
                        if not self.pending_events:
                            break
                        event = self.pending_events.popleft()
                        subscribers = list(self.subscribers)
                    for callback in subscribers:
                        try:
                            callback(event)
                        except Exception:
                            logger.exception("a local Slack subscriber failed on %s", event.kind)
            finally:
                self.dispatching.release()
            with self.lock:
                if not self.pending_events:
                    return

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every ``SlackEvent``, in order; returns an unsubscribe function.

        Callbacks run on a server thread, outside the workspace lock (they may query it).
        """
        with self.lock:
            self.subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self.subscribers:
                    self.subscribers.remove(callback)

        return unsubscribe

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str = "") -> T:
        """Wait until ``predicate()`` returns a truthy value and return it.

        The predicate is re-evaluated whenever something is recorded (no polling with sleeps).
        On timeout a ``TimeoutError`` lists what was recorded, to show what happened instead.
        """
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_report(description, timeout))
                self.changed.wait(remaining)

    def _timeout_report(self, description: str, timeout: float) -> str:
        lines = [f"timed out after {timeout:g}s waiting for {description or 'the condition'}"]
        lines.append(f"calls ({len(self.calls)}):")
        for call in self.calls[-30:]:
            outcome = "ok" if call.ok else call.error
            summary = json.dumps(dict(call.params), default=str)
            lines.append(f"  {call.method} -> {outcome}: {summary[:160]}")
        lines.append(f"messages ({len(self.messages)}):")
        for message in self.messages[-20:]:
            kind = f"ephemeral to {message.recipient}" if message.ephemeral else "message"
            lines.append(f"  {message.channel} {message.ts} {kind}: {message.text[:120]!r}")
        open_views = [v for v in self.views.values() if not v.closed]
        lines.append(f"views ({len(open_views)} open):")
        lines.extend(f"  {v.id} {v.type} for {v.user_id}: {v.title!r}" for v in open_views)
        return "\n".join(lines)

    # -- lookups and changes (called with the lock held) ------------------------------------

    def require_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise LookupError(f"no user {user_id} in the local workspace")
        return user

    def require_view(self, view_id: str) -> View:
        view = self.views.get(view_id)
        if view is None:
            raise LookupError(f"no view {view_id}")
        return view

    def find_message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def replace_message(self, current: Message, updated: Message) -> None:
        self.messages[self.messages.index(current)] = updated

    def message_with_element(
        self,
        channel: str,
        message_ts: str | None,
        user_id: str,
        action_id: str,
        block_id: str | None,
    ) -> tuple[Message, tuple[str, dict[str, Any]]]:
        """The newest message of ``channel`` that ``user_id`` sees holding the element."""
        for message in reversed(self.messages):
            if message.channel != channel or (message_ts is not None and message.ts != message_ts):
                continue
            if message.ephemeral and message.recipient != user_id:
                continue
            found = block_kit.find_element(message.blocks, action_id, block_id)
            if found is not None:
                return message, found
        where = f"message {message_ts}" if message_ts else "any message"
        raise LookupError(f"no element {action_id!r} in {where} of {channel} seen by {user_id}")

    def open_conversation(self, user_ids: Sequence[str]) -> tuple[str, bool]:
        """The bot's conversation with ``user_ids`` (opened if needed), and whether it existed."""
        members = frozenset([*user_ids, self.bot_user_id])
        existing = self.conversations_by_members.get(members)
        if existing is not None:
            return existing, True
        is_im = len(user_ids) == 1
        channel_id = self.new_id("D" if is_im else "G")
        name = user_ids[0] if is_im else "mpdm-" + "--".join(sorted(user_ids)) + "-1"
        self.channels[channel_id] = Channel(
            id=channel_id, name=name, members=members, is_im=is_im, is_mpim=not is_im
        )
        self.conversations_by_members[members] = channel_id
        return channel_id, False
