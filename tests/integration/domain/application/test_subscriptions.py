"""The subscription workflows end to end, on the simulated tenant in SQLite and PostgreSQL, with an
injected clock (no sleeping): switch plans (some users, everyone), the E4 upgrade, a purchase by
invoice across a weekend, cancelling with approval, a crash in the middle of a reassignment, and the
poll's constant cost in directory reads."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.application.licensing import Licensing
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeOutcome, UserChange
from domain.commands import (
    ApproveCancellation,
    BuySubscription,
    CancelSubscription,
    ChangeSeats,
    DecideStep,
    MarkTaskDone,
    RejectCancellation,
    SwitchPlans,
    UpgradeFromE4,
)
from domain.errors import (
    ApprovalNotPending,
    ApproverNotAllowed,
    DomainError,
    NotAuthorized,
    SeatsInUse,
    StepNotOpen,
    UpgradeNotDirect,
    UsersStillLicensed,
)
from domain.model import Cloud, PaymentMethod, PurchaseChannel, SubscriptionStatus
from domain.ports import Commerce
from domain.workflows import (
    ApprovalState,
    Choice,
    Reminder,
    ReminderKind,
    StepName,
    StepStatus,
    TaskState,
    WaitFor,
    WorkflowState,
    WorkflowStatus,
)
from domain.workflows.settings import WorkflowSettings
from storage.calendar import HolidayCalendar
from storage.commerce import AdminTaskCommerce
from storage.orm import SimLicenseEventRow, SimSubscriptionRow
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_subscription_id, demo_user_id
from storage.simulated.commerce import SimulatedCommerce
from storage.simulated.products import AUDIO_CONFERENCING, DEMO_PRODUCTS, O365_E3, O365_E4, O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock, RecordingNotifier, SimulatedCrash

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E4 = DEMO_PRODUCTS[O365_E4].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
AUDIO = DEMO_PRODUCTS[AUDIO_CONFERENCING].sku_id
BILL = "bill@contoso.com"
GRACE = "grace@contoso.com"
BEATRICE = "beatrice@contoso.com"
LENA = "lena@contoso.com"
E3_HOLDERS = 14
E3_MOVABLE = 11
"""Holders of E3 a switch moves: Ivan, Yara and Zoe get it only from the group All Staff E3 (R21)."""
FROM_GROUP = {f"{who}@contoso.com" for who in ("ivan", "judy", "yara", "zoe")}
"""Who still has E3 after everyone is switched: the group All Staff E3 gives it to them (R21)."""


class CountingDirectory:
    """The simulated tenant, counting the reads a poll makes (`subscriptions`, `products`)."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: FixedClock, counts: Counter[str], crash: CrashPlan
    ) -> None:
        self._inner = SimulatedTenant(sessions, clock)
        self._sessions = sessions
        self._clock = clock
        self._counts = counts
        self._crash = crash

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def subscriptions(self) -> Any:
        self._counts["subscriptions"] += 1
        return self._inner.subscriptions()

    def products(self) -> Any:
        self._counts["products"] += 1
        return self._inner.products()

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:
        if not self._crash.now():
            return self._inner.apply(changes, verify=verify)
        with self._sessions() as session:
            SimulatedDirectory(session, self._clock).apply(changes[: self._crash.after_writes], verify=verify)
            if self._crash.keep_writes:
                session.commit()
        raise SimulatedCrash(f"killed after {self._crash.after_writes} writes of a batch of {len(changes)}")


@dataclass
class CrashPlan:
    """Kill the process once, in the middle of a batch: after `after_writes` users of the batch were
    written, before any outcome is recorded. Their writes roll back with the unit of work, or, with
    `keep_writes`, stay committed as they would on Graph, where each write is a request of its own."""

    on_call: int | None = None
    after_writes: int = 0
    keep_writes: bool = False
    calls: int = 0

    def now(self) -> bool:
        """Whether this `apply` call is the one to die in (counted once per call)."""
        self.calls += 1
        if self.on_call is None or self.calls != self.on_call:
            return False
        self.on_call = None
        return True


@dataclass
class Bot:
    """The services over the real unit of work, and what a test needs to look at the tenant."""

    sessions: sessionmaker[Session]
    clock: FixedClock
    uow: SqlUnitOfWorkFactory
    directory: CountingDirectory
    licensing: Licensing
    subscriptions: SubscriptionWorkflows
    notifier: RecordingNotifier
    counts: Counter[str]
    crash: CrashPlan
    settings: WorkflowSettings = field(default_factory=WorkflowSettings)

    def decide(
        self, status: WorkflowStatus | str, step: StepName, choice: Choice, who: str = BILL
    ) -> WorkflowStatus:
        workflow_id = status if isinstance(status, str) else status.workflow.id
        return self.subscriptions.decisions.decide(DecideStep(who, workflow_id, step.value, choice.value))

    def status(self, workflow_id: str) -> WorkflowStatus:
        [status] = self.subscriptions.queries.status(BILL, workflow_id)
        return status

    def restart(self, commerce: Commerce | None = None) -> SubscriptionWorkflows:
        """Another process (a new lease owner) on the same database."""
        return make_subscriptions(self, commerce, owner="restarted")

    def holders(self, sku: str) -> set[str]:
        with self.sessions() as session:
            return {
                u.user_principal_name for u in SimulatedDirectory(session, self.clock).users_with_product(sku)
            }

    def subscription(self, subscription_id: str) -> Any:
        with self.sessions() as session:
            return next(
                s for s in SimulatedDirectory(session, self.clock).subscriptions() if s.id == subscription_id
            )

    def product(self, sku: str) -> Any:
        with self.sessions() as session:
            return next(p for p in SimulatedDirectory(session, self.clock).products() if p.sku_id == sku)

    def audit(self) -> list[AuditEntry]:
        with self.uow() as uow:
            return uow.audit.recent(limit=1000)

    def events(self) -> list[SimLicenseEventRow]:
        with self.sessions() as session:
            return list(session.scalars(select(SimLicenseEventRow).order_by(SimLicenseEventRow.seq)))


