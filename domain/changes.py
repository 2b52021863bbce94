"""License changes: planning one user's change (R3–R8) and the change set aggregate (R2, R7, R20).

A change is described by the user's licenses before and after. Applying it is one `assignLicense`
per user (add and remove together, so nobody is left without a license in between, R7), and it is
idempotent: a user already in the `after` state is not written again; a user in neither state was
changed by someone else and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import (
    ChangeNotPending,
    DomainError,
    IllegalTransition,
    LicenseInherited,
    LicenseNotHeld,
    NothingToChange,
)
from domain.model import LicenseAssignment, Organization, Product, User, licenses_by_sku
from domain.rules import (
    check_assignable,
    check_in_organization,
    check_usage_location,
    find_conflict,
    merge_disabled_plans,
)

__all__ = [
    "REFERENCE_LENGTH",
    "ChangeItem",
    "ChangeKind",
    "ChangeOutcome",
    "ChangeSet",
    "ChangeState",
    "ItemStatus",
    "OutcomeKind",
    "ProductSnapshot",
    "UserChange",
    "plan_undo",
    "plan_user_change",
    "reference_of",
    "seats_needed",
    "snapshot_products",
]


REFERENCE_LENGTH = 8
"""A change set's reference is the start of its id: short to type, and with 16⁸ values, two changes
that share one are rare; `/license status` and `/license undo` say so when one does."""


def reference_of(change_set_id: str) -> str:
    """What an admin reads and types for a change set: `e54d51b4` for `e54d51b4…` (32 hex digits)."""
    return change_set_id[:REFERENCE_LENGTH]


class ChangeKind(StrEnum):
    ASSIGN = "assign"
    REPLACE = "replace"
    REMOVE = "remove"
    SERVICES = "services"
    UNDO = "undo"
    """Each user back to what they held before an earlier change set (`ChangeSet.undo_of`)."""
    RECLAIM = "reclaim"
    """Every license of disabled (or inactive) accounts taken back (R22), whatever the product."""

    @property
    def removes_access(self) -> bool:
        """Changes that take something away are previewed and confirmed first (DESIGN.md §3).

        An undo takes back whatever the change it undoes gave, so it is always previewed.
        """
        return self in {ChangeKind.REPLACE, ChangeKind.REMOVE, ChangeKind.UNDO, ChangeKind.RECLAIM}


@dataclass(frozen=True, slots=True)
class UserChange:
    """One user's licenses before and after: the unit that is written, audited and undone."""

    user_id: str
    user_principal_name: str
    display_name: str
    before: tuple[LicenseAssignment, ...]
    after: tuple[LicenseAssignment, ...]

    @property
    def add(self) -> tuple[LicenseAssignment, ...]:
        """`addLicenses`: new products, and held products whose disabled plans change."""
        held = licenses_by_sku(self.before)
        return tuple(lic for lic in self.after if held.get(lic.sku_id) != lic)

    @property
    def remove(self) -> tuple[str, ...]:
        """`removeLicenses`: products held before and not after."""
        kept = {lic.sku_id for lic in self.after}
        return tuple(lic.sku_id for lic in self.before if lic.sku_id not in kept)

    @property
    def gained(self) -> tuple[str, ...]:
        held = {lic.sku_id for lic in self.before}
        return tuple(lic.sku_id for lic in self.after if lic.sku_id not in held)

    @property
    def is_noop(self) -> bool:
        return not self.add and not self.remove

    def state_of(self, licenses: Iterable[LicenseAssignment]) -> str:
        """'before', 'after' or 'other': where a user's current licenses stand for this change."""
        current = licenses_by_sku(licenses)
        if current == licenses_by_sku(self.after):
            return "after"
        if current == licenses_by_sku(self.before):
            return "before"
        return "other"

    def reversed(self) -> UserChange:
        return replace(self, before=self.after, after=self.before)


