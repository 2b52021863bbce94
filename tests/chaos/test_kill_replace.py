"""Issue #8 A: a 500-user replace (Office 365 E3 → E5, without Sway and Yammer) killed with SIGKILL at
random points, ten times in a row, then run to its end.

The bot is `tests/chaos/driver.py` in a process of its own, built like production
(`bootstrap(Settings())` from the environment, TENANT_BACKEND=graph) against the Graph simulator,
which runs here in the test process on its own SQLite file and keeps every license write in
`sim_license_events`. The kills land at write counts drawn at random over the job: in the middle
of a `$batch` of writes, or at the next batch's `$batch` of reads past that count; each
restart resumes what the crash left. Afterwards the simulator's history must show, for each of the
500 users, one write from E3 to E5 with the intended services (R5, R7): never a moment without a
license, never a write applied twice; and the bot's own record must agree (the change set done,
one audit entry per user, R20). The bot's database is SQLite, and PostgreSQL when it is reachable.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

from bench.common import Cohort, bench_user_id, sim_tenant_file
from bot.clock import SystemClock
from domain.application.history import ChangeHistory
from domain.catalog import ProductCatalog
from domain.changes import ChangeSet, ChangeState, ItemStatus
from domain.commands import UndoChange
from storage.database import create_engine, session_factory
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.orm import AuditRow, SimLicenseEventRow, SimUserLicenseRow
from storage.repositories import SqlChangeSetRepository
from storage.simulated.seed import drop_group_licenses
from storage.uow import SqlUnitOfWorkFactory
from tests.chaos.conftest import wait_for
from tests.conftest import postgres_schema

pytestmark = [pytest.mark.chaos]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
TOKEN = "chaos-graph-token"
APP = "licensebot-chaos"
ADMIN = "lena@contoso.com"
"""A License admin of the Contoso demo tenant (R16)."""
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
SWAY = "a23b959c-7ce8-4e57-9140-b90eb88a9e97"
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
INTENDED = [{"skuId": E5, "disabledPlans": sorted([SWAY, YAMMER])}]
"""What every user must end with: E5 with Sway and Yammer turned off, nothing else."""
BEFORE = [{"skuId": E3, "disabledPlans": []}]

USERS = 500
KILLS = 10
SEED = 8
COHORT = "chaos"
LAST_KILL_POINT = 400
"""Kill points are drawn below this write count, so that even the last killed run (which may go
on for one more `$batch` of 20 writes) is killed before the job ends."""
LATENCY_MS = 30.0
"""The simulator holds every answer this long: a kill sent sooner after a `$batch` of reads
arrived surely came before the bot had the answer, so before it could send the writes."""
RUN_TIMEOUT = 60.0

WRITES_IN_FLIGHT = "writes in flight"
"""Killed in the middle of a `$batch` of writes: applied (or being applied) by the simulator, not
recorded by the bot; the restart must find them applied and not write them again."""
READS_IN_FLIGHT = "reads in flight"
"""Killed while the `$batch` of reads before a batch's writes was in flight: the batch is marked as
being sent, nothing of it was written; the restart must find that out and write it."""


@dataclass
class Kill:
    run: int
    kind: str
    target: int
    """The write count the kill waited for (then, for READS_IN_FLIGHT, the next batch's reads)."""
    writes_at_kill: int = 0
    """What the simulator had applied when the kill was sent (read right after it)."""
    seconds_after_arrival: float | None = None
    """READS_IN_FLIGHT: at most this long after the `$batch` of reads arrived came the kill."""
    recorded: int = 0
    """Users whose outcome the killed process had recorded."""
    sending: int = 0
    """Users the killed process had marked as being sent, without an outcome yet."""

    @property
    def proven(self) -> bool:
        """The kill left the state its kind names, by what was measured."""
        if self.kind == WRITES_IN_FLIGHT:
            return self.sending > 0 and self.writes_at_kill > self.recorded
        return (
            self.sending > 0
            and self.writes_at_kill == self.recorded
            and self.seconds_after_arrival is not None
            and self.seconds_after_arrival < LATENCY_MS / 1000
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bot_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The bot's own database: a SQLite file, or a fresh schema on the shared PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "chaos") as url:
        yield url


def cohort_ids() -> list[str]:
    return [bench_user_id(i, COHORT) for i in range(1, USERS + 1)]


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphSimulator]:
    """The Contoso demo tenant plus 500 E3 holders (the only ones: the demo's own people lose their
    E3) and 500 more E5 seats, served as Microsoft Graph on a free port."""
    url = sim_tenant_file(
        tmp_path / "graph-tenant.db", [Cohort(COHORT, USERS, "ENTERPRISEPACK")], {"ENTERPRISEPREMIUM": USERS}
    )
    engine = create_engine(url)
    try:
        with session_factory(engine)() as session:
            session.execute(
                delete(SimUserLicenseRow).where(
                    SimUserLicenseRow.sku_id == E3, ~SimUserLicenseRow.user_id.in_(cohort_ids())
                )
            )
            drop_group_licenses(session, E3)
            session.commit()
    finally:
        engine.dispose()
    tenant = DatabaseTenant(url, seed_demo=False)
    try:
        with GraphSimulator(tenant, tokens={TOKEN: APP}, page_size=999, latency_ms=LATENCY_MS) as simulator:
            yield simulator
    finally:
        tenant.close()


class Driver:
    """Starts `python -m tests.chaos.driver` on the bot database and the simulator."""

    def __init__(self, tmp_path: Path, database_url: str, graph: GraphSimulator) -> None:
        self.folder = tmp_path
        self.state = tmp_path / "change-set.id"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TENANT_BACKEND": "graph",
            "GRAPH_API_URL": graph.url,
            "GRAPH_ACCESS_TOKEN": TOKEN,
            "LOG_LEVEL": "WARNING",
        }
        self.runs = 0

    def start(self, *options: str) -> subprocess.Popen[str]:
        """A run of the driver; `options` are added to its command line."""
        self.runs += 1
        log_file = (self.folder / f"driver-{self.runs}.log").open("w")
        command = [
            sys.executable,
            "-m",
            "tests.chaos.driver",
            "--state",
            str(self.state),
            "--requester",
            ADMIN,
            "--users",
            "has:E3",
            "--product",
            "E5",
            "--without",
            "Sway",
            "--without",
            "Yammer",
            *options,
        ]
        try:
            return subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=log_file, text=True
            )
        finally:
            log_file.close()

    def log_of(self, run: int) -> str:
        return (self.folder / f"driver-{run}.log").read_text(errors="replace")[-3000:]

    def change_set_id(self) -> str | None:
        if not self.state.exists():
            return None
        return self.state.read_text().strip() or None