def make_subscriptions(
    bot: Bot, commerce: Commerce | None = None, owner: str | None = None
) -> SubscriptionWorkflows:
    return subscription_workflows(
        bot.uow,
        bot.directory,
        bot.clock,
        ProductCatalog(),
        licensing=bot.licensing,
        commerce=commerce
        or SimulatedCommerce(
            bot.sessions,
            bot.clock,
            activation_delay=timedelta(minutes=2),
            credit_check_delay=timedelta(days=10),
        ),
        calendar=HolidayCalendar(),
        notifier=bot.notifier,
        settings=bot.settings,
        owner=owner,
    )


@pytest.fixture
def bot(seeded: sessionmaker[Session], clock: FixedClock) -> Bot:
    counts: Counter[str] = Counter()
    crash = CrashPlan()

    directory = CountingDirectory(seeded, clock, counts, crash)
    uow = SqlUnitOfWorkFactory(seeded)
    licensing = Licensing(uow, directory, clock, ProductCatalog(), batch_size=5)
    made = Bot(seeded, clock, uow, directory, licensing, None, RecordingNotifier(), counts, crash)  # type: ignore[arg-type]
    made.subscriptions = make_subscriptions(made, owner="first")
    return made


def steps(status: WorkflowStatus) -> dict[StepName, StepStatus]:
    return {step.name: step.status for step in status.workflow.steps}


# --- plan switch (R11, R12, R15, R2, R7, R17) -----------------------------------------------------


def test_switch_some_users_then_remove_the_unused_seats(bot: Bot) -> None:
    movers = ("alice@contoso.com", "bob@contoso.com", "carol@contoso.com")
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", movers))
    workflow = status.workflow
    assert steps(status)[StepName.DECIDE] is StepStatus.DONE
    assert "Only some users move" in workflow.step(StepName.DECIDE).note
    assert status.step is not None
    assert status.step.name is StepName.PREVIEW
    assert status.choices == (Choice.CONFIRM, Choice.ABORT)
    assert status.change_set is not None
    assert len(status.change_set.items) == 3
    assert bot.holders(E3) >= set(movers), "nobody moves before the preview is confirmed"

    status = bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    assert steps(status)[StepName.REASSIGN] is StepStatus.DONE
    assert "Moved 3 of 3 users to Office 365 E5" in status.workflow.step(StepName.REASSIGN).note
    assert set(movers) <= bot.holders(E5)
    assert not set(movers) & bot.holders(E3)

    assert status.choices == (Choice.REMOVE_SEATS, Choice.SKIP)
    assert "14 of the 25 Office 365 E3 licenses are unused now (11 still in use)" in status.step.note  # type: ignore[union-attr]
    status = bot.decide(status, StepName.OFFER_CLEANUP, Choice.REMOVE_SEATS)
    assert status.workflow.state is WorkflowState.DONE
    [seats_id] = status.workflow.follow_ups
    follow_up = bot.status(seats_id)
    assert follow_up.workflow.state is WorkflowState.DONE
    assert bot.subscription(demo_subscription_id("e3")).total_licenses == 11
    assert bot.product(E3).seats.available == 0


def test_switch_everyone_buying_the_missing_seats_then_offer_the_unused_ones(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("all",)))
    assert status.choices == (Choice.MANUAL, Choice.ADMIN_CENTER, Choice.ABORT), (
        "R15: the automatic path first"
    )
    with pytest.raises(StepNotOpen):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)

    status = bot.decide(status, StepName.DECIDE, Choice.MANUAL)
    note = status.workflow.step(StepName.CHECK_SEATS).note
    # The members who get E3 only from the group stay on it (R21) and keep their seat: the move
    # needs a seat for each of the 11 others, not for the 14 who hold E3.
    assert note == "Not enough Office 365 E5 licenses: need 11, 7 free: buy 4 more."
    status = bot.decide(status, StepName.CHECK_SEATS, Choice.BUY_SEATS)
    assert steps(status)[StepName.CHECK_SEATS] is StepStatus.DONE
    assert bot.subscription(demo_subscription_id("e5")).total_licenses == 14

    status = bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    assert bot.holders(E3) == FROM_GROUP, "a group's license is the group's to change (R21)"
    assert len(bot.holders(E5)) == 3 + E3_MOVABLE
    # R12: the group's members still hold E3, so the unused seats are offered, not a cancellation.
    assert status.choices == (Choice.REMOVE_SEATS, Choice.SKIP)
    note = status.workflow.step(StepName.OFFER_CLEANUP).note
    assert note.startswith("21 of the 25 Office 365 E3 licenses are unused now (4 still in use).")


