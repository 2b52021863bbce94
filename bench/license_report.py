"""`/license report` on a large simulated tenant (R22): time from the command's listener starting
to the CSV attached in the thread, and the memory the report takes, against the tenant's size.

In-process, as `licensebot serve` runs the listener: a SQLite database prepared first (migrated, the
Contoso demo seeded, then grown in bulk), the services as `bot.bootstrap` builds them, the listener's
own function (`handlers.commands.license_report.send_report`) posting to the local fake Slack. Timed: the
whole report (the users read a page at a time, the CSV written to a temporary file, the message
posted and updated, the file streamed to Slack's upload URL and completed in the thread). Memory:
the peak of Python allocations (tracemalloc) while the report is read and written, in a second run
(tracemalloc slows the code it watches), minus what was allocated before it started.
"""

from __future__ import annotations

import io
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from bench.common import ADMIN_EMAIL, Check, Cohort, Log, Table, no_log, prepare_bot_database

NAME = "report"
TITLE = "License report: /license report on a large simulated tenant (SQLite, in-process)"
DEMO_USERS = 28
"""The Contoso demo's users; a cohort holding Office 365 E3 makes up the rest of each size."""


@dataclass(frozen=True)
class Params:
    tenant_sizes: tuple[int, ...] = (5_000, 50_000)
    time_limit_seconds: float = 60.0

    @classmethod
    def quick(cls) -> Params:
        return cls(tenant_sizes=(2_000, 10_000))

    @classmethod
    def tiny(cls) -> Params:
        return cls(tenant_sizes=(200, 1_000))


@dataclass(frozen=True)
class _Run:
    size: int
    users: int
    rows: int
    seconds: float
    csv_bytes: int
    peak_bytes: int


def run(params: Params, log: Log = no_log) -> list[Table]:
    table = Table(
        TITLE,
        ["users in the tenant", "licensed (rows)", "report attached (s)", "CSV (MiB)", "peak memory (MiB)"],
    )
    runs: list[_Run] = []
    for size in params.tenant_sizes:
        log(f"report: preparing a tenant of {size:,} users")
        with tempfile.TemporaryDirectory(prefix="licensebot-report-") as folder:
            url = f"sqlite:///{Path(folder) / 'report.db'}"
            prepare_bot_database(url, [Cohort("report", max(size - DEMO_USERS, 0), "ENTERPRISEPACK")])
            result = _measure(url, size)
        log(f"report: {size:,} users in {result.seconds:.1f}s, peak {result.peak_bytes / 2**20:.1f} MiB")
        runs.append(result)
        table.add(
            f"{result.size:,}",
            f"{result.rows:,}",
            f"{result.seconds:.1f}",
            f"{result.csv_bytes / 2**20:.1f}",
            f"{result.peak_bytes / 2**20:.1f}",
        )
    largest = max(runs, key=lambda r: r.size)
    table.checks.append(
        Check(
            f"/license report of {largest.size:,} users attached in under {params.time_limit_seconds:.0f} s",
            f"{largest.seconds:.1f} s",
            largest.seconds < params.time_limit_seconds,
        )
    )
    smallest = min(runs, key=lambda r: r.size)
    growth = largest.peak_bytes / max(smallest.peak_bytes, 1)
    table.checks.append(
        Check(
            "memory does not grow with the tenant",
            f"peak {smallest.peak_bytes / 2**20:.1f} MiB at {smallest.size:,} users, "
            f"{largest.peak_bytes / 2**20:.1f} MiB at {largest.size:,} ({growth:.2f}×)",
            growth < 1.5,
        )
    )
    table.notes.append(
        "Users are read 999 a page (Graph's largest page) and written to a temporary file as they come; "
        "the file is streamed to Slack's upload URL. The peak is Python's allocations while the report is "
        "read and written (tracemalloc), not the process's resident memory."
    )
    return [table]


def _measure(url: str, size: int) -> _Run:
    from slack_sdk import WebClient

    from bot.bootstrap import bootstrap
    from bot.local_slack import LocalSlack
    from bot.settings import Settings
    from domain.commands import LicenseReport
    from handlers.commands.license_report import send_report
    from handlers.exports import write_report
    from handlers.grammar.waste import ParsedReport
    from handlers.presenting import Surface

    container = bootstrap(Settings(database_url=url))
    try:
        services = container.services
        with LocalSlack() as slack:
            user = slack.add_user("lena", email=ADMIN_EMAIL)
            channel = slack.add_channel("licensing", members=[user])
            client = WebClient(token=slack.bot_token, base_url=slack.api_url)
            started = time.perf_counter()
            send_report(
                services, ParsedReport(), requester=ADMIN_EMAIL, surface=Surface(client, channel, user)
            )
            seconds = time.perf_counter() - started
            (upload,) = slack.files()
            rows = upload.content.count(b"\n") - 1
            csv_bytes = len(upload.content)
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        report = services.licenses.waste.report(LicenseReport(ADMIN_EMAIL))
        with io.TextIOWrapper(io.BufferedWriter(_Discard()), encoding="utf-8", newline="") as out:
            users = write_report(out, report.products, report.pages)
        peak = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()
    finally:
        container.engine.dispose()
    return _Run(size, users, rows, seconds, csv_bytes, peak)


class _Discard(io.RawIOBase):
    """A file that keeps nothing: the CSV's bytes do not count as the report's memory."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        return len(memoryview(data))  # type: ignore[arg-type]
