"""One directory behaviour suite, two backends: the simulated tenant (SimulatedDirectory on the
database) and Microsoft Graph (GraphDirectory over HTTP to graph-sim serving that same database).

Both must read the same tenant, accept and refuse the same changes with the same words (R2–R7), and
leave the tenant in the same state. The suite runs on SQLite and, when reachable, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.changes import ChangeKind, ChangeOutcome, OutcomeKind, UserChange, plan_user_change
from domain.errors import ChangeConflict, NotEnoughSeats, NoUsageLocation, ServicePlanConflict
from domain.model import AdminRole, LicenseAssignment, Product, User
from domain.ports import TenantDirectory
from storage.database import session_factory
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E4, O365_E5, O365_F3
from tests.fakes import FixedClock
from tests.integration.demo_catalog import DEMO_CATALOG

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E4 = DEMO_PRODUCTS[O365_E4].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
F3 = DEMO_PRODUCTS[O365_F3].sku_id
TOKEN = "parity-token"


@dataclass
class Backend:
    name: str
    directory: TenantDirectory

    def user(self, key: str) -> User:
        found = self.directory.user(key)
        assert found is not None, key
        return found

    def products(self) -> dict[str, Product]:
        return {p.sku_id: p for p in self.directory.products()}

    def plan(self, kind: ChangeKind, who: str, sku: str, **services: frozenset[str]) -> UserChange:
        products = self.products()
        org = self.directory.organization()
        return plan_user_change(kind, self.user(who), products[sku], products, org, **services)


def _simulated(session: Session, clock: FixedClock) -> Iterator[Backend]:
    yield Backend("simulated", SimulatedDirectory(session, clock))


def _graph(engine: Engine, clock: FixedClock) -> Iterator[Backend]:
    tenant = DatabaseTenant(engine=engine, seed_demo=False, clock=clock)
    with GraphSimulator(tenant, page_size=4) as sim:
        client = GraphClient(
            GraphConfig(access_token=TOKEN, graph_url=sim.url, pacing_margin_seconds=0.0),
            StaticTokenProvider(TOKEN),
        )
        yield Backend("graph", GraphDirectory(client, catalog=DEMO_CATALOG))
        client.close()


@pytest.fixture(params=["simulated", "graph"])
def backend(
    request: pytest.FixtureRequest, seeded: sessionmaker[Session], engine: Engine, clock: FixedClock
) -> Iterator[Backend]:
    """The demo tenant behind either backend (the `seeded` database of tests/integration/conftest.py)."""
    if request.param == "simulated":
        with seeded() as session:
            yield from _simulated(session, clock)
            session.rollback()
    else:
        yield from _graph(engine, clock)


def kinds(outcomes: Sequence[ChangeOutcome]) -> list[OutcomeKind]:
    return [o.kind for o in outcomes]


# Reads


def test_the_tenant_reads_the_same(backend: Backend) -> None:
    org = backend.directory.organization()
    assert (org.display_name, org.default_domain) == ("Contoso", "contoso.com")
    e3 = backend.products()[E3]
    assert (e3.display_name, e3.seats.enabled, e3.seats.consumed, e3.seats.warning) == (
        "Office 365 E3",
        25,
        14,
        5,
    )
    alice = backend.user("alice@contoso.com")
    assert backend.user(alice.id) == alice
    assert alice.licenses == (LicenseAssignment(E3),)
    assert len(backend.directory.users_with_product(E3)) == 14
    assert backend.directory.admin_roles(demo_user_id("bill@contoso.com")) == {AdminRole.BILLING}
    assert backend.directory.user("nobody@contoso.com") is None


# Seats (R2)


def test_seats_run_out_for_the_user_who_needs_one_too_many(backend: Backend) -> None:
    e3_users = sorted(u.user_principal_name for u in backend.directory.users_with_product(E3))
    free = backend.products()[E5].seats.available
    assert free == 7
    changes = [backend.plan(ChangeKind.REPLACE, who, E5) for who in e3_users[: free + 1]]

    outcomes = backend.directory.apply(changes)

    assert kinds(outcomes) == [OutcomeKind.APPLIED] * free + [OutcomeKind.FAILED]
    assert outcomes[-1].reason == NotEnoughSeats("E5", 1, 0, name="Office 365 E5").message
    assert outcomes[-1].rule == "R2"
    seats = backend.products()[E5].seats
    assert (seats.consumed, seats.available) == (10, 0)
    assert backend.user(e3_users[free]).licenses == (LicenseAssignment(E3),)  # untouched


# Conflicts (R6) and usage location (R4)


def test_exclusive_plans_and_a_missing_usage_location_are_refused_alike(backend: Backend) -> None:
    alice, nora = backend.user("alice@contoso.com"), backend.user("nora@contoso.com")
    changes = [
        UserChange(
            alice.id,
            alice.user_principal_name,
            alice.display_name,
            alice.licenses,
            (LicenseAssignment(E3), LicenseAssignment(F3)),
        ),
        UserChange(nora.id, nora.user_principal_name, nora.display_name, (), (LicenseAssignment(E3),)),
    ]

    conflict, no_location = backend.directory.apply(changes)

    expected = ServicePlanConflict(
        "Alice Wu",
        "Skype for Business Online (Plan 2)",
        "Office 365 E3",
        "Skype for Business Online (Plan 1)",
        "Office 365 F3",
    )
    assert (conflict.kind, conflict.reason, conflict.rule) == (OutcomeKind.FAILED, expected.message, "R6")
    assert (no_location.kind, no_location.reason, no_location.rule) == (
        OutcomeKind.FAILED,
        NoUsageLocation("Nora Lee").message,
        "R4",
    )
    assert backend.user("alice@contoso.com").licenses == alice.licenses


# Replace (R7), services (R5), remove; idempotency


def test_replace_is_one_write_and_a_second_time_changes_nothing(backend: Backend) -> None:
    change = backend.plan(ChangeKind.REPLACE, "alice@contoso.com", E5)
    before = backend.products()

    assert kinds(backend.directory.apply([change])) == [OutcomeKind.APPLIED]
    assert backend.user("alice@contoso.com").licenses == (LicenseAssignment(E5),)
    after = backend.products()
    assert after[E3].seats.consumed == before[E3].seats.consumed - 1
    assert after[E5].seats.consumed == before[E5].seats.consumed + 1

    again = backend.directory.apply([change], verify=True)
    assert kinds(again) == [OutcomeKind.ALREADY_APPLIED]
    assert again[0].licenses == change.after


def test_a_user_changed_since_the_plan_is_left_alone(backend: Backend) -> None:
    planned = backend.plan(ChangeKind.REPLACE, "bob@contoso.com", E5)
    assert kinds(backend.directory.apply([backend.plan(ChangeKind.REPLACE, "bob@contoso.com", F3)])) == [
        OutcomeKind.APPLIED
    ]

    (outcome,) = backend.directory.apply([planned])

    assert (outcome.kind, outcome.reason) == (OutcomeKind.CONFLICT, ChangeConflict("Bob Smith").message)
    assert backend.user("bob@contoso.com").licenses == (LicenseAssignment(F3),)


def test_turning_a_service_off_keeps_the_others_as_they_were(backend: Backend) -> None:
    sway = next(p.id for p in DEMO_PRODUCTS[O365_E3].service_plans if p.name == "SWAY")
    teams = next(p.id for p in DEMO_PRODUCTS[O365_E3].service_plans if p.name == "TEAMS1")
    carol = backend.user("carol@contoso.com")  # Sway and Yammer already off
    change = backend.plan(
        ChangeKind.SERVICES, "carol@contoso.com", E3, turn_off=frozenset({teams}), turn_on=frozenset({sway})
    )

    assert kinds(backend.directory.apply([change])) == [OutcomeKind.APPLIED]

    (held,) = backend.user("carol@contoso.com").licenses
    assert held.disabled_plans == (carol.licenses[0].disabled_plans - {sway}) | {teams}


def test_remove_frees_the_seat(backend: Backend) -> None:
    consumed = backend.products()[E4].seats.consumed
    change = backend.plan(ChangeKind.REMOVE, "peggy@contoso.com", E4)
    assert kinds(backend.directory.apply([change])) == [OutcomeKind.APPLIED]
    assert backend.user("peggy@contoso.com").licenses == ()
    assert backend.products()[E4].seats.consumed == consumed - 1


# Side by side


def _story(backend: Backend) -> dict[str, Any]:
    """Reads and a mixed run of changes, as data that can be compared across backends."""
    e3_users = sorted(u.user_principal_name for u in backend.directory.users_with_product(E3))
    changes = [backend.plan(ChangeKind.REPLACE, who, E5) for who in e3_users[:9]]
    zoe = backend.user("zoe@contoso.com")
    nora = backend.user("nora@contoso.com")
    changes += [
        UserChange(
            zoe.id,
            zoe.user_principal_name,
            zoe.display_name,
            zoe.licenses,
            (*zoe.licenses, LicenseAssignment(F3)),
        ),
        UserChange(nora.id, nora.user_principal_name, nora.display_name, (), (LicenseAssignment(E4),)),
    ]
    outcomes = backend.directory.apply(changes)
    subscriptions = [
        replace(s, purchase_channel=None, payment_method=None)  # Graph does not say how it was bought
        for s in backend.directory.subscriptions()
    ]
    return {
        "organization": backend.directory.organization(),
        "products": sorted(backend.directory.products(), key=lambda p: p.sku_id),
        "subscriptions": subscriptions,
        "outcomes": [(o.user_id, o.kind, o.reason, o.rule, o.licenses) for o in outcomes],
        "users": [backend.user(f"{who}@contoso.com") for who in ("alice", "zoe", "nora", "grace")],
        "holders": sorted(u.id for u in backend.directory.users_with_product(E5)),
        "roles": [backend.directory.admin_roles(demo_user_id(f"{w}@contoso.com")) for w in ("grace", "uma")],
    }


def test_both_backends_tell_the_same_story() -> None:
    clock = FixedClock()
    simulated_tenant = DatabaseTenant(clock=clock)
    graph_tenant = DatabaseTenant(clock=clock)
    try:
        with session_factory(simulated_tenant.engine)() as session:
            simulated = _story(next(_simulated(session, clock)))
        graph_backends = _graph(graph_tenant.engine, clock)
        graph = _story(next(graph_backends))
        graph_backends.close()
    finally:
        simulated_tenant.close()
        graph_tenant.close()
    assert [o[1] for o in simulated["outcomes"]].count(OutcomeKind.FAILED) == 4  # 2 seats, conflict, R4
    for part in simulated:
        assert graph[part] == simulated[part], part
