"""`/license replace|remove|assign` end to end: preview, Confirm / Cancel, double clicks, signatures."""

from __future__ import annotations

import threading
import time

from bot.local_slack import signed_headers
from domain.audit import AuditResult
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, text_of

ALICE = "alice@contoso.com"


def preview_replace_alice(bot: SlackBot) -> None:
    assert bot.command("lena", f"replace {bot.mention('alice')} E5") == 200
    preview = bot.wait_reply("lena", containing="Preview: replace licenses")
    shown = text_of(preview)
    assert "Alice Wu (alice@contoso.com): loses Office 365 E3; gains Office 365 E5" in shown
    assert "Office 365 E5: 3 → 4 used of 10 (6 free after)" in shown
    assert "[1] Confirm (primary)  [2] Cancel" in shown


def test_replace_previews_then_confirm_applies_it(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    assert tenant.products_of(ALICE) == {"ENTERPRISEPACK"}, "nothing changes before Confirm"

    assert bot.press("lena", CONFIRM_CHANGE) == 200
    result = bot.wait_reply("lena", containing="Licenses replaced")

    assert "Office 365 E5 replaced for 1 of 1 user." in text_of(result)
    assert "1 applied" in text_of(result)
    assert "Confirm" not in text_of(result)
    assert len(bot.replies("lena")) == 1, "the preview itself became the result"
    assert tenant.products_of(ALICE) == {"ENTERPRISEPREMIUM"}
    assert tenant.license_writes(ALICE) == 1
    assert AuditResult.APPLIED in {entry.result for entry in tenant.audit("lena@contoso.com")}


def test_a_double_click_applies_once(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    posts_before = len(bot.slack.calls("response_url"))
    first, second = bot.press_body("lena", CONFIRM_CHANGE), bot.press_body("lena", CONFIRM_CHANGE)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def click(body: str) -> None:
        start.wait()
        statuses.append(bot.post(body, signed_headers(body, SIGNING_SECRET)))

    clicks = [threading.Thread(target=click, args=(body,)) for body in (first, second)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert statuses == [200, 200]
    # Each click posts twice through its response URL: "Applying…", then the result or a notice.
    bot.wait_calls("response_url", posts_before + 4)

    assert tenant.products_of(ALICE) == {"ENTERPRISEPREMIUM"}
    assert tenant.license_writes(ALICE) == 1
    assert tenant.all_license_writes() == 1
    seen = "\n".join(text_of(reply) for reply in bot.replies("lena"))
    assert "already" in seen
    assert "Something went wrong" not in seen


def test_a_click_after_the_change_is_done_is_a_notice(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    late_click = bot.press_body("lena", CONFIRM_CHANGE)
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", containing="Licenses replaced")

    assert bot.post(late_click, signed_headers(late_click, SIGNING_SECRET)) == 200
    notice = bot.wait_reply("lena", containing="already done")
    assert "Nothing more to do here" in text_of(notice)
    assert tenant.license_writes(ALICE) == 1


def test_cancel_changes_nothing_and_confirm_afterwards_does_nothing(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    confirm_later = bot.press_body("lena", CONFIRM_CHANGE)
    assert bot.press("lena", CANCEL_CHANGE) == 200
    cancelled = bot.wait_reply("lena", containing="Cancelled: nothing was changed")
    assert "Confirm" not in text_of(cancelled)

    assert bot.post(confirm_later, signed_headers(confirm_later, SIGNING_SECRET)) == 200
    bot.wait_reply("lena", containing="already cancelled")
    assert tenant.products_of(ALICE) == {"ENTERPRISEPACK"}
    assert tenant.all_license_writes() == 0


def test_a_wrong_signature_is_refused_with_401_and_changes_nothing(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    calls_before = len(bot.slack.calls())
    body = bot.press_body("lena", CONFIRM_CHANGE)

    assert bot.post(body, signed_headers(body, "not-the-signing-secret")) == 401
    forged = signed_headers(body, SIGNING_SECRET)
    assert bot.post(body.replace("lena", "dave"), forged) == 401
    assert bot.post(body, {k: v for k, v in forged.items() if k != "X-Slack-Signature"}) == 401

    assert len(bot.slack.calls()) == calls_before, "the app did nothing"
    assert tenant.all_license_writes() == 0
    assert bot.post(body, forged) == 200, "the preview was still waiting"
    bot.wait_reply("lena", containing="Licenses replaced")


def test_a_stale_timestamp_is_refused_with_401(bot: SlackBot, tenant: Tenant) -> None:
    preview_replace_alice(bot)
    body = bot.press_body("lena", CONFIRM_CHANGE)
    stale = signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 6 * 60)
    calls_before = len(bot.slack.calls())

    assert bot.post(body, stale) == 401
    assert len(bot.slack.calls()) == calls_before
    assert tenant.all_license_writes() == 0


def test_a_slash_command_with_a_bad_signature_is_refused(bot: SlackBot, tenant: Tenant) -> None:
    body = bot.command_body("lena", f"replace {bot.mention('alice')} E5")
    assert bot.post(body, signed_headers(body, "wrong")) == 401
    assert bot.slack.calls("users.info") == []
    assert tenant.audit("lena@contoso.com") == []


def test_assign_applies_at_once_and_reports_per_user(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", f"assign {bot.mention('bob')} {bot.mention('nora')} E5 without Sway") == 200
    result = bot.wait_reply("lena", containing="Licenses assigned")
    shown = text_of(result)
    assert "Bob Smith (bob@contoso.com): gains Office 365 E5 (Sway off)" in shown
    assert "Left out" not in shown
    assert "1 user left out at the preview" in shown
    assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPACK", "ENTERPRISEPREMIUM"}
    assert tenant.products_of("nora@contoso.com") == set()


def test_assign_without_usage_location_explains_r4_and_the_fix(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", f"assign {bot.mention('nora')} E5") == 200
    reply = text_of(bot.wait_reply("lena", containing="usage location"))
    assert "Nora Lee has no usage location" in reply
    assert "Set it in the admin center (Users > Active users > the user > Usage location)" in reply
    assert "Rule R4" not in reply
    assert tenant.all_license_writes() == 0


def test_an_admin_without_a_role_is_refused_and_the_refusal_audited(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("dave", f"replace {bot.mention('alice')} E5") == 200
    reply = text_of(bot.wait_reply("dave", containing="may not"))
    assert "Dave Brown may not assign, replace or remove licenses and services." in reply
    assert "Rule R16" not in reply
    refusals = [e for e in tenant.audit("dave@contoso.com") if e.result is AuditResult.REFUSED]
    assert len(refusals) == 1
    assert refusals[0].correlation_id, "the refusal carries the request's correlation id"
    assert tenant.products_of(ALICE) == {"ENTERPRISEPACK"}


def test_a_refusal_is_audited_with_whom_it_was_for(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("dave", f"replace {bot.mention('alice')} E5") == 200
    bot.wait_reply("dave", containing="may not")
    assert bot.command("dave", "remove has:E3 bob@contoso.com E3") == 200
    bot.wait_reply("dave", 2, containing="may not")

    refusals = [e for e in tenant.audit("dave@contoso.com") if e.result is AuditResult.REFUSED]
    assert sorted((e.action, e.target) for e in refusals) == [
        ("remove licenses", "has:E3, bob@contoso.com"),
        ("replace licenses", ALICE),
    ]


def test_an_address_of_another_organization_is_refused_by_r8(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "assign eve@fabrikam.com E5") == 200

    reply = text_of(bot.wait_reply("lena", containing="not in this organization"))
    assert "eve@fabrikam.com is not in this organization" in reply
    assert "not one of the tenant's verified domains" in reply
    assert "contoso.com" in reply
    assert "Rule R8" not in reply
    assert "No user" not in reply
    assert tenant.all_license_writes() == 0


def test_users_by_email_and_mailto_link(bot: SlackBot, tenant: Tenant) -> None:
    text = "remove <mailto:alice@contoso.com|alice@contoso.com> bob@contoso.com E3"
    assert bot.command("lena", text) == 200
    preview = text_of(bot.wait_reply("lena", containing="Preview: remove licenses"))
    assert "Alice Wu" in preview
    assert "Bob Smith" in preview
    assert "Office 365 E3: 14 → 12 used of 25 (13 free after)" in preview


def test_has_names_everyone_holding_a_product(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "replace has:E4 E5") == 200
    preview = text_of(bot.wait_reply("lena", containing="Preview: replace licenses"))
    assert "5 users will get Office 365 E5" in preview
    assert "Ken Tanaka (ken@contoso.com): loses Microsoft 365 Audio Conferencing, Office 365 E4" in preview
    assert "Office 365 E5: 3 → 8 used of 10 (2 free after)" in preview
    assert "Office 365 E4: 5 → 0 used of 8 (8 free after)" in preview


def test_a_user_group_is_expanded_to_its_members(bot: SlackBot, tenant: Tenant) -> None:
    group = bot.slack.add_usergroup("pilots", [bot.people["alice"], bot.people["bob"]])
    assert bot.command("lena", f"replace <!subteam^{group}|@pilots> E5") == 200
    preview = text_of(bot.wait_reply("lena", containing="Preview: replace licenses"))
    assert "2 users will get Office 365 E5" in preview
    assert "Alice Wu" in preview
    assert "Bob Smith" in preview


def test_an_unknown_product_suggests_and_changes_nothing(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", f"assign {bot.mention('alice')} E55") == 200
    reply = text_of(bot.wait_reply("lena", containing="no product"))
    assert "E55" in reply
    assert tenant.all_license_writes() == 0
