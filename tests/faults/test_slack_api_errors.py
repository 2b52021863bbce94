"""Slack's Web API failing under the bot, through the real Bolt app with signed requests against the
local fake Slack: rate limits during a bulk change, channels the bot cannot post in, a form whose
trigger expired, and a scheduler whose approvals and reminders channels are gone.

Each failure must end in something the person can act on (what is wrong, how to fix it), never in a
change left half-done, a traceback, or a scheduler that stops ticking.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.app import RATE_LIMIT_RETRIES
from bot.local_slack import Call, LocalSlack, Message, signed_headers
from domain.model import SubscriptionStatus
from handlers.context import Services
from handlers.ids import CONFIRM_CHANGE
from storage.simulated import SimulatedDirectory, demo_subscription_id
from tests.faults.conftest import RecordedWaits, Workflows, WorkflowsFactory
from tests.slack.conftest import FAST, SIGNING_SECRET, SlackBot, Tenant, licenses_on, serve, text_of

E3, E5 = "ENTERPRISEPACK", "ENTERPRISEPREMIUM"
APPROVALS = "C0APPROVALS"
STAFF = 30
INTERNAL = "Something went wrong"


@pytest.fixture
def bot(slack: LocalSlack, tenant: Tenant) -> Iterator[SlackBot]:
    """The app updating a bulk change's message after every batch (its own throttle is tested apart)."""
    with serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)) as running:
        yield running


def staff(bot: SlackBot, tenant: Tenant, count: int, *products: str) -> str:
    """`count` tenant users holding `products`, each a Slack user with the same email, in a user
    group; the group's mention."""
    ids: list[str] = []
    for n in range(1, count + 1):
        upn = tenant.add_user(f"staff{n:02}@contoso.com", f"Staff Member {n:02}", *products)
        bot.people[f"staff{n:02}"] = bot.slack.add_user(f"staff{n:02}", email=upn)
        ids.append(bot.people[f"staff{n:02}"])
    group = bot.slack.add_usergroup("staff", ids)
    return f"<!subteam^{group}|@staff>"


def staff_products(tenant: Tenant, count: int) -> set[frozenset[str]]:
    return {frozenset(tenant.products_of(f"staff{n:02}@contoso.com")) for n in range(1, count + 1)}


def staff_writes(tenant: Tenant, count: int) -> set[int]:
    return {tenant.license_writes(f"staff{n:02}@contoso.com") for n in range(1, count + 1)}


def errors_of(slack: LocalSlack, method: str) -> list[str | None]:
    return [call.error for call in slack.calls(method)]


def top_level(bot: SlackBot) -> list[str]:
    """The messages posted in the channel, threads aside."""
    return [m.ts for m in bot.posted() if m.thread_ts is None]


def reply_with(bot: SlackBot, who: str, containing: str) -> Message:
    """The latest ephemeral reply to `who` holding `containing`, once there is one."""

    def found() -> Message | None:
        return next((m for m in reversed(bot.replies(who)) if containing in text_of(m)), None)

    return bot.slack.wait_for(found, description=f"a reply to {who} with {containing!r}")


def no_internal_error(bot: SlackBot, who: str) -> None:
    bot.finish()
    shown = [text_of(m) for m in bot.replies(who)]
    assert not [text for text in shown if INTERNAL in text], shown


def settled(bot: SlackBot, message: Message, containing: str) -> Message:
    def found() -> Message | None:
        now = bot.slack.message(message.channel, message.ts)
        return now if now is not None and containing in text_of(now) else None

    return bot.slack.wait_for(found, description=f"the message showing {containing!r}")


def _status(running: Workflows, key: str) -> SubscriptionStatus:
    with running.tenant.sessions() as session:
        subscriptions = SimulatedDirectory(session, running.clock).subscriptions()
        return next(s for s in subscriptions if s.id == demo_subscription_id(key)).status


# --- rate limits ------------------------------------------------------------------------------


