"""Socket Mode with the checks an HTTP request passes at the edge (`bot.web.SlackGate`).

Socket Mode has no signatures (the WebSocket is opened with the app token), but its envelopes must
carry what the listeners need just the same: a message that is not a JSON object is dropped, and an
envelope whose payload is missing, not an object, or lacks what the listeners need
(`handlers.inbound.malformed`) is acked empty, so Slack does not send it again, and logged in one
line. Without this, slack_sdk and Bolt log such an envelope as an ERROR with a traceback, and never
ack it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from handlers.inbound import malformed

__all__ = ["CheckedSocketModeHandler"]

log = logging.getLogger(__name__)

_REQUESTS = frozenset({"events_api", "interactive", "slash_commands"})
"""The envelope types that carry a request for the app, to be acked."""


class CheckedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler over a `_CheckedClient`, refusing malformed payloads with an ack."""

    def __init__(self, app: App, app_token: str) -> None:
        # Not Bolt's __init__: it builds (and starts the threads of) a plain client.
        self.app = app
        self.app_token = app_token
        self.client = _CheckedClient(
            app_token=app_token, logger=app.logger, web_client=app.client, proxy=app.client.proxy
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        reason = malformed(req.payload)
        if reason is not None:
            _refuse(client, req.type, req.envelope_id, reason)
            return
        super().handle(client, req)


class _CheckedClient(SocketModeClient):
    """slack_sdk's built-in client, which drops what is not a JSON object and refuses envelopes
    without an object as payload, instead of raising on them in its worker threads."""

    def enqueue_message(self, message: str) -> None:
        try:
            parsed = json.loads(message)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            log.warning("dropped a Socket Mode message that is not a JSON object")
            return
        super().enqueue_message(message)

    def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        kind, envelope_id = message.get("type"), message.get("envelope_id")
        if kind in _REQUESTS and not isinstance(message.get("payload"), dict):
            _refuse(self, str(kind), envelope_id, "its payload is not an object")
            return
        super().run_message_listeners(message, raw_message)


def _refuse(client: SocketModeClient, kind: str, envelope_id: object, reason: str) -> None:
    log.warning("refused a Socket Mode %r envelope: %s", kind[:40], reason)
    if isinstance(envelope_id, str) and envelope_id:
        client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
