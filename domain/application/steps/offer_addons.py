"""Offer to remove the add-ons the upgrade's target includes (R14): never done without a yes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.offer_cleanup import read_holders, start_follow_ups
from domain.application.steps.runners import DECLINE, is_current
from domain.application.subscriptions.builders import Tenant
from domain.ports import TenantDirectory
from domain.workflows import Choice, StepName, StepStatus, WaitFor, Workflow, notes

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, _correlation_id: str) -> None:
    """R14: offer to remove the add-ons the target includes (never done without a yes)."""
    products = {p.sku_id: p for p in engine.directory.products()}
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        if not is_current(workflow, StepName.OFFER_ADDONS, StepStatus.PENDING):
            return
        now = engine.clock.now()
        listed = [products[a.sku_id] for a in workflow.addons if a.sku_id in products]
        if listed:
            note = notes.addons_offer(workflow, listed)
            choices = (Choice.REMOVE_ADDONS, Choice.SKIP)
            workflow.wait(StepName.OFFER_ADDONS, WaitFor.CONFIRMATION, now, note, choices)
        else:
            note = f"No add-on is made redundant by {workflow.product.display_name}."
            workflow.skip(StepName.OFFER_ADDONS, now, note)
        status = engine.commit(uow, workflow)
    engine.tell(engine.notifier.workflow_changed, status)


def _read_addons(directory: TenantDirectory, workflow: Workflow) -> Tenant:
    return read_holders(directory, [a.sku_id for a in workflow.addons])


def _remove(choosing: Choosing) -> list[str]:
    """Unused add-ons are cancelled (with approval); those still in use lose their unused seats."""
    products = {p.sku_id: p for p in choosing.read().products}
    plans = [
        (products[a.sku_id], products[a.sku_id].seats.consumed == 0)
        for a in choosing.workflow.addons
        if a.sku_id in products
    ]
    return start_follow_ups(choosing, plans)


STEP = StepKind(
    StepName.OFFER_ADDONS,
    run,
    choices={Choice.REMOVE_ADDONS: ChoiceEffect(_remove, reads=_read_addons), Choice.SKIP: DECLINE},
)
