"""What the Graph simulator saw and did, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["SimStats", "StatsRecorder"]


@dataclass(frozen=True, slots=True)
class SimStats:
    requests: Mapping[str, int] = field(default_factory=dict)
    """By endpoint ("GET /users/{id}", "POST /$batch", ...); `$batch` sub-requests count on their own."""
    writes_applied: Mapping[str, int] = field(default_factory=dict)
    """`assignLicense` calls that changed nothing or something, by user id (answered 2xx, or applied
    and then answered 429 by an injected fault)."""
    throttled: int = 0
    """429 answers sent, for the quota or injected."""
    throttled_by_quota: int = 0
    faults: Mapping[str, int] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] = ()

    @property
    def total_writes_applied(self) -> int:
        return sum(self.writes_applied.values())

    def requests_to(self, endpoint: str) -> int:
        return self.requests.get(endpoint, 0)


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._writes: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._throttled = 0
            self._by_quota = 0
            self._batches: list[int] = []

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1

    def batch(self, size: int) -> None:
        with self._lock:
            self._batches.append(size)

    def write_applied(self, user_id: str) -> None:
        with self._lock:
            self._writes[user_id] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def throttled(self, *, by_quota: bool) -> None:
        with self._lock:
            self._throttled += 1
            self._by_quota += int(by_quota)

    def snapshot(self) -> SimStats:
        with self._lock:
            return SimStats(
                dict(self._requests),
                dict(self._writes),
                self._throttled,
                self._by_quota,
                dict(self._faults),
                tuple(self._batches),
            )
