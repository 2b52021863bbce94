"""Advancing a waiting workflow from one read of the directory (DESIGN.md §4, §8), step by step,
each step kind observing what it waits for (`StepKind.observe`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from domain.application.steps.registry import step_kind
from domain.workflows import DirectorySnapshot, Observation, Purchases, StepStatus, WaitFor, Workflow

__all__ = ["observe"]


def observe(
    workflow: Workflow,
    snapshot: DirectorySnapshot,
    now: datetime,
    *,
    taken: Collection[str] = (),
    take: Callable[[str], bool] = lambda _subscription_id: True,
    rivals: Sequence[Workflow] = (),
) -> Observation:
    """Advance the workflow as far as the snapshot allows; the steps after need the services.

    A purchase made in the admin center is recognized as a new subscription (R19) that no other
    workflow has `taken`, matched exactly among the `rivals` — the other purchases of the product
    still waiting (R23, `checks.match_purchases`); `take` records it as this workflow's, atomically,
    and says False when another workflow took it first (then the next candidate is tried).
    """
    seen = Observation()
    purchases = Purchases(set(taken), take, tuple(rivals))
    before = _fingerprint(workflow)
    while True:
        step = workflow.current
        if step is None or workflow.state.final:
            break
        kind = step_kind(step.name)
        polled = kind.polled and step.status in {StepStatus.PENDING, StepStatus.WAITING}
        task = step.status is StepStatus.WAITING and step.waiting_for is WaitFor.TASK
        if (
            not (polled or task)
            or kind.observe is None
            or not kind.observe(workflow, step.name, snapshot, now, seen=seen, purchases=purchases)
        ):
            break
        seen.completed.append(step.name)
    seen.changed = _fingerprint(workflow) != before
    return seen


def _fingerprint(workflow: Workflow) -> tuple[object, ...]:
    return (
        workflow.state,
        workflow.subscription_id,
        workflow.escalated_at,
        tuple((s.status, s.waiting_for, s.note, s.choices) for s in workflow.steps),
    )
