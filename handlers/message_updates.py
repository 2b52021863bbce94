"""`MessageUpdates`: `chat.update` at most once per `interval` per message, the last state winning.

Slack allows about one update a second per message. A workflow's checklist or a change's progress
can change several times within a second; the first change goes at once, later ones within the
interval are coalesced into one deferred update that carries the newest state, so the message
always ends on its final state and never gets two updates closer than `interval` (by `clock`).

One instance serves the whole process (the composition root builds it); the deferred update runs on
a timer thread in production (`threading.Timer`), and tests pass a `schedule` they run themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks.message import Message

__all__ = ["MessageUpdates", "Schedule", "timer_schedule"]

log = logging.getLogger(__name__)

Schedule = Callable[[float, Callable[[], None]], None]
"""(delay in seconds, what to run then)."""


def timer_schedule(delay: float, run: Callable[[], None]) -> None:
    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.name = "licensebot-message-update"
    timer.start()


@dataclass
class _Entry:
    next_allowed: float = 0.0
    latest: tuple[WebClient, Message] | None = None
    scheduled: bool = False
    sending: threading.Lock = field(default_factory=threading.Lock)


class MessageUpdates:
    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Schedule = timer_schedule,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def update(self, client: WebClient, channel: str, ts: str, message: Message) -> bool:
        """Show `message` in place of the message `ts`: now (True; Slack's refusal is raised) or,
        within `interval` of the last update, as one deferred update with the newest state (False)."""
        key = (channel, ts)
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            entry = self._entries.setdefault(key, _Entry())
            entry.latest = (client, message)
            wait = entry.next_allowed - now
            if wait > 0:
                if not entry.scheduled:
                    entry.scheduled = True
                    self._schedule(wait, lambda: self._deferred(key))
                return False
            entry.next_allowed = now + self._interval
        self._send(key, entry)
        return True

    def pending(self) -> int:
        """How many messages wait for a deferred update."""
        with self._lock:
            return sum(1 for entry in self._entries.values() if entry.latest is not None)

    def flush(self) -> None:
        """Send every deferred update now (a process stopping), whatever the interval."""
        with self._lock:
            waiting = [(key, entry) for key, entry in self._entries.items() if entry.latest is not None]
        for key, entry in waiting:
            self._quietly(key, entry)

    def _deferred(self, key: tuple[str, str]) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.scheduled = False
            if entry.latest is None:  # sent meanwhile by an update past the interval
                return
            now = self._clock()
            wait = entry.next_allowed - now
            if wait > 0:  # a timer that fired early: wait out the rest
                entry.scheduled = True
                self._schedule(wait, lambda: self._deferred(key))
                return
            entry.next_allowed = now + self._interval
        self._quietly(key, entry)

    def _quietly(self, key: tuple[str, str], entry: _Entry) -> None:
        """A deferred update has no caller to tell: Slack's refusal, or Slack not answering, is logged."""
        try:
            self._send(key, entry)
        except SlackApiError as error:
            log.warning(
                "could not update a message in %s: %s",
                key[0],
                error.response.get("error"),
                extra={"action": "chat.update"},
            )
        except OSError as error:  # Slack unreachable (urllib's URLError)
            log.warning(
                "could not update a message in %s: %s", key[0], error, extra={"action": "chat.update"}
            )

    def _send(self, key: tuple[str, str], entry: _Entry) -> None:
        with entry.sending:  # one update of a message at a time, so an older state never lands last
            with self._lock:
                latest, entry.latest = entry.latest, None
            if latest is None:
                return
            client, message = latest
            client.chat_update(channel=key[0], ts=key[1], **message.to_dict())

    def _forget_idle(self, now: float) -> None:
        if len(self._entries) < 256:
            return
        idle = [
            key
            for key, entry in self._entries.items()
            if entry.latest is None and not entry.scheduled and entry.next_allowed <= now
        ]
        for key in idle:
            del self._entries[key]
