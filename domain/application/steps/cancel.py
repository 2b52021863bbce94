"""Cancel the subscription (R13), once approved; then see it no longer active (shared with `verify`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.steps.kind import StepKind
from domain.application.steps.runners import STOP, find
from domain.audit import AuditResult
from domain.errors import DomainError
from domain.model import SubscriptionStatus
from domain.ports import UnitOfWork
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
from domain.workflows.tasks import AdminTask, Receipt

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP", "observe_cancelled"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    workflow = engine.begin(workflow_id, StepName.CANCEL, correlation_id)
    if workflow is None:
        return
    subscription = find(engine.directory.subscriptions(), workflow.subscription_id)
    with engine.uow() as uow:
        approval = uow.approvals.get(workflow.approval_id) if workflow.approval_id else None
    result: Receipt | AdminTask | None = None
    if subscription is not None and subscription.status.is_active:
        try:
            result = engine.commerce.cancel(subscription, reference=f"{workflow.id}/cancel")
        except DomainError as refusal:
            engine.fail(workflow_id, StepName.CANCEL, refusal, correlation_id)
            return
    snapshot = engine.read(workflow)

    def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        if isinstance(result, AdminTask):
            engine.wait_for_task(uow, workflow, StepName.CANCEL, result, now)
        else:
            workflow.complete(StepName.CANCEL, now, notes.cancelled(workflow, result))
            engine.observe(uow, workflow, snapshot, now)
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"cancel subscription {workflow.subscription_id}",
            AuditResult.APPLIED,
            correlation_id=correlation_id,
            approver=approval.decided_by if approval else "",
            reason=notes.outcome(result),
        )

    engine.record(workflow_id, StepName.CANCEL, record)


def observe_cancelled(
    workflow: Workflow,
    name: StepName,
    snapshot: DirectorySnapshot,
    now: datetime,
    *,
    seen: Observation,  # noqa: ARG001 - every step kind observes with the same signature
    purchases: Purchases,  # noqa: ARG001
) -> bool:
    """The subscription is no longer listed as active."""
    found = snapshot.subscription(workflow.subscription_id)
    if found is None or found.status is not SubscriptionStatus.ENABLED:
        status = found.status.label if found is not None else "no longer listed"
        workflow.complete(
            name, now, f"The {workflow.product.display_name} subscription is no longer active: {status}."
        )
        return True
    if workflow.step(name).waiting_for is WaitFor.TASK:
        return False
    workflow.wait(
        name,
        WaitFor.CANCELLATION,
        now,
        f"The {workflow.product.display_name} subscription is still listed as active; checked again at "
        "every poll.",
    )
    return False


STEP = StepKind(StepName.CANCEL, run, observe=observe_cancelled, choices={Choice.ABORT: STOP})
