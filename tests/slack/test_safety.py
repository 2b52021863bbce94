"""Safety at the edge: nothing from the tenant can mention or link, a redelivered request and a
double click each act once, and a shared preview is safe from other people's clicks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.local_slack import LocalSlack, Message, signed_headers
from domain.application.use_cases import LicenseUseCases
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from handlers.context import Services
from handlers.ids import (
    CANCEL_CHANGE,
    CONFIRM_CHANGE,
    FORM_MODE,
    FORM_PRODUCT,
    FORM_USERS,
    RETRY_FAILED,
    UNDO_CHANGE,
)
from storage.orm import SimUserRow
from storage.simulated.products import DEMO_PRODUCTS
from tests.fakes import FixedClock
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, serve, text_of

HOSTILE = "<!channel> Alice & <@U0BOSS> <https://evil.example|click>"
LIVE = ("<!channel>", "<@U0BOSS>", "<https://evil")
E5 = DEMO_PRODUCTS["ENTERPRISEPREMIUM"]


def rename(tenant: Tenant, upn: str, name: str) -> None:
    with tenant.sessions() as session:
        session.execute(
            update(SimUserRow).where(SimUserRow.user_principal_name == upn).values(display_name=name)
        )
        session.commit()


def at_once(*bodies: str, post: Callable[[str, dict[str, str]], int]) -> list[int]:
    """Send requests at the same moment, as a double click does."""
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(body: str) -> None:
        start.wait()
        statuses.append(post(body, signed_headers(body, SIGNING_SECRET)))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_a_hostile_display_name_is_harmless_everywhere_it_is_shown(bot: SlackBot, tenant: Tenant) -> None:
    rename(tenant, "alice@contoso.com", HOSTILE)
    rename(tenant, "lena@contoso.com", f"Lena {HOSTILE}")

    # A bulk preview, a small preview and its result, the services form, App Home.
    assert bot.command("lena", "remove has:E3 E3") == 200
    bulk = bot.wait_posted("Preview: remove licenses")
    assert bot.command("lena", f"replace {bot.mention('alice')} E5") == 200
    bot.wait_reply("lena", containing="Preview")
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    result = bot.wait_reply("lena", containing="Licenses replaced")
    form = bot.open_form("lena", f"services {bot.mention('alice')} E5")
    home_body = bot.slack.app_home_opened_body(bot.people["lena"])
    assert bot.send(home_body)[0] == 200
    home = bot.slack.wait_for(lambda: bot.slack.home(bot.people["lena"]))
    bot.finish()

    sent = json.dumps([call.params for call in bot.slack.calls()], ensure_ascii=False)
    for live in LIVE:
        assert live not in sent, f"{live} reached Slack live"
    assert "&lt;!channel&gt; Alice &amp; &lt;@U0BOSS&gt;" in sent
    assert HOSTILE in text_of(result), "people see the name as it is, as text"
    assert HOSTILE in text_of(bulk)
    assert "&lt;!channel&gt; Alice" in json.dumps(form.blocks)
    assert "Lena &lt;!channel&gt;" in json.dumps(home.blocks)


def test_a_redelivered_slash_command_changes_the_tenant_once(bot: SlackBot, tenant: Tenant) -> None:
    body = bot.command_body("lena", f"assign {bot.mention('bob')} E5")

    assert bot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    bot.wait_reply("lena", containing="Licenses assigned")
    assert bot.post(body, signed_headers(body, SIGNING_SECRET, retry_num=1)) == 200
    bot.finish()

    assert tenant.license_writes("bob@contoso.com") == 1
    assert len(bot.replies("lena")) == 1, "the redelivery did nothing, not even a reply"
    requested = [e for e in tenant.audit("lena@contoso.com") if e.result is AuditResult.REQUESTED]
    assert len(requested) == 1


def test_a_redelivered_button_press_confirms_once(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", f"replace {bot.mention('alice')} E5") == 200
    bot.wait_reply("lena", containing="Preview")
    body = bot.press_body("lena", CONFIRM_CHANGE)

    assert bot.post(body, signed_headers(body, SIGNING_SECRET)) == 200
    bot.wait_reply("lena", containing="Licenses replaced")
    posts = len(bot.slack.calls("response_url"))
    assert bot.post(body, signed_headers(body, SIGNING_SECRET, retry_num=2)) == 200
    bot.finish()

    assert len(bot.slack.calls("response_url")) == posts
    assert tenant.license_writes("alice@contoso.com") == 1


def finished_with_failures(bot: SlackBot, tenant: Tenant) -> Message:
    """A shared replace of 6 people that failed for one of them."""
    group = bot.slack.add_usergroup("six", [bot.people[n] for n in ("alice", "bob", "carol", "dave", "nora")])
    tenant.buy("ENTERPRISEPREMIUM", 5)
    assert bot.command("lena", f"replace <!subteam^{group}|@six> {bot.mention('grace')} E5") == 200
    preview = bot.wait_posted("Preview: replace licenses")
    tenant.set_licenses("bob@contoso.com", "ENTERPRISEWITHSCAL")
    assert bot.press_on("lena", preview, CONFIRM_CHANGE) == 200
    return bot.wait_posted("with problems")


def test_a_double_click_on_retry_retries_once(bot: SlackBot, tenant: Tenant) -> None:
    result = finished_with_failures(bot, tenant)
    first, second = (
        bot.slack.action_body(
            bot.people["lena"], action_id=RETRY_FAILED, channel=bot.channel, message_ts=result.ts
        )
        for _ in range(2)
    )

    assert at_once(first, second, post=bot.post) == [200, 200]
    bot.finish()

    seen = [text_of(reply) for reply in bot.replies("lena")]
    assert sum("Preview: replace licenses" in text for text in seen) == 1
    assert sum("already retried" in text for text in seen) == 1


def test_a_double_click_on_undo_previews_one_undo(bot: SlackBot, tenant: Tenant) -> None:
    result = finished_with_failures(bot, tenant)
    first, second = (
        bot.slack.action_body(
            bot.people["lena"], action_id=UNDO_CHANGE, channel=bot.channel, message_ts=result.ts
        )
        for _ in range(2)
    )

    assert at_once(first, second, post=bot.post) == [200, 200]
    bot.finish()

    undo_previews = [m for m in bot.posted() + bot.replies("lena") if "Preview: undo a change" in text_of(m)]
    assert len(undo_previews) == 1
    assert any("already being undone" in text_of(reply) for reply in bot.replies("lena"))


def seen_by(bot: SlackBot, who: str, containing: str) -> list[Message]:
    """Every message `who` sees (the channel's and their own) that holds `containing`."""
    return [m for m in bot.posted() + bot.replies(who) if containing in text_of(m)]


def test_a_cancelled_undo_can_be_asked_for_again_and_a_double_click_still_previews_one(
    bot: SlackBot, tenant: Tenant
) -> None:
    assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
    result = bot.wait_reply("lena", containing="Licenses assigned")
    assert bot.press("lena", UNDO_CHANGE) == 200
    bot.slack.wait_for(lambda: seen_by(bot, "lena", "Preview: undo a change"), description="the undo preview")
    assert bot.press("lena", CANCEL_CHANGE) == 200
    bot.slack.wait_for(
        lambda: seen_by(bot, "lena", "Cancelled: nothing was changed"), description="cancelled"
    )
    first, second = (
        bot.slack.action_body(
            bot.people["lena"], action_id=UNDO_CHANGE, channel=bot.channel, message_ts=result.ts
        )
        for _ in range(2)
    )

    assert at_once(first, second, post=bot.post) == [200, 200]
    bot.finish()

    shown = [text_of(m) for m in bot.posted() + bot.replies("lena")]
    assert sum("Preview: undo a change" in text for text in shown) == 1, shown
    assert sum("already being undone" in text for text in shown) == 1, shown
    assert not [text for text in shown if "Something went wrong" in text]
    assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPACK", "ENTERPRISEPREMIUM"}


def test_an_expired_undo_preview_leaves_the_undo_available(slack: LocalSlack, tenant: Tenant) -> None:
    clock = FixedClock(datetime.now(UTC))
    licenses = LicenseUseCases.build(
        tenant.uow, tenant.directory, clock, ProductCatalog(), preview_ttl=timedelta(minutes=15)
    )
    with serve(slack, Services(licenses=licenses)) as bot:
        assert bot.command("lena", f"assign {bot.mention('bob')} E5") == 200
        result = bot.wait_reply("lena", containing="Licenses assigned")
        assert bot.press_on("lena", result, UNDO_CHANGE) == 200
        stale = bot.slack.wait_for(
            lambda: seen_by(bot, "lena", "Preview: undo a change"), description="the undo preview"
        )[0]
        clock.advance(timedelta(minutes=16))  # the preview expired; the undo works for an hour

        assert bot.press_on("lena", result, UNDO_CHANGE) == 200

        fresh = bot.slack.wait_for(
            lambda: [m for m in seen_by(bot, "lena", "Preview: undo a change") if m.ts != stale.ts],
            description="a second undo preview",
        )[0]
        assert bot.press_on("lena", stale, CONFIRM_CHANGE) == 200
        bot.slack.wait_for(lambda: seen_by(bot, "lena", "already expired"), description="the stale one")
        assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPACK", "ENTERPRISEPREMIUM"}
        assert bot.press_on("lena", fresh, CONFIRM_CHANGE) == 200
        bot.slack.wait_for(lambda: seen_by(bot, "lena", "Change undone"), description="the undo result")
        assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPACK"}


def test_a_double_click_on_a_shared_confirm_applies_once(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "remove has:E3 E3") == 200
    preview = bot.wait_posted("Preview: remove licenses")
    first, second = (
        bot.slack.action_body(
            bot.people["lena"], action_id=CONFIRM_CHANGE, channel=bot.channel, message_ts=preview.ts
        )
        for _ in range(2)
    )

    assert at_once(first, second, post=bot.post) == [200, 200]
    bot.wait_posted("Licenses removed")
    bot.finish()

    assert tenant.all_license_writes() == 11, "three get E3 only from a group: no write for them (R21)"
    assert any("already" in text_of(reply) for reply in bot.replies("lena"))


def test_someone_else_cannot_confirm_a_shared_preview_nor_spoil_it(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", "remove has:E3 E3") == 200
    preview = bot.wait_posted("Preview: remove licenses")

    assert bot.press_on("grace", preview, CONFIRM_CHANGE) == 200

    refusal = text_of(bot.wait_reply("grace"))
    assert "Only lena@contoso.com, who asked for it, can confirm it." in refusal
    still = bot.slack.message(bot.channel, preview.ts)
    assert still is not None
    assert "Preview: remove licenses" in text_of(still), "the shared preview is as it was"
    assert tenant.all_license_writes() == 0


def test_a_form_submitted_twice_at_once_changes_once(bot: SlackBot, tenant: Tenant) -> None:
    view = bot.choose("lena", bot.open_form("lena"), FORM_PRODUCT, E5.sku_id)
    inputs = {FORM_USERS: [bot.people["bob"]], FORM_PRODUCT: E5.sku_id, FORM_MODE: "assign"}
    body = bot.slack.view_submission_body(bot.people["lena"], view.id, inputs)

    assert at_once(body, body, post=bot.post) == [200, 200]
    bot.wait_reply("lena", containing="Licenses assigned")
    bot.finish()

    assert tenant.license_writes("bob@contoso.com") == 1


def test_a_refused_assign_is_audited_as_the_assign_and_reads_nothing_else(
    bot: SlackBot, tenant: Tenant
) -> None:
    assert bot.command("dave", f"assign {bot.mention('alice')} E5") == 200
    bot.wait_reply("dave", containing="may not")
    refusals = [e for e in tenant.audit("dave@contoso.com") if e.result is AuditResult.REFUSED]
    assert [e.action for e in refusals] == ["assign licenses"], "no read of the products before it"
