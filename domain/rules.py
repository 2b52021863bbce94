"""The licensing rules of DESIGN.md §2 as plain functions over the model (R2–R8, R16).

Both tenant backends call these before writing, so the simulated tenant and Microsoft Graph refuse the
same things with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from domain.catalog import short_name
from domain.errors import (
    NotAssignable,
    NotAuthorized,
    NotEnoughSeats,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
    UnknownServicePlan,
)
from domain.model import (
    AdminRole,
    LicenseAssignment,
    Organization,
    Permission,
    Product,
    ServicePlan,
    User,
)

__all__ = [
    "MUTUALLY_EXCLUSIVE_PLANS",
    "check_assignable",
    "check_in_organization",
    "check_seats",
    "check_usage_location",
    "find_conflict",
    "is_valid_usage_location",
    "merge_disabled_plans",
    "require",
    "resolve_plans",
]

MUTUALLY_EXCLUSIVE_PLANS: frozenset[frozenset[str]] = frozenset(
    {
        # Skype for Business Online Plan 2 (E3/E4/E5) vs Plan 1 (F3), documented by Microsoft.
        frozenset({"MCOSTANDARD", "MCOIMP"}),
        # SharePoint Plan 1 (business plans, E1) vs Plan 2 (E3/E5), documented by Microsoft.
        frozenset({"SHAREPOINTSTANDARD", "SHAREPOINTENTERPRISE"}),
    }
)
"""R6: service plans that cannot be on one user at once (Exchange Plan 1 and 2 no longer are)."""


def require(roles: Iterable[AdminRole], permission: Permission, who: str) -> None:
    """R16: refuse unless one of the requester's roles grants the permission."""
    if not set(roles) & permission.roles:
        allowed = sorted(role.value for role in permission.roles)
        raise NotAuthorized(who, permission.value, allowed)


def check_in_organization(user: User, organization: Organization) -> None:
    """R8: a subscription and its users belong to one organization."""
    if not organization.owns_address(user.user_principal_name):
        raise OutsideOrganization(user.user_principal_name, sorted(organization.verified_domains))


def is_valid_usage_location(value: str | None) -> bool:
    return value is not None and len(value) == 2 and value.isascii() and value.isalpha()


def check_usage_location(user: User) -> None:
    """R4: no assignment without a two-letter usage location."""
    if not is_valid_usage_location(user.usage_location):
        raise NoUsageLocation(user.display_name)


def check_assignable(product: Product) -> None:
    """R3: only products that apply to users can be assigned to users."""
    if not product.assignable_to_users:
        raise NotAssignable(product.display_name, product.applies_to)


def check_seats(product: Product, needed: int) -> None:
    """R2: every new assignment needs a free seat in the product's pool."""
    if needed > product.seats.available:
        raise NotEnoughSeats(
            short_name(product.part_number, product.display_name),
            needed,
            product.seats.available,
            name=product.display_name,
        )


def resolve_plans(product: Product, names: Iterable[str]) -> frozenset[str]:
    """Service plan names as admins type them (`Sway`, `TEAMS1`, a plan id) → plan ids (R5)."""
    ids: set[str] = set()
    for name in names:
        plan = product.plan(name) or _plan_by_short_name(product, name)
        if plan is None:
            known = [p.display_name for p in product.service_plans if not p.automatic]
            raise UnknownServicePlan(name, product.display_name, known)
        ids.add(plan.id)
    return frozenset(ids)


def _plan_by_short_name(product: Product, name: str) -> ServicePlan | None:
    """`Teams` finds `Microsoft Teams`; `Exchange` finds the one Exchange plan when only one fits.

    Closer matches win before looser ones: real products also carry plans such as "Avatars for
    Teams" (MESH_AVATARS_FOR_TEAMS), which must not make `Teams` ambiguous next to TEAMS1.
    """
    wanted = name.strip().casefold()
    if not wanted:
        return None
    plans = product.service_plans
    for hits in (
        [plan for plan in plans if plan.display_name.casefold().startswith(wanted)],
        [plan for plan in plans if plan.name.casefold().startswith(wanted)],
        [plan for plan in plans if wanted in plan.display_name.casefold().split()],
    ):
        if hits:
            return hits[0] if len(hits) == 1 else None
    return None


def merge_disabled_plans(
    current: frozenset[str], turn_off: Iterable[str] = (), turn_on: Iterable[str] = ()
) -> frozenset[str]:
    """R5: turning services off or on keeps every other service as it was."""
    return (current | frozenset(turn_off)) - frozenset(turn_on)


def find_conflict(
    user: User,
    assignments: Sequence[LicenseAssignment],
    products: Mapping[str, Product],
) -> None:
    """R6: refuse a set of assignments that would put two exclusive service plans on one user."""
    enabled: list[tuple[ServicePlan, Product]] = []
    for assignment in assignments:
        product = products.get(assignment.sku_id)
        if product is None:
            continue
        enabled.extend(
            (plan, product) for plan in product.service_plans if plan.id not in assignment.disabled_plans
        )
    for (plan_a, product_a), (plan_b, product_b) in combinations(enabled, 2):
        if frozenset({plan_a.name, plan_b.name}) in MUTUALLY_EXCLUSIVE_PLANS:
            raise ServicePlanConflict(
                user.display_name,
                plan_a.display_name or plan_a.name,
                product_a.display_name,
                plan_b.display_name or plan_b.name,
                product_b.display_name,
            )
