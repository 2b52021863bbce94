"""`/license` with no text: the form, its update when the product changes, each field error, a valid
submission, a tampered one, and a check that outlives Slack's 3 s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from bot.local_slack import LocalSlack, View, signed_headers
from domain.audit import AuditResult
from handlers.context import Services, Timing
from handlers.ids import (
    CONFIRM_CHANGE,
    FORM_MODE,
    FORM_MODE_BLOCK,
    FORM_PRODUCT,
    FORM_PRODUCT_BLOCK,
    FORM_USERS,
    FORM_USERS_BLOCK,
)
from storage.simulated.products import DEMO_PRODUCTS
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, licenses_on, serve, text_of

E3 = DEMO_PRODUCTS["ENTERPRISEPACK"]
E5 = DEMO_PRODUCTS["ENTERPRISEPREMIUM"]
F3 = DEMO_PRODUCTS["DESKLESSPACK"]
SPB = DEMO_PRODUCTS["SPB"]
STORAGE = DEMO_PRODUCTS["SHAREPOINTSTORAGE"]


def element(view: View, block_id: str) -> dict[str, Any]:
    block = next(b for b in view.blocks if b.get("block_id") == block_id)
    return dict(block["element"])


def service_groups(view: View) -> list[dict[str, Any]]:
    return [b for b in view.blocks if str(b.get("block_id", "")).startswith("form.services:")]


def ticked(view: View, *, off: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every services checkbox group of the form, all ticked except the plans named in `off`."""
    return {
        block["element"]["action_id"]: [
            o["value"]
            for o in block["element"]["options"]
            if o["text"]["text"] not in off and o["value"] not in off
        ]
        for block in service_groups(view)
    }


def fill(
    bot: SlackBot, product: str, mode: str, *users: str, off: tuple[str, ...] = ()
) -> tuple[View, dict[str, Any]]:
    """Open the form as lena, choose the product, and the inputs of a submission."""
    view = bot.choose("lena", bot.open_form("lena"), FORM_PRODUCT, product)
    inputs: dict[str, Any] = {
        FORM_USERS: [bot.people[u] for u in users],
        FORM_PRODUCT: product,
        FORM_MODE: mode,
        **ticked(view, off=off),
    }
    return view, inputs


def test_no_text_opens_the_form_at_once_and_fills_it_with_the_products_and_their_seats(bot: SlackBot) -> None:
    view = bot.open_form("lena")

    methods = [call.method for call in bot.slack.calls()]
    assert methods.index("views.open") < methods.index("users.info"), "the form opens before anything is read"
    opened = bot.slack.calls("views.open")[0]
    assert opened.params["trigger_id"]
    assert "Reading the tenant" in json.dumps(opened.params["view"])
    updated = bot.slack.calls("views.update")[0]
    assert updated.params["hash"], "the loading form is replaced only if nobody changed it meanwhile"

    assert view.title == "License change"
    products = {o["value"]: o["text"]["text"] for o in element(view, FORM_PRODUCT_BLOCK)["options"]}
    assert products[E5.sku_id] == "Office 365 E5 · 7 free"
    assert products[E3.sku_id] == "Office 365 E3 · 11 free"
    assert products[STORAGE.sku_id] == "Office 365 Extra File Storage · for the company, not users"
    assert element(view, FORM_USERS_BLOCK)["type"] == "multi_users_select"
    modes = [o["value"] for o in element(view, FORM_MODE_BLOCK)["options"]]
    assert modes == ["assign", "replace", "remove"]
    assert service_groups(view) == []
    assert "Choose a product to see its services." in text_of_view(view)


def text_of_view(view: View) -> str:
    return json.dumps(view.blocks)


def test_choosing_a_product_updates_the_form_with_a_checkbox_per_service(bot: SlackBot) -> None:
    form = bot.open_form("lena")
    view = bot.choose("lena", form, FORM_PRODUCT, E3.sku_id)

    update = bot.slack.calls("views.update")[-1]
    assert update.params["hash"] == form.hash, "views.update carries the hash of the form chosen in"
    groups = service_groups(view)
    offered = [o["text"]["text"] for g in groups for o in g["element"]["options"]]
    assert "Sway" in offered
    assert "Microsoft Teams" in offered
    assert "Microsoft Search" not in offered, "a company-wide service is not toggled per user"
    assert "Always on, for the whole company, not per user: " in text_of_view(view)
    assert "Microsoft Search" in text_of_view(view)
    assert all(len(g["element"]["options"]) <= 10 for g in groups), "Slack takes 10 checkboxes a group"
    assert all(g["element"]["initial_options"] == g["element"]["options"] for g in groups), "all on at first"
    assert element(view, FORM_PRODUCT_BLOCK)["initial_option"]["value"] == E3.sku_id

    again = bot.choose("lena", view, FORM_PRODUCT, F3.sku_id)
    ids = [g["block_id"] for g in service_groups(again)]
    assert ids
    assert all(F3.sku_id in block_id for block_id in ids), "a new product gets new service blocks"
    assert element(again, FORM_USERS_BLOCK)["action_id"] == FORM_USERS, "the users field is kept as it was"


