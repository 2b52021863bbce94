"""Schema migrations, driven from code: `licensebot db upgrade`, and the first start of the app.

The Alembic scripts ship inside the package (`storage/migrations/`), found next to this file, so no
`alembic.ini` is needed wherever the bot is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from storage.database import create_engine

__all__ = [
    "MIGRATIONS_DIR",
    "SchemaNotReady",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "upgrade",
]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

_VERSION_TABLE: Final = "alembic_version"
_MIGRATION_LOCK_KEY: Final = 0x6C6963656E7365
"""A PostgreSQL advisory lock id ("license"): replicas starting together migrate one at a time."""

UPGRADE_HINT: Final = "run `licensebot db upgrade`"


class SchemaNotReady(RuntimeError):
    """The database schema does not match this version of licensebot."""


def upgrade(target: str | URL | Engine, revision: str = "head", *, migrations: Path = MIGRATIONS_DIR) -> None:
    with _connection(target) as connection:
        _lock(connection)
        command.upgrade(_config(connection, migrations), revision)


def downgrade(target: str | URL | Engine, revision: str, *, migrations: Path = MIGRATIONS_DIR) -> None:
    with _connection(target) as connection:
        _lock(connection)
        command.downgrade(_config(connection, migrations), revision)


def current_revision(target: str | URL | Engine) -> str | None:
    with _connection(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(*, migrations: Path = MIGRATIONS_DIR) -> str | None:
    return ScriptDirectory.from_config(_config(None, migrations)).get_current_head()


def ensure_schema(engine: Engine, *, migrations: Path = MIGRATIONS_DIR) -> None:
    """Make the schema ready on start, or say exactly what to do.

    An empty database (the first start, e.g. a new SQLite file) is migrated to the latest revision.
    A SQLite database that is behind is upgraded too: it belongs to this one process. A PostgreSQL
    database that is behind is left alone (several replicas share it; upgrading is a deliberate
    step), and so is any database whose revision this version does not know.
    """
    with _connection(engine) as connection:
        _lock(connection)
        config = _config(connection, migrations)
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        tables = set(sa.inspect(connection).get_table_names()) - {_VERSION_TABLE}
        where = _describe(engine)
        if current is None and tables:
            raise SchemaNotReady(
                f"The database {where} has tables ({', '.join(sorted(tables)[:5])}, ...) but no "
                "licensebot schema revision. Point DATABASE_URL at an empty database or at one "
                "created by licensebot."
            )
        if current is not None and not _is_known(script, current):
            raise SchemaNotReady(
                f"The database {where} is at schema revision {current}, which this version of "
                f"licensebot does not know (it expects {head}). Is an older version running "
                "against a newer database? Upgrade licensebot, or restore a matching database."
            )
        if current is not None and connection.dialect.name != "sqlite":
            raise SchemaNotReady(
                f"The database {where} is at schema revision {current}, behind {head}: "
                f"{UPGRADE_HINT}, then start the bot again."
            )
        command.upgrade(config, "head")


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # Alembic raises several types for an unknown or malformed revision
        return False


def _describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _config(connection: Connection | None, migrations: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connection(target: str | URL | Engine) -> Iterator[Connection]:
    """One transaction for the whole command: on PostgreSQL and SQLite, DDL rolls back with it."""
    engine = target if isinstance(target, Engine) else create_engine(target)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if engine is not target:
            engine.dispose()


def _lock(connection: Connection) -> None:
    # SQLite already serializes: every transaction begins IMMEDIATE (storage.database).
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
