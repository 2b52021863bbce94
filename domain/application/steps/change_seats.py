"""Change the number of licenses of a subscription (R2), then see the new number in the directory.

The seat change is shared with `check_seats` (buying the missing licenses); the observation with
`await_seats`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.steps.kind import StepKind
from domain.application.steps.runners import STOP, find
from domain.audit import AuditResult
from domain.errors import DomainError, SubscriptionNotActive
from domain.ports import UnitOfWork
from domain.wording import plural
from domain.workflows import (
    Choice,
    DirectorySnapshot,
    Observation,
    Purchases,
    StepName,
    WaitFor,
    Workflow,
    notes,
)
from domain.workflows.tasks import AdminTask

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP", "change_seats", "observe_seats"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    change_seats(engine, workflow_id, correlation_id, StepName.CHANGE_SEATS)


def change_seats(engine: WorkflowEngine, workflow_id: str, correlation_id: str, name: StepName) -> None:
    """Set `subscription_id` to `expected_total` licenses, both fixed before the step ran."""
    workflow = engine.begin(workflow_id, name, correlation_id)
    if workflow is None:
        return
    subscription = find(engine.directory.subscriptions(), workflow.subscription_id)
    try:
        if subscription is None:
            raise SubscriptionNotActive(workflow.product.display_name, "not listed")
        reference = f"{workflow.id}/{name.value}/{workflow.expected_total}"
        result = engine.commerce.change_seats(subscription, workflow.expected_total, reference=reference)
    except DomainError as refusal:
        engine.fail(workflow_id, name, refusal, correlation_id)
        return
    before = subscription.total_licenses
    snapshot = engine.read(workflow)

    def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        if isinstance(result, AdminTask):
            engine.wait_for_task(uow, workflow, name, result, now)
        elif name is StepName.CHECK_SEATS:
            ordered = notes.seats_ordered(workflow, before, result)
            workflow.wait(name, WaitFor.SEATS, now, ordered, (Choice.ABORT,))
            engine.observe(uow, workflow, snapshot, now)
        else:
            workflow.complete(name, now, notes.seats_set(result, before))
            engine.observe(uow, workflow, snapshot, now)
        action = f"set {workflow.product.part_number} licenses to {workflow.expected_total}"
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            action,
            AuditResult.APPLIED,
            correlation_id=correlation_id,
            reason=notes.outcome(result),
        )

    engine.record(workflow_id, name, record)


def observe_seats(
    workflow: Workflow,
    name: StepName,
    snapshot: DirectorySnapshot,
    now: datetime,
    *,
    seen: Observation,  # noqa: ARG001 - every step kind observes with the same signature
    purchases: Purchases,  # noqa: ARG001
) -> bool:
    """The subscription shows the number of licenses the change set out to reach."""
    found = snapshot.subscription(workflow.subscription_id)
    if found is not None and found.total_licenses == workflow.expected_total:
        workflow.complete(
            name,
            now,
            f"The subscription shows {plural(found.total_licenses, 'license')} ({found.status.label}).",
        )
        return True
    if workflow.step(name).waiting_for is WaitFor.TASK:
        return False
    shows = f"it shows {found.total_licenses}" if found is not None else "it is not listed"
    wanted = plural(workflow.expected_total, "license")
    note = f"Waiting for the {workflow.product.display_name} subscription to show {wanted} ({shows})."
    workflow.wait(name, WaitFor.SEATS, now, note, (Choice.ABORT,))
    return False


STEP = StepKind(StepName.CHANGE_SEATS, run, observe=observe_seats, choices={Choice.ABORT: STOP})
