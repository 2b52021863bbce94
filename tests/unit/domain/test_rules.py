"""The licensing rules as plain functions: R2 seats, R3, R4, R5, R6, R8 and R16."""

from __future__ import annotations

import pytest

from domain.errors import (
    NotAssignable,
    NotAuthorized,
    NotEnoughSeats,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
    UnknownServicePlan,
)
from domain.model import AdminRole, Permission, Seats
from domain.rules import (
    check_assignable,
    check_in_organization,
    check_seats,
    check_usage_location,
    find_conflict,
    is_valid_usage_location,
    merge_disabled_plans,
    require,
    resolve_plans,
)
from tests.fakes import (
    SKU_E1,
    SKU_E3,
    SKU_F3,
    license_of,
    make_organization,
    make_product,
    make_user,
    plan_id,
)

E1 = make_product("STANDARDPACK")
E3 = make_product("ENTERPRISEPACK")
F3 = make_product("DESKLESSPACK")
PRODUCTS = {p.sku_id: p for p in (E1, E3, F3)}

# -- R2 seats --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "consumed", "available"), [(25, 0, 25), (25, 25, 0), (10, 7, 3), (10, 12, 0)]
)
def test_r2_available_is_enabled_minus_consumed_never_negative(
    enabled: int, consumed: int, available: int
) -> None:
    assert Seats(enabled, consumed).available == available


def test_r2_seats_after_a_change_move_consumed_only() -> None:
    assert Seats(10, 7).after(+2) == Seats(10, 9)
    assert Seats(10, 7).after(-7).available == 10


def test_r2_assign_refused_when_seats_short_says_how_many_to_buy() -> None:
    product = make_product("ENTERPRISEPACK", seats=10, consumed=3)

    with pytest.raises(NotEnoughSeats) as refused:
        check_seats(product, 10)

    assert refused.value.problem == "Not enough Office 365 E3 licenses: need 10, 7 free."
    assert "need 10, 7 free" in refused.value.message
    assert "buy 3 more" in refused.value.message.lower()
    assert "/subscription seats E3 +3" in refused.value.fix
    assert (refused.value.needed, refused.value.available, refused.value.missing) == (10, 7, 3)
    assert refused.value.rule == "R2"


def test_r2_assign_allowed_when_every_seat_is_free() -> None:
    check_seats(make_product("ENTERPRISEPACK", seats=10, consumed=3), 7)
    check_seats(make_product("ENTERPRISEPACK", seats=0), 0)


def test_r2_over_consumed_product_counts_zero_free() -> None:
    with pytest.raises(NotEnoughSeats) as refused:
        check_seats(make_product("ENTERPRISEPACK", seats=10, consumed=12), 1)

    assert "need 1, 0 free" in refused.value.message


# -- R3 / R4 ---------------------------------------------------------------------------------------


def test_r3_product_applying_to_the_company_is_not_assignable() -> None:
    storage = make_product("SHAREPOINTSTORAGE")

    with pytest.raises(NotAssignable) as refused:
        check_assignable(storage)

    assert "Office 365 Extra File Storage" in refused.value.message
    assert "company" in refused.value.message
    assert refused.value.rule == "R3"


def test_r3_product_applying_to_users_is_assignable() -> None:
    check_assignable(E3)


@pytest.mark.parametrize("location", [None, "", "USA", "1A", "U", "é1", " U"])
def test_r4_missing_or_invalid_usage_location_is_refused_with_the_fix(location: str | None) -> None:
    user = make_user("erin", usage_location=location)

    with pytest.raises(NoUsageLocation) as refused:
        check_usage_location(user)

    assert "Erin has no usage location" in refused.value.message
    assert "Usage location" in refused.value.fix
    assert "two-letter country code" in refused.value.fix
    assert refused.value.rule == "R4"


@pytest.mark.parametrize("location", ["US", "NL", "GB"])
def test_r4_two_letter_usage_location_is_valid(location: str) -> None:
    assert is_valid_usage_location(location)
    check_usage_location(make_user("alice", usage_location=location))


# -- R5 services -----------------------------------------------------------------------------------


def test_r5_turning_one_service_off_keeps_the_others_off() -> None:
    current = frozenset({plan_id("SWAY")})

    merged = merge_disabled_plans(current, turn_off=[plan_id("TEAMS1")])

    assert merged == {plan_id("SWAY"), plan_id("TEAMS1")}


def test_r5_turning_a_service_on_removes_only_that_one() -> None:
    current = frozenset({plan_id("SWAY"), plan_id("TEAMS1")})

    assert merge_disabled_plans(current, turn_on=[plan_id("SWAY")]) == {plan_id("TEAMS1")}
    assert merge_disabled_plans(current) == current


@pytest.mark.parametrize(
    ("typed", "plan"),
    [
        ("Sway", "SWAY"),
        ("sway", "SWAY"),
        ("Teams", "TEAMS1"),  # not made ambiguous by "Avatars for Teams"
        ("TEAMS1", "TEAMS1"),
        ("Microsoft Teams", "TEAMS1"),
        ("Exchange", "EXCHANGE_S_ENTERPRISE"),
        ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
        ("Avatars", "MESH_AVATARS_FOR_TEAMS"),
    ],
)
def test_r5_service_plans_resolve_by_name_id_or_short_name(typed: str, plan: str) -> None:
    assert resolve_plans(E3, [typed]) == {plan_id(plan)}


def test_r5_several_services_resolve_together() -> None:
    assert resolve_plans(E3, ["Sway", "Teams"]) == {plan_id("SWAY"), plan_id("TEAMS1")}
    assert resolve_plans(E3, []) == frozenset()


