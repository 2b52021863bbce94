"""Graph's directory write quota as the simulator enforces it: N writes per window, per app."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["QuotaWindow"]


class QuotaWindow:
    """A sliding window per app: a write at time t counts until t + window (exclusive)."""

    def __init__(self, writes: int, window_seconds: float, clock: Callable[[], float]) -> None:
        self.writes = writes
        self.window_seconds = window_seconds
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, app: str) -> int | None:
        """Count one write; None when it fits, else the whole seconds to wait (`Retry-After`)."""
        with self._lock:
            now = self._clock()
            sent = self._sent.setdefault(app, deque())
            while sent and sent[0] + self.window_seconds <= now:
                sent.popleft()
            if len(sent) < self.writes:
                sent.append(now)
                return None
            return max(1, math.ceil(sent[0] + self.window_seconds - now))
