"""Slack's budgets through the real Bolt app, with signed requests against the local fake Slack:
people are looked up once per cache period across commands, paced under users.info's tier, and a
workflow's checklist is updated at most once a second (by an injected clock), ending on its final
state. Time is a fake the test moves; nothing sleeps."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.local_slack import LocalSlack, Message
from handlers.blocks.message import Message as Shown
from handlers.context import Services
from handlers.message_updates import MessageUpdates
from handlers.slack_directory import SlackUsers
from tests.slack.conftest import FAST, SlackBot, Tenant, licenses_on, serve, text_of, wire_workflows

T = TypeVar("T")
MEMBERS = 300


class FakeTime:
    """A monotonic clock only the test moves (thread-safe), the timers it fires, the sleeps asked of
    it; and, per thread, the last time read, which is when a `chat.update` took its slot."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._read = threading.local()

    def monotonic(self) -> float:
        with self._lock:
            self._read.value = self.now
            return self.now

    def last_read(self) -> float:
        value: float = self._read.value
        return value

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def schedule(self, delay: float, run: Callable[[], None]) -> None:
        with self._lock:
            self._timers.append((self.now + delay, run))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            due = sorted((t for t in self._timers if t[0] <= self.now), key=lambda t: t[0])
            for timer in due:
                self._timers.remove(timer)
        for _, run in due:
            run()


class StampedClient(WebClient):
    """The notifier's Web API client, stamping each `chat.update` with the fake time of its slot."""

    def __init__(self, fake: FakeTime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fake = fake
        self.stamped: list[tuple[float, str]] = []

    def chat_update(self, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        self.stamped.append((self.fake.last_read(), str(kwargs["ts"])))
        return super().chat_update(**kwargs)


class CountedUpdates(MessageUpdates):
    """How many updates each message was asked for, and the last one asked."""

    def __init__(self, fake: FakeTime) -> None:
        super().__init__(clock=fake.monotonic, schedule=fake.schedule)
        self.asked: Counter[str] = Counter()
        self.last: dict[str, str] = {}

    def update(self, client: WebClient, channel: str, ts: str, message: Shown) -> bool:
        self.asked[ts] += 1
        self.last[ts] = message.text
        return super().update(client, channel, ts, message)


def poll(check: Callable[[], T | None], what: str, *, then: Callable[[], None] = lambda: None) -> T:
    """Poll with a deadline (real time), doing `then` (moving the fake clock) between two looks."""
    deadline = time.monotonic() + 15
    while (found := check()) is None:
        assert time.monotonic() < deadline, f"no {what} within 15 s"
        then()
        threading.Event().wait(0.01)
    return found


def _info_calls(slack: LocalSlack, members: set[str]) -> Counter[str]:
    return Counter(
        str(c.params["user"]) for c in slack.calls("users.info") if c.params.get("user") in members
    )


def _answered(bot: SlackBot, count: int) -> None:
    """The command's answer: a reply to lena, or the preview posted in the channel."""
    poll(lambda: True if len(bot.replies("lena")) + len(bot.posted()) >= count else None, f"answer {count}")


def test_a_300_person_user_group_is_looked_up_once_paced_then_from_the_cache(
    slack: LocalSlack, tenant: Tenant
) -> None:
    fake = FakeTime()
    users = SlackUsers(clock=fake.monotonic, sleep=fake.sleep)
    services = Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST, slack_users=users)
    with serve(slack, services) as bot:
        members = {slack.add_user(f"member{i}", email=f"member{i}@contoso.com") for i in range(MEMBERS)}
        group = slack.add_usergroup("everyone", sorted(members))
        command = f"assign <!subteam^{group}|@everyone> E5"

        assert bot.command("lena", command) == 200
        _answered(bot, 1)
        first = _info_calls(slack, members)
        assert sum(first.values()) == MEMBERS, "each member once"
        assert max(first.values()) == 1
        assert sum(fake.sleeps) >= 120, "301 users.info calls at 100 a minute take at least two minutes"

        fake.advance(60)  # a minute later: within the cache period
        assert bot.command("lena", command) == 200
        _answered(bot, 2)
        assert _info_calls(slack, members) == first, "the repeat asks Slack about nobody again"

        fake.advance(300)  # past the cache period: asked again, once each
        assert bot.command("lena", command) == 200
        _answered(bot, 3)
        assert sum(_info_calls(slack, members).values()) == 2 * MEMBERS


def test_a_workflow_checklist_is_updated_at_most_once_a_second_and_ends_on_its_final_state(
    slack: LocalSlack, tmp_path: Path
) -> None:
    fake = FakeTime()
    updates = CountedUpdates(fake)
    approvals, reminders = slack.add_channel("license-approvals"), slack.add_channel("license-reminders")
    wired = wire_workflows(
        slack, tmp_path / "licensebot.db", approvals=approvals, reminders=reminders, updates=updates
    )
    client = StampedClient(fake, token=slack.bot_token, base_url=slack.api_url)
    wired.notifier.connect(client)
    with serve(slack, wired.services) as bot:
        bot.people["bill"] = slack.add_user("bill", email="bill@contoso.com")
        bot.channel = slack.add_channel("subscriptions", members=list(bot.people.values()))
        movers = " ".join(bot.mention(m) for m in ("alice", "bob", "carol"))
        assert bot.command("bill", f"switch E3 E5 {movers}", "/subscription") == 200
        checklist = bot.wait_posted("Switch 3 users from Office 365 E3 to Office 365 E5")

        def showing(containing: str) -> Message:
            def found() -> Message | None:
                now = slack.message(checklist.channel, checklist.ts)
                return now if now is not None and containing in text_of(now) else None

            return poll(found, f"the checklist showing {containing!r}", then=lambda: fake.advance(0.25))

        confirmable = showing("Preview and confirm · waiting for confirmation")
        assert bot.press_on("bill", confirmable, "workflow.choice.confirm") == 200
        showing("Remove the unused licenses")
        bot.finish()
    fake.advance(5)  # whatever still waits goes out
    wired.tenant.engine.dispose()

    stamps = sorted(at for at, ts in client.stamped if ts == checklist.ts)
    gaps = [later - earlier for earlier, later in pairwise(stamps)]
    assert gaps, "the checklist was updated"
    assert min(gaps) >= 1.0, f"two updates of the checklist {min(gaps):.2f} s apart"
    # How many were merged depends on how fast the workflow ran against the polling above (the unit
    # tests of `MessageUpdates` prove the merging itself): never more sent than asked.
    assert updates.asked[checklist.ts] >= len(stamps)
    final = slack.message(checklist.channel, checklist.ts)
    assert final is not None
    assert final.text == updates.last[checklist.ts], "the checklist ends on the last state asked"
    assert updates.pending() == 0
