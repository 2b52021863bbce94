"""What advancing waiting workflows from one read of the directory works on (DESIGN.md §4, §8).

The scheduler reads the tenant's subscriptions once per tick (and its products at most once, when a
waiting workflow needs seat counts), and every waiting workflow is advanced from that snapshot:
however many are pending, a poll costs the same number of directory reads. Each step kind says
what it observes in the snapshot (`domain.application.steps`); this is the data they share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.model import Product, Subscription
from domain.workflows.steps import StepName
from domain.workflows.workflow import Workflow, WorkflowKind

__all__ = ["DirectorySnapshot", "Observation", "Purchases", "wants_products"]


@dataclass(frozen=True, slots=True)
class DirectorySnapshot:
    """What one read of the directory showed."""

    subscriptions: tuple[Subscription, ...]
    products: tuple[Product, ...] | None = None
    """None when this read did not include the products."""

    def product(self, sku_id: str) -> Product | None:
        return next((p for p in self.products or () if p.sku_id == sku_id), None)

    def subscription(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.id == subscription_id), None)


@dataclass(slots=True)
class Observation:
    completed: list[StepName] = field(default_factory=list)
    changed: bool = False
    escalated: bool = False
    shown: str = ""
    """What the directory shows of a purchase still waited for, said after "but" when an admin
    marked its task done (`notes.task_not_seen`); empty when there is nothing to say."""


def wants_products(workflow: Workflow) -> bool:
    """Whether advancing this workflow may need seat counts (the products read)."""
    return workflow.kind in {WorkflowKind.SWITCH, WorkflowKind.UPGRADE}


@dataclass(frozen=True, slots=True)
class Purchases:
    """The purchases a poll shares out (R19, R23): a new subscription is one workflow's alone."""

    taken: set[str]
    """New subscriptions other workflows took as their purchase: never this workflow's."""
    take: Callable[[str], bool]
    rivals: tuple[Workflow, ...] = ()
    """The other purchases of the product still waiting, the same product's new subscriptions to share."""