def test_rate_limits_on_a_bulk_changes_post_and_updates_are_waited_out_and_it_completes(
    bot: SlackBot, tenant: Tenant, slack_waits: RecordedWaits
) -> None:
    group = staff(bot, tenant, STAFF, E3)
    tenant.buy(E5, STAFF)
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=2)

    assert bot.command("lena", f"replace {group} E5") == 200
    preview = bot.wait_posted("Preview: replace licenses")
    assert errors_of(bot.slack, "chat.postMessage") == ["ratelimited", None], "posted once, after the wait"

    for _ in range(RATE_LIMIT_RETRIES):
        bot.slack.fail_next("chat.update", "ratelimited", retry_after=3)
    assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    result = settled(bot, preview, "Office 365 E5 replaced for 30 of 30 users")

    assert "30 applied · 0 already so" in text_of(result)
    assert errors_of(bot.slack, "chat.update").count("ratelimited") == RATE_LIMIT_RETRIES
    assert top_level(bot) == [result.ts], "one message, updated in place: nothing posted twice"
    waits = slack_waits.seconds
    assert len([w for w in waits if 2 <= w < 3]) == 1, f"Retry-After 2 honoured: {waits}"
    assert len([w for w in waits if 3 <= w < 4]) == RATE_LIMIT_RETRIES, f"Retry-After 3 honoured: {waits}"
    assert staff_products(tenant, STAFF) == {frozenset({E5})}
    assert staff_writes(tenant, STAFF) == {1}
    no_internal_error(bot, "lena")


def test_a_progress_update_still_rate_limited_after_the_retries_is_skipped_and_the_change_completes(
    bot: SlackBot, tenant: Tenant, slack_waits: RecordedWaits
) -> None:
    group = staff(bot, tenant, STAFF, E3)
    tenant.buy(E5, STAFF)
    assert bot.command("lena", f"replace {group} E5") == 200
    preview = bot.wait_posted("Preview: replace licenses")
    for _ in range(RATE_LIMIT_RETRIES + 1):  # the "applying" update gives up
        bot.slack.fail_next("chat.update", "ratelimited", retry_after=1)

    assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    result = settled(bot, preview, "Office 365 E5 replaced for 30 of 30 users")

    assert "Retry the failed ones" not in text_of(result)
    updates = errors_of(bot.slack, "chat.update")
    assert updates[: RATE_LIMIT_RETRIES + 1] == ["ratelimited"] * (RATE_LIMIT_RETRIES + 1)
    assert set(updates[RATE_LIMIT_RETRIES + 1 :]) == {None}, "the progress and the result went through"
    assert len(slack_waits.seconds) == RATE_LIMIT_RETRIES
    assert staff_products(tenant, STAFF) == {frozenset({E5})}
    assert staff_writes(tenant, STAFF) == {1}
    no_internal_error(bot, "lena")


def test_a_rate_limited_result_update_is_retried_and_shows_the_result(
    bot: SlackBot, tenant: Tenant, slack_waits: RecordedWaits
) -> None:
    """A bulk assign is written at once: posted as progress, then updated to its result."""
    group = staff(bot, tenant, 8, E3)
    tenant.buy(E5, 8)
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=1)
    for _ in range(RATE_LIMIT_RETRIES):
        bot.slack.fail_next("chat.update", "ratelimited", retry_after=1)

    assert bot.command("lena", f"assign {group} E5") == 200
    result = bot.wait_posted("Office 365 E5 assigned for 8 of 8 users")

    assert top_level(bot) == [result.ts]
    assert len(slack_waits.seconds) == 1 + RATE_LIMIT_RETRIES
    assert staff_products(tenant, 8) == {frozenset({E3, E5})}
    no_internal_error(bot, "lena")


