"""The subscription workflows through the real Bolt app, on the simulated tenant, with an injected
clock (no sleeping: the test moves a `FixedClock` and calls `WorkflowTicks.tick()` itself).

The checklist is one message in the channel, updated in place by the `SlackNotifier`; the approval
request goes to the approvals channel; buttons go through the app like Slack sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.local_slack import LocalSlack, Message, signed_headers
from bot.scheduler import WorkflowScheduler
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.model import Cloud, SubscriptionStatus
from domain.workflows import ReminderKind, TaskState, WorkflowState
from handlers.ids import TASK_DONE
from storage.calendar import HolidayCalendar
from storage.commerce import AdminTaskCommerce
from storage.simulated import SimulatedDirectory, demo_subscription_id
from storage.simulated.products import O365_E5
from tests.fakes import FixedClock
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, serve, text_of, wire_workflows

BILL = "bill@contoso.com"
E3_HOLDERS = 14


@dataclass
class Running:
    bot: SlackBot
    tenant: Tenant
    clock: FixedClock
    subscriptions: SubscriptionWorkflows
    scheduler: WorkflowScheduler
    approvals: str
    reminders: str

    def checklist(self, containing: str) -> Message:
        return self.bot.wait_posted(containing)

    def refreshed(self, message: Message, containing: str) -> Message:
        def found() -> Message | None:
            now = self.bot.slack.message(message.channel, message.ts)
            return now if now is not None and containing in text_of(now) else None

        return self.bot.slack.wait_for(found, description=f"the checklist showing {containing!r}")

    def reply_in(self, channel: str, who: str, containing: str) -> str:
        user = self.bot.people[who]

        def found() -> str | None:
            texts = [text_of(m) for m in self.bot.slack.ephemerals(user, channel=channel)]
            return next((t for t in texts if containing in t), None)

        return self.bot.slack.wait_for(found, description=f"a reply to {who} with {containing!r}")

    def press(self, who: str, message: Message, action_id: str) -> None:
        assert self.bot.press_on(who, message, action_id) == 200

    def holders(self, part: str) -> set[str]:
        with self.tenant.sessions() as session:
            directory = SimulatedDirectory(session, self.clock)
            sku = next(p.sku_id for p in directory.products() if p.part_number == part)
            return {u.user_principal_name for u in directory.users_with_product(sku)}

    def subscription_status(self, key: str) -> SubscriptionStatus:
        with self.tenant.sessions() as session:
            subs = SimulatedDirectory(session, self.clock).subscriptions()
            return next(s for s in subs if s.id == demo_subscription_id(key)).status


@pytest.fixture
def running(slack: LocalSlack, tmp_path: Path) -> Iterator[Running]:
    yield from _running(slack, tmp_path, admin_tasks=False)


@pytest.fixture
def on_a_real_tenant(slack: LocalSlack, tmp_path: Path) -> Iterator[Running]:
    """As on a directly billed tenant (R19): buying is an admin-center task the bot verifies."""
    yield from _running(slack, tmp_path, admin_tasks=True)


def _running(slack: LocalSlack, tmp_path: Path, *, admin_tasks: bool) -> Iterator[Running]:
    approvals = slack.add_channel("license-approvals")
    reminders = slack.add_channel("license-reminders")
    wired = wire_workflows(slack, tmp_path / "licensebot.db", approvals=approvals, reminders=reminders)
    if admin_tasks:
        subscriptions = subscription_workflows(
            wired.tenant.uow,
            wired.tenant.directory,
            wired.clock,
            ProductCatalog(),
            licensing=wired.services.licenses.changes,
            commerce=AdminTaskCommerce(Cloud.WORLDWIDE, wired.clock),
            calendar=HolidayCalendar(),
            notifier=wired.notifier,
        )
        wired.notifier.bind(subscriptions.decisions)
        wired = replace(
            wired, subscriptions=subscriptions, services=replace(wired.services, subscriptions=subscriptions)
        )
    with serve(slack, wired.services) as bot:
        for name in ("bill", "beatrice"):
            bot.people[name] = slack.add_user(name, email=f"{name}@contoso.com")
        members = list(bot.people.values())
        bot.channel = slack.add_channel("subscriptions", members=members)
        for channel in (approvals, reminders):
            slack.add_channel("x", members=members, channel_id=channel)
        scheduler = WorkflowScheduler(wired.subscriptions.ticks, wired.notifier, interval_seconds=60)
        yield Running(bot, wired.tenant, wired.clock, wired.subscriptions, scheduler, approvals, reminders)
    wired.tenant.engine.dispose()


def test_switch_some_users_moves_them_to_e5_and_offers_to_remove_unused_seats(running: Running) -> None:
    bot = running.bot
    movers = ("alice", "bob", "carol")
    assert (
        bot.command("bill", "switch E3 E5 " + " ".join(bot.mention(m) for m in movers), "/subscription")
        == 200
    )
    checklist = running.checklist("Switch 3 users from Office 365 E3 to Office 365 E5")
    checklist = running.refreshed(checklist, "Preview and confirm · waiting for confirmation")
    assert "Only some users move" in text_of(checklist)
    assert {f"{m}@contoso.com" for m in movers} <= running.holders("ENTERPRISEPACK")

    # A double click: both presses are on the preview as Slack showed it.
    clicks = [
        bot.slack.action_body(
            bot.people["bill"],
            action_id="workflow.choice.confirm",
            channel=checklist.channel,
            message_ts=checklist.ts,
        )
        for _ in range(2)
    ]
    writes = running.tenant.all_license_writes()
    for click in clicks:
        assert bot.post(click, signed_headers(click, SIGNING_SECRET)) == 200
    checklist = running.refreshed(checklist, "Remove the unused licenses")
    assert "Moved 3 of 3 users to Office 365 E5" in text_of(checklist)
    assert {f"{m}@contoso.com" for m in movers} <= running.holders("ENTERPRISEPREMIUM")
    assert not {f"{m}@contoso.com" for m in movers} & running.holders("ENTERPRISEPACK")
    assert len(bot.posted()) == 1, "one message, updated in place"
    assert "already" in text_of(bot.wait_reply("bill", containing="already"))
    bot.finish()
    assert running.tenant.all_license_writes() == writes + 3, "the double click moved each user once"


def test_switch_everyone_buys_the_missing_seats_and_ends_with_everyone_on_e5(running: Running) -> None:
    bot = running.bot
    e3_users = running.holders("ENTERPRISEPACK")
    assert len(e3_users) == E3_HOLDERS
    assert bot.command("bill", "switch E3 E5 all", "/subscription") == 200
    checklist = running.checklist("Switch everyone from Office 365 E3 to Office 365 E5")
    checklist = running.refreshed(checklist, "Switch here, step by step")
    running.press("bill", checklist, "workflow.choice.manual")
    checklist = running.refreshed(checklist, "buy 4 more")  # the group-only holders keep E3
    running.press("bill", checklist, "workflow.choice.buy-seats")
    checklist = running.refreshed(checklist, "Preview and confirm · waiting for confirmation")
    running.press("bill", checklist, "workflow.choice.confirm")
    checklist = running.refreshed(checklist, "unused licenses · waiting for confirmation")
    # The members of the group All Staff E3 keep E3 from it: unused seats are offered (R21, R12).
    assert "Remove the unused licenses" in text_of(checklist)
    from_group = {f"{who}@contoso.com" for who in ("ivan", "judy", "yara", "zoe")}
    assert running.holders("ENTERPRISEPACK") == from_group
    assert e3_users - from_group | {"judy@contoso.com"} <= running.holders("ENTERPRISEPREMIUM")


def test_upgrade_from_e4_moves_its_users_and_offers_to_remove_audio_conferencing(running: Running) -> None:
    bot = running.bot
    e4_users = running.holders("ENTERPRISEWITHSCAL")
    assert bot.command("bill", "upgrade E4 E5", "/subscription") == 200
    checklist = running.checklist("Upgrade everyone from Office 365 E4 to Office 365 E5")
    checklist = running.refreshed(checklist, "Upgrade tab")
    running.press("bill", checklist, "workflow.choice.manual")
    checklist = running.refreshed(checklist, "buy 1 more")
    running.press("bill", checklist, "workflow.choice.buy-seats")
    checklist = running.refreshed(checklist, "Preview and confirm · waiting for confirmation")
    assert running.holders("ENTERPRISEWITHSCAL") == e4_users, "users keep E4 until they are moved"
    running.press("bill", checklist, "workflow.choice.confirm")
    checklist = running.refreshed(checklist, "made redundant · waiting for confirmation")
    assert "Remove the redundant add-ons" in text_of(checklist)
    assert running.holders("ENTERPRISEWITHSCAL") == set()
    assert e4_users <= running.holders("ENTERPRISEPREMIUM")


def test_a_cancel_is_approved_by_another_admin_refused_for_the_requester_and_a_license_admin_and_a_double_click_cancels_once(  # noqa: E501
    running: Running,
) -> None:
    bot = running.bot
    assert bot.command("bill", "cancel E4", "/subscription") == 200
    checklist = running.checklist("Cancel the Office 365 E4 subscription")
    checklist = running.refreshed(checklist, "Requester confirms · waiting for confirmation")
    running.press("bill", checklist, "workflow.choice.confirm")
    request = bot.slack.wait_for(
        lambda: next(iter(bot.slack.messages(running.approvals)), None), description="the approval request"
    )
    shown = text_of(request)
    assert "bill@contoso.com asks to cancel the Office 365 E4 subscription" in shown
    assert "5 users still hold its licenses" in shown

    running.press("bill", request, "approval.approve-loss")
    running.reply_in(running.approvals, "bill", "their own request")
    running.press("lena", request, "approval.approve-loss")
    running.reply_in(running.approvals, "lena", "may not")
    running.press("beatrice", request, "approval.approve")
    running.reply_in(running.approvals, "beatrice", "would lose")
    assert running.subscription_status("e4") is SubscriptionStatus.ENABLED
    # Each refusal is in the audit, with who was refused and why (R13, R20).
    for who, why in (("bill@contoso.com", "their own request"), ("lena@contoso.com", "may not")):
        refusals = [e for e in running.tenant.audit(who) if e.result is AuditResult.REFUSED]
        assert any("approv" in e.action and why in e.reason for e in refusals), (who, refusals)

    clicks = [
        bot.slack.action_body(
            bot.people["beatrice"],
            action_id="approval.approve-loss",
            channel=request.channel,
            message_ts=request.ts,
        )
        for _ in range(2)
    ]
    for click in clicks:
        assert bot.post(click, signed_headers(click, SIGNING_SECRET)) == 200
    bot.finish()
    assert "Approved by beatrice@contoso.com" in text_of(running.refreshed(request, "Approved"))
    assert running.subscription_status("e4") is SubscriptionStatus.SUSPENDED
    cancels = [e for e in running.tenant.audit(BILL) if e.action.startswith("cancel: cancel subscription")]
    assert len(cancels) == 1
    assert cancels[0].approver == "beatrice@contoso.com"
    running.reply_in(running.approvals, "beatrice", "already approved")
    assert "done" in text_of(bot.slack.message(checklist.channel, checklist.ts))  # type: ignore[arg-type]


def test_an_invoice_purchase_waits_across_a_weekend_then_escalates_after_two_business_days(
    running: Running,
) -> None:
    bot = running.bot
    running.clock.set(datetime(2026, 3, 13, 15, 0, tzinfo=UTC))  # a Friday
    assert bot.command("bill", "buy E5 10 invoice", "/subscription") == 200
    checklist = running.checklist("Buy 10 × Office 365 E5 by invoice")
    checklist = running.refreshed(checklist, "credit check")
    assert "until Tue 17 Mar 2026 end of day" in text_of(checklist)

    running.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))  # Monday: still within the deadline
    running.scheduler.run_once()
    assert not [m for m in bot.slack.messages(running.reminders) if "support" in text_of(m)]

    running.clock.set(datetime(2026, 3, 18, 0, 5, tzinfo=UTC))  # Wednesday, past two business days
    report = running.scheduler.run_once()
    assert report.advanced != ()
    running.refreshed(checklist, "Contact support")
    escalations = [m for m in bot.slack.messages(running.reminders) if "contact support" in text_of(m)]
    assert len(escalations) == 1
    running.scheduler.run_once()
    again = [m for m in bot.slack.messages(running.reminders) if "contact support" in text_of(m)]
    assert len(again) == 1, "escalated once"
    [sent] = [
        r for r in running.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.ESCALATION
    ] or [None]
    assert sent is None, "already sent by the scheduler"


def test_mark_done_checks_the_directory_at_once_and_never_trusts_the_click_r19(
    on_a_real_tenant: Running,
) -> None:
    running = on_a_real_tenant
    bot = running.bot
    assert bot.command("bill", "buy E5 4", "/subscription") == 200
    checklist = running.refreshed(running.checklist("Buy 4 × Office 365 E5"), "Mark done")
    assert "Admin-center task" in text_of(checklist)
    [workflow] = running.subscriptions.queries.in_flight(BILL)

    running.press("bill", checklist, TASK_DONE)  # nothing bought yet
    checklist = running.refreshed(checklist, "does not show it yet")
    [still] = running.subscriptions.queries.status(BILL, workflow.workflow.id)
    assert still.workflow.state is WorkflowState.WAITING, "a click is not a purchase"
    assert still.task is not None
    assert (still.task.state, still.task.marked_done_by) == (TaskState.OPEN, BILL)

    with running.tenant.sessions.begin() as session:  # now an admin buys it in the admin center
        SimulatedDirectory(session, running.clock).add_subscription(O365_E5, 4)
    running.press("bill", checklist, TASK_DONE)  # no poll in between: the click checks at once
    running.refreshed(checklist, "Office 365 E5 is listed and active (4 licenses")
    [done] = running.subscriptions.queries.status(BILL, workflow.workflow.id)
    assert done.workflow.state is WorkflowState.DONE
    assert done.task is not None
    assert done.task.state is TaskState.DONE
    marks = [e for e in running.tenant.audit(BILL) if e.action.startswith("purchase: mark done")]
    assert sorted(e.reason for e in marks) == ["not seen in the directory yet", "seen in the directory"]


def test_status_and_app_home_show_the_workflows_in_flight(running: Running) -> None:
    bot = running.bot
    assert bot.command("bill", "cancel E4", "/subscription") == 200
    running.checklist("Cancel the Office 365 E4 subscription")
    assert bot.command("bill", "status", "/subscription") == 200
    assert "Cancel the Office 365 E4 subscription" in text_of(bot.wait_reply("bill", containing="workflows"))
    body = bot.slack.app_home_opened_body(bot.people["bill"])
    assert bot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    home = bot.slack.wait_for(lambda: bot.slack.home(bot.people["bill"]), description="App Home")
    shown = str(home.blocks)
    assert "Workflows in flight" in shown
    assert "Cancel the Office 365 E4 subscription" in shown
    assert "Your choice" in shown, "the confirmation waits on bill"