def test_the_admin_center_path_hands_the_switch_over(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5"))
    status = bot.decide(status, StepName.DECIDE, Choice.ADMIN_CENTER)
    assert status.workflow.state is WorkflowState.DONE
    assert "admin center" in status.workflow.step(StepName.DECIDE).note
    assert len(bot.holders(E3)) == E3_HOLDERS, "the bot moved nobody"


def test_a_switch_to_a_product_the_tenant_lacks_buys_it_and_waits_until_active(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "SPE_E5", ("alice@contoso.com",)))
    assert status.step is not None
    assert status.step.name is StepName.TARGET
    assert status.choices == (Choice.BUY, Choice.ABORT)
    status = bot.decide(status, StepName.TARGET, Choice.BUY)
    assert status.workflow.waiting_for is WaitFor.ACTIVATION
    assert "being set up" in status.workflow.step(StepName.AWAIT_ACTIVE).note

    bot.clock.advance(timedelta(minutes=3))
    report = bot.subscriptions.ticks.tick()
    assert report.advanced == (status.workflow.id,)
    status = bot.status(status.workflow.id)
    assert status.step is not None
    assert status.step.name is StepName.PREVIEW


def test_the_requester_confirms_and_a_double_click_does_it_once(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com",)))
    with pytest.raises(NotAuthorized, match="another admin started"):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM, who=GRACE)
    bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    with pytest.raises(StepNotOpen, match="already done"):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    alice = demo_user_id("alice@contoso.com")
    assert [e.user_id for e in bot.events()] == [alice]
    refusals = [e for e in bot.audit() if e.result is AuditResult.REFUSED]
    assert [e.actor for e in refusals] == [GRACE]


