"""A bulk replace (E3 → E5 for every holder of E3, about a hundred users) planned and applied
through `Licensing` over the Graph adapter, against graph-sim over real HTTP, with each kind of
fault Graph has: 429 with and without `Retry-After`, 503 with and without it, answers that never
come, and writes applied but answered 429; then all of them at once.

Each run must end as the same job without faults ends: the change set done, every item applied,
every user holding the same licenses. The tenant's own history (`sim_license_events`) and the
simulator's counters prove that each user was written exactly once, from the old license straight
to the new one (R7), and that the faults did happen, so that no run can pass without them.

Waiting goes through a fake clock shared by the client and its write pacer: `Retry-After` and
backoff are recorded, not slept. The only real waits are the client's timeouts (half a second) on
the answers an injected timeout holds back.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bench.common import Cohort, grow_tenant
from domain.application.licensing import Licensing
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeSet, ChangeState, ItemStatus
from domain.commands import ChangeLicenses, ConfirmChange
from storage.database import create_engine, session_factory
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider, WritePacer
from storage.graph.client import ClientStats
from storage.graph_sim import DatabaseTenant, FaultKind, FaultPlan, GraphSimulator, SimStats
from storage.migrate import ensure_schema
from storage.orm import SimLicenseEventRow
from storage.simulated import SimulatedDirectory
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeTime, FixedClock

TOKEN = "faults-test-token"
ADMIN = "lena@contoso.com"
MOVERS = 86
"""Users grown into the demo tenant, each holding E3; with the demo's own 14 holders of E3, about a
hundred users move."""
E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
RETRY_AFTER = 3
"""Seconds of `Retry-After` the simulator sends: distinct from any backoff, so waits show which."""
CLIENT_TIMEOUT = 10.0
HANGING_CLIENT_TIMEOUT = 0.5
"""The client's timeout where answers are held back: short, yet well above the ~0.2 s a `$batch` of
20 writes takes here, so that only the injected timeouts time out."""
HANG = 5.0
"""How long an injected timeout holds its answer back: far past the client's timeout (and ended at
once when the simulator stops)."""

Licenses = frozenset[tuple[str, frozenset[str]]]


class StripRetryAfterOn503(httpx.BaseTransport):
    """Between the client and Graph, a gateway that drops `Retry-After` from 503 answers, top level
    and inside `$batch` (the simulator always sends one with its 503s; Graph does not promise it)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.stripped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        content = response.read()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        if response.status_code == 503:
            headers = [(k, v) for k, v in headers if k.lower() != "retry-after"]
            self.stripped += 1
        body = json.loads(content) if content else None
        if isinstance(body, dict) and isinstance(body.get("responses"), list):
            for answer in body["responses"]:
                if answer.get("status") == 503:
                    answer["headers"] = {
                        k: v for k, v in (answer.get("headers") or {}).items() if k.lower() != "retry-after"
                    }
                    self.stripped += 1
            content = json.dumps(body).encode()
        return httpx.Response(response.status_code, headers=headers, content=content)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class Run:
    """One bulk replace, and what the tenant, the simulator and the client saw."""

    change_set: ChangeSet
    licenses: dict[str, Licenses]
    """Every user of the tenant (user principal name) → licenses held at the end."""
    history: dict[str, list[tuple[Licenses, Licenses]]]
    """User id → (before, after) of each license write the tenant recorded during the job."""
    sim: SimStats
    client: ClientStats
    waits: list[float]

    @property
    def movers(self) -> set[str]:
        return {item.change.user_id for item in self.change_set.items}

    def summary(self) -> str:
        faults = ", ".join(f"{kind} ×{n}" for kind, n in sorted(self.sim.faults.items())) or "none"
        return (
            f"{len(self.movers)} users, {self.sim.total_writes_applied} writes applied, "
            f"faults: {faults}; client retries {self.client.retries}, 429s seen {self.client.throttled}, "
            f"HTTP requests {self.client.http_requests}, waited {sum(self.waits):.1f} s (fake)"
        )


def _licenses(items: Any) -> Licenses:
    return frozenset((str(i["skuId"]), frozenset(i.get("disabledPlans") or ())) for i in items)


def _tenant() -> tuple[DatabaseTenant, int]:
    """The Contoso demo in memory, grown by MOVERS E3 holders and E5 seats for everyone who moves;
    with the last event of its history before the job."""
    tenant = DatabaseTenant(clock=FixedClock())
    with session_factory(tenant.engine).begin() as session:
        grow_tenant(session, [Cohort("mover", MOVERS, O365_E3)], {O365_E5: MOVERS + 20})
        last = session.scalar(select(func.max(SimLicenseEventRow.seq))) or 0
    return tenant, int(last)


