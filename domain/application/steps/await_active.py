"""Wait until the bought subscription is listed and active (and the source still is, R11): polled."""

from __future__ import annotations

from domain.application.steps.buy import observe_purchase
from domain.application.steps.kind import StepKind
from domain.application.steps.runners import STOP, run_poll
from domain.workflows import Choice, StepName

__all__ = ["STEP"]

STEP = StepKind(
    StepName.AWAIT_ACTIVE, run_poll, observe=observe_purchase, polled=True, choices={Choice.ABORT: STOP}
)
