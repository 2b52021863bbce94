"""Every step kind, by name: what the engine runs, the poll observes and a decision applies."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from domain.application.steps import (
    approval,
    await_active,
    await_seats,
    buy,
    cancel,
    change_seats,
    check_seats,
    confirm,
    decide,
    offer_addons,
    offer_cleanup,
    preview,
    reassign,
    target,
    verify,
)
from domain.application.steps.kind import ChoiceEffect, StepKind
from domain.application.steps.runners import STOP
from domain.workflows import Choice, StepName

__all__ = ["POLLED_STEPS", "STEP_KINDS", "choice_effect", "step_kind"]

STEP_KINDS: Mapping[StepName, StepKind] = MappingProxyType(
    {
        module.STEP.name: module.STEP
        for module in (
            decide,
            target,
            buy,
            await_active,
            change_seats,
            await_seats,
            check_seats,
            preview,
            reassign,
            offer_addons,
            offer_cleanup,
            confirm,
            approval,
            cancel,
            verify,
        )
    }
)

POLLED_STEPS = frozenset(name for name, kind in STEP_KINDS.items() if kind.polled)
"""Steps decided by looking at the directory alone, pending or waiting; a step waiting for an
admin task is decided the same way whatever its name."""


def step_kind(name: StepName) -> StepKind:
    return STEP_KINDS[name]


def choice_effect(name: StepName, choice: Choice) -> ChoiceEffect | None:
    """What the choice does at this step: the step's own, else stopping the workflow (common to
    every step); None when the step has no such choice."""
    own = STEP_KINDS[name].choices.get(choice)
    if own is not None:
        return own
    return STOP if choice is Choice.ABORT else None
