"""Change sets render themselves and can be retried and undone: product snapshots, unchanged users,
the services asked for, the undo deadline, and the idempotency key claimed with the change.

Revision ID: 0003_slack_experience
Revises: 0002_workflows
Create Date: 2026-11-22

Types are spelled out here rather than imported from `storage.orm`, so this revision keeps creating
the same schema whatever the models become later. Existing rows get empty values: a change set
planned before this revision renders from its own label and seats, as it did, and cannot be undone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_slack_experience"
down_revision: str | None = "0002_workflows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_JSON_COLUMNS = {"products": "{}", "unchanged": "[]", "turn_off": "[]", "turn_on": "[]"}


def upgrade() -> None:
    with op.batch_alter_table("change_sets") as batch:
        for name, empty in _JSON_COLUMNS.items():
            batch.add_column(sa.Column(name, JSON, nullable=False, server_default=sa.text(f"'{empty}'")))
        batch.add_column(sa.Column("undoable_until", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("request_key", sa.String(200), nullable=True))
        batch.create_unique_constraint(op.f("uq_change_sets_request_key"), ["request_key"])
    # The defaults only fill the rows that existed; the application always writes these columns.
    with op.batch_alter_table("change_sets") as batch:
        for name in _JSON_COLUMNS:
            batch.alter_column(name, server_default=None, existing_type=JSON, existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("change_sets") as batch:
        batch.drop_constraint(op.f("uq_change_sets_request_key"), type_="unique")
        batch.drop_column("request_key")
        batch.drop_column("undoable_until")
        for name in reversed(list(_JSON_COLUMNS)):
            batch.drop_column(name)
