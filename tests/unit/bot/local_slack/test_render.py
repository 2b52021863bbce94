"""Block Kit rendered as terminal text, with numbered interactive elements."""

from __future__ import annotations

from typing import Any

import pytest

from bot.local_slack.render import Option, mrkdwn_to_text, render_blocks

NAMES = {"U1": "alice", "C1": "licensing"}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _button(text: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": _plain(text), "action_id": action_id, "value": value, **extra}


def test_text_is_shown_when_there_are_no_blocks() -> None:
    rendered = render_blocks([], "Hello <@U1> &amp; welcome")

    assert rendered.text == "Hello @U1 & welcome"
    assert rendered.elements == ()


def test_a_preview_renders_header_section_fields_context_and_divider() -> None:
    blocks = [
        {"type": "header", "text": _plain("Replace licenses")},
        {
            "type": "section",
            "text": _mrkdwn("*Alice* moves from E3 to E5"),
            "fields": [_mrkdwn("*Seats before*\n7"), _mrkdwn("*Seats after*\n6")],
        },
        {"type": "divider"},
        {"type": "context", "elements": [_mrkdwn("R7 replace"), _plain("requested by bob")]},
    ]

    rendered = render_blocks(blocks, "fallback")

    assert rendered.text.splitlines() == [
        "== Replace licenses ==",
        "*Alice* moves from E3 to E5",
        "  *Seats before* 7",
        "  *Seats after* 6",
        "-" * 40,
        "  R7 replace | requested by bob",
    ]


def test_buttons_are_numbered_across_blocks_with_their_ids_values_and_styles() -> None:
    blocks = [
        {
            "type": "section",
            "block_id": "intro",
            "text": _mrkdwn("Cancel the E3 subscription?"),
            "accessory": _button("Details", "details", "sub-1"),
        },
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                _button("Confirm", "confirm", "wf-9", style="primary"),
                _button("Cancel", "cancel", "wf-9", style="danger"),
                _button("Admin center", "open", "x", url="https://admin.microsoft.com"),
            ],
        },
    ]

    rendered = render_blocks(blocks, "")

    assert rendered.text.splitlines() == [
        "Cancel the E3 subscription?",
        "  [1] Details",
        "[2] Confirm (primary)  [3] Cancel (danger)  [4] Admin center -> https://admin.microsoft.com",
    ]
    second = rendered.element(2)
    assert (second.block_id, second.action_id, second.value, second.style) == (
        "decide",
        "confirm",
        "wf-9",
        "primary",
    )
    assert rendered.element(4).url == "https://admin.microsoft.com"
    assert rendered.element(1).block_id == "intro"


def test_asking_for_a_missing_number_lists_what_exists() -> None:
    rendered = render_blocks([{"type": "actions", "elements": [_button("Ok", "ok", "1")]}], "")

    with pytest.raises(LookupError, match=r"no element \[5\].*\[1\] Ok"):
        rendered.element(5)


def test_selects_list_their_options_and_mark_the_initial_one() -> None:
    e3 = {"text": _plain("Office 365 E3"), "value": "ENTERPRISEPACK"}
    e5 = {"text": _plain("Office 365 E5"), "value": "ENTERPRISEPREMIUM"}
    blocks = [
        {
            "type": "actions",
            "block_id": "pick",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "product",
                    "placeholder": _plain("Choose a product"),
                    "options": [e3, e5],
                    "initial_option": e5,
                },
                {"type": "multi_users_select", "action_id": "users", "placeholder": _plain("Who")},
            ],
        }
    ]

    rendered = render_blocks(blocks, "")

    assert rendered.text.splitlines() == [
        "[1] Choose a product (static_select)",
        "    - Office 365 E3",
        "    - Office 365 E5 (selected)",
        "[2] Who (multi_users_select)",
    ]
    assert rendered.element(1).options == (
        Option("Office 365 E3", "ENTERPRISEPACK"),
        Option("Office 365 E5", "ENTERPRISEPREMIUM"),
    )
    assert rendered.element(2).type == "multi_users_select"


def test_input_blocks_show_label_element_and_checkbox_state() -> None:
    sway = {"text": _plain("Sway"), "value": "SWAY"}
    teams = {"text": _plain("Microsoft Teams"), "value": "TEAMS1"}
    blocks = [
        {
            "type": "input",
            "block_id": "reason",
            "label": _plain("Reason"),
            "optional": True,
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
        {
            "type": "input",
            "block_id": "services",
            "label": _plain("Services"),
            "element": {
                "type": "checkboxes",
                "action_id": "plans",
                "options": [sway, teams],
                "initial_options": [teams],
            },
        },
    ]

    rendered = render_blocks(blocks, "")

    assert rendered.text.splitlines() == [
        "Reason (optional):",
        "  [1] <text>",
        "Services:",
        "  [2] Services (checkboxes)",
        "      [ ] Sway",
        "      [x] Microsoft Teams",
    ]
    assert (rendered.element(1).block_id, rendered.element(1).action_id) == ("reason", "text")
    assert rendered.element(2).label == "Services"


def test_rich_text_sections_lists_code_and_quotes() -> None:
    blocks = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Hi "},
                        {"type": "user", "user_id": "U1"},
                        {"type": "text", "text": " done", "style": {"bold": True}},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "ordered",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
                    ],
                },
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "x = 1"}]},
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
            ],
        }
    ]

    rendered = render_blocks(blocks, "", resolve_user=NAMES.get)

    assert rendered.text.splitlines() == [
        "Hi @alice *done*",
        "1. one",
        "2. two",
        "```",
        "x = 1",
        "```",
        "> quoted",
    ]


def test_unknown_blocks_are_named_not_dropped() -> None:
    assert render_blocks([{"type": "video"}], "").text == "[video block]"


@pytest.mark.parametrize(
    ("mrkdwn", "shown"),
    [
        ("<@U1> please", "@alice please"),
        ("<@U9|bob> please", "@bob please"),
        ("<@U9>", "@U9"),
        ("in <#C1>", "in #licensing"),
        ("in <#C9|general>", "in #general"),
        ("<!subteam^S1|@admins> look", "@admins look"),
        ("<!subteam^S1>", "@S1"),
        ("<!here> now", "@here now"),
        ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
        ("see <https://aka.ms/e4|the upgrade doc>", "see the upgrade doc (https://aka.ms/e4)"),
        ("<https://example.com>", "https://example.com"),
        ("<mailto:bob@contoso.com|bob@contoso.com>", "bob@contoso.com"),
        ("*bold* _it_ ~no~ `code`", "*bold* _it_ ~no~ `code`"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("&amp;lt;literal&amp;gt;", "&lt;literal&gt;"),
        ("<https://x.test/?a=1&amp;b=2|A &amp; B>", "A & B (https://x.test/?a=1&b=2)"),
    ],
)
def test_mrkdwn_is_converted_for_display(mrkdwn: str, shown: str) -> None:
    assert mrkdwn_to_text(mrkdwn, resolve_user=NAMES.get, resolve_channel=NAMES.get) == shown


def test_escaped_text_cannot_turn_into_a_mention() -> None:
    # A tenant display name "<@U1>" arrives escaped; it must show literally, not as a mention.
    assert mrkdwn_to_text("name: &lt;@U1&gt;", resolve_user=NAMES.get) == "name: <@U1>"
