"""SQLAlchemy repositories behind the ports of `domain.ports`: change sets, the audit log, idempotency keys.

They map rows to domain values and back; nothing outside `storage/` sees a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.audit import AuditEntry, AuditResult
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    ProductSnapshot,
    UserChange,
)
from domain.group_follow import FollowState, GroupFollow
from domain.model import licenses_from_json, licenses_to_json
from domain.ports import Lease
from storage.orm import AuditRow, ChangeItemRow, ChangeSetRow, GroupFollowRow, IdempotencyKeyRow, WorkLeaseRow

__all__ = ["SqlAuditLog", "SqlChangeSetRepository", "SqlGroupFollows", "SqlIdempotencyKeys", "SqlLeases"]


class SqlChangeSetRepository:
    """`domain.ports.ChangeSetRepository`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, change_set: ChangeSet) -> None:
        row = ChangeSetRow(id=change_set.id)
        _fill(row, change_set)
        self._session.add(row)
        self._session.flush()

    def get(self, change_set_id: str, *, for_update: bool = False) -> ChangeSet | None:
        query = select(ChangeSetRow).where(ChangeSetRow.id == change_set_id)
        if for_update:
            # Locks the change set row (PostgreSQL; SQLite transactions begin IMMEDIATE anyway) and
            # re-reads it even if this session already holds it, so the state is the locked one.
            query = query.with_for_update().execution_options(populate_existing=True)
        row = self._session.scalars(query).first()
        return None if row is None else _change_set(row)

    def save(self, change_set: ChangeSet) -> None:
        row = self._session.get(ChangeSetRow, change_set.id)
        if row is None:
            raise LookupError(f"change set {change_set.id} was never added")
        _fill(row, change_set)
        self._session.flush()

    def lock_state(self, change_set_id: str) -> ChangeState | None:
        state = self._session.scalar(
            select(ChangeSetRow.state).where(ChangeSetRow.id == change_set_id).with_for_update()
        )
        return None if state is None else ChangeState(state)

    def save_progress(self, change_set: ChangeSet, items: Sequence[ChangeItem]) -> None:
        """Two statements whatever the size of the change set: its row, then the batch's items."""
        updated = self._session.execute(
            update(ChangeSetRow)
            .where(ChangeSetRow.id == change_set.id)
            .values(state=change_set.state.value, undoable_until=change_set.undoable_until)
            .execution_options(synchronize_session=False)
        )
        if not getattr(updated, "rowcount", 1):
            raise LookupError(f"change set {change_set.id} was never added")
        if items:
            items_table = cast(Table, ChangeItemRow.__table__)
            self._session.execute(
                update(items_table)
                .where(
                    items_table.c.change_set_id == bindparam("b_change_set"),
                    items_table.c.user_id == bindparam("b_user"),
                )
                .values(status=bindparam("b_status"), reason=bindparam("b_reason"), rule=bindparam("b_rule")),
                [
                    {
                        "b_change_set": change_set.id,
                        "b_user": item.change.user_id,
                        "b_status": item.status.value,
                        "b_reason": item.reason,
                        "b_rule": item.rule,
                    }
                    for item in items
                ],
            )

    def recent(self, requested_by: str | None = None, limit: int = 10) -> list[ChangeSet]:
        query = select(ChangeSetRow).order_by(ChangeSetRow.created_at.desc(), ChangeSetRow.id).limit(limit)
        if requested_by is not None:
            query = query.where(func.lower(ChangeSetRow.requested_by) == requested_by.lower())
        return [_change_set(row) for row in self._session.scalars(query)]

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        query = (
            select(ChangeSetRow.id)
            .where(ChangeSetRow.id.startswith(prefix, autoescape=True))
            .order_by(ChangeSetRow.id)
            .limit(limit)
        )
        return list(self._session.scalars(query))

    def ids_in_state(self, state: ChangeState) -> list[str]:
        query = (
            select(ChangeSetRow.id)
            .where(ChangeSetRow.state == state.value)
            .order_by(ChangeSetRow.created_at, ChangeSetRow.id)
        )
        return list(self._session.scalars(query))


class SqlAuditLog:
    """`domain.ports.AuditLog`: append-only (R20). There is deliberately no update or delete here,
    and the database refuses both (triggers from the first migration)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, entry: AuditEntry) -> None:
        self._session.add(
            AuditRow(
                at=entry.at,
                actor=entry.actor,
                approver=entry.approver or None,
                action=entry.action,
                result=entry.result.value,
                target=entry.target or None,
                before=entry.before,
                after=entry.after,
                reason=entry.reason or None,
                correlation_id=entry.correlation_id or None,
                change_set_id=entry.change_set_id or None,
                details=dict(entry.details),
                slack_user_id=entry.slack_user or None,
                slack_team_id=entry.slack_team or None,
            )
        )
        self._session.flush()

    def recent(self, limit: int = 20, actor: str | None = None) -> list[AuditEntry]:
        """Newest first, in the order they were recorded."""
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(func.lower(AuditRow.actor) == actor.lower())
        return [_audit_entry(row) for row in self._session.scalars(query)]


class SqlIdempotencyKeys:
    """`domain.ports.IdempotencyKeys`: `INSERT … ON CONFLICT DO NOTHING`, so a duplicate neither
    raises nor spoils the surrounding transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, key: str, at: datetime) -> bool:
        values = {"key": key, "claimed_at": at}
        insert = _dialect_insert(self._session)
        statement = insert(IdempotencyKeyRow).values(values).on_conflict_do_nothing(index_elements=["key"])
        inserted = self._session.execute(statement.returning(IdempotencyKeyRow.key)).first()
        return inserted is not None


