"""Group-based licensing (R21): what a group's licenses do to its members.

Microsoft 365 processes a group's licenses for each member on its own, asynchronously: a member
whose license cannot work is left in an error state (`membersWithLicenseErrors`) while the others get
it. `process_members` is that processing, used by the simulated tenant to carry it out and by the
preview of a group change to predict it, so both say the same. A member without a usage location
takes the organization's (Microsoft's rule for group licensing), so it is never an error here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from domain.assignment_states import assignment_state_error
from domain.catalog import short_name
from domain.changes import ChangeKind, UserChange
from domain.errors import DomainError, NothingToChange, ServicePlanConflict
from domain.license_constraints import (
    MissingPrerequisite,
    effective_location,
    is_offered,
    missing_prerequisites,
)
from domain.model import (
    NO_ERROR,
    AssignmentError,
    Group,
    LicenseAssignment,
    Organization,
    Product,
    User,
    licenses_by_sku,
)
from domain.rules import check_assignable, find_conflict, merge_disabled_plans
from domain.wording import quoted

__all__ = [
    "COUNT_VIOLATION",
    "DEPENDENCY_VIOLATION",
    "EXCLUSIVE_VIOLATION",
    "GROUP_PREFIX",
    "LOCATION_VIOLATION",
    "AmbiguousGroup",
    "GroupPreview",
    "MemberLicense",
    "UnknownGroup",
    "group_as_target",
    "group_names",
    "kept_through_groups",
    "member_error",
    "plan_group_change",
    "process_members",
]

GROUP_PREFIX = "group:"
"""How a group is named as the target of a change (its audit target and Undo)."""

COUNT_VIOLATION = "CountViolation"
EXCLUSIVE_VIOLATION = "MutuallyExclusiveViolation"
LOCATION_VIOLATION = "ProhibitedInUsageLocationViolation"
DEPENDENCY_VIOLATION = "DependencyViolation"


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
    missing: MissingPrerequisite | None = None
    """The service that cannot work, when `error` is DependencyViolation."""
    removing: bool = False
    """A product the group no longer gives, that Microsoft 365 cannot take away: a service of
    another of the member's products needs it (DependencyViolation)."""

    @property
    def in_error(self) -> bool:
        return self.error != NO_ERROR


def process_members(
    group_id: str,
    licenses: Sequence[LicenseAssignment],
    members: Sequence[User],
    products: Mapping[str, Product],
    *,
    country: str = "",
) -> list[MemberLicense]:
    """Each member's state for each of the group's `licenses`, members in object-id order (as the
    seats run out, the later ones are the ones left in error). `members` are read as they are now,
    with what this group gave them so far; `products` carry the seats as they are now; `country`
    is the organization's, where members without a usage location are licensed.

    A member ends in error for a product when its services conflict with theirs (R6), when it is
    not offered in their country or region, when a service in it needs one they do not have, or
    when no seat is left (R2); and for a product the group no longer gives that a service of
    another of their products needs (Microsoft 365 cannot take it away)."""
    available = {sku: product.seats.available for sku, product in products.items()}
    results: list[MemberLicense] = []
    for user in sorted(members, key=lambda member: member.id):
        others = licenses_by_sku(user.licenses_apart_from(group_id))
        where = effective_location(user, country)
        # What the member has already stays; what is new is what can fail (as Microsoft 365 does).
        for lic in sorted(licenses, key=lambda lic: not user.holds(lic.sku_id)):
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
            if takes_seat and not is_offered(products.get(lic.sku_id), where):
                results.append(MemberLicense(user, lic, LOCATION_VIOLATION))
                continue
            # The group's other products count too, whatever the order they are processed in.
            coming = [g for g in licenses if g.sku_id not in others and g.sku_id != lic.sku_id]
            broken = [
                m
                for m in missing_prerequisites([*after, *coming], products)
                if m.product.sku_id == lic.sku_id
            ]
            if broken:
                results.append(MemberLicense(user, lic, DEPENDENCY_VIOLATION, missing=broken[0]))
                continue
            if takes_seat:
                if available.get(lic.sku_id, 0) <= 0:
                    results.append(MemberLicense(user, lic, COUNT_VIOLATION))
                    continue
                available[lic.sku_id] = available.get(lic.sku_id, 0) - 1
            results.append(MemberLicense(user, lic, takes_seat=takes_seat))
            others[lic.sku_id] = merged  # the group's next products must fit with this one (R6)
        results.extend(_not_removable(group_id, user, licenses, others, products))
    return results


