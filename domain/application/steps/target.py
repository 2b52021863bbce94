"""The target subscription of a switch exists (already bought, even if still Pending), or buy it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.application.steps.buy import buy, observe_purchase
from domain.application.steps.kind import StepKind
from domain.application.steps.runners import RUN_AGAIN, STOP, is_current
from domain.workflows import Choice, StepName, StepStatus, WaitFor, notes
from domain.workflows.checks import best_target

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """Found: done. Not found: the requester chooses to buy it; then the step runs as a purchase."""
    with engine.uow() as uow:
        pending = is_current(engine.load(uow, workflow_id), StepName.TARGET, StepStatus.PENDING)
    subscriptions = engine.directory.subscriptions() if pending else []
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        if is_current(workflow, StepName.TARGET, StepStatus.RUNNING):
            buying = True  # the requester chose to buy it
        elif pending and is_current(workflow, StepName.TARGET, StepStatus.PENDING):
            buying = False
            now = engine.clock.now()
            found = best_target(subscriptions, workflow.product.sku_id)
            if found is not None:
                workflow.subscription_id = found.id
                workflow.complete(StepName.TARGET, now, notes.target_found(workflow, found))
            else:
                mine = tuple(s.id for s in subscriptions if s.sku_id == workflow.product.sku_id)
                workflow.known_subscriptions = mine
                choices = (Choice.BUY, Choice.ABORT)
                workflow.wait(
                    StepName.TARGET, WaitFor.CONFIRMATION, now, notes.target_missing(workflow), choices
                )
            status = engine.commit(uow, workflow)
        else:
            return
    if buying:
        buy(engine, workflow_id, correlation_id, StepName.TARGET)
    else:
        engine.tell(engine.notifier.workflow_changed, status)


STEP = StepKind(
    StepName.TARGET, run, observe=observe_purchase, choices={Choice.BUY: RUN_AGAIN, Choice.ABORT: STOP}
)
