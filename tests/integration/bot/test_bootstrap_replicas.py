"""Replicas starting together on an empty PostgreSQL database (issue #6): one migrates and seeds
the simulated tenant, the others wait for it and find it ready — no duplicate key, no second seed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bench.common import postgres_database
from bot.bootstrap import Container, bootstrap
from bot.settings import Settings
from storage.orm import SimUserRow

pytestmark = pytest.mark.postgres


def test_three_replicas_starting_at_once_on_an_empty_database_seed_it_once(postgres_url: str) -> None:
    with postgres_database(postgres_url) as database:
        start = threading.Barrier(3)
        built: list[Container] = []
        failed: list[BaseException] = []

        def replica() -> None:
            start.wait()
            try:
                built.append(bootstrap(Settings(database_url=database)))
            except BaseException as error:
                failed.append(error)

        threads = [threading.Thread(target=replica) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        try:
            assert failed == []
            assert len(built) == 3
            with built[0].sessions() as session:
                users = session.scalar(select(func.count()).select_from(SimUserRow))
            later = bootstrap(Settings(database_url=database))  # a fourth, once they all run
            built.append(later)
            with later.sessions() as session:
                again = session.scalar(select(func.count()).select_from(SimUserRow))
            assert users == again
            assert users is not None
            assert users > 20, "the Contoso demo tenant, once"
        finally:
            for container in built:
                container.engine.dispose()
