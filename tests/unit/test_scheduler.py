"""The APScheduler job: ticks at once and then every interval, survives a failing tick, resumes
crashed steps when alone, and sends the reminders the service makes due."""

from __future__ import annotations

import threading
from typing import Any, cast

from bot.scheduler import WorkflowScheduler
from domain.subscriptions import Subscriptions, TickReport


class _Subscriptions:
    def __init__(self, fail_first: bool = False) -> None:
        self.ticks = 0
        self.resumed = 0
        self._fail_first = fail_first
        self.ticked = threading.Condition()

    def tick(self) -> TickReport:
        with self.ticked:
            self.ticks += 1
            self.ticked.notify_all()
            if self._fail_first and self.ticks == 1:
                raise RuntimeError("the directory did not answer")
        return TickReport(polled=0, advanced=(), expired_approvals=(), resumed=())

    def due_reminders(self) -> list[Any]:
        return ["approvals waiting"]

    def resume(self, *, force: bool = False) -> list[str]:
        self.resumed += 1
        return []

    def finish_changes(self, *, force: bool = False) -> list[str]:
        return []

    def stop(self) -> None:
        self.stopped = True

    def release_leases(self) -> int:
        self.released = True
        return 0


class _Notifier:
    def __init__(self) -> None:
        self.reminders: list[Any] = []

    def reminder(self, reminder: Any) -> None:
        self.reminders.append(reminder)


def _wait_for_ticks(subscriptions: _Subscriptions, count: int) -> bool:
    with subscriptions.ticked:
        return subscriptions.ticked.wait_for(lambda: subscriptions.ticks >= count, timeout=10)


def test_ticks_at_once_then_every_interval_and_survives_a_failing_tick() -> None:
    subscriptions, notifier = _Subscriptions(fail_first=True), _Notifier()
    scheduler = WorkflowScheduler(
        cast(Subscriptions, subscriptions), cast(Any, notifier), interval_seconds=0.05, alone=True
    )
    scheduler.start()
    try:
        assert _wait_for_ticks(subscriptions, 3), "the job kept running after a failed tick"
    finally:
        scheduler.shutdown()
    assert subscriptions.resumed == 1, "alone with its database, it resumes crashed steps first"
    assert notifier.reminders, "reminders of the successful ticks were sent"


def test_run_once_sends_every_due_reminder() -> None:
    subscriptions, notifier = _Subscriptions(), _Notifier()
    scheduler = WorkflowScheduler(
        cast(Subscriptions, subscriptions), cast(Any, notifier), interval_seconds=60
    )
    scheduler.run_once()
    assert notifier.reminders == ["approvals waiting"]
    assert subscriptions.resumed == 0
