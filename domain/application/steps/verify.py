"""Verify the cancelled subscription is no longer active (R13): polled."""

from __future__ import annotations

from domain.application.steps.cancel import observe_cancelled
from domain.application.steps.kind import StepKind
from domain.application.steps.runners import run_poll
from domain.workflows import StepName

__all__ = ["STEP"]

STEP = StepKind(StepName.VERIFY, run_poll, observe=observe_cancelled, polled=True)
