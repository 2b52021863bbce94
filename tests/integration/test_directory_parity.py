"""One directory behaviour suite, three backends: the simulated tenant (SimulatedTenant on the
database, as the services are given it), Microsoft Graph (GraphDirectory over HTTP to graph-sim
serving that same database), and the in-memory double the unit tests use (`tests.fakes`), loaded
with the same tenant.

All must read the same tenant, accept and refuse the same changes with the same words (R2–R7), and
leave the tenant in the same state. The suite runs on SQLite and, when reachable, PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.application.group_changes import GroupChanges
from domain.application.licensing import Licensing
from domain.catalog import ProductCatalog
from domain.changes import (
    ChangeKind,
    ChangeOutcome,
    ChangeState,
    ItemStatus,
    OutcomeKind,
    UserChange,
    plan_user_change,
)
from domain.commands import ChangeGroupLicense, ChangeLicenses, ConfirmChange
from domain.errors import (
    ChangeConflict,
    LicenseInherited,
    NotEnoughSeats,
    NoUsageLocation,
    ServicePlanConflict,
)
from domain.model import AdminRole, LicenseAssignment, ProcessingState, Product, User
from domain.ports import TenantDirectory, UserQuery
from domain.transactions import RemoteCallInTransaction
from storage.database import session_factory
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, EXTRA_FILE_STORAGE, O365_E3, O365_E4, O365_E5, O365_F3
from storage.simulated.seed import DEMO_GROUP_PROCESSING, demo_group_id
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock, InMemoryDirectory
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
        user = self.user(who)
        found = self.directory.groups_by_id([s.group_id for s in user.states if s.group_id])
        groups = {group_id: group.display_name for group_id, group in found.items() if group is not None}
        return plan_user_change(kind, user, products[sku], products, org, groups=groups, **services)


def _simulated(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[Backend]:
    yield Backend("simulated", SimulatedTenant(sessions, clock))


def _in_memory(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[Backend]:
    """The in-memory double, holding a copy of the demo tenant."""
    with sessions() as session:
        demo = SimulatedDirectory(session, clock)
        users = demo.users()
        copy = InMemoryDirectory(
            demo.organization(),
            products=demo.products(),
            users=users,
            subscriptions=demo.subscriptions(),
            roles={user.id: demo.admin_roles(user.id) for user in users},
        )
        for group in demo.list_groups():
            copy.add_group(group, *(member.id for member in demo.group_members(group.id)))
    yield Backend("in-memory", copy)


def _graph(engine: Engine, clock: FixedClock) -> Iterator[Backend]:
    tenant = DatabaseTenant(engine=engine, seed_demo=False, clock=clock)
    with GraphSimulator(tenant, page_size=4) as sim:
        client = GraphClient(
            GraphConfig(access_token=TOKEN, graph_url=sim.url, pacing_margin_seconds=0.0),
            StaticTokenProvider(TOKEN),
        )
        yield Backend("graph", GraphDirectory(client, catalog=DEMO_CATALOG))
        client.close()


@pytest.fixture(params=["simulated", "graph", "in-memory"])
def backend(
    request: pytest.FixtureRequest, seeded: sessionmaker[Session], engine: Engine, clock: FixedClock
) -> Iterator[Backend]:
    """The demo tenant behind either backend (the `seeded` database of tests/integration/conftest.py)."""
    if request.param == "simulated":
        yield from _simulated(seeded, clock)
    elif request.param == "in-memory":
        yield from _in_memory(seeded, clock)
    else:
        yield from _graph(engine, clock)


@pytest.fixture(params=["simulated", "graph"])
def group_backend(
    request: pytest.FixtureRequest, seeded: sessionmaker[Session], engine: Engine, clock: FixedClock
) -> Iterator[Backend]:
    """The two real backends, for group-based licensing (R21): the in-memory double has groups
    without Microsoft 365's asynchronous processing, which its own unit tests cover."""
    if request.param == "simulated":
        yield from _simulated(seeded, clock)
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
    # Those who get E3 only from a group cannot be moved off it one by one (R21).
    e3_users = sorted(
        u.user_principal_name for u in backend.directory.users_with_product(E3) if not u.only_inherited(E3)
    )
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


# No call while a unit of work is open (DESIGN.md §5)


