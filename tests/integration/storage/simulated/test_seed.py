"""The Contoso demo tenant: who holds what, who may do what, and seats that make the demo work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import ProductCatalog
from domain.errors import AmbiguousProduct
from domain.model import AdminRole, CapabilityStatus, LicenseAssignment
from domain.rules import find_conflict
from storage.orm import SimLicenseEventRow, SimUserRow
from storage.simulated import (
    SimulatedDirectory,
    demo_user_id,
    reset_demo_tenant,
    show_user_json,
    tenant_is_empty,
)
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from tests.fakes import FixedClock

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id


def test_alice_and_bob_hold_office_365_e3(directory: SimulatedDirectory) -> None:
    """So that `/license replace @alice E5` is the first thing to try."""
    for key, name in (("alice@contoso.com", "Alice Wu"), ("bob@contoso.com", "Bob Smith")):
        user = directory.user(key)
        assert user is not None
        assert user.display_name == name
        assert user.licenses == (LicenseAssignment(E3),)
        assert user.id == demo_user_id(key)


def test_nora_has_no_usage_location_and_no_license(directory: SimulatedDirectory) -> None:
    nora = directory.user("nora@contoso.com")
    assert nora is not None
    assert nora.display_name == "Nora Lee"
    assert nora.usage_location is None
    assert nora.licenses == ()


def test_admins_hold_the_roles_of_r16(directory: SimulatedDirectory) -> None:
    expected = {
        "grace@contoso.com": {AdminRole.GLOBAL},
        "bill@contoso.com": {AdminRole.BILLING},
        "beatrice@contoso.com": {AdminRole.BILLING},
        "lena@contoso.com": {AdminRole.LICENSE},
        "uma@contoso.com": {AdminRole.USER},
        "dave@contoso.com": set(),
    }
    for key, roles in expected.items():
        user = directory.user(key)
        assert user is not None, key
        assert directory.admin_roles(user.id) == roles, key


def test_about_25_people_on_contoso_two_disabled_still_holding_licenses(
    directory: SimulatedDirectory,
) -> None:
    users = directory.users()
    assert 24 <= len(users) <= 28
    assert all(u.user_principal_name.endswith("@contoso.com") for u in users)
    disabled = [u for u in users if not u.account_enabled]
    assert [u.user_principal_name for u in disabled] == ["victor@contoso.com", "xena@contoso.com"]
    assert all(u.licenses for u in disabled)  # reclaimable (R22)
    assert len({u.id for u in users}) == len(users)


def test_an_active_subscription_renews_within_two_weeks_with_seats_unused(
    directory: SimulatedDirectory, clock: FixedClock
) -> None:
    products = {p.sku_id: p for p in directory.products()}
    soon = [
        (s.part_number, products[s.sku_id].seats.available)
        for s in directory.subscriptions()
        if s.status.is_active
        and s.next_lifecycle is not None
        and s.next_lifecycle - clock.now() <= timedelta(days=14)
    ]
    assert soon == [("DESKLESSPACK", 3)]  # R22: the renewal alert has something to show


def test_seats_are_consistent_and_leave_room_for_one_replace_but_not_a_bulk_move(
    directory: SimulatedDirectory,
) -> None:
    products = {p.part_number: p for p in directory.products()}
    for product in products.values():
        if product.capability_status is CapabilityStatus.ENABLED:
            assert product.seats.consumed <= product.seats.enabled, product.part_number
    e5 = products[O365_E5].seats
    e3_holders = len(directory.users_with_product(E3))
    assert 0 < e5.available < e3_holders


def test_nobody_holds_exclusive_service_plans(directory: SimulatedDirectory) -> None:
    products = {p.sku_id: p for p in directory.products()}
    for user in directory.users():
        find_conflict(user, user.licenses, products)


def test_e5_and_e3_are_unambiguous_aliases_in_the_demo(directory: SimulatedDirectory) -> None:
    catalog = ProductCatalog()
    assert catalog.resolve("E5", directory.products()).part_number == "ENTERPRISEPREMIUM"
    assert catalog.resolve("E3", directory.products()).part_number == "ENTERPRISEPACK"
    assert catalog.resolve("Business Premium", directory.products()).part_number == "SPB"
    assert catalog.resolve("audio conferencing", directory.products()).part_number == "MCOMEETADV"


def test_the_aliases_would_be_ambiguous_with_microsoft_365_e5_too(directory: SimulatedDirectory) -> None:
    """Why the demo leaves SPE_E5 out: with both, "E5" is a question."""
    m365_e5 = next(p for p in directory.products() if p.part_number == O365_E5)
    twin = type(m365_e5)(
        sku_id="06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        part_number="SPE_E5",
        display_name="Microsoft 365 E5",
        service_plans=(),
        seats=m365_e5.seats,
    )
    with pytest.raises(AmbiguousProduct):
        ProductCatalog().resolve("E5", [*directory.products(), twin])


def test_reset_recreates_the_same_tenant_and_forgets_the_history(
    seeded: sessionmaker[Session], clock: FixedClock
) -> None:
    with seeded.begin() as session:
        directory = SimulatedDirectory(session, clock)
        directory.assign_license("alice@contoso.com", [LicenseAssignment(E5)], [E3])
        first = [u for u in directory.users() if u.user_principal_name != "alice@contoso.com"]

    with seeded.begin() as session:
        reset_demo_tenant(session, clock)

    with seeded() as session:
        directory = SimulatedDirectory(session, clock)
        alice = directory.user("alice@contoso.com")
        assert alice is not None
        assert alice.licenses == (LicenseAssignment(E3),)
        assert [u for u in directory.users() if u.user_principal_name != "alice@contoso.com"] == first
        assert session.scalar(select(func.count()).select_from(SimLicenseEventRow)) == 0
        assert session.scalar(select(func.count()).select_from(SimUserRow)) == len(directory.users())


def test_tenant_is_empty(sessions: sessionmaker[Session], clock: FixedClock) -> None:
    with sessions.begin() as session:
        assert tenant_is_empty(session)
        reset_demo_tenant(session, clock)
        assert not tenant_is_empty(session)


def test_show_user_json_reads_like_graph(session: Session) -> None:
    carol = show_user_json(session, "Carol@Contoso.com")

    assert carol is not None
    assert carol["userPrincipalName"] == "carol@contoso.com"
    assert carol["usageLocation"] == "US"
    assert carol["accountEnabled"] is True
    [license_] = carol["assignedLicenses"]
    assert license_["skuId"] == E3
    assert license_["skuPartNumber"] == "ENTERPRISEPACK"
    assert license_["displayName"] == "Office 365 E3"
    assert license_["disabledPlanNames"] == ["SWAY", "YAMMER_ENTERPRISE"]
    assert len(license_["disabledPlans"]) == 2
    assert carol["directoryRoles"] == []


def test_show_user_json_for_an_admin_and_for_nobody(session: Session) -> None:
    lena = show_user_json(session, "lena@contoso.com")
    assert lena is not None
    assert lena["directoryRoles"] == ["License Administrator"]
    nora = show_user_json(session, "nora@contoso.com")
    assert nora is not None
    assert nora["usageLocation"] is None
    assert nora["assignedLicenses"] == []
    assert show_user_json(session, "nobody@contoso.com") is None


def test_reset_in_a_session_that_already_holds_tenant_rows(session: Session, clock: FixedClock) -> None:
    directory = SimulatedDirectory(session, clock)
    directory.assign_license("alice@contoso.com", [LicenseAssignment(E5)], [E3])

    reset_demo_tenant(session, clock)
    session.commit()

    alice = directory.user("alice@contoso.com")
    assert alice is not None
    assert alice.licenses == (LicenseAssignment(E3),)
