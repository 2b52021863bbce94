"""The local shell: time from typing a command to its rendered reply.

In-process, as `licensebot shell --demo` runs: a fresh demo tenant (SQLite), the real Bolt app and
listeners, the local fake Slack; what is typed goes through `Console.handle`. The clock starts when
the line is handed over and stops when the reply's rendered text is printed. Each round:

    /license replace @alice E5   → the preview (with Confirm / Cancel)
    1                            → Confirm → "Licenses replaced"
    /license replace @alice E3   → the preview
    1                            → Confirm → "Licenses replaced"

so every round starts from the same tenant state.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ADMIN_EMAIL, Check, Log, Table, ms, no_log, percentile

NAME = "shell"
TITLE = "Shell: typing a command → rendered reply (licensebot shell --demo, in-process)"
PREVIEW = "Confirm"
RESULT = "Licenses replaced"


@dataclass(frozen=True)
class Params:
    rounds: int = 25
    time_limit_seconds: float = 120.0

    @classmethod
    def quick(cls) -> Params:
        return cls(rounds=5, time_limit_seconds=60)

    @classmethod
    def tiny(cls) -> Params:
        return cls(rounds=1, time_limit_seconds=60)


class _ClockedOut(io.StringIO):
    """The console's output, with the time each piece of text was written."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.writes.append((time.perf_counter(), text))
        return super().write(text)

    def first_after(self, started: float, marker: str) -> float | None:
        with self._lock:
            return next((t for t, text in self.writes if t >= started and marker in text), None)


def _timed(console: object, out: _ClockedOut, line: str, marker: str) -> float:
    started = time.perf_counter()
    console.handle(line)  # type: ignore[attr-defined]
    shown = out.first_after(started, marker)
    if shown is None:
        raise RuntimeError(f"no {marker!r} after {line!r}:\n{out.getvalue()[-2000:]}")
    return shown - started


def _cold_start(params: Params) -> float:
    """The whole command, imports included: `licensebot shell --demo` told to quit at once."""
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("licensebot")), "shell", "--demo"],
        input=":quit\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=params.time_limit_seconds,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    return time.perf_counter() - started


def run(params: Params, log: Log = no_log) -> list[Table]:
    from bot.bootstrap import bootstrap
    from bot.settings import Settings
    from bot.shell.console import Console

    timings: dict[str, list[float]] = {"replace → preview": [], "Confirm → result": []}
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-shell-") as tmp:
        started = time.perf_counter()
        container = bootstrap(Settings(database_url=f"sqlite:///{Path(tmp) / 'demo.db'}"))
        out = _ClockedOut()
        console = Console(container, ADMIN_EMAIL, out)
        startup = time.perf_counter() - started
        deadline = time.monotonic() + params.time_limit_seconds
        rounds = 0
        try:
            for _ in range(params.rounds):
                if time.monotonic() > deadline:
                    break
                for product in ("E5", "E3"):
                    timings["replace → preview"].append(
                        _timed(console, out, f"/license replace @alice {product}", PREVIEW)
                    )
                    timings["Confirm → result"].append(_timed(console, out, "1", RESULT))
                rounds += 1
        finally:
            console.close()
            container.engine.dispose()
    cold = _cold_start(params)
    log(f"shell: {rounds} rounds, start-up {startup:.2f} s, process {cold:.2f} s")
    table = Table(TITLE, ["what", "n", "median ms", "p95 ms", "min ms", "max ms"])
    table.add("`licensebot shell --demo` process: start, `:quit`, exit", 1, ms(cold), "–", "–", "–")
    table.add(
        "in-process start-up: migrate + seed a demo tenant, console ready", 1, ms(startup), "–", "–", "–"
    )
    for what, values in timings.items():
        table.add(
            what,
            len(values),
            ms(statistics.median(values)) if values else "–",
            ms(percentile(values, 0.95)),
            ms(min(values)) if values else "–",
            ms(max(values)) if values else "–",
        )
    for what, values in timings.items():
        if values:
            table.checks.append(Check(f"Shell: {what}", f"median {ms(statistics.median(values))} ms", None))
    table.notes.append(
        "From the line handed to the console to the reply's rendered text printed: signing, Bolt, the "
        "listener (tenant reads on SQLite, Block Kit), the reply through the local fake Slack Web API "
        "over loopback HTTP, and rendering. Confirm includes the write and the 'Applying…' update "
        "before the result. Rounds alternate E5 and E3 so each starts from the same state."
    )
    return [table]
