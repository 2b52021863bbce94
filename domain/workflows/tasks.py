"""Admin tasks (R19): what the bot cannot do through Graph on a directly billed tenant.

Buying, changing the number of licenses and cancelling happen in the admin center there. The bot
hands an admin a checklist with the link for the tenant's cloud (R18) and waits. A task is never
trusted: marking it done only makes the bot look at the directory at once, and the step completes
when the directory shows the result (a new Enabled subscription of the licenses bought, R23; the new
number of licenses; the old subscription no longer Enabled).

Also the commerce port's receipt, for the adapters that can act themselves (the simulated tenant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError
from domain.model import Cloud, PaymentMethod, SubscriptionStatus
from domain.wording import plural
from domain.workflows.links import admin_center
from domain.workflows.settings import CREDIT_CHECK_BUSINESS_DAYS, business_days
from domain.workflows.steps import StepName
from domain.workflows.workflow import ProductRef

__all__ = [
    "AdminTask",
    "Receipt",
    "TaskKind",
    "TaskState",
    "buy_task",
    "cancel_task",
    "seats_task",
]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a commerce adapter did itself: the subscription it created or changed, as it stands."""

    subscription_id: str
    status: SubscriptionStatus
    total_licenses: int
    note: str = ""
    activates_at: datetime | None = None


class TaskKind(StrEnum):
    BUY = "buy"
    CHANGE_SEATS = "change-seats"
    CANCEL = "cancel"


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    """The directory showed the result (never set by an admin's word alone)."""
    CANCELLED = "cancelled"


@dataclass(slots=True)
class AdminTask:
    id: str
    kind: TaskKind
    title: str
    checklist: tuple[str, ...]
    link: str
    created_at: datetime
    workflow_id: str = ""
    step: StepName | None = None
    owner: str = ""
    """Who should do it: the requester of the workflow."""
    state: TaskState = TaskState.OPEN
    marked_done_by: str = ""
    marked_done_at: datetime | None = None
    completed_at: datetime | None = None
    note: str = ""

    def mark_done(self, by: str, now: datetime) -> None:
        """An admin says it is done: recorded, and checked against the directory by the caller."""
        if self.state is not TaskState.OPEN:
            raise DomainError(
                f"This task is already {self.state.value}.",
                "Nothing more to do here; `/subscription status` shows where the workflow stands.",
            )
        self.marked_done_by = by
        self.marked_done_at = now

    def verified(self, now: datetime, note: str) -> None:
        if self.state is TaskState.OPEN:
            self.state = TaskState.DONE
            self.completed_at = now
            self.note = note

    def cancel(self, now: datetime, note: str) -> None:
        if self.state is TaskState.OPEN:
            self.state = TaskState.CANCELLED
            self.completed_at = now
            self.note = note


def buy_task(
    task_id: str,
    product: ProductRef,
    seats: int,
    payment_method: PaymentMethod,
    *,
    cloud: Cloud,
    now: datetime,
    domain: str = "",
    credit_check_days: int = CREDIT_CHECK_BUSINESS_DAYS,
) -> AdminTask:
    pages = admin_center(cloud)
    organization = f" for {domain}" if domain else ""
    checklist = (
        f"Open Billing > Purchase services ({pages.purchase}) in the admin center.",
        f"Buy {plural(seats, 'license')} of {product.display_name}{organization}: the same organization "
        "as the users who will get them, since subscriptions cannot cross organizations.",
        f"Pay by {payment_method.value}."
        + (
            f" An invoice purchase may need a credit check: up to {business_days(credit_check_days)}."
            if payment_method is PaymentMethod.INVOICE
            else ""
        ),
        f"Check Billing > Your products ({pages.subscriptions}): the new subscription is listed as Active.",
        "Press “Mark done”: the bot then checks the directory and carries on when it sees the "
        f"subscription of {plural(seats, 'license')} active.",
    )
    return AdminTask(
        task_id, TaskKind.BUY, f"Buy {seats} × {product.display_name}", checklist, pages.purchase, now
    )


def seats_task(
    task_id: str,
    product: ProductRef,
    current: int,
    total: int,
    *,
    cloud: Cloud,
    now: datetime,
) -> AdminTask:
    pages = admin_center(cloud)
    verb = "Buy" if total > current else "Remove"
    checklist = (
        f"Open Billing > Your products ({pages.subscriptions}) and select the {product.display_name} "
        f"subscription of {plural(current, 'license')}.",
        f"{verb} licenses so that it has {total} (now {current}).",
        "Press “Mark done”: the bot then checks that the subscription shows "
        f"{plural(total, 'license')} before it carries on.",
    )
    title = f"{verb} {plural(abs(total - current), product.display_name + ' license')}"
    return AdminTask(task_id, TaskKind.CHANGE_SEATS, title, checklist, pages.subscriptions, now)


def cancel_task(
    task_id: str, product: ProductRef, licenses: int, *, cloud: Cloud, now: datetime
) -> AdminTask:
    pages = admin_center(cloud)
    checklist = (
        f"Open Billing > Your products ({pages.subscriptions}) and select the {product.display_name} "
        f"subscription of {plural(licenses, 'license')}.",
        "Choose Cancel subscription, give a reason, and confirm. Users who still hold its licenses "
        "lose access to its services.",
        "Press “Mark done”: the bot then checks that the subscription is no longer active.",
    )
    title = f"Cancel the {product.display_name} subscription"
    return AdminTask(task_id, TaskKind.CANCEL, title, checklist, pages.subscriptions, now)