class OutcomeKind(StrEnum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already-applied"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What the directory did with one `UserChange`."""

    user_id: str
    kind: OutcomeKind
    reason: str = ""
    rule: str = ""
    licenses: tuple[LicenseAssignment, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.kind in {OutcomeKind.APPLIED, OutcomeKind.ALREADY_APPLIED}

    @classmethod
    def failed(cls, user_id: str, error: DomainError) -> ChangeOutcome:
        return cls(user_id, OutcomeKind.FAILED, error.message, error.rule)


def plan_user_change(
    kind: ChangeKind,
    user: User,
    product: Product,
    products: Mapping[str, Product],
    organization: Organization,
    *,
    turn_off: frozenset[str] = frozenset(),
    turn_on: frozenset[str] = frozenset(),
    groups: Mapping[str, str] | None = None,
) -> UserChange:
    """Plan one user's change, or raise the rule that refuses it (R3–R8, R21).

    `products` is every product of the tenant by sku id (for the conflict check of R6); `groups`
    names the groups the user gets licenses from, by object id. The change is what is assigned to
    the user directly: a license the user only inherits from a group is never planned to go (R21,
    Graph refuses it), and one held both ways loses only its direct assignment.
    """
    check_in_organization(user, organization)
    current = licenses_by_sku(user.licenses)
    direct = licenses_by_sku(user.direct_licenses)
    held = current.get(product.sku_id)
    held_direct = direct.get(product.sku_id)

    def group_names(sku_id: str) -> list[str]:
        known = groups or {}
        return [known[group_id] for group_id in dict.fromkeys(user.groups_of(sku_id)) if group_id in known]

    if kind is ChangeKind.REMOVE:
        if held is None:
            holds = [products[lic.sku_id].display_name for lic in user.licenses if lic.sku_id in products]
            raise LicenseNotHeld(user.display_name, product.display_name, holds)
        if held_direct is None:
            raise LicenseInherited(user.display_name, product.display_name, group_names(product.sku_id))
        after = [lic for lic in direct.values() if lic.sku_id != product.sku_id]
    else:
        if held_direct is None and held is not None and (kind is ChangeKind.SERVICES or turn_off or turn_on):
            # R5 + R21: the services of a license from a group are the group's.
            raise LicenseInherited(
                user.display_name, product.display_name, group_names(product.sku_id), services=True
            )
        if kind is ChangeKind.ASSIGN and held_direct is None and held is not None:
            names = " and ".join(f"the group {name}" for name in group_names(product.sku_id)) or "a group"
            raise NothingToChange(f"{user.display_name} already gets {product.display_name} from {names}.")
        base = held_direct.disabled_plans if held_direct else frozenset()
        target = LicenseAssignment(product.sku_id, merge_disabled_plans(base, turn_off, turn_on))
        if kind is ChangeKind.REPLACE:
            inherited = [
                sku for sku in current if sku != product.sku_id and sku not in direct and user.groups_of(sku)
            ]
            if inherited:
                # R21: the others go ahead; this user keeps what groups give them, so no replace.
                labels = [products[sku].display_name if sku in products else sku for sku in inherited]
                sources = list(dict.fromkeys(name for sku in inherited for name in group_names(sku)))
                raise LicenseInherited(user.display_name, " and ".join(labels), sources)
            # R7: every previous assignment goes, the new one comes, in the same write.
            after = [target]
        else:
            if kind is ChangeKind.SERVICES and held is None:
                raise NothingToChange(
                    f"{user.display_name} has no {product.display_name} license.",
                    "Assign it first (`/license assign`).",
                )
            after = [lic for lic in direct.values() if lic.sku_id != product.sku_id] + [target]
        if held is None:
            check_assignable(product)
            check_usage_location(user)
        kept = {lic.sku_id for lic in after}
        find_conflict(
            user, after + [lic for lic in user.inherited_licenses() if lic.sku_id not in kept], products
        )
    change = UserChange(
        user.id,
        user.user_principal_name,
        user.display_name,
        tuple(sorted(direct.values(), key=lambda lic: lic.sku_id)),
        tuple(sorted(after, key=lambda lic: lic.sku_id)),
    )
    if change.is_noop:
        raise NothingToChange(f"{user.display_name} already has that.")
    return change


def seats_needed(changes: Iterable[UserChange], sku_id: str) -> int:
    """R2: how many of these changes take a new seat of the product."""
    return sum(1 for change in changes if sku_id in change.gained)


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    """What a change set needs to describe a product it touches, as it was when it was planned:
    its names, its seats and the names of its service plans (so no reply has to read the tenant)."""

    sku_id: str
    part_number: str
    display_name: str
    seats_consumed: int
    seats_enabled: int
    plans: tuple[tuple[str, str], ...] = ()
    """(plan id, display name) of every service plan."""

    @classmethod
    def of(cls, product: Product) -> ProductSnapshot:
        return cls(
            product.sku_id,
            product.part_number,
            product.display_name,
            product.seats.consumed,
            product.seats.enabled,
            tuple((plan.id, plan.display_name or plan.name) for plan in product.service_plans),
        )

    def plan_names(self, plan_ids: Iterable[str]) -> list[str]:
        """Display names of these plans, in the product's order (unknown ids are left out)."""
        wanted = set(plan_ids)
        return [name for plan_id, name in self.plans if plan_id in wanted]


def snapshot_products(products: Iterable[Product], sku_ids: Iterable[str]) -> dict[str, ProductSnapshot]:
    """Snapshots of the products among `products` whose sku id is in `sku_ids`."""
    wanted = set(sku_ids)
    return {p.sku_id: ProductSnapshot.of(p) for p in products if p.sku_id in wanted}


class ChangeState(StrEnum):
    PREVIEWED = "previewed"
    APPLYING = "applying"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ItemStatus(StrEnum):
    PLANNED = "planned"
    SENDING = "sending"
    """Written to the directory, outcome not yet recorded: verify before writing again."""
    APPLIED = "applied"
    ALREADY_APPLIED = "already-applied"
    CONFLICT = "conflict"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self not in {ItemStatus.PLANNED, ItemStatus.SENDING}


@dataclass(slots=True)
class ChangeItem:
    change: UserChange
    status: ItemStatus = ItemStatus.PLANNED
    reason: str = ""
    rule: str = ""


@dataclass(slots=True)
class ChangeSet:
    """A previewed, confirmed and applied license change for one or more users (aggregate).

    States: previewed → applying → done, or previewed → cancelled | expired. Confirming twice
    raises `ChangeNotPending`, which is how a double click or a retried request does nothing.
    """

    id: str
    kind: ChangeKind
    requested_by: str
    product_sku: str
    product_label: str
    items: list[ChangeItem]
    created_at: datetime
    expires_at: datetime
    state: ChangeState = ChangeState.PREVIEWED
    refused: list[tuple[str, str]] = field(default_factory=list)
    """Users left out at preview time, with the reason (label, message)."""
    confirmed_by: str = ""
    channel: str = ""
    message_ts: str = ""
    undo_of: str = ""
    seats_before: int = 0
    seats_total: int = 0
    products: dict[str, ProductSnapshot] = field(default_factory=dict)
    """Every product the change touches, as planned: replies render from this, not from the tenant."""
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    """Users for whom nothing would change (label, why): neither refused nor part of the change."""
    turn_off: tuple[str, ...] = ()
    """Service plan ids asked to be turned off (R5), so a retry asks for the same."""
    turn_on: tuple[str, ...] = ()
    undoable_until: datetime | None = None
    """Set when the change is done and something was written: until then it can be undone."""
    request_key: str = ""
    """The idempotency key claimed with this change set (a retry or an undo of another one)."""
    notes: list[tuple[str, str]] = field(default_factory=list)
    """What the preview says about users in the change (label, note): a license they keep through
    a group although its direct assignment goes (R21)."""
    group_id: str = ""
    """Set when the change is a Microsoft Entra group's own license (R21): its one item is the
    group (`domain.group_licensing.group_as_target`), written with the group's `assignLicense`."""
    details: dict[str, Any] = field(default_factory=dict)
    """A group change's predicted effect on the members (`GroupPreview.to_json`)."""

    @property
    def reference(self) -> str:
        return reference_of(self.id)

    def label(self, sku_id: str) -> str:
        """A product's display name, from the snapshot (its sku id when the change never saw it)."""
        if sku_id == self.product_sku:
            return self.product_label
        snapshot = self.products.get(sku_id)
        return snapshot.display_name if snapshot else sku_id

    def can_undo(self, now: datetime) -> bool:
        return (
            self.state is ChangeState.DONE
            and self.undoable_until is not None
            and now < self.undoable_until
            and any(item.status is ItemStatus.APPLIED for item in self.items)
        )

    def confirm(self, by: str, now: datetime) -> None:
        if self.state is ChangeState.PREVIEWED and now >= self.expires_at:
            self.state = ChangeState.EXPIRED
        if self.state is not ChangeState.PREVIEWED:
            raise ChangeNotPending(self.state.value)
        self.state = ChangeState.APPLYING
        self.confirmed_by = by

    def cancel(self) -> None:
        if self.state is not ChangeState.PREVIEWED:
            raise ChangeNotPending(self.state.value)
        self.state = ChangeState.CANCELLED

    def next_batch(self, size: int) -> list[ChangeItem]:
        """R17: the next items to send, at most `size` (Graph's `$batch` takes 20)."""
        self._require_applying("sending")
        batch = [item for item in self.items if not item.status.final][:size]
        if not batch:
            self.state = ChangeState.DONE
        return batch

    def _require_applying(self, wanted: str) -> None:
        # Only a confirmed change set is written: a preview, a cancelled or a finished one never is.
        if self.state is not ChangeState.APPLYING:
            raise IllegalTransition("A change set", self.state.value, wanted)

    def mark_sending(self, items: Sequence[ChangeItem]) -> None:
        self._require_applying("sending")
        for item in items:
            item.status = ItemStatus.SENDING

    def record(self, outcome: ChangeOutcome) -> ChangeItem:
        self._require_applying(outcome.kind.value)
        item = next(i for i in self.items if i.change.user_id == outcome.user_id)
        item.status = ItemStatus(outcome.kind.value)
        item.reason = outcome.reason
        item.rule = outcome.rule
        if all(i.status.final for i in self.items):
            self.state = ChangeState.DONE
        return item

    def counts(self) -> dict[ItemStatus, int]:
        totals = dict.fromkeys(ItemStatus, 0)
        for item in self.items:
            totals[item.status] += 1
        return totals

    @property
    def failed_items(self) -> list[ChangeItem]:
        return [item for item in self.items if item.status in {ItemStatus.FAILED, ItemStatus.CONFLICT}]


def plan_undo(
    done: ChangeSet, current: Mapping[str, User | None]
) -> tuple[list[ChangeItem], list[tuple[str, str]], list[tuple[str, str]]]:
    """Each user the change wrote to, back to what they held before it (R20: the audit of `done`).

    `current` is every such user as the tenant has them now, by object id. A user changed since (or
    gone) is refused with the reason: undoing would overwrite what someone else did. Users the
    change found already in its target state were not written, so there is nothing to undo for
    them. Returns the items, the refusals and the unchanged users, as (label, reason).
    """
    items: list[ChangeItem] = []
    refused: list[tuple[str, str]] = []
    unchanged: list[tuple[str, str]] = []
    for item in done.items:
        change = item.change
        if item.status is ItemStatus.ALREADY_APPLIED:
            unchanged.append((change.display_name, "already had it, so the change did not touch them"))
            continue
        if item.status is not ItemStatus.APPLIED:
            unchanged.append((change.display_name, "the change failed for them, so nothing to undo"))
            continue
        user = current.get(change.user_id)
        if user is None:
            refused.append((change.display_name, "no longer in the tenant"))
        elif change.state_of(user.direct_licenses) != "after":
            refused.append(
                (
                    user.display_name,
                    "their licenses changed since, so undoing would overwrite that; "
                    "change them by hand (`/license show`).",
                )
            )
        else:
            items.append(ChangeItem(change.reversed()))
    return items, refused, unchanged