def test_an_expired_preview_is_planned_again(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com",)))
    first = status.workflow.change_set_id
    bot.clock.advance(timedelta(minutes=20))
    status = bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    assert status.workflow.change_set_id != first
    assert status.choices == (Choice.CONFIRM, Choice.ABORT)
    status = bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    assert steps(status)[StepName.REASSIGN] is StepStatus.DONE


def test_a_switch_from_an_inactive_subscription_is_refused_and_audited_r11(bot: Bot) -> None:
    with bot.sessions.begin() as session:
        SimulatedDirectory(session, bot.clock).set_status(
            demo_subscription_id("e3"), SubscriptionStatus.WARNING
        )
    with pytest.raises(Exception, match="no active subscription") as refused:
        bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5"))
    assert getattr(refused.value, "rule", "") == "R11"
    assert bot.audit()[0].result is AuditResult.REFUSED


def test_a_license_admin_may_not_switch_plans_r16(bot: Bot) -> None:
    with pytest.raises(NotAuthorized):
        bot.subscriptions.starts.start_switch(SwitchPlans(LENA, "E3", "E5"))
    assert [(e.actor, e.result) for e in bot.audit()] == [(LENA, AuditResult.REFUSED)]


# --- crash and resume (R7, R17, DESIGN.md §8) -----------------------------------------------------


def test_a_reassignment_killed_mid_batch_resumes_with_everyone_moved_and_nobody_unlicensed(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5"))
    status = bot.decide(status, StepName.DECIDE, Choice.MANUAL)
    status = bot.decide(status, StepName.CHECK_SEATS, Choice.BUY_SEATS)
    bot.crash.on_call, bot.crash.after_writes = 2, 2  # the second batch of five dies after two writes
    with pytest.raises(SimulatedCrash):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    crashed = bot.status(status.workflow.id)
    assert crashed.workflow.step(StepName.REASSIGN).status is StepStatus.RUNNING
    assert crashed.workflow.step(StepName.REASSIGN).note == "Moved 5 of 11 users…"
    assert len(bot.holders(E5) - {GRACE, BILL, BEATRICE}) == 5

    restarted = bot.restart()
    assert restarted.ticks.resume() == [], "the dead process's lease has not expired yet"
    assert restarted.ticks.resume(force=True) == [status.workflow.id]
    done = bot.status(status.workflow.id)
    assert done.workflow.step(StepName.REASSIGN).status is StepStatus.DONE
    assert done.workflow.step(StepName.REASSIGN).attempts == 2
    assert bot.holders(E3) == FROM_GROUP
    assert len(bot.holders(E5)) == 3 + E3_MOVABLE

    events = bot.events()
    per_user = Counter(e.user_id for e in events)
    assert len(per_user) == E3_MOVABLE
    assert set(per_user.values()) == {1}, "each user written once"
    for event in events:
        assert {lic["skuId"] for lic in event.before} == {E3}
        assert [lic["skuId"] for lic in event.after] == [E5], "never without a license"


def test_a_reassignment_killed_mid_batch_after_writes_that_stay_resumes_writing_each_user_once(
    bot: Bot,
) -> None:
    """As on Graph: the users written before the kill keep their new license; the restart verifies
    them instead of writing them again, and moves the rest."""
    e3_holders = bot.holders(E3)
    status = bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E5"))
    status = bot.decide(status, StepName.DECIDE, Choice.MANUAL)
    status = bot.decide(status, StepName.CHECK_SEATS, Choice.BUY_SEATS)
    bot.crash.on_call, bot.crash.after_writes, bot.crash.keep_writes = 2, 2, True
    with pytest.raises(SimulatedCrash):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    crashed = bot.status(status.workflow.id)
    assert crashed.workflow.step(StepName.REASSIGN).status is StepStatus.RUNNING
    moved = bot.holders(E5) - {GRACE, BILL, BEATRICE}
    assert len(moved) == 5 + 2, "the first batch, and two users of the second that stay written"
    assert bot.holders(E3) | moved == e3_holders, "nobody without a license meanwhile"
    assert not bot.holders(E3) & moved

    restarted = bot.restart()
    assert restarted.ticks.resume(force=True) == [status.workflow.id]
    done = bot.status(status.workflow.id)
    assert done.workflow.step(StepName.REASSIGN).status is StepStatus.DONE
    assert f"Moved {E3_MOVABLE} of {E3_MOVABLE} users" in done.workflow.step(StepName.REASSIGN).note
    assert bot.holders(E3) == FROM_GROUP
    assert bot.holders(E5) == (e3_holders - FROM_GROUP) | {"judy@contoso.com", GRACE, BILL, BEATRICE}

    events = bot.events()
    per_user = Counter(e.user_id for e in events)
    assert len(per_user) == E3_MOVABLE
    assert set(per_user.values()) == {1}, "each user written once, the two kept ones included"
    for event in events:
        assert {lic["skuId"] for lic in event.before} == {E3}
        assert [lic["skuId"] for lic in event.after] == [E5], "never without a license"


def test_a_crashed_step_is_taken_over_when_its_lease_expires(bot: Bot) -> None:
    status = bot.subscriptions.starts.start_switch(
        SwitchPlans(BILL, "E3", "E5", ("alice@contoso.com", "bob@contoso.com"))
    )
    bot.crash.on_call, bot.crash.after_writes = 1, 1
    with pytest.raises(SimulatedCrash):
        bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    restarted = bot.restart()
    assert restarted.ticks.tick().resumed == ()
    bot.clock.advance(bot.settings.lease_ttl + timedelta(seconds=1))
    assert restarted.ticks.tick().resumed == (status.workflow.id,)
    assert {"alice@contoso.com", "bob@contoso.com"} <= bot.holders(E5)


# --- upgrade from E4 (R14) ------------------------------------------------------------------------


def test_upgrade_from_e4_offers_to_remove_audio_conferencing_and_cancel_e4(bot: Bot) -> None:
    e4_users = bot.holders(E4)
    status = bot.subscriptions.starts.start_upgrade(UpgradeFromE4(BILL, "E5"))
    assert "Upgrade tab" in status.workflow.step(StepName.DECIDE).note
    assert [a.part_number for a in status.workflow.addons] == [AUDIO_CONFERENCING]
    status = bot.decide(status, StepName.DECIDE, Choice.MANUAL)
    assert status.workflow.step(StepName.CHECK_SEATS).note == (
        "Not enough Office 365 E5 licenses: need 8, 7 free: buy 1 more."
    ), "at least as many as E4's 8 licenses, though 5 users move"
    status = bot.decide(status, StepName.CHECK_SEATS, Choice.BUY_SEATS)
    assert bot.holders(E4) == e4_users, "users keep E4 until they are reassigned"
    assert "Microsoft 365 Audio Conferencing" in status.workflow.step(StepName.PREVIEW).note

    status = bot.decide(status, StepName.PREVIEW, Choice.CONFIRM)
    assert bot.holders(E4) == set()
    assert e4_users <= bot.holders(E5)
    assert bot.product(AUDIO).seats.consumed == 0
    assert status.choices == (Choice.REMOVE_ADDONS, Choice.SKIP)
    assert "Microsoft 365 Audio Conferencing: 5 licenses, 0 in use" in status.step.note  # type: ignore[union-attr]

    status = bot.decide(status, StepName.OFFER_ADDONS, Choice.REMOVE_ADDONS)
    [audio_cancel] = status.workflow.follow_ups
    assert bot.status(audio_cancel).workflow.subscription_id == demo_subscription_id("audio")
    assert status.choices == (Choice.CANCEL_OLD, Choice.SKIP)
    status = bot.decide(status, StepName.OFFER_CLEANUP, Choice.SKIP)
    assert status.workflow.state is WorkflowState.DONE
    assert bot.subscription(demo_subscription_id("e4")).status is SubscriptionStatus.ENABLED, (
        "offered, never done"
    )


@pytest.mark.parametrize("channel", [PurchaseChannel.PARTNER, PurchaseChannel.VOLUME_LICENSING])
def test_e4_bought_through_a_partner_or_volume_licensing_is_refused_r14(
    bot: Bot, channel: PurchaseChannel
) -> None:
    with bot.sessions.begin() as session:
        session.execute(
            update(SimSubscriptionRow)
            .where(SimSubscriptionRow.id == demo_subscription_id("e4"))
            .values(purchase_channel=channel.value)
        )
    with pytest.raises(UpgradeNotDirect, match="Contact your"):
        bot.subscriptions.starts.start_upgrade(UpgradeFromE4(BILL, "E5"))
    [refusal] = bot.audit()
    assert refusal.result is AuditResult.REFUSED
    assert "(R14)" not in refusal.reason


# --- purchase and seats (R2, R10, R19) ------------------------------------------------------------


def test_an_invoice_purchase_waits_across_a_weekend_then_escalates_r10(bot: Bot) -> None:
    bot.clock.set(datetime(2026, 3, 13, 15, 0, tzinfo=UTC))  # a Friday
    status = bot.subscriptions.starts.buy(BuySubscription(BILL, "E5", 10, PaymentMethod.INVOICE))
    workflow = status.workflow
    assert workflow.deadline == datetime(2026, 3, 18, tzinfo=UTC), "Monday and Tuesday, end of day"
    assert "until Tue 17 Mar 2026 end of day" in workflow.step(StepName.BUY).note
    assert "credit check" in workflow.step(StepName.AWAIT_ACTIVE).note

    bot.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))  # Monday
    bot.subscriptions.ticks.tick()
    assert bot.status(workflow.id).workflow.escalated_at is None
    assert not [r for r in bot.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.ESCALATION]

    bot.clock.set(datetime(2026, 3, 18, 0, 5, tzinfo=UTC))  # Wednesday, past the deadline
    assert bot.subscriptions.ticks.tick().advanced == (workflow.id,)
    escalated = bot.status(workflow.id).workflow
    assert escalated.escalated_at == bot.clock.now()
    assert (
        "Contact support (https://admin.microsoft.com/#/support)"
        in escalated.step(StepName.AWAIT_ACTIVE).note
    )
    [reminder] = [r for r in bot.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.ESCALATION]
    assert reminder.to == BILL
    assert "contact support" in reminder.text
    assert not [r for r in bot.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.ESCALATION], (
        "once"
    )
    assert bot.subscriptions.ticks.tick().advanced == ()
    assert [e.action for e in bot.audit() if "escalate" in e.action] == [
        "purchase: escalate: purchase overdue"
    ]


