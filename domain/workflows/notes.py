"""What the workflows say: the outcome and waiting notes of their steps, in one place.

Each note states the fact, the rule it follows (R-numbers of DESIGN.md) and, when something waits
on a person, what to do. The Slack side shows them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.changes import ChangeSet, ItemStatus
from domain.model import PaymentMethod, Product, Subscription, SubscriptionStatus
from domain.wording import plural
from domain.workflows.approvals import Approval
from domain.workflows.settings import business_days
from domain.workflows.tasks import AdminTask, Receipt
from domain.workflows.workflow import ProductRef, Workflow

__all__ = [
    "addons_offer",
    "approval_waiting",
    "cancel_confirmation",
    "cancel_offer",
    "cancelled",
    "ordered",
    "outcome",
    "preview",
    "purchase_not_seen",
    "purchase_shown",
    "purchase_waiting",
    "reassigned",
    "seats_offer",
    "seats_ordered",
    "seats_set",
    "target_found",
    "target_missing",
    "task_not_seen",
    "task_waiting",
]


def _paid(workflow: Workflow) -> str:
    return "by invoice" if workflow.payment_method is PaymentMethod.INVOICE else "by card"


def target_found(workflow: Workflow, found: Subscription) -> str:
    return (
        f"{workflow.product.display_name} is already bought: a subscription of "
        f"{plural(found.total_licenses, 'license')} ({found.status.label}); nothing to buy."
    )


def target_missing(workflow: Workflow) -> str:
    return (
        f"The tenant has no {workflow.product.display_name} subscription yet. Buy "
        f"{plural(workflow.seats, 'license')} ({_paid(workflow)}) for the users to move? It must be "
        "bought for the users' own organization."
    )


def ordered(workflow: Workflow, receipt: Receipt) -> str:
    credit = ""
    if workflow.payment_method is PaymentMethod.INVOICE and workflow.deadline is not None:
        credit = (
            f" A credit check may take up to {business_days(workflow.credit_check_days)}: "
            f"until {workflow.credit_check_ends}."
        )
    return (
        f"Ordered {workflow.seats} × {workflow.product.display_name} {_paid(workflow)}: the new "
        f"subscription is {receipt.status.label}.{credit}"
    )


def seats_ordered(workflow: Workflow, before: int, receipt: Receipt) -> str:
    more = plural(workflow.expected_total - before, f"more {workflow.product.display_name} license")
    return f"Ordered {more} (the subscription goes from {before} to {receipt.total_licenses})."


def seats_set(receipt: Receipt, before: int) -> str:
    return f"The subscription now has {plural(receipt.total_licenses, 'license')} (was {before})."


def preview(workflow: Workflow, change_set: ChangeSet) -> str:
    """R7: who moves, what else goes with Replace, and the seats before and after (R2)."""
    target = workflow.product.display_name
    gaining = sum(1 for item in change_set.items if workflow.product.sku_id in item.change.gained)
    source = {workflow.source.sku_id} if workflow.source else set()
    others = {sku for item in change_set.items for sku in item.change.remove} - source
    known = {addon.sku_id: addon for addon in workflow.addons}
    named = [f"{known[sku].display_name}, which {target} includes" for sku in sorted(others) if sku in known]
    unnamed = len(others - set(known))
    if unnamed:
        named.append(
            f"{unnamed} other product{'s' if unnamed > 1 else ''} some of them hold (see the preview)"
        )
    also = f" Replacing also removes {'; and '.join(named)}." if named else ""
    refused = ""
    if change_set.refused:
        names = "; ".join(f"{label}: {why}" for label, why in change_set.refused[:5])
        refused = f" Left out ({len(change_set.refused)}): {names}."
    return (
        f"Replace the licenses of {plural(len(change_set.items), 'user')} with {target}: each user's "
        f"previous licenses go and {target} comes in one change, so nobody is ever without a license.{also} "
        f"{target} licenses in use: {change_set.seats_before} of {change_set.seats_total} → "
        f"{change_set.seats_before + gaining} of {change_set.seats_total}.{refused} "
        f"Confirm before {change_set.expires_at:%H:%M} UTC."
    )


def reassigned(workflow: Workflow, change_set: ChangeSet) -> str:
    counts = change_set.counts()
    moved = counts[ItemStatus.APPLIED] + counts[ItemStatus.ALREADY_APPLIED]
    note = f"Moved {moved} of {plural(len(change_set.items), 'user')} to {workflow.product.display_name}."
    failed = change_set.failed_items
    if failed:
        shown = "; ".join(f"{item.change.display_name}: {item.reason}" for item in failed[:5])
        note += f" Not moved ({len(failed)}): {shown}."
    return note


def addons_offer(workflow: Workflow, addons: Sequence[Product]) -> str:
    listed = "; ".join(
        f"{p.display_name}: {plural(p.seats.enabled, 'license')}, {p.seats.consumed} in use" for p in addons
    )
    return (
        f"{workflow.product.display_name} includes the services of these add-ons, so they are redundant "
        f"now: {listed}. Remove them? Unused ones are cancelled (with approval); where some "
        "licenses are still in use, only the unused ones are removed."
    )


def cancel_offer(source: ProductRef, subscriptions: Sequence[Subscription]) -> str:
    sizes = ", ".join(plural(s.total_licenses, "license") for s in subscriptions)
    its = "its subscription" if len(subscriptions) == 1 else "its subscriptions"
    return (
        f"Nobody holds {source.display_name} any more. Cancel {its} ({sizes})? Cancelling asks "
        "for your confirmation and another admin's approval."
    )


def seats_offer(source: ProductRef, product: Product) -> str:
    return (
        f"{product.seats.available} of the {product.seats.enabled} {source.display_name} licenses are "
        f"unused now ({product.seats.consumed} still in use). Remove the unused ones so you stop paying "
        "for them?"
    )


def cancel_confirmation(
    product: ProductRef, subscription: Subscription, holders: Sequence[str], losing: int
) -> str:
    """R13: what the requester sees before confirming: who still holds the licenses."""
    who = ", ".join(holders[:10]) + (f" and {len(holders) - 10} more" if len(holders) > 10 else "")
    hold = f"{plural(len(holders), 'user')} {'holds' if len(holders) == 1 else 'hold'}"
    if holders and losing:
        held = (
            f"{hold} {product.display_name}: {who}. {losing} of them lose access when it "
            "is cancelled, unless they are moved first."
        )
    elif holders:
        held = f"{hold} {product.display_name}: {who}; the other subscriptions have seats for them."
    else:
        held = f"Nobody holds {product.display_name}."
    return (
        f"Cancel the {product.display_name} subscription ({plural(subscription.total_licenses, 'license')})? "
        f"{held} After your confirmation, another Global or Billing admin must approve."
    )


def approval_waiting(workflow: Workflow, approval: Approval) -> str:
    return (
        f"Waiting for a Global or Billing admin other than {workflow.requested_by} to approve, until "
        f"{approval.expires_at:%a %d %b %H:%M} UTC."
    )


def cancelled(workflow: Workflow, receipt: Receipt | None) -> str:
    shown = receipt.status.label if receipt is not None else "it was already not active"
    extra = f"; {receipt.note}" if receipt is not None and receipt.note else ""
    return f"The {workflow.product.display_name} subscription is cancelled: {shown}{extra}."


def task_waiting(task: AdminTask) -> str:
    return (
        f"Waiting for an admin to {task.title[0].lower()}{task.title[1:]} in the admin center "
        f"({task.link}). The bot checks the directory at every poll and carries on when it shows the "
        "result."
    )


def task_not_seen(who: str, task: AdminTask, now: datetime, shown: str = "") -> str:
    """R19: an admin pressed Mark done, and `shown` says what the directory shows instead."""
    return (
        f"{who} marked “{task.title}” done at {now:%H:%M} UTC, but "
        f"{shown or 'the directory does not show it yet'}; "
        "the bot keeps checking at every poll."
    )


_NOT_ACTIVE = {
    SubscriptionStatus.PENDING: "it is Pending: bought, and being set up",
    SubscriptionStatus.WARNING: "it is Expired, in its grace period",
    SubscriptionStatus.SUSPENDED: "it is Suspended",
    SubscriptionStatus.LOCKED_OUT: "it is Locked out",
    SubscriptionStatus.DELETED: "it is Deleted",
}
"""R9: why a listed subscription is not active, by the status names admins see."""


def purchase_shown(workflow: Workflow, found: Subscription | None) -> str:
    """What the directory shows of the subscription a purchase waits for (R9, R11, R23): not listed
    yet, or listed and not active yet with its status, or listed and active."""
    product = workflow.product.display_name
    if found is None:
        return f"No new {product} subscription is listed yet"
    listed = f"{product} ({plural(found.total_licenses, 'license')})"
    if found.status is SubscriptionStatus.ENABLED:
        return f"{listed} is listed and active"
    return f"{listed} is listed, not active yet: {_NOT_ACTIVE[found.status]}"


def purchase_not_seen(workflow: Workflow, found: Subscription | None) -> str:
    """After Mark done on a purchase: what the directory shows, for `task_not_seen`."""
    if found is None:
        return (
            f"the directory does not show it yet: no new {workflow.product.display_name} subscription "
            f"of {plural(workflow.seats, 'license')} is listed"
        )
    return f"in the directory {purchase_shown(workflow, found)}"


def purchase_waiting(workflow: Workflow, found: Subscription) -> str:
    """R19: the admin-center purchase is listed, not active yet; the bot carries on when it is."""
    return (
        f"{purchase_shown(workflow, found)}. The bot checks the directory at every poll and carries on "
        "when it is active."
    )


def outcome(result: Receipt | AdminTask | None) -> str:
    """For the audit record: what a commerce call did."""
    if isinstance(result, AdminTask):
        return f"admin task {result.id}: {result.title}"
    if result is None:
        return "nothing to do"
    return f"subscription {result.subscription_id}: {result.status.label}, {result.total_licenses} licenses"
