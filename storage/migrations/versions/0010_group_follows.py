"""Following a group's license processing in the database (R21), so that a restart or a crash
loses none: which change, which group, where its message is, since when and until when.

Revision ID: 0010_group_follows
Revises: 0009_group_licensing
Create Date: 2026-12-07

Types are spelled out here rather than imported from `storage.orm`, so this revision keeps creating
the same schema whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_group_follows"
down_revision: str | None = "0009_group_licensing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "group_follows",
        sa.Column("change_set_id", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(64), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("slow_after", UTC_DATETIME, nullable=False),
        sa.Column("deadline", UTC_DATETIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("shown", sa.String(200), nullable=False),
        sa.Column("polled_at", UTC_DATETIME, nullable=True),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_group_follows_change_set_id_change_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("change_set_id", name=op.f("pk_group_follows")),
    )
    op.create_index(op.f("ix_group_follows_group_id"), "group_follows", ["group_id"])
    op.create_index(op.f("ix_group_follows_state"), "group_follows", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_follows_state"), table_name="group_follows")
    op.drop_index(op.f("ix_group_follows_group_id"), table_name="group_follows")
    op.drop_table("group_follows")
