"""The simulated tenant behind `TenantDirectory`, on SQLite and PostgreSQL: seats (R2), refusals
(R3, R4, R6) as FAILED outcomes, one write per user (R7), the apply contract, and the commerce surface."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.catalog import KnownPlan, KnownProduct, ProductCatalog
from domain.changes import ChangeKind, ChangeOutcome, OutcomeKind, UserChange, plan_user_change
from domain.errors import DomainError, NothingToChange, UnknownServicePlan, UnknownUser
from domain.model import (
    AdminRole,
    CapabilityStatus,
    LicenseAssignment,
    PaymentMethod,
    Product,
    Seats,
    SubscriptionStatus,
    User,
)
from storage.orm import SimLicenseEventRow
from storage.simulated import SimulatedDirectory, demo_subscription_id, demo_user_id
from storage.simulated.products import (
    AUDIO_CONFERENCING,
    DEMO_PRODUCTS,
    EXTRA_FILE_STORAGE,
    O365_E3,
    O365_E4,
    O365_E5,
    O365_F3,
)
from tests.fakes import FixedClock

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E4 = DEMO_PRODUCTS[O365_E4].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
F3 = DEMO_PRODUCTS[O365_F3].sku_id
STORAGE = DEMO_PRODUCTS[EXTRA_FILE_STORAGE].sku_id
AUDIO = DEMO_PRODUCTS[AUDIO_CONFERENCING].sku_id


def plan(part: str, name: str) -> str:
    return next(p.id for p in DEMO_PRODUCTS[part].service_plans if p.name == name)


def product(directory: SimulatedDirectory, sku_id: str) -> Product:
    return next(p for p in directory.products() if p.sku_id == sku_id)


def user(directory: SimulatedDirectory, key: str) -> User:
    found = directory.user(key)
    assert found is not None, key
    return found


def plan_change(directory: SimulatedDirectory, kind: ChangeKind, alias: str, sku_id: str) -> UserChange:
    products = {p.sku_id: p for p in directory.products()}
    return plan_user_change(
        kind, user(directory, alias), products[sku_id], products, directory.organization()
    )


def events(session: Session) -> list[SimLicenseEventRow]:
    return list(session.scalars(select(SimLicenseEventRow).order_by(SimLicenseEventRow.seq)))


def skus(licenses: list[dict[str, Any]]) -> set[str]:
    return {item["skuId"] for item in licenses}


# --- reads ---------------------------------------------------------------------------------------


def test_seats_come_from_enabled_subscriptions_and_holders(directory: SimulatedDirectory) -> None:
    """R2: enabled = Enabled subscriptions, warning = those in grace, consumed = holders."""
    assert product(directory, E3).seats == Seats(enabled=25, consumed=14, warning=5)
    assert product(directory, E3).capability_status is CapabilityStatus.ENABLED
    assert product(directory, E5).seats == Seats(enabled=10, consumed=3)
    assert product(directory, E5).seats.available == 7
    storage = product(directory, STORAGE)
    assert storage.seats == Seats(enabled=0, consumed=0, suspended=10)
    assert storage.capability_status is CapabilityStatus.SUSPENDED
    assert storage.applies_to == "Company"


def test_products_carry_their_real_service_plans(directory: SimulatedDirectory) -> None:
    e5 = product(directory, E5)
    assert e5.part_number == "ENTERPRISEPREMIUM"
    assert e5.display_name == "Office 365 E5"
    assert e5.plan("MCOMEETADV") is not None
    assert e5.plan("Sway") is not None
    search = e5.plan("MICROSOFT_SEARCH")
    assert search is not None
    assert search.automatic  # R5: applies to the company, comes with the license


def test_users_are_found_by_id_upn_or_mail_in_any_case(directory: SimulatedDirectory) -> None:
    alice_id = demo_user_id("alice@contoso.com")
    assert user(directory, alice_id).user_principal_name == "alice@contoso.com"
    assert user(directory, alice_id.upper()).id == alice_id
    assert user(directory, "ALICE@contoso.com").id == alice_id
    assert user(directory, " alice@CONTOSO.com ").display_name == "Alice Wu"
    assert directory.user("nobody@contoso.com") is None
    assert directory.user("") is None


def test_users_with_product(directory: SimulatedDirectory) -> None:
    holders = directory.users_with_product(E4)
    assert [u.user_principal_name for u in holders] == [
        "ken@contoso.com",
        "mike@contoso.com",
        "oscar@contoso.com",
        "peggy@contoso.com",
        "wendy@contoso.com",
    ]
    assert [u.user_principal_name for u in directory.users_with_product(AUDIO)] == [
        "ken@contoso.com",
        "mike@contoso.com",
        "oscar@contoso.com",
    ]


def test_admin_roles_come_from_role_template_ids(directory: SimulatedDirectory) -> None:
    assert directory.admin_roles(demo_user_id("grace@contoso.com")) == {AdminRole.GLOBAL}
    assert directory.admin_roles(demo_user_id("lena@contoso.com")) == {AdminRole.LICENSE}
    assert directory.admin_roles(demo_user_id("dave@contoso.com")) == frozenset()
    assert directory.admin_roles("not-a-user") == frozenset()


def test_organization(directory: SimulatedDirectory) -> None:
    org = directory.organization()
    assert org.display_name == "Contoso"
    assert org.verified_domains == {"contoso.com", "contoso.onmicrosoft.com"}
    assert org.default_domain == "contoso.com"
    assert org.country_code == "US"
    assert org.cloud.value == "worldwide"


# --- apply: the port's contract ------------------------------------------------------------------


def test_replace_is_one_write_per_user_from_e3_to_e5(directory: SimulatedDirectory, session: Session) -> None:
    """R7: the user goes from E3 to E5 in one event; never through an empty set of licenses."""
    change = plan_change(directory, ChangeKind.REPLACE, "alice@contoso.com", E5)

    [outcome] = directory.apply([change])

    assert outcome.kind is OutcomeKind.APPLIED
    assert outcome.licenses == (LicenseAssignment(E5),)
    assert user(directory, "alice@contoso.com").licenses == (LicenseAssignment(E5),)
    [event] = events(session)
    assert event.user_id == demo_user_id("alice@contoso.com")
    assert skus(event.before) == {E3}
    assert skus(event.after) == {E5}
    assert event.request_id
    assert product(directory, E5).seats.consumed == 4
    assert product(directory, E3).seats.consumed == 13


def test_a_change_already_made_is_not_written_again(directory: SimulatedDirectory, session: Session) -> None:
    change = plan_change(directory, ChangeKind.REPLACE, "alice@contoso.com", E5)
    directory.apply([change])

    [again] = directory.apply([change])
    [verified] = directory.apply([change], verify=True)

    assert again.kind is OutcomeKind.ALREADY_APPLIED
    assert again.succeeded
    assert verified.kind is OutcomeKind.ALREADY_APPLIED
    assert len(events(session)) == 1


def test_a_user_changed_by_someone_else_is_a_conflict(
    directory: SimulatedDirectory, session: Session
) -> None:
    change = plan_change(directory, ChangeKind.REPLACE, "bob@contoso.com", E5)
    directory.assign_license("bob@contoso.com", [LicenseAssignment(AUDIO)], [])  # someone else's write

    [outcome] = directory.apply([change])

    assert outcome.kind is OutcomeKind.CONFLICT
    assert "changed since the preview" in outcome.reason
    assert outcome.licenses == tuple(
        sorted([LicenseAssignment(E3), LicenseAssignment(AUDIO)], key=lambda lic: lic.sku_id)
    )
    assert len(events(session)) == 1  # only the other write


def test_verify_writes_what_was_not_written_and_skips_what_was(
    directory: SimulatedDirectory, session: Session
) -> None:
    """After a crash mid-batch: some users were written, some not; verify sorts them out."""
    alice = plan_change(directory, ChangeKind.REPLACE, "alice@contoso.com", E5)
    bob = plan_change(directory, ChangeKind.REPLACE, "bob@contoso.com", E5)
    directory.apply([alice])

    outcomes = directory.apply([alice, bob], verify=True)

    assert [o.kind for o in outcomes] == [OutcomeKind.ALREADY_APPLIED, OutcomeKind.APPLIED]
    assert [o.user_id for o in outcomes] == [alice.user_id, bob.user_id]
    assert [e.user_id for e in events(session)] == [alice.user_id, bob.user_id]


def test_seats_run_out_mid_batch_and_the_rest_fail_with_r2(
    directory: SimulatedDirectory, session: Session
) -> None:
    """R2: 11 users with E3 assigned directly (3 more get it only from a group, R21), 7 free E5 seats.
    Each write takes a seat; the 8th finds none."""
    changes = [
        plan_change(directory, ChangeKind.REPLACE, u.user_principal_name, E5)
        for u in directory.users_with_product(E3)
        if not u.only_inherited(E3)
    ]

    outcomes = directory.apply(changes)

    kinds = [o.kind for o in outcomes]
    assert kinds == [OutcomeKind.APPLIED] * 7 + [OutcomeKind.FAILED] * 4
    failed = outcomes[-1]
    assert failed.rule == "R2"
    assert failed.reason.startswith("Not enough Office 365 E5 licenses: need 1, 0 free.")
    assert product(directory, E5).seats == Seats(enabled=10, consumed=10)
    written = events(session)
    assert len(written) == 7
    assert all(skus(e.before) == {E3} and skus(e.after) == {E5} for e in written)
    session.commit()  # refusals left the transaction healthy


def test_a_product_for_the_company_is_refused_with_r3(
    directory: SimulatedDirectory, session: Session
) -> None:
    alice = user(directory, "alice@contoso.com")
    change = UserChange(
        alice.id,
        alice.user_principal_name,
        alice.display_name,
        alice.licenses,
        (*alice.licenses, LicenseAssignment(STORAGE)),
    )

    [outcome] = directory.apply([change])

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.rule == "R3"
    assert "applies to the company, not to users" in outcome.reason
    assert events(session) == []


def test_a_user_without_usage_location_is_refused_with_r4(
    directory: SimulatedDirectory, session: Session
) -> None:
    nora = user(directory, "nora@contoso.com")
    change = UserChange(nora.id, nora.user_principal_name, nora.display_name, (), (LicenseAssignment(E5),))

    [outcome] = directory.apply([change])

    assert outcome == ChangeOutcome(
        nora.id,
        OutcomeKind.FAILED,
        "Nora Lee has no usage location, and Microsoft 365 assigns no license without one. Set it in "
        "the admin center (Users > Active users > the user > Usage location) to a two-letter country "
        "code such as US or NL, then try again.",
        "R4",
    )
    assert events(session) == []


def test_exclusive_service_plans_are_refused_with_r6(directory: SimulatedDirectory, session: Session) -> None:
    """Quinn holds F3 (MCOIMP); E3 brings MCOSTANDARD."""
    quinn = user(directory, "quinn@contoso.com")
    after = (*quinn.licenses, LicenseAssignment(E3))
    change = UserChange(quinn.id, quinn.user_principal_name, quinn.display_name, quinn.licenses, after)

    [outcome] = directory.apply([change])

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.rule == "R6"
    assert "Skype for Business Online (Plan 1)" in outcome.reason, "MCOIMP, by the name Microsoft gives it"
    assert "Skype for Business Online (Plan 2)" in outcome.reason
    assert "Office 365 F3" in outcome.reason
    assert events(session) == []


def test_turning_the_conflicting_plan_off_is_allowed(directory: SimulatedDirectory) -> None:
    """R6's fix: turn MCOSTANDARD off in E3 and the assignment goes through."""
    quinn = user(directory, "quinn@contoso.com")
    e3 = LicenseAssignment(E3, frozenset({plan(O365_E3, "MCOSTANDARD")}))
    change = UserChange(
        quinn.id, quinn.user_principal_name, quinn.display_name, quinn.licenses, (*quinn.licenses, e3)
    )

    [outcome] = directory.apply([change])

    assert outcome.kind is OutcomeKind.APPLIED


