"""Engines and sessions for the bot's database: SQLite by default, PostgreSQL for scale-out (DESIGN.md §7).

SQLite runs in WAL mode with foreign keys on, and every transaction starts with `BEGIN IMMEDIATE`:
writers queue up behind each other (for `busy_timeout`) instead of failing halfway, and a read
meant to be followed by a write (`for_update`) is as safe as a row lock on PostgreSQL. Within a
process they queue in the order they came (`WriterQueue`), so a long job writing batch after batch
(a resume after a restart) cannot keep a request's transaction waiting until it times out.
"""

from __future__ import annotations

import threading
from collections import deque
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
    "WriterQueue",
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


class WriterQueue:
    """A SQLite database's transactions in this process, one at a time, first come first served.

    SQLite's own lock is not fair: a writer that finds the database locked sleeps and retries (up
    to 100 ms between tries), and a thread that commits and begins again at once — a change being
    applied batch after batch — takes the lock back before the sleeper wakes, time after time,
    until the sleeper's `busy_timeout` runs out ("database is locked"). Here a transaction that has
    to wait is woken in turn when the one before it ends; SQLite's lock still guards against other
    processes. A thread that already holds the queue passes (one thread, two connections), and one
    that waited `timeout` seconds goes on to SQLite's own lock rather than waiting forever.
    """

    def __init__(self, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self._timeout = timeout
        self._changed = threading.Condition()
        self._waiting: deque[int] = deque()
        self._holder: int | None = None
        self._depth = 0

    @property
    def waiting(self) -> int:
        """Transactions waiting for their turn now."""
        with self._changed:
            return len(self._waiting)

    def enter(self) -> bool:
        """Wait for this thread's turn; False when it did not come within the timeout."""
        me = threading.get_ident()
        with self._changed:
            if self._holder == me:
                self._depth += 1
                return True
            self._waiting.append(me)
            turn = self._changed.wait_for(
                lambda: self._holder is None and self._waiting[0] == me, self._timeout
            )
            self._waiting.remove(me)
            if not turn:
                self._changed.notify_all()  # the next one may have been waiting behind this one
                return False
            self._holder, self._depth = me, 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._depth -= 1
            if self._depth <= 0:
                self._holder, self._depth = None, 0
                self._changed.notify_all()


_QUEUED: Final = "licensebot_writer_queue"
"""Set in a connection's `info` while its transaction holds the queue."""


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

    queue = WriterQueue()

    def leave(info: dict[Any, Any]) -> None:
        if info.pop(_QUEUED, False):
            queue.leave()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if queue.enter():
            connection.info[_QUEUED] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            leave(connection.info)
            raise

    # Before the COMMIT or ROLLBACK itself: the next in turn may find the database locked for the
    # instant it takes, which SQLite's busy handler covers.
    @event.listens_for(engine, "commit")
    def _on_commit(connection: Connection) -> None:
        leave(connection.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        leave(connection.info)

    # A connection that ends without either (invalidated, or handed back mid-transaction).
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            leave(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        if record is not None:
            leave(record.info)
