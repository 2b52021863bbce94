"""Renewal alerts (R22) through the real app and the scheduler: the alert in the reminders channel
once per threshold as the clock moves on, "Reduce to N at renewal" starting the seats workflow (for
a Global or Billing admin only), "Not now" answering it; both in place, without the buttons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.local_slack import LocalSlack, Message
from bot.scheduler import WorkflowScheduler
from handlers.ids import RENEWAL_NOT_NOW, RENEWAL_REDUCE
from tests.fakes import FixedClock
from tests.slack.conftest import SlackBot, Tenant, serve, text_of, wire_workflows

F3 = "DESKLESSPACK"


@dataclass
class Running:
    bot: SlackBot
    tenant: Tenant
    clock: FixedClock
    scheduler: WorkflowScheduler
    reminders: str

    def alerts(self) -> list[Message]:
        return [m for m in self.bot.slack.messages(self.reminders) if "renews on" in text_of(m)]

    def reply_to(self, who: str, containing: str) -> str:
        """What only `who` saw in the reminders channel, once it holds `containing`."""

        def found() -> str | None:
            for message in self.bot.slack.ephemerals(self.bot.people[who], channel=self.reminders):
                if containing in text_of(message):
                    return text_of(message)
            return None

        return self.bot.slack.wait_for(found, description=f"a reply to {who} with {containing!r}")


@pytest.fixture
def running(slack: LocalSlack, tmp_path: Path) -> Iterator[Running]:
    reminders = slack.add_channel("license-reminders")
    wired = wire_workflows(slack, tmp_path / "licensebot.db", approvals="", reminders=reminders)
    with serve(slack, wired.services) as bot:
        bot.people["bill"] = slack.add_user("bill", email="bill@contoso.com")
        slack.add_channel("x", members=list(bot.people.values()), channel_id=reminders)
        scheduler = WorkflowScheduler(wired.subscriptions.ticks, wired.notifier, interval_seconds=60)
        yield Running(bot, wired.tenant, wired.clock, scheduler, reminders)
    wired.tenant.engine.dispose()


def test_the_alert_comes_once_per_threshold_as_the_clock_moves_on(running: Running) -> None:
    running.scheduler.run_once()
    running.scheduler.run_once()

    (alert,) = running.alerts()
    shown = text_of(alert)
    assert "Office 365 F3 renews on 12 Mar with 3 of 5 licenses unused." in shown
    assert "It renews in 10 days." in shown
    assert "[1] Reduce to 2 at renewal (primary)  [2] Not now" in shown
    assert "R22" not in shown

    running.clock.advance(timedelta(days=8))
    running.scheduler.run_once()
    running.clock.advance(timedelta(minutes=5))
    running.scheduler.run_once()

    assert [text_of(m).count("It renews in 2 days") for m in running.alerts()] == [0, 1]


def test_reduce_starts_the_seats_workflow_once_and_answers_the_alert(running: Running) -> None:
    running.scheduler.run_once()
    (alert,) = running.alerts()
    bot = running.bot

    assert bot.press_on("lena", alert, RENEWAL_REDUCE) == 200  # a License admin may not
    refusal = running.reply_to("lena", "may not")
    assert "may not buy, cancel, add or remove seats" in refusal
    assert bot.press_on("bill", alert, RENEWAL_REDUCE) == 200
    assert bot.press_on("bill", alert, RENEWAL_REDUCE) == 200  # a double click

    answered = bot.slack.wait_for(
        lambda: next((m for m in running.alerts() if "Reducing to 2 licenses" in text_of(m)), None),
        description="the alert answered",
    )
    assert "started by bill@contoso.com" in text_of(answered)
    assert "Reduce to 2" not in text_of(answered), "no buttons once answered"
    running.reply_to("bill", "answered this renewal alert already")
    running.scheduler.run_once()
    subscriptions = {s.part_number: s for s in running.tenant.directory.subscriptions()}
    assert subscriptions[F3].total_licenses == 2


def test_not_now_answers_the_alert_and_changes_nothing(running: Running) -> None:
    running.scheduler.run_once()
    (alert,) = running.alerts()

    assert running.bot.press_on("lena", alert, RENEWAL_NOT_NOW) == 200

    answered = running.bot.slack.wait_for(
        lambda: next((m for m in running.alerts() if "Not now" in text_of(m) and "lena" in text_of(m)), None),
        description="the alert answered",
    )
    assert "the next alert comes nearer the renewal" in text_of(answered)
    subscriptions = {s.part_number: s for s in running.tenant.directory.subscriptions()}
    assert subscriptions[F3].total_licenses == 5
