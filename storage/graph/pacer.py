"""Keep directory writes under Graph's write quota instead of running into it (R17).

Graph allows 3,000 directory writes per 150 seconds per app and tenant; each `assignLicense`, inside
a `$batch` or not, is one write. The pacer keeps a log of the writes sent in the last window and
lets a batch go only when the whole batch fits, so no window of that length — wherever it starts —
ever holds more than the quota. A burst up to the quota goes at once; after that, writes go as fast
as older ones leave the window, which averages out at the quota's rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from storage.graph.config import WriteQuota

__all__ = ["Clock", "PacerStats", "Sleeper", "WritePacer"]

Clock = Callable[[], float]
"""Monotonic seconds."""
Sleeper = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class PacerStats:
    writes: int
    waits: int
    waited_seconds: float


class WritePacer:
    def __init__(
        self,
        quota: WriteQuota,
        *,
        margin_seconds: float = 0.0,
        clock: Clock = time.monotonic,
        sleeper: Sleeper = time.sleep,
    ) -> None:
        self._quota = quota
        self._window = quota.window_seconds + max(margin_seconds, 0.0)
        self._clock = clock
        self._sleep = sleeper
        self._sent: deque[float] = deque()
        self._hold_until = float("-inf")
        self._lock = threading.Lock()
        self._writes = 0
        self._waits = 0
        self._waited = 0.0

    @property
    def quota(self) -> WriteQuota:
        return self._quota

    @property
    def max_batch(self) -> int:
        return self._quota.writes

    def acquire(self, writes: int) -> float:
        """Block until `writes` more writes fit in the window, count them as sent; returns the wait."""
        if writes <= 0:
            return 0.0
        if writes > self._quota.writes:
            raise ValueError(f"{writes} writes at once can never fit a quota of {self._quota.writes}")
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay(writes, self._clock())
                if delay <= 0:
                    now = self._clock()
                    self._sent.extend([now] * writes)
                    self._writes += writes
                    if waited:
                        self._waits += 1
                        self._waited += waited
                    return waited
            self._sleep(delay)
            waited += delay

    def hold(self, seconds: float) -> None:
        """Graph throttled us anyway (another app, the tenant-wide quota): no writes for `seconds`."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def stats(self) -> PacerStats:
        with self._lock:
            return PacerStats(self._writes, self._waits, self._waited)

    def _delay(self, writes: int, now: float) -> float:
        while self._sent and self._sent[0] + self._window <= now:
            self._sent.popleft()
        excess = len(self._sent) + writes - self._quota.writes
        delay = self._hold_until - now
        if excess > 0:
            # The `excess` oldest writes must leave the window first.
            delay = max(delay, self._sent[excess - 1] + self._window - now)
        return delay
