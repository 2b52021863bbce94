"""Builders for test data: users, organizations, subscriptions, and products that are Microsoft's.

The products and service plans are those of `domain.product_table` (real part numbers, sku ids and
service plan ids, the same table the catalog and the simulated tenant read). A test product carries
only a few of its service plans (`_TEST_PLANS`): enough for the rules that look at them (R5, R6) and
short enough to read in a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.model import (
    Cloud,
    LicenseAssignment,
    Organization,
    Product,
    Seats,
    ServicePlan,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.product_table import COMPANY_PRODUCTS, PRODUCT_ROWS, plan_row

__all__ = [
    "SKU_E1",
    "SKU_E3",
    "SKU_E5",
    "SKU_F3",
    "SKU_FILE_STORAGE",
    "SKU_M365_E5",
    "license_of",
    "make_organization",
    "make_product",
    "make_subscription",
    "make_user",
    "plan_id",
    "service_plan",
]

SKU_E1 = PRODUCT_ROWS["STANDARDPACK"].sku_id
SKU_E3 = PRODUCT_ROWS["ENTERPRISEPACK"].sku_id
SKU_E5 = PRODUCT_ROWS["ENTERPRISEPREMIUM"].sku_id
SKU_F3 = PRODUCT_ROWS["DESKLESSPACK"].sku_id
SKU_M365_E5 = PRODUCT_ROWS["SPE_E5"].sku_id
SKU_FILE_STORAGE = PRODUCT_ROWS["SHAREPOINTSTORAGE"].sku_id

_TEST_PLANS: Mapping[str, tuple[str, ...]] = {
    "STANDARDPACK": ("EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "MCOSTANDARD", "TEAMS1", "SWAY"),
    "ENTERPRISEPACK": (
        "EXCHANGE_S_ENTERPRISE",
        "SHAREPOINTENTERPRISE",
        "MCOSTANDARD",
        "TEAMS1",
        "MESH_AVATARS_FOR_TEAMS",
        "SWAY",
        "OFFICESUBSCRIPTION",
    ),
    "ENTERPRISEPREMIUM": (
        "EXCHANGE_S_ENTERPRISE",
        "EXCHANGE_ANALYTICS",
        "SHAREPOINTENTERPRISE",
        "MCOSTANDARD",
        "MCOMEETADV",
        "TEAMS1",
        "SWAY",
        "OFFICESUBSCRIPTION",
    ),
    "SPE_E5": (
        "EXCHANGE_S_ENTERPRISE",
        "SHAREPOINTENTERPRISE",
        "MCOSTANDARD",
        "MCOMEETADV",
        "TEAMS1",
        "MESH_AVATARS_FOR_TEAMS",
        "SWAY",
        "OFFICESUBSCRIPTION",
    ),
    "DESKLESSPACK": ("EXCHANGE_S_DESKLESS", "SHAREPOINTDESKLESS", "MCOIMP", "TEAMS1", "SWAY"),
    "SHAREPOINTSTORAGE": ("SHAREPOINTSTORAGE",),
}
"""The service plans each test product carries, by name."""


def service_plan(name: str, *, applies_to: str = "User") -> ServicePlan:
    """A real service plan by its name (`MCOSTANDARD`, `SWAY`, ...)."""
    plan = plan_row(name)
    return ServicePlan(plan.id, plan.name, plan.display_name, applies_to)


def plan_id(name: str) -> str:
    """The id of a real service plan by its name."""
    return plan_row(name).id


def make_product(
    part_number: str,
    *,
    seats: int = 25,
    consumed: int = 0,
    plans: Sequence[str] | None = None,
    applies_to: str | None = None,
    sku_id: str | None = None,
    display_name: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Product:
    """A product by part number: one of `domain.product_table`, or any other with `sku_id` and
    `display_name`.

    In `InMemoryDirectory`, `seats` is the number of enabled units and consumed units are counted
    from the users who hold the product; `consumed` only matters for a product used on its own.
    """
    known = PRODUCT_ROWS.get(part_number)
    sku = sku_id or (known.sku_id if known else "")
    if not sku:
        raise ValueError(f"unknown part number {part_number}: pass sku_id and display_name")
    applies = applies_to or ("Company" if part_number in COMPANY_PRODUCTS else "User")
    chosen = plans if plans is not None else _TEST_PLANS.get(part_number, ())
    return Product(
        sku_id=sku,
        part_number=part_number,
        display_name=display_name or (known.display_name if known else part_number),
        service_plans=tuple(service_plan(name) for name in chosen),
        seats=Seats(enabled=seats, consumed=consumed),
        applies_to=applies,
        aliases=aliases,
    )


def license_of(sku_id: str, *disabled_plans: str) -> LicenseAssignment:
    """A license with service plans turned off, given by plan name (`SWAY`) or plan id."""
    return LicenseAssignment(sku_id, frozenset(_plan_ids.get(p, p) for p in disabled_plans))


_plan_ids: Mapping[str, str] = {
    plan.name: plan.id for product in PRODUCT_ROWS.values() for plan in product.service_plans
}


def make_user(
    name: str,
    *licenses: LicenseAssignment | str,
    domain: str = "contoso.com",
    usage_location: str | None = "US",
    user_id: str | None = None,
    display_name: str | None = None,
) -> User:
    """`make_user("alice", SKU_E3)`: alice@contoso.com, id `id-alice`, usage location US."""
    held = tuple(lic if isinstance(lic, LicenseAssignment) else LicenseAssignment(lic) for lic in licenses)
    user = User(
        id=user_id or f"id-{name}",
        user_principal_name=f"{name}@{domain}",
        display_name=display_name or name.replace(".", " ").title(),
        mail=f"{name}@{domain}",
        usage_location=usage_location,
    )
    return user.with_licenses(held)


def make_organization(
    *domains: str, cloud: Cloud = Cloud.WORLDWIDE, org_id: str = "org-contoso"
) -> Organization:
    verified = domains or ("contoso.com", "contoso.onmicrosoft.com")
    return Organization(
        id=org_id,
        display_name="Contoso",
        verified_domains=frozenset(verified),
        cloud=cloud,
        default_domain=verified[0],
    )


def make_subscription(
    product: Product,
    *,
    total: int | None = None,
    status: SubscriptionStatus = SubscriptionStatus.ENABLED,
    sub_id: str | None = None,
    organization_id: str = "org-contoso",
) -> Subscription:
    return Subscription(
        id=sub_id or f"sub-{product.part_number.lower()}",
        sku_id=product.sku_id,
        part_number=product.part_number,
        status=status,
        total_licenses=product.seats.enabled if total is None else total,
        organization_id=organization_id,
    )
