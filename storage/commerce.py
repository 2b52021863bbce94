"""Commerce for real, directly billed tenants (R19): every purchase, seat change and cancellation is an
admin task with a checklist and the admin-center link of the tenant's cloud (R18).

No Graph v1.0 API buys or cancels for such a tenant, so this adapter never claims success: the
workflow completes only when polling the directory shows the result. Task ids follow from the
step's reference, so a step retried after a crash hands out the same task, not a second one.
"""

from __future__ import annotations

import uuid
from typing import Final

from domain.catalog import KnownProduct, ProductCatalog
from domain.model import Cloud, PaymentMethod, Subscription
from domain.ports import Clock
from domain.workflows import AdminTask, ProductRef
from domain.workflows.settings import CREDIT_CHECK_BUSINESS_DAYS
from domain.workflows.tasks import buy_task, cancel_task, seats_task

__all__ = ["AdminTaskCommerce", "task_id_for"]

_NAMESPACE: Final = uuid.UUID("6c1b0c5e-4f0e-4a55-9b7e-0d7a1f6b2c11")


def task_id_for(reference: str) -> str:
    """The same reference always gives the same task id."""
    return uuid.uuid5(_NAMESPACE, f"task/{reference}").hex


class AdminTaskCommerce:
    """`domain.ports.Commerce` as admin-center tasks."""

    def __init__(
        self,
        cloud: Cloud,
        clock: Clock,
        catalog: ProductCatalog | None = None,
        *,
        credit_check_days: int = CREDIT_CHECK_BUSINESS_DAYS,
    ) -> None:
        self._cloud = cloud
        self._clock = clock
        self._catalog = catalog or ProductCatalog()
        self._credit_check_days = credit_check_days

    def buy(
        self, product: KnownProduct, seats: int, payment_method: PaymentMethod, *, reference: str
    ) -> AdminTask:
        ref = ProductRef(product.sku_id, product.part_number, product.display_name)
        return buy_task(
            task_id_for(reference),
            ref,
            seats,
            payment_method,
            cloud=self._cloud,
            now=self._clock.now(),
            credit_check_days=self._credit_check_days,
        )

    def change_seats(self, subscription: Subscription, total: int, *, reference: str) -> AdminTask:
        return seats_task(
            task_id_for(reference),
            self._product(subscription),
            subscription.total_licenses,
            total,
            cloud=self._cloud,
            now=self._clock.now(),
        )

    def cancel(self, subscription: Subscription, *, reference: str) -> AdminTask:
        return cancel_task(
            task_id_for(reference),
            self._product(subscription),
            subscription.total_licenses,
            cloud=self._cloud,
            now=self._clock.now(),
        )

    def _product(self, subscription: Subscription) -> ProductRef:
        name = self._catalog.display_name(subscription.part_number)
        return ProductRef(subscription.sku_id, subscription.part_number, name)
