"""`/license show`, `/license help`, usage errors, and escaping of what the tenant holds."""

from __future__ import annotations

import json

from sqlalchemy import update

from storage.orm import SimUserRow
from tests.slack.conftest import SlackBot, Tenant, text_of


def test_show_lists_licenses_disabled_services_and_seats_left(bot: SlackBot) -> None:
    assert bot.command("lena", f"show {bot.mention('carol')}") == 200
    shown = text_of(bot.wait_reply("lena", containing="Licenses"))
    assert "Carol Jones · carol@contoso.com" in shown
    assert "Usage location: US" in shown
    assert "Office 365 E3 (E3)" in shown
    assert "Services off: " in shown
    assert "Sway" in shown
    assert "Seats left: 11 of 25" in shown


def test_show_a_user_without_usage_location(bot: SlackBot) -> None:
    assert bot.command("lena", "show nora@contoso.com") == 200
    shown = text_of(bot.wait_reply("lena", containing="Licenses"))
    assert "No usage location" in shown
    assert "No licenses." in shown


def test_show_an_unknown_user(bot: SlackBot) -> None:
    assert bot.command("lena", "show mallory@contoso.com") == 200
    assert "No user “mallory@contoso.com” in the tenant." in text_of(bot.wait_reply("lena"))


def test_a_slack_user_without_email_is_not_a_tenant_user(bot: SlackBot) -> None:
    ghost = bot.slack.add_user("ghost")
    assert bot.command("lena", f"show <@{ghost}|ghost>") == 200
    assert "No user “@ghost” in the tenant." in text_of(bot.wait_reply("lena"))


def test_a_requester_without_email_is_told_why(bot: SlackBot) -> None:
    bot.people["ghost"] = bot.slack.add_user("ghost")
    assert bot.command("ghost", f"show {bot.mention('alice')}") == 200
    reply = text_of(bot.wait_reply("ghost"))
    assert "does not match any user of the Microsoft 365 tenant" in reply
    assert "Rule R16" not in reply


def test_help_shows_every_form_with_examples(bot: SlackBot) -> None:
    assert bot.command("lena", "help") == 200
    shown = text_of(bot.wait_reply("lena", containing="/license: Microsoft 365 licenses"))
    assert "/license replace @user… PRODUCT [without SERVICE, …]" in shown
    assert "/license replace has:E3 E5" in shown
    assert "/license services @user PRODUCT" in shown
    assert "/license services @alice E5" in shown
    assert "/license alone opens a form" in shown
    assert bot.slack.calls("users.info") == [], "help needs nobody's identity"


def test_help_on_one_form(bot: SlackBot) -> None:
    assert bot.command("lena", "help services") == 200
    shown = text_of(bot.wait_reply("lena", containing="/license: Microsoft 365 licenses"))
    assert "/license services @alice E5" in shown
    assert "/license replace" not in shown


def test_an_unknown_subcommand_shows_the_usage_with_a_suggestion(bot: SlackBot) -> None:
    assert bot.command("lena", f"replcae {bot.mention('alice')} E5") == 200
    reply = text_of(bot.wait_reply("lena"))
    assert "/license has no subcommand “replcae”." in reply
    assert "Did you mean /license replace?" in reply
    assert "Usage" in reply
    assert "/license assign @user… PRODUCT" in reply


def test_a_broadcast_target_is_refused_without_notifying_anyone(bot: SlackBot) -> None:
    assert bot.command("lena", "assign <!channel> E5") == 200
    reply = bot.wait_reply("lena")
    assert "@channel cannot be a target" in text_of(reply)
    assert "<!channel>" not in json.dumps(reply.blocks)


def test_names_from_the_tenant_cannot_mention_or_link(bot: SlackBot, tenant: Tenant) -> None:
    hostile = "<!channel> Alice & <@U0BOSS> <https://evil.example|click>"
    with tenant.sessions() as session:
        alice = SimUserRow.user_principal_name == "alice@contoso.com"
        session.execute(update(SimUserRow).where(alice).values(display_name=hostile))
        session.commit()
    assert bot.command("lena", f"show {bot.mention('alice')}") == 200
    reply = bot.wait_reply("lena", containing="Licenses")
    stored = json.dumps([reply.text, reply.blocks])
    assert "&lt;!channel&gt; Alice &amp; &lt;@U0BOSS&gt; &lt;https://evil.example|click&gt;" in stored
    for live in ("<!channel>", "<@U0BOSS>", "<https://evil"):
        assert live not in stored
    assert hostile in text_of(reply), "people see the name as it is, as text"
