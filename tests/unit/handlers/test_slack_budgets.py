"""Slack's budgets on their own, with a fake clock and fake timers (no sleeping, no network):
`MessageUpdates` sends at most one `chat.update` a second per message and always the last state;
`SlackUsers` asks about a person once per cache period, keeps a bounded number, and paces itself
under a method's tier."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from handlers.blocks.message import Message, message
from handlers.message_updates import MessageUpdates
from handlers.slack_directory import RateBudget, SlackUsers


class FakeTime:
    """A monotonic clock the test moves, timers that fire when it passes them, and recorded sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def schedule(self, delay: float, run: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, run))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while due := sorted((t for t in self.timers if t[0] <= self.now), key=lambda t: t[0]):
            self.timers.remove(due[0])
            due[0][1]()


def _response(data: dict[str, Any], headers: dict[str, Any] | None = None) -> SlackResponse:
    return SlackResponse(
        client=None,
        http_verb="POST",
        api_url="",
        req_args={},
        data=data,
        headers=headers or {},
        status_code=200,
    )


class FakeSlack:
    """The three Web API methods involved, recording when each was called (by the fake clock)."""

    token = "xoxb-fake"

    def __init__(self, time: FakeTime, *, users: int = 0) -> None:
        self.time = time
        self.updates: list[tuple[float, str, str]] = []
        self.lookups: list[tuple[float, str]] = []
        self.users = {f"U{i:04d}": f"person{i}@contoso.com" for i in range(users)}
        self.ratelimited = 0

    def chat_update(self, *, channel: str, ts: str, text: str, **_: Any) -> SlackResponse:
        self.updates.append((self.time.now, ts, text))
        return _response({"ok": True})

    def users_info(self, *, user: str) -> SlackResponse:
        return self._lookup(user, "users.info")

    def users_lookupByEmail(self, *, email: str) -> SlackResponse:
        user = next(u for u, e in self.users.items() if e == email)
        return self._lookup(user, "users.lookupByEmail")

    def _lookup(self, user: str, method: str) -> SlackResponse:
        self.lookups.append((self.time.now, method))
        if self.ratelimited:
            self.ratelimited -= 1
            raise SlackApiError(
                "ratelimited", _response({"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
            )
        if user not in self.users:
            raise SlackApiError("user_not_found", _response({"ok": False, "error": "user_not_found"}))
        return _response({"ok": True, "user": {"id": user, "profile": {"email": self.users[user]}}})


def _state(n: int) -> Message:
    return message(f"state {n}", [])


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


# chat.update


def test_updates_within_a_second_are_coalesced_into_one_with_the_last_state(time: FakeTime) -> None:
    slack = FakeSlack(time)
    updates = MessageUpdates(clock=time.monotonic, schedule=time.schedule)
    client = cast(WebClient, slack)
    for n in range(14):  # what one workflow checklist got within a second
        updates.update(client, "C1", "1.0", _state(n))
        time.advance(0.05)
    assert [text for _, _, text in slack.updates] == ["state 0"]
    time.advance(1.0)
    assert [text for _, _, text in slack.updates] == ["state 0", "state 13"], "the final state is sent"
    assert updates.pending() == 0
    assert time.timers == []


def test_no_message_is_updated_twice_within_a_second_and_each_ends_on_its_last_state(time: FakeTime) -> None:
    slack = FakeSlack(time)
    updates = MessageUpdates(clock=time.monotonic, schedule=time.schedule)
    client = cast(WebClient, slack)
    last: dict[str, str] = {}
    for step in range(200):
        ts = f"{step % 3}.0"
        updates.update(client, "C1", ts, _state(step))
        last[ts] = f"state {step}"
        time.advance(0.13)
    time.advance(5.0)
    for ts, final in last.items():
        sent = [(at, text) for at, t, text in slack.updates if t == ts]
        gaps = [b[0] - a[0] for a, b in pairwise(sent)]
        assert min(gaps) >= 1.0 - 1e-9, f"message {ts} updated {min(gaps):.2f} s after the previous update"
        assert sent[-1][1] == final, "the message ends on its last state"
    assert len(slack.updates) < 200 / 2


def test_an_update_after_the_interval_goes_at_once(time: FakeTime) -> None:
    slack = FakeSlack(time)
    updates = MessageUpdates(clock=time.monotonic, schedule=time.schedule)
    client = cast(WebClient, slack)
    assert updates.update(client, "C1", "1.0", _state(1)) is True
    time.advance(1.0)
    assert updates.update(client, "C1", "1.0", _state(2)) is True
    assert updates.update(client, "C2", "1.0", _state(3)) is True, "another message has its own second"
    assert len(slack.updates) == 3


def test_flush_sends_what_waits_when_the_process_stops(time: FakeTime) -> None:
    slack = FakeSlack(time)
    updates = MessageUpdates(clock=time.monotonic, schedule=time.schedule)
    client = cast(WebClient, slack)
    updates.update(client, "C1", "1.0", _state(1))
    updates.update(client, "C1", "1.0", _state(2))
    updates.flush()
    assert [text for _, _, text in slack.updates] == ["state 1", "state 2"]
    time.advance(2.0)
    assert len(slack.updates) == 2, "the timer finds nothing left to send"


# users.info and users.lookupByEmail


def test_a_person_is_looked_up_once_per_cache_period(time: FakeTime) -> None:
    slack = FakeSlack(time, users=3)
    users = SlackUsers(ttl_seconds=300, clock=time.monotonic, sleep=time.sleep)
    client = cast(WebClient, slack)
    assert users.info(client, "U0001")["user"]["id"] == "U0001"
    assert users.info(client, "U0001")["user"]["id"] == "U0001"
    assert users.by_email(client, "person1@contoso.com")["user"]["id"] == "U0001", "shared with users.info"
    assert len(slack.lookups) == 1
    time.advance(301)
    users.info(client, "U0001")
    assert len(slack.lookups) == 2, "a stale entry is asked again"
    with pytest.raises(SlackApiError):
        users.info(client, "U9999")
    with pytest.raises(SlackApiError):
        users.info(client, "U9999")
    assert len(slack.lookups) == 4, "a refusal is not cached"


def test_the_cache_keeps_at_most_max_users(time: FakeTime) -> None:
    slack = FakeSlack(time, users=10)
    users = SlackUsers(max_users=4, clock=time.monotonic, sleep=time.sleep)
    client = cast(WebClient, slack)
    for i in range(10):
        users.info(client, f"U{i:04d}")
    users.info(client, "U0009")
    assert len(slack.lookups) == 10
    users.info(client, "U0000")
    assert len(slack.lookups) == 11, "the oldest were let go"


def test_300_lookups_stay_within_tier_4(time: FakeTime) -> None:
    slack = FakeSlack(time, users=300)
    users = SlackUsers(clock=time.monotonic, sleep=time.sleep)
    client = cast(WebClient, slack)
    for user in slack.users:
        users.info(client, user)
    at = [t for t, _ in slack.lookups]
    assert len(at) == 300
    worst = max(sum(1 for t in at if start <= t < start + 60) for start in at)
    assert worst <= 100, f"{worst} users.info calls within a minute"
    assert sum(time.sleeps) == pytest.approx(120, abs=1)
    for user in slack.users:
        users.info(client, user)
    assert len(slack.lookups) == 300


def test_ratelimited_waits_out_retry_after_then_asks_again(time: FakeTime) -> None:
    slack = FakeSlack(time, users=2)
    slack.ratelimited = 1
    users = SlackUsers(clock=time.monotonic, sleep=time.sleep)
    assert users.info(cast(WebClient, slack), "U0000")["user"]["id"] == "U0000"
    assert time.sleeps == [30.0]
    slack.ratelimited = 5
    with pytest.raises(SlackApiError, match="ratelimited"):
        users.info(cast(WebClient, slack), "U0001")
    assert len(slack.lookups) == 2 + 4, "three retries after the first answer, then Slack's refusal"


def test_a_rate_budget_allows_its_calls_in_any_window(time: FakeTime) -> None:
    budget = RateBudget(2, 60, time.monotonic)
    assert [budget.reserve(), budget.reserve()] == [0, 0]
    assert budget.reserve() == pytest.approx(60.0)
    time.advance(30)
    assert budget.reserve() == pytest.approx(30.0)
    budget.hold(100)
    assert budget.reserve() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="at least one call"):
        RateBudget(0, 60, time.monotonic)
