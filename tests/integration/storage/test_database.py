"""Engines: SQLite with WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE; PostgreSQL via psycopg 3."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from storage.database import SQLITE_BUSY_TIMEOUT_MS, WriterQueue, create_engine, normalize_url
from storage.orm import AuditRow
from storage.orm.types import UtcDateTime


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    yield engine
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_sqlite_transactions_begin_immediate_so_writers_queue_up(sqlite_engine: Engine) -> None:
    """Even a transaction that has only read holds the write lock: a read-then-write is safe."""
    with sqlite_engine.connect() as first:
        first.execute(sa.text("SELECT 1"))  # begins the transaction
        raw = sqlite_engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.execute("PRAGMA busy_timeout = 0")
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                driver.execute("BEGIN IMMEDIATE")
        finally:
            raw.invalidate()


def test_a_writer_that_begins_again_at_once_waits_behind_the_one_already_waiting() -> None:
    """Within a process, SQLite transactions take turns in the order they asked: a job committing
    and beginning batch after batch cannot keep a request's transaction out until it times out."""
    queue = WriterQueue()
    assert queue.enter()
    order: list[str] = []

    def request() -> None:
        assert queue.enter()
        order.append("request")
        queue.leave()

    waiting = threading.Thread(target=request)
    waiting.start()
    deadline = time.monotonic() + 10
    while queue.waiting == 0:
        assert time.monotonic() < deadline, "the request never queued"
        time.sleep(0.001)

    queue.leave()
    assert queue.enter()  # the job's next batch, asked for at once
    order.append("next batch")
    queue.leave()
    waiting.join(timeout=10)

    assert order == ["request", "next batch"]


def test_a_thread_holding_the_writer_queue_passes_and_a_waiter_gives_up_after_its_timeout() -> None:
    queue = WriterQueue(timeout=0.05)
    assert queue.enter()
    assert queue.enter(), "a second connection of the same thread does not wait for the first"
    turns: list[bool] = []
    waiter = threading.Thread(target=lambda: turns.append(queue.enter()))
    waiter.start()
    waiter.join(timeout=10)
    assert turns == [False]  # it goes on to SQLite's own lock
    queue.leave()
    queue.leave()
    assert queue.enter()
    queue.leave()


def test_sqlite_transactions_roll_back_ddl_too(sqlite_engine: Engine) -> None:
    """Transactional DDL (what the migrations rely on): the table disappears with the rollback."""
    with sqlite_engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        connection.rollback()
    assert sa.inspect(sqlite_engine).get_table_names() == []


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://bot:pw@db:5432/licensebot", "postgresql+psycopg"),
        ("postgresql://bot:pw@db:5432/licensebot", "postgresql+psycopg"),
        ("postgresql+psycopg://bot:pw@db:5432/licensebot", "postgresql+psycopg"),
        ("sqlite:///licensebot.db", "sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


def test_postgresql_engines_check_connections_before_use() -> None:
    engine = create_engine("postgresql://bot@db.invalid/licensebot")
    assert engine.dialect.driver == "psycopg"
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    engine.dispose()


def test_timestamps_come_back_as_utc(engine: Engine) -> None:
    amsterdam = timezone(timedelta(hours=1))
    with engine.begin() as connection:
        connection.execute(
            sa.insert(AuditRow).values(
                at=datetime(2025, 3, 3, 10, 0, tzinfo=amsterdam),
                actor="a",
                action="b",
                result="c",
                details={},
            )
        )
        stored = connection.scalar(sa.select(AuditRow.at))
    assert stored == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    assert stored is not None
    assert stored.tzinfo is UTC


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UtcDateTime().process_bind_param(datetime(2025, 3, 3, 9, 0), sa.create_engine("sqlite://").dialect)


def test_a_new_sqlite_file_may_live_in_a_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'licensebot.db'}")
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT 1")) == 1
    engine.dispose()
    assert (tmp_path / "var" / "licensebot.db").is_file()
