"""The subscription services on the in-memory fakes (the same the Slack tests can use): what the
notifier hears and when, refusals audited, admin tasks, reminders."""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.application.licensing import Licensing
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeState
from domain.commands import (
    BuySubscription,
    CancelSubscription,
    ChangeSeats,
    DecideStep,
    MarkTaskDone,
    SwitchPlans,
)
from domain.errors import (
    AmbiguousProduct,
    AmbiguousSubscription,
    DomainError,
    NotAuthorized,
    StepNotOpen,
    UnknownWorkflow,
)
from domain.model import AdminRole, PaymentMethod, Subscription, SubscriptionStatus
from domain.workflows import (
    Choice,
    ReminderKind,
    StepName,
    StepStatus,
    TaskState,
    WaitFor,
    Workflow,
    WorkflowState,
    WorkflowStatus,
)
from tests.fakes import (
    SKU_E3,
    SKU_E5,
    FixedClock,
    InMemoryCommerce,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    InMemoryWorkflows,
    RecordingNotifier,
    SimulatedCrash,
    make_product,
    make_subscription,
    make_user,
)

BILL = "bill@contoso.com"


class WeekdaysOnly:
    """A `BusinessCalendar` without holidays (the holidays adapter is tested in storage)."""

    def is_business_day(self, day: date, country: str) -> bool:
        return day.weekday() < 5

    def add_business_days(self, start: date, days: int, country: str) -> date:
        day, counted = start, 0
        while counted < days:
            day += timedelta(days=1)
            counted += self.is_business_day(day, country)
        return day


@dataclass
class World:
    subscriptions: SubscriptionWorkflows
    directory: InMemoryDirectory
    commerce: InMemoryCommerce
    notifier: RecordingNotifier
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock


class SlackIsDown(RecordingNotifier):
    def workflow_changed(self, status: WorkflowStatus) -> None:
        raise RuntimeError(f"cannot post {status.workflow.id}: slack is down")


def world(*, tasks: bool = False, notifier: RecordingNotifier | None = None, e5_bought: bool = True) -> World:
    e3, e5 = make_product("ENTERPRISEPACK", seats=10), make_product("ENTERPRISEPREMIUM", seats=5)
    directory = InMemoryDirectory(
        products=[e3, e5] if e5_bought else [e3],
        users=[
            make_user("bill", SKU_E5),
            make_user("grace", SKU_E5),
            make_user("lena", SKU_E3),
            make_user("alice", SKU_E3),
        ],
        subscriptions=[make_subscription(e3), make_subscription(e5)]
        if e5_bought
        else [make_subscription(e3)],
        roles={
            "bill@contoso.com": [AdminRole.BILLING],
            "grace@contoso.com": [AdminRole.GLOBAL],
            "lena@contoso.com": [AdminRole.LICENSE],
        },
    )
    clock = FixedClock()
    uow = InMemoryUnitOfWorkFactory()
    commerce = InMemoryCommerce(directory, clock, tasks=tasks)
    notifier = notifier or RecordingNotifier()
    catalog = ProductCatalog()
    subscriptions = subscription_workflows(
        uow,
        directory,
        clock,
        catalog,
        licensing=Licensing(uow, directory, clock, catalog),
        commerce=commerce,
        calendar=WeekdaysOnly(),
        notifier=notifier,
    )
    return World(subscriptions, directory, commerce, notifier, uow, clock)


def test_the_notifier_hears_each_change_after_it_is_committed() -> None:
    w = world()
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))
    told = [s for s in w.notifier.named("workflow_changed") if isinstance(s, WorkflowStatus)]
    assert {s.workflow.id for s in told} == {status.workflow.id}
    assert told[0].workflow.state is WorkflowState.RUNNING, "told when it starts: post the message"
    assert told[-1].workflow.waiting_for is WaitFor.ACTIVATION
    stored = w.uow.workflow(status.workflow.id)
    assert stored is not None
    assert stored.state is WorkflowState.WAITING

    w.subscriptions.decisions.attach_message(status.workflow.id, "C1", "111.222")
    w.commerce.activate(status.workflow.subscription_id)
    w.subscriptions.ticks.tick()
    last = w.notifier.named("workflow_changed")[-1]
    assert isinstance(last, WorkflowStatus)
    assert (last.workflow.state, last.workflow.channel, last.workflow.message_ts) == (
        WorkflowState.DONE,
        "C1",
        "111.222",
    )