class SqlLeases:
    """`domain.ports.Leases` on the `work_leases` table.

    A claim inserts the row (`ON CONFLICT DO NOTHING`), or else locks it with `FOR UPDATE SKIP
    LOCKED` and takes it over when it is expired or already ours. A row that another transaction
    is claiming at that moment is skipped, so a replica never waits for another one's work.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        expires_at = now + ttl
        row = self._session.scalars(
            select(WorkLeaseRow)
            .where(WorkLeaseRow.name == name)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if row is not None:
            if row.owner != owner and row.expires_at > now:
                return False
            row.owner, row.expires_at = owner, expires_at
            self._session.flush()
            return True
        exists = self._session.scalar(select(WorkLeaseRow.name).where(WorkLeaseRow.name == name))
        if exists is not None:
            return False  # another transaction holds the row: it is claiming it right now
        inserted = self._session.execute(
            _dialect_insert(self._session)(WorkLeaseRow)
            .values(name=name, owner=owner, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(WorkLeaseRow.name)
        ).first()
        return inserted is not None

    def renew(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        renewed = self._session.execute(
            update(WorkLeaseRow)
            .where(WorkLeaseRow.name == name, WorkLeaseRow.owner == owner)
            .values(expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(renewed, "rowcount", 0) or 0) == 1

    def release(self, name: str, owner: str) -> None:
        self._session.execute(
            delete(WorkLeaseRow).where(WorkLeaseRow.name == name, WorkLeaseRow.owner == owner)
        )

    def holder(self, name: str) -> Lease | None:
        row = self._session.get(WorkLeaseRow, name, populate_existing=True)
        return None if row is None else Lease(row.name, row.owner, row.expires_at)

    def release_owned(self, owner_prefix: str) -> int:
        result = self._session.execute(
            delete(WorkLeaseRow).where(WorkLeaseRow.owner.startswith(owner_prefix, autoescape=True))
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _dialect_insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _fill(row: ChangeSetRow, change_set: ChangeSet) -> None:
    row.kind = change_set.kind.value
    row.state = change_set.state.value
    row.requested_by = change_set.requested_by
    row.confirmed_by = change_set.confirmed_by
    row.product_sku = change_set.product_sku
    row.product_label = change_set.product_label
    row.created_at = change_set.created_at
    row.expires_at = change_set.expires_at
    row.refused = [[label, message] for label, message in change_set.refused]
    row.channel = change_set.channel
    row.message_ts = change_set.message_ts
    row.undo_of = change_set.undo_of
    row.seats_before = change_set.seats_before
    row.seats_total = change_set.seats_total
    row.products = {sku: _snapshot_json(snapshot) for sku, snapshot in change_set.products.items()}
    row.unchanged = [[label, reason] for label, reason in change_set.unchanged]
    row.notes = [[label, note] for label, note in change_set.notes]
    row.group_id = change_set.group_id or None
    row.details = dict(change_set.details) or None
    row.turn_off = list(change_set.turn_off)
    row.turn_on = list(change_set.turn_on)
    row.undoable_until = change_set.undoable_until
    row.request_key = change_set.request_key or None
    existing = list(row.items)
    for position, item in enumerate(change_set.items):
        if position < len(existing):
            # An item's user and licenses never change once planned; only its outcome does. Writing
            # just that keeps a batch's save from re-encoding every item of a large change set.
            _fill_outcome(existing[position], item)
        else:
            item_row = ChangeItemRow(position=position)
            row.items.append(item_row)
            _fill_item(item_row, item)
    del row.items[len(change_set.items) :]


def _fill_item(row: ChangeItemRow, item: ChangeItem) -> None:
    change = item.change
    row.user_id = change.user_id
    row.user_principal_name = change.user_principal_name
    row.display_name = change.display_name
    row.licenses_before = licenses_to_json(change.before)
    row.licenses_after = licenses_to_json(change.after)
    _fill_outcome(row, item)


def _fill_outcome(row: ChangeItemRow, item: ChangeItem) -> None:
    if row.status != item.status.value:
        row.status = item.status.value
    if row.reason != item.reason:
        row.reason = item.reason
    if row.rule != item.rule:
        row.rule = item.rule


def _change_set(row: ChangeSetRow) -> ChangeSet:
    return ChangeSet(
        id=row.id,
        kind=ChangeKind(row.kind),
        requested_by=row.requested_by,
        product_sku=row.product_sku,
        product_label=row.product_label,
        items=[
            ChangeItem(
                UserChange(
                    item.user_id,
                    item.user_principal_name,
                    item.display_name,
                    licenses_from_json(item.licenses_before),
                    licenses_from_json(item.licenses_after),
                ),
                ItemStatus(item.status),
                item.reason,
                item.rule,
            )
            for item in row.items
        ],
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=ChangeState(row.state),
        refused=[(label, message) for label, message in row.refused],
        confirmed_by=row.confirmed_by,
        channel=row.channel,
        message_ts=row.message_ts,
        undo_of=row.undo_of,
        seats_before=row.seats_before,
        seats_total=row.seats_total,
        products={sku: _snapshot(sku, value) for sku, value in (row.products or {}).items()},
        unchanged=[(label, reason) for label, reason in row.unchanged or []],
        notes=[(label, note) for label, note in row.notes or []],
        group_id=row.group_id or "",
        details=dict(row.details or {}),
        turn_off=tuple(row.turn_off or ()),
        turn_on=tuple(row.turn_on or ()),
        undoable_until=row.undoable_until,
        request_key=row.request_key or "",
    )


def _snapshot_json(snapshot: ProductSnapshot) -> dict[str, Any]:
    return {
        "partNumber": snapshot.part_number,
        "displayName": snapshot.display_name,
        "consumedUnits": snapshot.seats_consumed,
        "enabledUnits": snapshot.seats_enabled,
        "servicePlans": [[plan_id, name] for plan_id, name in snapshot.plans],
    }


def _snapshot(sku_id: str, value: dict[str, Any]) -> ProductSnapshot:
    return ProductSnapshot(
        sku_id=sku_id,
        part_number=str(value["partNumber"]),
        display_name=str(value["displayName"]),
        seats_consumed=int(value["consumedUnits"]),
        seats_enabled=int(value["enabledUnits"]),
        plans=tuple((str(plan_id), str(name)) for plan_id, name in value.get("servicePlans", ())),
    )


def _audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=row.at,
        actor=row.actor,
        action=row.action,
        result=AuditResult(row.result),
        target=row.target or "",
        approver=row.approver or "",
        before=row.before,
        after=row.after,
        reason=row.reason or "",
        correlation_id=row.correlation_id or "",
        change_set_id=row.change_set_id or "",
        details=dict(row.details),
        slack_user=row.slack_user_id or "",
        slack_team=row.slack_team_id or "",
    )


class SqlGroupFollows:
    """`domain.ports.GroupFollowRepository` on the `group_follows` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, follow: GroupFollow) -> None:
        if self._session.get(GroupFollowRow, follow.change_set_id) is not None:
            return
        self._session.add(_follow_row(GroupFollowRow(change_set_id=follow.change_set_id), follow))
        self._session.flush()

    def get(self, change_set_id: str, *, for_update: bool = False) -> GroupFollow | None:
        query = select(GroupFollowRow).where(GroupFollowRow.change_set_id == change_set_id)
        if for_update:
            query = query.with_for_update()
        row = self._session.scalars(query.execution_options(populate_existing=True)).first()
        return None if row is None else _follow(row)

    def save(self, follow: GroupFollow) -> None:
        row = self._session.get(GroupFollowRow, follow.change_set_id)
        if row is None:
            raise KeyError(follow.change_set_id)
        _follow_row(row, follow)
        self._session.flush()

    def following(self) -> list[GroupFollow]:
        rows = self._session.scalars(
            select(GroupFollowRow)
            .where(GroupFollowRow.state == FollowState.FOLLOWING.value)
            .order_by(GroupFollowRow.started_at, GroupFollowRow.change_set_id)
        )
        return [_follow(row) for row in rows]


def _follow_row(row: GroupFollowRow, follow: GroupFollow) -> GroupFollowRow:
    row.group_id = follow.group_id
    row.channel = follow.channel
    row.message_ts = follow.message_ts
    row.started_at = follow.started_at
    row.slow_after = follow.slow_after
    row.deadline = follow.deadline
    row.state = follow.state.value
    row.shown = follow.shown[:200]
    row.polled_at = follow.polled_at
    row.ended_at = follow.ended_at
    return row


def _follow(row: GroupFollowRow) -> GroupFollow:
    return GroupFollow(
        change_set_id=row.change_set_id,
        group_id=row.group_id,
        channel=row.channel,
        message_ts=row.message_ts,
        started_at=row.started_at,
        slow_after=row.slow_after,
        deadline=row.deadline,
        state=FollowState(row.state),
        shown=row.shown,
        polled_at=row.polled_at,
        ended_at=row.ended_at,
    )
