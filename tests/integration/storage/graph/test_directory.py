"""GraphDirectory over real HTTP against the Graph simulator (graph-sim) on a free local port.

Every operation of the port; paging; `$batch` with mixed answers; Graph's refusals mapped to the very
same domain errors (same words) as the simulated tenant gives; `Retry-After`; a write whose answer is
lost, read back instead of written again; the write pacer under the simulator's quota; the token
providers, offline. Waiting goes through a fake clock and sleeper, so nothing here really sleeps
except one client timeout of a fraction of a second.
"""

from __future__ import annotations

import json
import logging
import random
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from domain import transactions
from domain.changes import ChangeKind, ChangeOutcome, OutcomeKind, UserChange, plan_user_change
from domain.errors import AmbiguousUser, DirectoryUnavailable, ServicePlanConflict
from domain.model import (
    AdminRole,
    AssignmentError,
    Cloud,
    LicenseAssignment,
    Product,
    SubscriptionStatus,
    User,
)
from domain.transactions import RemoteCallInTransaction
from storage.database import session_factory
from storage.graph import (
    CertificateCredential,
    GraphAccessDenied,
    GraphClient,
    GraphConfig,
    GraphDirectory,
    GraphSignInFailed,
    MissingServiceDependency,
    MsalTokenProvider,
    ProhibitedInUsageLocation,
    StaticTokenProvider,
    WritePacer,
    WriteQuota,
    token_provider,
)
from storage.graph_sim import DatabaseTenant, FaultKind, FaultPlan, GraphSimulator
from storage.orm import SimLicenseEventRow, SimUserRow
from storage.simulated import SimulatedDirectory, demo_subscription_id, demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, EXTRA_FILE_STORAGE, O365_E3, O365_E5, O365_F3
from storage.simulated.seed import demo_group_id
from tests.fakes import FakeTime, FixedClock
from tests.integration.demo_catalog import DEMO_CATALOG

TOKEN = "test-token-3f9a0c"
E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
F3 = DEMO_PRODUCTS[O365_F3].sku_id
STORAGE = DEMO_PRODUCTS[EXTRA_FILE_STORAGE].sku_id

"""Display names come from Microsoft's product table (PRODUCT_TABLE_PATH in production): here the
demo's rows of it, so that both backends name products alike."""


Prepare = Callable[[SimulatedDirectory], None]


def new_tenant(prepare: Prepare | None = None) -> DatabaseTenant:
    """A fresh in-memory Contoso demo tenant, optionally changed by `prepare` (committed)."""
    tenant = DatabaseTenant(clock=FixedClock())
    if prepare is not None:
        with session_factory(tenant.engine).begin() as session:
            prepare(SimulatedDirectory(session, FixedClock()))
    return tenant


def simulated_outcomes(changes: Sequence[UserChange], prepare: Prepare | None = None) -> list[ChangeOutcome]:
    """What the simulated tenant answers to the same changes, on a tenant of its own."""
    tenant = new_tenant(prepare)
    try:
        with session_factory(tenant.engine).begin() as session:
            return SimulatedDirectory(session, FixedClock()).apply(changes)
    finally:
        tenant.close()


class Connection:
    """A GraphDirectory on the simulator, with its client and fake time at hand."""

    def __init__(
        self,
        sim: GraphSimulator | None,
        fake: FakeTime,
        *,
        transport: httpx.BaseTransport | None = None,
        **config: Any,
    ) -> None:
        self.fake = fake
        settings: dict[str, Any] = {"timeout_seconds": 5.0, "pacing_margin_seconds": 0.0, **config}
        if sim is not None:
            settings["graph_url"] = sim.url
        self.config = GraphConfig(access_token=TOKEN, **settings)
        self.pacer = WritePacer(self.config.write_quota, clock=fake.monotonic, sleeper=fake.sleep)
        self.client = GraphClient(
            self.config,
            StaticTokenProvider(TOKEN),
            transport=transport,
            pacer=self.pacer,
            sleeper=fake.sleep,
            rng=random.Random(7),
        )
        self.directory = GraphDirectory(self.client, catalog=DEMO_CATALOG)

    def user(self, key: str) -> User:
        found = self.directory.user(key)
        assert found is not None, key
        return found

    def products(self) -> dict[str, Product]:
        return {p.sku_id: p for p in self.directory.products()}


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def tenant() -> Iterator[DatabaseTenant]:
    tenant = new_tenant()
    yield tenant
    tenant.close()