def _not_removable(
    group_id: str,
    user: User,
    licenses: Sequence[LicenseAssignment],
    left: Mapping[str, LicenseAssignment],
    products: Mapping[str, Product],
) -> list[MemberLicense]:
    """Products the group no longer gives `user` that a service of what they keep (`left`) needs:
    Microsoft 365 leaves them in DependencyViolation instead of taking them away."""
    giving = {lic.sku_id for lic in licenses}
    dropped = {
        state.sku_id
        for state in user.states
        if state.group_id == group_id and not state.in_error and state.sku_id not in giving
    }
    kept: list[MemberLicense] = []
    remaining = list(left.values())
    before = {(m.plan.id, m.product.sku_id) for m in missing_prerequisites(remaining, products)}
    for sku in sorted(dropped - set(left)):
        previous = user.license_for(sku) or LicenseAssignment(sku)
        with_it = {
            (m.plan.id, m.product.sku_id) for m in missing_prerequisites([*remaining, previous], products)
        }
        broken = [
            m
            for m in missing_prerequisites(remaining, products)
            if (m.plan.id, m.product.sku_id) in before - with_it
        ]
        if broken:
            kept.append(MemberLicense(user, previous, DEPENDENCY_VIOLATION, missing=broken[0], removing=True))
    return kept


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


class UnknownGroup(DomainError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"There is no Microsoft Entra group {quoted(key)}.",
            'Name it by its display name (quoted when it has spaces, e.g. `group:"All Staff"`), '
            "its mail nickname or its object id.",
        )


class AmbiguousGroup(DomainError):
    """Several groups answer to the name: the admin picks one (by its object id)."""

    def __init__(self, key: str, choices: Sequence[Group]) -> None:
        listed = "; ".join(
            f"{g.display_name} (`{GROUP_PREFIX}{g.mail_nickname or g.id}`)" for g in choices[:10]
        )
        super().__init__(
            f"{len(choices)} groups are called {quoted(key)}: {listed}.",
            "Pick one, or name it by its mail nickname (`group:NICKNAME`).",
        )
        self.key = key
        self.choices = list(choices)


def group_as_target(group: Group) -> User:
    """A group as the one item of its change set: its own licenses are what is written (R21)."""
    return User(
        id=group.id,
        user_principal_name=f"{GROUP_PREFIX}{group.display_name}",
        display_name=group.display_name,
        licenses=group.licenses,
    )


def member_error(
    user: User,
    sku_id: str,
    error: str,
    products: Mapping[str, Product],
    group: str = "",
    *,
    country: str = "",
    missing: MissingPrerequisite | None = None,
    removing: bool | None = None,
) -> tuple[str, str]:
    """What a member's error state means and its fix, in the admin's words (R21). `country` is the
    organization's; `missing` and `removing` say what a DependencyViolation is about when the
    prediction knows it (else it is worked out from the member as read)."""
    product = products.get(sku_id)
    name = product.display_name if product else sku_id
    target = f'group:"{group}"' if group else "group:NAME"
    part = short_name(product.part_number, product.display_name) if product else name
    if error == EXCLUSIVE_VIOLATION:
        explained = assignment_state_error(user, AssignmentError(sku_id, error), products)
        problem = explained.problem if explained is not None else f"a service of {name} conflicts with theirs"
        return (
            problem,
            f"Turn the conflicting service off in the group's {name} (`/license assign {target} {part} "
            f"without ...`), or replace {user.display_name}'s other license.",
        )
    if error == COUNT_VIOLATION:
        return (
            f"not enough {name} seats for them",
            f"Buy seats (`/subscription seats {part} +N`) or free some: Microsoft 365 licenses them "
            "once a seat is free.",
        )
    if error == LOCATION_VIOLATION:
        return _not_offered(user, name, country)
    if error == DEPENDENCY_VIOLATION:
        return _dependency(
            user, sku_id, name, products, target=target, part=part, missing=missing, removing=removing
        )
    explained = assignment_state_error(user, AssignmentError(sku_id, error), products)
    if explained is not None:
        return explained.problem, explained.fix
    return (
        f"Microsoft 365 reports {error} on {name}",
        "Check the member in the Microsoft Entra admin center (Licenses of the group).",
    )


