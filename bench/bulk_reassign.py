"""Bulk reassignment against the Graph write quota: licensebot's path against a per-user loop.

The job: replace E3 with E5 for every holder of E3 (N users) of a tenant served by `graph-sim` with
Microsoft's write quota and a per-write latency.

* **licensebot**: the product's own path. `Licensing.request_change` (`/license replace has:E3 E5`)
  plans the change through the real Graph adapter (`GraphDirectory` over `GraphClient`, write pacer
  on), then `Licensing.confirm` applies it in batches of 20: per batch one `$batch` of reads (the
  users' current licenses) and one `$batch` of 20 `assignLicense` writes, each batch committed to
  the bot's own database with its audit records.
* **per-user loop**: what Microsoft's PowerShell examples do (`Get-MgUser -Filter … -All`, then
  `Set-MgUserLicense` per user): list the holders, then one `POST /users/{id}/assignLicense` after
  another with httpx, sleeping `Retry-After` on a 429 and sending the write again.

Each run gets a fresh copy of the tenant and a fresh quota window. Afterwards every user is checked
to hold E5 and not E3.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ADMIN_EMAIL,
    Check,
    Cohort,
    Log,
    Table,
    fmt,
    free_port,
    ms,
    no_log,
    percentile,
    sim_tenant_file,
)

NAME = "bulk"
TITLE = "Bulk reassignment against the Graph write quota"

TOKEN = "bench-graph-token"
APP = "licensebot-bench"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
PAGE_SIZE = 999
"""What Graph serves per page of users with `$top=999`."""


@dataclass(frozen=True)
class Quota:
    writes: int
    window_seconds: float

    @property
    def per_second(self) -> float:
        return self.writes / self.window_seconds

    def __str__(self) -> str:
        return f"{self.writes:,}/{self.window_seconds:g} s"


@dataclass(frozen=True)
class Params:
    users: int = 2000
    write_latencies_ms: tuple[float, ...] = (300.0, 50.0)
    read_latency_ms: float = 0.0
    """Added to every HTTP request by the simulator (a write request gets both)."""
    quota: Quota = Quota(3000, 150.0)
    sustained_quota: Quota | None = Quota(200, 10.0)
    """The same 20 writes/s in a window short enough that the job spans many windows."""
    sequential: bool = True
    time_limit_seconds: float = 1200.0
    """Per run: a run still going then stops and is reported as partial."""

    @classmethod
    def quick(cls) -> Params:
        return cls(users=200, quota=Quota(300, 15.0), sustained_quota=Quota(100, 5.0), time_limit_seconds=300)

    @classmethod
    def tiny(cls) -> Params:
        return cls(
            users=25,
            write_latencies_ms=(0.0,),
            quota=Quota(30, 1.5),
            sustained_quota=Quota(20, 1.0),
            time_limit_seconds=60,
        )


@dataclass
class RunResult:
    how: str
    latency_ms: float
    quota: Quota
    users: int
    done: int
    seconds: float
    plan_seconds: float = 0.0
    throttled: int = 0
    http_requests: int = 0
    sub_requests: int = 0
    partial: bool = False
    correct: bool = False
    progress: list[tuple[float, int]] = field(default_factory=list)
    pacer_waited: float = 0.0
    write_rtts: list[float] = field(default_factory=list)
    """Seconds per HTTP request that carried writes (a `$batch` of them, or one `assignLicense`)."""

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else float("nan")

    @property
    def second_half_rate(self) -> float:
        """Users per second over the second half of the writes: past any initial burst."""
        if len(self.progress) < 3:
            return float("nan")
        end_t, end_n = self.progress[-1]
        mid_t, mid_n = next(p for p in self.progress if p[1] >= end_n / 2)
        return (end_n - mid_n) / (end_t - mid_t) if end_t > mid_t else float("nan")


def _template(folder: Path, users: int) -> Path:
    """A tenant file: the Contoso demo with E3 taken off its own people, plus `users` E3 holders and
    as many E5 seats as they need."""
    from sqlalchemy import delete

    from storage.database import create_engine, session_factory
    from storage.orm import SimUserLicenseRow
    from storage.simulated.seed import drop_group_licenses

    path = folder / "tenant-template.db"
    url = sim_tenant_file(path, [Cohort("bulk", users, "ENTERPRISEPACK")], {"ENTERPRISEPREMIUM": users})
    engine = create_engine(url)
    try:
        with session_factory(engine)() as session:
            session.execute(
                delete(SimUserLicenseRow).where(
                    SimUserLicenseRow.sku_id == E3, ~SimUserLicenseRow.user_id.in_(_bulk_ids(users))
                )
            )
            drop_group_licenses(session, E3)
            session.commit()
    finally:
        engine.dispose()
    return path


def _bulk_ids(users: int) -> list[str]:
    from bench.common import bench_user_id

    return [bench_user_id(i, "bulk") for i in range(1, users + 1)]


def _check(tenant_url: str, users: int) -> bool:
    """Every user of the job holds E5 and not E3; nobody else holds E3."""
    from sqlalchemy import func, select

    from storage.database import create_engine, session_factory
    from storage.orm import SimUserLicenseRow

    engine = create_engine(tenant_url)
    try:
        with session_factory(engine)() as session:
            ids = _bulk_ids(users)
            e5 = session.scalar(
                select(func.count())
                .select_from(SimUserLicenseRow)
                .where(SimUserLicenseRow.sku_id == E5, SimUserLicenseRow.user_id.in_(ids))
            )
            e3 = session.scalar(
                select(func.count()).select_from(SimUserLicenseRow).where(SimUserLicenseRow.sku_id == E3)
            )
            return e5 == users and e3 == 0
    finally:
        engine.dispose()


class _TimingTransport(httpx.HTTPTransport):
    """Times every request that carries an `assignLicense` (the response read in full)."""

    def __init__(self, into: list[float]) -> None:
        super().__init__()
        self._into = into

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        writes = b"assignLicense" in request.content
        started = time.perf_counter()
        response = super().handle_request(request)
        if writes:
            response.read()
            self._into.append(time.perf_counter() - started)
        return response


class _TimeUp(Exception):
    pass


@contextlib.contextmanager
def simulator(
    tenant_url: str, workdir: Path, write_latency_ms: float, read_latency_ms: float, quota: Quota
) -> Iterator[str]:
    """`licensebot graph-sim` in its own process (as Graph is another machine), on `tenant_url`;
    yields its URL (the bot's GRAPH_API_URL) once it answers."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("licensebot")),
        "graph-sim",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        tenant_url,
        "--page-size",
        str(PAGE_SIZE),
        "--latency-ms",
        f"{read_latency_ms:g}",
        "--write-latency-ms",
        f"{write_latency_ms:g}",
        "--write-quota",
        f"{quota.writes}/{quota.window_seconds:g}",
        "--token",
        f"{TOKEN}={APP}",
    ]
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"graph-sim-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_for_simulator(process, url, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_for_simulator(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    """One client for every try: a new one per try loads the TLS trust store each time."""
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{url}/v1.0/organization", headers=headers).status_code == 200:
                    return
            if process.poll() is not None:
                raise RuntimeError(f"graph-sim exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
    raise RuntimeError("graph-sim did not answer within 60 s")


def run_licensebot(
    tenant_url: str,
    workdir: Path,
    latency_ms: float,
    params: Params,
    quota: Quota,
    *,
    profiler: Any = None,
) -> RunResult:
    """The product's path; `profiler` (pyinstrument), when given, runs over plan + apply only."""
    from pydantic import SecretStr

    from bot.bootstrap import bootstrap
    from bot.graph import graph_config
    from bot.settings import Settings, TenantBackend
    from domain.changes import ChangeKind
    from domain.commands import ChangeLicenses, ConfirmChange
    from storage.graph.auth import token_provider
    from storage.graph.client import GraphClient
    from storage.graph.directory import GraphDirectory

    result = RunResult("licensebot", latency_ms, quota, params.users, 0, 0.0)
    with simulator(tenant_url, workdir, latency_ms, params.read_latency_ms, quota) as sim_url:
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'bot.db'}",
            tenant_backend=TenantBackend.GRAPH,
            graph_api_url=sim_url,
            graph_access_token=SecretStr(TOKEN),
            graph_write_quota=quota.writes,
            graph_write_window_seconds=quota.window_seconds,
        )
        config = graph_config(settings)
        client = GraphClient(config, token_provider(config), transport=_TimingTransport(result.write_rtts))
        directory = GraphDirectory(client, cloud=config.cloud)
        container = bootstrap(settings, directory=directory)
        licensing = container.services.licenses.changes
        deadline = time.monotonic() + params.time_limit_seconds
        started = time.perf_counter()

        def progress(change_set: Any) -> None:
            done = sum(1 for item in change_set.items if item.status.final)
            result.progress.append((time.perf_counter() - started, done))
            if time.monotonic() > deadline:
                raise _TimeUp

        if profiler is not None:
            profiler.start()
        try:
            preview = licensing.request_change(
                ChangeLicenses(ChangeKind.REPLACE, ADMIN_EMAIL, ("has:E3",), "E5")
            )
            result.plan_seconds = time.perf_counter() - started
            try:
                final = licensing.confirm(ConfirmChange(preview.id, ADMIN_EMAIL), progress=progress)
                result.done = sum(1 for item in final.items if item.status.value == "applied")
            except _TimeUp:
                result.partial = True
                result.done = result.progress[-1][1]
            result.seconds = time.perf_counter() - started
        finally:
            if profiler is not None:
                profiler.stop()
            client.close()
            container.engine.dispose()
        stats = client.stats()
        result.throttled = stats.throttled
        result.http_requests = stats.http_requests
        result.sub_requests = stats.sub_requests
        result.pacer_waited = client.pacer.stats().waited_seconds
    result.correct = not result.partial and _check(tenant_url, params.users)
    return result


