"""Advancing waiting workflows from one read of the directory (DESIGN.md §4, §8).

The scheduler reads the tenant's subscriptions once per tick (and its products at most once, when a
waiting workflow needs seat counts), and every waiting workflow is advanced from that snapshot:
however many are pending, a poll costs the same number of directory reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.model import PaymentMethod, Product, Subscription, SubscriptionStatus
from domain.wording import plural
from domain.workflows.checks import (
    active_subscriptions,
    not_listed_reasons,
    seats_wanted,
    target_subscription,
)
from domain.workflows.links import admin_center
from domain.workflows.notes import purchase_not_seen, purchase_waiting
from domain.workflows.settings import business_days
from domain.workflows.steps import Choice, StepName, StepStatus, WaitFor
from domain.workflows.workflow import Workflow, WorkflowKind

__all__ = ["POLLED_STEPS", "DirectorySnapshot", "Observation", "observe", "wants_products"]

POLLED_STEPS = frozenset({StepName.AWAIT_ACTIVE, StepName.CHECK_SEATS, StepName.AWAIT_SEATS, StepName.VERIFY})
"""Steps decided by looking at the directory alone, pending or waiting; a step waiting for an
admin task is decided the same way whatever its name."""


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
    purchases = _Purchases(set(taken), take, tuple(rivals))
    before = _fingerprint(workflow)
    while True:
        step = workflow.current
        if step is None or workflow.state.final:
            break
        polled = step.name in POLLED_STEPS and step.status in {StepStatus.PENDING, StepStatus.WAITING}
        task = step.status is StepStatus.WAITING and step.waiting_for is WaitFor.TASK
        if not (polled or task) or not _advance(
            workflow, step.name, snapshot, now, seen, purchases=purchases
        ):
            break
        seen.completed.append(step.name)
    seen.changed = _fingerprint(workflow) != before
    return seen


@dataclass(frozen=True, slots=True)
class _Purchases:
    taken: set[str]
    """New subscriptions other workflows took as their purchase: never this workflow's."""
    take: Callable[[str], bool]
    rivals: tuple[Workflow, ...] = ()
    """The other purchases of the product still waiting, the same product's new subscriptions to share."""


def _advance(
    workflow: Workflow,
    name: StepName,
    snapshot: DirectorySnapshot,
    now: datetime,
    seen: Observation,
    *,
    purchases: _Purchases,
) -> bool:
    """One step: True when it completed."""
    if name in {StepName.BUY, StepName.TARGET, StepName.AWAIT_ACTIVE}:
        return _bought(workflow, name, snapshot, now, seen, purchases=purchases)
    if name is StepName.CHECK_SEATS:
        return _enough_seats(workflow, snapshot, now)
    if name in {StepName.CHANGE_SEATS, StepName.AWAIT_SEATS}:
        return _seats_changed(workflow, name, snapshot, now)
    if name in {StepName.CANCEL, StepName.VERIFY}:
        return _cancelled(workflow, name, snapshot, now)
    return False


def _bought(
    workflow: Workflow,
    name: StepName,
    snapshot: DirectorySnapshot,
    now: datetime,
    seen: Observation,
    *,
    purchases: _Purchases,
) -> bool:
    source_ok = True
    if name is StepName.AWAIT_ACTIVE and workflow.source is not None:
        source_ok = bool(active_subscriptions(snapshot.subscriptions, workflow.source.sku_id))
    while True:
        found = target_subscription(
            workflow, snapshot.subscriptions, purchases.taken, rivals=purchases.rivals, now=now
        )
        active = found is not None and found.status is SubscriptionStatus.ENABLED
        recognized = found is not None and not workflow.subscription_id
        if not (active and source_ok and recognized and found is not None):
            break
        if found.id == workflow.purchase_id or purchases.take(found.id):
            workflow.purchase_id = found.id
            break
        purchases.taken.add(found.id)  # another workflow took it meanwhile: it is not ours
    if active and source_ok and found is not None:
        workflow.subscription_id = found.id
        shown = plural(found.total_licenses, "license")
        if workflow.source is not None and name is StepName.AWAIT_ACTIVE:
            note = (
                f"Both are listed and active: {workflow.source.display_name}, and "
                f"{workflow.product.display_name} ({shown})."
            )
        else:
            note = f"{workflow.product.display_name} is listed and active ({shown})."
        workflow.complete(name, now, note)
        return True
    step = workflow.step(name)
    seen.shown = purchase_not_seen(workflow, found)
    overdue = workflow.deadline is not None and now >= workflow.deadline
    if overdue and workflow.escalated_at is None:
        workflow.escalated_at = now  # R10: from the deadline on, whether anyone pressed anything or not
        seen.escalated = True
    if found is not None and active:
        assert workflow.source is not None
        note = (
            f"{workflow.source.display_name} is no longer listed as active, and users only move between "
            "subscriptions that are both listed and active. Renew or reactivate it, or contact "
            f"support ({admin_center(workflow.cloud).support})."
        )
    elif found is not None and step.waiting_for is WaitFor.TASK:
        note = purchase_waiting(workflow, found)
    else:
        note = not_listed_reasons(workflow, found)
    if overdue:
        unbought = ""
        if found is None and step.waiting_for is WaitFor.TASK:
            unbought = " If it was not bought yet, the admin-center task says how."
        note = _overdue(workflow) + unbought + " " + note
    if step.waiting_for is WaitFor.TASK:
        # Until the directory lists something (or the deadline passes) the task's note stays: the
        # checklist, or who marked it done; then the note says what the directory shows.
        if (found is not None or overdue) and note != step.note:
            workflow.wait(name, WaitFor.TASK, now, note, step.choices)
        return False
    workflow.wait(name, WaitFor.ACTIVATION, now, note, (Choice.ABORT,))
    return False