def _not_offered(user: User, name: str, country: str) -> tuple[str, str]:
    if user.usage_location:
        where = f"their country or region ({user.usage_location})"
    elif country:
        where = (
            f"the organization's country or region ({country}), which they take as they have no "
            "usage location"
        )
    else:
        where = "their country or region"
    return (
        f"{name} is not offered in {where}",
        "Give them a product offered there instead (not through this group), or correct their usage "
        "location if it is wrong (Microsoft 365 admin center > Users > Active users > the user); "
        "Microsoft 365 then processes them again.",
    )


def _dependency(
    user: User,
    sku_id: str,
    name: str,
    products: Mapping[str, Product],
    *,
    target: str,
    part: str,
    missing: MissingPrerequisite | None,
    removing: bool | None,
) -> tuple[str, str]:
    if missing is None:
        missing, removing = _why_dependency(user, sku_id, products)
    if missing is None:
        return (
            f"a service in {name} depends on another one that is off or missing for them",
            "Check which services they hold in the Microsoft 365 admin center (Users > Active users > "
            "the user > Licenses and apps), and turn the one needed on.",
        )
    needs = " or ".join(missing.needs)
    if removing:
        other = missing.product.display_name
        return (
            f"{missing.plan.display_name} in their {other} needs {needs}, which only {name} from this "
            f"group gives them, so Microsoft 365 cannot take {name} away cleanly",
            f"Remove {other} from {user.display_name} first, or give them {needs} another way; "
            f"Microsoft 365 then takes {name} away.",
        )
    return (
        f"{missing.plan.display_name} in {name} needs {needs}, which they do not have",
        f"Give {user.display_name} a license with {needs} first, or turn {missing.plan.display_name} off "
        f"in the group's {name} (`/license assign {target} {part} without ...`).",
    )


def _why_dependency(
    user: User, sku_id: str, products: Mapping[str, Product]
) -> tuple[MissingPrerequisite | None, bool]:
    """What a DependencyViolation read from Microsoft 365 is about: a service of the product that
    needs one the member lacks, else a service of another product that needs this one."""
    held = [lic for lic in user.licenses if lic.sku_id != sku_id]
    this = user.license_for(sku_id) or LicenseAssignment(sku_id)
    own = [m for m in missing_prerequisites([*held, this], products) if m.product.sku_id == sku_id]
    if own:
        return own[0], False
    with_it = {(m.plan.id, m.product.sku_id) for m in missing_prerequisites([*held, this], products)}
    others = [
        m for m in missing_prerequisites(held, products) if (m.plan.id, m.product.sku_id) not in with_it
    ]
    return (others[0], True) if others else (None, False)


@dataclass(frozen=True, slots=True)
class GroupPreview:
    """What a change to a group's license will do to its members, predicted from them as they are."""

    group: str
    members: int
    gains: list[tuple[str, str]] = field(default_factory=list)
    """(member, product) for each product a member gets that they did not have."""
    loses: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(member, product, problem, fix): members Microsoft 365 will leave in an error state."""
    no_location: list[str] = field(default_factory=list)
    """Members without a usage location: they take the organization's (not an error)."""
    country: str = ""
    seats: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(product, consumed before, consumed after, enabled)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "members": self.members,
            "gains": [list(pair) for pair in self.gains],
            "loses": [list(pair) for pair in self.loses],
            "errors": [list(entry) for entry in self.errors],
            "no_location": list(self.no_location),
            "country": self.country,
            "seats": [list(entry) for entry in self.seats],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> GroupPreview:
        return cls(
            group=str(value.get("group", "")),
            members=int(value.get("members", 0)),
            gains=[(str(a), str(b)) for a, b in value.get("gains", [])],
            loses=[(str(a), str(b)) for a, b in value.get("loses", [])],
            errors=[(str(a), str(b), str(c), str(d)) for a, b, c, d in value.get("errors", [])],
            no_location=[str(name) for name in value.get("no_location", [])],
            country=str(value.get("country", "")),
            seats=[(str(a), int(b), int(c), int(d)) for a, b, c, d in value.get("seats", [])],
        )


