"""Database fixtures: every storage test runs on SQLite (a file in tmp_path) and on PostgreSQL.

On PostgreSQL each test gets a schema of its own (through `search_path` in the URL), dropped
afterwards, so tests never see each other's rows. The schema is built by the Alembic migrations, as
in production; nothing here calls `create_all`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.database import create_engine, session_factory
from storage.migrate import upgrade
from storage.simulated import SimulatedDirectory, SimulatedTenant, reset_demo_tenant
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import postgres_schema
from tests.fakes import FixedClock


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'licensebot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema that is dropped afterwards."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A database migrated to the latest revision."""
    upgrade(empty_engine)
    return empty_engine


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def seeded(sessions: sessionmaker[Session], clock: FixedClock) -> sessionmaker[Session]:
    """The Contoso demo tenant, committed."""
    with sessions.begin() as session:
        reset_demo_tenant(session, clock)
    return sessions


@pytest.fixture
def session(seeded: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the demo tenant; whatever it does is rolled back at the end."""
    with seeded() as session:
        yield session
        session.rollback()


@pytest.fixture
def directory(session: Session, clock: FixedClock) -> SimulatedDirectory:
    return SimulatedDirectory(session, clock)


@pytest.fixture
def uow_factory(seeded: sessionmaker[Session]) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(seeded)


@pytest.fixture
def tenant(seeded: sessionmaker[Session], clock: FixedClock) -> SimulatedTenant:
    """The simulated tenant as the services are given it: on sessions of its own."""
    return SimulatedTenant(seeded, clock)
