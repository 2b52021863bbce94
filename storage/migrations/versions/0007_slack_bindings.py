"""Slack accounts bound to Entra users by a Microsoft sign-in, and browser sign-ins under way (R24).

Revision ID: 0007_slack_bindings
Revises: 0006_slack_identity
Create Date: 2026-12-07

Types are spelled out here rather than imported from `storage.orm`, as in the earlier revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_slack_bindings"
down_revision: str | None = "0006_slack_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "slack_bindings",
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("slack_team_id", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(320), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("bound_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_slack_bindings")),
    )
    op.create_index(op.f("ix_slack_bindings_object_id"), "slack_bindings", ["object_id"])
    op.create_table(
        "sign_in_flows",
        sa.Column("state", sa.String(128), nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("account", JSON, nullable=False),
        sa.Column("flow", JSON, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_sign_in_flows")),
    )
    op.create_index(op.f("ix_sign_in_flows_expires_at"), "sign_in_flows", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_flows_expires_at"), table_name="sign_in_flows")
    op.drop_table("sign_in_flows")
    op.drop_index(op.f("ix_slack_bindings_object_id"), table_name="slack_bindings")
    op.drop_table("slack_bindings")
