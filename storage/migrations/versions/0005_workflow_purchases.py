"""The subscription each workflow took as its purchase, unique: one purchase made in the admin
center completes one workflow, even with two replicas polling at once (R19).

Revision ID: 0005_workflow_purchases
Revises: 0004_work_leases
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_workflow_purchases"
down_revision: str | None = "0004_work_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("purchase_id", sa.String(64), nullable=True))
    op.create_index(op.f("ix_workflows_purchase_id"), "workflows", ["purchase_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_workflows_purchase_id"), table_name="workflows")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("purchase_id")
