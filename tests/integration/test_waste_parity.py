"""What waste needs of the tenant (R22), the same on both backends: the simulated tenant (on its own
sessions, as the services get it) and Microsoft Graph over HTTP to graph-sim on the same database.

Users are read a page at a time (`user_pages`): disabled accounts, holders of a product, the
licensed; with sign-ins, when each account was created and last signed in (the latest of the
interactive and non-interactive sign-ins), refused with the reason in a tenant without Entra ID P1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain import transactions
from domain.errors import SignInActivityUnavailable
from domain.model import User
from domain.ports import TenantDirectory, UserQuery
from domain.transactions import RemoteCallInTransaction
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, SimulatedTenant
from storage.simulated.products import BUSINESS_PREMIUM, DEMO_PRODUCTS, O365_E3
from tests.fakes import FixedClock
from tests.integration.demo_catalog import DEMO_CATALOG

E3 = DEMO_PRODUCTS[O365_E3].sku_id
SPB = DEMO_PRODUCTS[BUSINESS_PREMIUM].sku_id
TOKEN = "waste-token"


@pytest.fixture(params=["simulated", "graph"])
def directory(
    request: pytest.FixtureRequest, seeded: sessionmaker[Session], engine: Engine, clock: FixedClock
) -> Iterator[TenantDirectory]:
    if request.param == "simulated":
        yield SimulatedTenant(seeded, clock)
        return
    tenant = DatabaseTenant(engine=engine, seed_demo=False, clock=clock)
    with GraphSimulator(tenant, page_size=4) as sim:
        client = GraphClient(
            GraphConfig(access_token=TOKEN, graph_url=sim.url, pacing_margin_seconds=0.0),
            StaticTokenProvider(TOKEN),
        )
        yield GraphDirectory(client, catalog=DEMO_CATALOG)
        client.close()


def every(directory: TenantDirectory, query: UserQuery) -> list[User]:
    return [user for page in directory.user_pages(query) for user in page]


def names(users: list[User]) -> list[str]:
    return sorted(user.user_principal_name.partition("@")[0] for user in users)


def test_disabled_accounts_holding_licenses_are_read(directory: TenantDirectory) -> None:
    disabled = every(directory, UserQuery(enabled=False, licensed=True))

    assert names(disabled) == ["victor", "xena"]
    assert {lic.sku_id for user in disabled for lic in user.licenses} == {E3, SPB}


def test_pages_cover_every_user_once(directory: TenantDirectory) -> None:
    users = every(directory, UserQuery())
    licensed = every(directory, UserQuery(licensed=True))
    holders = every(directory, UserQuery(sku_id=E3))

    assert len(users) == len({user.id for user in users}) == 28
    assert names(licensed) == sorted(n for n in names(users) if n != "nora")
    assert names(holders) == names(directory.users_with_product(E3))
    assert all(user.last_sign_in is None for user in users)  # not asked for


def test_sign_ins_give_the_latest_of_interactive_and_background(
    directory: TenantDirectory, clock: FixedClock
) -> None:
    now = clock.now()
    users = {
        user.user_principal_name.partition("@")[0]: user
        for user in every(directory, UserQuery(sign_ins=True))
    }

    assert users["judy"].last_sign_in == now - timedelta(days=120)
    assert users["heidi"].last_sign_in == now - timedelta(days=3)  # her apps, not herself
    assert users["yara"].last_sign_in is None
    assert users["yara"].created == now - timedelta(days=200)


def test_sign_ins_are_refused_without_entra_id_p1(
    directory: TenantDirectory, seeded: sessionmaker[Session], clock: FixedClock
) -> None:
    with seeded.begin() as session:
        SimulatedDirectory(session, clock).set_sign_in_activity(False)

    with pytest.raises(SignInActivityUnavailable) as refused:
        every(directory, UserQuery(sign_ins=True))

    assert "Microsoft Entra ID P1" in refused.value.message
    assert "AuditLog.Read.All" in refused.value.message
    assert names(every(directory, UserQuery(enabled=False, licensed=True))) == ["victor", "xena"]


def test_a_page_is_never_read_inside_a_transaction(directory: TenantDirectory) -> None:
    pages = directory.user_pages(UserQuery())
    transactions.opened()
    try:
        with pytest.raises(RemoteCallInTransaction):
            next(pages)
    finally:
        transactions.closed()
