"""Injected faults of the Graph simulator: by share (seeded, so runs repeat) or scripted one by one."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FaultKind", "FaultPlan", "Faults"]


class FaultKind(StrEnum):
    THROTTLE = "429"
    """429 with `Retry-After`; nothing happened."""
    THROTTLE_NO_RETRY_AFTER = "429-no-retry-after"
    UNAVAILABLE = "503"
    """503 with `Retry-After`; nothing happened."""
    TIMEOUT = "timeout"
    """The request is served, then the answer hangs past the client's timeout."""
    APPLIED_THEN_THROTTLED = "applied-429"
    """A write happens, and the answer says 429 anyway (its outcome looks unknown to the client)."""

    @property
    def stops_request(self) -> bool:
        return self in {FaultKind.THROTTLE, FaultKind.THROTTLE_NO_RETRY_AFTER, FaultKind.UNAVAILABLE}


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Shares (0..1) of requests that get each fault; `writes_only` spares reads."""

    throttle: float = 0.0
    throttle_no_retry_after: float = 0.0
    unavailable: float = 0.0
    timeout: float = 0.0
    applied_then_throttled: float = 0.0
    writes_only: bool = False
    retry_after_seconds: int = 1
    hang_seconds: float = 10.0
    seed: int | None = 0

    def __post_init__(self) -> None:
        shares = (
            self.throttle,
            self.throttle_no_retry_after,
            self.unavailable,
            self.timeout,
            self.applied_then_throttled,
        )
        if any(share < 0 for share in shares) or sum(shares) > 1:
            raise ValueError(f"Fault shares must be >= 0 and add up to at most 1: {self}")


@dataclass(slots=True)
class _Scripted:
    kind: FaultKind
    match: str
    times: int


class Faults:
    """Decides, request by request, whether a fault hits it."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)  # noqa: S311 - fault injection, not security
        self._script: list[_Scripted] = []
        self._lock = threading.Lock()

    def inject(self, kind: FaultKind, *, match: str = "", times: int = 1) -> None:
        """The next `times` requests whose "METHOD /path" contains `match` get `kind`."""
        with self._lock:
            self._script.append(_Scripted(kind, match, times))

    def draw(self, method: str, path: str, *, is_write: bool) -> FaultKind | None:
        target = f"{method} {path}"
        with self._lock:
            for entry in self._script:
                if entry.times > 0 and entry.match in target:
                    if entry.kind is FaultKind.APPLIED_THEN_THROTTLED and not is_write:
                        continue
                    entry.times -= 1
                    return entry.kind
            if self.plan.writes_only and not is_write:
                return None
            roll = self._random.random()
        plan = self.plan
        for kind, share in (
            (FaultKind.THROTTLE, plan.throttle),
            (FaultKind.THROTTLE_NO_RETRY_AFTER, plan.throttle_no_retry_after),
            (FaultKind.UNAVAILABLE, plan.unavailable),
            (FaultKind.TIMEOUT, plan.timeout),
            (FaultKind.APPLIED_THEN_THROTTLED, plan.applied_then_throttled if is_write else 0.0),
        ):
            if roll < share:
                return kind
            roll -= share
        return None