@pytest.fixture
def sim(tenant: DatabaseTenant) -> Iterator[GraphSimulator]:
    with GraphSimulator(tenant, page_size=2, faults=FaultPlan(retry_after_seconds=7)) as simulator:
        yield simulator


@pytest.fixture
def graph(sim: GraphSimulator, fake: FakeTime) -> Iterator[Connection]:
    connection = Connection(sim, fake)
    yield connection
    connection.client.close()


def change_to(user: User, after: Sequence[LicenseAssignment]) -> UserChange:
    """A change as the bot would send it, built by hand so that it can break a rule on purpose."""
    return UserChange(
        user.id,
        user.user_principal_name,
        user.display_name,
        user.licenses,
        tuple(sorted(after, key=lambda lic: lic.sku_id)),
    )


def replace_with(graph: Connection, who: str, sku: str) -> UserChange:
    org = graph.directory.organization()
    products = graph.products()
    return plan_user_change(ChangeKind.REPLACE, graph.user(who), products[sku], products, org)


def summary(outcomes: Sequence[ChangeOutcome]) -> list[tuple[str, str, str, tuple[LicenseAssignment, ...]]]:
    return [(o.kind.value, o.reason, o.rule, o.licenses) for o in outcomes]


# Reads


def test_organization_products_and_subscriptions_read_as_the_domain_knows_them(graph: Connection) -> None:
    org = graph.directory.organization()
    assert org.display_name == "Contoso"
    assert org.verified_domains == {"contoso.com", "contoso.onmicrosoft.com"}
    assert org.default_domain == "contoso.com"
    assert org.country_code == "US"
    assert org.cloud is Cloud.WORLDWIDE

    products = graph.products()
    e3 = products[E3]
    assert (e3.part_number, e3.display_name) == ("ENTERPRISEPACK", "Office 365 E3")
    assert (e3.seats.enabled, e3.seats.consumed, e3.seats.warning) == (25, 14, 5)
    sway = e3.plan("SWAY")
    assert sway is not None
    assert (sway.display_name, sway.applies_to) == ("Sway", "User")
    assert products[STORAGE].applies_to == "Company"
    assert products[STORAGE].capability_status.value == "Suspended"

    subscriptions = graph.directory.subscriptions()
    statuses = {s.id: s.status for s in subscriptions}
    assert statuses[demo_subscription_id("e3-expired")] is SubscriptionStatus.WARNING
    assert statuses[demo_subscription_id("storage")] is SubscriptionStatus.SUSPENDED
    e5 = next(s for s in subscriptions if s.id == demo_subscription_id("e5"))
    assert (e5.sku_id, e5.part_number, e5.total_licenses, e5.is_trial) == (E5, "ENTERPRISEPREMIUM", 10, False)
    assert e5.created is not None
    assert e5.next_lifecycle is not None
    assert e5.organization_id == org.id


def test_a_pending_purchase_is_not_listed_yet(tenant: DatabaseTenant, graph: Connection) -> None:
    with session_factory(tenant.engine).begin() as session:
        clock = FixedClock()
        pending = SimulatedDirectory(session, clock).add_subscription(
            O365_E5, 5, activates_at=clock.now().replace(year=clock.now().year + 1)
        )
    assert pending.id not in {s.id for s in graph.directory.subscriptions()}


def test_user_by_upn_by_object_id_and_by_a_mail_that_is_no_upn(
    tenant: DatabaseTenant, graph: Connection
) -> None:
    alice = graph.user("alice@contoso.com")
    assert (alice.display_name, alice.usage_location, alice.mail) == ("Alice Wu", "US", "alice@contoso.com")
    assert alice.licenses == (LicenseAssignment(E3),)
    assert graph.user(alice.id) == alice
    assert graph.user("ALICE@contoso.com") == alice

    with session_factory(tenant.engine).begin() as session:
        session.execute(update(SimUserRow).where(SimUserRow.id == alice.id).values(mail="a.o'wu@contoso.com"))
    # Not a UPN: found through `$filter=mail eq 'a.o''wu@contoso.com'` (the quote doubled).
    assert graph.user("a.o'wu@contoso.com") == graph.user(alice.id)
    assert graph.directory.user("nobody@contoso.com") is None
    assert graph.directory.user("not an address") is None
    assert graph.directory.user("") is None


