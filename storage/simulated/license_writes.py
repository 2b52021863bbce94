"""License writes to the simulated tenant's users, inside a given session: the port's `apply` and
Graph's `assignLicense`, refused as Microsoft 365 refuses them (R2–R6, R21), each write recorded in
`sim_license_events`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.changes import ChangeOutcome, OutcomeKind, UserChange
from domain.errors import (
    ChangeConflict,
    DomainError,
    LicenseInherited,
    NothingToChange,
    UnknownProduct,
    UnknownServicePlan,
    UnknownUser,
)
from domain.model import LicenseAssignment, Product, User, licenses_by_sku, licenses_to_json
from domain.ports import Clock
from domain.rules import check_assignable, check_seats, check_usage_location, find_conflict
from storage.orm import SimLicenseEventRow, SimProductRow, SimUserLicenseRow, SimUserRow
from storage.simulated.groups import SimulatedGroups
from storage.simulated.users import find_user_row, user_from_row

__all__ = ["LicenseWrites"]


class LicenseWrites:
    """The users' license writes of `SimulatedDirectory`; `products` reads the products with their
    seats as the session sees them."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        products: Callable[[], dict[str, Product]],
        groups: SimulatedGroups,
    ) -> None:
        self._session = session
        self._clock = clock
        self._products = products
        self._groups = groups

    def apply(
        self,
        changes: Sequence[UserChange],
        *,
        request_id: str | None = None,
    ) -> list[ChangeOutcome]:
        """Write each change once, per the port's contract: after → ALREADY_APPLIED, neither before
        nor after → CONFLICT, a rule refusal → FAILED; one event per user written.

        The users, then the products that gain a holder, are locked in a fixed order (PostgreSQL;
        SQLite serializes whole transactions), so concurrent batches neither double-write a user
        nor both take the last seat.
        """
        rows = self._lock_users([change.user_id for change in changes])
        self._lock_products({sku for change in changes for sku in change.gained})
        return [self._apply_one(change, rows.get(change.user_id), request_id) for change in changes]

    def assign_license(
        self,
        user_key: str,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        *,
        request_id: str | None = None,
    ) -> User:
        """Graph's `assignLicense`: add and remove in one write, checked by the rules (R2–R6).

        Raises the domain error of the first rule that refuses; nothing is written then.
        """
        found = find_user_row(self._session, user_key)
        if found is None:
            raise UnknownUser(user_key)
        row = self._lock_users([found.id])[found.id]
        self._lock_products({lic.sku_id for lic in add})
        return self._write(row, add, remove, request_id)

    def _apply_one(self, change: UserChange, row: SimUserRow | None, request_id: str | None) -> ChangeOutcome:
        if row is None:
            return ChangeOutcome.failed(change.user_id, UnknownUser(change.user_principal_name))
        user = user_from_row(row)
        # A write to a user changes only what is assigned to them directly (R21).
        state = change.state_of(user.direct_licenses)
        if state == "after":
            return ChangeOutcome(change.user_id, OutcomeKind.ALREADY_APPLIED, licenses=user.licenses)
        if state == "other":
            conflict = ChangeConflict(user.display_name)
            return ChangeOutcome(
                change.user_id, OutcomeKind.CONFLICT, conflict.message, conflict.rule, user.licenses
            )
        try:
            written = self._write(row, change.add, change.remove, request_id)
        except DomainError as refusal:
            return ChangeOutcome.failed(change.user_id, refusal)
        return ChangeOutcome(change.user_id, OutcomeKind.APPLIED, licenses=written.licenses)

    def _write(
        self,
        row: SimUserRow,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        request_id: str | None,
    ) -> User:
        user = user_from_row(row)
        if not add and not remove:
            raise NothingToChange(f"No license to add to or remove from {user.display_name}.")
        current = licenses_by_sku(user.direct_licenses)
        adding = licenses_by_sku(add)
        products = self._products()
        for sku in remove:
            if sku not in current and user.only_inherited(sku):
                # R21: Graph refuses it ("User license is inherited from group membership ...").
                names = [g.display_name for g in self._groups.by_id(user.groups_of(sku)).values() if g]
                raise LicenseInherited(user.display_name, _label(products, sku), names)
            if sku not in current:
                raise NothingToChange(f"{user.display_name} has no {_label(products, sku)} license.")
            if sku in adding:
                raise DomainError(
                    f"{_label(products, sku)} cannot be added and removed in one change.",
                    "Add it or remove it.",
                )
        for lic in adding.values():
            product = products.get(lic.sku_id)
            if product is None:
                raise UnknownProduct(lic.sku_id, known=[p.part_number for p in products.values()])
            unknown = sorted(lic.disabled_plans - product.plan_ids)
            if unknown:
                known = [p.display_name for p in product.service_plans if not p.automatic]
                raise UnknownServicePlan(unknown[0], product.display_name, known)
        held = {lic.sku_id for lic in user.licenses}
        gained = [products[sku] for sku in adding if sku not in held]
        for product in gained:
            check_assignable(product)  # R3
            check_usage_location(user)  # R4
        after = {sku: lic for sku, lic in current.items() if sku not in remove} | adding
        inherited = {lic.sku_id: lic for lic in user.inherited_licenses() if lic.sku_id not in after}
        find_conflict(user, [*after.values(), *inherited.values()], products)  # R6
        for product in gained:
            check_seats(product, 1)  # R2
        self._store_licenses(row, after)
        self._session.add(
            SimLicenseEventRow(
                at=self._clock.now(),
                user_id=row.id,
                before=licenses_to_json(current.values()),
                after=licenses_to_json(after.values()),
                request_id=request_id or uuid.uuid4().hex,
            )
        )
        self._session.flush()
        return user_from_row(row)

    def _store_licenses(self, row: SimUserRow, after: dict[str, LicenseAssignment]) -> None:
        held = {lic.sku_id: lic for lic in row.licenses}
        for sku, lic_row in held.items():
            if sku not in after:
                row.licenses.remove(lic_row)
        for sku, lic in after.items():
            disabled = sorted(lic.disabled_plans)
            if sku in held:
                if held[sku].disabled_plans != disabled:
                    held[sku].disabled_plans = disabled
            else:
                row.licenses.append(SimUserLicenseRow(sku_id=sku, disabled_plans=disabled))

    def _lock_users(self, user_ids: Iterable[str]) -> dict[str, SimUserRow]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        # populate_existing: a row this session already holds is refreshed from the locked read.
        query = (
            select(SimUserRow)
            .where(SimUserRow.id.in_(wanted))
            .order_by(SimUserRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {row.id: row for row in self._session.scalars(query)}

    def _lock_products(self, sku_ids: Iterable[str]) -> None:
        wanted = sorted(set(sku_ids))
        if wanted:
            query = select(SimProductRow.sku_id).where(SimProductRow.sku_id.in_(wanted))
            self._session.execute(query.order_by(SimProductRow.sku_id).with_for_update()).all()


def _label(products: Mapping[str, Product], sku_id: str) -> str:
    product = products.get(sku_id)
    return product.display_name if product else sku_id
