"""Storage for the subscription workflows on SQLite and PostgreSQL: the repositories, the simulated and
admin-task commerce, the holiday calendar. `tests/unit/fakes/test_workflow_repositories.py` runs the
repository tests on the in-memory fakes too, so the fakes keep the same contract."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.catalog import COMMON_PRODUCTS
from domain.errors import DomainError
from domain.model import AdminRole, Cloud, PaymentMethod, Subscription, SubscriptionStatus
from domain.ports import UnitOfWorkFactory
from domain.workflows import (
    AdminTask,
    Approval,
    ApprovalState,
    Choice,
    ProductRef,
    StepName,
    StepStatus,
    TaskKind,
    TaskState,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
    admin_center,
    fresh_steps,
)
from domain.workflows.tasks import buy_task
from storage.calendar import HolidayCalendar
from storage.commerce import AdminTaskCommerce, task_id_for
from storage.orm import SimSubscriptionRow
from storage.simulated import SimulatedDirectory, demo_subscription_id
from storage.simulated.commerce import SimulatedCommerce
from storage.simulated.products import O365_E5
from tests.fakes import FixedClock

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
E3 = ProductRef("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", "Office 365 E3")
E5 = ProductRef("c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM", "Office 365 E5")
AUDIO = ProductRef("0c266dff-15dd-4b49-8397-2bb16070ed52", "MCOMEETADV", "Microsoft 365 Audio Conferencing")


def upgrade(workflow_id: str = "wf-upgrade", created: datetime = NOW) -> Workflow:
    workflow = Workflow(
        id=workflow_id,
        kind=WorkflowKind.UPGRADE,
        requested_by="bill@contoso.com",
        created_at=created,
        product=E5,
        steps=fresh_steps(WorkflowKind.UPGRADE),
        updated_at=created,
        cloud=Cloud.CHINA,
        country="NL",
        source=ProductRef("1392051d-0cb9-4b7a-88d5-621fee5e8711", "ENTERPRISEWITHSCAL", "Office 365 E4"),
        targets=("all",),
        users_to_move=5,
        seats=8,
        payment_method=PaymentMethod.INVOICE,
        subscription_id="sub-e5",
        expected_total=11,
        known_subscriptions=("sub-old",),
        purchase_id=f"sub-e5-{workflow_id}",
        credit_check_days=3,
        ordered_at=created,
        deadline=created + timedelta(days=2),
        change_set_id="cs1",
        addons=(AUDIO,),
        follow_ups=("wf-2",),
        parent_id="wf-0",
        channel="C1",
        message_ts="1.2",
    )
    workflow.start(StepName.DECIDE, created)
    workflow.wait(
        StepName.DECIDE, WaitFor.CONFIRMATION, created, "recommended", (Choice.MANUAL, Choice.ADMIN_CENTER)
    )
    workflow.claim("replica-a", created, timedelta(minutes=5))
    return workflow


def test_a_workflow_round_trips_with_every_fact_and_step(uow_factory: UnitOfWorkFactory) -> None:
    original = upgrade()
    with uow_factory() as uow:
        uow.workflows.add(original)
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.workflows.get(original.id)
    assert loaded == original

    with uow_factory() as uow:
        locked = uow.workflows.get(original.id, for_update=True)
        assert locked is not None
        locked.complete(StepName.DECIDE, NOW + timedelta(minutes=1), "manual")
        locked.escalated_at = NOW + timedelta(days=3)
        locked.notes.append("a note")
        uow.workflows.save(locked)
        uow.commit()
    with uow_factory() as uow:
        saved = uow.workflows.get(original.id)
    assert saved == locked
    assert saved is not None
    assert saved.step(StepName.DECIDE).status is StepStatus.DONE


def test_a_workflow_not_committed_is_not_kept(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.workflows.add(upgrade())
    with uow_factory() as uow:
        assert uow.workflows.get("wf-upgrade") is None


def purchase(workflow_id: str) -> Workflow:
    workflow = Workflow(
        id=workflow_id,
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=NOW,
        product=E5,
        steps=fresh_steps(WorkflowKind.PURCHASE),
        seats=4,
    )
    workflow.start(StepName.BUY, NOW)
    workflow.wait(StepName.BUY, WaitFor.TASK, NOW, "an admin buys it", (Choice.ABORT,))
    return workflow


def test_a_subscription_is_the_purchase_of_one_workflow_only_r19(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        for workflow_id in ("wf-a", "wf-b"):
            uow.workflows.add(purchase(workflow_id))
        uow.commit()
    with uow_factory() as uow:
        assert uow.workflows.take_purchase("wf-a", "sub-new")
        assert uow.workflows.take_purchase("wf-a", "sub-new"), "its own, again"
        uow.commit()
    with uow_factory() as uow:
        assert not uow.workflows.take_purchase("wf-b", "sub-new")
        assert uow.workflows.purchases_taken(E5.sku_id, excluding="wf-b") == {"sub-new"}
        assert uow.workflows.purchases_taken(E5.sku_id, excluding="wf-a") == set()
        assert uow.workflows.purchases_taken(E3.sku_id, excluding="wf-b") == set()
        assert uow.workflows.take_purchase("wf-b", "sub-next")
        uow.commit()
    with uow_factory() as uow:
        taken = {w: uow.workflows.get(w) for w in ("wf-a", "wf-b")}
    assert {w: f.purchase_id for w, f in taken.items() if f is not None} == {
        "wf-a": "sub-new",
        "wf-b": "sub-next",
    }


def test_two_processes_taking_one_purchase_at_once_one_gets_it_r19(uow_factory: UnitOfWorkFactory) -> None:
    """Two replicas poll at once: the second waits for the first's transaction (PostgreSQL: the unique
    column; SQLite: one writer at a time) and is told it is taken, its own unit of work intact."""
    with uow_factory() as uow:
        for workflow_id in ("wf-a", "wf-b"):
            uow.workflows.add(purchase(workflow_id))
        uow.commit()
    second: list[bool] = []

    def other_replica() -> None:
        with uow_factory() as uow:
            workflow = uow.workflows.get("wf-b", for_update=True)
            assert workflow is not None
            second.append(uow.workflows.take_purchase("wf-b", "sub-new"))
            workflow.notes.append("polled")
            uow.workflows.save(workflow)
            uow.commit()

    with uow_factory() as uow:
        assert uow.workflows.take_purchase("wf-a", "sub-new")
        replica = threading.Thread(target=other_replica)
        replica.start()
        uow.commit()
    replica.join()
    assert second == [False]
    with uow_factory() as uow:
        other = uow.workflows.get("wf-b")
    assert other is not None
    assert (other.purchase_id, other.notes) == ("", ["polled"])


def test_workflows_are_found_by_state_and_by_what_they_wait_for(uow_factory: UnitOfWorkFactory) -> None:
    waiting = upgrade("wf-a", NOW)
    activation = upgrade("wf-b", NOW + timedelta(minutes=1))
    activation.complete(StepName.DECIDE, NOW, "manual")
    activation.start(StepName.TARGET, NOW)
    activation.complete(StepName.TARGET, NOW, "found")
    activation.wait(StepName.AWAIT_ACTIVE, WaitFor.ACTIVATION, NOW, "pending")
    running = upgrade("wf-c", NOW + timedelta(minutes=2))
    running.complete(StepName.DECIDE, NOW, "manual")
    running.start(StepName.TARGET, NOW)
    running.requested_by = "grace@contoso.com"
    with uow_factory() as uow:
        for workflow in (running, activation, waiting):
            uow.workflows.add(workflow)
        uow.commit()
    with uow_factory() as uow:
        assert [w.id for w in uow.workflows.waiting_for({WaitFor.ACTIVATION, WaitFor.SEATS})] == ["wf-b"]
        assert [w.id for w in uow.workflows.in_state(WorkflowState.WAITING)] == ["wf-a", "wf-b"]
        assert [w.id for w in uow.workflows.in_state(WorkflowState.RUNNING, WorkflowState.WAITING)] == [
            "wf-a",
            "wf-b",
            "wf-c",
        ]
        assert [w.id for w in uow.workflows.recent(2)] == ["wf-c", "wf-b"]
        assert [w.id for w in uow.workflows.recent(requested_by="GRACE@contoso.com")] == ["wf-c"]


def test_approvals_round_trip_and_the_pending_ones_are_listed(uow_factory: UnitOfWorkFactory) -> None:
    approval = Approval(
        id="ap1",
        workflow_id="wf-upgrade",
        product=E3,
        subscription_id="sub-e3",
        requested_by="bill@contoso.com",
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        holders=("Alice Wu", "Bob Smith"),
        channel="C-approvals",
        message_ts="3.4",
    )
    with uow_factory() as uow:
        uow.workflows.add(upgrade())
        uow.approvals.add(approval)
        uow.commit()
    with uow_factory() as uow:
        assert uow.approvals.get("ap1") == approval
        assert [a.id for a in uow.approvals.pending()] == ["ap1"]
        locked = uow.approvals.get("ap1", for_update=True)
        assert locked is not None
        locked.approve(
            "grace@contoso.com",
            frozenset({AdminRole.GLOBAL}),
            NOW,
            users_losing_access=2,
            accept_loss_of_access=True,
        )
        uow.approvals.save(locked)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.approvals.get("ap1")
        assert stored == locked
        assert stored is not None
        assert stored.state is ApprovalState.APPROVED
        assert stored.accepted_loss_of_access
        assert uow.approvals.pending() == []


def test_admin_tasks_round_trip_are_added_once_and_the_open_ones_are_listed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    task = buy_task("task-1", E5, 10, PaymentMethod.CARD, cloud=Cloud.WORLDWIDE, now=NOW)
    task.workflow_id, task.step, task.owner = "wf-upgrade", StepName.TARGET, "bill@contoso.com"
    with uow_factory() as uow:
        uow.workflows.add(upgrade())
        uow.tasks.add(task)
        uow.tasks.add(task)  # a step retried after a crash hands out the same task
        uow.commit()
    with uow_factory() as uow:
        assert uow.tasks.get("task-1") == task
        assert [t.id for t in uow.tasks.open()] == ["task-1"]
        locked = uow.tasks.get("task-1", for_update=True)
        assert locked is not None
        locked.mark_done("bill@contoso.com", NOW)
        locked.verified(NOW, "seen")
        uow.tasks.save(locked)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.tasks.get("task-1")
        assert stored is not None
        assert stored.state is TaskState.DONE
        assert uow.tasks.open() == []


# --- commerce -------------------------------------------------------------------------------------


def sim(seeded: sessionmaker[Session], clock: FixedClock) -> Callable[[str], Subscription]:
    def subscription(subscription_id: str) -> Subscription:
        with seeded() as session:
            return next(
                s for s in SimulatedDirectory(session, clock).subscriptions() if s.id == subscription_id
            )

    return subscription


def test_a_simulated_purchase_is_pending_until_its_delay_and_bought_once_per_reference(
    seeded: sessionmaker[Session], clock: FixedClock
) -> None:
    commerce = SimulatedCommerce(
        seeded, clock, activation_delay=timedelta(minutes=2), credit_check_delay=timedelta(days=1)
    )
    e5 = COMMON_PRODUCTS[O365_E5]
    card = commerce.buy(e5, 3, PaymentMethod.CARD, reference="wf1/buy")
    assert card.status is SubscriptionStatus.PENDING
    assert card.activates_at == clock.now() + timedelta(minutes=2)
    assert commerce.buy(e5, 3, PaymentMethod.CARD, reference="wf1/buy") == card, "a retry buys nothing more"
    with seeded() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(SimSubscriptionRow)
                .where(SimSubscriptionRow.id == card.subscription_id)
            )
            == 1
        )

    invoice = commerce.buy(e5, 3, PaymentMethod.INVOICE, reference="wf2/buy")
    assert invoice.activates_at == clock.now() + timedelta(days=1), "the credit check (R10)"
    clock.advance(timedelta(minutes=2))
    subscription = sim(seeded, clock)
    assert subscription(card.subscription_id).status is SubscriptionStatus.ENABLED
    assert subscription(invoice.subscription_id).status is SubscriptionStatus.PENDING


def test_simulated_seats_never_go_below_what_users_hold(
    seeded: sessionmaker[Session], clock: FixedClock
) -> None:
    commerce = SimulatedCommerce(seeded, clock)
    with seeded() as session:
        e5 = next(
            s
            for s in SimulatedDirectory(session, clock).subscriptions()
            if s.id == demo_subscription_id("e5")
        )
    assert commerce.change_seats(e5, 12, reference="r").total_licenses == 12
    with pytest.raises(DomainError, match="3 are assigned to users"):
        commerce.change_seats(e5, 2, reference="r2")


def test_a_simulated_cancellation_suspends_then_deletes_after_retention(
    seeded: sessionmaker[Session], clock: FixedClock
) -> None:
    commerce = SimulatedCommerce(seeded, clock, retention=timedelta(days=90))
    with seeded() as session:
        e3 = next(
            s
            for s in SimulatedDirectory(session, clock).subscriptions()
            if s.id == demo_subscription_id("e3")
        )
    receipt = commerce.cancel(e3, reference="wf/cancel")
    assert receipt.status is SubscriptionStatus.SUSPENDED
    assert "deleted on" in receipt.note
    after = sim(seeded, clock)(e3.id)
    assert after.next_lifecycle == clock.now() + timedelta(days=90)
    again = commerce.cancel(e3, reference="wf/cancel")
    assert again.status is SubscriptionStatus.SUSPENDED
    assert again.note == "it was not active"


@pytest.mark.parametrize("cloud", list(Cloud))
def test_on_a_real_tenant_commerce_is_an_admin_task_with_the_clouds_link(
    cloud: Cloud, clock: FixedClock
) -> None:
    commerce = AdminTaskCommerce(cloud, clock)
    task = commerce.buy(COMMON_PRODUCTS[O365_E5], 10, PaymentMethod.INVOICE, reference="wf1/buy")
    assert isinstance(task, AdminTask)
    assert (
        task.id
        == task_id_for("wf1/buy")
        == commerce.buy(COMMON_PRODUCTS[O365_E5], 10, PaymentMethod.INVOICE, reference="wf1/buy").id
    )
    assert (task.kind, task.link, task.state) == (TaskKind.BUY, admin_center(cloud).purchase, TaskState.OPEN)


# --- business days --------------------------------------------------------------------------------


def test_business_days_skip_weekends_and_the_countrys_public_holidays() -> None:
    calendar = HolidayCalendar()
    assert calendar.add_business_days(date(2026, 11, 25), 2, "US") == date(2026, 11, 30), "Thanksgiving"
    assert not calendar.is_business_day(date(2026, 11, 26), "US")
    assert calendar.is_business_day(date(2026, 11, 26), "NL")
    assert calendar.add_business_days(date(2026, 11, 25), 2, "NL") == date(2026, 11, 27)
    assert calendar.add_business_days(date(2026, 3, 13), 2, "US") == date(2026, 3, 17), "across a weekend"
    assert calendar.add_business_days(date(2026, 3, 14), 1, "US") == date(2026, 3, 16), "from a Saturday"
    assert calendar.add_business_days(date(2026, 3, 13), 0, "US") == date(2026, 3, 13)


def test_a_country_with_another_weekend_or_unknown_to_the_package() -> None:
    calendar = HolidayCalendar()
    assert not calendar.is_business_day(date(2026, 3, 13), "IL"), "a Friday in Israel"
    assert calendar.is_business_day(date(2026, 3, 15), "IL"), "a Sunday in Israel"
    assert calendar.add_business_days(date(2026, 3, 13), 1, "XX") == date(2026, 3, 16)