def test_two_users_sharing_a_mail_are_ambiguous(tenant: DatabaseTenant, graph: Connection) -> None:
    with session_factory(tenant.engine).begin() as session:
        session.execute(
            update(SimUserRow)
            .where(SimUserRow.user_principal_name.in_(["alice@contoso.com", "bob@contoso.com"]))
            .values(mail="team@contoso.com")
        )
    with pytest.raises(AmbiguousUser, match=re.escape("alice@contoso.com, bob@contoso.com")):
        graph.directory.user("team@contoso.com")


def test_users_with_a_product_come_page_after_page(sim: GraphSimulator, graph: Connection) -> None:
    sim.reset_stats()
    holders = graph.directory.users_with_product(E3)
    with session_factory(sim_tenant(sim).engine)() as session:
        expected = SimulatedDirectory(session, FixedClock()).users_with_product(E3)
    assert sorted(u.user_principal_name for u in holders) == sorted(u.user_principal_name for u in expected)
    assert len(holders) == 14
    assert sim.stats().requests_to("GET /users") == 7  # 14 holders, 2 per page
    assert graph.directory.users_with_product("E3' or true") == []


def sim_tenant(sim: GraphSimulator) -> DatabaseTenant:
    tenant = sim.tenant
    assert isinstance(tenant, DatabaseTenant)
    return tenant


def test_admin_roles_come_from_role_template_ids(graph: Connection) -> None:
    assert graph.directory.admin_roles(demo_user_id("grace@contoso.com")) == {AdminRole.GLOBAL}
    assert graph.directory.admin_roles(demo_user_id("lena@contoso.com")) == {AdminRole.LICENSE}
    assert graph.directory.admin_roles(demo_user_id("alice@contoso.com")) == frozenset()
    assert graph.directory.admin_roles(str(uuid.uuid4())) == frozenset()


# Writes


def test_one_batch_with_mixed_answers_maps_each_on_its_own(
    sim: GraphSimulator, graph: Connection, fake: FakeTime
) -> None:
    alice, bob = replace_with(graph, "alice@contoso.com", E5), replace_with(graph, "bob@contoso.com", E5)
    nora = graph.user("nora@contoso.com")
    dave = graph.user("dave@contoso.com")
    changes = [
        alice,
        change_to(nora, [LicenseAssignment(E3)]),  # R4: no usage location
        change_to(dave, [*dave.licenses, LicenseAssignment(F3)]),  # R6: MCOSTANDARD vs MCOIMP
        bob,  # throttled once, then written
    ]
    sim.inject(FaultKind.THROTTLE, match=f"{bob.user_id}/assignLicense")
    sim.reset_stats()

    outcomes = graph.directory.apply(changes)

    assert [o.kind for o in outcomes] == [
        OutcomeKind.APPLIED,
        OutcomeKind.FAILED,
        OutcomeKind.FAILED,
        OutcomeKind.APPLIED,
    ]
    assert [o.rule for o in outcomes] == ["", "R4", "R6", ""]
    assert summary(outcomes) == summary(simulated_outcomes(changes))
    stats = sim.stats()
    assert 4 in stats.batch_sizes  # the four writes went in one $batch
    assert stats.writes_applied == {alice.user_id: 1, bob.user_id: 1}
    assert stats.throttled == 1
    assert 7.0 in fake.sleeps  # Retry-After: 7 was honoured before reading bob back
    assert graph.user("bob@contoso.com").licenses == bob.after


def _fewer_e5_seats(directory: SimulatedDirectory) -> None:
    directory.set_seats(demo_subscription_id("e5"), 3)  # 3 held, none free


@pytest.mark.parametrize(
    ("who", "after", "prepare", "rule"),
    [
        pytest.param("alice@contoso.com", [LicenseAssignment(E5)], _fewer_e5_seats, "R2", id="no-seats"),
        pytest.param("nora@contoso.com", [LicenseAssignment(E3)], None, "R4", id="usage-location"),
        pytest.param(
            "quinn@contoso.com", [LicenseAssignment(F3), LicenseAssignment(E3)], None, "R6", id="conflict"
        ),
        pytest.param(
            "alice@contoso.com",
            [LicenseAssignment(E3), LicenseAssignment(STORAGE)],
            None,
            "R3",
            id="company-product",
        ),
    ],
)
def test_graph_refusals_read_exactly_like_the_simulated_tenants(
    who: str, after: list[LicenseAssignment], prepare: Prepare | None, rule: str, fake: FakeTime
) -> None:
    tenant = new_tenant(prepare)
    with GraphSimulator(tenant) as sim:
        graph = Connection(sim, fake)
        change = change_to(graph.user(who), after)
        outcomes = graph.directory.apply([change])
        graph.client.close()
        assert sim.stats().total_writes_applied == 0
    tenant.close()
    assert outcomes[0].kind is OutcomeKind.FAILED
    assert outcomes[0].rule == rule
    assert summary(outcomes) == summary(simulated_outcomes([change], prepare))


