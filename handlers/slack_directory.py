"""`SlackUsers`: Slack's `users.info` and `users.lookupByEmail`, cached for the whole process and paced
under Slack's rate tiers.

One instance serves every request of a process (the composition root builds it), so a user group
named again within `ttl_seconds` costs no call, and a large group is looked up at most once per
member. Both methods are Tier 4 (about 100 calls a minute each): each has its own budget of
`per_minute` calls in any minute, and a `ratelimited` answer holds the method for Slack's
`Retry-After` before trying again.
The whole `user` object is kept, so checks on the account (guest, bot, deleted) can read it.

Waiting happens in the caller's thread and only here, where the listeners resolve people before any
service opens a database transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["RateBudget", "SlackUsers"]

log = logging.getLogger(__name__)


class RateBudget:
    """At most `calls` calls in any `per_seconds` window (a sliding window): `reserve()` says how long
    the caller must wait for its call (0 when it may go now) and counts the call as made then."""

    def __init__(self, calls: int, per_seconds: float, clock: Callable[[], float]) -> None:
        if calls < 1 or per_seconds <= 0:
            raise ValueError("A rate budget needs at least one call in a positive window.")
        self._calls = calls
        self._window = per_seconds
        self._clock = clock
        self._made: deque[float] = deque(maxlen=calls)
        self._held_until = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            at = max(now, self._held_until)
            if len(self._made) == self._calls:
                at = max(at, self._made[0] + self._window)
            self._made.append(at)
            return at - now

    def hold(self, seconds: float) -> None:
        """Slack said `ratelimited`: nothing goes for `seconds`."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)


@dataclass
class _Cached:
    user: Mapping[str, Any]
    until: float


class SlackUsers:
    def __init__(
        self,
        *,
        ttl_seconds: float = 300.0,
        max_users: int = 10_000,
        per_minute: int = 100,
        retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_users
        self._retries = retries
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._users: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._emails: dict[tuple[str, str], str] = {}
        self._budgets = {
            method: RateBudget(per_minute, 60.0, clock) for method in ("users.info", "users.lookupByEmail")
        }

    def info(self, client: WebClient, user_id: str, *, fresh: bool = False) -> Mapping[str, Any]:
        """`users.info`'s answer (`{"user": {...}}`), from the cache when fresh; Slack's refusals
        (`user_not_found`, …) are raised as `SlackApiError` and not cached. `fresh` asks Slack
        whatever the cache holds (and keeps the answer): for the person making a request, whose
        account (a guest now, deactivated, another email) decides what they may do (R24)."""
        team = client.token or ""
        cached = None if fresh else self._fresh((team, user_id))
        if cached is not None:
            return {"user": cached}
        # The person asking costs one call per request, so it is not held back by the pace that
        # keeps a large group's lookups within Slack's tier; a `ratelimited` answer still holds both.
        user = self._call("users.info", lambda: client.users_info(user=user_id), paced=not fresh)
        self._keep(team, user)
        return {"user": user}

    def by_email(self, client: WebClient, email: str) -> Mapping[str, Any]:
        """`users.lookupByEmail`'s answer, cached like `info` (and shared with it, by user id)."""
        team = client.token or ""
        with self._lock:
            user_id = self._emails.get((team, email.casefold()))
        cached = self._fresh((team, user_id)) if user_id else None
        if cached is not None:
            return {"user": cached}
        user = self._call("users.lookupByEmail", lambda: client.users_lookupByEmail(email=email))
        self._keep(team, user, email)
        return {"user": user}

    def forget(self) -> None:
        with self._lock:
            self._users.clear()
            self._emails.clear()

    def _fresh(self, key: tuple[str, str]) -> Mapping[str, Any] | None:
        with self._lock:
            cached = self._users.get(key)
            if cached is None:
                return None
            if cached.until <= self._clock():
                del self._users[key]
                return None
            self._users.move_to_end(key)
            return cached.user

    def _keep(self, team: str, user: Mapping[str, Any], email: str = "") -> None:
        user_id = str(user.get("id") or "")
        if not user_id:
            return
        with self._lock:
            self._users[(team, user_id)] = _Cached(user, self._clock() + self._ttl)
            self._users.move_to_end((team, user_id))
            profile_email = str((user.get("profile") or {}).get("email") or "")
            for address in {email.casefold(), profile_email.casefold()} - {""}:
                self._emails[(team, address)] = user_id
            while len(self._users) > self._max:
                self._users.popitem(last=False)
            if len(self._emails) > 2 * self._max:  # addresses of users that left the cache
                self._emails = {k: v for k, v in self._emails.items() if (k[0], v) in self._users}

    def _call(self, method: str, call: Callable[[], Any], *, paced: bool = True) -> Mapping[str, Any]:
        budget = self._budgets[method]
        attempt = 0
        while True:
            wait = budget.reserve() if paced else 0.0
            if wait > 0:
                self._sleep(wait)
            try:
                response = call()
            except SlackApiError as error:
                attempt += 1
                if error.response.get("error") != "ratelimited" or attempt > self._retries:
                    raise
                retry_after = _retry_after(error.response.headers)
                log.info("Slack rate-limited %s for %g s", method, retry_after, extra={"action": method})
                budget.hold(retry_after)
                if not paced:
                    self._sleep(retry_after)
                continue
            user: Mapping[str, Any] = response.get("user") or {}
            return user


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except ValueError:
                break
    return 1.0
