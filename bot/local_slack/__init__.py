"""A local Slack: a fake Web API server, Slack-signed inbound requests, Socket Mode, Block Kit as text.

Used by the local chat shell (``licensebot shell``) and by tests that drive the real Bolt app.

- ``workspace``: ``LocalSlack``, the front that composes the modules below
- ``records``: users, channels, messages, views, files, calls and events as immutable records
- ``workspace_state``: the workspace's data, ids and time, recording, subscribers and waiting
- ``web_api``: answering a call: arguments, tokens, ``ok: false`` errors, injected failures, rate limits
- ``directory_api``, ``chat_api``, ``views_api``, ``files_api``: the Web API methods, one family each
- ``block_kit``: Block Kit checks with Slack's limits and error texts, and the ids Slack fills in
- ``http_server``: the HTTP server and its routes (Web API, uploads, response URLs)
- ``inbound_payloads``: slash commands, actions, submissions and events built from the state
- ``signing``: Slack-signed inbound request bodies; ``socket_mode``: the Socket Mode server
- ``render``: Block Kit rendered as text
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
