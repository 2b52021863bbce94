"""The workflow aggregate: ordered steps, its state, choices, stopping, handing over, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import DomainError, IllegalTransition, StepNotOpen
from domain.workflows import (
    EVERYONE,
    STEPS,
    Choice,
    ProductRef,
    StepName,
    StepStatus,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
    fresh_steps,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E3 = ProductRef("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", "Office 365 E3")
E5 = ProductRef("c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM", "Office 365 E5")


def workflow(kind: WorkflowKind = WorkflowKind.SWITCH) -> Workflow:
    return Workflow(
        id="wf1",
        kind=kind,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=E5,
        steps=fresh_steps(kind),
        source=E3 if kind in {WorkflowKind.SWITCH, WorkflowKind.UPGRADE} else None,
        targets=(EVERYONE,),
        seats=3,
    )


def test_each_kind_follows_its_procedure() -> None:
    assert STEPS[WorkflowKind.SWITCH] == (
        StepName.DECIDE,
        StepName.TARGET,
        StepName.AWAIT_ACTIVE,
        StepName.CHECK_SEATS,
        StepName.PREVIEW,
        StepName.REASSIGN,
        StepName.OFFER_CLEANUP,
    )
    assert StepName.OFFER_ADDONS in STEPS[WorkflowKind.UPGRADE]
    assert STEPS[WorkflowKind.CANCEL] == (
        StepName.CONFIRM,
        StepName.APPROVAL,
        StepName.CANCEL,
        StepName.VERIFY,
    )
    assert STEPS[WorkflowKind.PURCHASE] == (StepName.BUY, StepName.AWAIT_ACTIVE)
    assert STEPS[WorkflowKind.SEATS] == (StepName.CHANGE_SEATS, StepName.AWAIT_SEATS)
    for kind in WorkflowKind:
        assert [s.status for s in fresh_steps(kind)] == [StepStatus.PENDING] * len(STEPS[kind])


def test_steps_run_in_order_and_the_state_follows_the_current_step() -> None:
    flow = workflow(WorkflowKind.PURCHASE)
    assert flow.current is not None
    assert flow.current.name is StepName.BUY
    with pytest.raises(IllegalTransition, match="current: buy"):
        flow.start(StepName.AWAIT_ACTIVE, NOW)

    flow.start(StepName.BUY, NOW)
    assert flow.state is WorkflowState.RUNNING
    flow.complete(StepName.BUY, NOW, "ordered")
    flow.wait(StepName.AWAIT_ACTIVE, WaitFor.ACTIVATION, NOW, "pending", (Choice.ABORT,))
    assert (flow.state, flow.waiting_for) == (WorkflowState.WAITING, WaitFor.ACTIVATION)
    flow.complete(StepName.AWAIT_ACTIVE, NOW + timedelta(minutes=3), "active")
    assert flow.state is WorkflowState.DONE
    assert flow.current is None
    with pytest.raises(IllegalTransition, match="cannot go from done"):
        flow.start(StepName.AWAIT_ACTIVE, NOW)


def test_a_failed_step_fails_the_workflow_and_stays_current() -> None:
    flow = workflow(WorkflowKind.SEATS)
    flow.start(StepName.CHANGE_SEATS, NOW)
    flow.claim("me", NOW, timedelta(minutes=5))
    flow.fail(StepName.CHANGE_SEATS, NOW, "refused (R2)")
    assert flow.state is WorkflowState.FAILED
    assert flow.current is not None
    assert flow.current.status is StepStatus.FAILED
    assert flow.lease_owner == ""


def test_a_choice_is_taken_once_and_only_when_offered() -> None:
    flow = workflow()
    flow.start(StepName.DECIDE, NOW)
    with pytest.raises(StepNotOpen, match="already running"):
        flow.choose(StepName.DECIDE, Choice.MANUAL)
    flow.wait(StepName.DECIDE, WaitFor.CONFIRMATION, NOW, "recommended", (Choice.MANUAL, Choice.ADMIN_CENTER))
    with pytest.raises(DomainError, match="not a choice"):
        flow.choose(StepName.DECIDE, Choice.BUY)
    assert flow.choose(StepName.DECIDE, Choice.MANUAL).name is StepName.DECIDE
    flow.complete(StepName.DECIDE, NOW, "manual")
    with pytest.raises(StepNotOpen, match="already done"):  # a double click
        flow.choose(StepName.DECIDE, Choice.MANUAL)
    with pytest.raises(StepNotOpen, match="already pending"):  # a button for a later step
        flow.choose(StepName.PREVIEW, Choice.CONFIRM)


def test_stopping_skips_what_is_left_and_says_why_where_it_stopped() -> None:
    flow = workflow()
    flow.start(StepName.DECIDE, NOW)
    flow.complete(StepName.DECIDE, NOW, "manual")
    flow.wait(StepName.TARGET, WaitFor.CONFIRMATION, NOW, "buy?", (Choice.BUY, Choice.ABORT))
    flow.cancel(NOW, "Stopped by bill.")
    assert flow.state is WorkflowState.CANCELLED
    assert flow.step(StepName.TARGET).note == "Stopped by bill."
    assert flow.step(StepName.TARGET).status is StepStatus.SKIPPED
    assert {s.status for s in flow.steps[2:]} == {StepStatus.SKIPPED}
    assert flow.notes == ["Stopped by bill."]
    with pytest.raises(StepNotOpen, match="already cancelled"):
        flow.cancel(NOW, "again")


def test_a_running_step_cannot_be_stopped_halfway() -> None:
    flow = workflow(WorkflowKind.PURCHASE)
    flow.start(StepName.BUY, NOW)
    with pytest.raises(IllegalTransition, match="running a step"):
        flow.cancel(NOW, "stop")


def test_handing_over_to_the_admin_center_ends_the_workflow_as_done() -> None:
    flow = workflow()
    flow.start(StepName.DECIDE, NOW)
    flow.wait(StepName.DECIDE, WaitFor.CONFIRMATION, NOW, "recommended", (Choice.MANUAL, Choice.ADMIN_CENTER))
    flow.hand_over(NOW, "admin center")
    assert flow.state is WorkflowState.DONE
    assert flow.step(StepName.DECIDE).status is StepStatus.DONE
    assert all(s.status is StepStatus.SKIPPED for s in flow.steps[1:])


def test_progress_is_reported_by_a_running_step_only() -> None:
    flow = workflow()
    flow.start(StepName.DECIDE, NOW)
    flow.progress(StepName.DECIDE, NOW, "half way")
    assert flow.step(StepName.DECIDE).note == "half way"
    flow.wait(StepName.DECIDE, WaitFor.CONFIRMATION, NOW, "?", (Choice.MANUAL,))
    with pytest.raises(IllegalTransition):
        flow.progress(StepName.DECIDE, NOW, "no")


def test_a_lease_is_held_until_it_expires_or_is_released() -> None:
    flow = workflow()
    ttl = timedelta(minutes=5)
    assert flow.claim("replica-a", NOW, ttl)
    assert not flow.claim("replica-b", NOW + timedelta(minutes=1), ttl)
    assert flow.claim("replica-a", NOW + timedelta(minutes=1), ttl), "the holder renews it"
    assert flow.lease_expires_at == NOW + timedelta(minutes=6)
    assert flow.claim("replica-b", NOW + timedelta(minutes=6), ttl), "expired: someone else takes it"
    flow.release()
    assert (flow.lease_owner, flow.lease_expires_at) == ("", None)


def test_the_summary_names_what_the_workflow_does() -> None:
    assert workflow().summary == "Switch everyone from Office 365 E3 to Office 365 E5"
    buy = workflow(WorkflowKind.PURCHASE)
    assert buy.summary == "Buy 3 × Office 365 E5"
    seats = workflow(WorkflowKind.SEATS)
    seats.seats = -2
    assert seats.summary == "Remove 2 Office 365 E5 licenses"
    assert E5.label == "Office 365 E5 (ENTERPRISEPREMIUM)"
