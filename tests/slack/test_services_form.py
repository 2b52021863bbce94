"""`/license services @user PRODUCT`: the form with the user's services ticked, saved with the R5 merge."""

from __future__ import annotations

import json
from typing import Any

from bot.local_slack import View
from domain.audit import AuditResult
from storage.simulated.products import DEMO_PRODUCTS
from tests.slack.conftest import SlackBot, Tenant, text_of

E3 = DEMO_PRODUCTS["ENTERPRISEPACK"]
CAROL = "carol@contoso.com"


def groups(view: View) -> list[dict[str, Any]]:
    return [b for b in view.blocks if str(b.get("block_id", "")).startswith("form.services:")]


def labels(options: list[dict[str, Any]]) -> set[str]:
    return {o["text"]["text"] for o in options}


def ticks(
    view: View, *, untick: set[str] = frozenset(), tick: set[str] = frozenset()
) -> dict[str, list[str]]:  # type: ignore[assignment]
    """The form's ticks as opened, with some services unticked and others ticked."""
    values: dict[str, list[str]] = {}
    for block in groups(view):
        element = block["element"]
        on = labels(element.get("initial_options") or [])
        wanted = (on - untick) | (labels(element["options"]) & tick)
        values[element["action_id"]] = [o["value"] for o in element["options"] if o["text"]["text"] in wanted]
    return values


def test_the_form_shows_the_users_services_with_those_on_ticked(bot: SlackBot) -> None:
    view = bot.open_form("lena", f"services {bot.mention('carol')} E3")

    assert view.title == "Services"
    shown = json.dumps(view.blocks, ensure_ascii=False)
    assert "*Carol Jones* (carol@contoso.com) · *Office 365 E3*" in shown
    offered = set().union(*(labels(g["element"]["options"]) for g in groups(view)))
    on = set().union(*(labels(g["element"].get("initial_options") or []) for g in groups(view)))
    assert {"Sway", "Yammer Enterprise", "Microsoft Teams"} <= offered
    assert "Sway" not in on, "Carol has Sway turned off"
    assert "Yammer Enterprise" not in on
    assert "Microsoft Teams" in on
    assert "Microsoft Search" not in offered
    assert "Always on, for the whole company, not per user" in shown


def test_saving_changes_only_what_was_changed(bot: SlackBot, tenant: Tenant) -> None:
    view = bot.open_form("lena", f"services {bot.mention('carol')} E3")

    answer = bot.submit("lena", view, ticks(view, untick={"Microsoft Teams"}, tick={"Sway"}))

    assert answer == {}
    result = text_of(bot.wait_reply("lena", containing="Services of Office 365 E3 changed"))
    assert (
        "Office 365 E3 services changed for 1 of 1 user: Microsoft Teams turned off, Sway turned on."
        in result
    )
    line = next(line for line in result.splitlines() if "Carol Jones" in line)
    assert "Carol Jones (carol@contoso.com): keeps Office 365 E3 (" in line
    assert "Microsoft Teams" in line
    assert "Yammer Enterprise" in line
    assert "Sway" not in line
    # R5: Sway on, Teams off, and Yammer, which nobody touched, still off.
    assert tenant.services_off(CAROL, "ENTERPRISEPACK") == {"YAMMER_ENTERPRISE", "TEAMS1"}
    assert tenant.license_writes(CAROL) == 1
    applied = [e for e in tenant.audit("lena@contoso.com") if e.result is AuditResult.APPLIED]
    assert [e.action for e in applied] == ["services Office 365 E3"]


def test_only_the_changes_are_merged_with_what_changed_meanwhile(bot: SlackBot, tenant: Tenant) -> None:
    view = bot.open_form("lena", f"services {bot.mention('carol')} E3")
    # While the form is open, someone turns every service of Carol's E3 on, elsewhere.
    tenant.set_licenses(CAROL, "ENTERPRISEPACK")

    answer = bot.submit("lena", view, ticks(view, untick={"Microsoft Teams"}))

    assert answer == {}
    bot.wait_reply("lena", containing="Services of Office 365 E3 changed")
    # R5: only Teams goes off; Sway and Yammer, left as they were in the form, stay as they are now.
    assert tenant.services_off(CAROL, "ENTERPRISEPACK") == {"TEAMS1"}


def test_saving_without_a_change_says_so_on_the_services(bot: SlackBot, tenant: Tenant) -> None:
    view = bot.open_form("lena", f"services {bot.mention('carol')} E3")

    answer = bot.submit("lena", view, ticks(view))

    assert answer["response_action"] == "errors"
    assert answer["errors"] == {
        f"form.services:{E3.sku_id}:1": "Nothing changed: tick or untick a service first."
    }
    assert tenant.all_license_writes() == 0


def test_a_product_the_user_does_not_hold_is_explained_in_the_form(bot: SlackBot, tenant: Tenant) -> None:
    assert bot.command("lena", f"services {bot.mention('carol')} E5") == 200

    def explained() -> bool:
        views = bot.slack.open_views(bot.people["lena"])
        return bool(views) and "has no Office 365 E5 license" in json.dumps(
            views[0].blocks, ensure_ascii=False
        )

    bot.slack.wait_for(explained, description="the refusal in the form")
    shown = json.dumps(bot.form("lena").blocks)
    assert "Assign it first (`/license assign`)" in shown
    assert tenant.all_license_writes() == 0


def test_a_usage_error_is_answered_without_opening_a_form(bot: SlackBot) -> None:
    assert bot.command("lena", "services E5") == 200
    reply = text_of(bot.wait_reply("lena"))
    assert "“E5” is not a user" in reply
    assert "/license services @user PRODUCT" in reply
    assert bot.slack.calls("views.open") == []
