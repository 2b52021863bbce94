"""Sending a built message back to the person who asked: ephemeral, through the response URL."""

from __future__ import annotations

import logging

from slack_bolt import Respond

from handlers.blocks import Message

__all__ = ["reply"]

log = logging.getLogger(__name__)


def reply(respond: Respond, message: Message, *, replace_original: bool = False) -> None:
    """Post `message` ephemerally (Slack allows five posts per response URL, within 30 minutes).

    With `replace_original`, it takes the place of the message whose button was pressed. A request
    without a response URL (Slack always sends one with a message button; a forged payload may not)
    gets no reply rather than a crash.
    """
    if not respond.response_url:
        log.warning("no response URL to reply to", extra={"action": "reply"})
        return
    response = respond(
        **message.to_dict(),
        response_type="ephemeral",
        replace_original=replace_original,
    )
    if response.status_code != 200:
        log.warning(
            "Slack refused a reply through the response URL",
            extra={"action": "reply", "status": response.status_code, "error": response.body[:200]},
        )