def test_an_unknown_user_fails_without_a_write(directory: SimulatedDirectory, session: Session) -> None:
    change = UserChange("missing-id", "gone@contoso.com", "Gone", (), (LicenseAssignment(E5),))
    [outcome] = directory.apply([change])
    assert outcome.kind is OutcomeKind.FAILED
    assert "gone@contoso.com" in outcome.reason
    assert events(session) == []


# --- assignLicense --------------------------------------------------------------------------------


def test_services_are_turned_off_without_taking_a_seat(directory: SimulatedDirectory) -> None:
    """R5: changing disabled plans of a held product needs no free seat."""
    sway = plan(O365_E3, "SWAY")
    directory.set_seats(demo_subscription_id("e3"), 14)  # every E3 seat taken

    updated = directory.assign_license("alice@contoso.com", [LicenseAssignment(E3, frozenset({sway}))], [])

    assert updated.licenses == (LicenseAssignment(E3, frozenset({sway})),)


def test_assign_license_refuses_what_graph_refuses(directory: SimulatedDirectory) -> None:
    with pytest.raises(UnknownServicePlan):
        directory.assign_license("alice@contoso.com", [LicenseAssignment(E3, frozenset({"not-a-plan"}))], [])
    with pytest.raises(NothingToChange, match="has no Office 365 E5 license"):
        directory.assign_license("alice@contoso.com", [], [E5])
    with pytest.raises(DomainError, match="cannot be added and removed in one change"):
        directory.assign_license("alice@contoso.com", [LicenseAssignment(E3)], [E3])
    with pytest.raises(UnknownUser):
        directory.assign_license("nobody@contoso.com", [LicenseAssignment(E3)], [])
    with pytest.raises(NothingToChange, match="No license to add to or remove from Alice Wu"):
        directory.assign_license("alice@contoso.com", [], [])


