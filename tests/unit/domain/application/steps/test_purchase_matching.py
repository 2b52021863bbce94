"""R23: a purchase is completed by the subscription that fulfils it exactly (product and seats, then
the oldest request), one subscription per purchase, across polls in any order (R10, R19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.application.steps.observing import observe
from domain.model import Cloud, PaymentMethod, Subscription, SubscriptionStatus
from domain.workflows import (
    Choice,
    DirectorySnapshot,
    ProductRef,
    StepName,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
    fresh_steps,
)
from domain.workflows.checks import INEXACT_MATCH_AFTER, match_purchases, rival_purchases
from domain.workflows.notes import task_not_seen
from domain.workflows.tasks import buy_task
from tests.fakes import make_product, make_subscription

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=3)
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=14)


def bought_in_admin_center(
    workflow_id: str, seats: int, payment: PaymentMethod = PaymentMethod.CARD, *, minutes: int = 0
) -> Workflow:
    """A purchase handed to an admin (R19), requested `minutes` after NOW."""
    at = NOW + timedelta(minutes=minutes)
    flow = Workflow(
        id=workflow_id,
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=at,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.PURCHASE),
        seats=seats,
        payment_method=payment,
        known_subscriptions=("sub-e5",),
        ordered_at=at,
        deadline=at + timedelta(days=3),
    )
    flow.start(StepName.BUY, at)
    flow.wait(StepName.BUY, WaitFor.TASK, at, "Waiting for an admin to buy it.", (Choice.ABORT,))
    return flow


def listed(sub_id: str, seats: int, status: SubscriptionStatus = SubscriptionStatus.ENABLED) -> Subscription:
    return make_subscription(E5, total=seats, sub_id=sub_id, status=status)


class Tenant:
    """The scheduler's side: each workflow polled from one snapshot, with the other waiting purchases
    as rivals and the repository's unique take (`Workflow.purchase_id`)."""

    def __init__(self, *flows: Workflow) -> None:
        self.flows = list(flows)
        self.subscriptions: list[Subscription] = [make_subscription(E5, sub_id="sub-e5")]
        self.owner: dict[str, str] = {}

    def poll(self, now: datetime = NOW, order: tuple[str, ...] = ()) -> None:
        by_id = {f.id: f for f in self.flows}
        for flow in [by_id[i] for i in order] if order else self.flows:
            if flow.state.final:
                continue
            observe(
                flow,
                DirectorySnapshot(tuple(self.subscriptions)),
                now,
                taken={sub for sub, owner in self.owner.items() if owner != flow.id},
                take=lambda sub, flow=flow: self.owner.setdefault(sub, flow.id) == flow.id,
                rivals=rival_purchases(flow, self.flows),
            )


@pytest.mark.parametrize("polled", [("by-invoice", "by-card"), ("by-card", "by-invoice")])
def test_the_8_seat_subscription_completes_the_8_seat_purchase_even_when_it_appears_first_r23(
    polled: tuple[str, str],
) -> None:
    seven = bought_in_admin_center("by-invoice", 7, PaymentMethod.INVOICE)
    eight = bought_in_admin_center("by-card", 8, minutes=5)
    tenant = Tenant(seven, eight)

    tenant.subscriptions.append(listed("bought-8", 8))
    tenant.poll(order=polled)
    assert (eight.state, eight.subscription_id) == (WorkflowState.DONE, "bought-8")
    assert seven.state is WorkflowState.WAITING, "8 licenses are not the 7 asked for while the 8 wait"
    assert seven.subscription_id == ""

    tenant.subscriptions.append(listed("bought-7", 7, SubscriptionStatus.PENDING))  # its credit check
    tenant.poll(order=polled)
    assert seven.state is WorkflowState.WAITING
    tenant.subscriptions[-1] = listed("bought-7", 7)
    tenant.poll(order=polled)
    assert (seven.state, seven.subscription_id, seven.purchase_id) == (
        WorkflowState.DONE,
        "bought-7",
        "bought-7",
    )
    assert tenant.owner == {"bought-8": "by-card", "bought-7": "by-invoice"}


@pytest.mark.parametrize("polled", [("by-invoice", "by-card"), ("by-card", "by-invoice")])
def test_the_7_seat_subscription_first_completes_the_7_seat_purchase_r23(polled: tuple[str, str]) -> None:
    seven = bought_in_admin_center("by-invoice", 7, PaymentMethod.INVOICE)
    eight = bought_in_admin_center("by-card", 8, minutes=5)
    tenant = Tenant(seven, eight)

    tenant.subscriptions.append(listed("bought-7", 7))
    tenant.poll(order=polled)
    assert (seven.state, seven.subscription_id) == (WorkflowState.DONE, "bought-7")
    assert eight.state is WorkflowState.WAITING, "7 licenses cannot fulfil a purchase of 8"

    tenant.subscriptions.append(listed("bought-8", 8))
    tenant.poll(order=polled)
    assert (eight.state, eight.subscription_id) == (WorkflowState.DONE, "bought-8")


def test_a_listed_exact_match_not_active_yet_is_waited_for_not_swapped_for_a_bigger_one_r23() -> None:
    seven = bought_in_admin_center("seven", 7, PaymentMethod.INVOICE)
    eight = bought_in_admin_center("eight", 8, minutes=5)
    tenant = Tenant(seven, eight)
    tenant.subscriptions += [listed("bought-7", 7, SubscriptionStatus.PENDING), listed("bought-8", 8)]
    tenant.poll()
    assert seven.state is WorkflowState.WAITING
    assert eight.subscription_id == "bought-8"
    note = seven.step(StepName.BUY).note
    assert "Office 365 E5 (7 licenses) is listed, not active yet" in note
    assert "it is Pending: bought, and being set up" in note


