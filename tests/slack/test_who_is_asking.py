"""R24: a Slack account acts for the tenant user of its profile email only when Slack vouches for it.

Each kind of account that may not act (a guest, another organization's member, an email Slack has
not confirmed, a bot, an app, a deactivated account) carries the address of a real admin and tries
what the admin could do: a command, the Confirm button of a change, the Approve button of a
cancellation. Each time: a refusal that says why, nothing changed, and the refusal in the audit
with the Slack account and workspace it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.local_slack import LocalSlack, Message
from domain.audit import AuditEntry, AuditResult
from domain.model import SubscriptionStatus
from handlers.ids import CONFIRM_CHANGE
from storage.orm import SimUserRow
from storage.simulated import SimulatedDirectory, demo_subscription_id
from tests.slack.conftest import SlackBot, Tenant, serve, text_of, wire_workflows

LENA = "lena@contoso.com"  # a License admin
BEATRICE = "beatrice@contoso.com"  # a Billing admin
BILL = "bill@contoso.com"  # a Billing admin, who asks to cancel
WILLIAM = "william@contoso.com"  # Bill's user principal name once renamed
OTHER_ORG = "T0OTHERORG"


@dataclass(frozen=True)
class Kind:
    name: str
    account: dict[str, Any]
    reason: str


KINDS = [
    Kind("multi-channel guest", {"is_restricted": True}, "is a guest of this workspace"),
    Kind("single-channel guest", {"is_ultra_restricted": True}, "is a single-channel guest"),
    Kind("another organization", {"team_id": OTHER_ORG}, "belongs to another organization"),
    Kind("unconfirmed email", {"is_email_confirmed": False}, "has not confirmed the email address"),
    Kind("bot", {"is_bot": True}, "Requests from bots, apps and workflows"),
    Kind("app or workflow", {"is_app_user": True}, "Requests from bots, apps and workflows"),
    Kind("deactivated", {"deleted": True}, "has been deactivated"),
]
IDS = [kind.name for kind in KINDS]


def _impostor(bot: SlackBot, kind: Kind, email: str) -> None:
    """An account of `kind` whose Slack profile carries `email`, in a channel with everyone."""
    bot.people["impostor"] = bot.slack.add_user("impostor", email=email, **kind.account)
    bot.channel = bot.slack.add_channel("licensing-2", members=list(bot.people.values()))


def _refusals(tenant: Tenant, actor: str) -> list[AuditEntry]:
    return [e for e in tenant.audit(actor) if e.result is AuditResult.REFUSED]


def _refused_in_audit(bot: SlackBot, tenant: Tenant, actor: str, kind: Kind) -> None:
    (refusal,) = _refusals(tenant, actor)
    assert kind.reason in refusal.reason
    assert refusal.slack_user == bot.people["impostor"]
    assert refusal.slack_team == bot.slack.team_id


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_command_is_refused_with_the_reason_and_audited(bot: SlackBot, tenant: Tenant, kind: Kind) -> None:
    _impostor(bot, kind, LENA)

    assert bot.command("impostor", f"replace {bot.mention('bob')} E5") == 200

    refusal = text_of(bot.wait_reply("impostor"))
    assert kind.reason in refusal
    assert "does not match any user" not in refusal
    bot.finish()
    assert tenant.all_license_writes() == 0
    assert bot.slack.messages(bot.channel) == [], "no preview"
    _refused_in_audit(bot, tenant, LENA, kind)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_confirm_button_of_someone_elses_change_is_refused_and_audited(
    bot: SlackBot, tenant: Tenant, kind: Kind
) -> None:
    _impostor(bot, kind, LENA)
    assert bot.command("lena", "remove has:E3 E3") == 200
    preview = bot.wait_posted("Preview: remove licenses")

    assert bot.press_on("impostor", preview, CONFIRM_CHANGE) == 200

    assert kind.reason in text_of(bot.wait_reply("impostor"))
    bot.finish()
    assert tenant.all_license_writes() == 0
    assert "Preview: remove licenses" in text_of(bot.slack.message(preview.channel, preview.ts))  # type: ignore[arg-type]
    _refused_in_audit(bot, tenant, LENA, kind)


@dataclass
class Approving:
    bot: SlackBot
    tenant: Tenant
    request: Message
    approvals: str


@pytest.fixture
def approving(slack: LocalSlack, tmp_path: Path) -> Iterator[Approving]:
    """Bill (a Billing admin) has asked to cancel the E4 subscription; the approval request waits."""
    approvals = slack.add_channel("license-approvals")
    wired = wire_workflows(slack, tmp_path / "licensebot.db", approvals=approvals, reminders=approvals)
    with serve(slack, wired.services) as bot:
        for name in ("bill", "beatrice"):
            bot.people[name] = slack.add_user(name, email=f"{name}@contoso.com")
        bot.channel = slack.add_channel("subscriptions", members=list(bot.people.values()))
        assert bot.command("bill", "cancel E4", "/subscription") == 200
        checklist = bot.wait_posted("Cancel the Office 365 E4 subscription")
        slack.wait_for(
            lambda: "waiting for confirmation" in text_of(slack.message(checklist.channel, checklist.ts)),  # type: ignore[arg-type]
            description="the confirmation step",
        )
        assert bot.press_on("bill", checklist, "workflow.choice.confirm") == 200
        request = slack.wait_for(
            lambda: next(iter(slack.messages(approvals)), None), description="the approval request"
        )
        yield Approving(bot, wired.tenant, request, approvals)
    wired.tenant.engine.dispose()


def _e4_status(tenant: Tenant) -> SubscriptionStatus:
    with tenant.sessions() as session:
        subscriptions = SimulatedDirectory(session, SystemClock()).subscriptions()
        return next(s for s in subscriptions if s.id == demo_subscription_id("e4")).status


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_approve_button_is_refused_and_audited(approving: Approving, kind: Kind) -> None:
    bot = approving.bot
    bot.people["impostor"] = bot.slack.add_user("impostor", email=BEATRICE, **kind.account)
    bot.slack.add_channel("x", members=list(bot.people.values()), channel_id=approving.approvals)

    assert bot.press_on("impostor", approving.request, "approval.approve-loss") == 200

    impostor = bot.people["impostor"]
    reply = bot.slack.wait_for(
        lambda: next(iter(bot.slack.ephemerals(impostor, channel=approving.approvals)), None),
        description="the refusal",
    )
    assert kind.reason in text_of(reply)
    bot.finish()
    assert _e4_status(approving.tenant) is SubscriptionStatus.ENABLED
    assert "Approved" not in text_of(bot.slack.message(approving.request.channel, approving.request.ts))  # type: ignore[arg-type]
    _refused_in_audit(bot, approving.tenant, BEATRICE, kind)


def test_every_audit_entry_of_a_request_records_its_slack_account_and_workspace(
    bot: SlackBot, tenant: Tenant
) -> None:
    assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
    bot.wait_reply("lena", containing="Licenses assigned")
    bot.finish()

    entries = tenant.audit(LENA)
    assert {e.result for e in entries} >= {AuditResult.REQUESTED, AuditResult.APPLIED}
    assert {(e.slack_user, e.slack_team) for e in entries} == {(bot.people["lena"], bot.slack.team_id)}


def test_the_requester_cannot_approve_under_a_second_slack_account_even_renamed(approving: Approving) -> None:
    """R24: four eyes are two Entra users. Bill's account is renamed after he asked; his second Slack
    account, carrying the new address, is still Bill (same object id) and may not approve."""
    bot, tenant = approving.bot, approving.tenant
    with tenant.sessions.begin() as session:
        row = session.scalars(select(SimUserRow).where(SimUserRow.user_principal_name == BILL)).one()
        row.user_principal_name = row.mail = WILLIAM
    bot.people["william"] = bot.slack.add_user("william", email=WILLIAM)
    bot.slack.add_channel("x", members=list(bot.people.values()), channel_id=approving.approvals)

    assert bot.press_on("william", approving.request, "approval.approve-loss") == 200

    william = bot.people["william"]
    reply = bot.slack.wait_for(
        lambda: next(iter(bot.slack.ephemerals(william, channel=approving.approvals)), None),
        description="the refusal",
    )
    assert "their own request" in text_of(reply)
    bot.finish()
    assert _e4_status(tenant) is SubscriptionStatus.ENABLED
    (refusal,) = _refusals(tenant, WILLIAM)
    assert "their own request" in refusal.reason
    assert refusal.slack_user == william
