"""Planning a user license change from the tenant as it is now (R2–R8, R21).

The tenant is read here with no unit of work open; the rules decide, user by user, what changes,
who is refused and why, and whether the seats suffice. The change set is returned unkept.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from domain.application.authorization import Requester
from domain.application.change_sets import FollowUp, touched_skus
from domain.application.lookups import TenantLookups
from domain.catalog import ProductCatalog
from domain.changes import ChangeItem, ChangeSet, plan_user_change, seats_needed, snapshot_products
from domain.commands import ChangeLicenses
from domain.errors import DomainError, NothingToChange
from domain.group_licensing import kept_through_groups
from domain.ports import Clock, TenantDirectory
from domain.rules import check_seats, resolve_plans

__all__ = ["PREVIEW_TTL", "ChangePlanner"]

PREVIEW_TTL = timedelta(minutes=15)
"""How long a preview can be confirmed, unless the service is given another time."""


class ChangePlanner:
    """Plans a `ChangeLicenses` for the users it names (R2–R8), without keeping it."""

    def __init__(
        self,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._lookups = TenantLookups(directory, catalog)
        self._preview_ttl = preview_ttl

    def plan(
        self, cmd: ChangeLicenses, requester: Requester, follow_up: FollowUp | None = None
    ) -> tuple[ChangeSet, str]:
        """The change set planned from the tenant as it is now (read here: no unit of work may be
        open), and the product's part number for the audit."""
        products = self._directory.products()
        product = self._catalog.resolve(cmd.product, products)
        by_sku = {p.sku_id: p for p in products}
        turn_off = resolve_plans(product, cmd.turn_off)
        turn_on = resolve_plans(product, cmd.turn_on)
        users = self._lookups.users(cmd.users)
        items: list[ChangeItem] = []
        refused: list[tuple[str, str]] = []
        unchanged: list[tuple[str, str]] = []
        first_refusal: DomainError | None = None
        org = self._directory.organization()
        groups = self._lookups.group_names(users)
        notes: list[tuple[str, str]] = []
        sources: dict[str, dict[str, list[str]]] = {}
        for user in users:
            try:
                change = plan_user_change(
                    cmd.kind, user, product, by_sku, org, turn_off=turn_off, turn_on=turn_on, groups=groups
                )
            except NothingToChange as nothing:
                first_refusal = first_refusal or nothing
                unchanged.append((user.display_name, nothing.message))
                continue
            except DomainError as refusal:
                if cmd.all_or_nothing:
                    raise
                first_refusal = first_refusal or refusal
                refused.append((user.display_name, refusal.message))
                continue
            items.append(ChangeItem(change))
            notes.extend(
                (user.display_name, note) for note in kept_through_groups(user, change.remove, by_sku, groups)
            )
            # R21: seats are per user and product, whatever the sources: a direct assignment that
            # goes while a group still gives the product frees no seat, and one added to what a
            # group gives already takes none.
            inherited = {lic.sku_id for lic in user.inherited_licenses()}
            kept = [sku for sku in change.remove if sku in inherited]
            held = [sku for sku in change.gained if sku in inherited]
            if kept:
                sources.setdefault("kept", {})[user.id] = kept
            if held:
                sources.setdefault("held", {})[user.id] = held
        if not items:
            if len(users) == 1 and first_refusal is not None:
                raise first_refusal
            reasons = " ".join(_reason_line(name, why) for name, why in [*refused, *unchanged][:5])
            raise NothingToChange(f"Nothing to change for these users. {reasons}")
        held_already = sum(1 for skus in sources.get("held", {}).values() if product.sku_id in skus)
        check_seats(product, seats_needed((i.change for i in items), product.sku_id) - held_already)
        now = self._clock.now()
        touched = touched_skus(items, product.sku_id)
        change_set = ChangeSet(
            id=follow_up.change_set_id if follow_up else uuid.uuid4().hex,
            kind=cmd.kind,
            requested_by=requester.name,
            product_sku=product.sku_id,
            product_label=product.display_name,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            refused=refused,
            channel=cmd.channel,
            seats_before=product.seats.consumed,
            seats_total=product.seats.enabled,
            products=snapshot_products(products, touched),
            unchanged=unchanged,
            turn_off=tuple(sorted(turn_off)),
            turn_on=tuple(sorted(turn_on)),
            request_key=follow_up.key if follow_up else "",
            notes=notes,
            details=dict(sources),
        )
        if not cmd.kind.removes_access:
            change_set.confirm(requester.name, now)
        return change_set, product.part_number


def _reason_line(name: str, why: str) -> str:
    """One user's reason as a sentence: named once (the reason may start with the name already),
    ending with one full stop."""
    sentence = why.strip()
    if not sentence.startswith(name):
        sentence = f"{name}: {sentence}"
    return sentence if sentence.endswith((".", "!", "?")) else f"{sentence}."