def test_no_backend_answers_while_a_unit_of_work_is_open(
    backend: Backend, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The real adapters and the in-memory double alike refuse every call, read or write, before it
    reaches the tenant, even a page of users that would be empty; the tenant stays as it was."""
    tenant = backend.directory
    alice = backend.user("alice@contoso.com")
    change = backend.plan(ChangeKind.REPLACE, "alice@contoso.com", E5)
    nobody_holds = DEMO_PRODUCTS[EXTRA_FILE_STORAGE].sku_id
    group = demo_group_id("allstaffe3")
    calls: dict[str, Callable[[], object]] = {
        "organization": tenant.organization,
        "products": tenant.products,
        "subscriptions": tenant.subscriptions,
        "user": lambda: tenant.user("alice@contoso.com"),
        "users_by_id": lambda: tenant.users_by_id([alice.id]),
        "user_pages": lambda: next(iter(tenant.user_pages(UserQuery()))),
        "user_pages, none chosen": lambda: next(iter(tenant.user_pages(UserQuery(sku_id=nobody_holds)))),
        "users_with_product": lambda: tenant.users_with_product(E3),
        "admin_roles": lambda: tenant.admin_roles(alice.id),
        "find_groups": lambda: tenant.find_groups("Sales"),
        "groups_by_id": lambda: tenant.groups_by_id([group]),
        "licensed_groups": tenant.licensed_groups,
        "group_members": lambda: tenant.group_members(group),
        "members_with_license_errors": lambda: tenant.members_with_license_errors(group),
        "assign_group_license": lambda: tenant.assign_group_license(group, [LicenseAssignment(E5)], []),
        "apply": lambda: tenant.apply([change]),
    }

    refused: list[str] = []
    with uow_factory():
        for name, call in calls.items():
            try:
                call()
            except RemoteCallInTransaction:
                refused.append(name)

    assert refused == list(calls)
    assert backend.user("alice@contoso.com") == alice


# Side by side


def _story(backend: Backend) -> dict[str, Any]:
    """Reads and a mixed run of changes, as data that can be compared across backends."""
    # Those who get E3 only from a group cannot be moved off it one by one (R21).
    e3_users = sorted(
        u.user_principal_name for u in backend.directory.users_with_product(E3) if not u.only_inherited(E3)
    )
    changes = [backend.plan(ChangeKind.REPLACE, who, E5) for who in e3_users[:9]]
    zoe = backend.user("uma@contoso.com")  # E3 directly (Zoe now gets it from a group)
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
        "users": [backend.user(f"{who}@contoso.com") for who in ("alice", "uma", "zoe", "nora", "grace")],
        "holders": sorted(u.id for u in backend.directory.users_with_product(E5)),
        "roles": [backend.directory.admin_roles(demo_user_id(f"{w}@contoso.com")) for w in ("grace", "uma")],
    }


def test_every_backend_tells_the_same_story() -> None:
    clock = FixedClock()
    simulated_tenant = DatabaseTenant(clock=clock)
    graph_tenant = DatabaseTenant(clock=clock)
    memory_tenant = DatabaseTenant(clock=clock)
    try:
        simulated = _story(next(_simulated(session_factory(simulated_tenant.engine), clock)))
        in_memory = _story(next(_in_memory(session_factory(memory_tenant.engine), clock)))
        graph_backends = _graph(graph_tenant.engine, clock)
        graph = _story(next(graph_backends))
        graph_backends.close()
    finally:
        simulated_tenant.close()
        graph_tenant.close()
        memory_tenant.close()
    assert [o[1] for o in simulated["outcomes"]].count(OutcomeKind.FAILED) == 4  # 2 seats, conflict, R4
    for part in simulated:
        assert graph[part] == simulated[part], part
        assert in_memory[part] == simulated[part], part


# Group-based licensing (R21)

ALL_STAFF = demo_group_id("allstaffe3")


def test_where_each_license_comes_from_reads_the_same(group_backend: Backend) -> None:
    backend = group_backend
    judy, ivan = backend.user("judy@contoso.com"), backend.user("ivan@contoso.com")
    assert judy.licenses == ivan.licenses == (LicenseAssignment(E3),)
    assert judy.direct_licenses == (LicenseAssignment(E3),)
    assert ivan.direct_licenses == ()
    assert judy.groups_of(E3) == ivan.groups_of(E3) == (ALL_STAFF,)
    assert ivan.only_inherited(E3)
    assert not judy.only_inherited(E3)
    [group] = backend.directory.find_groups("All Staff E3")
    assert backend.directory.find_groups("allstaffe3") == [group]
    assert backend.directory.groups_by_id([ALL_STAFF]) == {ALL_STAFF: group}
    assert (group.display_name, group.licenses, group.processing) == (
        "All Staff E3",
        (LicenseAssignment(E3),),
        ProcessingState.COMPLETE,
    )
    members = sorted(u.user_principal_name for u in backend.directory.group_members(ALL_STAFF))
    assert members == [f"{a}@contoso.com" for a in ("ivan", "judy", "yara", "zoe")]
    assert backend.directory.members_with_license_errors(ALL_STAFF) == []


def test_an_inherited_license_is_never_planned_to_go_and_never_written(group_backend: Backend) -> None:
    backend = group_backend
    with pytest.raises(LicenseInherited, match="from the group All Staff E3"):
        backend.plan(ChangeKind.REMOVE, "ivan@contoso.com", E3)
    with pytest.raises(LicenseInherited):
        backend.plan(ChangeKind.REPLACE, "ivan@contoso.com", E5)
    # Judy holds it both ways: only the direct assignment goes, and she keeps it from the group.
    change = backend.plan(ChangeKind.REMOVE, "judy@contoso.com", E3)
    assert (change.before, change.after, change.remove) == ((LicenseAssignment(E3),), (), (E3,))
    [outcome] = backend.directory.apply([change])
    assert outcome.kind is OutcomeKind.APPLIED
    judy = backend.user("judy@contoso.com")
    assert judy.licenses == (LicenseAssignment(E3),)
    assert judy.direct_licenses == ()


def test_a_groups_license_reaches_the_members_once_processed(
    group_backend: Backend, clock: FixedClock
) -> None:
    backend = group_backend
    written = backend.directory.assign_group_license(ALL_STAFF, [LicenseAssignment(E5)], [E3])
    assert written.processing is ProcessingState.IN_PROGRESS
    assert written.licenses == (LicenseAssignment(E5),)
    assert backend.user("ivan@contoso.com").licenses == (LicenseAssignment(E3),)
    clock.advance(DEMO_GROUP_PROCESSING)
    [group] = backend.directory.find_groups(ALL_STAFF)
    assert group.processing is ProcessingState.COMPLETE
    assert backend.user("ivan@contoso.com").licenses == (LicenseAssignment(E5),)
    judy = backend.user("judy@contoso.com")
    assert judy.licenses == (LicenseAssignment(E3), LicenseAssignment(E5))
    assert judy.direct_licenses == (LicenseAssignment(E3),)


def test_group_changes_through_graph_are_previewed_written_once_and_followed(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    """The services over Graph (graph-sim): a user replace leaves out who only inherits, with no
    write sent for them; a group replace is one `assignLicense` on the group, then processed."""
    backends = _graph(engine, clock)
    graph = next(backends)
    try:
        licensing = Licensing(uow_factory, graph.directory, clock, ProductCatalog())
        preview = licensing.request_change(
            ChangeLicenses(
                ChangeKind.REPLACE, "lena@contoso.com", ("ivan@contoso.com", "alice@contoso.com"), "E5"
            )
        )
        assert [name for name, _ in preview.refused] == ["Ivan Petrov"]
        done = licensing.confirm(ConfirmChange(preview.id, "lena@contoso.com"))
        assert [item.change.user_principal_name for item in done.items] == ["alice@contoso.com"]
        assert graph.user("ivan@contoso.com").licenses == (LicenseAssignment(E3),)

        groups = GroupChanges(uow_factory, graph.directory, clock, ProductCatalog())
        change = groups.plan_group_change(
            ChangeGroupLicense(ChangeKind.REPLACE, "lena@contoso.com", "All Staff E3", "E5")
        )
        assert change.state is ChangeState.PREVIEWED, "a group change is always previewed"
        assert len(change.details["gains"]) == 4
        written = licensing.confirm(ConfirmChange(change.id, "lena@contoso.com"))
        assert written.items[0].status is ItemStatus.APPLIED
        assert graph.directory.groups_by_id([ALL_STAFF])[ALL_STAFF].processing is ProcessingState.IN_PROGRESS
        assert graph.user("ivan@contoso.com").licenses == (LicenseAssignment(E3),)
        clock.advance(DEMO_GROUP_PROCESSING)
        group = graph.directory.groups_by_id([ALL_STAFF])[ALL_STAFF]
        assert group is not None
        assert group.processing is ProcessingState.COMPLETE
        assert graph.directory.members_with_license_errors(ALL_STAFF) == []
        assert graph.user("ivan@contoso.com").licenses == (LicenseAssignment(E5),)
    finally:
        backends.close()
