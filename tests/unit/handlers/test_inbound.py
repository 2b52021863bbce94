"""`handlers.inbound`: what Slack sends passes, what it never sends is named; control characters are
found where a person can type or choose, and only there."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.local_slack.signing import block_actions_body, event_body, slash_command_body, view_submission_body
from domain.errors import InvalidCommand
from handlers.grammar.words import check_characters
from handlers.inbound import ControlCharacter, ControlCharacterRefused, control_character, malformed


def _payload(body: str) -> dict[str, Any]:
    return dict(json.loads(dict(parse_qsl(body))["payload"]))


COMMAND = dict(
    parse_qsl(
        slash_command_body(
            command="/license",
            text="show alice@contoso.com",
            user_id="U1",
            user_name="lena",
            channel_id="C1",
            response_url="https://hooks.slack.test/1",
            trigger_id="1.2.3",
        )
    )
)
BUTTON = _payload(
    block_actions_body(
        user_id="U1",
        user_name="lena",
        action={"action_id": "change.confirm", "block_id": "b", "type": "button", "value": "cs-1"},
        trigger_id="1.2.3",
        container={"type": "message", "message_ts": "1.1", "channel_id": "C1", "is_ephemeral": True},
        channel={"id": "C1", "name": "licensing"},
        response_url="https://hooks.slack.test/2",
    )
)
HOME_BUTTON = _payload(
    block_actions_body(
        user_id="U1",
        user_name="lena",
        action={"action_id": "workflow.task.done", "block_id": "b", "type": "button", "value": "t1"},
        trigger_id="1.2.3",
        container={"type": "view", "view_id": "V1"},
        view={"id": "V1", "type": "home", "blocks": [], "state": {"values": {}}},
    )
)
FORM = _payload(
    view_submission_body(
        user_id="U1",
        user_name="lena",
        view={
            "id": "V2",
            "type": "modal",
            "callback_id": "license.form",
            "hash": "h",
            "private_metadata": "m",
        },
        values={
            "form.users": {"form.users.select": {"type": "multi_users_select", "selected_users": ["U2"]}}
        },
        trigger_id="1.2.3",
    )
)
HOME_OPENED = json.loads(
    event_body({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home", "event_ts": "1.1"})
)


@pytest.mark.parametrize(
    "body",
    [
        COMMAND,
        BUTTON,
        HOME_BUTTON,
        FORM,
        HOME_OPENED,
        {"type": "url_verification", "challenge": "abc", "token": "t"},
        {"ssl_check": "1", "token": "t"},
        {"type": "app_rate_limited", "team_id": "T1", "minute_rate_limited": 1},
        {**BUTTON, "enterprise": None, "authorizations": [{"team_id": "T1", "user_id": "U9"}]},
    ],
    ids=["command", "button", "home button", "form", "home opened", "url check", "ssl check", "rate", "auth"],
)
def test_what_slack_sends_is_well_formed(body: dict[str, Any]) -> None:
    assert malformed(body) is None
    assert control_character(body) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "the body is a list, not a JSON object"),
        (7, "the body is a number, not a JSON object"),
        ({}, "the body is empty"),
        ({k: v for k, v in BUTTON.items() if k != "user"}, "no user"),
        ({**BUTTON, "actions": []}, "no actions"),
        ({**FORM, "view": {**FORM["view"], "type": None}}, "no view type"),
        ({k: v for k, v in COMMAND.items() if k != "user_id"}, "no command user_id"),
        ({**HOME_OPENED, "event": {"user": "U1"}}, "no event type"),
        ({**HOME_OPENED, "event": {"type": "app_home_opened", "user": 5}}, "event.user is a number"),
        ({**BUTTON, "team": "T1"}, "no team"),
        ({**BUTTON, "trigger_id": "1\x00"}, "trigger_id holds a control character"),
        ({**COMMAND, "channel_id": "C\x1b"}, "command channel_id holds a control character"),
        (
            {**HOME_OPENED, "event": {"type": "app_home_opened", "user": "U\x00"}},
            "event.user holds a control character",
        ),
    ],
)
def test_what_slack_never_sends_is_named(body: object, reason: str) -> None:
    assert malformed(body) == reason


def test_control_characters_are_found_in_what_people_press_choose_or_enter() -> None:
    pressed = json.loads(json.dumps(BUTTON))
    pressed["actions"][0]["value"] = "cs\x7f"
    found = control_character(pressed)
    assert found is not None
    assert (found.label, found.block_id) == ("U+007F", "")

    pressed["actions"][0]["value"] = "cs\x85"  # C1: a control character too
    assert control_character(pressed) == ControlCharacter(0x85)

    submitted = json.loads(json.dumps(FORM))
    submitted["view"]["state"]["values"]["form.users"]["form.users.select"]["selected_users"] = ["U\x002"]
    assert control_character(submitted) == ControlCharacter(0, block_id="form.users")


def test_tab_newline_and_carriage_return_pass_and_other_fields_are_not_read() -> None:
    pressed = json.loads(json.dumps(BUTTON))
    pressed["actions"][0]["value"] = "a\tb\r\nc"
    assert control_character(pressed) is None
    assert control_character({**COMMAND, "text": "show a\x00"}) is None  # the parser's to refuse
    check_characters("show\ta\r\nb", "/license")
    with pytest.raises(InvalidCommand, match=r"invisible control character \(U\+0000\)"):
        check_characters("show a\x00", "/license")


def test_the_refusal_says_what_is_wrong_and_how_to_fix_it() -> None:
    button = ControlCharacterRefused(ControlCharacter(0))
    assert "invisible control character (U+0000)" in button.problem
    assert "Run the command again" in button.fix
    field = ControlCharacterRefused(ControlCharacter(0x1B, block_id="form.users"))
    assert field.problem == "This field contains an invisible control character (U+001B)."
    assert "submit again" in field.fix
