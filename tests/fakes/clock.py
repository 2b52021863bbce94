"""Time for tests: a clock that moves only when told, and a monotonic time that records every sleep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeTime", "FixedClock"]


class FakeTime:
    """Monotonic time that moves only when something sleeps (a Graph client, its write pacer, the
    simulator's quota); every wait is recorded, none is slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(seconds, 0.0)


class FixedClock:
    """A clock that only moves when told to (timezone-aware UTC)."""

    def __init__(self, at: datetime = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)) -> None:
        self._now = _utc(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = _utc(at)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("FixedClock needs a timezone-aware datetime")
    return at.astimezone(UTC)