def test_a_user_gone_since_the_plan_fails_as_unknown(graph: Connection) -> None:
    ghost = User(str(uuid.uuid4()), "ghost@contoso.com", "Ghost")
    change = change_to(ghost, [LicenseAssignment(E3)])
    outcomes = graph.directory.apply([change])
    assert summary(outcomes) == summary(simulated_outcomes([change]))
    assert "ghost@contoso.com" in outcomes[0].reason


def test_already_applied_and_changed_meanwhile_are_not_written(
    sim: GraphSimulator, graph: Connection
) -> None:
    alice = replace_with(graph, "alice@contoso.com", E5)
    assert graph.directory.apply([alice])[0].kind is OutcomeKind.APPLIED
    stale = replace_with(graph, "bob@contoso.com", E5)
    meanwhile = change_to(graph.user("bob@contoso.com"), [LicenseAssignment(F3)])  # another admin
    graph.directory.apply([meanwhile])
    sim.reset_stats()

    again = graph.directory.apply([alice, stale], verify=True)

    assert [o.kind for o in again] == [OutcomeKind.ALREADY_APPLIED, OutcomeKind.CONFLICT]
    assert summary(again) == summary(
        simulated_outcomes([alice, stale], lambda d: _apply_all(d, [alice, meanwhile]))
    )
    assert sim.stats().total_writes_applied == 0


def _apply_all(directory: SimulatedDirectory, changes: Sequence[UserChange]) -> None:
    assert {o.kind for o in directory.apply(changes)} == {OutcomeKind.APPLIED}


def test_a_write_applied_but_answered_429_is_read_back_not_written_twice(
    sim: GraphSimulator, graph: Connection, fake: FakeTime
) -> None:
    change = replace_with(graph, "alice@contoso.com", E5)
    sim.inject(FaultKind.APPLIED_THEN_THROTTLED, match="assignLicense")
    sim.reset_stats()

    outcomes = graph.directory.apply([change])

    assert outcomes[0].kind is OutcomeKind.APPLIED
    assert outcomes[0].licenses == change.after
    stats = sim.stats()
    assert stats.writes_applied == {change.user_id: 1}
    assert stats.requests_to("POST /users/{id}/assignLicense") == 1
    assert fake.sleeps == [7.0]


def test_a_write_whose_answer_never_comes_is_read_back_not_written_twice(
    tenant: DatabaseTenant, fake: FakeTime
) -> None:
    with GraphSimulator(tenant, faults=FaultPlan(hang_seconds=10)) as sim:
        graph = Connection(sim, fake, timeout_seconds=0.3)
        change = replace_with(graph, "alice@contoso.com", E5)
        sim.inject(FaultKind.TIMEOUT, match="assignLicense")
        sim.reset_stats()
        outcomes = graph.directory.apply([change])
        graph.client.close()
        stats = sim.stats()
    assert outcomes[0].kind is OutcomeKind.APPLIED
    assert stats.writes_applied == {change.user_id: 1}
    assert stats.requests_to("POST /users/{id}/assignLicense") == 1
    with session_factory(tenant.engine)() as session:
        history = session.scalars(
            select(SimLicenseEventRow).where(SimLicenseEventRow.user_id == change.user_id)
        )
        assert len(list(history)) == 1  # the tenant's own history agrees: one write


def test_a_throttled_read_waits_as_long_as_retry_after_says(sim: GraphSimulator, graph: Connection) -> None:
    sim.inject(FaultKind.THROTTLE, match="GET /subscribedSkus")
    assert E3 in graph.products()
    assert graph.fake.sleeps == [7.0]


def test_writes_throttled_without_retry_after_back_off_with_jitter(
    sim: GraphSimulator, graph: Connection
) -> None:
    change = replace_with(graph, "alice@contoso.com", E5)
    sim.inject(FaultKind.THROTTLE_NO_RETRY_AFTER, match="assignLicense", times=2)
    assert graph.directory.apply([change])[0].kind is OutcomeKind.APPLIED
    first, second = graph.fake.sleeps
    assert 0 <= first <= graph.config.backoff_base_seconds
    assert 0 <= second <= graph.config.backoff_base_seconds * 2
    assert sim.stats().writes_applied == {change.user_id: 1}


