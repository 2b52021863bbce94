"""APPROVAL_REMINDER_HOURS, TASK_REMINDER_HOURS and DIGEST_TIME_UTC reach the workflows through the
composition root (bootstrap), with an injected clock; bad values stop the start with a clear line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import Container, bootstrap
from bot.cli import main
from bot.settings import Settings
from domain.commands import CancelSubscription, DecideStep
from domain.workflows import Choice, ReminderKind, StepName
from tests.fakes import FixedClock

BILL = "bill@contoso.com"
MONDAY_6AM = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_6AM)


@pytest.fixture
def container(tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'reminders.db'}",
        approval_reminder_hours=2,
        task_reminder_hours=6,
        digest_time_utc="07:30",  # type: ignore[arg-type]  # as the environment gives it
    )
    built = bootstrap(settings, clock=clock)
    yield built
    built.engine.dispose()


def _due(container: Container) -> list[ReminderKind]:
    return [reminder.kind for reminder in container.subscriptions.ticks.due_reminders()]


def test_the_digest_goes_out_from_digest_time_utc_once_a_day(container: Container, clock: FixedClock) -> None:
    container.subscriptions.starts.request_cancel(CancelSubscription(BILL, "E4"))
    assert _due(container) == []
    clock.set(MONDAY_6AM + timedelta(hours=1, minutes=29))
    assert _due(container) == []
    clock.advance(timedelta(minutes=1))
    assert _due(container) == [ReminderKind.DIGEST]
    clock.advance(timedelta(minutes=30))
    assert _due(container) == []
    clock.set(MONDAY_6AM + timedelta(days=1, hours=1, minutes=30))
    assert ReminderKind.DIGEST in _due(container)


def test_decisions_and_approvals_are_reminded_at_their_own_periods(
    container: Container, clock: FixedClock
) -> None:
    subscriptions = container.subscriptions
    status = subscriptions.starts.request_cancel(CancelSubscription(BILL, "E4"))
    clock.set(MONDAY_6AM + timedelta(hours=5, minutes=59))
    assert ReminderKind.CONFIRMATION_WAITING not in _due(container)
    clock.advance(timedelta(minutes=1))
    assert ReminderKind.CONFIRMATION_WAITING in _due(container), "TASK_REMINDER_HOURS=6"

    subscriptions.decisions.decide(
        DecideStep(BILL, status.workflow.id, StepName.CONFIRM.value, Choice.CONFIRM.value)
    )
    clock.advance(timedelta(hours=1, minutes=59))
    assert ReminderKind.APPROVAL_WAITING not in _due(container)
    clock.advance(timedelta(minutes=1))
    assert _due(container) == [ReminderKind.APPROVAL_WAITING], "APPROVAL_REMINDER_HOURS=2"
    clock.advance(timedelta(hours=2))
    assert _due(container) == [ReminderKind.APPROVAL_WAITING]


@pytest.mark.parametrize(
    "bad",
    [
        ("DIGEST_TIME_UTC", "9am", "DIGEST_TIME_UTC: write a time of day as HH:MM on a 24-hour clock in UTC"),
        ("DIGEST_TIME_UTC", "24:00", "e.g. 09:00, not '24:00'"),
        ("APPROVAL_REMINDER_HOURS", "0", "APPROVAL_REMINDER_HOURS: Input should be greater than 0"),
        ("TASK_REMINDER_HOURS", "daily", "TASK_REMINDER_HOURS: Input should be a valid number"),
        ("APPROVAL_REMINDER_HOURS", "24", "an approval would expire before its first reminder"),
    ],
)
def test_a_bad_value_is_a_configuration_error_naming_the_variable(
    bad: tuple[str, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    variable, value, said = bad
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bad.db'}")
    monkeypatch.setenv(variable, value)
    assert main(["db", "current"]) == 2
    err = capsys.readouterr().err
    assert "licensebot: the configuration is not valid:" in err
    assert said in err
