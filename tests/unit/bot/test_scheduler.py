"""The APScheduler job: ticks at once and then every interval, survives a failing tick, starts
without waiting for its first tick (which resumes what a restart found unfinished), stops it after
its batch, and sends the reminders the service makes due."""

from __future__ import annotations

import threading
from typing import Any, cast

from bot.scheduler import WorkflowScheduler
from domain.application.subscriptions.tick import TickReport, WorkflowTicks


class _Subscriptions:
    def __init__(self, fail_first: bool = False, first_tick_until_stopped: bool = False) -> None:
        self.ticks = 0
        self.resumed = 0
        self._fail_first = fail_first
        self._first_until_stopped = first_tick_until_stopped
        self._stopping = threading.Event()
        self.ticked = threading.Condition()

    def tick(self) -> TickReport:
        with self.ticked:
            self.ticks += 1
            self.ticked.notify_all()
            if self._fail_first and self.ticks == 1:
                raise RuntimeError("the directory did not answer")
        if self._first_until_stopped and self.ticks == 1:
            # A long resume after a restart: it ends only when the process stops (after its batch).
            assert self._stopping.wait(timeout=10), "the scheduler was never stopped"
        return TickReport(polled=0, advanced=(), expired_approvals=(), resumed=())

    def due_reminders(self) -> list[Any]:
        return ["approvals waiting"]

    def resume(self, *, force: bool = False) -> list[str]:
        self.resumed += 1
        return []

    def finish_changes(self, *, force: bool = False) -> list[str]:
        return []

    def stop(self) -> None:
        self._stopping.set()

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
        cast(WorkflowTicks, subscriptions), cast(Any, notifier), interval_seconds=0.05
    )
    scheduler.start()
    try:
        assert _wait_for_ticks(subscriptions, 3), "the job kept running after a failed tick"
    finally:
        scheduler.shutdown()
    assert notifier.reminders, "reminders of the successful ticks were sent"


def test_start_returns_while_the_first_tick_resumes_and_shutdown_stops_it_and_gives_leases_back() -> None:
    subscriptions = _Subscriptions(first_tick_until_stopped=True)
    scheduler = WorkflowScheduler(
        cast(WorkflowTicks, subscriptions), cast(Any, _Notifier()), interval_seconds=60
    )

    scheduler.start()  # returns although the first tick (the resume) does not end by itself

    assert _wait_for_ticks(subscriptions, 1), "the first tick runs at once, on the scheduler's thread"
    scheduler.shutdown()
    assert subscriptions.released, "the leases went back once the tick had stopped"


def test_run_once_sends_every_due_reminder() -> None:
    subscriptions, notifier = _Subscriptions(), _Notifier()
    scheduler = WorkflowScheduler(
        cast(WorkflowTicks, subscriptions), cast(Any, notifier), interval_seconds=60
    )
    scheduler.run_once()
    assert notifier.reminders == ["approvals waiting"]
    assert subscriptions.resumed == 0