def test_writes_that_keep_failing_end_as_failed_not_as_an_exception(
    sim: GraphSimulator, fake: FakeTime
) -> None:
    graph = Connection(sim, fake, max_retries=2)
    change = replace_with(graph, "alice@contoso.com", E5)
    sim.inject(FaultKind.UNAVAILABLE, match="assignLicense", times=3)
    outcome = graph.directory.apply([change])[0]
    graph.client.close()
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.reason.startswith("Microsoft 365 could not be reached")
    assert sim.stats().total_writes_applied == 0


# The pacer against the simulator's quota


def _bulk_users(count: int) -> Prepare:
    def prepare(directory: SimulatedDirectory) -> None:
        directory.add_subscription(O365_E5, count)
        session = directory._session  # test setup: rows the demo tenant does not have
        for n in range(count):
            upn = f"bulk{n:03}@contoso.com"
            session.add(
                SimUserRow(
                    id=demo_user_id(upn),
                    user_principal_name=upn,
                    display_name=f"Bulk {n}",
                    mail=upn,
                    usage_location="US",
                    account_enabled=True,
                )
            )

    return prepare


def test_the_pacer_keeps_100_writes_under_a_20_per_second_quota_without_a_single_429(fake: FakeTime) -> None:
    tenant = new_tenant(_bulk_users(100))
    quota = WriteQuota(20, 1.0)
    with GraphSimulator(tenant, write_quota=quota, clock=fake.monotonic) as sim:
        graph = Connection(sim, fake, write_quota=quota)
        org, products = graph.directory.organization(), graph.products()
        users = graph.directory.users_with_product(E5)
        assert len(users) == 3
        bulk = [graph.user(f"bulk{n:03}@contoso.com") for n in range(100)]
        changes = [plan_user_change(ChangeKind.ASSIGN, u, products[E5], products, org) for u in bulk]
        started = fake.now
        outcomes = graph.directory.apply(changes)
        graph.client.close()
        stats = sim.stats()
    tenant.close()
    assert {o.kind for o in outcomes} == {OutcomeKind.APPLIED}
    assert stats.throttled == 0
    assert stats.total_writes_applied == 100
    assert fake.now - started == pytest.approx(4.0)  # 5 windows of 20: at 0, 1, 2, 3 and 4 s
    assert graph.pacer.stats().writes == 100


# Refusals without a simulated-tenant counterpart: graph-sim's rules of a real tenant, over HTTP


def test_a_product_not_sold_in_the_users_usage_location_is_refused_in_graphs_words(
    sim: GraphSimulator, graph: Connection
) -> None:
    sim.rules.prohibit(E5, "US")
    change = replace_with(graph, "alice@contoso.com", E5)
    sim.reset_stats()

    outcome = graph.directory.apply([change])[0]

    expected = ProhibitedInUsageLocation("Alice Wu", "US")
    assert (outcome.kind, outcome.reason, outcome.rule) == (OutcomeKind.FAILED, expected.message, "R4")
    assert sim.stats().writes_applied == {}
    assert graph.user("alice@contoso.com").licenses == change.before


def test_a_service_whose_dependency_is_turned_off_is_refused_naming_both_plans(
    sim: GraphSimulator, graph: Connection
) -> None:
    e5 = graph.products()[E5]
    teams, sway = e5.plan("TEAMS1"), e5.plan("SWAY")
    assert teams is not None
    assert sway is not None
    sim.rules.require(teams.id, sway.id)
    org, products = graph.directory.organization(), graph.products()
    change = plan_user_change(
        ChangeKind.REPLACE, graph.user("alice@contoso.com"), e5, products, org, turn_off=frozenset({sway.id})
    )

    outcome = graph.directory.apply([change])[0]

    detail = (
        "License assignment failed because service plan Microsoft Teams depends on the service plan(s) Sway."
    )
    expected = MissingServiceDependency("Alice Wu", detail)
    assert (outcome.kind, outcome.reason, outcome.rule) == (OutcomeKind.FAILED, expected.message, "R5")
    assert sim.stats().total_writes_applied == 0