def test_r5_unknown_service_is_refused_listing_the_services() -> None:
    with pytest.raises(UnknownServicePlan) as refused:
        resolve_plans(E3, ["Sway", "Yammer"])

    assert "Office 365 E3 has no service “Yammer”" in refused.value.message
    assert "Sway" in refused.value.fix
    assert "Microsoft Teams" in refused.value.fix
    assert refused.value.rule == "R5"


def test_r5_short_name_fitting_several_services_is_not_guessed() -> None:
    # "SharePoint (Plan 1)" and "SharePoint (Plan 2)" both start with "SharePoint".
    both = make_product(
        "TWO_SHAREPOINTS", sku_id="sku-two", plans=["SHAREPOINTSTANDARD", "SHAREPOINTENTERPRISE"]
    )

    with pytest.raises(UnknownServicePlan):
        resolve_plans(both, ["SharePoint"])


# -- R6 conflicts ----------------------------------------------------------------------------------


def test_r6_mcostandard_and_mcoimp_conflict_names_both_plans_products_and_fix() -> None:
    dave = make_user("dave", SKU_E3)

    with pytest.raises(ServicePlanConflict) as refused:
        find_conflict(dave, [license_of(SKU_E3), license_of(SKU_F3)], PRODUCTS)

    message = refused.value.message
    for name in (
        "Skype for Business Online (Plan 2)",
        "Skype for Business Online (Plan 1)",
        "Office 365 E3",
        "Office 365 F3",
    ):
        assert name in message
    assert "without Skype for Business Online (Plan 1)" in refused.value.fix
    assert "MCOIMP" not in refused.value.message, "plans by the names in Microsoft's table"
    assert "/license replace" in refused.value.fix
    assert refused.value.plans == ("Skype for Business Online (Plan 2)", "Skype for Business Online (Plan 1)")
    assert refused.value.products == ("Office 365 E3", "Office 365 F3")
    assert refused.value.rule == "R6"


def test_r6_sharepoint_plan_1_and_plan_2_conflict() -> None:
    # E1 brings SHAREPOINTSTANDARD (and MCOSTANDARD, like E3): only SharePoint clashes.
    with pytest.raises(ServicePlanConflict) as refused:
        find_conflict(make_user("erin"), [license_of(SKU_E1), license_of(SKU_E3)], PRODUCTS)

    assert set(refused.value.plans) == {"SharePoint (Plan 1)", "SharePoint (Plan 2)"}
    assert set(refused.value.products) == {"Office 365 E1", "Office 365 E3"}


def test_r6_conflict_is_avoided_by_turning_one_plan_off() -> None:
    find_conflict(make_user("dave"), [license_of(SKU_E3), license_of(SKU_F3, "MCOIMP")], PRODUCTS)
    find_conflict(make_user("erin"), [license_of(SKU_E1, "SHAREPOINTSTANDARD"), license_of(SKU_E3)], PRODUCTS)


def test_r6_products_without_exclusive_plans_do_not_conflict() -> None:
    # Exchange Online Plan 1 (E1) and Plan 2 (E3) are no longer exclusive.
    e1_exchange_only = make_product("E1_EXCHANGE", sku_id="sku-e1x", plans=["EXCHANGE_S_STANDARD"])
    products = {**PRODUCTS, e1_exchange_only.sku_id: e1_exchange_only}

    find_conflict(make_user("erin"), [license_of("sku-e1x"), license_of(SKU_E3)], products)


# -- R8 organization -------------------------------------------------------------------------------


def test_r8_user_outside_the_verified_domains_is_refused() -> None:
    organization = make_organization("contoso.com", "contoso.onmicrosoft.com")
    mallory = make_user("mallory", domain="fabrikam.com")

    with pytest.raises(OutsideOrganization) as refused:
        check_in_organization(mallory, organization)

    assert "mallory@fabrikam.com is not in this organization" in refused.value.message
    assert "contoso.com, contoso.onmicrosoft.com" in refused.value.message
    assert refused.value.rule == "R8"


@pytest.mark.parametrize("domain", ["contoso.com", "CONTOSO.com", "contoso.onmicrosoft.com"])
def test_r8_user_in_a_verified_domain_is_accepted(domain: str) -> None:
    check_in_organization(make_user("alice", domain=domain), make_organization())


# -- R16 roles -------------------------------------------------------------------------------------

ALLOWED = {
    Permission.READ: set(AdminRole),
    Permission.MANAGE_LICENSES: set(AdminRole),
    Permission.MANAGE_SUBSCRIPTIONS: {AdminRole.GLOBAL, AdminRole.BILLING},
    Permission.APPROVE: {AdminRole.GLOBAL, AdminRole.BILLING},
}
"""R16 as DESIGN.md states it, written out independently of `Permission.roles`."""


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", [*AdminRole, None])
def test_r16_every_permission_for_every_role_and_no_role(
    permission: Permission, role: AdminRole | None
) -> None:
    roles = frozenset() if role is None else frozenset({role})

    if role in ALLOWED[permission]:
        require(roles, permission, "Pat")
    else:
        with pytest.raises(NotAuthorized) as refused:
            require(roles, permission, "Pat")
        assert refused.value.message.startswith(f"Pat may not {permission.value}.")
        for allowed in ALLOWED[permission]:
            assert allowed.value in refused.value.fix
        assert refused.value.rule == "R16"


def test_r16_any_one_granting_role_among_several_is_enough() -> None:
    require({AdminRole.USER, AdminRole.BILLING}, Permission.MANAGE_SUBSCRIPTIONS, "Pat")
