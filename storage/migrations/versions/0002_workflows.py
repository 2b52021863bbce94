"""Subscription workflows: workflows and their steps, approvals (R13), admin tasks (R19).

Revision ID: 0002_workflows
Revises: 0001
Create Date: 2026-11-23

Types are spelled out here rather than imported from `storage.orm`, so this revision keeps creating
the same schema whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_workflows"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("product_sku", sa.String(64), nullable=False),
        sa.Column("product_part", sa.String(128), nullable=False),
        sa.Column("product_name", sa.String(256), nullable=False),
        sa.Column("current_step", sa.String(32), nullable=True),
        sa.Column("current_status", sa.String(16), nullable=True),
        sa.Column("waiting_for", sa.String(16), nullable=True),
        sa.Column("waiting_since", UTC_DATETIME, nullable=True),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("change_set_id", sa.String(64), nullable=False),
        sa.Column("approval_id", sa.String(32), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(32), nullable=False),
        sa.Column("deadline", UTC_DATETIME, nullable=True),
        sa.Column("escalated_at", UTC_DATETIME, nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(64), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", UTC_DATETIME, nullable=True),
        sa.Column("facts", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    op.create_index(op.f("ix_workflows_created_at"), "workflows", ["created_at"])
    op.create_index(op.f("ix_workflows_state"), "workflows", ["state"])
    op.create_index(op.f("ix_workflows_subscription_id"), "workflows", ["subscription_id"])
    op.create_index(op.f("ix_workflows_waiting_for"), "workflows", ["waiting_for"])

    op.create_table(
        "workflow_steps",
        sa.Column("workflow_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("waiting_for", sa.String(16), nullable=True),
        sa.Column("since", UTC_DATETIME, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("choices", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_steps_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "position", name=op.f("pk_workflow_steps")),
    )

    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(32), nullable=False),
        sa.Column("product_sku", sa.String(64), nullable=False),
        sa.Column("product_part", sa.String(128), nullable=False),
        sa.Column("product_name", sa.String(256), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("holders", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(320), nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("accepted_loss_of_access", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_approvals_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_state"), "approvals", ["state"])
    op.create_index(op.f("ix_approvals_workflow_id"), "approvals", ["workflow_id"])

    op.create_table(
        "admin_tasks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("checklist", JSON, nullable=False),
        sa.Column("link", sa.String(512), nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("marked_done_by", sa.String(320), nullable=False),
        sa.Column("marked_done_at", UTC_DATETIME, nullable=True),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_admin_tasks_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_tasks")),
    )
    op.create_index(op.f("ix_admin_tasks_state"), "admin_tasks", ["state"])
    op.create_index(op.f("ix_admin_tasks_workflow_id"), "admin_tasks", ["workflow_id"])


def downgrade() -> None:
    for table in ("admin_tasks", "approvals", "workflow_steps", "workflows"):
        op.drop_table(table)
