"""Bulk changes through the real app: a shared preview with counts and its CSV thread, progress in
place, the result per user, retrying the failed ones, and undo."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.clock import SystemClock
from bot.local_slack import LocalSlack, Message
from domain.application.use_cases import LicenseUseCases
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from handlers.context import Services
from handlers.ids import CONFIRM_CHANGE, RETRY_FAILED, UNDO_CHANGE
from tests.slack.conftest import FAST, SlackBot, Tenant, licenses_on, serve, text_of

E3, E4, E5 = "ENTERPRISEPACK", "ENTERPRISEWITHSCAL", "ENTERPRISEPREMIUM"


@pytest.fixture
def fast_bot(slack: LocalSlack, tenant: Tenant) -> Iterator[SlackBot]:
    """The bot updating a progress message after every batch (the throttle is tested on its own)."""
    with serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)) as running:
        yield running


def staff(bot: SlackBot, tenant: Tenant, count: int, *products: str) -> list[str]:
    """`count` tenant users holding `products`, each a Slack user with the same email."""
    upns: list[str] = []
    for n in range(1, count + 1):
        upn = tenant.add_user(f"staff{n:02}@contoso.com", f"Staff Member {n:02}", *products)
        bot.people[f"staff{n:02}"] = bot.slack.add_user(f"staff{n:02}", email=upn)
        upns.append(upn)
    return upns


def group_of(bot: SlackBot, handle: str, names: list[str]) -> str:
    group = bot.slack.add_usergroup(handle, [bot.people[name] for name in names])
    return f"<!subteam^{group}|@{handle}>"


def updates_of(bot: SlackBot, message: Message) -> list[str]:
    """The texts of every chat.update of one message, in order."""
    return [
        str(call.params.get("text"))
        for call in bot.slack.calls("chat.update")
        if call.params.get("ts") == message.ts
    ]


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_a_60_user_replace_previews_in_the_channel_with_a_csv_then_reports_progress_in_place(
    fast_bot: SlackBot, tenant: Tenant
) -> None:
    bot = fast_bot
    upns = staff(bot, tenant, 60, E3)
    tenant.buy(E5, 60)  # 70 seats, 3 used: room for all 60 (R2)
    migration = group_of(bot, "migration", [f"staff{n:02}" for n in range(1, 61)])

    assert bot.command("lena", f"replace {migration} E5") == 200

    preview = bot.wait_posted("Preview: replace licenses")
    shown = text_of(preview)
    assert "60 users will get Office 365 E5 in place of every license they hold now" in shown
    assert "Gain a license: 60 · lose one: 60 · unchanged: 0 · refused: 0" in shown
    assert "Staff Member 01 (staff01@contoso.com): loses Office 365 E3; gains Office 365 E5" in shown
    assert "Staff Member 25 (staff25@contoso.com)" in shown
    assert "Staff Member 26" not in shown
    assert "… and 35 more users (every one in the CSV in this thread)" in shown
    assert "Office 365 E5: 3 → 63 used of 70 (7 free after)" in shown
    assert "Posted in the channel, not only to you" in shown
    assert not preview.ephemeral
    upload = bot.slack.wait_for(bot.slack.files, description="the CSV of the preview")[0]
    assert upload.channel == bot.channel
    assert upload.thread_ts == preview.ts, "the full list goes in the preview's thread"
    listed = rows(upload.content)
    assert [row["email"] for row in listed] == upns
    assert listed[0]["change"] == "loses Office 365 E3; gains Office 365 E5"
    assert {row["status"] for row in listed} == {"planned"}

    # Three users change elsewhere between the preview and the confirmation.
    for upn in upns[:3]:
        tenant.set_licenses(upn, E4)

    assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    result = bot.wait_posted("Licenses replaced, with problems")

    assert result.ts == preview.ts, "the preview became the result, in place"
    texts = updates_of(bot, preview)
    assert texts[0] == "Replacing licenses: 0 of 60 done.", "applying, as soon as the confirmation held"
    assert "Replacing licenses: 20 of 60 done." in texts
    assert "Replacing licenses: 40 of 60 done." in texts
    assert len(texts) >= 4, "several updates of one message: progress, then the result"
    shown = text_of(result)
    assert "Office 365 E5 replaced for 57 of 60 users." in shown
    assert "57 applied · 0 already so · 3 changed by someone else · 0 failed" in shown
    assert (
        "Staff Member 01 staff01@contoso.com: Staff Member 01's licenses changed since the preview" in shown
    )
    assert "[1] Retry the failed ones (3)  [2] Undo" in shown
    assert bot.slack.calls("response_url") == [], "long work never goes through a response URL"
    assert tenant.products_of(upns[10]) == {E5}
    assert tenant.products_of(upns[0]) == {E4}
    result_csv = bot.slack.wait_for(lambda: [f for f in bot.slack.files() if f.name.startswith("result-")])
    assert result_csv[0].thread_ts == preview.ts
    outcomes = {row["email"]: row["result"] for row in rows(result_csv[0].content)}
    assert outcomes[upns[0]] == "conflict"
    assert outcomes[upns[59]] == "applied"


def test_retry_the_failed_ones_plans_them_afresh_with_the_same_preview_rules(
    fast_bot: SlackBot, tenant: Tenant
) -> None:
    bot = fast_bot
    upns = staff(bot, tenant, 8, E3)
    tenant.buy(E5, 10)
    team = group_of(bot, "team", [f"staff{n:02}" for n in range(1, 9)])
    assert bot.command("lena", f"replace {team} E5") == 200
    preview = bot.wait_posted("Preview: replace licenses")
    tenant.set_licenses(upns[0], E4)
    tenant.set_licenses(upns[1], E4)
    assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    result = bot.wait_posted("with problems")

    assert bot.press_on("lena", result, RETRY_FAILED) == 200

    retry = bot.wait_reply("lena", containing="Preview: replace licenses")
    shown = text_of(retry)
    assert "2 users will get Office 365 E5" in shown
    assert "Staff Member 01 (staff01@contoso.com): loses Office 365 E4; gains Office 365 E5" in shown
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", containing="Licenses replaced")
    assert all(tenant.products_of(upn) == {E5} for upn in upns)


def test_undo_restores_licenses_and_services_and_refuses_users_changed_since(
    fast_bot: SlackBot, tenant: Tenant
) -> None:
    bot = fast_bot
    upns = staff(bot, tenant, 6, E3)
    team = group_of(bot, "team", ["carol", *(f"staff{n:02}" for n in range(1, 7))])
    assert bot.command("lena", f"replace {team} E5 without Teams") == 200
    assert bot.press_on("lena", bot.wait_posted("Preview: replace licenses"), CONFIRM_CHANGE) == 200
    result = bot.wait_posted("Licenses replaced")
    assert "Undo works until" in text_of(result)
    tenant.set_licenses(upns[5], E4)  # changed since: the undo must leave them alone

    assert bot.press_on("lena", result, UNDO_CHANGE) == 200

    undo = bot.wait_posted("Preview: undo a change")
    shown = text_of(undo)
    assert "6 users will get back exactly what they held before change" in shown
    assert "Carol Jones (carol@contoso.com): loses Office 365 E5; gains Office 365 E3 (Sway, Yammer" in shown
    assert "Left out (1)" in shown
    assert "Staff Member 06: their licenses changed since, so undoing would overwrite that" in shown
    assert tenant.products_of("carol@contoso.com") == {E5}, "nothing changes before Confirm"

    assert bot.press_on("lena", undo, CONFIRM_CHANGE) == 200
    bot.wait_posted("Change undone")
    assert tenant.products_of("carol@contoso.com") == {E3}
    assert tenant.services_off("carol@contoso.com", E3) == {"SWAY", "YAMMER_ENTERPRISE"}
    assert all(tenant.products_of(upn) == {E3} for upn in upns[:5])
    assert tenant.products_of(upns[5]) == {E4}
    requested = [e for e in tenant.audit("lena@contoso.com") if e.result is AuditResult.REQUESTED]
    assert requested[0].action == "undo Office 365 E5"
    assert requested[0].details["undo_of"]


def test_an_undo_after_its_time_is_refused_with_the_reason(slack: LocalSlack, tenant: Tenant) -> None:
    licenses = LicenseUseCases.build(
        tenant.uow, tenant.directory, SystemClock(), ProductCatalog(), undo_ttl=timedelta(0)
    )
    with serve(slack, Services(licenses=licenses, timing=FAST)) as bot:
        assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
        bot.wait_reply("lena", containing="Licenses assigned")

        assert bot.press("lena", UNDO_CHANGE) == 200

        refusal = text_of(bot.wait_reply("lena", 2))
        assert "This change can no longer be undone: the undo expired at" in refusal
        assert "Rule R20" not in refusal
        assert "Licenses assigned" in text_of(bot.replies("lena")[0]), "the result stays"
        assert tenant.products_of("bob@contoso.com") == {E3, E5}


def test_everyone_holding_a_product_is_a_bulk_change_shared_in_the_channel(
    bot: SlackBot, tenant: Tenant
) -> None:
    assert bot.command("lena", "remove has:E3 E3") == 200
    preview = text_of(bot.wait_posted("Preview: remove licenses"))
    # Ivan, Yara and Zoe get E3 only from the group All Staff E3 (left out); Judy keeps it from the
    # group, so her seat stays taken (R21).
    assert "11 users will lose Office 365 E3" in preview
    assert "Gain a license: 0 · lose one: 10 · unchanged: 0 · refused: 3" in preview
    assert "Office 365 E3: 14 → 4 used of 25 (21 free after)" in preview
    assert "(so that it has a thread)" in preview
    assert bot.slack.files() == [], "14 users fit in the message: no CSV"


def test_a_user_group_counts_who_is_left_out_and_who_already_has_it(bot: SlackBot, tenant: Tenant) -> None:
    names = ["alice", "bob", "carol", "nora", "grace", "dave"]
    group = group_of(bot, "pilots", names)
    assert bot.command("lena", f"assign {group} E5") == 200
    result = text_of(bot.wait_posted("Licenses assigned"))
    assert "Office 365 E5 assigned for 4 of 4 users." in result
    assert (
        bot.slack.calls("usergroups.users.list")[0].params["usergroup"] == group.split("^")[1].split("|")[0]
    )
    assert "1 user left out at the preview" in result  # nora: no usage location (R4)
    assert "1 user already as asked, unchanged" in result  # grace holds E5 already
    assert tenant.products_of("grace@contoso.com") == {E5}


def test_a_bulk_change_asked_where_the_bot_may_not_post_comes_in_a_direct_message(
    bot: SlackBot, tenant: Tenant
) -> None:
    private = bot.slack.add_channel("secret", members=[bot.people["lena"]], bot_is_member=False)
    body = bot.slack.slash_command_body(
        "/license", "remove has:E3 E3", user_id=bot.people["lena"], channel_id=private
    )
    assert bot.send(body)[0] == 200

    dm = bot.slack.open_im(bot.people["lena"])
    preview = bot.slack.wait_for(lambda: bot.slack.latest_message(dm), description="the preview in the DM")
    assert "Preview: remove licenses" in text_of(preview)
    assert bot.slack.calls("chat.postMessage")[0].error == "not_in_channel"
