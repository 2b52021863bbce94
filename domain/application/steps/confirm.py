"""The requester confirms a cancellation (R13), having seen who still holds its licenses.

The step never runs: a cancellation starts with it waiting (`WorkflowBuilder.cancel`).
"""

from __future__ import annotations

from domain.application.steps.kind import ChoiceEffect, Choosing, StepKind
from domain.application.steps.runners import STOP
from domain.workflows import Choice, StepName

__all__ = ["STEP"]


def _confirmed(choosing: Choosing) -> list[str]:
    choosing.workflow.complete(choosing.step, choosing.now, f"Confirmed by {choosing.who}.")
    return []


STEP = StepKind(
    StepName.CONFIRM, None, choices={Choice.CONFIRM: ChoiceEffect(_confirmed), Choice.ABORT: STOP}
)
