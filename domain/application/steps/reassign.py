"""Reassign licenses in batches (R17): the confirmed change set applied through `Licensing`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.steps.kind import StepKind
from domain.application.steps.runners import is_current
from domain.audit import AuditResult
from domain.changes import ChangeSet, ChangeState
from domain.ports import UnitOfWork
from domain.wording import plural
from domain.workflows import StepName, StepStatus, Workflow, notes

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """Apply the confirmed change set in batches (R17) through `Licensing`, which resumes a batch
    a crash interrupted by verifying before it writes again."""
    workflow = engine.begin(workflow_id, StepName.REASSIGN, correlation_id)
    if workflow is None:
        return

    def progress(change_set: ChangeSet) -> None:
        done = sum(1 for item in change_set.items if item.status.final)
        with engine.uow() as uow:
            current = engine.load(uow, workflow_id, for_update=True)
            if not is_current(current, StepName.REASSIGN, StepStatus.RUNNING):
                return
            now = engine.clock.now()
            current.progress(
                StepName.REASSIGN, now, f"Moved {done} of {plural(len(change_set.items), 'user')}…"
            )
            engine.claim(current, now)
            status = engine.commit(uow, current)
        engine.tell(engine.notifier.workflow_changed, status)

    applied = engine.licensing.apply(workflow.change_set_id, correlation_id, progress)
    if applied.state is ChangeState.APPLYING:
        # Not finished here: this process is stopping, or another one is applying the change.
        # Whoever runs the step next finds it done, or goes on with it.
        engine.hand_back(workflow_id)
        return

    def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        if applied.state is not ChangeState.DONE:
            note = f"The change set is {applied.state.value}; nobody was moved."
            workflow.fail(StepName.REASSIGN, now, note)
            engine.audit(
                uow,
                workflow,
                workflow.requested_by,
                "reassign licenses",
                AuditResult.FAILED,
                correlation_id=correlation_id,
                reason=note,
            )
            return
        note = notes.reassigned(workflow, applied)
        workflow.complete(StepName.REASSIGN, now, note)
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            "reassign licenses",
            AuditResult.APPLIED,
            correlation_id=correlation_id,
            reason=note,
        )

    engine.record(workflow_id, StepName.REASSIGN, record)


STEP = StepKind(StepName.REASSIGN, run)
