"""Decide how to switch (R15): the admin center's automatic path when it applies, else by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.runners import STOP, is_current
from domain.audit import AuditResult
from domain.workflows import Choice, StepName, StepStatus, WaitFor, admin_center
from domain.workflows.checks import recommend_path

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """R15: recommend the admin center's automatic path when it applies, else switch by hand."""
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        if not is_current(workflow, StepName.DECIDE, StepStatus.PENDING):
            return
        now = engine.clock.now()
        advice = recommend_path(workflow)
        if advice.automatic:
            choices = (Choice.MANUAL, Choice.ADMIN_CENTER, Choice.ABORT)
            workflow.wait(StepName.DECIDE, WaitFor.CONFIRMATION, now, advice.note, choices)
        else:
            workflow.complete(StepName.DECIDE, now, advice.note)
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            "decide the path",
            AuditResult.REQUESTED,
            correlation_id=correlation_id,
            reason=advice.note,
        )
        status = engine.commit(uow, workflow)
    engine.tell(engine.notifier.workflow_changed, status)


def _here(choosing: Choosing) -> list[str]:
    choosing.workflow.complete(
        choosing.step, choosing.now, f"{choosing.who} chose to switch here, step by step."
    )
    return []


def _admin_center(choosing: Choosing) -> list[str]:
    link = admin_center(choosing.workflow.cloud).subscriptions
    choosing.workflow.hand_over(
        choosing.now, f"{choosing.who} chose the admin center's automatic path ({link}); nothing more here."
    )
    return []


STEP = StepKind(
    StepName.DECIDE,
    run,
    choices={
        Choice.MANUAL: ChoiceEffect(_here),
        Choice.ADMIN_CENTER: ChoiceEffect(_admin_center),
        Choice.ABORT: STOP,
    },
)
