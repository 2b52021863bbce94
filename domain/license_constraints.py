"""What Microsoft 365 refuses to license that licensebot can know beforehand (R21): products not
offered in some countries or regions, and services that work only with another one turned on.

Graph exposes neither (a license that breaks one is only seen afterwards, held in an error state:
ProhibitedInUsageLocationViolation, DependencyViolation), so these are Microsoft's published facts,
kept here like the mutually exclusive plans (`domain.rules.MUTUALLY_EXCLUSIVE_PLANS`): the preview
of a group change predicts them, and the simulated tenant (and graph-sim, which serves it) applies
the same ones when it processes a group, so the prediction is what happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from domain.model import LicenseAssignment, Product, ServicePlan, User

__all__ = [
    "NOT_OFFERED_IN",
    "PREREQUISITES",
    "MissingPrerequisite",
    "effective_location",
    "is_offered",
    "missing_prerequisites",
]

PREREQUISITES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # Audio Conferencing (the add-on, or the plan in E5) dials into Teams or Skype for Business
        # Online meetings: it works only with one of them on (Microsoft's add-on requirements).
        "MCOMEETADV": frozenset({"TEAMS1", "MCOSTANDARD"}),
    }
)
"""A service plan (by name) → the plans (by name) of which at least one must be on with it, on
the same person; without one, Microsoft 365 holds the license in DependencyViolation."""

NOT_OFFERED_IN: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        # Calling Plans (domestic; domestic and international; 120 minutes) are sold only in the
        # countries and regions Microsoft lists for them: not in India or China, for example.
        "MCOPSTN1": frozenset({"IN", "CN"}),
        "MCOPSTN2": frozenset({"IN", "CN"}),
        "MCOPSTN5": frozenset({"IN", "CN"}),
    }
)
"""A product (by part number) → usage locations where Microsoft does not offer it; licensing a
person there ends in ProhibitedInUsageLocationViolation."""


@dataclass(frozen=True, slots=True)
class MissingPrerequisite:
    """A service that cannot work: none of the services it needs is on."""

    plan: ServicePlan
    product: Product
    """The product whose service it is."""
    needs: tuple[str, ...]
    """The display names of the services it needs (one of them), as the tenant names them."""


def effective_location(user: User, organization_country: str) -> str:
    """Where a person is licensed: their usage location, or the organization's when they have none
    (Microsoft's rule for group-based licensing)."""
    return (user.usage_location or organization_country or "").upper()


def is_offered(product: Product | None, location: str) -> bool:
    return product is None or not location or location not in NOT_OFFERED_IN.get(product.part_number, ())


def missing_prerequisites(
    licenses: Sequence[LicenseAssignment], products: Mapping[str, Product]
) -> list[MissingPrerequisite]:
    """Each service turned on in `licenses` that none of the services it needs is on beside."""
    enabled = list(_enabled(licenses, products))
    names = {plan.name for plan, _ in enabled}
    missing: list[MissingPrerequisite] = []
    for plan, product in enabled:
        needed = PREREQUISITES.get(plan.name)
        if needed and not needed & names:
            missing.append(MissingPrerequisite(plan, product, _display_names(needed, products)))
    return missing


def _enabled(
    licenses: Iterable[LicenseAssignment], products: Mapping[str, Product]
) -> Iterable[tuple[ServicePlan, Product]]:
    for lic in licenses:
        product = products.get(lic.sku_id)
        if product is None:
            continue
        for plan in product.service_plans:
            if plan.id not in lic.disabled_plans:
                yield plan, product


def _display_names(names: Iterable[str], products: Mapping[str, Product]) -> tuple[str, ...]:
    known: dict[str, str] = {}
    for product in products.values():
        for plan in product.service_plans:
            # Some products spell a plan in capitals: the name as people read it wins.
            if plan.name not in known or known[plan.name].isupper():
                known[plan.name] = plan.display_name
    return tuple(sorted(known.get(name, name) for name in names))
