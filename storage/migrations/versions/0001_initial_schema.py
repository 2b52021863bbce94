"""Initial schema: change sets, audit log (append-only), idempotency keys, and the simulated tenant.

Revision ID: 0001
Revises:
Create Date: 2025-01-06

Types are spelled out here rather than imported from `storage.orm`, so this revision keeps creating
the same schema whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

APPEND_ONLY = "audit_log is append-only (R20): entries are never changed or deleted"


def upgrade() -> None:
    _create_bot_state()
    _create_simulated_tenant()
    _make_audit_log_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only_rows ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "sim_license_events",
        "sim_role_assignments",
        "sim_user_licenses",
        "sim_users",
        "sim_subscriptions",
        "sim_service_plans",
        "sim_products",
        "sim_verified_domains",
        "sim_organization",
        "idempotency_keys",
        "audit_log",
        "change_items",
        "change_sets",
    ):
        op.drop_table(table)


def _create_bot_state() -> None:
    op.create_table(
        "change_sets",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("confirmed_by", sa.String(320), nullable=False),
        sa.Column("product_sku", sa.String(64), nullable=False),
        sa.Column("product_label", sa.String(256), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("refused", JSON, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(64), nullable=False),
        sa.Column("undo_of", sa.String(64), nullable=False),
        sa.Column("seats_before", sa.Integer(), nullable=False),
        sa.Column("seats_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_sets")),
    )
    op.create_index(op.f("ix_change_sets_created_at"), "change_sets", ["created_at"])
    op.create_index(op.f("ix_change_sets_state"), "change_sets", ["state"])

    op.create_table(
        "change_items",
        sa.Column("change_set_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("licenses_before", JSON, nullable=False),
        sa.Column("licenses_after", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_change_items_change_set_id_change_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("change_set_id", "position", name=op.f("pk_change_items")),
        sa.UniqueConstraint("change_set_id", "user_id", name=op.f("uq_change_items_change_set_id_user_id")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("approver", sa.String(320), nullable=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("change_set_id", sa.String(64), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_change_set_id"), "audit_log", ["change_set_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )


def _create_simulated_tenant() -> None:
    op.create_table(
        "sim_organization",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("cloud", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_organization")),
    )
    op.create_table(
        "sim_verified_domains",
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_initial", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["sim_organization.id"],
            name=op.f("fk_sim_verified_domains_organization_id_sim_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "name", name=op.f("pk_sim_verified_domains")),
    )
    op.create_table(
        "sim_products",
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("part_number", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("applies_to", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("sku_id", name=op.f("pk_sim_products")),
        sa.UniqueConstraint("part_number", name=op.f("uq_sim_products_part_number")),
    )
    op.create_table(
        "sim_service_plans",
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("applies_to", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku_id"],
            ["sim_products.sku_id"],
            name=op.f("fk_sim_service_plans_sku_id_sim_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sku_id", "plan_id", name=op.f("pk_sim_service_plans")),
    )
    op.create_table(
        "sim_subscriptions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_licenses", sa.Integer(), nullable=False),
        sa.Column("created", UTC_DATETIME, nullable=False),
        sa.Column("next_lifecycle", UTC_DATETIME, nullable=True),
        sa.Column("is_trial", sa.Boolean(), nullable=False),
        sa.Column("purchase_channel", sa.String(20), nullable=False),
        sa.Column("payment_method", sa.String(20), nullable=False),
        sa.Column("activates_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["sim_products.sku_id"], name=op.f("fk_sim_subscriptions_sku_id_sim_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_subscriptions")),
    )
    op.create_index(op.f("ix_sim_subscriptions_sku_id"), "sim_subscriptions", ["sku_id"])
    op.create_table(
        "sim_users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("mail", sa.String(320), nullable=True),
        sa.Column("usage_location", sa.String(2), nullable=True),
        sa.Column("account_enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_users")),
        sa.UniqueConstraint("user_principal_name", name=op.f("uq_sim_users_user_principal_name")),
    )
    op.create_table(
        "sim_user_licenses",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("disabled_plans", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["sim_products.sku_id"], name=op.f("fk_sim_user_licenses_sku_id_sim_products")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["sim_users.id"],
            name=op.f("fk_sim_user_licenses_user_id_sim_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "sku_id", name=op.f("pk_sim_user_licenses")),
    )
    op.create_index(op.f("ix_sim_user_licenses_sku_id"), "sim_user_licenses", ["sku_id"])
    op.create_table(
        "sim_role_assignments",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role_template_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["sim_users.id"],
            name=op.f("fk_sim_role_assignments_user_id_sim_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_template_id", name=op.f("pk_sim_role_assignments")),
    )
    op.create_table(
        "sim_license_events",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("before", JSON, nullable=False),
        sa.Column("after", JSON, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sim_license_events")),
    )
    op.create_index(op.f("ix_sim_license_events_user_id"), "sim_license_events", ["user_id"])


def _make_audit_log_append_only() -> None:
    """R20 at the database level: whatever code runs, an audit entry cannot be rewritten."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only_rows BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
