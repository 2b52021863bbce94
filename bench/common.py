"""What every benchmark shares: result tables, percentiles, the `licensebot serve` subprocess, resident
memory from /proc, a throwaway PostgreSQL database, and a simulated tenant grown to any size in bulk.

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "LICENSEBOT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
"""A PostgreSQL server the benchmarks may create (and drop) their own databases on."""

BENCH_SECRET = "bench-signing-secret"
ADMIN_EMAIL = "lena@contoso.com"
"""A License admin of the Contoso demo tenant (R16): allowed to assign, replace and remove."""

Log = Callable[[str], None]


def no_log(_: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    met: bool | None
    """None: informational, no target to meet."""


@dataclass
class Table:
    """One benchmark's result: a title, column names, rows of already formatted cells, notes."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    """The targets this table is measured against (DESIGN.md §8), each met or not."""

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(cell) for cell in cells])

    def markdown(self) -> str:
        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
            *("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows),
        ]
        return "\n".join(lines)

    def text(self) -> str:
        """A plain table for the terminal."""
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
        sep = "  "
        out = [self.title, sep.join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))]
        out.append(sep.join("-" * w for w in widths))
        out += [sep.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in self.rows]
        out += [f"  * {note}" for note in self.notes]
        return "\n".join(out)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1): the smallest value with at least that share at or
    below it; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "–"
    value = seconds * 1000
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def fmt(value: float, digits: int = 1) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


# ---------------------------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count() or "?"),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def package_versions(names: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def postgres_version(url: str = POSTGRES_URL) -> str:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(_libpq(url), connect_timeout=3) as conn:
        row = conn.execute("show server_version").fetchone()
        return str(row[0]) if row else "?"
    return "not reachable"


