"""Planning one user's change (R3–R8), `UserChange`, and the `ChangeSet` state machine (R7, R17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeOutcome,
    ChangeSet,
    ChangeState,
    ItemStatus,
    OutcomeKind,
    UserChange,
    plan_user_change,
    seats_needed,
)
from domain.errors import (
    ChangeNotPending,
    IllegalTransition,
    NotAssignable,
    NothingToChange,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
)
from domain.model import LicenseAssignment, Product, User
from tests.fakes import (
    SKU_E1,
    SKU_E3,
    SKU_E5,
    SKU_F3,
    license_of,
    make_organization,
    make_product,
    make_user,
    plan_id,
)

E1 = make_product("STANDARDPACK")
E3 = make_product("ENTERPRISEPACK")
E5 = make_product("ENTERPRISEPREMIUM")
F3 = make_product("DESKLESSPACK")
STORAGE = make_product("SHAREPOINTSTORAGE")
PRODUCTS = {p.sku_id: p for p in (E1, E3, E5, F3, STORAGE)}
ORG = make_organization()
SWAY, TEAMS, MCOIMP = plan_id("SWAY"), plan_id("TEAMS1"), plan_id("MCOIMP")
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def plan(
    kind: ChangeKind,
    user: User,
    product: Product,
    *,
    turn_off: frozenset[str] = frozenset(),
    turn_on: frozenset[str] = frozenset(),
) -> UserChange:
    return plan_user_change(kind, user, product, PRODUCTS, ORG, turn_off=turn_off, turn_on=turn_on)


# -- UserChange ------------------------------------------------------------------------------------


def replace_e3_by_e5() -> UserChange:
    return UserChange(
        "id-alice",
        "alice@contoso.com",
        "Alice",
        before=(license_of(SKU_E3, "SWAY"), license_of(SKU_F3)),
        after=(license_of(SKU_E3, "SWAY", "TEAMS1"), license_of(SKU_E5)),
    )


def test_user_change_adds_new_products_and_held_ones_whose_services_change() -> None:
    change = replace_e3_by_e5()

    assert change.add == (license_of(SKU_E3, "SWAY", "TEAMS1"), license_of(SKU_E5))
    assert change.remove == (SKU_F3,)
    assert change.gained == (SKU_E5,)
    assert not change.is_noop


def test_user_change_does_not_resend_an_unchanged_license() -> None:
    change = UserChange(
        "u",
        "u@contoso.com",
        "U",
        (LicenseAssignment(SKU_E3),),
        (
            LicenseAssignment(SKU_E3),
            LicenseAssignment(SKU_E5),
        ),
    )

    assert change.add == (LicenseAssignment(SKU_E5),)
    assert change.remove == ()


@pytest.mark.parametrize(
    ("licenses", "state"),
    [
        ((license_of(SKU_E3, "SWAY"), license_of(SKU_F3)), "before"),
        ((license_of(SKU_F3), license_of(SKU_E3, "SWAY")), "before"),  # order does not matter
        ((license_of(SKU_E5), license_of(SKU_E3, "SWAY", "TEAMS1")), "after"),
        ((license_of(SKU_E3, "SWAY"),), "other"),
        ((license_of(SKU_E3), license_of(SKU_F3)), "other"),  # same products, other services
        ((), "other"),
    ],
)
def test_user_change_state_of_current_licenses(licenses: tuple[LicenseAssignment, ...], state: str) -> None:
    assert replace_e3_by_e5().state_of(licenses) == state


def test_user_change_reversed_undoes_it() -> None:
    change = replace_e3_by_e5()
    undo = change.reversed()

    assert (undo.before, undo.after) == (change.after, change.before)
    assert undo.remove == (SKU_E5,)
    assert undo.gained == (SKU_F3,)
    assert undo.reversed() == change


def test_seats_needed_counts_only_users_gaining_the_product() -> None:
    changes = [
        plan(ChangeKind.ASSIGN, make_user("alice", SKU_E3), E5),
        plan(
            ChangeKind.ASSIGN, make_user("bob", license_of(SKU_E5, "SWAY")), E5, turn_off=frozenset({TEAMS})
        ),
        plan(ChangeKind.REPLACE, make_user("carol", SKU_E3), E5),
    ]

    assert seats_needed(changes, SKU_E5) == 2
    assert seats_needed(changes, SKU_E3) == 0


# -- plan_user_change: assign (R7 keeps what the user has) -----------------------------------------


def test_r7_assign_keeps_existing_licenses() -> None:
    alice = make_user("alice", license_of(SKU_E3, "SWAY"))

    change = plan(ChangeKind.ASSIGN, alice, E5)

    assert change.before == (license_of(SKU_E3, "SWAY"),)
    assert set(change.after) == {license_of(SKU_E3, "SWAY"), license_of(SKU_E5)}
    assert change.remove == ()


def test_assign_with_services_off_disables_them_on_the_new_product() -> None:
    change = plan(ChangeKind.ASSIGN, make_user("carol"), E5, turn_off=frozenset({SWAY, TEAMS}))

    assert change.after == (license_of(SKU_E5, "SWAY", "TEAMS1"),)


def test_assign_of_a_held_product_is_nothing_to_change() -> None:
    with pytest.raises(NothingToChange, match="already has that"):
        plan(ChangeKind.ASSIGN, make_user("alice", SKU_E3), E3)


def test_r3_assign_of_a_company_product_is_refused() -> None:
    with pytest.raises(NotAssignable):
        plan(ChangeKind.ASSIGN, make_user("alice"), STORAGE)


@pytest.mark.parametrize("kind", [ChangeKind.ASSIGN, ChangeKind.REPLACE])
@pytest.mark.parametrize("location", [None, "", "USA", "1A"])
def test_r4_new_license_needs_a_usage_location(kind: ChangeKind, location: str | None) -> None:
    with pytest.raises(NoUsageLocation):
        plan(kind, make_user("erin", SKU_E3, usage_location=location), E5)


def test_r4_services_of_a_held_license_change_without_a_new_seat() -> None:
    erin = make_user("erin", SKU_E3, usage_location=None)

    change = plan(ChangeKind.SERVICES, erin, E3, turn_off=frozenset({SWAY}))

    assert change.after == (license_of(SKU_E3, "SWAY"),)


def test_r8_plan_refuses_a_user_outside_the_organization() -> None:
    with pytest.raises(OutsideOrganization):
        plan(ChangeKind.ASSIGN, make_user("mallory", domain="fabrikam.com"), E3)


# -- R5 services -----------------------------------------------------------------------------------


def test_r5_turning_one_service_off_keeps_the_ones_already_off() -> None:
    alice = make_user("alice", license_of(SKU_E3, "SWAY"))

    change = plan(ChangeKind.SERVICES, alice, E3, turn_off=frozenset({TEAMS}))

    assert change.after == (license_of(SKU_E3, "SWAY", "TEAMS1"),)
    assert change.add == (license_of(SKU_E3, "SWAY", "TEAMS1"),)
    assert change.remove == ()
    assert change.gained == ()


def test_r5_turning_a_service_on_removes_it_from_the_disabled_plans() -> None:
    alice = make_user("alice", license_of(SKU_E3, "SWAY", "TEAMS1"))

    change = plan(ChangeKind.SERVICES, alice, E3, turn_on=frozenset({SWAY}))

    assert change.after == (license_of(SKU_E3, "TEAMS1"),)


def test_r5_services_of_a_product_the_user_lacks_say_assign_first() -> None:
    with pytest.raises(NothingToChange) as refused:
        plan(ChangeKind.SERVICES, make_user("carol"), E3, turn_off=frozenset({SWAY}))

    assert "has no Office 365 E3 license" in refused.value.message
    assert "/license assign" in refused.value.fix


def test_r5_services_already_as_asked_is_nothing_to_change() -> None:
    with pytest.raises(NothingToChange):
        plan(
            ChangeKind.SERVICES,
            make_user("alice", license_of(SKU_E3, "SWAY")),
            E3,
            turn_off=frozenset({SWAY}),
        )


# -- R6 conflicts when planning --------------------------------------------------------------------


def test_r6_adding_f3_to_e3_is_refused_naming_both_plans_products_and_the_fix() -> None:
    dave = make_user("dave", SKU_E3)

    with pytest.raises(ServicePlanConflict) as refused:
        plan(ChangeKind.ASSIGN, dave, F3)

    assert refused.value.plans == ("Skype for Business Online (Plan 2)", "Skype for Business Online (Plan 1)")
    assert refused.value.products == ("Office 365 E3", "Office 365 F3")
    plan_1 = "Skype for Business Online (Plan 1)"
    assert f"Turn off {plan_1} in Office 365 F3 (`without {plan_1}`)" in refused.value.fix
    assert "replace Office 365 E3 instead of adding to it" in refused.value.fix


def test_r6_adding_e3_to_e1_is_refused_for_sharepoint() -> None:
    with pytest.raises(ServicePlanConflict) as refused:
        plan(ChangeKind.ASSIGN, make_user("erin", SKU_E1), E3)

    assert refused.value.plans == ("SharePoint (Plan 1)", "SharePoint (Plan 2)")


def test_r6_adding_f3_without_mcoimp_avoids_the_conflict() -> None:
    change = plan(ChangeKind.ASSIGN, make_user("dave", SKU_E3), F3, turn_off=frozenset({MCOIMP}))

    assert set(change.after) == {license_of(SKU_E3), license_of(SKU_F3, "MCOIMP")}


def test_r6_replacing_instead_of_adding_avoids_the_conflict() -> None:
    change = plan(ChangeKind.REPLACE, make_user("dave", SKU_E3), F3)

    assert change.after == (license_of(SKU_F3),)
    assert change.remove == (SKU_E3,)


def test_r6_turning_a_conflicting_service_back_on_is_refused() -> None:
    dave = make_user("dave", SKU_E3, license_of(SKU_F3, "MCOIMP"))

    with pytest.raises(ServicePlanConflict):
        plan(ChangeKind.SERVICES, dave, F3, turn_on=frozenset({MCOIMP}))


# -- R7 replace ------------------------------------------------------------------------------------


def test_r7_replace_is_one_change_adding_and_removing_together() -> None:
    alice = make_user("alice", SKU_E3, SKU_F3)

    change = plan(ChangeKind.REPLACE, alice, E5)

    assert change.add == (license_of(SKU_E5),)
    assert set(change.remove) == {SKU_E3, SKU_F3}
    assert change.after == (license_of(SKU_E5),)  # never empty: nobody is left without a license


def test_r7_replace_when_the_user_already_holds_the_target_keeps_its_disabled_plans() -> None:
    alice = make_user("alice", SKU_E3, license_of(SKU_E5, "SWAY"))

    change = plan(ChangeKind.REPLACE, alice, E5, turn_off=frozenset({TEAMS}))

    assert change.after == (license_of(SKU_E5, "SWAY", "TEAMS1"),)
    assert change.remove == (SKU_E3,)
    assert change.gained == ()


def test_r7_replace_of_a_user_without_licenses_just_adds() -> None:
    change = plan(ChangeKind.REPLACE, make_user("carol"), E5)

    assert change.before == ()
    assert change.after == (license_of(SKU_E5),)


def test_r7_replace_when_only_the_target_is_held_is_nothing_to_change() -> None:
    with pytest.raises(NothingToChange):
        plan(ChangeKind.REPLACE, make_user("alice", license_of(SKU_E5, "SWAY")), E5)


# -- remove ----------------------------------------------------------------------------------------


def test_remove_takes_only_that_product() -> None:
    alice = make_user("alice", SKU_E3, SKU_F3, usage_location=None)

    change = plan(ChangeKind.REMOVE, alice, E3)

    assert change.after == (license_of(SKU_F3),)
    assert change.remove == (SKU_E3,)
    assert change.add == ()


def test_remove_of_a_product_the_user_lacks_is_nothing_to_change() -> None:
    with pytest.raises(NothingToChange, match="Carol has no Office 365 E3 license"):
        plan(ChangeKind.REMOVE, make_user("carol"), E3)


def test_remove_of_a_product_the_user_lacks_says_what_they_hold() -> None:
    alice = make_user("alice", LicenseAssignment(E3.sku_id), LicenseAssignment(F3.sku_id))

    with pytest.raises(NothingToChange) as refused:
        plan(ChangeKind.REMOVE, alice, E5)

    assert refused.value.problem == "Alice has no Office 365 E5 license."
    assert refused.value.fix == "Alice holds Office 365 E3 and Office 365 F3: name one of those to remove it."


def test_remove_from_a_user_without_any_license_says_there_is_nothing_to_remove() -> None:
    with pytest.raises(NothingToChange) as refused:
        plan(ChangeKind.REMOVE, make_user("carol"), E3)

    assert refused.value.fix == "Carol holds no license, so there is nothing to remove."


def test_only_replace_remove_undo_and_reclaim_take_access_away() -> None:
    # An undo takes back whatever the change it undoes gave, so it is previewed like a replace;
    # a reclaim (R22) takes every license of the accounts it names.
    expected = {ChangeKind.REPLACE, ChangeKind.REMOVE, ChangeKind.UNDO, ChangeKind.RECLAIM}
    assert {kind for kind in ChangeKind if kind.removes_access} == expected


# -- ChangeSet state machine -----------------------------------------------------------------------


def items(count: int) -> list[ChangeItem]:
    return [ChangeItem(plan(ChangeKind.REPLACE, make_user(f"user{n:02}", SKU_E3), E5)) for n in range(count)]


def change_set(count: int = 3, *, ttl: timedelta = timedelta(minutes=15)) -> ChangeSet:
    return ChangeSet(
        id="cs-1",
        kind=ChangeKind.REPLACE,
        requested_by="admin@contoso.com",
        product_sku=SKU_E5,
        product_label="Office 365 E5",
        items=items(count),
        created_at=NOW,
        expires_at=NOW + ttl,
    )


def confirmed(count: int = 3) -> ChangeSet:
    cs = change_set(count)
    cs.confirm("admin@contoso.com", NOW)
    return cs


def outcome(item: ChangeItem, kind: OutcomeKind = OutcomeKind.APPLIED, reason: str = "") -> ChangeOutcome:
    return ChangeOutcome(item.change.user_id, kind, reason)


def test_change_set_starts_previewed_with_every_item_planned() -> None:
    cs = change_set()

    assert cs.state is ChangeState.PREVIEWED
    assert cs.counts()[ItemStatus.PLANNED] == 3


def test_change_set_previewed_to_applying_on_confirm() -> None:
    cs = change_set()

    cs.confirm("admin@contoso.com", NOW + timedelta(minutes=14))

    assert cs.state is ChangeState.APPLYING
    assert cs.confirmed_by == "admin@contoso.com"


def test_change_set_confirm_twice_is_not_pending() -> None:
    cs = confirmed()

    with pytest.raises(ChangeNotPending) as refused:
        cs.confirm("admin@contoso.com", NOW)

    assert refused.value.state == "applying"
    assert cs.state is ChangeState.APPLYING


def test_change_set_confirm_after_expiry_expires_it() -> None:
    cs = change_set()

    with pytest.raises(ChangeNotPending) as refused:
        cs.confirm("admin@contoso.com", NOW + timedelta(minutes=15))

    assert refused.value.state == "expired"
    assert cs.state is ChangeState.EXPIRED
    with pytest.raises(ChangeNotPending):
        cs.cancel()


def test_change_set_previewed_to_cancelled() -> None:
    cs = change_set()

    cs.cancel()

    assert cs.state is ChangeState.CANCELLED
    with pytest.raises(ChangeNotPending, match="already cancelled"):
        cs.confirm("admin@contoso.com", NOW)
    with pytest.raises(ChangeNotPending):
        cs.cancel()


def test_change_set_cancel_after_confirm_is_not_pending() -> None:
    cs = confirmed()

    with pytest.raises(ChangeNotPending, match="already applying"):
        cs.cancel()
    assert cs.state is ChangeState.APPLYING


@pytest.mark.parametrize(
    "state", [ChangeState.PREVIEWED, ChangeState.CANCELLED, ChangeState.EXPIRED, ChangeState.DONE]
)
def test_change_set_sends_nothing_outside_applying(state: ChangeState) -> None:
    cs = change_set()
    cs.state = state

    with pytest.raises(IllegalTransition):
        cs.next_batch(20)
    with pytest.raises(IllegalTransition):
        cs.mark_sending(cs.items[:1])
    with pytest.raises(IllegalTransition):
        cs.record(outcome(cs.items[0]))
    assert cs.state is state


def test_r17_change_set_sends_at_most_20_at_a_time() -> None:
    cs = confirmed(45)
    sizes = []

    for _ in range(3):
        batch = cs.next_batch(20)
        cs.mark_sending(batch)
        sizes.append(len(batch))
        for item in batch:
            cs.record(outcome(item))

    assert sizes == [20, 20, 5]
    assert cs.state is ChangeState.DONE


def test_change_set_next_batch_resends_items_left_sending_first() -> None:
    cs = confirmed(5)
    cs.mark_sending(cs.next_batch(2))

    again = cs.next_batch(3)

    assert [i.status for i in again] == [ItemStatus.SENDING, ItemStatus.SENDING, ItemStatus.PLANNED]


def test_change_set_is_done_when_every_item_is_final_and_counts_them() -> None:
    cs = confirmed(4)
    batch = cs.next_batch(20)
    cs.mark_sending(batch)

    cs.record(outcome(batch[0]))
    cs.record(outcome(batch[1], OutcomeKind.ALREADY_APPLIED))
    cs.record(outcome(batch[2], OutcomeKind.CONFLICT, "changed since the preview"))
    assert cs.state.value == "applying"  # one item still sending
    assert cs.counts()[ItemStatus.SENDING] == 1
    item = cs.record(outcome(batch[3], OutcomeKind.FAILED, "no seat"))

    assert item.reason == "no seat"
    assert cs.state is ChangeState.DONE
    assert cs.counts() == {
        ItemStatus.PLANNED: 0,
        ItemStatus.SENDING: 0,
        ItemStatus.APPLIED: 1,
        ItemStatus.ALREADY_APPLIED: 1,
        ItemStatus.CONFLICT: 1,
        ItemStatus.FAILED: 1,
    }
    assert [i.change.user_id for i in cs.failed_items] == ["id-user02", "id-user03"]


def test_change_set_item_outcome_keeps_reason_and_rule() -> None:
    cs = confirmed(1)
    cs.mark_sending(cs.next_batch(20))

    item = cs.record(ChangeOutcome("id-user00", OutcomeKind.FAILED, "need 1, 0 free", "R2"))

    assert (item.status, item.reason, item.rule) == (ItemStatus.FAILED, "need 1, 0 free", "R2")
    assert cs.failed_items == [item]


def test_item_status_final_and_outcome_success() -> None:
    assert {s for s in ItemStatus if not s.final} == {ItemStatus.PLANNED, ItemStatus.SENDING}
    assert {k for k in OutcomeKind if ChangeOutcome("u", k).succeeded} == {
        OutcomeKind.APPLIED,
        OutcomeKind.ALREADY_APPLIED,
    }
