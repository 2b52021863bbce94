"""What is done with a change after it is kept: look it up by reference, retry what failed, undo it.

A retry or an undo is a new change set (a follow-up) planned afresh from the tenant as it is now,
previewed, confirmed and written by `Licensing` like any change, and audited (R20). Its id derives
from the original's, so every replica finds the earlier ones and two clicks yield one follow-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.application.authorization import Authorization, Requester
from domain.application.change_sets import FollowUp, keep_change_set, load_change_set, touched_skus
from domain.application.planning import PREVIEW_TTL, ChangePlanner
from domain.catalog import ProductCatalog
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    plan_undo,
    seats_needed,
    snapshot_products,
)
from domain.commands import ChangeLicenses, RetryFailed, ShowChange, UndoChange
from domain.errors import AmbiguousChange, ChangeNotPending, NothingToChange, UndoNotAvailable, UnknownChange
from domain.group_licensing import group_as_target
from domain.model import Permission, User
from domain.ports import Clock, TenantDirectory, UnitOfWork, UnitOfWorkFactory
from domain.rules import check_seats
from domain.waste import reclaim_changes

__all__ = ["ChangeHistory"]

_FOLLOW_UPS = uuid.UUID("5f0c1f7e-3c1b-4b7e-9a51-6d2f1e0b8a44")
"""Namespace of the ids of follow-up change sets (`uuid5` of their request key)."""


class ChangeHistory:
    """A kept change by reference, and its follow-ups: retry what failed, undo it (R20)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        preview_ttl: timedelta = PREVIEW_TTL,
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._preview_ttl = preview_ttl
        self._authorization = Authorization(uow, directory, clock)
        self._planner = ChangePlanner(directory, clock, catalog, preview_ttl=preview_ttl)

    def retry_failed(self, cmd: RetryFailed) -> ChangeSet:
        """A new change set for the users a finished change failed for, planned afresh from what
        they hold now (same rules and preview as the first). A second click finds the retry asked
        for already; once that retry is cancelled or has expired, it can be asked for again."""
        requester = self._authorization.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            "retry a license change",
            cmd.correlation_id,
            change_set_id=cmd.change_set_id,
        )
        with self._uow() as uow:
            original = load_change_set(uow, cmd.change_set_id)
            slot = self._retry_slot(uow, original)
        failed = original.failed_items
        if original.group_id:
            raise NothingToChange(
                "A change to a group's license is not retried from here.",
                "Run the group command again: it shows a fresh preview of the members.",
            )
        if original.kind is ChangeKind.RECLAIM:
            change_set = self._reclaim_retry(original, failed, requester, slot)
            part_number = original.product_label
        elif original.kind is ChangeKind.UNDO:
            retried = [ChangeItem(i.change) for i in failed]
            change_set = self._undo_set(
                original, retried, refused=[], unchanged=[], requester=requester, slot=slot
            )
            part_number = original.product_label
        else:
            again = ChangeLicenses(
                kind=original.kind,
                requester=requester.name,
                users=tuple(item.change.user_id for item in failed),
                product=original.product_sku,
                turn_off=original.turn_off,
                turn_on=original.turn_on,
                correlation_id=cmd.correlation_id,
                channel=original.channel,
            )
            change_set, part_number = self._planner.plan(again, requester, slot)
        with self._uow() as uow:
            # Checked again under the original's row lock: two clicks take turns, one retry results.
            if self._retry_slot(uow, load_change_set(uow, original.id, for_update=True)) != slot:
                raise ChangeNotPending("retried (a retry of it was asked for already)")
            keep_change_set(uow, change_set, part_number, cmd.correlation_id)
            uow.commit()
        return change_set

    def _reclaim_retry(
        self, original: ChangeSet, failed: list[ChangeItem], requester: Requester, slot: FollowUp
    ) -> ChangeSet:
        """The failed users of a reclaim (R22), planned again from what they hold now."""
        current = self._directory.users_by_id([item.change.user_id for item in failed])
        changes = reclaim_changes(user for user in current.values() if user is not None)
        if not changes:
            raise NothingToChange("Nothing to retry: those accounts hold no license any more.")
        now = self._clock.now()
        items = [ChangeItem(change) for change in changes]
        return ChangeSet(
            id=slot.change_set_id,
            kind=ChangeKind.RECLAIM,
            requested_by=requester.name,
            product_sku="",
            product_label=original.product_label,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            channel=original.channel,
            products=snapshot_products(self._directory.products(), touched_skus(items, "")),
            request_key=slot.key,
        )

    def _retry_slot(self, uow: UnitOfWork, original: ChangeSet) -> FollowUp:
        if original.state is not ChangeState.DONE:
            raise ChangeNotPending(original.state.value)
        if not original.failed_items:
            raise NothingToChange("Nothing failed in this change, so there is nothing to retry.")
        slot, live = self._follow_up(uow, original, "retry", self._clock.now())
        if live is not None:
            raise ChangeNotPending("retried (a retry of it was asked for already)")
        return slot

    def change_by_reference(self, cmd: ShowChange) -> ChangeSet:
        """A change set by the short reference its messages show (`/license status|undo REF`)."""
        self._authorization.authorize_now(
            cmd.requester, Permission.READ, "look up a license change", cmd.correlation_id
        )
        wanted = cmd.reference.strip().strip("`").casefold()
        with self._uow() as uow:
            ids = uow.change_sets.ids_starting_with(wanted, limit=2)
            if len(ids) > 1:
                raise AmbiguousChange(cmd.reference)
            change_set = uow.change_sets.get(ids[0]) if ids else None
        if change_set is None:
            raise UnknownChange(cmd.reference)
        return change_set

    def request_undo(self, cmd: UndoChange) -> ChangeSet:
        """Preview putting everyone a finished change wrote to back to what they held before.

        Users changed since are refused with the reason; the undo itself is confirmed like any
        change that removes access, written like any change, and audited (R20).
        """
        requester = self._authorization.authorize_now(
            cmd.requester,
            Permission.MANAGE_LICENSES,
            "undo a license change",
            cmd.correlation_id,
            change_set_id=cmd.change_set_id,
        )
        with self._uow() as uow:
            original = load_change_set(uow, cmd.change_set_id)
            slot = self._undo_slot(uow, original)
        # The users as they are now, read in batches of 20 with no transaction open (R17).
        wrote = [i.change.user_id for i in original.items if i.status is ItemStatus.APPLIED]
        items, refused, unchanged = plan_undo(original, self._targets_now(original, wrote))
        if not items:
            reasons = "; ".join(f"{name}: {why}" for name, why in refused[:5])
            raise UndoNotAvailable(f"Nothing to undo: every user changed since. {reasons}")
        change_set = self._undo_set(
            original, items, refused=refused, unchanged=unchanged, requester=requester, slot=slot
        )
        change_set.group_id = original.group_id
        with self._uow() as uow:
            # Checked again under the original's row lock: two clicks take turns, one undo results.
            if self._undo_slot(uow, load_change_set(uow, original.id, for_update=True)) != slot:
                raise ChangeNotPending("being undone (an undo of it was asked for already)")
            keep_change_set(uow, change_set, original.product_label, cmd.correlation_id)
            uow.commit()
        return change_set

    def _targets_now(self, original: ChangeSet, ids: Sequence[str]) -> dict[str, User | None]:
        """The users (or, for a group's own license, the group) a change wrote to, as they are now."""
        if not original.group_id:
            return self._directory.users_by_id(ids)
        groups = self._directory.groups_by_id(ids)
        return {gid: (group_as_target(group) if group is not None else None) for gid, group in groups.items()}

    def _undo_slot(self, uow: UnitOfWork, original: ChangeSet) -> FollowUp:
        now = self._clock.now()
        if original.state is not ChangeState.DONE:
            raise UndoNotAvailable(
                f"This change is {original.state.value}, not done, so it cannot be undone."
            )
        if not original.can_undo(now):
            until = original.undoable_until
            raise UndoNotAvailable(
                "This change can no longer be undone"
                + (f": the undo expired at {until:%Y-%m-%d %H:%M} UTC." if until else ".")
            )
        slot, live = self._follow_up(uow, original, "undo", now)
        if live is not None:
            raise ChangeNotPending(
                "undone"
                if live.state is ChangeState.DONE
                else "being undone (an undo of it was asked for already)"
            )
        return slot

    def _undo_set(
        self,
        original: ChangeSet,
        items: list[ChangeItem],
        *,
        refused: list[tuple[str, str]],
        unchanged: list[tuple[str, str]],
        requester: Requester,
        slot: FollowUp,
    ) -> ChangeSet:
        products = self._directory.products()
        by_sku = {p.sku_id: p for p in products}
        changes = [i.change for i in items]
        for sku in sorted({sku for change in changes for sku in change.gained}):
            if sku in by_sku:
                check_seats(by_sku[sku], seats_needed(changes, sku))  # R2: seats given back may be gone
        now = self._clock.now()
        product = by_sku.get(original.product_sku)
        return ChangeSet(
            id=slot.change_set_id,
            kind=ChangeKind.UNDO,
            requested_by=requester.name,
            product_sku=original.product_sku,
            product_label=original.product_label,
            items=items,
            created_at=now,
            expires_at=now + self._preview_ttl,
            refused=refused,
            channel=original.channel,
            undo_of=original.undo_of if original.kind is ChangeKind.UNDO else original.id,
            seats_before=product.seats.consumed if product else original.seats_before,
            seats_total=product.seats.enabled if product else original.seats_total,
            products=snapshot_products(products, touched_skus(items, original.product_sku))
            or dict(original.products),
            unchanged=unchanged,
            request_key=slot.key,
        )

    def _follow_up(
        self, uow: UnitOfWork, original: ChangeSet, purpose: str, now: datetime
    ) -> tuple[FollowUp, ChangeSet | None]:
        """Where a new retry or undo (`purpose`) of `original` goes, and the one still live if any.

        Follow-ups have ids derived from the original and a count, so every replica finds the
        earlier ones, and the caller's lock on the original's row makes askers take turns (the
        unique id and request key back that up). Only a previewed, applying or done follow-up
        stands in the way: once cancelled or expired, the person can ask again.
        """
        attempt = 0
        while True:
            key = f"{purpose}:{original.id}" + (f":{attempt}" if attempt else "")
            slot = FollowUp(uuid.uuid5(_FOLLOW_UPS, key).hex, key)
            earlier = uow.change_sets.get(slot.change_set_id, for_update=True)
            if earlier is None:
                return slot, None
            if not _ended(earlier, now):
                return slot, earlier
            attempt += 1


def _ended(change_set: ChangeSet, now: datetime) -> bool:
    """Cancelled, or a preview nobody confirmed in time (expired, whether or not marked so yet)."""
    if change_set.state is ChangeState.PREVIEWED:
        return now >= change_set.expires_at
    return change_set.state in {ChangeState.CANCELLED, ChangeState.EXPIRED}
