#!/usr/bin/env python3
"""Developer entry point: sets up its own virtual environment, then runs the demo or the checks.

    python3 dev.py demo      the local chat shell on a fresh simulated tenant
    python3 dev.py test      the whole test suite
    python3 dev.py lint      ruff, ruff format --check, mypy --strict, import contracts
    python3 dev.py bench     the benchmarks (writes docs/benchmarks.md)
    python3 dev.py run ...   any `licensebot` subcommand inside the environment

Only the standard library is used here, so it runs on a fresh machine with Python 3.11+. The
environment gets the versions locked in requirements/dev.txt, checked against their hashes
(docs/development.md says how to refresh the lock).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".licensebot-installed"
LOCK = ROOT / "requirements" / "dev.txt"
"""Every package of the environment pinned with its hashes (docs/development.md: refreshing it)."""


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_environment() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"licensebot needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print("Installing licensebot and its development tools (first run only) ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # The locked versions, each checked against its hashes; then the project itself, editable, built
    # by the hatchling of the lock (no build isolation: nothing unpinned is fetched to build it).
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    STAMP.write_text(_fingerprint())


def run(*args: str) -> int:
    return subprocess.call(list(args), cwd=ROOT)


def test(extra: list[str]) -> int:
    code = run(str(PYTHON), "-m", "pytest", *extra)
    if code == 5:
        print("pytest collected no tests: that is a failure, not a pass.", file=sys.stderr)
        return 1
    return code


def lint() -> int:
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
        [str(BIN / "lint-imports")],
    ]
    for step in steps:
        print("$", " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)), flush=True)
        code = run(*step)
        if code != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, extra = argv[0], argv[1:]
    ensure_environment()
    if command == "demo":
        return run(str(BIN / "licensebot"), "shell", "--demo", *extra)
    if command == "test":
        return test(extra)
    if command == "lint":
        return lint()
    if command == "bench":
        return run(str(PYTHON), "-m", "bench", *extra)
    if command == "run":
        return run(str(BIN / "licensebot"), *extra)
    print(f"Unknown command {command!r}.\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