def test_a_failing_notifier_never_stops_a_workflow() -> None:
    w = world(notifier=SlackIsDown())
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))
    w.commerce.activate(status.workflow.subscription_id)
    w.subscriptions.ticks.tick()
    [final] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert final.workflow.state is WorkflowState.DONE


def test_refusals_are_audited_and_unknown_workflows_say_so() -> None:
    w = world()
    with pytest.raises(NotAuthorized):
        w.subscriptions.starts.buy(BuySubscription("lena@contoso.com", "E5", 2))
    with pytest.raises(DomainError, match="at least one license"):
        w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 0))
    assert [(e.actor, e.result, e.target) for e in w.uow.audit_entries] == [
        ("lena@contoso.com", AuditResult.REFUSED, "E5"),
        (BILL, AuditResult.REFUSED, "E5"),
    ]
    with pytest.raises(UnknownWorkflow):
        w.subscriptions.decisions.decide(DecideStep(BILL, "nope", "preview", "confirm"))
    with pytest.raises(DomainError, match="Unknown step or choice"):
        w.subscriptions.decisions.decide(DecideStep(BILL, "nope", "preview", "frobnicate"))


def test_an_admin_task_is_verified_only_by_the_directory_and_reminded_to_its_owner() -> None:
    w = world(tasks=True)
    status = w.subscriptions.starts.change_seats(ChangeSeats(BILL, "E5", 3))
    task = status.task
    assert status.workflow.waiting_for is WaitFor.TASK
    assert task is not None
    assert task.title == "Buy 3 Office 365 E5 licenses"
    assert [s.workflow.id for s in w.subscriptions.queries.waiting_on(BILL).tasks] == [status.workflow.id]

    marked = w.subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, task.id))
    assert marked.workflow.waiting_for is WaitFor.TASK, "an admin's word is not enough"
    w.clock.advance(timedelta(days=1))
    reminders = [r for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.TASK_WAITING]
    assert [(r.to, r.text) for r in reminders] == [
        (BILL, f"Admin-center task still open: Buy 3 Office 365 E5 licenses ({task.link}).")
    ]

    e5 = next(s for s in w.directory.subscriptions() if s.sku_id == SKU_E5)
    w.directory.put_subscription(replace(e5, total_licenses=8))  # an admin added them in the admin center
    assert w.subscriptions.ticks.tick().advanced == (status.workflow.id,)
    [final] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert final.workflow.state is WorkflowState.DONE
    assert final.task is not None
    assert final.task.state is TaskState.DONE


def test_a_choice_waiting_is_reminded_to_the_requester_once_a_day() -> None:
    w = world()
    status = w.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com",)))
    assert status.choices == (Choice.CONFIRM, Choice.ABORT)
    assert [s.workflow.id for s in w.subscriptions.queries.waiting_on(BILL).confirmations] == [
        status.workflow.id
    ]
    w.clock.advance(timedelta(days=1, minutes=1))
    [reminder] = [
        r for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.CONFIRMATION_WAITING
    ]
    assert reminder.to == BILL
    assert "waits for your decision: Preview and confirm" in reminder.text
    assert not [
        r for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.CONFIRMATION_WAITING
    ]


def test_aborting_stops_the_workflow_and_its_preview() -> None:
    w = world()
    status = w.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com",)))
    workflow_id = status.workflow.id
    stopped = w.subscriptions.decisions.decide(
        DecideStep(BILL, workflow_id, StepName.PREVIEW.value, Choice.ABORT.value)
    )
    assert stopped.workflow.state is WorkflowState.CANCELLED
    assert stopped.change_set is not None
    assert stopped.change_set.state is ChangeState.CANCELLED
    assert w.directory.writes == []
    with pytest.raises(StepNotOpen):
        w.subscriptions.decisions.decide(
            DecideStep(BILL, workflow_id, StepName.PREVIEW.value, Choice.CONFIRM.value)
        )