def plan_group_change(
    kind: ChangeKind,
    group: Group,
    product: Product,
    members: Sequence[User],
    products: Mapping[str, Product],
    *,
    organization: Organization,
    turn_off: frozenset[str] = frozenset(),
) -> tuple[UserChange, GroupPreview]:
    """The group's licenses before and after, and what that will do to its members (R21).

    Assign adds the product to the group's licenses (or changes its services), replace makes it
    the group's only license (one call: add and remove together), remove takes it away. Members
    predicted to end in an error state are warnings, not refusals: Microsoft 365 applies the rest.
    """
    current = licenses_by_sku(group.licenses)
    held = current.get(product.sku_id)
    if kind is ChangeKind.REMOVE:
        if held is None:
            names = [products[s].display_name for s in current if s in products]
            fix = f"It has {', '.join(names)}." if names else "It has no license."
            raise NothingToChange(
                f"The group {group.display_name} has no {product.display_name} license.", fix
            )
        after = [lic for sku, lic in current.items() if sku != product.sku_id]
    else:
        check_assignable(product)  # R3
        base = held.disabled_plans if held else frozenset()
        target = LicenseAssignment(product.sku_id, merge_disabled_plans(base, turn_off))
        if kind is ChangeKind.REPLACE:
            after = [target]
        else:
            after = [lic for sku, lic in current.items() if sku != product.sku_id] + [target]
    target_user = group_as_target(group)
    change = UserChange(
        group.id,
        target_user.user_principal_name,
        group.display_name,
        tuple(sorted(group.licenses, key=lambda lic: lic.sku_id)),
        tuple(sorted(after, key=lambda lic: lic.sku_id)),
    )
    if change.is_noop:
        raise NothingToChange(f"The group {group.display_name} already has that.")
    return change, _predict(group, after, members, products, organization)


def _predict(
    group: Group,
    after: Sequence[LicenseAssignment],
    members: Sequence[User],
    products: Mapping[str, Product],
    organization: Organization,
) -> GroupPreview:
    def name(sku: str) -> str:
        return products[sku].display_name if sku in products else sku

    # Seats freed by members who lose a product go back to the pool before the others take one.
    results = process_members(
        group.id, after, members, _freed(group, after, members, products), country=organization.country_code
    )
    by_member: dict[str, list[MemberLicense]] = {}
    for result in results:
        by_member.setdefault(result.user.id, []).append(result)
    preview = GroupPreview(group.display_name, len(members), country=organization.country_code)
    delta: dict[str, int] = {}
    for user in sorted(members, key=lambda member: member.display_name.casefold()):
        before = {lic.sku_id for lic in user.licenses}
        mine = by_member.get(user.id, [])
        now = {lic.sku_id for lic in user.licenses_apart_from(group.id)}
        now |= {r.license.sku_id for r in mine if not r.in_error}
        for sku in sorted(now - before, key=name):
            preview.gains.append((user.display_name, name(sku)))
            delta[sku] = delta.get(sku, 0) + 1
        for sku in sorted(before - now, key=name):
            preview.loses.append((user.display_name, name(sku)))
            delta[sku] = delta.get(sku, 0) - 1
        for result in mine:
            if result.in_error:
                problem, fix = member_error(
                    user,
                    result.license.sku_id,
                    result.error,
                    products,
                    group.display_name,
                    country=organization.country_code,
                    missing=result.missing,
                    removing=result.removing,
                )
                if result.conflict is not None:
                    problem = result.conflict.problem
                preview.errors.append((user.display_name, name(result.license.sku_id), problem, fix))
        if not user.usage_location and any(not r.in_error for r in mine):
            preview.no_location.append(user.display_name)
    for sku in sorted(delta, key=name):
        if delta[sku] and sku in products:
            seats = products[sku].seats
            preview.seats.append((name(sku), seats.consumed, seats.consumed + delta[sku], seats.enabled))
    return preview


def _freed(
    group: Group, after: Sequence[LicenseAssignment], members: Sequence[User], products: Mapping[str, Product]
) -> dict[str, Product]:
    """`products` with the seats members give back when the group stops giving them a product."""
    kept = {lic.sku_id for lic in after}
    freed: dict[str, int] = {}
    for user in members:
        others = {lic.sku_id for lic in user.licenses_apart_from(group.id)}
        for lic in user.inherited_licenses():
            if lic.sku_id not in kept and lic.sku_id not in others and group.id in user.groups_of(lic.sku_id):
                freed[lic.sku_id] = freed.get(lic.sku_id, 0) + 1
    result = dict(products)
    for sku, count in freed.items():
        if sku in result:
            product = result[sku]
            result[sku] = replace(product, seats=product.seats.after(-count))
    return result
