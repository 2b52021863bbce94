"""Engines and sessions for the bot's database: SQLite by default, PostgreSQL for scale-out (DESIGN.md §7).

SQLite runs in WAL mode with foreign keys on, and every transaction starts with `BEGIN IMMEDIATE`:
writers queue up behind each other (for `busy_timeout`) instead of failing halfway, and a read
meant to be followed by a write (`for_update`) is as safe as a row lock on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, MetaData, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "DEFAULT_URL",
    "NAMING_CONVENTION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_engine",
    "metadata",
    "normalize_url",
    "session_factory",
]

DEFAULT_URL: Final = "sqlite:///licensebot.db"

SQLITE_BUSY_TIMEOUT_MS: Final = 15_000
"""How long a SQLite writer waits for another one before giving up ("database is locked")."""

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names are predictable, so later migrations can alter or drop them by name."""

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` (as hosting platforms hand them out) use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine(url: str | URL = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for how the bot uses SQLite or PostgreSQL."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        _make_parent_directory(parsed)
        engine = sa.create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine)


def _make_parent_directory(url: URL) -> None:
    """A new SQLite file just works, even in a folder that does not exist yet (e.g. `var/`)."""
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    # The recipe from SQLAlchemy's SQLite documentation ("Enabling Non-Legacy SQLite Transactional
    # Modes"): sqlite3 stops emitting its own BEGIN, and SQLAlchemy emits BEGIN IMMEDIATE instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