def test_the_buy_and_the_wait_steps_give_the_same_last_day_of_the_credit_check_r10(bot: Bot) -> None:
    bot.clock.set(datetime(2026, 12, 6, 10, 0, tzinfo=UTC))  # a Sunday
    status = bot.subscriptions.starts.buy(BuySubscription(BILL, "E5", 3, PaymentMethod.INVOICE))
    workflow = status.workflow
    assert workflow.deadline == datetime(2026, 12, 9, tzinfo=UTC), "Monday and Tuesday, end of day"
    bought, waiting = workflow.step(StepName.BUY).note, workflow.step(StepName.AWAIT_ACTIVE).note
    assert "up to 2 business days: until Tue 08 Dec 2026 end of day" in bought
    assert "up to 2 business days, until Tue 08 Dec 2026 end of day" in waiting
    assert "09 Dec" not in bought + waiting


def test_the_credit_check_counts_the_business_days_of_the_settings_r10(bot: Bot) -> None:
    bot.settings = WorkflowSettings(credit_check_business_days=3)
    subscriptions = make_subscriptions(bot)
    bot.clock.set(datetime(2026, 12, 6, 10, 0, tzinfo=UTC))  # a Sunday
    status = subscriptions.starts.buy(BuySubscription(BILL, "E5", 3, PaymentMethod.INVOICE))
    workflow = status.workflow
    assert workflow.deadline == datetime(2026, 12, 10, tzinfo=UTC)
    assert "up to 3 business days: until Wed 09 Dec 2026 end of day" in workflow.step(StepName.BUY).note
    assert "up to 3 business days, until Wed 09 Dec" in workflow.step(StepName.AWAIT_ACTIVE).note

    bot.clock.set(datetime(2026, 12, 10, 0, 5, tzinfo=UTC))
    assert subscriptions.ticks.tick().advanced == (workflow.id,)
    overdue = bot.status(workflow.id).workflow.step(StepName.AWAIT_ACTIVE).note
    assert overdue.startswith(
        "Overdue: the credit check of up to 3 business days ended on Wed 09 Dec 2026 end of day"
    )

    tasks = make_subscriptions(bot, AdminTaskCommerce(Cloud.WORLDWIDE, bot.clock, credit_check_days=3))
    task = tasks.starts.buy(BuySubscription(BILL, "E5", 3, PaymentMethod.INVOICE)).task
    assert task is not None
    assert any("credit check: up to 3 business days" in line for line in task.checklist)


def test_office_365_e4_is_no_longer_sold_r14(bot: Bot) -> None:
    with pytest.raises(DomainError, match="Microsoft no longer sells Office 365 E4") as refused:
        bot.subscriptions.starts.buy(BuySubscription(BILL, "E4", 5))
    assert "Buy Office 365 E5 or Microsoft 365 E5" in refused.value.message
    assert "`/subscription upgrade E4 E5`" in refused.value.message
    with pytest.raises(DomainError, match="no longer sells"):
        bot.subscriptions.starts.change_seats(ChangeSeats(BILL, "E4", 2))
    with pytest.raises(DomainError, match="no longer sells"):
        bot.subscriptions.starts.start_switch(SwitchPlans(BILL, "E3", "E4"))
    assert [(e.result, "(R14)" not in e.reason) for e in bot.audit()] == [(AuditResult.REFUSED, True)] * 3
    assert bot.subscriptions.queries.status(BILL) == [], "no workflow started"
    assert (
        bot.subscriptions.starts.change_seats(ChangeSeats(BILL, "E4", -1)).workflow.state
        is WorkflowState.DONE
    )


