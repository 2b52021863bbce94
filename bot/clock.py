"""The real clock behind `domain.ports.Clock`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["MovableClock", "SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """The real clock, moved on at will: the shell's `:tick +14` shows what the scheduler does two
    weeks from now (a renewal alert, R22)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def move_on(self, delta: timedelta) -> datetime:
        with self._lock:
            self._offset += delta
        return self.now()