# --- subscriptions and commerce -------------------------------------------------------------------


def test_subscriptions_report_their_status(directory: SimulatedDirectory) -> None:
    statuses = {(s.part_number, s.status, s.total_licenses) for s in directory.subscriptions()}
    assert (O365_E3, SubscriptionStatus.ENABLED, 25) in statuses
    assert (O365_E3, SubscriptionStatus.WARNING, 5) in statuses
    assert (EXTRA_FILE_STORAGE, SubscriptionStatus.SUSPENDED, 10) in statuses
    e4 = next(s for s in directory.subscriptions() if s.part_number == O365_E4)
    assert e4.payment_method is PaymentMethod.INVOICE
    assert e4.organization_id == directory.organization().id


def test_an_invoice_purchase_is_pending_until_its_credit_check_is_over(
    directory: SimulatedDirectory, clock: FixedClock
) -> None:
    """R9, R10: Pending, not counted for seats, then Enabled on its own."""
    bought = directory.add_subscription(
        O365_E5, 10, payment_method=PaymentMethod.INVOICE, activates_at=clock.now() + timedelta(days=2)
    )

    assert bought.status is SubscriptionStatus.PENDING
    assert bought.part_number == O365_E5
    assert product(directory, E5).seats.enabled == 10

    clock.advance(timedelta(days=2))

    assert (
        next(s for s in directory.subscriptions() if s.id == bought.id).status is SubscriptionStatus.ENABLED
    )
    assert product(directory, E5).seats.enabled == 20


