"""The preview of a group change predicts who ends in error for a product not offered in their
country or region, or for a service that needs another one (R21), and Microsoft 365's processing
agrees: on the simulated tenant and through Graph against graph-sim, on SQLite and PostgreSQL.

Each change is previewed, confirmed and processed; the members the preview says will end in error
are exactly those Microsoft 365 (the simulated tenant, or graph-sim serving it) lists in
`membersWithLicenseErrors`, with the error the preview explained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.application.use_cases import LicenseUseCases
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeSet
from domain.commands import ChangeGroupLicense, ConfirmChange
from domain.group_licensing import GroupPreview
from domain.model import LicenseAssignment
from domain.ports import TenantDirectory
from storage.catalog_file import load_product_table
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_user_id
from storage.simulated.products import AUDIO_CONFERENCING, DEMO_PRODUCTS, O365_E3
from storage.simulated.seed import user_row
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock

LENA = "lena@contoso.com"
TOKEN = "group-constraints"


@pytest.fixture
def catalog(reference_dir: Path) -> ProductCatalog:
    return ProductCatalog(load_product_table(reference_dir / "m365-product-service-plans.csv"))


@pytest.fixture(params=["simulated", "graph"])
def backend(
    request: pytest.FixtureRequest,
    engine: Engine,
    seeded: sessionmaker[Session],
    clock: FixedClock,
    catalog: ProductCatalog,
) -> Iterator[TenantDirectory]:
    """The tenant as licensebot reads it: the simulated one, or Graph served by graph-sim over it
    (product names from Microsoft's table, as `PRODUCT_TABLE_PATH` gives them)."""
    if request.param == "simulated":
        yield SimulatedTenant(seeded, clock)
        return
    with GraphSimulator(
        DatabaseTenant(engine=engine, seed_demo=False, clock=clock), tokens={TOKEN: "lb"}
    ) as sim:
        client = GraphClient(GraphConfig(access_token=TOKEN, graph_url=sim.url), StaticTokenProvider(TOKEN))
        try:
            yield GraphDirectory(client, catalog=catalog)
        finally:
            client.close()


@contextmanager
def tenant(seeded: sessionmaker[Session], clock: FixedClock) -> Iterator[tuple[Session, SimulatedDirectory]]:
    """The simulated tenant as its admins set it up (in the admin center)."""
    with seeded.begin() as session:
        yield session, SimulatedDirectory(session, clock)


def change(
    licenses: LicenseUseCases, kind: ChangeKind, group: str, product: str
) -> tuple[GroupPreview, ChangeSet]:
    """The group change previewed, then confirmed (processed at once: no delay in these groups)."""
    preview = licenses.groups.plan_group_change(ChangeGroupLicense(kind, LENA, group, product))
    predicted = GroupPreview.from_json(preview.details or {})
    return predicted, licenses.changes.confirm(ConfirmChange(preview.id, LENA))


def in_error(directory: TenantDirectory, group_name: str) -> dict[str, set[tuple[str, str]]]:
    """Member → {(product, error)} as Microsoft 365 holds it after processing."""
    [group] = directory.find_groups(group_name)
    names = {p.sku_id: p.display_name for p in directory.products()}
    return {
        user.display_name: {
            (names.get(state.sku_id, state.sku_id), state.error)
            for state in user.states
            if state.group_id == group.id and state.in_error
        }
        for user in directory.members_with_license_errors(group.id)
    }


def predicted_errors(preview: GroupPreview) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for member, product, _problem, _fix in preview.errors:
        found.setdefault(member, set()).add(product)
    return found


def test_a_product_not_offered_in_a_members_country_is_predicted_and_happens(
    backend: TenantDirectory, seeded: sessionmaker[Session], clock: FixedClock, catalog: ProductCatalog
) -> None:
    calling = catalog.known("MCOPSTN1")
    assert calling is not None
    with tenant(seeded, clock) as (session, directory):
        directory.add_subscription(calling, 10)
        session.add(user_row("priya@contoso.com", "Priya Rao", usage_location="IN"))
        session.add(user_row("noel@contoso.com", "Noel Kim", usage_location=None))
        session.flush()
        members = [demo_user_id(f"{a}@contoso.com") for a in ("priya", "noel", "alice")]
        directory.groups.add("Callers", members=members, processing_delay=timedelta(0))
    licenses = LicenseUseCases.build(SqlUnitOfWorkFactory(seeded), backend, clock, catalog)

    preview, done = change(licenses, ChangeKind.ASSIGN, "Callers", "MCOPSTN1")

    [(member, product, problem, fix)] = preview.errors
    assert (member, product) == ("Priya Rao", calling.display_name)
    assert problem == f"{calling.display_name} is not offered in their country or region (IN)"
    assert "usage location" in fix
    assert "ProhibitedInUsageLocation" not in problem + fix, "in the admin's words"
    # Noel has no usage location: he takes the organization's (US), where it is offered.
    assert preview.no_location == ["Noel Kim"]
    assert preview.country == "US"
    assert set(preview.gains) == {("Noel Kim", calling.display_name), ("Alice Wu", calling.display_name)}
    assert done.items[0].status.value == "applied"
    assert in_error(backend, "Callers") == {
        "Priya Rao": {(calling.display_name, "ProhibitedInUsageLocationViolation")}
    }
    assert predicted_errors(preview) == {
        m: {p for p, _ in e} for m, e in in_error(backend, "Callers").items()
    }


def test_services_that_need_another_one_are_predicted_and_happen_on_add_and_on_removal(
    backend: TenantDirectory, seeded: sessionmaker[Session], clock: FixedClock, catalog: ProductCatalog
) -> None:
    audio = DEMO_PRODUCTS[AUDIO_CONFERENCING].display_name
    e3 = DEMO_PRODUCTS[O365_E3]
    with tenant(seeded, clock) as (session, directory):
        # Samuel holds Audio Conferencing directly, and Microsoft Teams only from the group Staff (E3).
        session.add(user_row("samuel@contoso.com", "Samuel Lee", [AUDIO_CONFERENCING]))
        session.add(user_row("noel@contoso.com", "Noel Kim"))
        session.flush()
        sam, noel, alice = (demo_user_id(f"{a}@contoso.com") for a in ("samuel", "noel", "alice"))
        directory.groups.add(
            "Staff",
            members=[sam, alice],
            licenses=[LicenseAssignment(e3.sku_id)],
            processing_delay=timedelta(0),
        )
        directory.groups.add("Dial-in", members=[noel, alice, sam], processing_delay=timedelta(0))
    licenses = LicenseUseCases.build(SqlUnitOfWorkFactory(seeded), backend, clock, catalog)

    # An add-on without its prerequisite: Noel would get Audio Conferencing with no Teams.
    preview, _ = change(licenses, ChangeKind.ASSIGN, "Dial-in", AUDIO_CONFERENCING)
    errors = {(m, p): (problem, fix) for m, p, problem, fix in preview.errors}
    assert set(errors) == {("Noel Kim", audio)}, "Alice has Teams (E3), and so has Samuel (from Staff)"
    problem, fix = errors["Noel Kim", audio]
    assert problem == (
        f"Microsoft 365 Audio Conferencing in {audio} needs Microsoft Teams or Skype for Business "
        "Online (Plan 2), which they do not have"
    )
    assert fix.startswith("Give Noel Kim a license with Microsoft Teams or Skype for Business Online")
    assert "DependencyViolation" not in problem + fix, "in the admin's words"
    actual = in_error(backend, "Dial-in")
    assert actual == {"Noel Kim": {(audio, "DependencyViolation")}}
    assert predicted_errors(preview) == {m: {p for p, _ in e} for m, e in actual.items()}

    # Removing what another product's service needs: Samuel's Audio Conferencing needs E3's Teams.
    preview, _ = change(licenses, ChangeKind.REMOVE, "Staff", "E3")
    [(member, product, problem, fix)] = preview.errors
    assert (member, product) == ("Samuel Lee", e3.display_name)
    assert problem.startswith(f"Microsoft 365 Audio Conferencing in their {audio} needs ")
    assert f"which only {e3.display_name} from this group gives them" in problem
    assert fix.startswith(f"Remove {audio} from Samuel Lee first")
    assert "Alice Wu loses" not in str(preview.loses), "she has E3 directly too"
    actual = in_error(backend, "Staff")
    assert actual == {"Samuel Lee": {(e3.display_name, "DependencyViolation")}}
    assert predicted_errors(preview) == {m: {p for p, _ in e} for m, e in actual.items()}
