"""Group-based licensing rules (R21): plans from what is assigned directly, a group change's
predicted effect on its members, and processing's own order and seat accounting."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.changes import ChangeKind, plan_user_change
from domain.errors import LicenseInherited, NothingToChange
from domain.group_licensing import (
    COUNT_VIOLATION,
    EXCLUSIVE_VIOLATION,
    GroupPreview,
    kept_through_groups,
    plan_group_change,
    process_members,
)
from domain.model import Group, LicenseAssignment, LicenseState, ProcessingState, User
from tests.fakes import SKU_E3, SKU_E5, SKU_F3, make_organization, make_product, make_user

GROUP = "group-1"
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=10)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=9)
F3 = make_product("DESKLESSPACK", seats=5, consumed=0)
PRODUCTS = {p.sku_id: p for p in (E3, E5, F3)}
ORG = make_organization()


def inherits(user: User, *skus: str, direct: tuple[str, ...] = (), group: str = GROUP) -> User:
    """`user` getting `skus` from `group`, and `direct` assigned directly."""
    states = [LicenseState(sku, group) for sku in skus] + [LicenseState(sku) for sku in direct]
    licenses = sorted({*skus, *direct})
    return replace(user, licenses=tuple(LicenseAssignment(s) for s in licenses), states=tuple(states))


def test_a_license_only_inherited_is_never_planned_to_go() -> None:
    ivan = inherits(make_user("ivan"), SKU_E3)
    with pytest.raises(LicenseInherited) as refused:
        plan_user_change(ChangeKind.REMOVE, ivan, E3, PRODUCTS, ORG, groups={GROUP: "All Staff"})
    assert refused.value.problem == (
        "Ivan gets Office 365 E3 from the group All Staff, so it cannot be removed from them directly."
    )
    assert "Remove them from All Staff" in refused.value.fix
    assert "R21" not in refused.value.message, "no rule number in what admins read"
    with pytest.raises(LicenseInherited):
        plan_user_change(ChangeKind.REPLACE, ivan, E5, PRODUCTS, ORG)


def test_held_both_ways_only_the_direct_assignment_goes_and_the_note_says_so() -> None:
    judy = inherits(make_user("judy"), SKU_E3, direct=(SKU_E3,))
    change = plan_user_change(ChangeKind.REMOVE, judy, E3, PRODUCTS, ORG)
    assert (change.before, change.after) == ((LicenseAssignment(SKU_E3),), ())
    notes = kept_through_groups(judy, change.remove, PRODUCTS, {GROUP: "All Staff"})
    assert notes == ["keeps Office 365 E3 through the group All Staff (only the direct assignment goes)"]


def test_services_of_an_inherited_license_are_the_groups_and_assigning_it_again_changes_nothing() -> None:
    ivan = inherits(make_user("ivan"), SKU_E3)
    with pytest.raises(LicenseInherited, match="set on the group"):
        plan_user_change(ChangeKind.SERVICES, ivan, E3, PRODUCTS, ORG, turn_off=frozenset({"x"}))
    with pytest.raises(NothingToChange, match="already gets Office 365 E3 from the group All Staff"):
        plan_user_change(ChangeKind.ASSIGN, ivan, E3, PRODUCTS, ORG, groups={GROUP: "All Staff"})


def test_processing_keeps_what_members_have_and_runs_out_of_seats_in_id_order() -> None:
    members = [make_user(name, user_id=f"id-{name}") for name in ("b", "a", "c")]
    results = process_members(GROUP, [LicenseAssignment(SKU_E5)], members, PRODUCTS)
    assert [(r.user.id, r.error, r.takes_seat) for r in results] == [
        ("id-a", "None", True),
        ("id-b", COUNT_VIOLATION, False),
        ("id-c", COUNT_VIOLATION, False),
    ]
    # A member who has E3 from this group keeps it; the F3 it adds is what conflicts (R6).
    ivan = inherits(make_user("ivan"), SKU_E3)
    [e3, f3] = process_members(
        GROUP, [LicenseAssignment(SKU_F3), LicenseAssignment(SKU_E3)], [ivan], PRODUCTS
    )
    assert (e3.license.sku_id, e3.error) == (SKU_E3, "None")
    assert (f3.license.sku_id, f3.error) == (SKU_F3, EXCLUSIVE_VIOLATION)
    assert f3.conflict is not None


def test_a_group_change_is_previewed_with_gains_losses_seats_errors_and_the_organizations_location() -> None:
    group = Group(GROUP, "All Staff", "allstaff", (LicenseAssignment(SKU_E3),))
    nora = inherits(make_user("nora", usage_location=None, user_id="id-0nora"), SKU_E3)
    members = [nora, inherits(make_user("ivan"), SKU_E3), inherits(make_user("zed"), SKU_E3)]
    change, preview = plan_group_change(ChangeKind.REPLACE, group, E5, members, PRODUCTS, organization=ORG)
    assert (change.before, change.after) == ((LicenseAssignment(SKU_E3),), (LicenseAssignment(SKU_E5),))
    assert change.user_principal_name == "group:All Staff"
    assert preview.members == 3
    assert preview.gains == [("Nora", "Office 365 E5")]
    assert sorted(preview.loses) == [
        ("Ivan", "Office 365 E3"),
        ("Nora", "Office 365 E3"),
        ("Zed", "Office 365 E3"),
    ]
    assert [(who, problem) for who, _, problem, _ in preview.errors] == [
        ("Ivan", "not enough Office 365 E5 seats for them"),
        ("Zed", "not enough Office 365 E5 seats for them"),
    ]
    assert "/subscription seats E5 +N" in preview.errors[0][3]
    assert preview.no_location == ["Nora"]
    assert preview.country == ORG.country_code
    assert preview.seats == [("Office 365 E3", 10, 7, 25), ("Office 365 E5", 9, 10, 10)]
    assert GroupPreview.from_json(preview.to_json()) == preview


def test_a_group_change_that_changes_nothing_or_removes_what_it_has_not_is_refused() -> None:
    group = Group(GROUP, "All Staff", "allstaff", (LicenseAssignment(SKU_E3),))
    with pytest.raises(NothingToChange, match="already has that"):
        plan_group_change(ChangeKind.ASSIGN, group, E3, [], PRODUCTS, organization=ORG)
    with pytest.raises(NothingToChange, match="has no Office 365 E5 license"):
        plan_group_change(ChangeKind.REMOVE, group, E5, [], PRODUCTS, organization=ORG)
    assert group.processing is ProcessingState.COMPLETE


def test_a_member_without_a_usage_location_is_licensed_where_the_organization_is() -> None:
    """Microsoft's rule for groups: no usage location means the organization's, so a product not
    offered there ends in an error for them, said in the admin's words."""
    calling = make_product("MCOPSTN1", sku_id="sku-calling", display_name="Domestic Calling Plan", plans=[])
    products = {**PRODUCTS, calling.sku_id: calling}
    group = Group(GROUP, "Callers", "callers")
    noel = make_user("noel", usage_location=None)
    uma = make_user("uma", usage_location="GB")
    india = replace(ORG, country_code="IN")
    _, preview = plan_group_change(
        ChangeKind.ASSIGN, group, calling, [noel, uma], products, organization=india
    )
    [(member, product, problem, fix)] = preview.errors
    assert (member, product) == ("Noel", "Domestic Calling Plan")
    assert problem == (
        "Domestic Calling Plan is not offered in the organization's country or region (IN), which "
        "they take as they have no usage location"
    )
    assert "usage location" in fix
    assert preview.gains == [("Uma", "Domestic Calling Plan")]
    assert preview.no_location == [], "Noel ends in error: nothing to say about where he is licensed"
    _, at_home = plan_group_change(ChangeKind.ASSIGN, group, calling, [noel], products, organization=ORG)
    assert at_home.errors == []
    assert at_home.no_location == ["Noel"]