def test_a_product_bought_for_the_first_time_is_listed_once_active(
    directory: SimulatedDirectory, clock: FixedClock
) -> None:
    m365_e5 = KnownProduct(
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        "SPE_E5",
        "Microsoft 365 E5",
        ("E5",),
        (
            KnownPlan(
                "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40", "MCOMEETADV", "Microsoft 365 Audio Conferencing"
            ),
        ),
    )
    bought = directory.add_subscription(m365_e5, 5, activates_at=clock.now() + timedelta(hours=1))

    assert bought.status is SubscriptionStatus.PENDING
    assert "SPE_E5" not in {p.part_number for p in directory.products()}  # R11: not listed yet

    directory.set_status(bought.id, SubscriptionStatus.ENABLED)

    listed = next(p for p in directory.products() if p.part_number == "SPE_E5")
    assert listed.seats == Seats(enabled=5, consumed=0)
    assert ProductCatalog().resolve("SPE_E5", directory.products()) == listed


def test_seats_can_be_added_and_unused_ones_removed(directory: SimulatedDirectory) -> None:
    """R12: only unused seats can be removed."""
    e5 = demo_subscription_id("e5")
    assert directory.set_seats(e5, 15).total_licenses == 15
    assert product(directory, E5).seats.enabled == 15

    with pytest.raises(DomainError, match="3 are assigned") as refused:
        directory.set_seats(e5, 2)
    assert refused.value.rule == "R12"

    assert directory.set_seats(e5, 3).total_licenses == 3
    assert product(directory, E5).seats.available == 0


def test_set_status_suspends_a_subscription(directory: SimulatedDirectory) -> None:
    directory.set_status(demo_subscription_id("spb"), SubscriptionStatus.SUSPENDED)
    spb = next(p for p in directory.products() if p.part_number == "SPB")
    assert spb.capability_status is CapabilityStatus.SUSPENDED
    assert spb.seats.available == 0


def test_commerce_refuses_nonsense(directory: SimulatedDirectory) -> None:
    with pytest.raises(ValueError, match="at least one license"):
        directory.add_subscription(O365_E5, 0)
    with pytest.raises(LookupError):
        directory.set_seats("no-such-subscription", 3)
    with pytest.raises(DomainError, match="no product"):
        directory.add_subscription("NOT_A_PRODUCT", 3)