# ---------------------------------------------------------------------------------------------
# Network helpers (loopback only)
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a fresh database per run, dropped afterwards
# ---------------------------------------------------------------------------------------------


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_problem(url: str = POSTGRES_URL) -> str | None:
    """None when the server answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@contextlib.contextmanager
def postgres_database(url: str = POSTGRES_URL) -> Iterator[str]:
    """A new, empty database on the server of `url` (yields its SQLAlchemy URL); dropped on exit."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"licensebot_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _libpq(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


# ---------------------------------------------------------------------------------------------
# `licensebot serve` as a subprocess
# ---------------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children(current)
    return tree


@dataclass
class Serve:
    """A running `licensebot serve` (HTTP mode, gunicorn); `startup_seconds`: spawn to /readyz 200."""

    process: subprocess.Popen[bytes]
    base_url: str
    startup_seconds: float
    log_path: Path

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def rss(self) -> dict[str, int]:
        """KiB per process: the gunicorn master and each worker."""
        tree = process_tree(self.process.pid)
        return {("master" if pid == self.process.pid else f"worker {pid}"): rss_kib(pid) for pid in tree}

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextlib.contextmanager
def serve(
    *,
    database_url: str,
    slack_api_url: str,
    bot_token: str,
    workdir: Path,
    workers: int = 1,
    threads: int = 8,
    extra_env: Mapping[str, str] | None = None,
    ready_timeout: float = 120.0,
) -> Iterator[Serve]:
    """Start `licensebot serve` on a free loopback port and wait for /readyz; stop it on exit."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_SIGNING_SECRET": BENCH_SECRET,
        "SLACK_API_URL": slack_api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
        **(extra_env or {}),
    }
    env.pop("SLACK_APP_TOKEN", None)
    log_path = workdir / f"serve-{port}.log"
    command = [
        str(Path(sys.executable).with_name("licensebot")),
        "serve",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log_file:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            startup = _wait_ready(process, base, started, ready_timeout, log_path)
            yield Serve(process, base, startup, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(
    process: subprocess.Popen[bytes], base: str, started: float, timeout: float, log_path: Path
) -> float:
    deadline = started + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{base}/readyz").status_code == 200:
                    return time.perf_counter() - started
            if process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
    raise RuntimeError(f"serve was not ready within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------
# The simulated tenant, grown in bulk
# ---------------------------------------------------------------------------------------------

BENCH_DOMAIN = "contoso.com"


def bench_upn(index: int, prefix: str = "bench") -> str:
    return f"{prefix}{index:05d}@{BENCH_DOMAIN}"


def bench_name(index: int, prefix: str = "bench") -> str:
    return f"{prefix.title()} User {index:05d}"


def bench_user_id(index: int, prefix: str = "bench") -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"licensebot-bench/{prefix}/{index}"))


@dataclass(frozen=True)
class Cohort:
    """`count` extra users named `{prefix}00001@contoso.com`… holding `product` (a part number)."""

    prefix: str
    count: int
    product: str
    seats: int = 0
    """Seats to buy for the cohort's product on top of the demo's (default: `count`)."""


def grow_tenant(
    session: Any, cohorts: Sequence[Cohort], extra_seats: Mapping[str, int] | None = None
) -> None:
    """Add users (with one license each) and the seats they need to the simulated tenant, in bulk.

    `session` holds a seeded tenant (the Contoso demo); the caller commits. `extra_seats`: part
    number → seats bought on top (e.g. E5 seats for a move).
    """
    from sqlalchemy import insert, select

    from storage.orm import SimProductRow, SimUserLicenseRow, SimUserRow
    from storage.simulated import SimulatedDirectory

    directory = SimulatedDirectory(session, UtcClock())
    skus = {row.part_number: row.sku_id for row in session.scalars(select(SimProductRow))}
    chunk = 5000
    for cohort in cohorts:
        sku = skus[cohort.product]
        for start in range(1, cohort.count + 1, chunk):
            indices = range(start, min(start + chunk, cohort.count + 1))
            session.execute(
                insert(SimUserRow),
                [
                    {
                        "id": bench_user_id(i, cohort.prefix),
                        "user_principal_name": bench_upn(i, cohort.prefix),
                        "display_name": bench_name(i, cohort.prefix),
                        "mail": bench_upn(i, cohort.prefix),
                        "usage_location": "US",
                        "account_enabled": True,
                    }
                    for i in indices
                ],
            )
            session.execute(
                insert(SimUserLicenseRow),
                [
                    {"user_id": bench_user_id(i, cohort.prefix), "sku_id": sku, "disabled_plans": []}
                    for i in indices
                ],
            )
        directory.add_subscription(cohort.product, cohort.seats or cohort.count)
    for product, seats in (extra_seats or {}).items():
        directory.add_subscription(product, seats)
    session.flush()


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def prepare_bot_database(
    database_url: str, cohorts: Sequence[Cohort] = (), extra_seats: Mapping[str, int] | None = None
) -> None:
    """Migrate, seed the Contoso demo tenant and grow it, as `serve` would find it at start-up."""
    from bot.bootstrap import bootstrap
    from bot.settings import Settings

    container = bootstrap(Settings(database_url=database_url))
    try:
        with container.sessions() as session:
            grow_tenant(session, cohorts, extra_seats)
            session.commit()
    finally:
        container.engine.dispose()


def sim_tenant_file(
    path: Path, cohorts: Sequence[Cohort], extra_seats: Mapping[str, int] | None = None
) -> str:
    """A SQLite file holding the Contoso demo tenant grown by `cohorts`: a Graph simulator's data."""
    from storage.graph_sim import DatabaseTenant

    url = f"sqlite:///{path}"
    tenant = DatabaseTenant(url, seed_demo=True)
    try:
        from storage.database import session_factory

        with session_factory(tenant.engine)() as session:
            grow_tenant(session, cohorts, extra_seats)
            session.commit()
    finally:
        tenant.close()
    return url


def settled_change_message(message: Any) -> bool:
    """A change's message shows its result: no Confirm button (the preview), no "Applying…" and no
    progress of a bulk change that is still being written."""
    if message is None:
        return False
    text = str(message.blocks)
    return not any(
        marker in text
        for marker in ("'action_id': 'change.confirm'", "hourglass_flowing_sand", "updated as it goes")
    )


def deadline_after(seconds: float) -> float:
    return time.monotonic() + seconds


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def elapsed_text(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))
