"""Commerce on the simulated tenant (DESIGN.md §6): it buys, changes seats and cancels by itself.

- Buying adds a Pending subscription that becomes Enabled after `activation_delay`, or after
  `credit_check_delay` when paid by invoice (the credit check of R10); zero means at once.
- Seats are set on the subscription; seats that users hold are not removed (R2, R12).
- Cancelling moves the subscription to Suspended, not straight to Deleted: that is what Microsoft 365
  does — a cancelled subscription is disabled (Graph reports it as Suspended), its users lose access
  at once, and admins can still reactivate it or save its data until it is deleted after the
  retention period (`nextLifecycleDateTime`, 90 days by default). The bot's verification only needs
  it to be no longer Enabled.

Each call runs in a transaction of its own and commits. A purchase's subscription id follows from
the step's reference, so the step retried after a crash finds its purchase instead of buying twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import KnownProduct
from domain.errors import UnknownProduct
from domain.model import PaymentMethod, Subscription, SubscriptionStatus
from domain.ports import Clock
from domain.transactions import forbid_remote_call
from domain.workflows import Receipt
from storage.orm import SimSubscriptionRow
from storage.simulated.directory import SimulatedDirectory

__all__ = ["SimulatedCommerce"]

_NAMESPACE: Final = uuid.UUID("a4f1d8e2-3b7c-4e0a-9f51-2c6d8b0e7a93")


class SimulatedCommerce:
    """`domain.ports.Commerce` on the simulated tenant."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        activation_delay: timedelta = timedelta(minutes=1),
        credit_check_delay: timedelta = timedelta(days=1),
        retention: timedelta = timedelta(days=90),
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._activation_delay = activation_delay
        self._credit_check_delay = credit_check_delay
        self._retention = retention

    def buy(
        self, product: KnownProduct, seats: int, payment_method: PaymentMethod, *, reference: str
    ) -> Receipt:
        subscription_id = str(uuid.uuid5(_NAMESPACE, f"subscription/{reference}"))
        forbid_remote_call("the simulated commerce")
        with self._sessions.begin() as session:
            directory = SimulatedDirectory(session, self._clock)
            if session.get(SimSubscriptionRow, subscription_id) is None:
                delay = (
                    self._credit_check_delay
                    if payment_method is PaymentMethod.INVOICE
                    else self._activation_delay
                )
                activates_at = self._clock.now() + delay
                try:
                    # By part number first: the tenant's own product, or the demo's with its service plans.
                    directory.add_subscription(
                        product.part_number if not product.service_plans else product,
                        seats,
                        payment_method=payment_method,
                        activates_at=activates_at,
                        subscription_id=subscription_id,
                    )
                except UnknownProduct:
                    directory.add_subscription(
                        product,
                        seats,
                        payment_method=payment_method,
                        activates_at=activates_at,
                        subscription_id=subscription_id,
                    )
            return _receipt(_find(directory, subscription_id), self._activates_at(session, subscription_id))

    def change_seats(self, subscription: Subscription, total: int, *, reference: str) -> Receipt:  # noqa: ARG002 (setting a total is idempotent by itself)
        forbid_remote_call("the simulated commerce")
        with self._sessions.begin() as session:
            changed = SimulatedDirectory(session, self._clock).set_seats(subscription.id, total)
            return _receipt(changed)

    def cancel(self, subscription: Subscription, *, reference: str) -> Receipt:  # noqa: ARG002 (cancelling twice changes nothing)
        forbid_remote_call("the simulated commerce")
        with self._sessions.begin() as session:
            directory = SimulatedDirectory(session, self._clock)
            current = _find(directory, subscription.id)
            if current.status is not SubscriptionStatus.ENABLED:
                return _receipt(current, note="it was not active")
            directory.set_status(subscription.id, SubscriptionStatus.SUSPENDED)
            row = session.get(SimSubscriptionRow, subscription.id)
            deleted_at = self._clock.now() + self._retention
            if row is not None:
                row.next_lifecycle = deleted_at
                session.flush()
            note = f"users lose access now; it is deleted on {deleted_at:%d %b %Y} unless reactivated"
            return _receipt(_find(directory, subscription.id), note=note)

    @staticmethod
    def _activates_at(session: Session, subscription_id: str) -> datetime | None:
        row = session.get(SimSubscriptionRow, subscription_id)
        return row.activates_at if row is not None else None


def _find(directory: SimulatedDirectory, subscription_id: str) -> Subscription:
    found = next((s for s in directory.subscriptions() if s.id == subscription_id), None)
    if found is None:
        raise LookupError(f"the simulated tenant has no subscription {subscription_id!r}")
    return found


def _receipt(subscription: Subscription, activates_at: datetime | None = None, note: str = "") -> Receipt:
    return Receipt(subscription.id, subscription.status, subscription.total_licenses, note, activates_at)
