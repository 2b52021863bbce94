"""Preview and confirm (R7): the reassignment planned as a `Licensing` change set (Replace)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.application.lookups import HOLDERS_PREFIX
from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.runners import RUN_AGAIN, stop
from domain.changes import ChangeKind, ChangeSet, ChangeState
from domain.commands import ChangeLicenses
from domain.errors import ChangeNotPending, DomainError, NothingToChange
from domain.ports import UnitOfWork
from domain.wording import plural
from domain.workflows import Choice, StepName, WaitFor, Workflow, notes

if TYPE_CHECKING:
    from domain.application.workflow_engine import Record, WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """Plan the reassignment as a `Licensing` change set (REPLACE, R7); wait for the confirmation."""
    workflow = engine.begin(workflow_id, StepName.PREVIEW, correlation_id)
    if workflow is None:
        return
    command = ChangeLicenses(
        kind=ChangeKind.REPLACE,
        requester=workflow.requested_by,
        users=_licensing_targets(workflow),
        product=workflow.product.sku_id,
        correlation_id=correlation_id,
        channel=workflow.channel,
    )
    planned: ChangeSet | DomainError
    try:
        planned = engine.licensing.request_change(command)
    except NothingToChange as nobody:
        engine.record(workflow_id, StepName.PREVIEW, _nobody_to_move(nobody))
        return
    except DomainError as refusal:
        planned = refusal

    def record(_uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        if isinstance(planned, DomainError):
            choices = (Choice.RETRY, Choice.ABORT)
            workflow.wait(StepName.PREVIEW, WaitFor.CONFIRMATION, now, planned.message, choices)
            return
        workflow.change_set_id = planned.id
        note = notes.preview(workflow, planned)
        workflow.wait(StepName.PREVIEW, WaitFor.CONFIRMATION, now, note, (Choice.CONFIRM, Choice.ABORT))

    engine.record(workflow_id, StepName.PREVIEW, record)


def _licensing_targets(workflow: Workflow) -> tuple[str, ...]:
    if workflow.moves_everyone and workflow.source is not None:
        return (f"{HOLDERS_PREFIX}{workflow.source.sku_id}",)
    return workflow.targets


def _nobody_to_move(reason: DomainError) -> Record:
    def record(_uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        workflow.skip(StepName.PREVIEW, now, reason.message)
        workflow.skip(StepName.REASSIGN, now, "Nobody to move.")

    return record


def _confirm(choosing: Choosing) -> list[str]:
    """Confirm the change set and start the reassignment in one commit; an expired preview is
    planned again instead."""
    uow, workflow, now, engine = choosing.uow, choosing.workflow, choosing.now, choosing.engine
    change_set = uow.change_sets.get(workflow.change_set_id, for_update=True)
    if change_set is None:
        raise ChangeNotPending("gone (unknown change)")
    try:
        change_set.confirm(workflow.requested_by, now)
    except ChangeNotPending:
        if change_set.state is not ChangeState.EXPIRED:
            raise
        uow.change_sets.save(change_set)
        workflow.start(
            StepName.PREVIEW, now, "The preview expired before it was confirmed: planning a fresh one."
        )
        engine.claim(workflow, now)
        return []
    uow.change_sets.save(change_set)
    workflow.complete(
        StepName.PREVIEW,
        now,
        f"Confirmed by {choosing.who}: {plural(len(change_set.items), 'user')} to move.",
    )
    workflow.start(StepName.REASSIGN, now, f"Moving {plural(len(change_set.items), 'user')}…")
    engine.claim(workflow, now)
    engine.licensing.hold(uow, change_set.id)
    return []


def _stop(choosing: Choosing) -> list[str]:
    """Stopping at the preview cancels the change set it planned (not confirmed yet)."""
    uow, workflow = choosing.uow, choosing.workflow
    if workflow.change_set_id:
        change_set = uow.change_sets.get(workflow.change_set_id, for_update=True)
        if change_set is not None and change_set.state is ChangeState.PREVIEWED:
            change_set.cancel()
            uow.change_sets.save(change_set)
    return stop(choosing)


STEP = StepKind(
    StepName.PREVIEW,
    run,
    choices={
        Choice.CONFIRM: ChoiceEffect(_confirm),
        Choice.RETRY: RUN_AGAIN,
        Choice.ABORT: ChoiceEffect(_stop),
    },
)
