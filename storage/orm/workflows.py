"""The subscription workflows (DESIGN.md §4): workflows and their steps, approvals, admin tasks.

What is queried has a column of its own (state, the current step and what it waits for, leases,
the subscription it acts on); the rest of a workflow's facts is kept as JSON in `facts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.orm.base import Base
from storage.orm.types import Json, UtcDateTime

__all__ = ["AdminTaskRow", "ApprovalRow", "WorkflowRow", "WorkflowStepRow"]


class WorkflowRow(Base):
    """`domain.workflows.Workflow`."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    product_sku: Mapped[str] = mapped_column(sa.String(64))
    product_part: Mapped[str] = mapped_column(sa.String(128))
    product_name: Mapped[str] = mapped_column(sa.String(256))
    current_step: Mapped[str | None] = mapped_column(sa.String(32))
    current_status: Mapped[str | None] = mapped_column(sa.String(16))
    waiting_for: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    """What the current step waits for, when it waits: the scheduler's poll selects on it."""
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    subscription_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    purchase_id: Mapped[str | None] = mapped_column(sa.String(64), index=True, unique=True)
    """The new subscription this workflow took as its purchase (R19): unique, so two workflows,
    even in two replicas at once, never take the same one."""
    change_set_id: Mapped[str] = mapped_column(sa.String(64))
    approval_id: Mapped[str] = mapped_column(sa.String(32))
    task_id: Mapped[str] = mapped_column(sa.String(64))
    parent_id: Mapped[str] = mapped_column(sa.String(32))
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(sa.String(64))
    message_ts: Mapped[str] = mapped_column(sa.String(64))
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    """Who runs the current step; with `lease_expires_at`, ready for replicas claiming work."""
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    facts: Mapped[dict[str, Any]] = mapped_column(Json)

    steps: Mapped[list[WorkflowStepRow]] = relationship(
        order_by="WorkflowStepRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class WorkflowStepRow(Base):
    """`domain.workflows.Step`, in the workflow's order (`position`)."""

    __tablename__ = "workflow_steps"

    workflow_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    waiting_for: Mapped[str | None] = mapped_column(sa.String(16))
    since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(sa.Text)
    choices: Mapped[list[str]] = mapped_column(Json)
    attempts: Mapped[int] = mapped_column(sa.Integer)


class ApprovalRow(Base):
    """`domain.workflows.Approval` (R13)."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("workflows.id"), index=True)
    product_sku: Mapped[str] = mapped_column(sa.String(64))
    product_part: Mapped[str] = mapped_column(sa.String(128))
    product_name: Mapped[str] = mapped_column(sa.String(256))
    subscription_id: Mapped[str] = mapped_column(sa.String(64))
    requested_by: Mapped[str] = mapped_column(sa.String(320))
    requested_by_id: Mapped[str] = mapped_column(sa.String(64), server_default="")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    holders: Mapped[list[str]] = mapped_column(Json)
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    decided_by: Mapped[str] = mapped_column(sa.String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_loss_of_access: Mapped[bool] = mapped_column(sa.Boolean)
    reason: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.String(64))
    message_ts: Mapped[str] = mapped_column(sa.String(64))


class AdminTaskRow(Base):
    """`domain.workflows.AdminTask` (R19)."""

    __tablename__ = "admin_tasks"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("workflows.id"), index=True)
    step: Mapped[str | None] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(256))
    checklist: Mapped[list[str]] = mapped_column(Json)
    link: Mapped[str] = mapped_column(sa.String(512))
    owner: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    marked_done_by: Mapped[str] = mapped_column(sa.String(320))
    marked_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(sa.Text)