def _overdue(workflow: Workflow) -> str:
    support = admin_center(workflow.cloud).support
    if workflow.payment_method is PaymentMethod.INVOICE:
        days = business_days(workflow.credit_check_days)
        ended = f" on {workflow.credit_check_ends}" if workflow.deadline else ""
        return (
            f"Overdue: the credit check of up to {days} ended{ended}, and the subscription is still "
            f"not active. Contact support ({support}) with the order details."
        )
    since = f" on {workflow.deadline:%a %d %b %Y %H:%M} UTC" if workflow.deadline else ""
    return f"Overdue: it should have been active{since}. Contact support ({support})."


def _enough_seats(workflow: Workflow, snapshot: DirectorySnapshot, now: datetime) -> bool:
    if snapshot.products is None:
        return False
    target = snapshot.product(workflow.product.sku_id)
    source = snapshot.product(workflow.source.sku_id) if workflow.source else None
    wanted = seats_wanted(workflow, source)
    free = target.seats.available if target else 0
    part = workflow.product.display_name
    if free >= wanted:
        extra = ""
        if workflow.kind is WorkflowKind.UPGRADE and workflow.seats > workflow.users_to_move:
            extra = f"; at least as many as {workflow.source.display_name if workflow.source else 'E4'} had"
        workflow.complete(
            StepName.CHECK_SEATS, now, f"Enough {part} licenses: need {wanted}, {free} free{extra}."
        )
        return True
    missing = wanted - free
    step = workflow.step(StepName.CHECK_SEATS)
    shortage = f"Not enough {part} licenses: need {wanted}, {free} free: buy {missing} more."
    if step.waiting_for is WaitFor.TASK:
        return False  # an admin task asks for the missing licenses: its checklist stays the note
    if step.status is StepStatus.WAITING and Choice.BUY_SEATS not in step.choices:
        # The missing licenses were ordered: keep waiting for them to show.
        note = f"Waiting for the {part} licenses ordered to show: need {wanted}, {free} free."
        workflow.wait(StepName.CHECK_SEATS, WaitFor.SEATS, now, note, (Choice.ABORT,))
        return False
    workflow.wait(StepName.CHECK_SEATS, WaitFor.SEATS, now, shortage, (Choice.BUY_SEATS, Choice.ABORT))
    return False


def _seats_changed(workflow: Workflow, name: StepName, snapshot: DirectorySnapshot, now: datetime) -> bool:
    found = snapshot.subscription(workflow.subscription_id)
    if found is not None and found.total_licenses == workflow.expected_total:
        workflow.complete(
            name,
            now,
            f"The subscription shows {plural(found.total_licenses, 'license')} ({found.status.label}).",
        )
        return True
    if workflow.step(name).waiting_for is WaitFor.TASK:
        return False
    shows = f"it shows {found.total_licenses}" if found is not None else "it is not listed"
    wanted = plural(workflow.expected_total, "license")
    note = f"Waiting for the {workflow.product.display_name} subscription to show {wanted} ({shows})."
    workflow.wait(name, WaitFor.SEATS, now, note, (Choice.ABORT,))
    return False


def _cancelled(workflow: Workflow, name: StepName, snapshot: DirectorySnapshot, now: datetime) -> bool:
    found = snapshot.subscription(workflow.subscription_id)
    if found is None or found.status is not SubscriptionStatus.ENABLED:
        status = found.status.label if found is not None else "no longer listed"
        workflow.complete(
            name, now, f"The {workflow.product.display_name} subscription is no longer active: {status}."
        )
        return True
    if workflow.step(name).waiting_for is WaitFor.TASK:
        return False
    workflow.wait(
        name,
        WaitFor.CANCELLATION,
        now,
        f"The {workflow.product.display_name} subscription is still listed as active; checked again at "
        "every poll.",
    )
    return False


def _fingerprint(workflow: Workflow) -> tuple[object, ...]:
    return (
        workflow.state,
        workflow.subscription_id,
        workflow.escalated_at,
        tuple((s.status, s.waiting_for, s.note, s.choices) for s in workflow.steps),
    )
