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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry import builtin_handlers

from bot.clock import SystemClock
from bot.local_slack import LocalSlack
from bot.scheduler import WorkflowScheduler
from domain.catalog import ProductCatalog
from domain.services import Licensing
from domain.subscriptions import Subscriptions
from handlers.blocks.workflows import workflow_sections
from handlers.context import Services, WorkflowSections
from handlers.notifier import SlackNotifier
from storage.calendar import HolidayCalendar
from storage.database import create_engine, session_factory
from storage.migrate import ensure_schema
from storage.simulated import directory_factory, reset_demo_tenant
from storage.simulated.commerce import SimulatedCommerce
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock
from tests.slack.conftest import FAST, SlackBot, Tenant, serve


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        yield local


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    """The Contoso demo tenant in a SQLite file of its own (as the Slack suite has it)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'licensebot.db'}")
    ensure_schema(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        reset_demo_tenant(session, SystemClock())
    yield Tenant(engine, sessions, SqlUnitOfWorkFactory(sessions, directory_factory(SystemClock())))
    engine.dispose()


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
    subscriptions: Subscriptions
    scheduler: WorkflowScheduler


WorkflowsFactory = Callable[..., AbstractContextManager[Workflows]]


@pytest.fixture
def workflows_with(slack: LocalSlack, tmp_path: Path) -> WorkflowsFactory:
    """`with workflows_with(approvals=…, reminders=…) as running:` the app and its scheduler, with
    approval requests and reminders sent to those channels (ids that may not exist)."""

    @contextmanager
    def start(*, approvals: str = "", reminders: str = "") -> Iterator[Workflows]:
        clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
        engine = create_engine(f"sqlite:///{tmp_path / 'workflows.db'}")
        ensure_schema(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            reset_demo_tenant(session, clock)
        uow = SqlUnitOfWorkFactory(sessions, directory_factory(clock))
        licensing = Licensing(uow, clock, ProductCatalog())
        notifier = SlackNotifier(
            WebClient(token=slack.bot_token, base_url=slack.api_url),
            approvals_channel=approvals,
            reminder_channel=reminders,
        )
        commerce = SimulatedCommerce(
            sessions, clock, activation_delay=timedelta(minutes=2), credit_check_delay=timedelta(days=10)
        )
        subscriptions = Subscriptions(
            uow,
            clock,
            ProductCatalog(),
            licensing=licensing,
            commerce=commerce,
            calendar=HolidayCalendar(),
            notifier=notifier,
        )
        notifier.bind(subscriptions)

        def sections(requester: str) -> WorkflowSections:
            return workflow_sections(subscriptions.in_flight(requester), subscriptions.waiting_on(requester))

        services = Services(licensing=licensing, subscriptions=subscriptions, workflows=sections, timing=FAST)
        try:
            with serve(slack, services) as bot:
                for name in ("bill", "beatrice"):
                    bot.people[name] = slack.add_user(name, email=f"{name}@contoso.com")
                bot.channel = slack.add_channel("subscriptions", members=list(bot.people.values()))
                scheduler = WorkflowScheduler(subscriptions, notifier, interval_seconds=60)
                yield Workflows(bot, Tenant(engine, sessions, uow), clock, subscriptions, scheduler)
        finally:
            engine.dispose()

    return start
