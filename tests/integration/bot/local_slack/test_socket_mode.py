"""The local Slack's Socket Mode against slack_sdk's own builtin SocketModeClient, over loopback.

What the client receives is collected in queues (it runs on its own threads); what the fake
receives is waited for with `LocalSlack.wait_for`. Clients are closed in the background: closing
joins the client's message thread, which polls its queue once a second.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.builtin.connection import Connection
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.local_slack import LocalSlack, command_payload

WAIT = 5.0
log = logging.getLogger(__name__)


class App:
    """A Socket Mode app: every message and request the client hands over lands in a queue, and
    every request is acked, with `answer` as the ack's payload."""

    def __init__(self, slack: LocalSlack, *, token: str | None = None, ping_interval: float = 5) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.requests: queue.Queue[SocketModeRequest] = queue.Queue()
        self.closes: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self.answer: dict[str, Any] | None = None
        self.client = SocketModeClient(
            app_token=token or slack.app_token,
            web_client=WebClient(base_url=slack.api_url),
            ping_interval=ping_interval,
            on_message_listeners=[lambda raw: self.messages.put(json.loads(raw))],
            on_close_listeners=[lambda code, reason: self.closes.put((code, reason))],
        )
        self.client.socket_mode_request_listeners.append(self._ack)

    def close(self) -> None:
        self.client.auto_reconnect_enabled = False
        threading.Thread(target=self.client.close, name="close-socket-mode-client", daemon=True).start()

    def _ack(self, client: Any, request: SocketModeRequest) -> None:
        self.requests.put(request)
        client.send_socket_mode_response(SocketModeResponse(request.envelope_id, self.answer))

    def next_message(self, kind: str) -> dict[str, Any]:
        """The next message of type `kind` the client received (others are skipped)."""
        while True:
            message = self.messages.get(timeout=WAIT)
            if message.get("type") == kind:
                return message


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        yield local


@pytest.fixture
def lena(slack: LocalSlack) -> str:
    return slack.add_user("lena", email="lena@contoso.com")


@pytest.fixture
def channel(slack: LocalSlack, lena: str) -> str:
    return slack.add_channel("licensing", members=[lena])


@pytest.fixture
def connect(slack: LocalSlack) -> Iterator[Callable[[float], App]]:
    """Connects an app pinging every `ping_interval` seconds (its monitor reconnects as often)."""
    apps: list[App] = []

    def connected(ping_interval: float) -> App:
        apps.append(App(slack, ping_interval=ping_interval))
        apps[-1].client.connect()
        return apps[-1]

    yield connected
    for app in apps:
        app.close()


@pytest.fixture
def app(connect: Callable[[float], App]) -> App:
    return connect(5.0)


def test_the_client_connects_with_the_app_token_and_gets_hello(slack: LocalSlack, app: App) -> None:
    hello = app.next_message("hello")

    assert hello == {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "applink-local", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": slack.app_id},
    }
    assert app.client.is_connected()
    assert slack.socket_connections() == 1
    [opened] = slack.calls("apps.connections.open")
    assert opened.ok


def test_a_slash_command_envelope_reaches_the_listener_and_its_ack_comes_back(
    slack: LocalSlack, app: App, lena: str, channel: str
) -> None:
    payload = slack.slash_command_payload("/license", "show alice", user_id=lena, channel_id=channel)
    app.answer = {"text": "Looking…"}

    envelope_id = slack.socket_send("slash_commands", payload)

    request = app.requests.get(timeout=WAIT)
    assert (request.type, request.envelope_id) == ("slash_commands", envelope_id)
    assert request.payload == payload
    assert request.payload["command"] == "/license"
    assert request.payload["text"] == "show alice"
    assert request.accepts_response_payload is True
    assert request.retry_attempt is None
    ack = slack.wait_ack(envelope_id)
    assert ack.payload == {"text": "Looking…"}
    assert 0 <= ack.seconds < 3


def test_a_slash_command_payload_holds_the_fields_slack_posts_over_http(
    slack: LocalSlack, lena: str, channel: str
) -> None:
    payload = slack.slash_command_payload("/license", "show alice", user_id=lena, channel_id=channel)
    body = slack.slash_command_body("/license", "show alice", user_id=lena, channel_id=channel)

    assert set(payload) == set(command_payload(body))
    assert payload["user_id"] == lena
    assert payload["channel_id"] == channel
    assert payload["response_url"].startswith(slack.base_url)


def test_a_button_press_arrives_as_an_interactive_envelope_acked_without_payload(
    slack: LocalSlack, app: App, lena: str, channel: str
) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    button = {"type": "button", "action_id": "confirm", "text": {"type": "plain_text", "text": "Confirm"}}
    posted = client.chat_postMessage(
        channel=channel, text="Confirm?", blocks=[{"type": "actions", "block_id": "b", "elements": [button]}]
    )
    payload = slack.action_payload(lena, action_id="confirm", channel=channel, message_ts=posted["ts"])

    envelope_id = slack.socket_send("interactive", payload)

    request = app.requests.get(timeout=WAIT)
    assert request.type == "interactive"
    assert request.payload["type"] == "block_actions"
    assert request.payload["actions"][0]["action_id"] == "confirm"
    assert request.payload["container"]["message_ts"] == posted["ts"]
    assert request.accepts_response_payload is False
    assert slack.wait_ack(envelope_id).payload is None