# --- channels the bot cannot post in ------------------------------------------------------------


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
def test_a_bulk_change_the_bot_cannot_post_in_the_channel_says_why_and_completes_in_a_dm(
    bot: SlackBot, tenant: Tenant, error: str
) -> None:
    group = staff(bot, tenant, 8, E3)
    tenant.buy(E5, 8)
    bot.slack.fail_next("chat.postMessage", error)

    assert bot.command("lena", f"assign {group} E5") == 200

    told = text_of(reply_with(bot, "lena", "invite"))
    assert "/invite @licensebot" in told
    dm = bot.slack.open_im(bot.people["lena"])
    result = bot.slack.wait_for(
        lambda: next((m for m in bot.slack.messages(dm) if "assigned for" in text_of(m)), None),
        description="the result in the direct message",
    )
    assert "Office 365 E5 assigned for 8 of 8 users" in text_of(result)
    assert staff_products(tenant, 8) == {frozenset({E3, E5})}
    assert staff_writes(tenant, 8) == {1}
    no_internal_error(bot, "lena")


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
def test_a_bulk_preview_the_bot_cannot_post_writes_nothing_and_says_how_to_fix_it(
    bot: SlackBot, tenant: Tenant, error: str
) -> None:
    group = staff(bot, tenant, 8, E3)
    tenant.buy(E5, 8)
    bot.slack.fail_next("chat.postMessage", error)
    before = tenant.all_license_writes()

    assert bot.command("lena", f"replace {group} E5") == 200

    told = text_of(reply_with(bot, "lena", "invite"))
    assert "/invite @licensebot" in told
    dm = bot.slack.open_im(bot.people["lena"])
    bot.slack.wait_for(
        lambda: next((m for m in bot.slack.messages(dm) if "Preview" in text_of(m)), None),
        description="the preview in the direct message",
    )
    bot.finish()
    assert tenant.all_license_writes() == before, "a preview writes nothing"
    no_internal_error(bot, "lena")


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
def test_a_workflow_checklist_the_bot_cannot_post_comes_to_the_requester_with_the_fix(
    workflows_with: WorkflowsFactory, error: str
) -> None:
    with workflows_with(approvals=APPROVALS) as running:
        bot = running.bot
        bot.slack.add_channel("approvals", members=list(bot.people.values()), channel_id=APPROVALS)
        bot.slack.fail_next("chat.postMessage", error)

        assert bot.command("bill", "cancel E4", "/subscription") == 200

        checklist = reply_with(bot, "bill", "Cancel the Office 365 E4 subscription")
        assert "Requester confirms · waiting for confirmation" in text_of(checklist)
        told = text_of(reply_with(bot, "bill", "invite"))
        assert "/invite @licensebot" in told
        assert "/subscription status" in told
        assert bot.posted() == [], "nothing in the channel"
        assert _status(running, "e4") is SubscriptionStatus.ENABLED, "nothing done before it is confirmed"

        # Its buttons work, and answer with the checklist as it moved (the notifier cannot update it).
        assert bot.press_on("bill", checklist, "workflow.choice.confirm") == 200
        request = bot.slack.wait_for(
            lambda: next(iter(bot.slack.messages(APPROVALS)), None), description="the approval request"
        )
        assert "asks to cancel the Office 365 E4 subscription" in text_of(request)
        moved = reply_with(bot, "bill", "Confirmed by bill@contoso.com")
        assert moved.ts == checklist.ts, "the checklist only bill sees was replaced"
        assert _status(running, "e4") is SubscriptionStatus.ENABLED, "cancelled only once approved"
        no_internal_error(bot, "bill")


# --- user groups --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "why", "fix"),
    [
        (
            "no_such_subteam",
            "it does not exist any more, or it is disabled",
            "Check in Slack (People > User groups) that the group exists and is enabled",
        ),
        (
            "missing_scope",
            "the app may not read user groups",
            "lacks the usergroups:read scope: ask a Slack admin to add it from manifest.yml",
        ),
    ],
)
def test_a_user_group_slack_refuses_to_list_says_which_what_and_how_to_fix_it(
    bot: SlackBot, tenant: Tenant, caplog: pytest.LogCaptureFixture, error: str, *, why: str, fix: str
) -> None:
    group = bot.slack.add_usergroup("team", [bot.people["alice"], bot.people["bob"]])
    bot.slack.fail_next("usergroups.users.list", error)

    assert bot.command("lena", f"replace <!subteam^{group}|@team> E5") == 200

    shown = text_of(reply_with(bot, "lena", "user group"))
    assert f"Slack would not list the members of the user group @team: {why}." in shown
    assert error not in shown, "Slack's error code goes to the log, not to the admin"
    assert fix in shown
    assert errors_of(bot.slack, "usergroups.users.list") == [error]
    no_internal_error(bot, "lena")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert tenant.all_license_writes() == 0


