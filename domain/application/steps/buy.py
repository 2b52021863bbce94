"""Buy the subscription, then recognize it in the directory once it is listed and active (R10, R19, R23).

The purchase's observation is shared by the steps that wait for a subscription to be bought: the
target subscription of a switch (`target`) and waiting until it is listed and active (`await_active`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.steps.kind import StepKind
from domain.application.steps.runners import STOP
from domain.audit import AuditResult
from domain.errors import DomainError
from domain.model import PaymentMethod, SubscriptionStatus
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
    admin_center,
    notes,
)
from domain.workflows.checks import active_subscriptions, not_listed_reasons, target_subscription
from domain.workflows.settings import business_days
from domain.workflows.tasks import AdminTask

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP", "buy", "observe_purchase"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    buy(engine, workflow_id, correlation_id, StepName.BUY)


def buy(engine: WorkflowEngine, workflow_id: str, correlation_id: str, name: StepName) -> None:
    """Order the product through commerce, with a reference that stays the same across retries."""
    workflow = engine.begin(workflow_id, name, correlation_id)
    if workflow is None:
        return
    try:
        result = engine.commerce.buy(
            engine.known(workflow.product),
            workflow.seats,
            workflow.payment_method,
            reference=f"{workflow.id}/{name.value}",
        )
    except DomainError as refusal:
        engine.fail(workflow_id, name, refusal, correlation_id)
        return
    snapshot = engine.read(workflow)

    def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        if isinstance(result, AdminTask):
            engine.wait_for_task(uow, workflow, name, result, now)
            # R10: the credit check counts from the request, not from whenever Mark done is pressed.
            workflow.ordered_at = now
            workflow.deadline = engine.deadline(workflow, now)
        else:
            workflow.subscription_id = result.subscription_id
            if uow.workflows.take_purchase(workflow.id, result.subscription_id):
                workflow.purchase_id = result.subscription_id
            workflow.ordered_at = now
            workflow.deadline = engine.deadline(workflow, now)
            workflow.complete(name, now, notes.ordered(workflow, result))
            engine.observe(uow, workflow, snapshot, now)
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"buy {workflow.seats} {workflow.product.part_number}",
            AuditResult.APPLIED,
            correlation_id=correlation_id,
            reason=notes.outcome(result),
        )

    engine.record(workflow_id, name, record)


def observe_purchase(
    workflow: Workflow,
    name: StepName,
    snapshot: DirectorySnapshot,
    now: datetime,
    *,
    seen: Observation,
    purchases: Purchases,
) -> bool:
    """The new subscription is listed and active (and the source still is, for a switch)."""
    source_ok = True
    if name is StepName.AWAIT_ACTIVE and workflow.source is not None:
        source_ok = bool(active_subscriptions(snapshot.subscriptions, workflow.source.sku_id))
    while True:
        found = target_subscription(
            workflow, snapshot.subscriptions, purchases.taken, rivals=purchases.rivals, now=now
        )
        active = found is not None and found.status is SubscriptionStatus.ENABLED
        recognized = found is not None and not workflow.subscription_id
        if not (active and source_ok and recognized and found is not None):
            break
        if found.id == workflow.purchase_id or purchases.take(found.id):
            workflow.purchase_id = found.id
            break
        purchases.taken.add(found.id)  # another workflow took it meanwhile: it is not ours
    if active and source_ok and found is not None:
        workflow.subscription_id = found.id
        shown = plural(found.total_licenses, "license")
        if workflow.source is not None and name is StepName.AWAIT_ACTIVE:
            note = (
                f"Both are listed and active: {workflow.source.display_name}, and "
                f"{workflow.product.display_name} ({shown})."
            )
        else:
            note = f"{workflow.product.display_name} is listed and active ({shown})."
        workflow.complete(name, now, note)
        return True
    step = workflow.step(name)
    seen.shown = notes.purchase_not_seen(workflow, found)
    overdue = workflow.deadline is not None and now >= workflow.deadline
    if overdue and workflow.escalated_at is None:
        workflow.escalated_at = now  # R10: from the deadline on, whether anyone pressed anything or not
        seen.escalated = True
    if found is not None and active:
        assert workflow.source is not None
        note = (
            f"{workflow.source.display_name} is no longer listed as active, and users only move between "
            "subscriptions that are both listed and active. Renew or reactivate it, or contact "
            f"support ({admin_center(workflow.cloud).support})."
        )
    elif found is not None and step.waiting_for is WaitFor.TASK:
        note = notes.purchase_waiting(workflow, found)
    else:
        note = not_listed_reasons(workflow, found)
    if overdue:
        unbought = ""
        if found is None and step.waiting_for is WaitFor.TASK:
            unbought = " If it was not bought yet, the admin-center task says how."
        note = _overdue(workflow) + unbought + " " + note
    if step.waiting_for is WaitFor.TASK:
        # Until the directory lists something (or the deadline passes) the task's note stays: the
        # checklist, or who marked it done; then the note says what the directory shows.
        if (found is not None or overdue) and note != step.note:
            workflow.wait(name, WaitFor.TASK, now, note, step.choices)
        return False
    workflow.wait(name, WaitFor.ACTIVATION, now, note, (Choice.ABORT,))
    return False


def _overdue(workflow: Workflow) -> str:
    support = admin_center(workflow.cloud).support
    if workflow.payment_method is PaymentMethod.INVOICE:
        days = business_days(workflow.credit_check_days)
        ended = f" on {workflow.credit_check_ends}" if workflow.deadline else ""
        return (
            f"Overdue: the credit check of up to {days} ended{ended}, and the subscription is still "
            f"not active. Contact support ({support}) with the order details."
        )
    since = f" on {workflow.deadline:%a %d %b %Y %H:%M} UTC" if workflow.deadline else ""
    return f"Overdue: it should have been active{since}. Contact support ({support})."


STEP = StepKind(StepName.BUY, run, observe=observe_purchase, choices={Choice.ABORT: STOP})
