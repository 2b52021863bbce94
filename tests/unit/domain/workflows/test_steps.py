"""A workflow step moves one way (STYLE.md habit 5): every transition, allowed or refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import IllegalTransition
from domain.workflows import Choice, Step, StepName, StepStatus, WaitFor

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

ALLOWED = {
    (StepStatus.PENDING, StepStatus.RUNNING),
    (StepStatus.PENDING, StepStatus.WAITING),
    (StepStatus.PENDING, StepStatus.DONE),
    (StepStatus.PENDING, StepStatus.SKIPPED),
    (StepStatus.RUNNING, StepStatus.WAITING),
    (StepStatus.RUNNING, StepStatus.DONE),
    (StepStatus.RUNNING, StepStatus.FAILED),
    (StepStatus.RUNNING, StepStatus.SKIPPED),
    (StepStatus.WAITING, StepStatus.WAITING),
    (StepStatus.WAITING, StepStatus.RUNNING),
    (StepStatus.WAITING, StepStatus.DONE),
    (StepStatus.WAITING, StepStatus.FAILED),
    (StepStatus.WAITING, StepStatus.SKIPPED),
}


def step_in(status: StepStatus) -> Step:
    waiting = WaitFor.CONFIRMATION if status is StepStatus.WAITING else None
    return Step(StepName.PREVIEW, status, waiting_for=waiting, since=NOW)


@pytest.mark.parametrize("source", list(StepStatus))
@pytest.mark.parametrize("target", list(StepStatus))
def test_every_transition_is_allowed_or_refused(source: StepStatus, target: StepStatus) -> None:
    step = step_in(source)
    if (source, target) in ALLOWED:
        step.move(target, NOW + timedelta(minutes=1), waiting_for=WaitFor.SEATS, note="moved")
        assert step.status is target
        assert step.note == "moved"
    else:
        with pytest.raises(IllegalTransition, match=f"cannot go from {source.value} to {target.value}"):
            step.move(target, NOW, waiting_for=WaitFor.SEATS)
        assert step.status is source


def test_running_again_is_only_a_resume_and_counts_the_attempt() -> None:
    step = step_in(StepStatus.PENDING)
    step.move(StepStatus.RUNNING, NOW)
    assert step.attempts == 1
    with pytest.raises(IllegalTransition):
        step.move(StepStatus.RUNNING, NOW)
    step.move(StepStatus.RUNNING, NOW + timedelta(minutes=5), resume=True)
    assert step.attempts == 2
    assert step.since == NOW + timedelta(minutes=5)


def test_a_step_waits_for_something_with_its_choices_and_since_when() -> None:
    step = step_in(StepStatus.PENDING)
    with pytest.raises(IllegalTransition, match="waiting for nothing"):
        step.move(StepStatus.WAITING, NOW)
    step.move(StepStatus.WAITING, NOW, waiting_for=WaitFor.SEATS, choices=(Choice.BUY_SEATS, Choice.ABORT))
    assert (step.waiting_for, step.since, step.choices) == (
        WaitFor.SEATS,
        NOW,
        (Choice.BUY_SEATS, Choice.ABORT),
    )

    later = NOW + timedelta(hours=1)
    step.move(StepStatus.WAITING, later, waiting_for=WaitFor.SEATS, note="still short")
    assert step.since == NOW, "waiting longer for the same thing keeps the time it began"
    step.move(StepStatus.WAITING, later, waiting_for=WaitFor.TASK)
    assert step.since == later, "waiting for something else starts again"

    step.move(StepStatus.DONE, later, note="enough")
    assert (step.waiting_for, step.choices) == (None, ())


def test_statuses_know_whether_they_are_final_and_passed() -> None:
    assert {s for s in StepStatus if s.final} == {StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED}
    assert {s for s in StepStatus if s.passed} == {StepStatus.DONE, StepStatus.SKIPPED}
    assert {w for w in WaitFor if w.polled} == {
        WaitFor.ACTIVATION,
        WaitFor.SEATS,
        WaitFor.TASK,
        WaitFor.CANCELLATION,
    }


def test_every_step_and_choice_has_a_label_for_the_slack_side() -> None:
    assert all(name.label for name in StepName)
    assert all(choice.label for choice in Choice)
    assert Choice.CONFIRM.destructive
    assert not Choice.SKIP.destructive
