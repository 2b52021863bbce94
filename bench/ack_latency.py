"""Slack acknowledgement latency through the production server (`licensebot serve`, gunicorn).

Per database (SQLite, PostgreSQL) one `licensebot serve` runs as a subprocess against a local fake
Slack (`LocalSlack`) on a tenant grown with extra E3 holders. For each number of concurrent clients:

1. **slash commands**: signed `/license show @user` and `/license replace @user E5` (half each, every
   replace for a different user) are sent by N client threads, each one request after the other
   (closed loop), and the HTTP response time of each is recorded: Slack's 3 s deadline is about this
   answer, the acknowledgement; the work (Graph/tenant reads, the reply) happens after it.
2. **button clicks**: on every preview that arrived, Confirm (half) or Cancel (half) as a signed
   `block_actions` request, sent the same way.

Correctness, not only speed: after each phase every reply must have arrived in LocalSlack (a show
reply naming the user and the product, a preview with a Confirm button, each pressed preview
replaced by its result), no response URL post may have failed, and the tenant must show exactly the
confirmed users moved to E5.

The client threads run in a process of their own (spawned), so the fake Slack's work on the bot's
replies does not compete with them for the interpreter lock; all three share the machine's cores.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import multiprocessing
import queue
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    ADMIN_EMAIL,
    BENCH_SECRET,
    Check,
    Cohort,
    Log,
    Table,
    bench_upn,
    ms,
    no_log,
    percentile,
    postgres_database,
    postgres_problem,
    prepare_bot_database,
    serve,
    settled_change_message,
)

NAME = "ack"
TITLE = "Slack acknowledgement latency (licensebot serve, gunicorn)"
TARGET_P99_SECONDS = 0.100
COHORT = "ack"
SHOW_POOL = 100
"""Users that `/license show` asks about, round robin (they keep E3)."""
CONFIRM = "change.confirm"
CANCEL = "change.cancel"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
_UPN = re.compile(rf"{COHORT}\d{{5}}@contoso\.com")


@dataclass(frozen=True)
class Params:
    clients: tuple[int, ...] = (1, 50)
    commands: tuple[int, ...] = (200, 1000)
    """Slash commands per level of `clients` (half show, half replace); as many clicks as replaces."""
    servers: tuple[tuple[str, int], ...] = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2))
    """(database, `serve --workers`): SQLite serves one process only; PostgreSQL also with two."""
    threads: int = 8
    """`serve --threads` (its default)."""
    bursts: int = 10
    """For levels above one client: rounds of that many commands sent at the same instant, each
    round after the replies of the one before arrived."""
    time_limit_seconds: float = 180.0
    """Per phase, for sending; requests not sent by then are reported as not sent."""
    reply_timeout_seconds: float = 300.0
    warmup: int = 10

    @classmethod
    def quick(cls) -> Params:
        return cls(commands=(40, 200), bursts=3, time_limit_seconds=60, reply_timeout_seconds=120)

    @classmethod
    def tiny(cls) -> Params:
        return cls(
            clients=(1, 4),
            commands=(4, 8),
            servers=(("sqlite", 1),),
            bursts=2,
            time_limit_seconds=30,
            reply_timeout_seconds=60,
            warmup=2,
        )


@dataclass(frozen=True)
class Sample:
    kind: str
    started: float
    seconds: float
    status: int


# ---------------------------------------------------------------------------------------------
# The load generator (runs in its own process)
# ---------------------------------------------------------------------------------------------


def load(url: str, jobs: list[tuple[str, str]], clients: int, time_limit: float) -> list[Sample]:
    """Send `jobs` (kind, body) with `clients` threads, each one request after the other on its
    own keep-alive connection; sign each just before sending. Returns one sample per request sent
    (status 0: no answer).

    The client is the standard library's `http.client`, the lightest there is: the load generator
    shares this machine's cores and interpreter lock with nothing of the bot, but its own work per
    request is still counted in each response time it measures (httpx costs several times more
    per request, which 50 threads in one process turn into queueing of their own)."""
    from bot.local_slack import signed_headers

    target = urlsplit(url)
    todo: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for job in jobs:
        todo.put(job)
    samples: list[Sample] = []
    lock = threading.Lock()
    origin = time.perf_counter()
    deadline = origin + time_limit
    start = threading.Barrier(clients)

    def client() -> None:
        mine: list[Sample] = []
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30.0)
        try:
            start.wait()
            while time.perf_counter() < deadline:
                try:
                    kind, body = todo.get_nowait()
                except queue.Empty:
                    break
                payload = body.encode()
                headers = {**signed_headers(body, BENCH_SECRET), "Content-Length": str(len(payload))}
                sent = time.perf_counter()
                try:
                    connection.request("POST", target.path, body=payload, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    connection.close()  # a new connection for the next request
                    status = 0
                mine.append(Sample(kind, sent - origin, time.perf_counter() - sent, status))
        finally:
            connection.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


@contextlib.contextmanager
def load_process() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        yield pool


# ---------------------------------------------------------------------------------------------
# One server, several levels of concurrency
# ---------------------------------------------------------------------------------------------


@dataclass
class Level:
    server: str
    clients: int
    commands: list[Sample]
    clicks: list[Sample]
    planned_commands: int
    planned_clicks: int
    problems: list[str]
    seconds_to_replies: float
    bursts: list[Sample] = field(default_factory=list)
    planned_bursts: int = 0
    help_bursts: list[Sample] = field(default_factory=list)
    """The same bursts of `/license help`, whose work is next to nothing: the ack path alone."""


class _Workspace:
    """The local Slack side: the admin, a channel, and a Slack user per tenant user named."""

    def __init__(self, slack: Any) -> None:
        self.slack = slack
        self.admin = slack.add_user("lena", real_name="Lena Fischer", email=ADMIN_EMAIL)
        self.channel = slack.add_channel("licensing", members=[self.admin])
        self._ids: dict[str, str] = {}

    def mention(self, upn: str) -> str:
        if upn not in self._ids:
            name = upn.partition("@")[0]
            self._ids[upn] = self.slack.add_user(name, real_name=name, email=upn)
        return f"<@{self._ids[upn]}|{upn.partition('@')[0]}>"

    def command(self, text: str) -> str:
        body: str = self.slack.slash_command_body(
            "/license", text, user_id=self.admin, channel_id=self.channel
        )
        return body

    def ephemerals(self) -> list[Any]:
        found: list[Any] = self.slack.ephemerals(self.admin)
        return found


def _has_button(message: Any, action_id: str) -> bool:
    return f"'action_id': '{action_id}'" in str(message.blocks)


@dataclass
class _Server:
    """One running server and what a level needs to drive and check it."""

    pool: concurrent.futures.ProcessPoolExecutor
    workspace: _Workspace
    events_url: str
    label: str
    params: Params
    check_tenant: Any


def run_level(server: _Server, clients: int, commands: int, first_target: int) -> Level:
    """Commands then clicks at one level of concurrency; replace targets start at `first_target`."""
    workspace, params = server.workspace, server.params
    jobs, targets = _commands(workspace, commands, first_target)
    before = {m.ts for m in workspace.ephemerals()}
    command_samples = server.pool.submit(
        load, server.events_url, jobs, clients, params.time_limit_seconds
    ).result()
    sent_at = time.perf_counter()
    previews, problems = _command_replies(workspace, before, command_samples, targets, params)
    seconds_to_replies = time.perf_counter() - sent_at

    # Clicks: Confirm on even previews, Cancel on odd ones.
    click_jobs: list[tuple[str, str]] = []
    pressed: list[tuple[str, str, str]] = []
    for n, upn in enumerate(t for t in targets if t in previews):
        message = previews[upn]
        action = CONFIRM if n % 2 == 0 else CANCEL
        body = workspace.slack.action_body(
            workspace.admin, action_id=action, channel=message.channel, message_ts=message.ts
        )
        click_jobs.append(("confirm" if action == CONFIRM else "cancel", body))
        pressed.append((upn, action, message.ts))
    click_samples = server.pool.submit(
        load, server.events_url, click_jobs, clients, params.time_limit_seconds
    ).result()
    problems += _click_results(server, pressed[: len(click_samples)])
    return Level(
        server.label,
        clients,
        command_samples,
        click_samples,
        len(jobs),
        len(click_jobs),
        problems,
        seconds_to_replies,
    )


def _commands(
    workspace: _Workspace, count: int, first_target: int
) -> tuple[list[tuple[str, str]], list[str]]:
    """`count` commands, alternately show (a user of the show pool) and replace (the next user from
    `first_target` on); returns the jobs and the replace targets."""
    jobs: list[tuple[str, str]] = []
    targets: list[str] = []
    for i in range(count):
        if i % 2:
            upn = bench_upn(first_target + len(targets), COHORT)
            targets.append(upn)
            jobs.append(("replace", workspace.command(f"replace {workspace.mention(upn)} E5")))
        else:
            upn = bench_upn(1 + (i // 2) % SHOW_POOL, COHORT)
            jobs.append(("show", workspace.command(f"show {workspace.mention(upn)}")))
    return jobs, targets


def run_bursts(server: _Server, level: Level, first_target: int) -> int:
    """`bursts` rounds of `level.clients` commands sent at the same instant (one per client thread),
    each after the replies to the round before arrived; returns the next free replace target."""
    workspace, params = server.workspace, server.params
    for _ in range(params.bursts):
        jobs, targets = _commands(workspace, level.clients, first_target)
        first_target += len(targets)
        before = {m.ts for m in workspace.ephemerals()}
        samples = server.pool.submit(
            load, server.events_url, jobs, level.clients, params.time_limit_seconds
        ).result()
        level.bursts += samples
        level.planned_bursts += len(jobs)
        _, problems = _command_replies(workspace, before, samples, targets, params)
        level.problems += [f"burst: {p}" for p in problems]
    for _ in range(params.bursts):
        jobs = [("help", workspace.command("help")) for _ in range(level.clients)]
        before_count = len(workspace.ephemerals())
        level.help_bursts += server.pool.submit(
            load, server.events_url, jobs, level.clients, params.time_limit_seconds
        ).result()
        with contextlib.suppress(TimeoutError):
            workspace.slack.wait_for(
                lambda n=before_count: len(workspace.ephemerals()) >= n + level.clients,
                timeout=params.reply_timeout_seconds,
            )
    return first_target


def _command_replies(
    workspace: _Workspace, before: set[str], samples: list[Sample], targets: list[str], params: Params
) -> tuple[dict[str, Any], list[str]]:
    """Wait for one reply per acknowledged command; the previews by user, and what went wrong."""
    answered = sum(1 for s in samples if s.status == 200)

    def replies() -> list[Any]:
        return [m for m in workspace.ephemerals() if m.ts not in before]

    with contextlib.suppress(TimeoutError):
        workspace.slack.wait_for(lambda: len(replies()) >= answered, timeout=params.reply_timeout_seconds)
    previews: dict[str, Any] = {}
    shows = 0
    for message in replies():
        found = set(_UPN.findall(str(message.blocks)))
        if _has_button(message, CONFIRM):
            previews.update(dict.fromkeys(found, message))
        elif found and "Office 365 E3" in str(message.blocks):
            shows += 1
    problems = []
    kinds = [s.kind for s in samples]
    if len(replies()) != answered:
        problems.append(f"{len(replies())} replies to {answered} acknowledged commands")
    missing = [u for u in targets[: kinds.count("replace")] if u not in previews]
    if missing:
        problems.append(f"{len(missing)} replace commands without a preview")
    if shows != kinds.count("show"):
        problems.append(f"{shows} show replies for {kinds.count('show')} shows")
    return previews, problems


def _click_results(server: _Server, pressed: list[tuple[str, str, str]]) -> list[str]:
    """Every pressed preview replaced by its result; the tenant changed for exactly the confirmed."""
    slack, channel = server.workspace.slack, server.workspace.channel

    def settled() -> bool:
        return all(settled_change_message(slack.message(channel, ts)) for _, _, ts in pressed)

    problems = []
    with contextlib.suppress(TimeoutError):
        slack.wait_for(settled, timeout=server.params.reply_timeout_seconds)
    if not settled():
        problems.append("some pressed previews were not replaced by their result")
    confirmed = [upn for upn, action, _ in pressed if action == CONFIRM]
    cancelled = [upn for upn, action, _ in pressed if action == CANCEL]
    problems += server.check_tenant(confirmed, cancelled)
    failed = [c for c in slack.calls() if not c.ok]
    if failed:
        problems.append(f"{len(failed)} Slack API calls or response URL posts failed")
    return problems


def _tenant_checker(database_url: str) -> Any:
    """Confirmed users hold E5 and not E3; cancelled ones still hold E3 only."""

    def check(confirmed: list[str], cancelled: list[str]) -> list[str]:
        from sqlalchemy import select

        from storage.database import create_engine, session_factory
        from storage.orm import SimUserLicenseRow, SimUserRow

        engine = create_engine(database_url)
        try:
            with session_factory(engine)() as session:
                rows = session.execute(
                    select(SimUserRow.user_principal_name, SimUserLicenseRow.sku_id).join(SimUserLicenseRow)
                ).all()
        finally:
            engine.dispose()
        held: dict[str, set[str]] = {}
        for upn, sku in rows:
            held.setdefault(upn, set()).add(sku)
        problems = []
        wrong_confirmed = [u for u in confirmed if held.get(u) != {E5}]
        wrong_cancelled = [u for u in cancelled if held.get(u) != {E3}]
        if wrong_confirmed:
            problems.append(f"{len(wrong_confirmed)} confirmed users do not hold exactly E5")
        if wrong_cancelled:
            problems.append(f"{len(wrong_cancelled)} cancelled users do not hold exactly E3")
        return problems

    return check


@contextlib.contextmanager
def _database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'ack.db'}"
        return
    with postgres_database() as url:
        yield url


def run(params: Params, log: Log = no_log) -> list[Table]:
    from bot.local_slack import LocalSlack

    table = Table(
        TITLE,
        [
            "server",
            "clients",
            "requests",
            "n",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "req/s",
            "not 200",
            f"p99 < {TARGET_P99_SECONDS * 1000:.0f} ms",
            "replies",
        ],
    )
    replaces_needed = sum(c // 2 for c in params.commands) + sum(
        params.bursts * (c // 2) for c in params.clients if c > 1
    )
    cohort = Cohort(COHORT, SHOW_POOL + replaces_needed, "ENTERPRISEPACK")
    levels: list[Level] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="licensebot-bench-ack-") as tmp, load_process() as pool:
        for number, (database, workers) in enumerate(params.servers):
            label = f"{'SQLite' if database == 'sqlite' else 'PostgreSQL'}, {workers} worker" + (
                "s" if workers > 1 else ""
            )
            if database != "sqlite" and (problem := postgres_problem()) is not None:
                skipped.append(f"{label}: {problem}")
                log(f"ack: skipping {label}: {problem}")
                continue
            folder = Path(tmp) / f"server-{number}"
            folder.mkdir()
            with _database(database, folder) as url, LocalSlack() as slack:
                log(f"ack: {label}: preparing a tenant with {cohort.count:,} extra E3 holders")
                prepare_bot_database(url, [cohort], {"ENTERPRISEPREMIUM": replaces_needed})
                with serve(
                    database_url=url,
                    slack_api_url=slack.api_url,
                    bot_token=slack.bot_token,
                    workdir=folder,
                    workers=workers,
                    threads=params.threads,
                ) as server:
                    workspace = _Workspace(slack)
                    _warm_up(pool, workspace, server.events_url, params.warmup * workers)
                    running = _Server(pool, workspace, server.events_url, label, params, _tenant_checker(url))
                    first = SHOW_POOL + 1
                    for clients, commands in zip(params.clients, params.commands, strict=True):
                        log(f"ack: {label}: {clients} clients, {commands} commands + clicks")
                        level = run_level(running, clients, commands, first)
                        first += commands // 2
                        if clients > 1 and params.bursts:
                            log(f"ack: {label}: {params.bursts} bursts of {clients} commands at once")
                            first = run_bursts(running, level, first)
                        levels.append(level)
                        _add_rows(table, level)
                        log("ack:   " + "; ".join(row_summary(level)))
    for level in levels:
        if level.clients == max(params.clients) > 1:
            _check(table, level)
    _notes(table, params, levels, skipped)
    return [table]


def _warm_up(
    pool: concurrent.futures.ProcessPoolExecutor, workspace: _Workspace, url: str, count: int
) -> None:
    """First requests pay for imports and connections: send some `/license help` before measuring."""
    jobs = [("help", workspace.command("help")) for _ in range(count)]
    before = len(workspace.ephemerals())
    pool.submit(load, url, jobs, 1, 60).result()
    with contextlib.suppress(TimeoutError):
        workspace.slack.wait_for(lambda: len(workspace.ephemerals()) >= before + count, timeout=60)


def row_summary(level: Level) -> list[str]:
    out = []
    for name, samples in (("commands", level.commands), ("clicks", level.clicks), ("bursts", level.bursts)):
        if not samples:
            continue
        ok = [s.seconds for s in samples if s.status == 200]
        out.append(
            f"{name}: n={len(samples)} p50={ms(percentile(ok, 0.5))} p99={ms(percentile(ok, 0.99))} ms"
        )
    out.append("replies ok" if not level.problems else "PROBLEMS: " + "; ".join(level.problems))
    return out


def _rate(samples: list[Any]) -> float:
    if not samples:
        return float("nan")
    first = min(s.started for s in samples)
    last = max(s.started + s.seconds for s in samples)
    return len(samples) / (last - first) if last > first else float("nan")


def _check(table: Table, level: Level) -> None:
    for label, samples in (("closed loop", level.commands + level.clicks), ("bursts", level.bursts)):
        ok = [s.seconds for s in samples if s.status == 200]
        if not ok:
            continue
        p99 = percentile(ok, 0.99)
        table.checks.append(
            Check(
                f"Slack ack p99 < {TARGET_P99_SECONDS * 1000:.0f} ms at {level.clients} concurrent "
                f"({level.server}, {label})",
                f"p99 {ms(p99)} ms over {len(ok):,} requests"
                + ("" if not level.problems else "; replies: PROBLEMS"),
                p99 < TARGET_P99_SECONDS and not level.problems,
            )
        )


def _add_rows(table: Table, level: Level) -> None:
    groups = [
        ("slash commands (show, replace)", level.commands, level.planned_commands),
        ("button clicks (Confirm, Cancel)", level.clicks, level.planned_clicks),
    ]
    if level.planned_bursts:
        groups.append((f"bursts: {level.clients} commands at once", level.bursts, level.planned_bursts))
    if level.help_bursts:
        groups.append(
            (
                f"bursts: {level.clients} × `/license help` (diagnostic)",
                level.help_bursts,
                len(level.help_bursts),
            )
        )
    for label, samples, planned in groups:
        ok = [s.seconds for s in samples if s.status == 200]
        p99 = percentile(ok, 0.99)
        not_sent = planned - len(samples)
        table.add(
            level.server,
            level.clients,
            label,
            f"{len(samples):,}" + (f" ({not_sent} not sent)" if not_sent else ""),
            ms(percentile(ok, 0.50)),
            ms(percentile(ok, 0.95)),
            ms(p99),
            ms(max(ok) if ok else float("nan")),
            "–" if label.startswith("bursts") else f"{_rate(samples):.0f}",
            sum(1 for s in samples if s.status != 200),
            "yes" if p99 < TARGET_P99_SECONDS else "NO",
            "all arrived" if not level.problems else "; ".join(level.problems),
        )


def _notes(table: Table, params: Params, levels: list[Level], skipped: list[str]) -> None:
    table.notes += [
        "Response time of the HTTP request measured by the client (connect excluded: each client "
        "keeps its connection): what Slack waits for. Closed loop: each client sends its next request "
        "as soon as the previous one is answered, so at 50 clients the server always has 50 requests "
        "in hand, and the work each one starts (tenant reads, Block Kit, replies to Slack) runs in the "
        "same process at the same time as later acknowledgements.",
        "`bursts`: rounds of as many commands as clients, released at the same instant by a barrier, "
        "the next round only after every reply of the last one arrived: a spike of simultaneous "
        "requests on an otherwise idle server, rather than a sustained overload.",
        f"`licensebot serve --workers N --threads {params.threads}`; client threads in their own "
        "process; the fake Slack Web API in the benchmark's process; all on this machine's cores.",
        "`replies`: every command got its reply in LocalSlack (show: the user and their E3; replace: a "
        "preview with Confirm), every pressed preview was replaced by its result, no Slack call failed, "
        "and the tenant shows exactly the confirmed users on E5 and the cancelled ones still on E3.",
    ]
    waits = [f"{lv.server}/{lv.clients}: {lv.seconds_to_replies:.1f} s" for lv in levels]
    if waits:
        table.notes.append(
            "Time from the last command acknowledged to the last reply posted (the work after the "
            "acks): " + ", ".join(waits) + "."
        )
    table.notes += [f"Skipped {s}." for s in skipped]
