"""Group-based licensing (R21): Entra groups with their own licenses in the simulated tenant, the
licenses each group gives its members as processed, and the notes a change set's preview carries
(a user who keeps a license through a group).

Revision ID: 0009_group_licensing
Revises: 0008_waste_sign_ins
Create Date: 2026-12-07

Types are spelled out here rather than imported from `storage.orm`, so this revision keeps creating
the same schema whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_group_licensing"
down_revision: str | None = "0008_waste_sign_ins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sim_groups",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("mail_nickname", sa.String(64), nullable=False),
        sa.Column("assigned_licenses", JSON, nullable=False),
        sa.Column("processing_state", sa.String(32), nullable=False),
        sa.Column("processing_until", UTC_DATETIME, nullable=True),
        sa.Column("processing_delay_seconds", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_groups")),
    )
    op.create_index(op.f("ix_sim_groups_display_name"), "sim_groups", ["display_name"])
    op.create_table(
        "sim_group_members",
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sim_groups.id"],
            name=op.f("fk_sim_group_members_group_id_sim_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["sim_users.id"],
            name=op.f("fk_sim_group_members_user_id_sim_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_sim_group_members")),
    )
    op.create_index(op.f("ix_sim_group_members_user_id"), "sim_group_members", ["user_id"])
    op.create_table(
        "sim_group_license_states",
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("disabled_plans", JSON, nullable=False),
        sa.Column("error", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["sim_groups.id"],
            name=op.f("fk_sim_group_license_states_group_id_sim_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["sim_users.id"],
            name=op.f("fk_sim_group_license_states_user_id_sim_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"],
            ["sim_products.sku_id"],
            name=op.f("fk_sim_group_license_states_sku_id_sim_products"),
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", "sku_id", name=op.f("pk_sim_group_license_states")),
    )
    op.create_index(op.f("ix_sim_group_license_states_user_id"), "sim_group_license_states", ["user_id"])
    op.create_index(op.f("ix_sim_group_license_states_sku_id"), "sim_group_license_states", ["sku_id"])
    with op.batch_alter_table("change_sets") as batch:
        batch.add_column(sa.Column("notes", JSON, nullable=True))
        batch.add_column(sa.Column("group_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("details", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change_sets") as batch:
        batch.drop_column("details")
        batch.drop_column("group_id")
        batch.drop_column("notes")
    op.drop_index(op.f("ix_sim_group_license_states_sku_id"), table_name="sim_group_license_states")
    op.drop_index(op.f("ix_sim_group_license_states_user_id"), table_name="sim_group_license_states")
    op.drop_table("sim_group_license_states")
    op.drop_index(op.f("ix_sim_group_members_user_id"), table_name="sim_group_members")
    op.drop_table("sim_group_members")
    op.drop_index(op.f("ix_sim_groups_display_name"), table_name="sim_groups")
    op.drop_table("sim_groups")
