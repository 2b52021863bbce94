"""The rules that decide the subscription procedures (R2, R8, R10–R15, R18, R19), as plain functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import DomainError, SubscriptionNotActive, UpgradeNotDirect
from domain.model import Cloud, PaymentMethod, PurchaseChannel, SubscriptionStatus
from domain.workflows import EVERYONE, ProductRef, Workflow, WorkflowKind, admin_center, fresh_steps
from domain.workflows.checks import (
    active_subscriptions,
    by_id_suffix,
    check_direct_purchase,
    check_on_sale,
    check_source_active,
    id_suffix,
    not_listed_reasons,
    recommend_path,
    redundant_addons,
    seats_wanted,
    target_subscription,
    users_losing_access,
)
from domain.workflows.tasks import TaskKind, buy_task, cancel_task, seats_task
from tests.fakes import make_product, make_subscription, make_user

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=14)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=3)
E4 = make_product(
    "ENTERPRISEWITHSCAL",
    sku_id="1392051d-0cb9-4b7a-88d5-621fee5e8711",
    display_name="Office 365 E4",
    plans=("EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", "MCOSTANDARD", "TEAMS1"),
    seats=8,
    consumed=5,
)
AUDIO = make_product(
    "MCOMEETADV",
    sku_id="0c266dff-15dd-4b49-8397-2bb16070ed52",
    display_name="Microsoft 365 Audio Conferencing",
    plans=("MCOMEETADV",),
    seats=5,
    consumed=3,
)


def switch(
    kind: WorkflowKind = WorkflowKind.SWITCH,
    *,
    source: ProductRef | None = None,
    target: ProductRef | None = None,
    targets: tuple[str, ...] = (EVERYONE,),
    cloud: Cloud = Cloud.WORLDWIDE,
) -> Workflow:
    return Workflow(
        id="wf1",
        kind=kind,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=target or ProductRef.of(E5),
        steps=fresh_steps(kind),
        source=source or ProductRef.of(E3),
        targets=targets,
        cloud=cloud,
    )


def test_the_automatic_path_is_recommended_when_everyone_moves_the_same_way_r15() -> None:
    advice = recommend_path(switch())
    assert advice.automatic
    assert "Switch plans button" in advice.note
    assert "https://go.microsoft.com/fwlink/p/?linkid=842054" in advice.note
    assert "admins cannot use the admin center" in advice.note
    assert "users keep working" in advice.note


def test_the_link_is_the_tenants_cloud_r18() -> None:
    china = recommend_path(switch(cloud=Cloud.CHINA))
    assert "linkid=850626" in china.note
    government = recommend_path(switch(cloud=Cloud.US_GOVERNMENT))
    assert "https://portal.office365.us/#/subscriptions" in government.note
    assert admin_center(Cloud.US_GOVERNMENT).support == "https://portal.office365.us/#/support"


def test_a_manual_switch_for_some_users_or_a_target_not_offered_r15() -> None:
    some = recommend_path(switch(targets=("alice@contoso.com",)))
    assert not some.automatic
    assert "Only some users move" in some.note
    sideways = recommend_path(switch(target=ProductRef("sku-f3", "DESKLESSPACK", "Office 365 F3")))
    assert not sideways.automatic
    assert "does not offer Office 365 F3 as a direct switch" in sideways.note


def test_the_e4_upgrade_recommends_the_upgrade_tab_and_warns_of_the_credit_check() -> None:
    advice = recommend_path(switch(WorkflowKind.UPGRADE, source=ProductRef.of(E4)))
    assert advice.automatic
    assert "Upgrade tab" in advice.note
    assert "up to 2 business days" in advice.note
    three = switch(WorkflowKind.UPGRADE, source=ProductRef.of(E4))
    three.credit_check_days = 3
    assert "up to 3 business days" in recommend_path(three).note, "the setting, not a fixed two"


def test_users_move_off_an_active_subscription_only_r11() -> None:
    check_source_active(ProductRef.of(E3), [make_subscription(E3)])
    expired = make_subscription(E3, status=SubscriptionStatus.WARNING)
    with pytest.raises(SubscriptionNotActive, match="Expired \\(grace period\\)") as refused:
        check_source_active(ProductRef.of(E3), [expired])
    assert refused.value.rule == "R11"
    with pytest.raises(SubscriptionNotActive, match="not listed"):
        check_source_active(ProductRef.of(E3), [])


def test_active_subscriptions_are_the_enabled_ones_largest_first() -> None:
    small = make_subscription(E3, total=5, sub_id="small")
    large = make_subscription(E3, total=20, sub_id="large")
    gone = make_subscription(E3, total=50, sub_id="gone", status=SubscriptionStatus.SUSPENDED)
    assert [s.id for s in active_subscriptions([small, gone, large], E3.sku_id)] == ["large", "small"]


@pytest.mark.parametrize(
    ("channel", "contact"),
    [(PurchaseChannel.PARTNER, "your partner"), (PurchaseChannel.VOLUME_LICENSING, "account representative")],
)
def test_e4_bought_through_a_partner_or_volume_licensing_is_refused_r14(
    channel: PurchaseChannel, contact: str
) -> None:
    subscription = replace(make_subscription(E4), purchase_channel=channel)
    with pytest.raises(UpgradeNotDirect, match=contact) as refused:
        check_direct_purchase(ProductRef.of(E4), [subscription])
    assert refused.value.rule == "R14"
    check_direct_purchase(ProductRef.of(E4), [make_subscription(E4)])


def test_add_ons_the_target_includes_are_redundant_r14() -> None:
    holders = [make_user("ken", E4.sku_id, AUDIO.sku_id), make_user("peggy", E4.sku_id)]
    assert redundant_addons(holders, [E3, E4, E5, AUDIO], E5) == [AUDIO]
    assert redundant_addons(holders, [E3, E4, E5, AUDIO], E3) == [], "E3 has no audio conferencing"
    assert redundant_addons([make_user("peggy", E4.sku_id)], [E4, E5, AUDIO], E5) == [], "nobody holds it"
    assert redundant_addons(holders, [E4, E5, AUDIO], None) == [], "the target's plans are unknown"


def test_cancelling_counts_who_would_be_left_without_a_seat_r13() -> None:
    assert users_losing_access(E3, make_subscription(E3, total=25)) == 14
    assert (
        users_losing_access(replace(E3, seats=replace(E3.seats, enabled=40)), make_subscription(E3, total=25))
        == 0
    )
    spare = make_subscription(E3, total=25, status=SubscriptionStatus.SUSPENDED)
    assert users_losing_access(E3, spare) == 0, "its seats are not counted any more"
    assert users_losing_access(None, make_subscription(E3)) == 0


def test_a_new_subscription_another_workflow_took_is_not_this_ones_r19() -> None:
    flow = switch()
    flow.seats = 4
    first = make_subscription(E5, total=4, sub_id="first-e5")
    second = make_subscription(E5, total=4, sub_id="second-e5")
    assert target_subscription(flow, [first, second]) == first
    assert target_subscription(flow, [first, second], taken={"first-e5"}) == second
    assert target_subscription(flow, [first], taken={"first-e5"}) is None
    flow.purchase_id = "first-e5"
    assert target_subscription(flow, [first], taken={"first-e5"}) == first, "its own stays its own"


def test_office_365_e4_is_no_longer_sold_r14() -> None:
    with pytest.raises(DomainError) as refused:
        check_on_sale(E4.part_number, E4.display_name)
    assert "Microsoft no longer sells Office 365 E4" in refused.value.message
    assert "Buy Office 365 E5 or Microsoft 365 E5" in refused.value.message
    assert "`/subscription upgrade E4 E5`" in refused.value.message
    assert refused.value.rule == "R14"
    check_on_sale(E5.part_number, E5.display_name)


def test_the_target_subscription_is_the_one_bought_or_a_new_one_with_enough_licenses() -> None:
    flow = switch()
    flow.seats = 5
    existing = make_subscription(E5, sub_id="old-e5")
    flow.known_subscriptions = ("old-e5",)
    assert target_subscription(flow, [existing]) is None
    too_small = make_subscription(E5, total=2, sub_id="small-e5")
    new = make_subscription(E5, total=5, sub_id="new-e5", status=SubscriptionStatus.PENDING)
    assert target_subscription(flow, [existing, too_small, new]) == new
    flow.subscription_id = "small-e5"
    assert target_subscription(flow, [existing, too_small, new]) == too_small


def test_seats_wanted_r2_and_at_least_e4s_for_an_upgrade_r14() -> None:
    flow = switch()
    flow.users_to_move = 14  # as the switch counted them when it started
    assert seats_wanted(flow, E3) == 14, "everyone who holds the source"
    flow.users_to_move = 11
    assert seats_wanted(flow, E3) == 11, "three of the 14 get it only from a group: they keep their seat"
    flow.users_to_move = 20
    assert seats_wanted(flow, E3) == 14, "never more than the holders left"
    flow.targets, flow.users_to_move = ("alice@contoso.com", "bob@contoso.com"), 2
    assert seats_wanted(flow, E3) == 2
    upgrade = switch(WorkflowKind.UPGRADE, source=ProductRef.of(E4))
    upgrade.seats = 8
    assert seats_wanted(upgrade, E4) == 8, "E4 had 8 licenses for 5 users"


def test_why_a_new_subscription_may_not_show_up_r8_r10_r11() -> None:
    flow = switch()
    flow.payment_method = PaymentMethod.INVOICE
    flow.deadline = datetime(2026, 12, 1, tzinfo=UTC)
    note = not_listed_reasons(flow, None)
    assert note.startswith("No new Office 365 E5 subscription is listed yet")
    assert "credit check for up to 2 business days, until Mon 30 Nov 2026 end of day" in note
    assert "another organization" in note
    assert "(R8)" not in note
    assert "only support can help (https://admin.microsoft.com/#/support)" in note
    pending = make_subscription(E5, status=SubscriptionStatus.PENDING)
    assert "being set up" in not_listed_reasons(switch(), pending)


@pytest.mark.parametrize("cloud", list(Cloud))
def test_admin_tasks_give_a_checklist_and_the_clouds_link_r18_r19(cloud: Cloud) -> None:
    pages = admin_center(cloud)
    task = buy_task("t1", ProductRef.of(E5), 10, PaymentMethod.INVOICE, cloud=cloud, now=NOW)
    assert (task.kind, task.link) == (TaskKind.BUY, pages.purchase)
    assert any("credit check: up to 2 business days" in line for line in task.checklist)
    assert any("Mark done" in line for line in task.checklist)
    seats = seats_task("t2", ProductRef.of(E5), 10, 13, cloud=cloud, now=NOW)
    assert seats.title == "Buy 3 Office 365 E5 licenses"
    assert seats.link == pages.subscriptions
    cancel = cancel_task("t3", ProductRef.of(E3), 25, cloud=cloud, now=NOW)
    assert pages.subscriptions in cancel.checklist[0]
    assert all(
        cloud.admin_center_url in link or "go.microsoft.com" in link for link in (task.link, seats.link)
    )


def test_a_task_marked_done_is_not_done_until_verified() -> None:
    task = buy_task("t1", ProductRef.of(E5), 10, PaymentMethod.CARD, cloud=Cloud.WORLDWIDE, now=NOW)
    task.mark_done("bill@contoso.com", NOW)
    assert task.state.value == "open"
    assert task.marked_done_by == "bill@contoso.com"
    task.verified(NOW, "seen")
    assert task.state.value == "done"
    with pytest.raises(DomainError, match="already done"):
        task.mark_done("bill@contoso.com", NOW)


def test_a_task_of_a_stopped_workflow_is_cancelled_once() -> None:
    task = cancel_task("t1", ProductRef.of(E3), 25, cloud=Cloud.WORLDWIDE, now=NOW)
    task.cancel(NOW, "stopped")
    assert (task.state.value, task.note, task.completed_at) == ("cancelled", "stopped", NOW)
    task.verified(NOW, "too late")
    assert task.state.value == "cancelled", "a cancelled task is not verified afterwards"


def test_two_subscriptions_of_one_product_are_told_apart_by_the_shortest_end_of_their_ids() -> None:
    one = make_subscription(E3, sub_id="0e96fa4d-1285-5c99-8c3e-c97dc9dd740f")
    two = make_subscription(E3, sub_id="ec498425-891e-5d0d-995d-e9b325af740f")
    three = make_subscription(E3, sub_id="f46474e3-7a89-5cad-82e9-efce3830bd9c")
    both = [one, two, three]
    assert [id_suffix(s, both) for s in both] == ["d740f", "f740f", "bd9c"]
    assert by_id_suffix("D740F", both) == one, "any case"
    assert by_id_suffix("740f", both) is None, "two end with it: not a guess"
    assert by_id_suffix("9c", both) is None, "too short to be one"
    assert by_id_suffix(three.id, both) == three