def test_a_product_with_several_active_subscriptions_asks_which_to_cancel() -> None:
    w = world()
    w.directory.put_subscription(
        make_subscription(make_product("ENTERPRISEPACK", seats=3), sub_id="second-e3")
    )
    with pytest.raises(AmbiguousSubscription) as asked:
        w.subscriptions.starts.request_cancel(CancelSubscription(BILL, "E3"))
    assert "3 licenses, Active (code `d-e3`)" in asked.value.problem, "told apart by seats, then the id's end"
    assert "second-e3" not in asked.value.message
    status = w.subscriptions.starts.request_cancel(CancelSubscription(BILL, "D-E3"))
    assert status.workflow.subscription_id == "second-e3"
    with pytest.raises(DomainError, match="already being cancelled"):
        w.subscriptions.starts.request_cancel(CancelSubscription(BILL, "second-e3"))
    gone = make_subscription(
        make_product("ENTERPRISEPACK"), sub_id="gone-e3", status=SubscriptionStatus.SUSPENDED
    )
    w.directory.put_subscription(gone)
    with pytest.raises(DomainError, match="nothing to cancel"):
        w.subscriptions.starts.request_cancel(CancelSubscription(BILL, "gone-e3"))


def test_an_invoice_deadline_counts_business_days_from_the_purchase() -> None:
    w = world()
    assert w.clock.now().weekday() == 0, "FixedClock starts on a Monday"
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 1, PaymentMethod.INVOICE))
    assert status.workflow.deadline == datetime.combine(
        w.clock.now().date() + timedelta(days=3), time(0), UTC
    )


def test_a_step_running_in_one_thread_is_not_run_by_another_until_its_lease_expires() -> None:
    w = world()
    status = w.subscriptions.starts.start_switch(
        SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com", "lena@contoso.com"))
    )
    w.directory.crash_once_after(1)
    with pytest.raises(SimulatedCrash):
        w.subscriptions.decisions.decide(
            DecideStep(BILL, status.workflow.id, StepName.PREVIEW.value, Choice.CONFIRM.value)
        )

    from_the_scheduler: list[list[str]] = []
    scheduler = threading.Thread(target=lambda: from_the_scheduler.append(w.subscriptions.ticks.resume()))
    scheduler.start()
    scheduler.join()
    assert from_the_scheduler == [[]], "the request's thread still holds the step"

    assert w.subscriptions.ticks.resume() == [status.workflow.id], "the thread that holds it goes on"
    [final] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert final.workflow.step(StepName.REASSIGN).status is StepStatus.DONE
    assert [w.directory.writes_for(u) for u in ("alice@contoso.com", "lena@contoso.com")] == [1, 1]


def _new_e5(sub_id: str, seats: int, status: SubscriptionStatus = SubscriptionStatus.ENABLED) -> Subscription:
    """A subscription an admin bought in the admin center (R19)."""
    return make_subscription(make_product("ENTERPRISEPREMIUM"), total=seats, sub_id=sub_id, status=status)


@pytest.mark.parametrize("appear", [(8, 7), (7, 8)])
def test_two_purchases_of_one_product_each_complete_with_their_own_subscription_r23(
    appear: tuple[int, int],
) -> None:
    w = world(tasks=True)
    by_invoice = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 7, PaymentMethod.INVOICE)).workflow.id
    w.clock.advance(timedelta(minutes=1))
    by_card = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 8)).workflow.id
    purchase = {7: by_invoice, 8: by_card}

    first, second = appear
    w.directory.put_subscription(_new_e5(f"bought-{first}", first))
    assert w.subscriptions.ticks.tick().advanced == (purchase[first],)
    [other] = w.subscriptions.queries.status(BILL, purchase[second])
    assert other.workflow.waiting_for is WaitFor.TASK, "not completed by a subscription not its own"

    w.directory.put_subscription(_new_e5(f"bought-{second}", second))
    assert w.subscriptions.ticks.tick().advanced == (purchase[second],)
    for seats, workflow_id in purchase.items():
        [done] = w.subscriptions.queries.status(BILL, workflow_id)
        assert done.workflow.state is WorkflowState.DONE
        assert (done.workflow.subscription_id, done.workflow.purchase_id) == (f"bought-{seats}",) * 2
        assert done.task is not None
        assert done.task.state is TaskState.DONE


def test_mark_done_on_a_purchase_listed_but_not_active_says_its_status() -> None:
    w = world(tasks=True)
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 4))
    assert status.task is not None
    w.directory.put_subscription(_new_e5("bought-4", 4, SubscriptionStatus.SUSPENDED))
    marked = w.subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, status.task.id))
    note = marked.workflow.step(StepName.BUY).note
    assert "does not show it yet" not in note
    assert (
        "but in the directory Office 365 E5 (4 licenses) is listed, not active yet: it is Suspended" in note
    )
    assert marked.workflow.waiting_for is WaitFor.TASK


