"""Leases on shared work, so replicas on one PostgreSQL database never run the same work twice:
the periodic poll, a change set being applied, and the one scheduler that SQLite allows.

Revision ID: 0004_work_leases
Revises: 0003_slack_experience
Create Date: 2026-11-22

Workflows already carry their lease (`lease_owner`, `lease_expires_at`, 0002); this adds the index
that claiming them uses, and the table for every other lease.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_work_leases"
down_revision: str | None = "0003_slack_experience"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "work_leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_work_leases")),
    )
    op.create_index(op.f("ix_work_leases_owner"), "work_leases", ["owner"])
    op.create_index(op.f("ix_workflows_lease_owner"), "workflows", ["lease_owner"])


def downgrade() -> None:
    op.drop_index(op.f("ix_workflows_lease_owner"), table_name="workflows")
    op.drop_index(op.f("ix_work_leases_owner"), table_name="work_leases")
    op.drop_table("work_leases")
