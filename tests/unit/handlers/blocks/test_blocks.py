"""Block Kit builders: within Slack's limits whatever the size, and nothing from outside is left live."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.application.results import SubscriptionOverview, UserOverview
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    UserChange,
    snapshot_products,
)
from domain.errors import (
    ChangeNotPending,
    InvalidCommand,
    NotAuthorized,
    NotEnoughSeats,
    NoUsageLocation,
    UnknownUser,
)
from domain.model import AssignmentError, LicenseAssignment, Product, SubscriptionStatus
from handlers.blocks import (
    Message,
    change_applying,
    change_cancelled,
    change_preview,
    change_result,
    domain_error,
    help_message,
    internal_error,
    not_pending,
    subscription_list,
    usage_error,
    user_overview,
)
from handlers.blocks.text import bar, clip, escape, shorten_list, split_lines
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE
from tests.fakes import SKU_E3, SKU_E5, license_of, make_product, make_subscription, make_user, plan_id

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0BOSS> & <https://evil.example|click> <!subteam^S1>"
LONG = "Ω" * 5000
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=20)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=3)
PRODUCTS = {E3.sku_id: E3, E5.sku_id: E5}


# --- helpers ----------------------------------------------------------------------------------


def dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def payload(message: Message) -> dict[str, Any]:
    return json.loads(dump(message.to_dict()))


def texts(node: Any) -> Iterator[tuple[str, str]]:
    """Every text object in the payload: (type, text)."""
    if isinstance(node, Mapping):
        if node.get("type") in {"plain_text", "mrkdwn"} and isinstance(node.get("text"), str):
            yield str(node["type"]), str(node["text"])
        for value in node.values():
            yield from texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value)


def assert_within_slack_limits(message: Message) -> dict[str, Any]:
    data = payload(message)  # to_dict() validates with slack_sdk's models too
    assert data["text"].strip(), "the fallback text is always set"
    assert len(data["text"]) <= 3000
    blocks = data["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "actions":
            for element in block["elements"]:
                assert len(element["text"]["text"]) <= 75
                if "confirm" in element:
                    assert len(element["confirm"]["text"]["text"]) <= 300
    return data


def assert_nothing_live(message: Message) -> None:
    """No mention, broadcast or link that came from outside survives: only our own markup."""
    data = payload(message)
    every = [data["text"]] + [text for _, text in texts(data["blocks"])]
    for text in every:
        assert "<!channel>" not in text
        assert "<@U0BOSS>" not in text
        assert "<https://evil" not in text
        assert "<!subteam" not in text
        assert "& " not in text.replace("&amp;", "")


def user(name: str, *licenses: LicenseAssignment | str, display: str | None = None) -> Any:
    return make_user(name, *licenses, display_name=display)


def change_set(
    count: int,
    *,
    kind: ChangeKind = ChangeKind.REPLACE,
    display: str = "User",
    refused: int = 0,
    label: str = "Office 365 E5",
    status: ItemStatus = ItemStatus.PLANNED,
) -> ChangeSet:
    items = [
        ChangeItem(
            UserChange(
                user_id=f"id-{n}",
                user_principal_name=f"user{n}@contoso.com",
                display_name=f"{display} {n}",
                before=(LicenseAssignment(SKU_E3),),
                after=(license_of(SKU_E5, "SWAY"),),
            ),
            status=status,
        )
        for n in range(count)
    ]
    return ChangeSet(
        id="c0ffee" * 5 + "00",
        kind=kind,
        requested_by="lena@contoso.com",
        product_sku=SKU_E5,
        product_label=label,
        items=items,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        refused=[(f"{display} refused {n}", f"{display} has no usage location") for n in range(refused)],
        seats_before=3,
        seats_total=10,
        products=snapshot_products(PRODUCTS.values(), PRODUCTS),
    )


def test_a_refusal_that_starts_with_the_users_name_names_them_once() -> None:
    changes = change_set(1)
    changes.refused = [("Nora Lee", "Nora Lee has no usage location, and Microsoft 365 assigns no license.")]
    changes.unchanged = [("Alice Wu", "Alice Wu already has that."), ("Bob", "Bobby's licenses: as asked.")]

    body = dump(assert_within_slack_limits(change_preview(changes)))

    assert "• *Nora Lee* has no usage location, and Microsoft 365 assigns no license." in body
    assert "• *Alice Wu* already has that." in body
    assert "• *Bob*: Bobby's licenses: as asked." in body
    assert "Nora Lee: Nora Lee" not in body


# --- text -------------------------------------------------------------------------------------


def test_escape_turns_slack_control_characters_into_entities_once() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("&amp;") == "&amp;amp;"


def test_clip_never_cuts_an_entity_in_half() -> None:
    clipped = clip("ab" + "&amp;" * 10, 9)
    assert len(clipped) <= 9
    assert clipped.endswith("…")
    assert "&am…" not in clipped
    assert clip("short", 10) == "short"


def test_bar() -> None:
    assert bar(0, 10) == "▱" * 10
    assert bar(5, 10) == "▰" * 5 + "▱" * 5
    assert bar(1, 1000) == "▰" + "▱" * 9
    assert bar(30, 10) == "▰" * 10
    assert bar(3, 0) == "▰" * 10


def test_shorten_list_and_split_lines() -> None:
    assert shorten_list(["a", "b", "c"], 2) == ["a", "b", "and 1 more"]
    assert shorten_list(["a"], 2) == ["a"]
    chunks = split_lines(["x" * 1000] * 7)
    assert all(len(c) <= 3000 for c in chunks)
    assert sum(c.count("x") for c in chunks) == 7000


# --- help and errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "topic"), [("/license", ""), ("/license", "replace"), ("/subscription", "")]
)
def test_help(command: str, topic: str) -> None:
    data = assert_within_slack_limits(help_message(command, topic))
    body = dump(data)
    assert command in body
    if topic:
        assert "/license replace" in body
        assert "/license assign" not in body
    else:
        assert "Examples" in body


def test_usage_error_shows_problem_fix_and_usage_escaped() -> None:
    error = InvalidCommand(f"No subcommand {HOSTILE!r}.", "/license assign @user… PRODUCT", "Did you mean x?")
    message = usage_error(error)
    data = assert_within_slack_limits(message)
    assert_nothing_live(message)
    body = dump(data)
    assert "Did you mean x?" in body
    assert "/license assign @user… PRODUCT" in body


def test_domain_error_shows_problem_fix_and_the_microsoft_learn_page_not_the_rule_number() -> None:
    message = domain_error(NoUsageLocation(HOSTILE))
    data = assert_within_slack_limits(message)
    assert_nothing_live(message)
    body = dump(data)
    assert "has no usage location" in body
    assert "Usage location" in body
    assert "Rule R4" not in body
    assert (
        "From Microsoft Learn: <https://learn.microsoft.com/microsoft-365/admin/manage/assign-licenses-to-users"
        "|Assign licenses to users>" in body
    )


def test_domain_error_of_an_invalid_command_is_a_usage_error() -> None:
    assert "Usage" in dump(payload(domain_error(InvalidCommand("x", "/license help"))))


@pytest.mark.parametrize(
    "error",
    [
        NotEnoughSeats("E5", 10, 7),
        NotAuthorized("Dave", "assign licenses", ["License Administrator"]),
        UnknownUser(HOSTILE, [HOSTILE]),
        UnknownUser(LONG),
    ],
)
def test_domain_errors_within_limits(error: Exception) -> None:
    assert isinstance(error, NotEnoughSeats | NotAuthorized | UnknownUser)
    message = domain_error(error)
    assert_within_slack_limits(message)
    assert_nothing_live(message)


def test_internal_error_says_nothing_but_the_reference() -> None:
    data = assert_within_slack_limits(internal_error("abc123"))
    assert "abc123" in data["text"]
    assert "nothing was changed" in data["text"]


def test_not_pending_is_a_notice() -> None:
    data = assert_within_slack_limits(not_pending(ChangeNotPending("done")))
    assert "already done" in data["text"]
    assert ":information_source:" in dump(data)


# --- user overview ----------------------------------------------------------------------------


def test_user_overview_names_products_disabled_services_errors_and_seats() -> None:
    carol = make_user(
        "carol", license_of(SKU_E3, "SWAY", "YAMMER_ENTERPRISE"), SKU_E5, display_name="Carol Jones"
    )
    carol = replace(carol, assignment_errors=(AssignmentError(SKU_E5, "CountViolation"),))
    data = assert_within_slack_limits(user_overview(UserOverview(carol, PRODUCTS)))
    body = dump(data)
    assert "Carol Jones" in body
    assert "Office 365 E3" in body
    assert "Sway" in body
    assert "Seats left: 5 of 25" in body
    assert "CountViolation" in body
    assert "Usage location: US" in body


def test_user_overview_without_usage_location_or_licenses() -> None:
    nora = make_user("nora", usage_location=None, display_name="Nora Lee")
    body = dump(assert_within_slack_limits(user_overview(UserOverview(nora, PRODUCTS))))
    assert "No usage location" in body
    assert "R4" not in body
    assert "No licenses." in body


def test_user_overview_of_a_hostile_long_name_and_many_unknown_licenses() -> None:
    licenses = [LicenseAssignment(f"sku-{n:04d}-{LONG[:50]}") for n in range(300)]
    hostile = make_user("x", *licenses, display_name=HOSTILE + LONG)
    message = user_overview(UserOverview(hostile, PRODUCTS))
    assert_within_slack_limits(message)
    assert_nothing_live(message)


# --- subscription list ------------------------------------------------------------------------


def test_subscription_list_shows_seats_bar_and_status_labels() -> None:
    warning = make_subscription(E3, total=5, status=SubscriptionStatus.WARNING, sub_id="e3-expired")
    overview = SubscriptionOverview(
        [E3, E5],
        [make_subscription(E3, total=20), warning, make_subscription(E5)],
    )
    data = assert_within_slack_limits(subscription_list(overview))
    body = dump(data)
    assert "20 of 25 used" in body
    assert "5 free" in body
    assert "▰" in body
    assert "Expired (grace period)" in body
    assert "Active" in body
    assert data["text"] == "2 products, 3 subscriptions"


def test_subscription_list_of_a_pending_purchase_and_an_overused_product() -> None:
    over = make_product("ENTERPRISEPACK", seats=5, consumed=8)
    pending = make_subscription(E5, status=SubscriptionStatus.PENDING)
    body = dump(assert_within_slack_limits(subscription_list(SubscriptionOverview([over], [pending]))))
    assert "3 more in use than bought" in body
    assert "Pending (bought, not active yet)" in body
    assert "not listed as a product yet" in body


def test_subscription_list_of_hundreds_of_hostile_products_stays_within_limits() -> None:
    products = [Product(f"sku-{n}", f"PART{n}", HOSTILE + LONG, (), E3.seats) for n in range(500)]
    subscriptions = [make_subscription(p) for p in products]
    message = subscription_list(SubscriptionOverview(products, subscriptions))
    assert_within_slack_limits(message)
    assert_nothing_live(message)


def test_empty_subscription_list() -> None:
    body = dump(assert_within_slack_limits(subscription_list(SubscriptionOverview([], []))))
    assert "no products" in body


# --- change preview, result, cancel -----------------------------------------------------------


def test_preview_shows_who_gains_and_loses_what_seats_and_buttons() -> None:
    data = assert_within_slack_limits(change_preview(change_set(2, refused=1)))
    body = dump(data)
    assert "loses Office 365 E3" in body
    assert "gains Office 365 E5 (Sway off)" in body
    assert "Office 365 E5*: 3 → 5 used of 10 (5 free after)" in body
    assert "Office 365 E3*: 20 → 18 used of 25" in body
    assert "Left out (1)" in body
    assert "*User refused 0*: User has no usage location" in body
    assert "09:15 UTC" in body
    actions = next(b for b in data["blocks"] if b["type"] == "actions")
    confirm, cancel = actions["elements"]
    assert confirm["action_id"] == CONFIRM_CHANGE
    assert confirm["style"] == "primary"
    assert confirm["value"] == change_set(1).id
    assert confirm["confirm"]["title"]["text"]
    assert cancel["action_id"] == CANCEL_CHANGE
    assert cancel["value"] == change_set(1).id


def test_preview_of_500_hostile_users_stays_within_limits_and_says_how_many_more() -> None:
    message = change_preview(change_set(500, display=HOSTILE + LONG, refused=500, label=HOSTILE))
    data = assert_within_slack_limits(message)
    assert_nothing_live(message)
    body = dump(data)
    assert "and 475 more users" in body
    assert "and 490 more" in body
    assert any(b["type"] == "actions" for b in data["blocks"])


def test_preview_shows_a_seat_shortage() -> None:
    body = dump(payload(change_preview(change_set(9, kind=ChangeKind.ASSIGN))))
    assert "2 short" in body


def test_result_counts_outcomes_and_lists_failures_with_reasons() -> None:
    done = change_set(4, status=ItemStatus.APPLIED)
    done.state = ChangeState.DONE
    done.items[1].status = ItemStatus.ALREADY_APPLIED
    done.items[2].status = ItemStatus.FAILED
    done.items[2].reason = "User 2 has no usage location."
    done.items[2].rule = "R4"
    done.items[3].status = ItemStatus.CONFLICT
    data = assert_within_slack_limits(change_result(done))
    body = dump(data)
    assert "replaced for 2 of 4 users" in body
    assert "1 applied" in body
    assert "1 already so" in body
    assert "1 failed" in body
    assert "1 changed by someone else" in body
    assert "*User 2* (user2@contoso.com) has no usage location." in body, "the name once"
    assert "with problems" in body


def test_result_of_500_hostile_users_stays_within_limits() -> None:
    done = change_set(500, display=HOSTILE + LONG, status=ItemStatus.FAILED, label=LONG)
    for item in done.items:
        item.reason = HOSTILE + LONG
    message = change_result(done)
    assert_within_slack_limits(message)
    assert_nothing_live(message)
    assert "and 470 more not changed" in dump(payload(message))


def test_applying_and_cancelled() -> None:
    assert "Applying" in assert_within_slack_limits(change_applying())["text"]
    message = change_cancelled(change_set(3, label=HOSTILE))
    assert "nothing was changed" in assert_within_slack_limits(message)["text"]
    assert_nothing_live(message)


def test_too_many_blocks_are_cut_with_a_note() -> None:
    from handlers.blocks.message import message, section

    cut = message("x", [section(str(n)) for n in range(80)])
    data = assert_within_slack_limits(cut)
    assert len(data["blocks"]) == 50
    assert "31 more parts not shown" in dump(data)


def test_plan_id_helper_matches_sway() -> None:
    assert plan_id("SWAY") in license_of(SKU_E5, "SWAY").disabled_plans
