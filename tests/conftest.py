"""Shared fixtures: the reference folder and PostgreSQL, each skipped when absent, failed in CI.

`.ci/run` sets LICENSEBOT_REQUIRE_REFERENCE=1 and LICENSEBOT_REQUIRE_POSTGRES=1, which turn the
skips into failures, so CI cannot go green by skipping what it must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REFERENCE_DIR = Path(
    os.environ.get("LICENSEBOT_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "reference")
)
POSTGRES_URL = os.environ.get(
    "LICENSEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str, required_by: str) -> None:
    """Skip with a clear reason, or fail when the environment flag says it must run."""
    if _flag(required_by):
        pytest.fail(f"{reason} ({required_by} is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        skip_or_fail(
            f"the reference folder {REFERENCE_DIR} is absent (clone ../shared beside the repo)",
            "LICENSEBOT_REQUIRE_REFERENCE",
        )
    return REFERENCE_DIR


def postgres_reachable(url: str = POSTGRES_URL) -> str | None:
    """None when PostgreSQL answers, else why not."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = postgres_reachable()
    if problem is not None:
        skip_or_fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL}: {problem}", "LICENSEBOT_REQUIRE_POSTGRES"
        )
    return POSTGRES_URL


@contextmanager
def postgres_schema(url: str, prefix: str = "test") -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of `url`, dropped afterwards: its URL (through
    `search_path`), so tests never see each other's rows."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from storage.database import create_engine

    base = make_url(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
    finally:
        admin.dispose()