def load_change_set(database_url: str, change_set_id: str) -> ChangeSet:
    engine = create_engine(database_url)
    try:
        with session_factory(engine)() as session:
            change_set = SqlChangeSetRepository(session).get(change_set_id)
    finally:
        engine.dispose()
    assert change_set is not None, f"change set {change_set_id} is not in the bot's database"
    return change_set


def writes_applied(graph: GraphSimulator) -> int:
    return graph.stats().total_writes_applied


def batch_requests(graph: GraphSimulator) -> int:
    return graph.stats().requests_to("POST /$batch")


def kill_at_random_points(driver: Driver, graph: GraphSimulator, database_url: str) -> list[Kill]:
    """Ten runs, each killed with SIGKILL at its own point of the job; what each kill left in the
    bot's database is kept.

    The points: ten write counts drawn at random over the job (sorted; at least one new write per
    run). Odd runs are killed as soon as the simulator has applied that many writes, in the middle
    of a `$batch` of writes (WRITES_IN_FLIGHT); even runs, past that count, as soon as the second
    `$batch` after it arrives (the first reads back the users just written), which is the next
    batch's reads (READS_IN_FLIGHT).
    """
    rng = random.Random(SEED)
    points = sorted(rng.sample(range(1, LAST_KILL_POINT), KILLS))
    kills: list[Kill] = []
    for run, point in enumerate(points, start=1):
        kill = Kill(
            run, WRITES_IN_FLIGHT if run % 2 else READS_IN_FLIGHT, max(point, writes_applied(graph) + 1)
        )
        process = driver.start()

        def alive(proc: subprocess.Popen[str] = process) -> bool:
            return proc.poll() is None

        wait_for(
            lambda goal=kill.target: writes_applied(graph) >= goal or not alive(),
            timeout=RUN_TIMEOUT,
            description=f"run {run} to reach {kill.target} writes",
        )
        last_look: float | None = None
        if kill.kind == READS_IN_FLIGHT and alive():
            seen = batch_requests(graph)
            last_look = time.monotonic()

            def next_batch_arrived(seen: int = seen) -> bool:
                nonlocal last_look
                # After the `$batch` of writes in flight comes the read-back of those users, then
                # the next batch's reads: the one to kill in.
                if batch_requests(graph) > seen + 1 or not alive():
                    return True
                last_look = time.monotonic()
                return False

            wait_for(next_batch_arrived, timeout=RUN_TIMEOUT, description=f"run {run} to send a $batch")
        if not alive():
            pytest.fail(
                f"run {run} ended (exit {process.returncode}) before its kill ({kill.kind}, "
                f"{kill.target} writes):\n{driver.log_of(driver.runs)}"
            )
        os.kill(process.pid, signal.SIGKILL)
        if last_look is not None:
            # The last look that saw no new `$batch` came before it arrived: an upper bound.
            kill.seconds_after_arrival = time.monotonic() - last_look
        kill.writes_at_kill = writes_applied(graph)
        assert process.wait(timeout=RUN_TIMEOUT) == -signal.SIGKILL
        process.communicate()
        change_set_id = driver.change_set_id()
        if change_set_id is not None:
            change_set = load_change_set(database_url, change_set_id)
            kill.recorded = sum(1 for item in change_set.items if item.status.final)
            kill.sending = sum(1 for item in change_set.items if item.status is ItemStatus.SENDING)
        kills.append(kill)
    return kills


