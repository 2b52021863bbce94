"""What one step kind is made of: its runner, what it observes in a tenant snapshot, its choices.

Each module of this package describes one kind of step (`StepName`) as a `StepKind`; the registry
(`domain.application.steps.registry`) collects them. The engine keeps the run loop, the take-over
of a crashed step, and the two transactions around a step that acts on the outside world; a step
kind says what happens in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from domain.ports import TenantDirectory, UnitOfWork
from domain.workflows import Choice, DirectorySnapshot, Observation, StepName, Workflow
from domain.workflows.polling import Purchases

if TYPE_CHECKING:
    from domain.application.subscriptions.builders import Tenant
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["ChoiceEffect", "Choosing", "Observer", "Runner", "StepKind", "TenantRead"]

Runner = Callable[["WorkflowEngine", str, str], None]
"""Run the step of this workflow (its id) once, for this correlation id."""


class Observer(Protocol):
    """Advance the step from one read of the directory; True when it completed."""

    def __call__(
        self,
        workflow: Workflow,
        name: StepName,
        snapshot: DirectorySnapshot,
        now: datetime,
        *,
        seen: Observation,
        purchases: Purchases,
    ) -> bool: ...


TenantRead = Callable[[TenantDirectory, Workflow], "Tenant"]
"""What a choice needs of the tenant, read before the decision's unit of work opens."""


@dataclass(frozen=True, slots=True)
class Choosing:
    """A choice a person made at a waiting step, applied inside the decision's unit of work."""

    uow: UnitOfWork
    workflow: Workflow
    step: StepName
    choice: Choice
    who: str
    now: datetime
    engine: WorkflowEngine
    tenant: Tenant | None = None
    """What the choice's `ChoiceEffect.reads` read, when it reads anything."""

    def read(self) -> Tenant:
        if self.tenant is None:  # the decision reads for every choice that declares `reads`
            raise AssertionError("the tenant was not read for this choice")
        return self.tenant


@dataclass(frozen=True, slots=True)
class ChoiceEffect:
    """What one choice does at one step; `apply` returns the follow-up workflows it started."""

    apply: Callable[[Choosing], list[str]]
    reads: TenantRead | None = None


@dataclass(frozen=True, slots=True)
class StepKind:
    """One kind of workflow step, as the engine and the decisions use it."""

    name: StepName
    run: Runner | None
    """None: the step never runs, it starts waiting (a cancellation's confirmation)."""
    observe: Observer | None = None
    """Advance the step from a tenant snapshot (when it is polled, or waits for an admin task)."""
    polled: bool = False
    """Decided by the directory alone, pending or waiting: the scheduler's poll advances it."""
    choices: Mapping[Choice, ChoiceEffect] = field(default_factory=dict)
    """The step's own choices; stopping the workflow (`Choice.ABORT`) is common to every step
    (`registry.choice_effect`), and a step may have its own way to stop."""

    @property
    def label(self) -> str:
        return self.name.label
