"""Wait until the subscription shows the new number of licenses: polled."""

from __future__ import annotations

from domain.application.steps.change_seats import observe_seats
from domain.application.steps.kind import StepKind
from domain.application.steps.runners import STOP, run_poll
from domain.workflows import Choice, StepName

__all__ = ["STEP"]

STEP = StepKind(
    StepName.AWAIT_SEATS, run_poll, observe=observe_seats, polled=True, choices={Choice.ABORT: STOP}
)