def test_purchases_of_the_same_seats_take_their_subscriptions_oldest_first_r23() -> None:
    older, newer = bought_in_admin_center("older", 4), bought_in_admin_center("newer", 4, minutes=1)
    subscriptions = [listed("b", 4), listed("a", 4)]
    assert {k: s.id for k, s in match_purchases([newer, older], subscriptions).items()} == {
        "older": "a",
        "newer": "b",
    }
    assert match_purchases([newer, older], subscriptions[:1])["older"].id == "b"
    assert "newer" not in match_purchases([newer, older], subscriptions[:1])


def test_a_subscription_no_purchase_asked_for_exactly_waits_when_several_could_take_it_r23() -> None:
    seven = bought_in_admin_center("seven", 7)
    eight = bought_in_admin_center("eight", 8, minutes=5)
    ten = Subscription(
        id="bought-10",
        sku_id=E5.sku_id,
        part_number=E5.part_number,
        status=SubscriptionStatus.ENABLED,
        total_licenses=10,
        created=NOW + timedelta(hours=1),
    )
    tenant = Tenant(seven, eight)
    tenant.subscriptions.append(ten)
    tenant.poll(NOW + timedelta(hours=2))
    assert [seven.state, eight.state] == [WorkflowState.WAITING] * 2, "a purchase of 10 may still come"

    tenant.poll(ten.created + INEXACT_MATCH_AFTER)  # type: ignore[operator]
    assert (eight.state, eight.subscription_id) == (WorkflowState.DONE, "bought-10"), (
        "the purchase it covers with the fewest licenses to spare, though not the oldest"
    )
    assert seven.state is WorkflowState.WAITING


def test_a_subscription_no_purchase_asked_for_exactly_goes_at_once_to_the_only_one_it_covers_r23() -> None:
    seven = bought_in_admin_center("seven", 7)
    eight = bought_in_admin_center("eight", 8, minutes=5)
    nine = Subscription(
        id="bought-9",
        sku_id=E5.sku_id,
        part_number=E5.part_number,
        status=SubscriptionStatus.ENABLED,
        total_licenses=9,
        created=NOW,
    )
    tenant = Tenant(seven, eight)
    tenant.subscriptions += [listed("bought-8", 8), nine]
    tenant.poll()
    assert (eight.subscription_id, seven.subscription_id) == ("bought-8", "bought-9"), (
        "the 8 fulfil the purchase of 8 exactly; the 9 can then only go to the purchase of 7"
    )
    lone = bought_in_admin_center("lone", 5)
    assert match_purchases([lone], [listed("three", 3)]) == {}, "never fewer licenses than asked"
    assert match_purchases([lone], [nine])["lone"].id == "bought-9"


def test_a_subscription_listed_before_a_purchase_or_of_another_product_is_not_its_r23() -> None:
    flow = bought_in_admin_center("flow", 10)
    other_product = make_subscription(E3, total=10, sub_id="e3-new")
    assert match_purchases([flow], [make_subscription(E5, sub_id="sub-e5"), other_product]) == {}
    assert rival_purchases(flow, [flow]) == [], "not its own rival"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (SubscriptionStatus.WARNING, "it is Expired, in its grace period"),
        (SubscriptionStatus.SUSPENDED, "it is Suspended"),
        (SubscriptionStatus.LOCKED_OUT, "it is Locked out"),
        (SubscriptionStatus.PENDING, "it is Pending: bought, and being set up"),
    ],
)
def test_mark_done_says_a_listed_purchase_is_not_active_yet_with_its_status(
    status: SubscriptionStatus, words: str
) -> None:
    flow = bought_in_admin_center("flow", 4)
    task = buy_task("t1", flow.product, 4, PaymentMethod.CARD, cloud=Cloud.WORLDWIDE, now=NOW)
    seen = observe(flow, DirectorySnapshot((listed("bought-4", 4, status),)), NOW)
    shown = "in the directory Office 365 E5 (4 licenses) is listed, not active yet"
    assert seen.shown == f"{shown}: {words}"
    said = task_not_seen("Bill", task, NOW, seen.shown)
    assert "does not show it yet" not in said
    assert said.startswith("Bill marked “Buy 4 × Office 365 E5” done at 09:00 UTC, but in the directory")
    assert words in flow.step(StepName.BUY).note, "the checklist says it too"

    nothing = observe(bought_in_admin_center("other", 4), DirectorySnapshot(()), NOW)
    assert nothing.shown == (
        "the directory does not show it yet: no new Office 365 E5 subscription of 4 licenses is listed"
    )


def test_an_overdue_credit_check_escalates_without_anyone_pressing_mark_done_r10() -> None:
    flow = bought_in_admin_center("flow", 7, PaymentMethod.INVOICE)
    assert flow.deadline is not None
    assert not observe(flow, DirectorySnapshot(()), flow.deadline - timedelta(seconds=1)).escalated
    assert flow.step(StepName.BUY).note == "Waiting for an admin to buy it.", "the task's note stays"
    seen = observe(flow, DirectorySnapshot(()), flow.deadline)
    assert seen.escalated
    assert flow.escalated_at == flow.deadline
    assert flow.waiting_for is WaitFor.TASK, "the task stays open: it can still be done"
    note = flow.step(StepName.BUY).note
    assert note.startswith("Overdue: the credit check of up to 2 business days ended")
    assert "If it was not bought yet, the admin-center task says how." in note
    assert not observe(flow, DirectorySnapshot(()), flow.deadline + timedelta(hours=1)).escalated, "once"
