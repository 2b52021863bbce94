"""Enough licenses for every user (R2): polled; the requester may choose to buy the missing ones."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.steps.change_seats import change_seats
from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.runners import STOP, run_poll
from domain.application.subscriptions.builders import Tenant
from domain.errors import SubscriptionNotActive
from domain.ports import TenantDirectory
from domain.workflows import (
    Choice,
    DirectorySnapshot,
    Observation,
    Purchases,
    StepName,
    StepStatus,
    WaitFor,
    Workflow,
    WorkflowKind,
)
from domain.workflows.checks import active_subscriptions, seats_wanted

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """Checked against the directory; running, it buys the missing licenses the requester chose."""
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id)
    if workflow.step(StepName.CHECK_SEATS).status is StepStatus.RUNNING:
        change_seats(engine, workflow_id, correlation_id, StepName.CHECK_SEATS)
    else:
        run_poll(engine, workflow_id, correlation_id)


def observe(
    workflow: Workflow,
    name: StepName,  # noqa: ARG001 - every step kind observes with the same signature
    snapshot: DirectorySnapshot,
    now: datetime,
    *,
    seen: Observation,  # noqa: ARG001
    purchases: Purchases,  # noqa: ARG001
) -> bool:
    if snapshot.products is None:
        return False
    target = snapshot.product(workflow.product.sku_id)
    source = snapshot.product(workflow.source.sku_id) if workflow.source else None
    wanted = seats_wanted(workflow, source)
    free = target.seats.available if target else 0
    part = workflow.product.display_name
    if free >= wanted:
        extra = ""
        if workflow.kind is WorkflowKind.UPGRADE and workflow.seats > workflow.users_to_move:
            extra = f"; at least as many as {workflow.source.display_name if workflow.source else 'E4'} had"
        workflow.complete(
            StepName.CHECK_SEATS, now, f"Enough {part} licenses: need {wanted}, {free} free{extra}."
        )
        return True
    missing = wanted - free
    step = workflow.step(StepName.CHECK_SEATS)
    shortage = f"Not enough {part} licenses: need {wanted}, {free} free: buy {missing} more."
    if step.waiting_for is WaitFor.TASK:
        return False  # an admin task asks for the missing licenses: its checklist stays the note
    if step.status is StepStatus.WAITING and Choice.BUY_SEATS not in step.choices:
        # The missing licenses were ordered: keep waiting for them to show.
        note = f"Waiting for the {part} licenses ordered to show: need {wanted}, {free} free."
        workflow.wait(StepName.CHECK_SEATS, WaitFor.SEATS, now, note, (Choice.ABORT,))
        return False
    workflow.wait(StepName.CHECK_SEATS, WaitFor.SEATS, now, shortage, (Choice.BUY_SEATS, Choice.ABORT))
    return False


def _read_seats(directory: TenantDirectory, _workflow: Workflow) -> Tenant:
    return Tenant(directory.organization(), directory.products(), directory.subscriptions())


def _buy_seats(choosing: Choosing) -> list[str]:
    """Fix which subscription gets how many licenses before the step runs (retries are idempotent)."""
    tenant, workflow, now = choosing.read(), choosing.workflow, choosing.now
    products = {p.sku_id: p for p in tenant.products}
    target = products.get(workflow.product.sku_id)
    source = products.get(workflow.source.sku_id) if workflow.source else None
    missing = seats_wanted(workflow, source) - (target.seats.available if target else 0)
    subscriptions = tenant.subscriptions
    chosen = next((s for s in subscriptions if s.id == workflow.subscription_id and s.status.is_active), None)
    if chosen is None:
        active = active_subscriptions(subscriptions, workflow.product.sku_id)
        if not active:
            raise SubscriptionNotActive(workflow.product.display_name, "not listed")
        chosen = active[0]
    if missing <= 0:
        workflow.complete(StepName.CHECK_SEATS, now, "Enough licenses are free now.")
        return []
    workflow.subscription_id = chosen.id
    workflow.expected_total = chosen.total_licenses + missing
    workflow.start(StepName.CHECK_SEATS, now)
    choosing.engine.claim(workflow, now)
    return []


STEP = StepKind(
    StepName.CHECK_SEATS,
    run,
    observe=observe,
    polled=True,
    choices={Choice.BUY_SEATS: ChoiceEffect(_buy_seats, reads=_read_seats), Choice.ABORT: STOP},
)