def test_an_invoice_purchase_task_counts_its_credit_check_from_the_request_r10() -> None:
    w = world(tasks=True)
    requested = w.clock.now()
    assert requested.weekday() == 0, "FixedClock starts on a Monday"
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 7, PaymentMethod.INVOICE))
    thursday = datetime.combine(requested.date() + timedelta(days=3), time(0), UTC)
    assert (status.workflow.ordered_at, status.workflow.deadline) == (requested, thursday)
    assert status.task is not None

    w.clock.set(thursday - timedelta(minutes=1))
    w.subscriptions.ticks.tick()
    w.clock.set(thursday)
    assert w.subscriptions.ticks.tick().advanced == (status.workflow.id,), "nobody pressed Mark done"
    [overdue] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert overdue.workflow.escalated_at == thursday
    assert overdue.workflow.waiting_for is WaitFor.TASK
    assert (
        "Overdue: the credit check of up to 2 business days ended" in overdue.workflow.step(StepName.BUY).note
    )
    assert w.uow.audit_entries[-1].action.endswith("escalate: purchase overdue")
    assert [r.to for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.ESCALATION] == [
        BILL
    ]

    w.subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, status.task.id))
    [still] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert still.workflow.deadline == thursday, "Mark done does not restart the credit check"


def test_a_purchase_task_started_without_a_deadline_counts_it_from_its_task_with_its_own_days_r10() -> None:
    w = world(tasks=True)
    monday = w.clock.now()
    status = w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 7, PaymentMethod.INVOICE))
    stored = w.uow.committed.workflows[status.workflow.id]
    stored.deadline, stored.ordered_at, stored.credit_check_days = None, None, 3  # an older version's
    friday = datetime.combine(monday.date() + timedelta(days=4), time(0), UTC)
    w.clock.set(friday - timedelta(minutes=1))
    assert w.subscriptions.ticks.tick().advanced == ()
    w.clock.set(friday)
    assert w.subscriptions.ticks.tick().advanced == (status.workflow.id,)
    [overdue] = w.subscriptions.queries.status(BILL, status.workflow.id)
    assert overdue.workflow.deadline == friday, "Monday's request + 3 business days, not the settings' 2"
    assert overdue.workflow.escalated_at == friday


def test_a_poll_with_nothing_new_reads_no_rival_purchases_r23(monkeypatch: pytest.MonkeyPatch) -> None:
    w = world(tasks=True)
    for seats in (3, 4, 5):
        w.subscriptions.starts.buy(BuySubscription(BILL, "E5", seats))
    reads: list[frozenset[WaitFor]] = []
    original = InMemoryWorkflows.waiting_for

    def counted(self: InMemoryWorkflows, waits: Collection[WaitFor]) -> list[Workflow]:
        reads.append(frozenset(waits))
        return original(self, waits)

    monkeypatch.setattr(InMemoryWorkflows, "waiting_for", counted)
    w.clock.advance(timedelta(minutes=10))
    w.subscriptions.ticks.tick()
    assert len(reads) == 1, "the tick's own read: no subscription is new, so no purchase needs rivals"
    w.directory.put_subscription(_new_e5("bought-4", 4))
    w.clock.advance(timedelta(minutes=10))
    assert len(w.subscriptions.ticks.tick().advanced) == 1


def test_an_alias_the_tenant_does_not_have_yet_is_the_product_the_source_switches_to() -> None:
    """ "E5" fits Office 365 E5 and Microsoft 365 E5; the tenant has neither. Office 365 E3 switches to
    both (Microsoft's switch paths), and to Office 365 E5 in its own family: no question asked."""
    w = world(e5_bought=False)
    status = w.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com",)))
    assert (status.workflow.product.part_number, status.workflow.product.display_name) == (
        "ENTERPRISEPREMIUM",
        "Office 365 E5",
    )


def test_an_alias_no_switch_path_narrows_is_still_a_question() -> None:
    w = world(e5_bought=False)
    with pytest.raises(AmbiguousProduct, match="could mean several products") as asked:
        w.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "F3"))
    assert "Say which one by its full name" in asked.value.fix