def test_the_credit_check_deadline_skips_thanksgiving_r10(bot: Bot) -> None:
    bot.clock.set(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # the Wednesday before Thanksgiving
    status = bot.subscriptions.starts.buy(BuySubscription(BILL, "E5", 1, PaymentMethod.INVOICE))
    assert status.workflow.deadline == datetime(2026, 12, 1, tzinfo=UTC), "Monday 30 November, end of day"


def test_a_card_purchase_becomes_active_at_the_next_poll(bot: Bot) -> None:
    status = bot.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))
    assert status.workflow.waiting_for is WaitFor.ACTIVATION
    bot.clock.advance(timedelta(minutes=1))
    assert bot.subscriptions.ticks.tick().advanced == ()
    bot.clock.advance(timedelta(minutes=1))
    assert bot.subscriptions.ticks.tick().advanced == (status.workflow.id,)
    assert bot.status(status.workflow.id).workflow.state is WorkflowState.DONE
    assert bot.product(E5).seats.enabled == 12
    changed = [s for s in bot.notifier.named("workflow_changed") if isinstance(s, WorkflowStatus)]
    assert changed[-1].workflow.state is WorkflowState.DONE, "the Slack message is told the end"


def test_seats_are_added_and_never_removed_below_what_users_hold_r2(bot: Bot) -> None:
    added = bot.subscriptions.starts.change_seats(ChangeSeats(BILL, "E5", 5))
    assert added.workflow.state is WorkflowState.DONE
    assert bot.subscription(demo_subscription_id("e5")).total_licenses == 15
    with pytest.raises(SeatsInUse, match="cannot lose 13 licenses: 3 of its 15 are assigned") as refused:
        bot.subscriptions.starts.change_seats(ChangeSeats(BILL, "E5", -13))
    assert refused.value.removable == 12
    assert bot.audit()[0].result is AuditResult.REFUSED
    removed = bot.subscriptions.starts.change_seats(ChangeSeats(BILL, "E5", -12))
    assert removed.workflow.state is WorkflowState.DONE
    assert bot.product(E5).seats.available == 0


def test_on_a_real_tenant_a_purchase_is_an_admin_task_verified_by_polling_r19(bot: Bot) -> None:
    subscriptions = make_subscriptions(bot, AdminTaskCommerce(Cloud.WORLDWIDE, bot.clock))
    status = subscriptions.starts.buy(BuySubscription(BILL, "E5", 4))
    assert status.workflow.waiting_for is WaitFor.TASK
    assert status.task is not None
    assert status.task.state is TaskState.OPEN
    assert status.task.link.startswith("https://admin.microsoft.com")
    assert status.task.owner == BILL

    marked = subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, status.task.id))
    assert marked.workflow.waiting_for is WaitFor.TASK, "an admin's word is not enough"
    assert "does not show it yet" in marked.workflow.step(StepName.BUY).note
    assert marked.task is not None
    assert marked.task.state is TaskState.OPEN
    assert marked.task.marked_done_by == BILL

    with bot.sessions.begin() as session:  # the admin buys it in the admin center
        SimulatedDirectory(session, bot.clock).add_subscription(O365_E5, 4)
    assert subscriptions.ticks.tick().advanced == (status.workflow.id,)
    done = bot.status(status.workflow.id)
    assert done.workflow.state is WorkflowState.DONE
    assert done.task is not None
    assert done.task.state is TaskState.DONE


def test_one_purchase_in_the_admin_center_completes_one_of_two_buy_workflows_r19(bot: Bot) -> None:
    subscriptions = make_subscriptions(bot, AdminTaskCommerce(Cloud.WORLDWIDE, bot.clock))
    both = {subscriptions.starts.buy(BuySubscription(BILL, "E5", 4)).workflow.id for _ in range(2)}

    with bot.sessions.begin() as session:  # an admin buys one of them in the admin center
        SimulatedDirectory(session, bot.clock).add_subscription(O365_E5, 4)
    [first] = subscriptions.ticks.tick().advanced
    [second] = both - {first}
    done, waiting = bot.status(first), bot.status(second)
    assert done.workflow.state is WorkflowState.DONE
    assert waiting.workflow.state is WorkflowState.WAITING
    assert waiting.workflow.waiting_for is WaitFor.TASK
    assert waiting.task is not None
    assert waiting.task.state is TaskState.OPEN
    marked = subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, waiting.task.id))
    assert marked.workflow.state is WorkflowState.WAITING, "the one purchase is not the second's too"

    with bot.sessions.begin() as session:  # and then the other one
        SimulatedDirectory(session, bot.clock).add_subscription(O365_E5, 4)
    assert subscriptions.ticks.tick().advanced == (second,)
    workflows = [bot.status(first).workflow, bot.status(second).workflow]
    assert [w.state for w in workflows] == [WorkflowState.DONE, WorkflowState.DONE]
    assert workflows[0].purchase_id != workflows[1].purchase_id
    assert [w.subscription_id for w in workflows] == [w.purchase_id for w in workflows]


