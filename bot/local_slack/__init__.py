"""A local Slack: a fake Web API server, Slack-signed inbound requests, Socket Mode, Block Kit as text.

Used by the local chat shell (``licensebot shell``) and by tests that drive the real Bolt app.
"""

from bot.local_slack.records import (
    Call,
    Channel,
    EventKind,
    Message,
    SlackEvent,
    UploadedFile,
    User,
    Usergroup,
    View,
)
from bot.local_slack.render import (
    InteractiveElement,
    Option,
    RenderedMessage,
    mrkdwn_to_text,
    render_blocks,
)
from bot.local_slack.signing import (
    action_from_element,
    block_actions_body,
    event_body,
    signature,
    signed_headers,
    slash_command_body,
    state_values,
    view_submission_body,
)
from bot.local_slack.socket_mode import Ack, command_payload, interaction_payload
from bot.local_slack.workspace import LocalSlack

__all__ = [
    "Ack",
    "Call",
    "Channel",
    "EventKind",
    "InteractiveElement",
    "LocalSlack",
    "Message",
    "Option",
    "RenderedMessage",
    "SlackEvent",
    "UploadedFile",
    "User",
    "Usergroup",
    "View",
    "action_from_element",
    "block_actions_body",
    "command_payload",
    "event_body",
    "interaction_payload",
    "mrkdwn_to_text",
    "render_blocks",
    "signature",
    "signed_headers",
    "slash_command_body",
    "state_values",
    "view_submission_body",
]
