"""Offer the cleanup after a switch (R12): cancel the old subscription when nobody holds it any more,
else remove its unused licenses. Each offer taken starts a workflow of its own (shared with
`offer_addons`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.runners import DECLINE, is_current
from domain.application.subscriptions.builders import Tenant, WorkflowBuilder, cancel_in_flight
from domain.audit import AuditResult
from domain.model import Product
from domain.ports import TenantDirectory
from domain.workflows import Choice, StepName, StepStatus, WaitFor, Workflow, notes
from domain.workflows.checks import active_subscriptions

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP", "start_follow_ups"]


def run(engine: WorkflowEngine, workflow_id: str, _correlation_id: str) -> None:
    """R12: everyone moved → offer to cancel the old subscription; some → its unused licenses."""
    products, subscriptions = engine.directory.products(), engine.directory.subscriptions()
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        source = workflow.source
        if not is_current(workflow, StepName.OFFER_CLEANUP, StepStatus.PENDING) or source is None:
            return
        now = engine.clock.now()
        product = next((p for p in products if p.sku_id == source.sku_id), None)
        olds = active_subscriptions(subscriptions, source.sku_id)
        offer: tuple[Choice, ...] = (Choice.SKIP,)
        if product is None or not olds:
            note = f"{source.display_name} has no active subscription left."
        elif product.seats.consumed == 0:
            note, offer = notes.cancel_offer(source, olds), (Choice.CANCEL_OLD, Choice.SKIP)
        elif product.seats.available > 0:
            note, offer = notes.seats_offer(source, product), (Choice.REMOVE_SEATS, Choice.SKIP)
        else:
            note = f"Every {source.display_name} license is still in use."
        if len(offer) > 1:
            workflow.wait(StepName.OFFER_CLEANUP, WaitFor.CONFIRMATION, now, note, offer)
        else:
            workflow.skip(StepName.OFFER_CLEANUP, now, note)
        status = engine.commit(uow, workflow)
    engine.tell(engine.notifier.workflow_changed, status)


def read_holders(directory: TenantDirectory, skus: list[str]) -> Tenant:
    """The tenant, and who holds each product a follow-up may cancel (R13 shows them)."""
    return Tenant(
        directory.organization(),
        directory.products(),
        directory.subscriptions(),
        {sku: directory.users_with_product(sku) for sku in skus},
    )


def _read_source(directory: TenantDirectory, workflow: Workflow) -> Tenant:
    return read_holders(directory, [workflow.source.sku_id] if workflow.source is not None else [])


def start_follow_ups(choosing: Choosing, plans: list[tuple[Product, bool]]) -> list[str]:
    """R12, R14: the cleanup offered, each as a workflow of its own — a cancellation (which asks for
    confirmation and approval, R13) when `cancel` (nobody holds the product), else removing unused
    seats. The step is done, saying what it started."""
    uow, workflow, who, tenant = choosing.uow, choosing.workflow, choosing.who, choosing.read()
    engine = choosing.engine
    build = WorkflowBuilder(engine.clock, engine.settings)
    started: list[Workflow] = []
    for product, cancel in plans:
        active = active_subscriptions(tenant.subscriptions, product.sku_id)
        if cancel:
            started.extend(
                build.cancel(tenant, who, s, channel=workflow.channel, parent=workflow.id)
                for s in active
                if cancel_in_flight(uow, s.id) is None
            )
        elif active and (removable := min(product.seats.available, active[0].total_licenses - 1)) > 0:
            started.append(
                build.seats(
                    tenant.organization,
                    who,
                    product,
                    active[0],
                    -removable,
                    channel=workflow.channel,
                    parent=workflow.id,
                )
            )
    for follow_up in started:
        uow.workflows.add(follow_up)
        engine.audit(
            uow,
            follow_up,
            who,
            f"start: {follow_up.summary}",
            AuditResult.REQUESTED,
            reason=f"offered by workflow {workflow.id}",
        )
    workflow.follow_ups = (*workflow.follow_ups, *(f.id for f in started))
    listed = ", ".join(f"{f.summary} (workflow {f.id})" for f in started) or "nothing left to do"
    workflow.complete(
        choosing.step, choosing.now, f"{who} chose: {choosing.choice.label}. Started: {listed}."
    )
    return [f.id for f in started]


def _clean_up(choosing: Choosing) -> list[str]:
    products = {p.sku_id: p for p in choosing.read().products}
    source = choosing.workflow.source
    cancel = choosing.choice is Choice.CANCEL_OLD
    plans = [(products[source.sku_id], cancel)] if source is not None and source.sku_id in products else []
    return start_follow_ups(choosing, plans)


STEP = StepKind(
    StepName.OFFER_CLEANUP,
    run,
    choices={
        Choice.CANCEL_OLD: ChoiceEffect(_clean_up, reads=_read_source),
        Choice.REMOVE_SEATS: ChoiceEffect(_clean_up, reads=_read_source),
        Choice.SKIP: DECLINE,
    },
)
