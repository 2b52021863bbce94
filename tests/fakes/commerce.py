"""`InMemoryCommerce`: the `Commerce` port on an `InMemoryDirectory` (purchases, seats, cancellations)."""

from __future__ import annotations

from dataclasses import replace

from domain.catalog import KnownProduct
from domain.model import Cloud, PaymentMethod, Subscription, SubscriptionStatus
from domain.transactions import forbid_remote_call
from domain.workflows import AdminTask, ProductRef, Receipt
from domain.workflows.tasks import buy_task, cancel_task, seats_task
from tests.fakes.builders import make_product
from tests.fakes.clock import FixedClock
from tests.fakes.directory import InMemoryDirectory

__all__ = ["InMemoryCommerce"]


class InMemoryCommerce:
    """`Commerce` on an `InMemoryDirectory`: purchases are Pending until `activate` (or at once with
    `instant`), seats and cancellations happen at once; `calls` records (operation, reference).

    With `tasks=True` it behaves like a real tenant instead (R19): every call returns an admin task,
    and nothing changes in the directory until the test does it (as the admin would).
    """

    def __init__(
        self, directory: InMemoryDirectory, clock: FixedClock, *, instant: bool = False, tasks: bool = False
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._instant = instant
        self._tasks = tasks
        self.calls: list[tuple[str, str]] = []

    def buy(
        self, product: KnownProduct, seats: int, payment_method: PaymentMethod, *, reference: str
    ) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("buy", reference))
        ref = ProductRef(product.sku_id, product.part_number, product.display_name)
        if self._tasks:
            return buy_task(
                f"task-{reference}", ref, seats, payment_method, cloud=Cloud.WORLDWIDE, now=self._clock.now()
            )
        sub_id = f"sub-{reference}"
        existing = next((s for s in self._directory.subscriptions() if s.id == sub_id), None)
        if existing is None:
            existing = self._directory.put_subscription(
                Subscription(
                    id=sub_id,
                    sku_id=product.sku_id,
                    part_number=product.part_number,
                    status=SubscriptionStatus.PENDING,
                    total_licenses=seats,
                    created=self._clock.now(),
                    payment_method=payment_method,
                    organization_id=self._directory.organization().id,
                )
            )
            if self._instant:
                existing = self.activate(sub_id)
        return Receipt(existing.id, existing.status, existing.total_licenses)

    def _ref(self, subscription: Subscription) -> ProductRef:
        product = next((p for p in self._directory.products() if p.sku_id == subscription.sku_id), None)
        name = product.display_name if product else subscription.part_number
        return ProductRef(subscription.sku_id, subscription.part_number, name)

    def activate(self, subscription_id: str) -> Subscription:
        """The purchase is done (its credit check passed): Enabled, and its seats join the pool."""
        sub = next(s for s in self._directory.subscriptions() if s.id == subscription_id)
        enabled = replace(sub, status=SubscriptionStatus.ENABLED)
        self._directory.put_subscription(enabled)
        products = {p.sku_id: p for p in self._directory.products()}
        if sub.sku_id in products:
            self._directory.set_seats(sub.sku_id, products[sub.sku_id].seats.enabled + sub.total_licenses)
        else:
            self._directory.add_product(make_product(sub.part_number, seats=sub.total_licenses))
        return enabled

    def change_seats(self, subscription: Subscription, total: int, *, reference: str) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("change_seats", reference))
        ref = self._ref(subscription)
        if self._tasks:
            return seats_task(
                f"task-{reference}",
                ref,
                subscription.total_licenses,
                total,
                cloud=Cloud.WORLDWIDE,
                now=self._clock.now(),
            )
        current = next(s for s in self._directory.subscriptions() if s.id == subscription.id)
        product = next(p for p in self._directory.products() if p.sku_id == subscription.sku_id)
        self._directory.set_seats(product.sku_id, product.seats.enabled + total - current.total_licenses)
        changed = self._directory.put_subscription(replace(current, total_licenses=total))
        return Receipt(changed.id, changed.status, changed.total_licenses)

    def cancel(self, subscription: Subscription, *, reference: str) -> Receipt | AdminTask:
        forbid_remote_call("the in-memory commerce")
        self.calls.append(("cancel", reference))
        ref = self._ref(subscription)
        if self._tasks:
            return cancel_task(
                f"task-{reference}",
                ref,
                subscription.total_licenses,
                cloud=Cloud.WORLDWIDE,
                now=self._clock.now(),
            )
        current = next(s for s in self._directory.subscriptions() if s.id == subscription.id)
        if current.status is SubscriptionStatus.ENABLED:
            product = next(p for p in self._directory.products() if p.sku_id == subscription.sku_id)
            self._directory.set_seats(product.sku_id, product.seats.enabled - current.total_licenses)
            current = self._directory.put_subscription(replace(current, status=SubscriptionStatus.SUSPENDED))
        return Receipt(current.id, current.status, current.total_licenses)
