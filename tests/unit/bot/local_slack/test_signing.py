"""Inbound requests shaped and signed like Slack's, checked with slack_sdk's own verifier."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from bot.local_slack import signing

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.now_value = now

    def now(self) -> float:
        return self.now_value


def _verifier(now: float = NOW, secret: str = SECRET) -> SignatureVerifier:
    return SignatureVerifier(secret, clock=FixedClock(now))


def _payload(body: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(parse_qs(body)["payload"][0])
    return result


BUTTON = {
    "type": "button",
    "action_id": "confirm",
    "text": {"type": "plain_text", "text": "Confirm"},
    "value": "wf-1",
    "style": "primary",
}
PRODUCTS = {
    "type": "static_select",
    "action_id": "product",
    "placeholder": {"type": "plain_text", "text": "Product"},
    "options": [
        {"text": {"type": "plain_text", "text": "E3"}, "value": "ENTERPRISEPACK"},
        {"text": {"type": "plain_text", "text": "E5"}, "value": "ENTERPRISEPREMIUM"},
    ],
}


def test_signed_headers_verify_with_slack_sdk() -> None:
    body = "token=x&team_id=T1&command=%2Flicense&text=show+%3C%40U1%3E"

    headers = signing.signed_headers(body, SECRET, timestamp=NOW)

    assert _verifier().is_valid_request(body, headers)
    assert headers["X-Slack-Request-Timestamp"] == str(NOW)
    assert headers["X-Slack-Signature"].startswith("v0=")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_signature_made_with_another_secret_is_refused() -> None:
    body = "payload=%7B%7D"

    headers = signing.signed_headers(body, "not-the-secret", timestamp=NOW)

    assert not _verifier().is_valid_request(body, headers)


def test_a_tampered_body_is_refused() -> None:
    headers = signing.signed_headers("text=a", SECRET, timestamp=NOW)

    assert not _verifier().is_valid_request("text=b", headers)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_timestamp_outside_five_minutes_is_refused(age: int) -> None:
    body = '{"type":"event_callback"}'

    headers = signing.signed_headers(body, SECRET, timestamp=NOW - age)

    assert not _verifier(now=NOW).is_valid_request(body, headers)


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    body = '{"type":"event_callback"}'

    headers = signing.signed_headers(body, SECRET, timestamp=NOW - 299)

    assert _verifier(now=NOW).is_valid_request(body, headers)


def test_events_are_json_and_retries_carry_their_number_and_reason() -> None:
    body = signing.event_body({"type": "app_home_opened", "user": "U1"}, event_id="Ev1")

    headers = signing.signed_headers(body, SECRET, timestamp=NOW, retry_num=2)

    assert headers["Content-Type"] == "application/json"
    assert headers["X-Slack-Retry-Num"] == "2"
    assert headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert _verifier().is_valid_request(body, headers)


def test_signature_matches_slacks_documented_algorithm() -> None:
    # Slack's documentation example (secret, timestamp, body -> signature).
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )

    assert (
        signing.signature(body, SECRET, 1531420618)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_slash_command_body_has_every_field_slack_sends_in_order() -> None:
    body = signing.slash_command_body(
        command="/license",
        text="replace <@U1|alice> E5",
        user_id="U2",
        user_name="bob",
        channel_id="C1",
        channel_name="licensing",
        response_url="https://hooks.example/commands/T1/1/x",
        trigger_id="1.2.abc",
        team_id="T1",
    )

    fields = parse_qsl(body, keep_blank_values=True)
    assert [name for name, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    values = dict(fields)
    assert values["text"] == "replace <@U1|alice> E5"
    assert values["is_enterprise_install"] == "false"
    assert values["team_id"] == "T1"


def test_block_actions_payload_has_slacks_shape() -> None:
    action = signing.action_from_element(BUTTON, "decide", action_ts="1700000000.000100")
    message = {"type": "message", "ts": "1700000000.000001", "text": "Confirm?", "blocks": []}

    body = signing.block_actions_body(
        user_id="U2",
        user_name="bob",
        action=action,
        trigger_id="1.2.abc",
        container={
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": "C1",
            "is_ephemeral": False,
        },
        message=message,
        channel={"id": "C1", "name": "licensing"},
        response_url="https://hooks.example/actions/T1/1/x",
        team_id="T1",
    )

    payload = _payload(body)
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U2", "username": "bob", "name": "bob", "team_id": "T1"}
    assert payload["team"] == {"id": "T1", "domain": signing.DEFAULT_TEAM_DOMAIN}
    assert payload["enterprise"] is None
    assert payload["is_enterprise_install"] is False
    assert payload["container"]["message_ts"] == "1700000000.000001"
    assert payload["message"] == message
    assert payload["state"] == {"values": {}}
    assert payload["response_url"] == "https://hooks.example/actions/T1/1/x"
    assert payload["actions"] == [
        {
            "action_id": "confirm",
            "block_id": "decide",
            "type": "button",
            "action_ts": "1700000000.000100",
            "text": {"type": "plain_text", "text": "Confirm"},
            "value": "wf-1",
            "style": "primary",
        }
    ]


def test_a_select_action_reports_the_chosen_option() -> None:
    action = signing.action_from_element(PRODUCTS, "b1", selected="ENTERPRISEPREMIUM")

    assert action["type"] == "static_select"
    assert action["selected_option"] == {
        "text": {"type": "plain_text", "text": "E5"},
        "value": "ENTERPRISEPREMIUM",
    }


def test_choosing_an_option_that_does_not_exist_is_a_test_error() -> None:
    with pytest.raises(ValueError, match="has no option 'E7'"):
        signing.action_from_element(PRODUCTS, "b1", selected="E7")


def test_state_values_report_every_input_block_typed_like_slack() -> None:
    blocks = [
        {"type": "input", "block_id": "who", "element": {"type": "multi_users_select", "action_id": "users"}},
        {"type": "input", "block_id": "what", "element": PRODUCTS},
        {"type": "input", "block_id": "why", "element": {"type": "plain_text_input", "action_id": "reason"}},
        {"type": "actions", "block_id": "extra", "elements": [BUTTON]},
    ]

    values = signing.state_values(blocks, {"users": ["U1", "U3"], "product": "ENTERPRISEPACK"})

    assert values == {
        "who": {"users": {"type": "multi_users_select", "selected_users": ["U1", "U3"]}},
        "what": {
            "product": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "E3"},
                    "value": "ENTERPRISEPACK",
                },
            }
        },
        "why": {"reason": {"type": "plain_text_input", "value": None}},
    }


def test_state_values_refuse_an_unknown_action_id() -> None:
    with pytest.raises(ValueError, match="nope"):
        signing.state_values([], {"nope": "x"})


def test_view_submission_payload_carries_the_view_with_its_state() -> None:
    view = {"id": "V1", "type": "modal", "callback_id": "license.assign", "private_metadata": "wf=9"}
    values = {"why": {"reason": {"type": "plain_text_input", "value": "new hire"}}}

    payload = _payload(
        signing.view_submission_body(
            user_id="U2", user_name="bob", view=view, values=values, trigger_id="1.2.abc"
        )
    )

    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == "V1"
    assert payload["view"]["callback_id"] == "license.assign"
    assert payload["view"]["private_metadata"] == "wf=9"
    assert payload["view"]["state"] == {"values": values}
    assert payload["response_urls"] == []
    assert payload["user"]["id"] == "U2"


def test_event_callback_envelope() -> None:
    event = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}

    body = json.loads(
        signing.event_body(event, team_id="T1", bot_user_id="UB", event_id="Ev1", event_time=NOW)
    )

    assert body["type"] == "event_callback"
    assert body["event"] == event
    assert body["event_id"] == "Ev1"
    assert body["event_time"] == NOW
    assert body["team_id"] == "T1"
    assert body["authorizations"][0]["user_id"] == "UB"