def test_a_redelivery_carries_its_attempt_and_reason(slack: LocalSlack, app: App) -> None:
    event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_home_opened"}}

    first = slack.socket_send("events_api", event)
    again = slack.socket_send("events_api", event, retry_attempt=1, retry_reason="timeout")

    received = {r.envelope_id: r for r in (app.requests.get(timeout=WAIT), app.requests.get(timeout=WAIT))}
    assert (received[first].retry_attempt, received[first].retry_reason) == (0, "")
    assert (received[again].retry_attempt, received[again].retry_reason) == (1, "timeout")
    assert first != again, "each delivery is its own envelope"
    assert slack.wait_ack(again).envelope_id == again


def test_long_messages_cross_both_ways(slack: LocalSlack, app: App) -> None:
    """Past 65535 bytes the fake's frames carry a 64-bit length; the client's ack, past 125 bytes,
    a 16-bit one."""
    text = "x" * 70_000
    app.answer = {"text": "y" * 1_000}

    envelope_id = slack.socket_send("events_api", {"type": "event_callback", "event": {"text": text}})

    assert app.requests.get(timeout=WAIT).payload["event"]["text"] == text
    assert slack.wait_ack(envelope_id).payload == {"text": "y" * 1_000}


def test_pings_are_answered_with_pongs(slack: LocalSlack, connect: Callable[[float], App]) -> None:
    app = connect(0.1)
    session = app.client.current_session
    assert session is not None

    # The client pings on connect and then every ping_interval; a pong sets last_ping_pong_time.
    # Each pong wakes wait_for, which looks again once the client has read one.
    slack.wait_for(lambda: session.last_ping_pong_time is not None, description="a pong to the client")

    assert session.is_active()


def test_disconnect_makes_the_client_reconnect_through_apps_connections_open(
    slack: LocalSlack, app: App
) -> None:
    app.next_message("hello")

    slack.socket_disconnect("refresh_requested")

    assert app.next_message("disconnect") == {
        "type": "disconnect",
        "reason": "refresh_requested",
        "debug_info": {"host": "applink-local"},
    }
    # The client reads the new link once it has closed the old one, which waits out the client's
    # 3 s receive timeout (it holds the old socket's receive lock until then).
    assert app.next_message("hello")["num_connections"] == 2, "the old link is open until the app closes it"
    slack.wait_for(lambda: slack.socket_connections() == 1, description="the client closing the old link")
    assert slack.socket_connects() == 2
    assert [c.ok for c in slack.calls("apps.connections.open")] == [True, True]
    # The envelope goes to the new link (the client stops reading the old one at once).
    envelope_id = slack.socket_send("events_api", {"type": "event_callback", "event": {}})
    assert slack.wait_ack(envelope_id).envelope_id == envelope_id


def test_a_close_frame_reaches_the_client_which_connects_again(
    slack: LocalSlack, connect: Callable[[float], App]
) -> None:
    app = connect(0.1)
    app.next_message("hello")

    slack.socket_close(1001, "link refreshed")

    assert app.closes.get(timeout=WAIT) == (1001, "link refreshed")
    # The client drops the closed link, then its monitor (every ping_interval) opens a new one.
    slack.wait_for(
        lambda: slack.socket_connects() == 2 and slack.socket_connections() == 1,
        description="a new connection after the close",
    )


def test_a_ticket_opens_one_connection_only(slack: LocalSlack, app: App) -> None:
    used_url = app.client.wss_uri
    assert used_url is not None
    assert used_url.startswith("ws://127.0.0.1:")

    again = Connection(url=used_url, logger=log)
    again.connect()

    assert not again.is_active(), "the handshake was refused"
    assert slack.socket_connects() == 1


def test_apps_connections_open_takes_the_app_token_only(slack: LocalSlack) -> None:
    def error(app: App) -> str:
        try:
            with pytest.raises(SlackApiError) as caught:
                app.client.connect()
        finally:
            app.close()
        return str(caught.value.response["error"])

    assert error(App(slack, token=slack.bot_token)) == "not_allowed_token_type"
    assert error(App(slack, token="xapp-1-not-this-app")) == "invalid_auth"
    anonymous = WebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError) as as_a_parameter:
        anonymous.api_call("apps.connections.open", data={"token": slack.app_token})
    assert as_a_parameter.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as no_token:
        anonymous.api_call("apps.connections.open")
    assert no_token.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as app_token_elsewhere:
        WebClient(token=slack.app_token, base_url=slack.api_url).auth_test()
    assert app_token_elsewhere.value.response["error"] == "not_allowed_token_type"
    assert slack.socket_connections() == 0


def test_an_envelope_with_no_app_connected_is_refused(slack: LocalSlack) -> None:
    with pytest.raises(ConnectionError, match="no app is connected"):
        slack.socket_send("events_api", {"type": "event_callback", "event": {}})


def test_stopping_the_workspace_closes_the_connection_as_going_away(slack: LocalSlack, app: App) -> None:
    app.client.auto_reconnect_enabled = False
    app.next_message("hello")

    slack.stop()  # the fixture's teardown finds it stopped

    assert app.closes.get(timeout=WAIT) == (1001, "server shutting down")