def run_to_the_end(driver: Driver) -> dict[str, Any]:
    process = driver.start()
    try:
        out, _ = process.communicate(timeout=RUN_TIMEOUT * 2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"the last run did not finish in {RUN_TIMEOUT * 2:g} s:\n{driver.log_of(driver.runs)}")
    assert process.returncode == 0, f"the last run failed:\n{out}\n{driver.log_of(driver.runs)}"
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


def license_history(graph: GraphSimulator) -> tuple[dict[str, list[SimLicenseEventRow]], dict[str, list]]:
    """Every write by user, in order; and what each user holds now (Graph's JSON shape)."""
    assert isinstance(graph.tenant, DatabaseTenant)
    with session_factory(graph.tenant.engine)() as session:
        events: dict[str, list[SimLicenseEventRow]] = defaultdict(list)
        for event in session.scalars(select(SimLicenseEventRow).order_by(SimLicenseEventRow.seq)):
            events[event.user_id].append(event)
        held: dict[str, list] = defaultdict(list)
        for row in session.scalars(select(SimUserLicenseRow).order_by(SimUserLicenseRow.sku_id)):
            held[row.user_id].append({"skuId": row.sku_id, "disabledPlans": sorted(row.disabled_plans)})
        e3_holders = session.scalar(
            select(func.count()).select_from(SimUserLicenseRow).where(SimUserLicenseRow.sku_id == E3)
        )
    assert e3_holders == 0, f"{e3_holders} users still hold Office 365 E3"
    return events, held


def undo_covers(database_url: str, graph: GraphSimulator, change_set_id: str) -> int:
    """How many users an Undo of the change would put back (its preview; nothing is written)."""
    engine = create_engine(database_url)
    client = GraphClient(GraphConfig(access_token=TOKEN, graph_url=graph.url), StaticTokenProvider(TOKEN))
    try:
        history = ChangeHistory(
            SqlUnitOfWorkFactory(session_factory(engine)),
            GraphDirectory(client),
            SystemClock(),
            ProductCatalog(),
        )
        return len(history.request_undo(UndoChange(change_set_id, ADMIN)).items)
    finally:
        client.close()
        engine.dispose()