def test_a_user_group_that_is_gone_is_named_in_the_answer(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "assign <!subteam^S0GONE|@old-team> E5") == 200

    shown = text_of(reply_with(bot, "lena", "user group"))
    assert "the user group @old-team: it does not exist any more, or it is disabled." in shown
    no_internal_error(bot, "lena")
    assert tenant.all_license_writes() == 0


# --- forms --------------------------------------------------------------------------------------


def test_a_form_whose_trigger_expired_says_so_and_how_to_go_on(tenant: Tenant) -> None:
    """`/license` alone opens a form with the command's trigger id, which Slack takes for 3 seconds:
    here the command reaches the bot 4 seconds after it was typed."""
    now = [time.time()]
    with (
        LocalSlack(clock=lambda: now[0]) as slack,
        serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory))) as bot,
    ):
        body = bot.command_body("lena", "")
        now[0] += 4
        assert bot.post(body, signed_headers(body, SIGNING_SECRET)) == 200

        shown = text_of(bot.wait_reply("lena"))
        assert errors_of(slack, "views.open") == ["expired_trigger_id"]
        assert "The form could not open" in shown
        assert "Run the command again" in shown
        assert "/license assign @alice E5" in shown
        assert INTERNAL not in shown
        assert slack.open_views(bot.people["lena"]) == []
        bot.finish()
        assert tenant.all_license_writes() == 0


# --- the scheduler ------------------------------------------------------------------------------


def test_approvals_and_reminders_to_missing_channels_do_not_stop_the_scheduler(
    workflows_with: WorkflowsFactory,
) -> None:
    with workflows_with(approvals="C0GONE0001", reminders="C0GONE0002") as running:
        bot = running.bot
        assert bot.command("bill", "cancel E4", "/subscription") == 200
        checklist = bot.wait_posted("Cancel the Office 365 E4 subscription")
        checklist = settled(bot, checklist, "waiting for confirmation")
        assert bot.press_on("bill", checklist, "workflow.choice.confirm") == 200
        bot.slack.wait_for(lambda: posts_to_gone(bot), description="the approval request tried")
        # The approvals channel is gone: the request comes to the workflow's own channel instead.
        request = bot.wait_posted("Approve")
        assert request.channel == checklist.channel
        assert request.ts != checklist.ts

        running.clock.advance(timedelta(hours=5))  # an approval reminder and the daily digest are due
        tried = len(posts_to_gone(bot))
        running.scheduler.run_once()
        assert len(posts_to_gone(bot)) > tried, "the reminders were tried"
        assert {call.error for call in posts_to_gone(bot)} == {"channel_not_found"}
        assert {call.params["channel"] for call in posts_to_gone(bot)} == {"C0GONE0001", "C0GONE0002"}

        tried = len(posts_to_gone(bot))
        running.scheduler.run_once()
        assert len(posts_to_gone(bot)) == tried, "sent once: a failed reminder is not a loop of retries"

        assert bot.command("bill", "buy E5 10", "/subscription") == 200
        purchase = bot.wait_posted("Buy 10 × Office 365 E5")
        settled(bot, purchase, "waiting")
        running.clock.advance(timedelta(minutes=5))  # the purchase is active after 2 minutes
        report = running.scheduler.run_once()
        assert report.advanced, "the next tick still moves workflows on"
        settled(bot, purchase, "done")
        no_internal_error(bot, "bill")


def posts_to_gone(bot: SlackBot) -> list[Call]:
    return [
        c for c in bot.slack.calls("chat.postMessage") if str(c.params.get("channel")).startswith("C0GONE")
    ]