def run_loop(tenant_url: str, workdir: Path, latency_ms: float, params: Params, quota: Quota) -> RunResult:
    """The per-user loop of Microsoft's PowerShell examples, in plain httpx."""
    result = RunResult("per-user loop", latency_ms, quota, params.users, 0, 0.0)
    with simulator(tenant_url, workdir, latency_ms, params.read_latency_ms, quota) as sim_url:
        deadline = time.monotonic() + params.time_limit_seconds
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"{sim_url}/v1.0", headers=headers, timeout=60) as http:
            started = time.perf_counter()
            url: str | None = (
                f"/users?$filter=assignedLicenses/any(x:x/skuId eq {E3})"
                f"&$select=id,userPrincipalName&$top={PAGE_SIZE}"
            )
            user_ids: list[str] = []
            while url:
                result.http_requests += 1
                page = http.get(url)
                page.raise_for_status()
                body = page.json()
                user_ids += [item["id"] for item in body["value"]]
                url = body.get("@odata.nextLink")
            body_json = {"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": [E3]}
            for user_id in user_ids:
                while True:
                    if time.monotonic() > deadline:
                        result.partial = True
                        break
                    result.http_requests += 1
                    sent = time.perf_counter()
                    answer = http.post(f"/users/{user_id}/assignLicense", json=body_json)
                    result.write_rtts.append(time.perf_counter() - sent)
                    if answer.status_code == 429:
                        result.throttled += 1
                        time.sleep(float(answer.headers.get("Retry-After", "1")))
                        continue
                    if answer.is_success:
                        result.done += 1
                    break
                if result.partial:
                    break
                result.progress.append((time.perf_counter() - started, result.done))
            result.seconds = time.perf_counter() - started
    result.correct = not result.partial and _check(tenant_url, params.users)
    return result