def run_replace(
    tmp_path: Path,
    plan: FaultPlan,
    *,
    transport: httpx.BaseTransport | None = None,
    max_retries: int = 6,
    timeout_seconds: float = CLIENT_TIMEOUT,
    scripted: Sequence[tuple[FaultKind, str]] = (),
) -> Run:
    """`/license replace has:E3 E5`, confirmed, through `Licensing` → GraphDirectory → graph-sim.

    `scripted`: faults for the first request matching each "METHOD /path" part, on top of the
    plan's shares (so that a rare kind is there whatever the order of the draws)."""
    tenant, last_event = _tenant()
    fake = FakeTime()
    bot_engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    ensure_schema(bot_engine)
    try:
        with GraphSimulator(tenant, faults=plan, tokens={TOKEN: "licensebot-faults"}) as sim:
            for kind, match in scripted:
                sim.inject(kind, match=match)
            config = GraphConfig(
                access_token=TOKEN,
                graph_url=sim.url,
                timeout_seconds=timeout_seconds,
                connect_timeout_seconds=2.0,
                pacing_margin_seconds=0.0,
                max_retries=max_retries,
            )
            pacer = WritePacer(config.write_quota, clock=fake.monotonic, sleeper=fake.sleep)
            client = GraphClient(
                config,
                StaticTokenProvider(TOKEN),
                transport=transport,
                pacer=pacer,
                sleeper=fake.sleep,
                rng=random.Random(7),
            )
            directory = GraphDirectory(client)
            uow = SqlUnitOfWorkFactory(session_factory(bot_engine))
            licensing = Licensing(uow, directory, FixedClock(), ProductCatalog())
            try:
                preview = licensing.request_change(
                    ChangeLicenses(ChangeKind.REPLACE, ADMIN, ("has:E3",), "E5")
                )
                assert preview.state is ChangeState.PREVIEWED, "a replace removes access: it waits"
                done = licensing.confirm(ConfirmChange(preview.id, ADMIN))
            finally:
                client.close()
            sim_stats, client_stats = sim.stats(), client.stats()
        with session_factory(tenant.engine)() as session:
            events = session.scalars(
                select(SimLicenseEventRow)
                .where(SimLicenseEventRow.seq > last_event)
                .order_by(SimLicenseEventRow.seq)
            ).all()
            history: dict[str, list[tuple[Licenses, Licenses]]] = {}
            for event in events:
                history.setdefault(event.user_id, []).append(
                    (_licenses(event.before), _licenses(event.after))
                )
            licenses = {
                user.user_principal_name: frozenset(
                    (lic.sku_id, frozenset(lic.disabled_plans)) for lic in user.licenses
                )
                for user in SimulatedDirectory(session, FixedClock()).users()
            }
    finally:
        bot_engine.dispose()
        tenant.close()
    return Run(done, licenses, history, sim_stats, client_stats, list(fake.sleeps))


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same job without faults: what every faulty run must end with."""
    run = run_replace(tmp_path_factory.mktemp("fault-free"), FaultPlan())
    assert run.sim.faults == {}
    assert run.client.retries == 0
    assert_completed_once(run)
    return run


def assert_completed_once(run: Run) -> None:
    """Done; every item applied; each mover written exactly once, E3 → E5 in one write (R7)."""
    change_set = run.change_set
    assert change_set.state is ChangeState.DONE, run.summary()
    statuses = Counter(item.status for item in change_set.items)
    assert set(statuses) <= {ItemStatus.APPLIED, ItemStatus.ALREADY_APPLIED}, (statuses, run.summary())
    assert len(change_set.items) >= MOVERS
    # Only those who get E3 from the group All Staff E3 and nothing directly are left out (R21).
    assert {name for name, _ in change_set.refused} == {"Ivan Petrov", "Yara Haddad", "Zoe Clark"}
    assert all("from the group All Staff E3" in reason for _, reason in change_set.refused)
    movers = run.movers
    assert dict(run.sim.writes_applied) == dict.fromkeys(movers, 1), "no write applied twice, none lost"
    assert set(run.history) == movers, "the tenant's history: only the movers were written"
    for user_id, writes in run.history.items():
        assert len(writes) == 1, f"{user_id} was written {len(writes)} times"
        before, after = writes[0]
        assert E3 in {sku for sku, _ in before}
        assert after, f"{user_id} was left without a license"
        assert {sku for sku, _ in after} == {E5}, f"{user_id}: not straight from E3 to E5"


def assert_same_end(run: Run, fault_free: Run) -> None:
    assert run.movers == fault_free.movers
    assert run.licenses == fault_free.licenses, "the tenant ends as the same job without faults leaves it"


def assert_faults(run: Run, *kinds: FaultKind) -> None:
    for kind in kinds:
        assert run.sim.faults.get(kind.value, 0) > 0, f"no {kind.value} was injected: {run.summary()}"


def test_the_fault_free_job_moves_every_holder_of_e3_to_e5_once(fault_free: Run) -> None:
    assert_completed_once(fault_free)
    moved = [licenses for licenses in fault_free.licenses.values() if (E5, frozenset()) in licenses]
    assert len(moved) >= MOVERS
    # Only the four members of the group All Staff E3 still have E3, from the group (R21).
    still = [upn for upn, licenses in fault_free.licenses.items() if E3 in {s for s, _ in licenses}]
    assert sorted(still) == [f"{who}@contoso.com" for who in ("ivan", "judy", "yara", "zoe")]


def test_a_fifth_of_requests_throttled_with_retry_after(tmp_path: Path, fault_free: Run) -> None:
    run = run_replace(tmp_path, FaultPlan(throttle=0.2, retry_after_seconds=RETRY_AFTER, seed=1))
    assert_faults(run, FaultKind.THROTTLE)
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert run.client.throttled == run.sim.throttled, "every 429 was seen and waited out"
    assert float(RETRY_AFTER) in run.waits, "Retry-After was honoured"
    assert all(wait <= RETRY_AFTER for wait in run.waits), "never longer than Graph asked"


def test_a_fifth_of_requests_throttled_without_retry_after(tmp_path: Path, fault_free: Run) -> None:
    run = run_replace(tmp_path, FaultPlan(throttle_no_retry_after=0.2, seed=2))
    assert_faults(run, FaultKind.THROTTLE_NO_RETRY_AFTER)
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert run.waits, "backed off before trying again"
    cap = GraphConfig(access_token=TOKEN).backoff_cap_seconds
    assert all(0 <= wait <= cap for wait in run.waits), "exponential backoff with jitter, capped"
    assert len(set(run.waits)) > 1, "jittered, not one fixed wait"


def test_a_fifth_of_requests_unavailable_with_retry_after(tmp_path: Path, fault_free: Run) -> None:
    run = run_replace(tmp_path, FaultPlan(unavailable=0.2, retry_after_seconds=RETRY_AFTER, seed=3))
    assert_faults(run, FaultKind.UNAVAILABLE)
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert float(RETRY_AFTER) in run.waits


def test_a_fifth_of_requests_unavailable_without_retry_after(tmp_path: Path, fault_free: Run) -> None:
    gateway = StripRetryAfterOn503()
    run = run_replace(
        tmp_path, FaultPlan(unavailable=0.2, retry_after_seconds=RETRY_AFTER, seed=4), transport=gateway
    )
    assert_faults(run, FaultKind.UNAVAILABLE)
    assert gateway.stripped == run.sim.faults[FaultKind.UNAVAILABLE.value], "every 503 came without it"
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert run.waits
    assert float(RETRY_AFTER) not in run.waits, "no Retry-After to honour: backoff instead"


def test_answers_that_never_come(tmp_path: Path, fault_free: Run) -> None:
    """Requests served and then held back past the client's timeout: reads are sent again, writes
    are read back (they did happen) instead of being written a second time."""
    run = run_replace(
        tmp_path,
        FaultPlan(timeout=0.005, hang_seconds=HANG, seed=5),
        max_retries=10,
        timeout_seconds=HANGING_CLIENT_TIMEOUT,
        scripted=[(FaultKind.TIMEOUT, "GET /users/"), (FaultKind.TIMEOUT, "assignLicense")],
    )
    assert_faults(run, FaultKind.TIMEOUT)
    assert run.sim.faults[FaultKind.TIMEOUT.value] >= 2
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert run.client.retries > 0, "the reads held back were sent again"


def test_writes_applied_but_answered_429_are_read_back_not_written_again(
    tmp_path: Path, fault_free: Run
) -> None:
    run = run_replace(
        tmp_path,
        FaultPlan(applied_then_throttled=0.2, writes_only=True, retry_after_seconds=RETRY_AFTER, seed=7),
    )
    assert_faults(run, FaultKind.APPLIED_THEN_THROTTLED)
    assert_completed_once(run)
    assert_same_end(run, fault_free)
    assert float(RETRY_AFTER) in run.waits


def test_every_fault_at_once(tmp_path: Path, fault_free: Run) -> None:
    plan = FaultPlan(
        throttle=0.06,
        throttle_no_retry_after=0.06,
        unavailable=0.06,
        timeout=0.01,
        applied_then_throttled=0.06,
        retry_after_seconds=RETRY_AFTER,
        hang_seconds=HANG,
        seed=8,
    )
    run = run_replace(
        tmp_path,
        plan,
        max_retries=10,
        timeout_seconds=HANGING_CLIENT_TIMEOUT,
        scripted=[(FaultKind.TIMEOUT, "assignLicense")],
    )
    assert_faults(run, *FaultKind)
    assert_completed_once(run)
    assert_same_end(run, fault_free)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Every simulator of a test is stopped by its end (a held-back answer is let go at once)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    stray = [t for t in threading.enumerate() if t.ident not in before and t.name == "graph-sim"]
    assert stray == []