@pytest.mark.parametrize("appear", [(8, 7), (7, 8)])
def test_two_purchases_of_one_product_each_complete_with_their_own_subscription_r23(
    bot: Bot, appear: tuple[int, int]
) -> None:
    subscriptions = make_subscriptions(bot, AdminTaskCommerce(Cloud.WORLDWIDE, bot.clock))
    by_invoice = subscriptions.starts.buy(BuySubscription(BILL, "E5", 7, PaymentMethod.INVOICE)).workflow.id
    bot.clock.advance(timedelta(minutes=1))
    by_card = subscriptions.starts.buy(BuySubscription(BILL, "E5", 8)).workflow.id
    purchase, bought = {7: by_invoice, 8: by_card}, {}
    first, second = appear

    with bot.sessions.begin() as session:  # an admin buys one of them in the admin center
        bought[first] = SimulatedDirectory(session, bot.clock).add_subscription(O365_E5, first).id
    assert subscriptions.ticks.tick().advanced == (purchase[first],)
    waiting = bot.status(purchase[second])
    assert waiting.workflow.waiting_for is WaitFor.TASK, "not completed by the other's subscription"
    assert waiting.task is not None

    with bot.sessions.begin() as session:  # then the other, Pending for an hour (a credit check)
        bought[second] = (
            SimulatedDirectory(session, bot.clock)
            .add_subscription(O365_E5, second, activates_at=bot.clock.now() + timedelta(hours=1))
            .id
        )
    marked = subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, waiting.task.id))
    note = marked.workflow.step(StepName.BUY).note
    assert f"Office 365 E5 ({second} licenses) is listed, not active yet" in note
    assert "does not show it yet" not in note
    bot.clock.advance(timedelta(hours=1))
    assert subscriptions.ticks.tick().advanced == (purchase[second],)

    for seats, workflow_id in purchase.items():
        done = bot.status(workflow_id).workflow
        assert done.state is WorkflowState.DONE
        assert (done.subscription_id, done.purchase_id) == (bought[seats], bought[seats])


