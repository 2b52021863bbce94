"""Footprint of `licensebot serve`: start-up time to ready, resident memory idle and after a bulk job,
and how reads scale, with the simulated tenant small (the Contoso demo, 25 users) and large.

For each tenant size a SQLite database is prepared first (migrated, the demo seeded, then grown in
bulk through the ORM), then `licensebot serve` (gunicorn, 1 worker) is started on it:

* start-up: from spawning the process to the first `/readyz` 200 (on an empty database the first
  start also migrates and seeds the demo tenant: reported on its own);
* RSS: VmRSS of the gunicorn master and its worker from /proc, idle (after the probes below), and
  after the bulk job;
* probes: time from a signed `/license show @alice` or `/subscription list` to its reply arriving in
  the local fake Slack (the work, not only the ack), median of a few;
* the bulk job, where the tenant has its 2,000 E3 holders: `/license replace has:E3 E5` through
  Slack (preview, then Confirm) on the simulated tenant, timed to the preview and to the result.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ADMIN_EMAIL,
    BENCH_SECRET,
    Check,
    Cohort,
    Log,
    Serve,
    Table,
    mib,
    ms,
    no_log,
    prepare_bot_database,
    serve,
    settled_change_message,
)

NAME = "footprint"
TITLE = "Footprint of licensebot serve (SQLite, gunicorn, 1 worker)"
DEMO_USERS = 25
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
CONFIRM = "change.confirm"


@dataclass(frozen=True)
class Params:
    tenant_sizes: tuple[int, ...] = (DEMO_USERS, 50_000)
    job_users: int = 2000
    probes: int = 5
    time_limit_seconds: float = 900.0
    settle_seconds: float = 1.0
    """The wait before memory is read, for the worker to finish what it does after a reply."""

    @classmethod
    def quick(cls) -> Params:
        return cls(tenant_sizes=(DEMO_USERS, 5_000), job_users=200, probes=3, time_limit_seconds=300)

    @classmethod
    def tiny(cls) -> Params:
        return cls(
            tenant_sizes=(DEMO_USERS, 60), job_users=20, probes=1, time_limit_seconds=120, settle_seconds=0.1
        )


@dataclass
class SizeResult:
    users: int
    startup_seconds: float
    rss_idle: dict[str, int]
    show_seconds: float
    list_seconds: float
    job_users: int = 0
    preview_seconds: float = float("nan")
    apply_seconds: float = float("nan")
    rss_after_job: dict[str, int] | None = None
    job_ok: bool = False
    database_mib: float = 0.0


def _cohorts(size: int, job_users: int) -> tuple[list[Cohort], dict[str, int]]:
    """Grow the 25-user demo tenant to `size` users: `job_users` of them on E3 (for the job), the rest
    on Microsoft 365 Business Premium; E5 seats for the job."""
    extra = size - DEMO_USERS
    if extra <= 0:
        return [], {}
    job = min(job_users, extra)
    cohorts = [Cohort("job", job, "ENTERPRISEPACK")]
    if extra > job:
        cohorts.append(Cohort("fill", extra - job, "SPB"))
    return cohorts, {"ENTERPRISEPREMIUM": job}


def _strip_demo_e3(url: str, job_users: int) -> None:
    """Take E3 from the demo's own people, so that `has:E3` selects exactly the job's users."""
    from sqlalchemy import delete

    from storage.database import create_engine, session_factory
    from storage.orm import SimUserLicenseRow
    from storage.simulated.seed import drop_group_licenses

    engine = create_engine(url)
    try:
        with session_factory(engine)() as session:
            session.execute(
                delete(SimUserLicenseRow).where(
                    SimUserLicenseRow.sku_id == E3, ~SimUserLicenseRow.user_id.in_(_job_ids(job_users))
                )
            )
            drop_group_licenses(session, E3)
            session.commit()
    finally:
        engine.dispose()


def _job_ids(users: int) -> list[str]:
    from bench.common import bench_user_id

    return [bench_user_id(i, "job") for i in range(1, users + 1)]


class _Slack:
    """The admin in a local fake Slack, sending signed commands and clicks to one server."""

    def __init__(self, slack: Any, server: Serve) -> None:
        self.slack = slack
        self.server = server
        self.admin = slack.add_user("lena", real_name="Lena Fischer", email=ADMIN_EMAIL)
        self.alice = slack.add_user("alice", real_name="Alice Wu", email="alice@contoso.com")
        self.channel = slack.add_channel("licensing", members=[self.admin])
        self.http = httpx.Client(timeout=60)

    def close(self) -> None:
        self.http.close()

    def post(self, body: str) -> None:
        from bot.local_slack import signed_headers

        response = self.http.post(
            self.server.events_url, content=body, headers=signed_headers(body, BENCH_SECRET)
        )
        response.raise_for_status()

    def command(self, text: str, command: str = "/license") -> None:
        self.post(self.slack.slash_command_body(command, text, user_id=self.admin, channel_id=self.channel))

    def replies(self) -> list[Any]:
        found: list[Any] = self.slack.ephemerals(self.admin)
        return found

    def timed_reply(self, text: str, command: str = "/license", timeout: float = 120) -> tuple[float, Any]:
        """Seconds from sending the command to its reply arriving, and the reply."""
        before = len(self.replies())
        started = time.perf_counter()
        self.command(text, command)
        self.slack.wait_for(lambda: len(self.replies()) > before, timeout=timeout)
        return time.perf_counter() - started, self.replies()[before]


def _job(chat: _Slack, result: SizeResult, params: Params) -> None:
    """`/license replace has:E3 E5`, then Confirm; wait for the result in place of the preview.

    The preview comes as an ephemeral reply or, for a large change, as a message in the channel."""
    seen = {m.ts for m in chat.slack.messages(chat.channel)} | {m.ts for m in chat.replies()}

    def preview() -> Any:
        for message in [*chat.replies(), *chat.slack.messages(chat.channel)]:
            if message.ts not in seen and f"'action_id': '{CONFIRM}'" in str(message.blocks):
                return message
        return None

    started = time.perf_counter()
    chat.command("replace has:E3 E5")
    found = chat.slack.wait_for(preview, timeout=params.time_limit_seconds)
    result.preview_seconds = time.perf_counter() - started
    started = time.perf_counter()
    chat.post(
        chat.slack.action_body(chat.admin, action_id=CONFIRM, channel=found.channel, message_ts=found.ts)
    )

    chat.slack.wait_for(
        lambda: settled_change_message(chat.slack.message(found.channel, found.ts)),
        timeout=params.time_limit_seconds,
    )
    result.apply_seconds = time.perf_counter() - started


def _job_done(url: str, users: int) -> bool:
    """Nobody holds E3 any more, and every user of the job holds E5."""
    from sqlalchemy import func, select

    from storage.database import create_engine, session_factory
    from storage.orm import SimUserLicenseRow

    engine = create_engine(url)
    try:
        with session_factory(engine)() as session:
            e3 = session.scalar(
                select(func.count()).select_from(SimUserLicenseRow).where(SimUserLicenseRow.sku_id == E3)
            )
            e5 = session.scalar(
                select(func.count())
                .select_from(SimUserLicenseRow)
                .where(SimUserLicenseRow.sku_id == E5, SimUserLicenseRow.user_id.in_(_job_ids(users)))
            )
    finally:
        engine.dispose()
    return e3 == 0 and e5 == users


def measure_size(size: int, folder: Path, params: Params, log: Log) -> tuple[SizeResult, float | None]:
    """One tenant size; also the first start on an empty database for the demo size."""
    from bot.local_slack import LocalSlack

    url = f"sqlite:///{folder / 'footprint.db'}"
    cold: float | None = None
    with LocalSlack() as slack:
        if size <= DEMO_USERS:
            with serve(
                database_url=url, slack_api_url=slack.api_url, bot_token=slack.bot_token, workdir=folder
            ) as first:
                cold = first.startup_seconds
        else:
            cohorts, seats = _cohorts(size, params.job_users)
            log(f"footprint: growing the tenant to {size:,} users")
            prepare_bot_database(url, cohorts, seats)
            _strip_demo_e3(url, min(params.job_users, size - DEMO_USERS))
        with serve(
            database_url=url, slack_api_url=slack.api_url, bot_token=slack.bot_token, workdir=folder
        ) as server:
            chat = _Slack(slack, server)
            try:
                chat.timed_reply("help")  # the first request pays for lazy imports and connections
                shows = [chat.timed_reply(f"show <@{chat.alice}|alice>")[0] for _ in range(params.probes)]
                lists = [chat.timed_reply("list", "/subscription")[0] for _ in range(params.probes)]
                time.sleep(params.settle_seconds)
                result = SizeResult(
                    size,
                    server.startup_seconds,
                    server.rss(),
                    statistics.median(shows),
                    statistics.median(lists),
                )
                job = min(params.job_users, max(0, size - DEMO_USERS))
                if job >= params.job_users:
                    log(f"footprint: {size:,} users: the {job:,}-user job through Slack")
                    result.job_users = job
                    _job(chat, result, params)
                    time.sleep(params.settle_seconds)
                    result.rss_after_job = server.rss()
            finally:
                chat.close()
        if result.job_users:
            result.job_ok = _job_done(url, result.job_users)
    with contextlib.suppress(OSError):
        result.database_mib = (folder / "footprint.db").stat().st_size / 1024 / 1024
    return result, cold


def run(params: Params, log: Log = no_log) -> list[Table]:
    table = Table(
        TITLE,
        [
            "tenant users",
            "start-up to ready s",
            "RSS idle MiB (master + worker)",
            "/license show reply ms",
            "/subscription list reply ms",
            "bulk job",
            "preview s",
            "apply s",
            "RSS after job MiB",
            "database MiB",
        ],
    )
    cold_start: float | None = None
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-footprint-") as tmp:
        for size in params.tenant_sizes:
            folder = Path(tmp) / f"tenant-{size}"
            folder.mkdir()
            log(f"footprint: tenant of {size:,} users")
            result, cold = measure_size(size, folder, params, log)
            results.append(result)
            cold_start = cold if cold is not None else cold_start
            idle = result.rss_idle
            after = result.rss_after_job
            table.add(
                f"{result.users:,}",
                f"{result.startup_seconds:.2f}",
                _rss(idle),
                ms(result.show_seconds),
                ms(result.list_seconds),
                f"{result.job_users:,} users" + ("" if result.job_ok else " (NOT DONE)")
                if result.job_users
                else "–",
                f"{result.preview_seconds:.1f}" if result.job_users else "–",
                f"{result.apply_seconds:.1f}" if result.job_users else "–",
                _rss(after) if after else "–",
                f"{result.database_mib:.1f}",
            )
    _checks(table, results)
    if cold_start is not None:
        table.notes.append(
            "First start on an empty database (migrate, seed the demo tenant, then ready): "
            f"{cold_start:.2f} s."
        )
    table.notes += [
        "Start-up: from spawning `licensebot serve` to the first `/readyz` 200, on a database already "
        "prepared (the gunicorn master migrates and seeds, then forks the worker, which builds its "
        "own container).",
        "Tenants are grown in bulk through the ORM: the job's users hold Office 365 E3, the others "
        "Microsoft 365 Business Premium; the demo's own people lose E3 so `has:E3` is exactly the job. "
        "The job runs on the simulated tenant (in the bot's own database), so it measures the bot's "
        "own work, not Graph's latency (see the bulk table for that).",
    ]
    return [table]


def _total(values: dict[str, int]) -> int:
    return sum(values.values())


def _checks(table: Table, results: list[SizeResult]) -> None:
    """What grows with the tenant: informational (DESIGN.md sets no number), read side by side."""
    if len(results) < 2:
        return
    small, large = results[0], results[-1]
    grow = (_total(large.rss_idle) - _total(small.rss_idle)) / 1024
    table.checks.append(
        Check(
            f"Idle memory does not grow with the tenant ({small.users:,} → {large.users:,} users)",
            f"{mib(_total(small.rss_idle))} → {mib(_total(large.rss_idle))} MiB ({grow:+.0f} MiB)",
            grow < 20,
        )
    )
    table.checks.append(
        Check(
            f"Start-up does not grow with the tenant ({small.users:,} → {large.users:,} users)",
            f"{small.startup_seconds:.2f} → {large.startup_seconds:.2f} s",
            large.startup_seconds < 2 * small.startup_seconds + 0.5,
        )
    )
    table.checks.append(
        Check(
            f"`/license show` reply time ({small.users:,} → {large.users:,} users)",
            f"{ms(small.show_seconds)} → {ms(large.show_seconds)} ms",
            None,
        )
    )
    table.checks.append(
        Check(
            f"`/subscription list` reply time ({small.users:,} → {large.users:,} users)",
            f"{ms(small.list_seconds)} → {ms(large.list_seconds)} ms",
            None,
        )
    )
    jobs = [r for r in results if r.job_users and r.rss_after_job]
    for r in jobs:
        assert r.rss_after_job is not None
        table.checks.append(
            Check(
                f"Memory after the {r.job_users:,}-user job ({r.users:,} users)",
                f"{mib(_total(r.rss_idle))} → {mib(_total(r.rss_after_job))} MiB",
                None,
            )
        )


def _rss(values: dict[str, int]) -> str:
    master = values.get("master", 0)
    workers = [v for k, v in values.items() if k != "master"]
    return f"{mib(master + sum(workers))} ({mib(master)} + {' + '.join(mib(w) for w in workers) or '0'})"
