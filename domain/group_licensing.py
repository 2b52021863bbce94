"""Group-based licensing (R21): what a group's licenses do to its members.

Microsoft 365 processes a group's licenses for each member on its own, asynchronously: a member
whose license cannot work is left in an error state (`membersWithLicenseErrors`) while the others get
it. `process_members` is that processing, used by the simulated tenant to carry it out and by the
preview of a group change to predict it, so both say the same. A member without a usage location
takes the organization's (Microsoft's rule for group licensing), so it is never an error here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.errors import ServicePlanConflict
from domain.model import NO_ERROR, Group, LicenseAssignment, Product, User, licenses_by_sku
from domain.rules import find_conflict

__all__ = [
    "COUNT_VIOLATION",
    "EXCLUSIVE_VIOLATION",
    "MemberLicense",
    "group_names",
    "kept_through_groups",
    "process_members",
]

COUNT_VIOLATION = "CountViolation"
EXCLUSIVE_VIOLATION = "MutuallyExclusiveViolation"


@dataclass(frozen=True, slots=True)
class MemberLicense:
    """One product a group gives one member, as processing leaves it."""

    user: User
    license: LicenseAssignment
    error: str = NO_ERROR
    takes_seat: bool = False
    """The member did not have the product before: it takes a seat from the pool (R2)."""
    conflict: ServicePlanConflict | None = None
    """The exclusive plans, when `error` is MutuallyExclusiveViolation (R6)."""

    @property
    def in_error(self) -> bool:
        return self.error != NO_ERROR


def process_members(
    group_id: str,
    licenses: Sequence[LicenseAssignment],
    members: Sequence[User],
    products: Mapping[str, Product],
) -> list[MemberLicense]:
    """Each member's state for each of the group's `licenses`, members in object-id order (as the
    seats run out, the later ones are the ones left in error). `members` are read as they are now,
    with what this group gave them so far; `products` carry the seats as they are now."""
    available = {sku: product.seats.available for sku, product in products.items()}
    results: list[MemberLicense] = []
    for user in sorted(members, key=lambda member: member.id):
        others = licenses_by_sku(user.licenses_apart_from(group_id))
        for lic in licenses:
            kept = others.get(lic.sku_id)
            merged = (
                lic
                if kept is None
                else LicenseAssignment(lic.sku_id, kept.disabled_plans & lic.disabled_plans)
            )
            after = [held for sku, held in others.items() if sku != lic.sku_id] + [merged]
            try:
                # The group's product last: the conflict names its plan as the one to turn off (R6).
                find_conflict(user, after, products)
            except ServicePlanConflict as conflict:
                results.append(MemberLicense(user, lic, EXCLUSIVE_VIOLATION, conflict=conflict))
                continue
            takes_seat = not user.holds(lic.sku_id)
            if takes_seat:
                if available.get(lic.sku_id, 0) <= 0:
                    results.append(MemberLicense(user, lic, COUNT_VIOLATION))
                    continue
                available[lic.sku_id] = available.get(lic.sku_id, 0) - 1
            results.append(MemberLicense(user, lic, takes_seat=takes_seat))
    return results


def group_names(groups: Mapping[str, Group | None], group_ids: Sequence[str]) -> list[str]:
    """The display names of these groups, in order; a group that cannot be read is "a group"."""
    names: list[str] = []
    for group_id in dict.fromkeys(group_ids):
        group = groups.get(group_id)
        names.append(group.display_name if group is not None else "a group")
    return names


def kept_through_groups(
    user: User, removed: Sequence[str], products: Mapping[str, Product], groups: Mapping[str, str]
) -> list[str]:
    """What the preview says of a user whose direct assignment of a product goes while a group
    still gives it to them (R21): they keep it, and from where."""
    notes: list[str] = []
    for sku in removed:
        sources = [groups.get(group_id, "a group") for group_id in dict.fromkeys(user.groups_of(sku))]
        if sources and sku in {lic.sku_id for lic in user.inherited_licenses()}:
            name = products[sku].display_name if sku in products else sku
            via = " and ".join(f"the group {source}" for source in sources)
            notes.append(f"keeps {name} through {via} (only the direct assignment goes)")
    return notes
