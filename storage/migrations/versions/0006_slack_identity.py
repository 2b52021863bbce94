"""Who is asking (R24): the Slack account and workspace of every audited request, the Entra object
id of whoever asked for an approval (four-eyes means two Entra users), and the Slack accounts bound
to Entra users by a Microsoft sign-in.

The audit columns are added with ADD COLUMN, never by copying the table: on SQLite a copy would drop
the triggers that keep the audit log append-only.

Revision ID: 0006_slack_identity
Revises: 0005_workflow_purchases
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_slack_identity"
down_revision: str | None = "0005_workflow_purchases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("slack_user_id", sa.String(32), nullable=True))
    op.add_column("audit_log", sa.Column("slack_team_id", sa.String(32), nullable=True))
    op.add_column("approvals", sa.Column("requested_by_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("requested_by_id")
    # DROP COLUMN in place (SQLite 3.35+, PostgreSQL): a batch copy would lose the triggers.
    op.execute("ALTER TABLE audit_log DROP COLUMN slack_team_id")
    op.execute("ALTER TABLE audit_log DROP COLUMN slack_user_id")
