"""The simulated tenant's products and subscriptions: seats held and available (R2), a subscription's
status as time goes by (R9, R10), and the product a purchase is for (DESIGN.md §6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from domain.catalog import KnownProduct
from domain.errors import UnknownProduct
from domain.model import (
    NO_ERROR,
    CapabilityStatus,
    PaymentMethod,
    Product,
    PurchaseChannel,
    Seats,
    ServicePlan,
    Subscription,
    SubscriptionStatus,
)
from storage.orm import (
    SimGroupLicenseStateRow,
    SimProductRow,
    SimServicePlanRow,
    SimSubscriptionRow,
    SimUserLicenseRow,
)
from storage.simulated.products import COMPANY_PLANS, DEMO_PRODUCTS

__all__ = [
    "effective_status",
    "holdings",
    "product_row_for_purchase",
    "read_products",
    "subscription_from_row",
]

_CAPABILITY_ORDER = (
    SubscriptionStatus.ENABLED,
    SubscriptionStatus.WARNING,
    SubscriptionStatus.SUSPENDED,
    SubscriptionStatus.LOCKED_OUT,
    SubscriptionStatus.DELETED,
)
"""A product is as available as its best subscription: Enabled if any subscription is."""


def read_products(session: Session, now: datetime) -> dict[str, Product]:
    """The products with at least one listed subscription, by sku id, with their seats (R2, R9, R11)."""
    # A seat per user and product, whether direct, from groups or both (R2, R21).
    holding = holdings().subquery()
    counts = select(holding.c.sku_id, func.count()).group_by(holding.c.sku_id)
    consumed = {sku: holders for sku, holders in session.execute(counts)}
    pools: dict[str, list[tuple[SubscriptionStatus, int]]] = {}
    for sub in session.scalars(select(SimSubscriptionRow)):
        status = effective_status(sub, now)
        if status is not SubscriptionStatus.PENDING:
            pools.setdefault(sub.sku_id, []).append((status, sub.total_licenses))
    products: dict[str, Product] = {}
    for row in session.scalars(select(SimProductRow).order_by(SimProductRow.part_number)):
        pool = pools.get(row.sku_id)
        if pool:
            products[row.sku_id] = _product(row, pool, consumed.get(row.sku_id, 0))
    return products


def product_row_for_purchase(session: Session, product: str | KnownProduct) -> SimProductRow:
    """The product bought: known to the tenant already, else added from Microsoft's table or the demo's."""
    key = product.part_number if isinstance(product, KnownProduct) else product.strip()
    row = session.scalars(
        select(SimProductRow).where(
            or_(
                func.lower(SimProductRow.sku_id) == key.lower(),
                func.lower(SimProductRow.part_number) == key.lower(),
            )
        )
    ).first()
    if row is not None:
        return row
    if isinstance(product, KnownProduct):
        plans = tuple(
            ServicePlan(p.id, p.name, p.display_name, "Company" if p.name in COMPANY_PLANS else "User")
            for p in product.service_plans
        )
        row = SimProductRow(
            sku_id=product.sku_id,
            part_number=product.part_number,
            display_name=product.display_name,
            applies_to="User",
        )
        return _add_product(session, row, plans)
    known = next(
        (d for d in DEMO_PRODUCTS.values() if key.lower() in {d.sku_id, d.part_number.lower()}),
        None,
    )
    if known is None:
        raise UnknownProduct(key, known=list(DEMO_PRODUCTS))
    row = SimProductRow(
        sku_id=known.sku_id,
        part_number=known.part_number,
        display_name=known.display_name,
        applies_to=known.applies_to,
    )
    return _add_product(session, row, known.service_plans)


def _add_product(session: Session, row: SimProductRow, plans: Sequence[ServicePlan]) -> SimProductRow:
    row.service_plans = [
        SimServicePlanRow(
            plan_id=plan.id,
            position=position,
            name=plan.name,
            display_name=plan.display_name,
            applies_to=plan.applies_to,
        )
        for position, plan in enumerate(plans)
    ]
    session.add(row)
    session.flush()
    return row


def holdings() -> Any:
    """(user_id, sku_id) of every license held: direct, or from a group without error."""
    return union(
        select(SimUserLicenseRow.user_id, SimUserLicenseRow.sku_id),
        select(SimGroupLicenseStateRow.user_id, SimGroupLicenseStateRow.sku_id).where(
            SimGroupLicenseStateRow.error == NO_ERROR
        ),
    )


def effective_status(row: SimSubscriptionRow, now: datetime) -> SubscriptionStatus:
    """A Pending purchase becomes Enabled on its own once its credit check is over (R10)."""
    status = SubscriptionStatus(row.status)
    if status is SubscriptionStatus.PENDING and row.activates_at is not None and row.activates_at <= now:
        return SubscriptionStatus.ENABLED
    return status


def _product(row: SimProductRow, pool: list[tuple[SubscriptionStatus, int]], consumed: int) -> Product:
    """R2: enabled seats come from Enabled subscriptions, warning seats from those in grace."""

    def total(status: SubscriptionStatus) -> int:
        return sum(licenses for s, licenses in pool if s is status)

    best = min((s for s, _ in pool), key=_CAPABILITY_ORDER.index)
    return Product(
        sku_id=row.sku_id,
        part_number=row.part_number,
        display_name=row.display_name,
        service_plans=tuple(
            ServicePlan(p.plan_id, p.name, p.display_name, p.applies_to) for p in row.service_plans
        ),
        seats=Seats(
            enabled=total(SubscriptionStatus.ENABLED),
            consumed=consumed,
            warning=total(SubscriptionStatus.WARNING),
            suspended=total(SubscriptionStatus.SUSPENDED),
        ),
        applies_to=row.applies_to,
        capability_status=CapabilityStatus(best.value),
    )


def subscription_from_row(
    row: SimSubscriptionRow, part_number: str, now: datetime, org_id: str
) -> Subscription:
    return Subscription(
        id=row.id,
        sku_id=row.sku_id,
        part_number=part_number,
        status=effective_status(row, now),
        total_licenses=row.total_licenses,
        created=row.created,
        next_lifecycle=row.next_lifecycle,
        is_trial=row.is_trial,
        purchase_channel=PurchaseChannel(row.purchase_channel),
        payment_method=PaymentMethod(row.payment_method),
        organization_id=org_id,
    )
