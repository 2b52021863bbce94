"""Poll cost: Graph requests per scheduler tick against the number of pending subscriptions.

DESIGN.md §4/§8: the scheduler polls pending subscriptions with one directory read per tenant per
tick, whatever their number. Measured against `graph-sim` over HTTP through the real Graph adapter
(`GraphDirectory`), with 1, 10, 100 and 1,000 pending items, two ways:

* **the tick**: `WorkflowTicks.tick` (domain/application/subscriptions/tick.py) with that many
  purchase workflows waiting (`/subscription buy E5 10 invoice`, which on Graph becomes an
  admin-center task, R19, that the tick checks the directory for). The services are built here the
  way the bot would wire them for TENANT_BACKEND=graph (`AdminTaskCommerce`, `HolidayCalendar`, a
  notifier that discards).
* **the read**: what a tick takes its snapshot from, `directory.subscriptions()` and
  `directory.products()`, with that many extra subscriptions listed in the tenant, so the answer
  grows with them.

The directory is long-lived, as in the scheduler: the organization, read once for its id, counts in
the first tick only.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Check, Log, Table, ms, no_log, sim_tenant_file

NAME = "poll"
BUYER = "grace@contoso.com"
"""A Global admin of the Contoso demo tenant (R16: buying needs Global or Billing admin)."""
TITLE = "Poll cost: Graph requests per scheduler tick (graph-sim, GraphDirectory)"


@dataclass(frozen=True)
class Params:
    pending: tuple[int, ...] = (1, 10, 100, 1000)
    ticks: int = 10
    latency_ms: float = 0.0

    @classmethod
    def quick(cls) -> Params:
        return cls(ticks=5)

    @classmethod
    def tiny(cls) -> Params:
        return cls(pending=(1, 10), ticks=2)


def _tenant(folder: Path, pending: int) -> str:
    """The demo tenant plus `pending` E5 subscriptions of 10 seats each, all listed (Enabled): what a
    tick reads grows with them, so any per-item request would show."""
    url = sim_tenant_file(folder / f"tenant-{pending}.db", [])
    from bench.common import UtcClock
    from storage.database import create_engine, session_factory
    from storage.simulated import SimulatedDirectory

    engine = create_engine(url)
    try:
        with session_factory(engine)() as session:
            directory = SimulatedDirectory(session, UtcClock())
            for _ in range(pending):
                directory.add_subscription("ENTERPRISEPREMIUM", 10)
            session.commit()
    finally:
        engine.dispose()
    return url


class _Timing(httpx.HTTPTransport):
    """Seconds per HTTP exchange, the response read in full."""

    def __init__(self, into: list[float]) -> None:
        super().__init__()
        self._into = into

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        self._into.append(time.perf_counter() - started)
        return response


class _Discard:
    """`domain.ports.Notifier` that tells nobody (the benchmark counts Graph requests, not Slack)."""

    def workflow_changed(self, status: object) -> None:  # noqa: ARG002
        return None

    def approval_requested(self, status: object) -> None:  # noqa: ARG002
        return None

    def approval_closed(self, status: object) -> None:  # noqa: ARG002
        return None

    def reminder(self, reminder: object) -> None:  # noqa: ARG002
        return None


@dataclass
class _TickRun:
    pending: int
    counts: list[int]
    durations: list[float]
    waits: list[float]
    polled: int


def measure_ticks(params: Params, folder: Path, log: Log) -> list[_TickRun]:
    """`WorkflowTicks.tick` with 1, 10, 100… purchase workflows waiting on the tenant (cumulative)."""
    from pydantic import SecretStr

    from bench.bulk_reassign import TOKEN, Quota, simulator
    from bot.bootstrap import bootstrap
    from bot.clock import SystemClock
    from bot.graph import graph_config
    from bot.settings import Settings, TenantBackend
    from domain.application.subscriptions.workflows import subscription_workflows
    from domain.commands import BuySubscription
    from domain.model import PaymentMethod
    from storage.calendar import HolidayCalendar
    from storage.commerce import AdminTaskCommerce
    from storage.graph.auth import token_provider
    from storage.graph.client import GraphClient
    from storage.graph.directory import GraphDirectory

    runs: list[_TickRun] = []
    url = sim_tenant_file(folder / "tick-tenant.db", [])
    with simulator(url, folder, 0.0, params.latency_ms, Quota(3000, 150.0)) as sim_url:
        settings = Settings(
            database_url=f"sqlite:///{folder / 'tick-bot.db'}",
            tenant_backend=TenantBackend.GRAPH,
            graph_api_url=sim_url,
            graph_access_token=SecretStr(TOKEN),
        )
        config = graph_config(settings)
        http_seconds: list[float] = []
        client = GraphClient(config, token_provider(config), transport=_Timing(http_seconds))
        directory = GraphDirectory(client, cloud=config.cloud)
        container = bootstrap(settings, directory=directory)
        clock = SystemClock()
        licensing = container.services.licenses.changes
        subscriptions = subscription_workflows(
            container.uow,
            directory,
            clock,
            licensing.catalog,
            licensing=licensing,
            commerce=AdminTaskCommerce(config.cloud, clock, licensing.catalog),
            calendar=HolidayCalendar(),
            notifier=_Discard(),
        )
        try:
            bought = 0
            for pending in params.pending:
                log(f"poll: WorkflowTicks.tick with {pending:,} purchase workflows waiting")
                while bought < pending:
                    subscriptions.starts.buy(BuySubscription(BUYER, "E5", 10, PaymentMethod.INVOICE))
                    bought += 1
                run = _TickRun(pending, [], [], [], 0)
                for _ in range(params.ticks):
                    before = client.stats().http_requests
                    http_seconds.clear()
                    started = time.perf_counter()
                    report = subscriptions.ticks.tick()
                    run.durations.append(time.perf_counter() - started)
                    run.waits.append(sum(http_seconds))
                    run.counts.append(client.stats().http_requests - before)
                    run.polled = report.polled
                runs.append(run)
        finally:
            client.close()
            container.engine.dispose()
    return runs


def measure_reads(params: Params, folder: Path, log: Log) -> list[_TickRun]:
    """The snapshot read alone, with 1, 10, 100… extra subscriptions listed in the tenant."""
    from bench.bulk_reassign import TOKEN, Quota, simulator
    from storage.graph.auth import token_provider
    from storage.graph.client import GraphClient
    from storage.graph.config import GraphConfig
    from storage.graph.directory import GraphDirectory

    runs: list[_TickRun] = []
    for pending in params.pending:
        log(f"poll: the snapshot read with {pending:,} extra subscriptions listed")
        url = _tenant(folder, pending)
        with simulator(url, folder, 0.0, params.latency_ms, Quota(3000, 150.0)) as sim_url:
            config = GraphConfig(access_token=TOKEN, graph_url=sim_url)
            http_seconds: list[float] = []
            client = GraphClient(config, token_provider(config), transport=_Timing(http_seconds))
            directory = GraphDirectory(client)
            run = _TickRun(pending, [], [], [], 0)
            try:
                for _ in range(params.ticks):
                    before = client.stats().http_requests
                    http_seconds.clear()
                    started = time.perf_counter()
                    run.polled = len(directory.subscriptions())
                    directory.products()
                    run.durations.append(time.perf_counter() - started)
                    run.waits.append(sum(http_seconds))
                    run.counts.append(client.stats().http_requests - before)
            finally:
                client.close()
        runs.append(run)
    return runs


def _row(table: Table, run: _TickRun, pending: str, measured: str, listed: str) -> float:
    later = run.counts[1:] or run.counts
    table.add(
        pending,
        measured,
        run.counts[0],
        f"{statistics.mean(later):g}" + ("" if min(later) == max(later) else f" ({min(later)}–{max(later)})"),
        ms(statistics.median(run.durations[1:] or run.durations)),
        ms(statistics.median(run.waits[1:] or run.waits)),
        ms(max(run.durations)),
        listed,
    )
    return statistics.mean(later)


def run(params: Params, log: Log = no_log) -> list[Table]:
    table = Table(
        TITLE,
        [
            "pending",
            "measured",
            "requests, first tick",
            "requests per tick after",
            "tick median ms",
            "of which HTTP ms",
            "tick max ms",
            "subscriptions listed",
        ],
    )
    tick_problem = ""
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-poll-") as tmp:
        folder = Path(tmp)
        ticks: list[_TickRun] = []
        try:
            ticks = measure_ticks(params, folder, log)
        except Exception as error:  # the workflow engine is young: report, and still measure the read
            tick_problem = f"{type(error).__name__}: {error}"
            log(f"poll: the tick could not be measured ({tick_problem}); measuring the read side only")
        reads = measure_reads(params, folder, log)
    per_tick = [
        _row(table, t, f"{t.pending:,} workflows", f"`WorkflowTicks.tick` ({t.polled:,} polled)", "–")
        for t in ticks
    ]
    per_read = [
        _row(table, r, f"{r.pending:,} subscriptions", "the read: subscriptions + products", f"{r.polled:,}")
        for r in reads
    ]
    sizes = ", ".join(f"{n:,}" for n in params.pending)
    if per_tick:
        table.checks.append(
            Check(
                f"Poll cost O(1): Graph requests per `WorkflowTicks.tick`, {sizes} workflows waiting",
                " / ".join(f"{c:g}" for c in per_tick) + " requests per tick",
                len(set(per_tick)) == 1,
            )
        )
    table.checks.append(
        Check(
            f"Poll cost O(1): Graph requests per snapshot read, {sizes} subscriptions listed",
            " / ".join(f"{c:g}" for c in per_read) + " requests per read",
            len(set(per_read)) == 1,
        )
    )
    if tick_problem:
        table.notes.append(f"`WorkflowTicks.tick` could not be measured: {tick_problem}.")
    table.notes += [
        "Target: constant Graph requests per tick, whatever the number pending.",
        "`WorkflowTicks.tick`: purchase workflows waiting for an admin-center purchase (R19) need the "
        "subscriptions only (GET /directory/subscriptions); a waiting plan switch would add one "
        "GET /subscribedSkus for seat counts. The organization was read when the workflows were started, "
        "so the first tick has nothing more to read. Its duration grows with the workflows: each one is "
        "loaded and advanced from the snapshot in the bot's own database (SQLite here).",
        "The read: `GraphDirectory.subscriptions()` (GET /directory/subscriptions) and `.products()` "
        "(GET /subscribedSkus) on a fresh directory: the first read also fetches /organization once. "
        "The extra subscriptions are listed (Enabled), so the answer grows with them: the request count "
        "must not grow, the duration may.",
        "`of which HTTP`: waiting for graph-sim's answers (its own work, in its own process on this "
        f"machine); the rest is the bot. No latency is added ({params.latency_ms:g} ms per request): on "
        "Graph each request adds its round trip.",
    ]
    return [table]
