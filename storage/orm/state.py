"""The bot's own state: change sets and their items, the audit log (R20), idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.orm.base import Base
from storage.orm.types import Json, UtcDateTime, big_id

__all__ = ["AuditRow", "ChangeItemRow", "ChangeSetRow", "GroupFollowRow", "IdempotencyKeyRow", "WorkLeaseRow"]


class ChangeSetRow(Base):
    """`domain.changes.ChangeSet`."""

    __tablename__ = "change_sets"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(320))
    confirmed_by: Mapped[str] = mapped_column(sa.String(320))
    product_sku: Mapped[str] = mapped_column(sa.String(64))
    product_label: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    refused: Mapped[list[list[str]]] = mapped_column(Json)
    """Users left out at preview time: [label, message] pairs."""
    channel: Mapped[str] = mapped_column(sa.String(64))
    message_ts: Mapped[str] = mapped_column(sa.String(64))
    undo_of: Mapped[str] = mapped_column(sa.String(64))
    seats_before: Mapped[int] = mapped_column(sa.Integer)
    seats_total: Mapped[int] = mapped_column(sa.Integer)
    products: Mapped[dict[str, Any]] = mapped_column(Json)
    """Snapshots of the products the change touches (names, seats, plan names), by sku id."""
    unchanged: Mapped[list[list[str]]] = mapped_column(Json)
    """Users for whom nothing would change: [label, reason] pairs."""
    notes: Mapped[list[list[str]] | None] = mapped_column(Json, nullable=True)
    """What the preview tells about users who stay in the change (R21: kept through a group)."""
    group_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    """The Microsoft Entra group whose own license the change is (R21); None: users."""
    details: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    """A group change's predicted effect on the members."""
    turn_off: Mapped[list[str]] = mapped_column(Json)
    turn_on: Mapped[list[str]] = mapped_column(Json)
    undoable_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    request_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    """The idempotency key claimed with this change set (a retry or an undo of another)."""

    items: Mapped[list[ChangeItemRow]] = relationship(
        order_by="ChangeItemRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class ChangeItemRow(Base):
    """`domain.changes.ChangeItem` with its `UserChange`, in the change set's order (`position`)."""

    __tablename__ = "change_items"
    __table_args__ = (sa.UniqueConstraint("change_set_id", "user_id"),)

    change_set_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("change_sets.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(64))
    user_principal_name: Mapped[str] = mapped_column(sa.String(320))
    display_name: Mapped[str] = mapped_column(sa.String(256))
    licenses_before: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    licenses_after: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text)
    rule: Mapped[str] = mapped_column(sa.String(8))


class AuditRow(Base):
    """`domain.audit.AuditEntry`, append-only (R20): the migration adds triggers that refuse
    UPDATE and DELETE, and the repository has no path for either."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(big_id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(320), index=True)
    approver: Mapped[str | None] = mapped_column(sa.String(320))
    action: Mapped[str] = mapped_column(sa.String(200))
    result: Mapped[str] = mapped_column(sa.String(20))
    target: Mapped[str | None] = mapped_column(sa.Text)
    before: Mapped[Any] = mapped_column(Json, nullable=True)
    after: Mapped[Any] = mapped_column(Json, nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    correlation_id: Mapped[str | None] = mapped_column(sa.String(128))
    change_set_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    slack_user_id: Mapped[str | None] = mapped_column(sa.String(32))
    slack_team_id: Mapped[str | None] = mapped_column(sa.String(32))


class IdempotencyKeyRow(Base):
    """A Slack retry or a second click: the first claim of a key wins."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WorkLeaseRow(Base):
    """`domain.ports.Leases`: who holds a piece of shared work (the poll, a change set being
    applied, SQLite's one scheduler), and until when."""

    __tablename__ = "work_leases"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(200), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GroupFollowRow(Base):
    """`domain.group_follow.GroupFollow`: a group change whose processing is followed (R21)."""

    __tablename__ = "group_follows"

    change_set_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("change_sets.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    channel: Mapped[str] = mapped_column(sa.String(64))
    message_ts: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    slow_after: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    shown: Mapped[str] = mapped_column(sa.String(200))
    polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
