"""The `Request` a listener is given: who sent it, resolved once and only when asked, and where the
answer goes for a command, a button and an event."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from domain.access import SlackAccount
from handlers.context import CORRELATION_ID, OPEN_VIEW, PEOPLE
from handlers.people import SlackPeople
from handlers.requests import Request


class _Slack(WebClient):
    """`users.info` answered from a table of members, every call counted."""

    def __init__(self) -> None:
        super().__init__(token="xoxb-test")
        self.asked: list[str] = []

    def users_info(self, *, user: str, **_: Any) -> SlackResponse:
        self.asked.append(user)
        member = {
            "id": user,
            "team_id": "T1",
            "profile": {"email": f"{user.lower()}@contoso.com"},
            "is_email_confirmed": True,
        }
        return SlackResponse(
            client=self,
            http_verb="POST",
            api_url="https://slack.com/api/users.info",
            req_args={},
            data={"ok": True, "user": member},
            headers={},
            status_code=200,
        )


def _request(body: dict[str, Any]) -> tuple[Request, _Slack, list[SlackAccount]]:
    slack = _Slack()
    admitted: list[SlackAccount] = []

    def admit(account: SlackAccount) -> str:
        admitted.append(account)
        return account.email or ""

    context = BoltContext({CORRELATION_ID: "c0ffee"})
    context[PEOPLE] = SlackPeople(slack, admit, request_team="T1")
    return Request(body, context, slack, None), slack, admitted


def test_the_requester_is_read_from_slack_only_when_asked_and_only_once() -> None:
    request, slack, admitted = _request({"command": "/license", "user_id": "U1", "text": "help"})
    assert slack.asked == [], "building the request costs no users.info"
    assert request.requester == "u1@contoso.com"
    assert request.requester == "u1@contoso.com"
    assert slack.asked == ["U1"]
    assert [account.user_id for account in admitted] == ["U1"], "admitted once"


def test_a_command_answers_in_its_channel_with_its_text() -> None:
    request, _, _ = _request(
        {"command": "/license", "user_id": "U1", "channel_id": "C1", "text": "show @alice"}
    )
    assert (request.user_id, request.channel, request.text) == ("U1", "C1", "show @alice")
    assert (request.message_ts, request.only_theirs, request.correlation_id) == ("", False, "c0ffee")


def test_a_button_answers_where_it_was_pressed() -> None:
    request, _, _ = _request(
        {
            "type": "block_actions",
            "user": {"id": "U2", "team_id": "T1"},
            "channel": {"id": "C2"},
            "container": {"channel_id": "C2", "message_ts": "17.5", "is_ephemeral": True},
            "actions": [{"action_id": "confirm_change", "value": "cs-1"}],
        }
    )
    assert (request.user_id, request.channel, request.message_ts) == ("U2", "C2", "17.5")
    assert request.only_theirs
    assert request.value == "cs-1"


def test_a_button_on_a_shared_message_names_the_message_by_its_ts() -> None:
    request, _, _ = _request(
        {
            "type": "block_actions",
            "user": {"id": "U2"},
            "channel": {"id": "C3"},
            "message": {"ts": "18.0"},
            "actions": [{"action_id": "renewal_reduce"}],
        }
    )
    assert (request.channel, request.message_ts, request.only_theirs) == ("C3", "18.0", False)
    assert request.value == ""


def test_an_event_is_from_its_user_and_has_no_channel_to_answer_in() -> None:
    request, _, _ = _request(
        {"type": "event_callback", "event": {"type": "app_home_opened", "user": "U4", "tab": "home"}}
    )
    assert (request.user_id, request.channel) == ("U4", "")
    assert request.event["tab"] == "home"
    assert request.action == {}


def test_errors_go_into_the_form_it_names_until_it_closes() -> None:
    request, _, _ = _request({"type": "block_actions", "user": {"id": "U1"}, "actions": [{}]})
    request.errors_in_form("V1")
    assert request.context[OPEN_VIEW] == "V1"
    request.errors_in_form(None)
    assert request.context[OPEN_VIEW] is None
