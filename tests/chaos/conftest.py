"""Fault tests (issue #8): the bot killed mid-job, the database gone for a while.

They run real processes (the bot as a subprocess killed with SIGKILL, a private PostgreSQL server
stopped and started) and take tens of seconds each, so they carry the `chaos` marker (registered
in pyproject.toml): `-m "not chaos"` leaves them out while developing; CI runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import skip_or_fail

T = TypeVar("T")


def wait_for(what: Callable[[], T], *, timeout: float, description: str, interval: float = 0.002) -> T:
    """Poll `what` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {description}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# A private PostgreSQL server, to stop and start without disturbing the shared one
# ---------------------------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = os.environ.get("LICENSEBOT_POSTGRES_BIN")
    candidates = [Path(found)] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of this test's own: a data directory in /tmp, a free port on 127.0.0.1,
    run as the `postgres` OS user when the tests run as root (initdb refuses root)."""

    bin_dir: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def initdb(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        # fsync=off only risks data on an operating-system crash; commits stay synchronous, so a
        # stop in immediate mode (a server crash) loses nothing that was committed.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "immediate") -> None:
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stdout}{done.stderr}")

    def running(self) -> bool:
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status")
        return done.returncode == 0

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "server.log").read_text(errors="replace").splitlines()[-lines:])
        return ""


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """Started; stopped and deleted afterwards. Skipped with the reason when it cannot be made,
    failed instead when LICENSEBOT_REQUIRE_POSTGRES=1."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        skip_or_fail(
            "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin, on PATH "
            "or in LICENSEBOT_POSTGRES_BIN",
            "LICENSEBOT_REQUIRE_POSTGRES",
        )
    assert bin_dir is not None
    run_as: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="licensebot-chaos-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(root, ignore_errors=True)
            skip_or_fail(
                "running as root and no `runuser` to start PostgreSQL as another user",
                "LICENSEBOT_REQUIRE_POSTGRES",
            )
        try:
            shutil.chown(root, user="postgres", group=None)
        except (LookupError, PermissionError) as exc:
            shutil.rmtree(root, ignore_errors=True)
            skip_or_fail(
                f"running as root and cannot hand a data directory to the `postgres` user: {exc}",
                "LICENSEBOT_REQUIRE_POSTGRES",
            )
        run_as = [str(runuser), "-u", "postgres", "--"]
    server = PrivatePostgres(bin_dir, root, free_port(), run_as)
    try:
        created = server.initdb()
        if created.returncode != 0:
            skip_or_fail(
                f"initdb failed: {(created.stderr or created.stdout).strip()[-500:]}",
                "LICENSEBOT_REQUIRE_POSTGRES",
            )
        server.start()
        yield server
    finally:
        if server.data.exists() and server.running():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