def audit_targets(database_url: str, change_set_id: str) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        with session_factory(engine)() as session:
            # The request itself is audited once ("requested"); then one entry per user written.
            query = select(AuditRow.target, AuditRow.result).where(
                AuditRow.change_set_id == change_set_id, AuditRow.result != "requested"
            )
            rows = session.execute(query).all()
    finally:
        engine.dispose()
    assert {result for _, result in rows} <= {"applied"}, f"audit results: {Counter(r for _, r in rows)}"
    return Counter(str(target) for target, _ in rows)


def test_a_replace_killed_ten_times_ends_exactly_once_per_user_without_a_gap(
    tmp_path: Path, bot_database_url: str, graph: GraphSimulator
) -> None:
    started = time.monotonic()
    driver = Driver(tmp_path, bot_database_url, graph)

    kills = kill_at_random_points(driver, graph, bot_database_url)
    summary = run_to_the_end(driver)
    seconds = time.monotonic() - started

    events, held = license_history(graph)
    ids = cohort_ids()

    # Every user ends with exactly the intended license and services.
    wrong = {user: held.get(user) for user in ids if held.get(user) != INTENDED}
    assert not wrong, (
        f"{len(wrong)} users do not hold exactly E5 without Sway and Yammer: {list(wrong.items())[:3]}"
    )

    # The simulator's history: one write per user, E3 → E5 in one step, never without a license.
    assert set(events) == set(ids), "writes went to users outside the job, or some users got none"
    for user in ids:
        history = events[user]
        state = BEFORE
        for event in history:
            assert event.before == state, f"{user}: a write started from {event.before}, not {state}"
            assert event.after, f"{user} was left without any license by write {event.seq}"
            state = event.after
        assert state == INTENDED
        assert len(history) == 1, f"{user} was written {len(history)} times: {[e.after for e in history]}"
    writes = graph.stats().writes_applied
    assert all(writes.get(user) == 1 for user in ids), "a write was applied twice (simulator counters)"
    assert graph.stats().total_writes_applied == USERS

    # The bot agrees: done, every user applied (by its own write or found applied after a crash),
    # one audit entry each (R20).
    change_set_id = driver.change_set_id()
    assert change_set_id is not None
    assert summary["state"] == "done"
    change_set = load_change_set(bot_database_url, change_set_id)
    assert change_set.state is ChangeState.DONE
    statuses = Counter(item.status for item in change_set.items)
    assert len(change_set.items) == USERS
    # Every user was written by this change (nobody held E5 before), so every one counts as applied,
    # even those whose write was in flight at a kill: the resume decides from the recorded intent.
    assert statuses == {ItemStatus.APPLIED: USERS}, statuses
    assert undo_covers(bot_database_url, graph, change_set_id) == USERS
    audited = audit_targets(bot_database_url, change_set_id)
    assert len(audited) == USERS
    assert set(audited.values()) == {1}, (
        f"users audited twice: {[t for t, n in audited.items() if n > 1][:5]}"
    )

    # And none of that was vacuous: the kills landed in the middle of the job, and in both states a
    # restart must tell apart (writes applied but not recorded; writes marked but never sent).
    assert len(kills) == KILLS
    for kill in kills:
        assert 0 < kill.writes_at_kill < USERS, f"kill {kill.run} at {kill.writes_at_kill} writes"
    proven = Counter(kill.kind for kill in kills if kill.proven)
    assert proven[WRITES_IN_FLIGHT] >= 1, f"no kill proven to land with writes in flight: {kills}"
    assert proven[READS_IN_FLIGHT] >= 1, f"no kill proven to land before a batch's writes: {kills}"

    log.warning(
        "chaos A (%s): %d users, %d runs, %.1f s; kills (kind, write target, writes applied, outcomes "
        "recorded, marked sending, ms after the reads arrived, proven): %s; %d writes applied; "
        "statuses %s; requests %s",
        make_url(bot_database_url).get_backend_name(),
        USERS,
        driver.runs,
        seconds,
        [
            (
                k.kind,
                k.target,
                k.writes_at_kill,
                k.recorded,
                k.sending,
                None if k.seconds_after_arrival is None else round(k.seconds_after_arrival * 1000, 1),
                k.proven,
            )
            for k in kills
        ],
        graph.stats().total_writes_applied,
        {status.value: n for status, n in statuses.items()},
        dict(graph.stats().requests),
    )