@pytest.mark.parametrize(
    ("product", "mode", "users", "field", "says"),
    [
        pytest.param(
            SPB.sku_id, "replace", ("alice", "bob", "carol", "dave"), FORM_PRODUCT_BLOCK,
            "Not enough Microsoft 365 Business Premium licenses: need 4, 2 free.", id="R2-no-seats",
        ),
        pytest.param(
            STORAGE.sku_id, "assign", ("alice",), FORM_PRODUCT_BLOCK,
            "applies to the company, not to users", id="R3-not-assignable",
        ),
        pytest.param(
            E5.sku_id, "assign", ("nora",), FORM_USERS_BLOCK,
            "Nora Lee has no usage location", id="R4-no-usage-location",
        ),
        pytest.param(
            F3.sku_id, "assign", ("alice",), f"form.services:{F3.sku_id}:1",
            "cannot have Skype for Business Online", id="R6-conflict",
        ),
    ],
)  # fmt: skip
def test_a_refusal_comes_back_on_the_field_to_change(
    bot: SlackBot, tenant: Tenant, product: str, mode: str, users: tuple[str, ...], *, field: str, says: str
) -> None:
    view, inputs = fill(bot, product, mode, *users)

    answer = bot.submit("lena", view, inputs)

    assert answer["response_action"] == "errors"
    errors = answer["errors"]
    assert isinstance(errors, dict)
    assert list(errors) == [field]
    assert says in errors[field]
    assert tenant.all_license_writes() == 0
    still = bot.slack.view(view.id)
    assert still is not None
    assert not still.closed, "the form stays open"


def test_a_conflict_names_both_plans_and_products_and_the_fix(bot: SlackBot) -> None:
    view, inputs = fill(bot, F3.sku_id, "assign", "alice")
    (message,) = bot.submit("lena", view, inputs)["errors"].values()  # type: ignore[union-attr]
    assert "Skype for Business Online (Plan 1)" in message
    assert "Skype for Business Online (Plan 2)" in message
    assert "MCOIMP" not in message
    assert "Office 365 F3" in message
    assert "Office 365 E3" in message
    assert "(R6)" not in message


def test_a_user_outside_the_organization_is_refused_on_the_users_field(bot: SlackBot, tenant: Tenant) -> None:
    tenant.add_user("mallory@fabrikam.com", "Mallory Guest")
    bot.people["mallory"] = bot.slack.add_user("mallory", email="mallory@fabrikam.com")
    view, inputs = fill(bot, E5.sku_id, "assign", "mallory")

    answer = bot.submit("lena", view, inputs)

    assert answer["response_action"] == "errors"
    message = answer["errors"][FORM_USERS_BLOCK]  # type: ignore[index]
    assert "mallory@fabrikam.com is not in this organization" in message
    assert "(R8)" not in message
    assert tenant.all_license_writes() == 0


def test_empty_fields_are_named_before_anything_is_read(bot: SlackBot) -> None:
    view = bot.open_form("lena")
    lookups = len(bot.slack.calls("users.info"))

    answer = bot.submit("lena", view, {})

    assert answer["response_action"] == "errors"
    assert answer["errors"] == {
        FORM_USERS_BLOCK: "Choose at least one person.",
        FORM_PRODUCT_BLOCK: "Choose a product.",
    }
    assert len(bot.slack.calls("users.info")) == lookups


def test_a_valid_replace_closes_the_form_and_previews_like_the_command(bot: SlackBot, tenant: Tenant) -> None:
    view, inputs = fill(bot, E5.sku_id, "replace", "alice", off=("Sway",))

    answer = bot.submit("lena", view, inputs)

    assert answer == {}, "a plain answer: Slack closes the form"
    preview = bot.wait_reply("lena", containing="Preview: replace licenses")
    shown = text_of(preview)
    assert "Alice Wu (alice@contoso.com): loses Office 365 E3; gains Office 365 E5 (Sway off)" in shown
    assert "Office 365 E5: 3 → 4 used of 10 (6 free after)" in shown
    assert bot.slack.calls("chat.postEphemeral"), "a form has no response URL: the preview is posted"
    assert tenant.products_of("alice@contoso.com") == {"ENTERPRISEPACK"}

    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", containing="Licenses replaced")
    assert tenant.products_of("alice@contoso.com") == {"ENTERPRISEPREMIUM"}
    assert tenant.services_off("alice@contoso.com", "ENTERPRISEPREMIUM") == {"SWAY"}


