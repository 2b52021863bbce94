"""Alembic migrations on SQLite and PostgreSQL: up, down, up again; models and migrations agree;
`ensure_schema` on first start and on a schema that is behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

import storage.orm  # noqa: F401  (registers every table)
from storage.database import metadata
from storage.migrate import (
    MIGRATIONS_DIR,
    SchemaNotReady,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)

TABLES = {
    "slack_bindings",
    "sign_in_flows",
    "change_sets",
    "change_items",
    "audit_log",
    "idempotency_keys",
    "work_leases",
    "group_follows",
    "sim_organization",
    "sim_verified_domains",
    "sim_products",
    "sim_service_plans",
    "sim_subscriptions",
    "sim_users",
    "sim_user_licenses",
    "sim_role_assignments",
    "sim_license_events",
    "sim_groups",
    "sim_group_members",
    "sim_group_license_states",
    "workflows",
    "workflow_steps",
    "approvals",
    "admin_tasks",
}


NEXT = "9999_next"
"""The revision a later version of licensebot would add, in `newer_migrations`."""


def tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_and_upgrade_again(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None

    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert tables(empty_engine) == TABLES

    downgrade(empty_engine, "base")
    assert current_revision(empty_engine) is None
    assert tables(empty_engine) == set()

    upgrade(empty_engine, "head")
    assert tables(empty_engine) == TABLES


def test_migrations_create_exactly_what_the_models_describe(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_takes_a_url(db_url: str) -> None:
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_constraints_follow_the_naming_convention(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    assert inspector.get_pk_constraint("change_items")["name"] == "pk_change_items"
    [fk] = inspector.get_foreign_keys("change_items")
    assert fk["name"] == "fk_change_items_change_set_id_change_sets"
    unique = {u["name"] for u in inspector.get_unique_constraints("sim_users")}
    assert unique == {"uq_sim_users_user_principal_name"}


def test_ensure_schema_creates_everything_in_an_empty_database(empty_engine: Engine) -> None:
    ensure_schema(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert tables(empty_engine) == TABLES

    ensure_schema(empty_engine)  # already there: nothing to do
    assert current_revision(empty_engine) == head_revision()


def test_ensure_schema_after_a_downgrade_to_base_builds_again(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    downgrade(empty_engine, "base")
    ensure_schema(empty_engine)
    assert tables(empty_engine) == TABLES


@pytest.fixture
def newer_migrations(tmp_path: Path) -> Path:
    """Our migrations plus a later revision, as the next version of licensebot would ship them."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    # On top of whatever the head is today, so adding a revision does not break this test.
    (folder / "versions" / "9999_next.py").write_text(
        '"""A later revision."""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f'revision = "{NEXT}"\n'
        f'down_revision = "{head_revision()}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.create_table("next_feature", sa.Column("id", sa.Integer(), primary_key=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    op.drop_table("next_feature")\n'
    )
    return folder


def test_ensure_schema_on_a_schema_that_is_behind(engine: Engine, newer_migrations: Path) -> None:
    """SQLite belongs to one process: it is upgraded. PostgreSQL is shared by replicas: upgrading it
    is a deliberate step, and the error says which."""
    if engine.dialect.name == "postgresql":
        with pytest.raises(SchemaNotReady, match=rf"behind {NEXT}: run `licensebot db upgrade`"):
            ensure_schema(engine, migrations=newer_migrations)
        assert current_revision(engine) == head_revision()
    else:
        ensure_schema(engine, migrations=newer_migrations)
        assert current_revision(engine) == NEXT
        assert "next_feature" in tables(engine)


def test_ensure_schema_refuses_a_revision_it_does_not_know(engine: Engine, newer_migrations: Path) -> None:
    upgrade(engine, migrations=newer_migrations)
    with pytest.raises(
        SchemaNotReady, match=rf"revision {NEXT}, which this version of licensebot does not know"
    ):
        ensure_schema(engine)


def test_ensure_schema_refuses_a_database_of_something_else(empty_engine: Engine) -> None:
    with empty_engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaNotReady, match=r"has tables \(customers, \.\.\.\) but no licensebot schema"):
        ensure_schema(empty_engine)


def test_the_audit_log_is_append_only_in_the_database(engine: Engine) -> None:
    """R20: neither an UPDATE nor a DELETE gets through, whatever code sends it."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, result, details) "
                "VALUES (:at, 'lena@contoso.com', 'replace E5', 'applied', '{}')"
            ),
            {"at": "2025-03-03 09:00:00"},
        )
    for statement in ("UPDATE audit_log SET actor = 'someone@else.com'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text(statement))
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT actor FROM audit_log")) == "lena@contoso.com"