def run(params: Params, log: Log = no_log) -> list[Table]:
    table = Table(
        TITLE,
        [
            "write latency",
            "quota",
            "how",
            "users done",
            "time s",
            "users/s",
            "× quota rate",
            "2nd-half users/s",
            "write request p50 ms",
            "429s",
            "HTTP requests (in $batch)",
            "correct",
            "× loop",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-bulk-") as tmp:
        folder = Path(tmp)
        log(f"bulk: building a tenant with {params.users:,} E3 holders")
        template = _template(folder, params.users)
        results: list[RunResult] = []
        run_number = 0
        for latency in params.write_latencies_ms:
            plans: list[tuple[str, Quota]] = [("licensebot", params.quota)]
            if params.sequential:
                plans.append(("per-user loop", params.quota))
            if params.sustained_quota is not None:
                plans.append(("licensebot", params.sustained_quota))
            loop_rate = float("nan")
            for how, quota in plans:
                run_number += 1
                workdir = folder / f"run-{run_number}"
                workdir.mkdir()
                copy = workdir / "tenant.db"
                shutil.copyfile(template, copy)
                url = f"sqlite:///{copy}"
                log(f"bulk: {how}, {params.users:,} users, write latency {latency:g} ms, quota {quota}")
                if how == "licensebot":
                    outcome = run_licensebot(url, workdir, latency, params, quota)
                else:
                    outcome = run_loop(url, workdir, latency, params, quota)
                    loop_rate = outcome.rate
                log(
                    f"bulk:   {outcome.done:,} users in {outcome.seconds:.1f} s = {outcome.rate:.1f}/s, "
                    f"{outcome.throttled} × 429, {outcome.http_requests} HTTP requests"
                )
                results.append(outcome)
            for outcome in results[-len(plans) :]:
                vs_loop = outcome.rate / loop_rate if loop_rate > 0 else float("nan")
                table.add(
                    f"{outcome.latency_ms:g} ms",
                    str(outcome.quota),
                    outcome.how,
                    f"{outcome.done:,}/{outcome.users:,}" + (" (time limit)" if outcome.partial else ""),
                    fmt(outcome.seconds),
                    fmt(outcome.rate),
                    fmt(outcome.rate / outcome.quota.per_second, 2),
                    fmt(outcome.second_half_rate),
                    ms(percentile(outcome.write_rtts, 0.5)),
                    outcome.throttled,
                    f"{outcome.http_requests:,}"
                    + (f" ({outcome.sub_requests:,})" if outcome.sub_requests else ""),
                    "yes" if outcome.correct else "NO",
                    fmt(vs_loop, 1) + "×",
                )
    _notes(table, params, results)
    _checks(table, results)
    return [table]


def _checks(table: Table, results: list[RunResult]) -> None:
    for outcome in results:
        if outcome.how != "licensebot":
            continue
        where = f"{outcome.latency_ms:g} ms writes, quota {outcome.quota}"
        ratio = outcome.rate / outcome.quota.per_second
        table.checks.append(
            Check(
                f"Bulk reassignment ≥ 0.9 × the quota's rate ({where})",
                f"{outcome.rate:.1f} users/s = {ratio:.2f} × {outcome.quota.per_second:g}/s"
                + ("" if outcome.correct else "; NOT all users correct"),
                ratio >= 0.9 and outcome.correct,
            )
        )
        table.checks.append(
            Check(f"No write wasted on 429s ({where})", f"{outcome.throttled} × 429", outcome.throttled == 0)
        )
    loops = {r.latency_ms: r for r in results if r.how == "per-user loop"}
    for outcome in results:
        loop = loops.get(outcome.latency_ms)
        if outcome.how == "licensebot" and loop is not None and outcome.quota == loop.quota and loop.rate > 0:
            table.checks.append(
                Check(
                    f"Far ahead of a per-user sequential loop ({outcome.latency_ms:g} ms writes)",
                    f"{outcome.rate / loop.rate:.1f}× the loop's {loop.rate:.1f} users/s",
                    outcome.rate / loop.rate >= 2,
                )
            )


def _notes(table: Table, params: Params, results: list[RunResult]) -> None:
    quota = params.quota
    table.notes += [
        f"The job: replace E3 with E5 for {params.users:,} users on `graph-sim` (Graph's quota "
        f"{quota} per app = {quota.per_second:g} writes/s, a sliding window; 429 + Retry-After past it). "
        "Each run starts on a fresh copy of the tenant and a fresh quota window; `correct` checks "
        "afterwards that every user holds E5 and nobody holds E3.",
        "`time s` for licensebot is plan + apply (`/license replace has:E3 E5`, then Confirm): "
        "the preview's reads and the batched writes; for the loop, the listing and the writes.",
        f"Latency: the simulator sleeps the write latency once per request that writes (a `$batch` "
        f"of 20 writes counts once, as Graph runs them side by side) and adds {params.read_latency_ms:g} ms "
        "to every request. Real Graph latency varies with region, tenant and load (tens to hundreds of "
        "ms per write, more under throttling): these numbers show the shape, not a promise.",
        "`2nd-half users/s`: the rate over the second half of the writes, after any initial burst. "
        "`write request p50`: the observed round trip of a request carrying writes (licensebot: a "
        "`$batch` of 20 `assignLicense`; the loop: one), i.e. the configured latency plus the "
        "simulator's own work on the writes.",
    ]
    if params.sustained_quota is not None:
        sustained = params.sustained_quota
        table.notes.append(
            f"A fresh {quota} window lets a job of up to {quota.writes:,} writes go in one burst, so with "
            f"{params.users:,} users the quota never binds and the rate is set by latency. The "
            f"{sustained} rows keep the same {sustained.per_second:g}/s but a window "
            f"{params.users // sustained.writes}× shorter than the job, so the pacer has to hold the "
            "quota's rate for the whole job. The "
            "pacer adds a 0.5 s safety margin to the window (GraphConfig.pacing_margin_seconds): "
            f"{100 * 0.5 / (sustained.window_seconds + 0.5):.1f} % of a {sustained.window_seconds:g} s "
            f"window, {100 * 0.5 / (quota.window_seconds + 0.5):.1f} % of Graph's {quota.window_seconds:g} s."
        )
    waits = [r for r in results if r.how == "licensebot" and r.pacer_waited > 0]
    if waits:
        table.notes.append(
            "Pacer waits (licensebot): "
            + ", ".join(f"{r.latency_ms:g} ms / {r.quota}: {r.pacer_waited:.1f} s" for r in waits)
            + "."
        )