def test_an_admin_center_purchase_counts_its_credit_check_from_the_request_r10(bot: Bot) -> None:
    subscriptions = make_subscriptions(bot, AdminTaskCommerce(Cloud.WORLDWIDE, bot.clock))
    bot.clock.set(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # the Wednesday before Thanksgiving
    status = subscriptions.starts.buy(BuySubscription(BILL, "E5", 1, PaymentMethod.INVOICE))
    deadline = datetime(2026, 12, 1, tzinfo=UTC)
    assert status.workflow.deadline == deadline, "set at the request, before anyone presses Mark done"
    bot.clock.set(deadline)
    assert subscriptions.ticks.tick().advanced == (status.workflow.id,)
    overdue = bot.status(status.workflow.id).workflow
    assert overdue.escalated_at == deadline
    assert overdue.waiting_for is WaitFor.TASK


# --- cancel with approval (R13) -------------------------------------------------------------------


def cancel_e4(bot: Bot, who: str = BILL) -> WorkflowStatus:
    status = bot.subscriptions.starts.request_cancel(CancelSubscription(who, "E4"))
    assert status.choices == (Choice.CONFIRM, Choice.ABORT)
    note = status.workflow.step(StepName.CONFIRM).note
    assert "5 users hold Office 365 E4: Ken Tanaka, Mike Ross, Oscar Diaz, Peggy Olsen, Wendy Park." in note
    status = bot.decide(status, StepName.CONFIRM, Choice.CONFIRM, who=who)
    assert status.approval is not None
    return status


def test_a_cancel_is_approved_by_another_admin_confirming_the_loss_of_access(bot: Bot) -> None:
    status = cancel_e4(bot)
    approval = status.approval
    assert approval is not None
    assert [s.workflow.id for s in bot.notifier.named("approval_requested")] == [status.workflow.id]  # type: ignore[union-attr]
    assert [s.workflow.id for s in bot.subscriptions.queries.waiting_on(GRACE).approvals] == [
        status.workflow.id
    ]
    assert bot.subscriptions.queries.waiting_on(BILL).approvals == (), "not the requester's to approve"

    with pytest.raises(ApproverNotAllowed, match="their own request"):
        bot.subscriptions.decisions.approve(ApproveCancellation(BILL, approval.id))
    with pytest.raises(NotAuthorized):
        bot.subscriptions.decisions.approve(ApproveCancellation(LENA, approval.id))
    with pytest.raises(UsersStillLicensed, match="5 users would lose Office 365 E4"):
        bot.subscriptions.decisions.approve(ApproveCancellation(GRACE, approval.id))
    refusals = [(e.actor, e.result) for e in bot.audit() if e.result is AuditResult.REFUSED]
    assert refusals == [
        (GRACE, AuditResult.REFUSED),
        (LENA, AuditResult.REFUSED),
        (BILL, AuditResult.REFUSED),
    ]
    assert bot.subscription(demo_subscription_id("e4")).status is SubscriptionStatus.ENABLED

    done = bot.subscriptions.decisions.approve(
        ApproveCancellation(GRACE, approval.id, accept_loss_of_access=True)
    )
    assert done.workflow.state is WorkflowState.DONE
    assert done.approval is not None
    assert done.approval.accepted_loss_of_access
    assert bot.subscription(demo_subscription_id("e4")).status is SubscriptionStatus.SUSPENDED
    [cancelled] = [e for e in bot.audit() if e.action.startswith("cancel: cancel subscription")]
    assert (cancelled.actor, cancelled.approver) == (BILL, GRACE)
    with pytest.raises(ApprovalNotPending, match=r"already approved by grace@contoso\.com"):
        bot.subscriptions.decisions.approve(
            ApproveCancellation(BEATRICE, approval.id, accept_loss_of_access=True)
        )


def test_two_approvers_at_once_cancel_once(bot: Bot) -> None:
    status = cancel_e4(bot)
    approval_id = status.approval.id  # type: ignore[union-attr]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def approve(who: str) -> None:
        barrier.wait()
        try:
            bot.subscriptions.decisions.approve(
                ApproveCancellation(who, approval_id, accept_loss_of_access=True)
            )
            outcomes.append("approved")
        except ApprovalNotPending:
            outcomes.append("already decided")

    threads = [threading.Thread(target=approve, args=(who,)) for who in (GRACE, BEATRICE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already decided", "approved"]
    assert [e for e in bot.audit() if e.action.startswith("cancel: cancel subscription")] != []
    assert len([e for e in bot.audit() if e.action.startswith("cancel: cancel subscription")]) == 1


def test_an_approval_expires_and_the_cancellation_stops(bot: Bot) -> None:
    status = cancel_e4(bot)
    bot.clock.advance(bot.settings.approval_ttl)
    report = bot.subscriptions.ticks.tick()
    assert report.expired_approvals == (status.approval.id,)  # type: ignore[union-attr]
    stopped = bot.status(status.workflow.id)
    assert stopped.workflow.state is WorkflowState.CANCELLED
    assert stopped.approval is not None
    assert stopped.approval.state is ApprovalState.EXPIRED
    assert "expired" in stopped.workflow.step(StepName.APPROVAL).note
    with pytest.raises(ApprovalNotPending, match="expired"):
        bot.subscriptions.decisions.approve(
            ApproveCancellation(GRACE, stopped.approval.id, accept_loss_of_access=True)
        )
    assert bot.subscription(demo_subscription_id("e4")).status is SubscriptionStatus.ENABLED


def test_a_rejected_cancellation_stops(bot: Bot) -> None:
    status = cancel_e4(bot)
    rejected = bot.subscriptions.decisions.reject(
        RejectCancellation(GRACE, status.approval.id, "still needed")
    )  # type: ignore[union-attr]
    assert rejected.workflow.state is WorkflowState.CANCELLED
    assert "Rejected by grace@contoso.com: still needed" in rejected.workflow.step(StepName.APPROVAL).note


def test_approvals_and_choices_are_reminded_once_per_interval(bot: Bot) -> None:
    status = cancel_e4(bot)
    assert [r.kind for r in bot.subscriptions.ticks.due_reminders()] == [ReminderKind.DIGEST]
    bot.clock.advance(bot.settings.approval_reminder_every)
    reminders = bot.subscriptions.ticks.due_reminders()
    assert [(r.kind, r.to) for r in reminders] == [(ReminderKind.APPROVAL_WAITING, "")]
    assert reminders[0].status is not None
    assert reminders[0].status.workflow.id == status.workflow.id
    assert bot.subscriptions.ticks.due_reminders() == []


# --- the poll's cost (DESIGN.md §8) ---------------------------------------------------------------


@pytest.mark.parametrize("pending", [1, 50])
def test_a_tick_reads_the_subscriptions_once_whatever_the_number_of_pending_purchases(
    bot: Bot, pending: int
) -> None:
    ids = [bot.subscriptions.starts.buy(BuySubscription(BILL, "E5", 1)).workflow.id for _ in range(pending)]
    bot.counts.clear()
    report = bot.subscriptions.ticks.tick()
    assert report.polled == pending
    assert bot.counts["subscriptions"] == 1
    assert bot.counts["products"] == 1, "once, for the demo's F3 renewal alert newly due (R22)"

    bot.clock.advance(timedelta(minutes=5))
    bot.counts.clear()
    report = bot.subscriptions.ticks.tick()
    assert sorted(report.advanced) == sorted(ids)
    assert bot.counts["subscriptions"] == 1
    assert bot.counts["products"] == 0


def test_a_tick_with_nothing_waiting_reads_only_the_subscriptions_for_renewals(bot: Bot) -> None:
    bot.counts.clear()
    first = bot.subscriptions.ticks.tick()
    assert [r.kind for r in first.renewals] == [ReminderKind.RENEWAL]  # the demo's F3 (R22)
    assert bot.counts == Counter({"subscriptions": 1, "products": 1})

    bot.clock.advance(timedelta(minutes=5))
    bot.counts.clear()
    assert bot.subscriptions.ticks.tick().renewals == ()
    assert bot.counts == Counter({"subscriptions": 1}), "the alert is out: no products read"


def test_replicas_ticking_together_send_a_renewal_alert_once(bot: Bot) -> None:
    """R22: three processes on one database tick at once, then again once the poll lease has run
    out: the demo's F3 renewal alert goes out once in all (the poll lease, then its claimed key)."""
    replicas = [make_subscriptions(bot, owner=f"replica-{n}") for n in range(3)]

    def together() -> list[Reminder]:
        start = threading.Barrier(len(replicas))

        def tick(replica: SubscriptionWorkflows) -> tuple[Reminder, ...]:
            start.wait(timeout=10)
            return replica.ticks.tick().renewals

        with ThreadPoolExecutor(len(replicas)) as pool:
            return [r for sent in pool.map(tick, replicas) for r in sent]

    first = together()
    bot.clock.advance(bot.settings.poll_interval)
    second = together()

    assert [r.kind for r in first] == [ReminderKind.RENEWAL]
    assert second == []
    sent = [r for r in bot.notifier.named("reminder") if isinstance(r, Reminder)]
    assert [r.kind for r in sent] == [ReminderKind.RENEWAL]
