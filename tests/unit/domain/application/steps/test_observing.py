"""Waiting workflows advance from one snapshot of the directory (R2, R10–R13, R19)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from domain.application.steps.observing import observe
from domain.model import PaymentMethod, Subscription, SubscriptionStatus
from domain.workflows import (
    EVERYONE,
    Choice,
    DirectorySnapshot,
    ProductRef,
    StepName,
    StepStatus,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
    fresh_steps,
)
from domain.workflows.polling import wants_products
from tests.fakes import make_product, make_subscription

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=14)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=3)


def purchase(payment: PaymentMethod = PaymentMethod.CARD) -> Workflow:
    flow = Workflow(
        id="buy1",
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.PURCHASE),
        seats=5,
        payment_method=payment,
        subscription_id="new-e5",
        deadline=NOW + timedelta(days=2),
    )
    flow.start(StepName.BUY, NOW)
    flow.complete(StepName.BUY, NOW, "ordered")
    return flow


def new_e5(status: SubscriptionStatus) -> Subscription:
    return make_subscription(E5, total=5, sub_id="new-e5", status=status)


def snapshot(*subscriptions: Subscription, products: bool = True) -> DirectorySnapshot:
    return DirectorySnapshot(tuple(subscriptions), (E3, E5) if products else None)


def test_a_pending_purchase_waits_then_completes_when_enabled() -> None:
    flow = purchase()
    seen = observe(flow, snapshot(new_e5(SubscriptionStatus.PENDING)), NOW)
    assert seen.changed
    assert not seen.completed
    step = flow.step(StepName.AWAIT_ACTIVE)
    assert (step.status, step.waiting_for, step.since) == (StepStatus.WAITING, WaitFor.ACTIVATION, NOW)
    assert "being set up" in step.note

    again = observe(flow, snapshot(new_e5(SubscriptionStatus.PENDING)), NOW + timedelta(minutes=5))
    assert not again.changed, "nothing new: nothing to save or tell"

    done = observe(flow, snapshot(new_e5(SubscriptionStatus.ENABLED)), NOW + timedelta(minutes=10))
    assert done.completed == [StepName.AWAIT_ACTIVE]
    assert flow.state is WorkflowState.DONE
    assert "listed and active (5 licenses)" in step.note


def test_an_overdue_invoice_purchase_escalates_once_with_the_support_link_r10() -> None:
    flow = purchase(PaymentMethod.INVOICE)
    observe(flow, snapshot(), NOW)
    assert flow.escalated_at is None
    late = NOW + timedelta(days=2, minutes=1)
    seen = observe(flow, snapshot(), late)
    assert seen.escalated
    assert flow.escalated_at == late
    note = flow.step(StepName.AWAIT_ACTIVE).note
    assert note.startswith(
        "Overdue: the credit check of up to 2 business days ended on Wed 25 Nov 2026 end of day"
    )
    assert "Contact support (https://admin.microsoft.com/#/support)" in note
    assert not observe(flow, snapshot(), late + timedelta(hours=1)).escalated
    assert flow.escalated_at == late
    assert flow.state is WorkflowState.WAITING, "it may still arrive: the bot keeps watching"


def switch_waiting_for_activation(*, targets: tuple[str, ...] = (EVERYONE,)) -> Workflow:
    flow = Workflow(
        id="sw1",
        kind=WorkflowKind.SWITCH,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.SWITCH),
        source=ProductRef.of(E3),
        targets=targets,
        users_to_move=14,
        seats=14,
        subscription_id="new-e5",
    )
    for name in (StepName.DECIDE, StepName.TARGET):
        flow.start(name, NOW)
        flow.complete(name, NOW, "done")
    return flow


def test_a_switch_waits_until_both_subscriptions_are_listed_and_active_r11() -> None:
    flow = switch_waiting_for_activation()
    e3 = make_subscription(E3)
    observe(flow, snapshot(e3), NOW)
    assert flow.waiting_for is WaitFor.ACTIVATION
    assert "No new Office 365 E5 subscription is listed yet" in flow.step(StepName.AWAIT_ACTIVE).note

    expired_e3 = replace(e3, status=SubscriptionStatus.WARNING)
    observe(flow, snapshot(expired_e3, new_e5(SubscriptionStatus.ENABLED)), NOW)
    assert flow.waiting_for is WaitFor.ACTIVATION
    assert "Office 365 E3 is no longer listed as active" in flow.step(StepName.AWAIT_ACTIVE).note

    seen = observe(flow, snapshot(e3, new_e5(SubscriptionStatus.ENABLED)), NOW)
    assert seen.completed[0] is StepName.AWAIT_ACTIVE
    assert "Both are listed and active" in flow.step(StepName.AWAIT_ACTIVE).note


def test_seats_are_checked_from_the_products_or_asked_for_r2() -> None:
    flow = switch_waiting_for_activation()
    e3, e5 = make_subscription(E3), new_e5(SubscriptionStatus.ENABLED)
    seen = observe(flow, snapshot(e3, e5, products=False), NOW)
    assert seen.completed == [StepName.AWAIT_ACTIVE]
    assert flow.step(StepName.CHECK_SEATS).status is StepStatus.PENDING, "no products read: left for later"

    observe(flow, snapshot(e3, e5), NOW)
    step = flow.step(StepName.CHECK_SEATS)
    assert step.note == "Not enough Office 365 E5 licenses: need 14, 7 free: buy 7 more."
    assert step.choices == (Choice.BUY_SEATS, Choice.ABORT)

    more = replace(E5, seats=replace(E5.seats, enabled=17))
    seen = observe(flow, DirectorySnapshot((e3, e5), (E3, more)), NOW)
    assert seen.completed == [StepName.CHECK_SEATS]
    assert flow.current is not None
    assert flow.current.name is StepName.PREVIEW


def test_a_step_waiting_for_an_admin_task_completes_only_when_the_directory_shows_it_r19() -> None:
    flow = Workflow(
        id="buy2",
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.PURCHASE),
        seats=5,
        known_subscriptions=("old-e5",),
    )
    flow.start(StepName.BUY, NOW)
    flow.wait(StepName.BUY, WaitFor.TASK, NOW, "an admin buys it", (Choice.ABORT,))
    old = make_subscription(E5, sub_id="old-e5")
    assert not observe(flow, snapshot(old), NOW).changed
    assert flow.step(StepName.BUY).note == "an admin buys it"
    too_few = make_subscription(E5, total=2, sub_id="bought-e5")
    assert not observe(flow, snapshot(old, too_few), NOW).changed

    bought = make_subscription(E5, total=5, sub_id="bought-e5")
    seen = observe(flow, snapshot(old, bought), NOW)
    assert seen.completed == [StepName.BUY, StepName.AWAIT_ACTIVE]
    assert flow.subscription_id == "bought-e5"
    assert flow.state is WorkflowState.DONE


def buy_task_waiting(workflow_id: str) -> Workflow:
    flow = Workflow(
        id=workflow_id,
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.PURCHASE),
        seats=4,
    )
    flow.start(StepName.BUY, NOW)
    flow.wait(StepName.BUY, WaitFor.TASK, NOW, "an admin buys it", (Choice.ABORT,))
    return flow


def test_one_purchase_in_the_admin_center_completes_one_workflow_r19() -> None:
    taken: dict[str, str] = {}  # subscription → workflow, as the repository keeps it

    def poll(flow: Workflow, *subscriptions: Subscription) -> None:
        others = {sub for sub, owner in taken.items() if owner != flow.id}
        observe(
            flow,
            snapshot(*subscriptions),
            NOW,
            taken=others,
            take=lambda sub: taken.setdefault(sub, flow.id) == flow.id,
        )

    first, second = buy_task_waiting("buy-a"), buy_task_waiting("buy-b")
    bought = make_subscription(E5, total=4, sub_id="bought-1")
    poll(first, bought)
    poll(second, bought)
    assert (first.state, first.purchase_id, first.subscription_id) == (
        WorkflowState.DONE,
        "bought-1",
        "bought-1",
    )
    assert second.state is WorkflowState.WAITING, "the one purchase is the first workflow's"
    assert (second.purchase_id, second.subscription_id) == ("", "")

    again = make_subscription(E5, total=4, sub_id="bought-2")
    poll(second, bought, again)
    assert (second.state, second.purchase_id) == (WorkflowState.DONE, "bought-2")


def test_a_purchase_taken_meanwhile_by_another_process_is_skipped_r19() -> None:
    flow = buy_task_waiting("buy-a")
    first = make_subscription(E5, total=4, sub_id="bought-1")
    second = make_subscription(E5, total=4, sub_id="bought-2")
    tried: list[str] = []

    def take(sub: str) -> bool:
        tried.append(sub)
        return sub != "bought-1"  # another replica committed bought-1 after our read

    observe(flow, snapshot(first), NOW, take=take)
    assert flow.state is WorkflowState.WAITING
    observe(flow, snapshot(first, second), NOW, take=take)
    assert (flow.state, flow.purchase_id) == (WorkflowState.DONE, "bought-2")
    assert tried == ["bought-1", "bought-1", "bought-2"]


def test_a_seat_change_is_done_when_the_subscription_shows_the_new_number() -> None:
    flow = Workflow(
        id="seats1",
        kind=WorkflowKind.SEATS,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E5),
        steps=fresh_steps(WorkflowKind.SEATS),
        seats=3,
        subscription_id="sub-e5",
        expected_total=13,
    )
    flow.start(StepName.CHANGE_SEATS, NOW)
    flow.complete(StepName.CHANGE_SEATS, NOW, "ordered")
    observe(flow, snapshot(make_subscription(E5, total=10, sub_id="sub-e5")), NOW)
    assert flow.waiting_for is WaitFor.SEATS
    assert "to show 13 licenses (it shows 10)" in flow.step(StepName.AWAIT_SEATS).note
    observe(flow, snapshot(make_subscription(E5, total=13, sub_id="sub-e5")), NOW)
    assert flow.state is WorkflowState.DONE


def test_a_cancellation_is_verified_when_the_subscription_is_no_longer_enabled_r13() -> None:
    flow = Workflow(
        id="cancel1",
        kind=WorkflowKind.CANCEL,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=ProductRef.of(E3),
        steps=fresh_steps(WorkflowKind.CANCEL),
        subscription_id="sub-e3",
    )
    for name in (StepName.CONFIRM, StepName.APPROVAL, StepName.CANCEL):
        flow.start(name, NOW)
        flow.complete(name, NOW, "done")
    observe(flow, snapshot(make_subscription(E3, sub_id="sub-e3")), NOW)
    assert flow.waiting_for is WaitFor.CANCELLATION
    suspended = make_subscription(E3, sub_id="sub-e3", status=SubscriptionStatus.SUSPENDED)
    assert observe(flow, snapshot(suspended), NOW).completed == [StepName.VERIFY]
    assert "no longer active: Suspended" in flow.step(StepName.VERIFY).note
    assert flow.state is WorkflowState.DONE


def test_only_steps_decided_by_the_directory_are_advanced() -> None:
    flow = switch_waiting_for_activation()
    for name in (StepName.AWAIT_ACTIVE, StepName.CHECK_SEATS):
        flow.start(name, NOW)
        flow.complete(name, NOW, "done")
    assert not observe(flow, snapshot(), NOW).changed, "a preview is planned by the services"
    assert wants_products(flow)
    assert not wants_products(purchase())
