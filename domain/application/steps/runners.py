"""What several step kinds share: the poll of a step decided by the directory, and the choices
that mean the same at every step (stop the workflow, decline an offer, run the step again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from domain.application.steps.kind import ChoiceEffect, Choosing
from domain.model import Subscription
from domain.workflows import StepName, StepStatus, Workflow

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["DECLINE", "RUN_AGAIN", "STOP", "find", "is_current", "run_poll", "stop"]


def is_current(workflow: Workflow, name: StepName, status: StepStatus) -> bool:
    step = workflow.current
    return not workflow.state.final and step is not None and step.name is name and step.status is status


def find(subscriptions: Sequence[Subscription], subscription_id: str) -> Subscription | None:
    return next((s for s in subscriptions if s.id == subscription_id), None)


def run_poll(engine: WorkflowEngine, workflow_id: str, _correlation_id: str) -> None:
    """A step decided by the directory alone, checked now rather than at the next tick."""
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id)
    snapshot = engine.read(workflow)
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        step = workflow.current
        if step is None or step.status is not StepStatus.PENDING:
            return
        engine.observe(uow, workflow, snapshot, engine.clock.now())
        status = engine.commit(uow, workflow)
    engine.tell(engine.notifier.workflow_changed, status)


def stop(choosing: Choosing) -> list[str]:
    """Stop the workflow at this step; the admin task it waits for, if any, is cancelled."""
    uow, workflow, now, who = choosing.uow, choosing.workflow, choosing.now, choosing.who
    if workflow.task_id:
        task = uow.tasks.get(workflow.task_id, for_update=True)
        if task is not None:
            task.cancel(now, f"The workflow was stopped by {who}.")
            uow.tasks.save(task)
    workflow.cancel(now, f"Stopped by {who} at “{choosing.step.label}”.")
    return []


def _decline(choosing: Choosing) -> list[str]:
    workflow, step = choosing.workflow, choosing.step
    workflow.skip(step, choosing.now, f"{workflow.step(step).note} Declined by {choosing.who}.".strip())
    return []


def _run_again(choosing: Choosing) -> list[str]:
    """Run the step (again): the engine runs it once the decision is committed."""
    choosing.workflow.start(choosing.step, choosing.now)
    choosing.engine.claim(choosing.workflow, choosing.now)
    return []


STOP = ChoiceEffect(stop)
DECLINE = ChoiceEffect(_decline)
RUN_AGAIN = ChoiceEffect(_run_again)
