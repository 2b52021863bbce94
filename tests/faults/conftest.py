"""Fixtures of the fault suites.

For Slack: the Slack suite's local workspace and demo tenant (`slack`, `tenant`); the app's waits on
Slack's `Retry-After`, recorded instead of slept (`slack_waits`); and the subscription workflows
wired to the app with a clock the test moves, approval and reminder channels of the test's choosing
(possibly ones that do not exist), and the scheduler the test ticks itself (`workflows_with`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk.http_retry import builtin_handlers

from bot.local_slack import LocalSlack
from bot.scheduler import WorkflowScheduler
from domain.application.subscriptions.workflows import SubscriptionWorkflows
from tests.fakes import FixedClock
from tests.slack.conftest import SlackBot, Tenant, serve, slack, tenant, wire_workflows  # noqa: F401 - shared fixtures


class RecordedWaits:
    """What slack_sdk's rate-limit retry handler would have slept, in seconds (it sleeps
    `Retry-After` plus up to a second of jitter), recorded instead of slept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: list[float] = []

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._seconds.append(seconds)

    @property
    def seconds(self) -> list[float]:
        with self._lock:
            return list(self._seconds)


class _TimeWithoutSleeping:
    def __init__(self, waits: RecordedWaits) -> None:
        self.sleep = waits.sleep


@pytest.fixture
def slack_waits(monkeypatch: pytest.MonkeyPatch) -> RecordedWaits:
    waits = RecordedWaits()
    monkeypatch.setattr(builtin_handlers, "time", _TimeWithoutSleeping(waits))
    return waits


@dataclass
class Workflows:
    """The app with the subscription workflows, on the simulated tenant, at a time the test sets."""

    bot: SlackBot
    tenant: Tenant
    clock: FixedClock
    subscriptions: SubscriptionWorkflows
    scheduler: WorkflowScheduler


WorkflowsFactory = Callable[..., AbstractContextManager[Workflows]]


@pytest.fixture
def workflows_with(slack: LocalSlack, tmp_path: Path) -> WorkflowsFactory:  # noqa: F811 - the fixture
    """`with workflows_with(approvals=…, reminders=…) as running:` the app and its scheduler, with
    approval requests and reminders sent to those channels (ids that may not exist)."""

    @contextmanager
    def start(*, approvals: str = "", reminders: str = "") -> Iterator[Workflows]:
        wired = wire_workflows(slack, tmp_path / "workflows.db", approvals=approvals, reminders=reminders)
        try:
            with serve(slack, wired.services) as bot:
                for name in ("bill", "beatrice"):
                    bot.people[name] = slack.add_user(name, email=f"{name}@contoso.com")
                bot.channel = slack.add_channel("subscriptions", members=list(bot.people.values()))
                scheduler = WorkflowScheduler(wired.subscriptions.ticks, wired.notifier, interval_seconds=60)
                yield Workflows(bot, wired.tenant, wired.clock, wired.subscriptions, scheduler)
        finally:
            wired.tenant.engine.dispose()

    return start
