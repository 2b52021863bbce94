"""`/subscription list` and `/subscription help` end to end."""

from __future__ import annotations

from domain.audit import AuditResult
from tests.slack.conftest import SlackBot, Tenant, text_of


def test_list_shows_every_product_with_seats_and_status(bot: SlackBot) -> None:
    assert bot.command("lena", "list", "/subscription") == 200
    shown = text_of(bot.wait_reply("lena", containing="Subscriptions"))
    assert "Office 365 E3 (E3)" in shown
    assert "14 of 25 used · 11 free" in shown
    assert "▰" in shown
    assert "Expired (grace period) · 5 seats" in shown
    assert "Office 365 E5 (E5)" in shown
    assert "Suspended" in shown


def test_list_needs_an_admin_role(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("dave", "list", "/subscription") == 200
    reply = text_of(bot.wait_reply("dave"))
    assert "Dave Brown may not read licenses and subscriptions." in reply
    assert [e.result for e in tenant.audit("dave@contoso.com")] == [AuditResult.REFUSED]


def test_help_and_unknown_subcommands(bot: SlackBot) -> None:
    assert bot.command("lena", "help", "/subscription") == 200
    assert "/subscription list" in text_of(
        bot.wait_reply("lena", 1, containing="Microsoft 365 subscriptions")
    )
    assert bot.command("lena", "lst", "/subscription") == 200
    assert "Did you mean /subscription list?" in text_of(bot.wait_reply("lena", 2))
    assert bot.command("lena", "show E5", "/subscription") == 200
    assert "/subscription show is not available in this version." in text_of(bot.wait_reply("lena", 3))
