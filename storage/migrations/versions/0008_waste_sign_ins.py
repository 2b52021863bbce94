"""The simulated tenant's accounts: when each was created and last signed in, and whether the
tenant lets sign-in activity be read (R22: licenses held by inactive accounts).

Revision ID: 0008_waste_sign_ins
Revises: 0007_slack_bindings
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_waste_sign_ins"
down_revision: str | None = "0007_slack_bindings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sim_users") as batch:
        batch.add_column(sa.Column("created", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("last_sign_in", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("last_non_interactive_sign_in", UTC_DATETIME, nullable=True))
    with op.batch_alter_table("sim_organization") as batch:
        batch.add_column(
            sa.Column("sign_in_activity", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sim_organization") as batch:
        batch.drop_column("sign_in_activity")
    with op.batch_alter_table("sim_users") as batch:
        batch.drop_column("last_non_interactive_sign_in")
        batch.drop_column("last_sign_in")
        batch.drop_column("created")