def test_graph_sim_answers_a_dependency_in_graphs_own_words(sim: GraphSimulator, graph: Connection) -> None:
    e5 = graph.products()[E5]
    teams, sway = e5.plan("TEAMS1"), e5.plan("SWAY")
    assert teams is not None
    assert sway is not None
    sim.rules.require(teams.id, sway.id)
    body = {"addLicenses": [{"skuId": E5, "disabledPlans": [sway.id]}], "removeLicenses": [E3]}
    answer = httpx.post(
        f"{sim.api_url}/users/alice@contoso.com/assignLicense",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == (
        f"License assignment failed because service plan {teams.id} depends on the service plan(s) {sway.id}."
    )


# Licenses Microsoft 365 holds in an error state (licenseAssignmentStates)


def test_a_license_in_an_error_state_is_read_with_its_error(sim: GraphSimulator, graph: Connection) -> None:
    carol = graph.user("carol@contoso.com")
    sim.rules.set_assignment_error(carol.id, E3, "DependencyViolation")
    read = graph.user("carol@contoso.com")
    assert read.assignment_errors == (AssignmentError(E3, "DependencyViolation"),)
    assert [u.assignment_errors for u in graph.directory.users_with_product(E3) if u.id == carol.id] == [
        (AssignmentError(E3, "DependencyViolation"),)
    ]
    assert graph.user("alice@contoso.com").assignment_errors == ()  # "None" is no error


@pytest.mark.parametrize(
    ("error", "rule", "words"),
    [
        ("CountViolation", "R2", "Not enough Office 365 E5 licenses"),
        ("MutuallyExclusiveViolation", "R6", "a service in it is mutually exclusive with one of theirs"),
        ("DependencyViolation", "R5", "a service in it depends on another service"),
        ("ProhibitedInUsageLocationViolation", "R4", "it is not sold for use in US"),
    ],
)
def test_a_write_taken_but_held_in_an_error_state_fails_as_that_rule(
    sim: GraphSimulator, graph: Connection, error: str, rule: str, words: str
) -> None:
    sim.rules.writes_land_in_error(E5, error)
    change = replace_with(graph, "alice@contoso.com", E5)

    [outcome] = graph.directory.apply([change])

    assert (outcome.kind, outcome.rule) == (OutcomeKind.FAILED, rule)
    assert words in outcome.reason
    assert sim.stats().writes_applied == {change.user_id: 1}, "the write was taken, once"
    assert outcome.licenses == graph.user("alice@contoso.com").licenses


def test_a_write_answered_429_and_read_back_in_an_error_state_fails(
    sim: GraphSimulator, graph: Connection
) -> None:
    sim.rules.writes_land_in_error(E5, "ProhibitedInUsageLocationViolation")
    change = replace_with(graph, "alice@contoso.com", E5)
    sim.inject(FaultKind.APPLIED_THEN_THROTTLED, match="assignLicense")
    sim.reset_stats()

    [outcome] = graph.directory.apply([change])

    assert (outcome.kind, outcome.reason) == (
        OutcomeKind.FAILED,
        ProhibitedInUsageLocation("Alice Wu", "US").message,
    )
    assert sim.stats().writes_applied == {change.user_id: 1}


def test_a_state_error_on_a_product_the_change_does_not_write_does_not_fail_it(
    sim: GraphSimulator, graph: Connection
) -> None:
    alice = graph.user("alice@contoso.com")
    sim.rules.set_assignment_error(alice.id, E3, "CountViolation")
    products = graph.products()
    change = plan_user_change(
        ChangeKind.ASSIGN, alice, products[E5], products, graph.directory.organization()
    )
    [outcome] = graph.directory.apply([change])
    assert outcome.kind is OutcomeKind.APPLIED
    assert graph.user("alice@contoso.com").assignment_errors == (AssignmentError(E3, "CountViolation"),)


# A conflict pair the domain does not list (a fake transport: httpx's seam)


AMY = User("11111111-1111-1111-1111-111111111111", "amy@contoso.com", "Amy", usage_location="CU")


def _graph_answering(
    write_error: Mapping[str, str], products: Sequence[Mapping[str, Any]] = ()
) -> Connection:
    """Graph as a fake transport: Amy for every read, `write_error` for every write."""
    amy = {
        "id": AMY.id,
        "userPrincipalName": AMY.user_principal_name,
        "displayName": AMY.display_name,
        "usageLocation": AMY.usage_location,
        "assignedLicenses": [],
        "licenseAssignmentStates": [],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/subscribedSkus":
            return httpx.Response(200, json={"value": list(products)})
        responses = [
            {"id": r["id"], "status": 200, "body": amy}
            if r["method"] == "GET"
            else {"id": r["id"], "status": 400, "body": {"error": write_error}}
            for r in json.loads(request.content)["requests"]
        ]
        return httpx.Response(200, json={"responses": responses})

    return Connection(None, FakeTime(), transport=httpx.MockTransport(answer))


def test_a_conflict_pair_the_domain_does_not_list_is_named_from_graphs_words() -> None:
    e3 = DEMO_PRODUCTS[O365_E3]
    sway = next(p for p in e3.service_plans if p.name == "SWAY")
    teams = next(p for p in e3.service_plans if p.name == "TEAMS1")
    message = f"License assignment failed because service plans {sway.id},{teams.id} are mutually exclusive."
    e3_json = {
        "skuId": E3,
        "skuPartNumber": "ENTERPRISEPACK",
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": 1,
        "prepaidUnits": {"enabled": 5},
        "servicePlans": [
            {"servicePlanId": p.id, "servicePlanName": p.name, "appliesTo": "User"} for p in (sway, teams)
        ],
    }
    graph = _graph_answering({"code": "Request_BadRequest", "message": message}, [e3_json])
    outcome = graph.directory.apply([change_to(AMY, [LicenseAssignment(E3)])])[0]
    graph.client.close()
    expected = ServicePlanConflict("Amy", "Sway", "Office 365 E3", "Microsoft Teams", "Office 365 E3")
    assert (outcome.kind, outcome.reason, outcome.rule) == (OutcomeKind.FAILED, expected.message, "R6")


# Access and transport failures


def test_a_token_the_tenant_refuses_is_access_denied(tenant: DatabaseTenant, fake: FakeTime) -> None:
    with GraphSimulator(tenant, tokens={"the-right-token": "app-1"}) as sim:
        graph = Connection(sim, fake)
        with pytest.raises(GraphAccessDenied, match="Access token validation failure"):
            graph.directory.organization()
        graph.client.close()


def test_nobody_listening_is_directory_unavailable(fake: FakeTime) -> None:
    with GraphSimulator(DatabaseTenant(seed_demo=False)) as sim:
        url = sim.url
    config = GraphConfig(access_token=TOKEN, graph_url=url, max_retries=2)
    client = GraphClient(config, StaticTokenProvider(TOKEN), sleeper=fake.sleep)
    with pytest.raises(DirectoryUnavailable, match="no connection to Microsoft Graph"):
        GraphDirectory(client).organization()
    client.close()
    assert len(fake.sleeps) == 2


def test_the_token_never_reaches_the_logs(graph: Connection, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    graph.directory.apply([replace_with(graph, "alice@contoso.com", E5)])
    graph.directory.user("alice@contoso.com")
    assert caplog.records
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(graph.config)
    assert TOKEN not in repr(StaticTokenProvider(TOKEN))


# Token providers, offline


class FakeMsalApp:
    def __init__(self, result: Mapping[str, Any]) -> None:
        self.result = result
        self.calls: list[list[str]] = []

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]:
        self.calls.append(scopes)
        return self.result


class FakeMsal:
    """Stands in for `msal.ConfidentialClientApplication(client_id, client_credential, authority)`."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        self.app = FakeMsalApp(result)
        self.built: list[tuple[str, Any, str]] = []

    def __call__(self, client_id: str, credential: str | dict[str, str], authority: str) -> FakeMsalApp:
        self.built.append((client_id, credential, authority))
        return self.app


@pytest.mark.parametrize(
    ("cloud", "authority", "scope"),
    [
        (
            Cloud.WORLDWIDE,
            "https://login.microsoftonline.com/tenant-1",
            "https://graph.microsoft.com/.default",
        ),
        (
            Cloud.US_GOVERNMENT,
            "https://login.microsoftonline.us/tenant-1",
            "https://graph.microsoft.us/.default",
        ),
        (
            Cloud.CHINA,
            "https://login.chinacloudapi.cn/tenant-1",
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
    ],
)
def test_msal_asks_the_clouds_own_authority_for_its_graph_scope(
    cloud: Cloud, authority: str, scope: str
) -> None:
    msal = FakeMsal({"access_token": "from-msal", "expires_in": 3599})
    config = GraphConfig(tenant_id="tenant-1", client_id="app-1", client_secret="s3cret", cloud=cloud)
    provider = token_provider(config, msal)
    assert isinstance(provider, MsalTokenProvider)
    assert (provider.token(), provider.token()) == ("from-msal", "from-msal")
    assert msal.built == [("app-1", "s3cret", authority)]  # built once; msal caches the token
    assert msal.app.calls == [[scope], [scope]]
    assert "s3cret" not in repr(provider)
    assert "s3cret" not in repr(config)


def test_msal_with_a_certificate_reads_the_pem_and_passes_the_thumbprint(tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
    msal = FakeMsal({"access_token": "t"})
    config = GraphConfig(
        tenant_id="tenant-1",
        client_id="app-1",
        certificate=CertificateCredential(pem, "A1B2C3"),
        graph_url="http://127.0.0.1:9",
        authority_url="http://127.0.0.1:9/login",
    )
    assert MsalTokenProvider(config, msal).token() == "t"
    (_, credential, authority) = msal.built[0]
    assert credential == {"private_key": pem.read_text(), "thumbprint": "A1B2C3"}
    assert authority == "http://127.0.0.1:9/login/tenant-1"


def test_a_refused_sign_in_says_what_to_check_and_shows_no_secret() -> None:
    msal = FakeMsal(
        {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret.\nTrace"}
    )
    config = GraphConfig(tenant_id="t", client_id="c", client_secret="s3cret")
    with pytest.raises(GraphSignInFailed) as refused:
        MsalTokenProvider(config, msal).token()
    assert "invalid_client: AADSTS7000215: Invalid client secret." in refused.value.message
    assert "GRAPH_CLIENT_ID" in refused.value.message
    assert "s3cret" not in refused.value.message


def test_a_given_access_token_is_used_as_is() -> None:
    assert isinstance(token_provider(GraphConfig(access_token=" tok ")), StaticTokenProvider)
    assert StaticTokenProvider(" tok ").token() == "tok"
    with pytest.raises(ValueError, match="empty"):
        StaticTokenProvider("  ")


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"access_token": "t", "client_secret": "s", "tenant_id": "t", "client_id": "c"},
        {"client_secret": "s"},
    ],
)
def test_exactly_one_credential_is_configured(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"credential|tenant id"):
        GraphConfig(**settings)


def test_a_write_refused_because_another_writer_got_there_first_is_done_not_failed(
    sim: GraphSimulator, graph: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed with its write still in flight; the one resuming its work read the user a
    moment before that write landed. Its own write is then refused: the user is done, not failed."""
    change = replace_with(graph, "alice@contoso.com", E5)
    before_the_landing = graph.directory._read_users([change.user_id])
    assert graph.directory.apply([change])[0].kind is OutcomeKind.APPLIED  # the dead process's write
    reads = iter([before_the_landing])
    real_read = graph.directory._read_users
    monkeypatch.setattr(graph.directory, "_read_users", lambda ids: next(reads, None) or real_read(ids))
    sim.reset_stats()

    [outcome] = graph.directory.apply([change], verify=True)

    assert sim.stats().total_writes_applied == 0, "the late write was refused, not applied twice"
    assert outcome.kind is OutcomeKind.ALREADY_APPLIED, outcome.reason
    assert {lic.sku_id for lic in outcome.licenses} == {E5}


def test_graph_is_never_called_while_a_unit_of_work_is_open(graph: Connection) -> None:
    """DESIGN.md §5: the client refuses before anything is sent; the services call it between
    transactions only (the whole suite runs with this guard)."""
    sent = graph.client.stats().http_requests
    transactions.opened()
    try:
        with pytest.raises(RemoteCallInTransaction, match="Microsoft Graph"):
            graph.directory.user("alice@contoso.com")
        with pytest.raises(RemoteCallInTransaction):
            graph.directory.users_by_id([demo_user_id("alice@contoso.com")])
    finally:
        transactions.closed()
    assert graph.client.stats().http_requests == sent, "nothing reached Graph"
    assert graph.directory.users_by_id([demo_user_id("alice@contoso.com")])[demo_user_id("alice@contoso.com")]


def test_members_of_a_group_whose_product_is_not_sold_in_their_location_are_in_error(
    sim: GraphSimulator, graph: Connection
) -> None:
    """R21 over Graph: a group's product not offered in the members' usage location leaves them in
    ProhibitedInUsageLocationViolation; `membersWithLicenseErrors` lists them; the rest is unchanged."""
    group = demo_group_id("allstaffe3")
    sim.rules.prohibit(E3, "US")
    in_error = graph.directory.members_with_license_errors(group)
    assert sorted(u.user_principal_name for u in in_error) == [
        f"{who}@contoso.com" for who in ("ivan", "judy", "yara", "zoe")
    ]
    ivan = graph.user("ivan@contoso.com")
    assert [(s.group_id, s.error) for s in ivan.states] == [(group, "ProhibitedInUsageLocationViolation")]
    assert ivan.licenses == ()
    judy = graph.user("judy@contoso.com")
    assert judy.licenses == (LicenseAssignment(E3),), "she keeps her direct assignment"
    assert graph.user("alice@contoso.com").states == ()