def test_a_valid_add_is_applied_at_once_with_the_services_unticked_off(bot: SlackBot, tenant: Tenant) -> None:
    view, inputs = fill(bot, E5.sku_id, "assign", "bob", off=("Sway", "Yammer Enterprise"))

    assert bot.submit("lena", view, inputs) == {}

    result = text_of(bot.wait_reply("lena", containing="Licenses assigned"))
    assert "Bob Smith (bob@contoso.com): gains Office 365 E5 (Sway, Yammer Enterprise off)" in result
    assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPACK", "ENTERPRISEPREMIUM"}
    assert tenant.services_off("bob@contoso.com", "ENTERPRISEPREMIUM") == {"SWAY", "YAMMER_ENTERPRISE"}


def tampered(body: str, change: dict[str, Any]) -> str:
    payload = json.loads(parse_qs(body)["payload"][0])
    payload["view"].update(change)
    return urlencode({"payload": json.dumps(payload)})


def test_a_form_whose_metadata_was_changed_is_refused_with_a_clear_message(
    bot: SlackBot, tenant: Tenant
) -> None:
    view, inputs = fill(bot, E5.sku_id, "assign", "bob")
    body = bot.slack.view_submission_body(bot.people["lena"], view.id, inputs)
    metadata = view.private_metadata
    forged = metadata.replace(bot.channel, "C0ELSEWHERE")
    assert forged != metadata

    status, answer = bot.send(tampered(body, {"private_metadata": forged}))

    assert status == 200
    assert answer["response_action"] == "update"
    assert "came back changed outside Slack, so licensebot did nothing with it" in json.dumps(answer["view"])
    assert tenant.all_license_writes() == 0
    assert [e for e in tenant.audit("lena@contoso.com") if e.result is AuditResult.REQUESTED] == []


def test_someone_else_cannot_submit_a_form_opened_for_another(bot: SlackBot, tenant: Tenant) -> None:
    view, inputs = fill(bot, E5.sku_id, "assign", "bob")
    body = bot.slack.view_submission_body(bot.people["grace"], view.id, inputs)

    status, answer = bot.send(body)

    assert status == 200
    assert "came back changed outside Slack" in json.dumps(answer["view"])
    assert tenant.all_license_writes() == 0


@pytest.fixture
def slow_bot(slack: LocalSlack, tenant: Tenant) -> Iterator[SlackBot]:
    """Checks never finish within the answer to Slack: the form answers "checking…" at once."""
    services = Services(
        licenses=licenses_on(tenant.uow, tenant.directory), timing=Timing(form_check_seconds=0.0)
    )
    with serve(slack, services) as running:
        yield running


def test_a_check_that_outlives_the_answer_says_checking_then_where_the_preview_went(
    slow_bot: SlackBot, tenant: Tenant
) -> None:
    view, inputs = fill(slow_bot, E5.sku_id, "replace", "alice")

    answer = slow_bot.submit("lena", view, inputs)

    assert answer["response_action"] == "update"
    assert "Checking the change" in json.dumps(answer["view"])
    slow_bot.wait_reply("lena", containing="Preview: replace licenses")
    late = slow_bot.slack.view(view.id)
    assert late is not None
    assert "The preview to confirm is in" in json.dumps(late.blocks)


def test_a_refusal_found_after_the_answer_is_shown_in_the_form(slow_bot: SlackBot, tenant: Tenant) -> None:
    view, inputs = fill(slow_bot, E5.sku_id, "assign", "nora")

    slow_bot.submit("lena", view, inputs)

    slow_bot.slack.wait_for(
        lambda: "Nora Lee has no usage location" in json.dumps(slow_bot.slack.view(view.id).blocks),  # type: ignore[union-attr]
        description="the refusal in the form",
    )
    assert tenant.all_license_writes() == 0


def test_a_redelivered_submission_does_nothing_more(bot: SlackBot, tenant: Tenant) -> None:
    view, inputs = fill(bot, E5.sku_id, "assign", "bob")
    body = bot.slack.view_submission_body(bot.people["lena"], view.id, inputs)
    headers = signed_headers(body, SIGNING_SECRET)

    assert bot.exchange(body, headers)[0] == 200
    bot.wait_reply("lena", containing="Licenses assigned")
    status, answer = bot.exchange(body, signed_headers(body, SIGNING_SECRET, retry_num=1))

    assert status == 200
    assert answer in {"", "{}"}
    bot.finish()
    assert tenant.license_writes("bob@contoso.com") == 1
    assert len(bot.replies("lena")) == 1
