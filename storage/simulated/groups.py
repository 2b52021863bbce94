"""Microsoft Entra groups of the simulated tenant and their licenses (R21), inside a given session.

A write to a group's licenses (Graph's `POST /groups/{id}/assignLicense`) changes the group at once
and starts processing; the members get the result only once processing is over (the group's
`processing_delay_seconds` after the write), exactly as Microsoft 365 does it asynchronously. Processing
is carried out lazily by the next read that finds it due (`settle`), by `domain.group_licensing`:
members it cannot license are left in an error state (seats, conflicting plans, a product not offered
in their country or region, a service that needs another one), as the preview predicts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from domain.errors import DomainError, NothingToChange, UnknownProduct, UnknownServicePlan
from domain.group_licensing import process_members
from domain.model import (
    NO_ERROR,
    Group,
    LicenseAssignment,
    ProcessingState,
    Product,
    User,
    licenses_by_sku,
    licenses_from_json,
    licenses_to_json,
)
from domain.ports import Clock
from domain.rules import check_assignable
from storage.orm import SimGroupLicenseStateRow, SimGroupMemberRow, SimGroupRow, SimUserRow
from storage.simulated.users import user_from_row

__all__ = ["SimulatedGroups", "UnknownGroup"]


class UnknownGroup(LookupError):
    """No group has this object id (Graph answers 404)."""


class SimulatedGroups:
    def __init__(
        self,
        session: Session,
        clock: Clock,
        products: Callable[[], dict[str, Product]],
        country: Callable[[], str] = lambda: "",
    ) -> None:
        self._session = session
        self._clock = clock
        self._products = products
        self._country = country
        """The organization's country: where members without a usage location are licensed."""

    # Reads

    def find(self, key: str) -> list[Group]:
        """Groups by object id, else by mail nickname or display name (case-insensitively)."""
        wanted = key.strip().casefold()
        if not wanted:
            return []
        self.settle()
        by_id = self._session.get(SimGroupRow, key.strip())
        if by_id is not None:
            return [self._group(by_id)]
        rows = self._session.scalars(
            select(SimGroupRow)
            .where(
                or_(
                    func.lower(SimGroupRow.display_name) == wanted,
                    func.lower(SimGroupRow.mail_nickname) == wanted,
                    func.lower(SimGroupRow.id) == wanted,
                )
            )
            .order_by(SimGroupRow.display_name, SimGroupRow.id)
        ).all()
        return [self._group(row) for row in rows]

    def all(self) -> list[Group]:
        self.settle()
        rows = self._session.scalars(select(SimGroupRow).order_by(SimGroupRow.display_name, SimGroupRow.id))
        return [self._group(row) for row in rows]

    def licensed(self) -> list[Group]:
        """Groups that give a license, with their members counted."""
        self.settle()
        counts = dict(
            self._session.execute(
                select(SimGroupMemberRow.group_id, func.count()).group_by(SimGroupMemberRow.group_id)
            ).all()
        )
        rows = self._session.scalars(select(SimGroupRow).order_by(SimGroupRow.display_name, SimGroupRow.id))
        return [
            replace(self._group(row), member_count=int(counts.get(row.id, 0)))
            for row in rows
            if row.assigned_licenses
        ]

    def by_id(self, group_ids: Sequence[str]) -> dict[str, Group | None]:
        self.settle()
        wanted = list(dict.fromkeys(group_ids))
        found: dict[str, Group | None] = dict.fromkeys(wanted)
        if wanted:
            rows = self._session.scalars(select(SimGroupRow).where(SimGroupRow.id.in_(wanted)))
            found.update((row.id, self._group(row)) for row in rows)
        return found

    def members(self, group_id: str) -> list[User]:
        self.settle()
        self._row(group_id)
        return [user_from_row(row) for row in self._member_rows(group_id)]

    def members_with_errors(self, group_id: str) -> list[User]:
        """Graph's `membersWithLicenseErrors`: members the group's licenses are in error for."""
        self.settle()
        self._row(group_id)
        in_error = (
            select(SimGroupLicenseStateRow.user_id)
            .where(SimGroupLicenseStateRow.group_id == group_id, SimGroupLicenseStateRow.error != NO_ERROR)
            .distinct()
        )
        rows = self._session.scalars(
            select(SimUserRow).where(SimUserRow.id.in_(in_error)).order_by(SimUserRow.id)
        )
        return [user_from_row(row) for row in rows]

    # Writes

    def add(
        self,
        display_name: str,
        *,
        mail_nickname: str = "",
        members: Iterable[str] = (),
        licenses: Sequence[LicenseAssignment] = (),
        processing_delay: timedelta = timedelta(0),
        group_id: str | None = None,
    ) -> Group:
        """A new group with these members (user object ids) and licenses, processed at once."""
        row = SimGroupRow(
            id=group_id or str(uuid.uuid4()),
            display_name=display_name,
            mail_nickname=mail_nickname or "".join(ch for ch in display_name if ch.isalnum()),
            assigned_licenses=licenses_to_json(licenses),
            processing_state=ProcessingState.COMPLETE.value,
            processing_until=None,
            processing_delay_seconds=int(processing_delay.total_seconds()),
        )
        self._session.add(row)
        self._session.flush()
        for user_id in dict.fromkeys(members):
            self._session.add(SimGroupMemberRow(group_id=row.id, user_id=user_id))
        self._session.flush()
        if licenses:
            self._process(row)
        return self._group(row)

    def assign_license(self, group_id: str, add: Sequence[LicenseAssignment], remove: Sequence[str]) -> Group:
        """Graph's group `assignLicense`: the group's licenses change now, its members once
        processing is over. Seats and members' conflicts are not checked here: Microsoft 365 takes
        the write and leaves the members it cannot license in error (R21)."""
        self.settle()
        row = self._row(group_id, lock=True)
        current = licenses_by_sku(licenses_from_json(row.assigned_licenses))
        adding = licenses_by_sku(add)
        products = self._products()
        if not add and not remove:
            raise NothingToChange(f"No license to add to or remove from the group {row.display_name}.")
        for sku in remove:
            if sku not in current:
                raise NothingToChange(f"The group {row.display_name} has no {_label(products, sku)} license.")
            if sku in adding:
                raise DomainError(
                    f"{_label(products, sku)} cannot be added and removed in one change.",
                    "Add it or remove it.",
                )
        for lic in adding.values():
            product = products.get(lic.sku_id)
            if product is None:
                raise UnknownProduct(lic.sku_id, known=[p.part_number for p in products.values()])
            check_assignable(product)  # R3
            unknown = sorted(lic.disabled_plans - product.plan_ids)
            if unknown:
                known = [p.display_name for p in product.service_plans if not p.automatic]
                raise UnknownServicePlan(unknown[0], product.display_name, known)
        after = {sku: lic for sku, lic in current.items() if sku not in remove} | adding
        row.assigned_licenses = licenses_to_json(after.values())
        delay = timedelta(seconds=row.processing_delay_seconds)
        if delay <= timedelta(0):
            self._process(row)
        else:
            row.processing_state = ProcessingState.IN_PROGRESS.value
            row.processing_until = self._clock.now() + delay
        self._session.flush()
        return self._group(row)

    def stall(self, group_id: str) -> None:
        """Processing of this group starts and never ends (a fault for tests and the simulator)."""
        row = self._row(group_id, lock=True)
        row.processing_state = ProcessingState.IN_PROGRESS.value
        row.processing_until = None
        self._session.flush()

    def set_processing_delay(self, group_id: str, delay: timedelta) -> None:
        row = self._row(group_id, lock=True)
        row.processing_delay_seconds = int(delay.total_seconds())
        self._session.flush()

    def settle(self) -> None:
        """Carry out the processing that is due: what Microsoft 365 does in the background."""
        due = self._session.scalars(
            select(SimGroupRow)
            .where(
                SimGroupRow.processing_state != ProcessingState.COMPLETE.value,
                SimGroupRow.processing_until.is_not(None),
                SimGroupRow.processing_until <= self._clock.now(),
            )
            .order_by(SimGroupRow.id)
            .with_for_update()
        ).all()
        for row in due:
            self._process(row)

    # Internals

    def _process(self, row: SimGroupRow) -> None:
        members = [user_from_row(user) for user in self._member_rows(row.id)]
        licenses = licenses_from_json(row.assigned_licenses)
        results = process_members(row.id, licenses, members, self._products(), country=self._country())
        self._session.execute(
            delete(SimGroupLicenseStateRow)
            .where(SimGroupLicenseStateRow.group_id == row.id)
            .execution_options(synchronize_session=False)
        )
        for result in results:
            self._session.add(
                SimGroupLicenseStateRow(
                    group_id=row.id,
                    user_id=result.user.id,
                    sku_id=result.license.sku_id,
                    disabled_plans=sorted(result.license.disabled_plans),
                    error=result.error,
                )
            )
        row.processing_state = ProcessingState.COMPLETE.value
        row.processing_until = None
        self._session.flush()
        for user in self._member_rows(row.id):
            self._session.expire(user, ["inherited"])

    def _member_rows(self, group_id: str) -> list[SimUserRow]:
        members = select(SimGroupMemberRow.user_id).where(SimGroupMemberRow.group_id == group_id)
        return list(
            self._session.scalars(
                select(SimUserRow).where(SimUserRow.id.in_(members)).order_by(SimUserRow.id)
            )
        )

    def _row(self, group_id: str, *, lock: bool = False) -> SimGroupRow:
        query = select(SimGroupRow).where(SimGroupRow.id == group_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = self._session.scalars(query).first()
        if row is None:
            raise UnknownGroup(group_id)
        return row

    def _group(self, row: SimGroupRow) -> Group:
        in_error = self._session.scalar(
            select(func.count())
            .select_from(SimGroupLicenseStateRow)
            .where(SimGroupLicenseStateRow.group_id == row.id, SimGroupLicenseStateRow.error != NO_ERROR)
        )
        return Group(
            id=row.id,
            display_name=row.display_name,
            mail_nickname=row.mail_nickname,
            licenses=licenses_from_json(row.assigned_licenses),
            processing=ProcessingState(row.processing_state),
            has_members_with_errors=bool(in_error),
        )


def _label(products: Mapping[str, Product], sku_id: str) -> str:
    product = products.get(sku_id)
    return product.display_name if product else sku_id
