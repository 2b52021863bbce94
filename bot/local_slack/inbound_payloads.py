"""Inbound requests built from the workspace's state, as Slack would send them to the app: slash
commands, ``block_actions`` from a message or a view, ``view_submission`` and ``app_home_opened``,
each with a fresh trigger id (and response URL). Sign them with ``signing.signed_headers``, or wrap
them for Socket Mode (``*_payload``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.local_slack import block_kit, signing, socket_mode
from bot.local_slack.workspace_state import WorkspaceState

__all__ = [
    "action_body",
    "action_payload",
    "app_home_opened_body",
    "slash_command_body",
    "slash_command_payload",
    "view_submission_body",
]


def slash_command_payload(
    state: WorkspaceState, command: str, text: str, *, user_id: str, channel_id: str
) -> dict[str, str]:
    """A ``slash_commands`` envelope's payload: the fields of ``slash_command_body``."""
    body = slash_command_body(state, command, text, user_id=user_id, channel_id=channel_id)
    return socket_mode.command_payload(body)


def action_payload(
    state: WorkspaceState,
    user_id: str,
    *,
    action_id: str,
    block_id: str | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
    view_id: str | None = None,
    selected: signing.Selection = None,
) -> dict[str, Any]:
    """An ``interactive`` envelope's payload: the ``block_actions`` JSON of ``action_body``."""
    body = action_body(
        state,
        user_id,
        action_id=action_id,
        block_id=block_id,
        channel=channel,
        message_ts=message_ts,
        view_id=view_id,
        selected=selected,
    )
    return socket_mode.interaction_payload(body)


def slash_command_body(
    state: WorkspaceState, command: str, text: str, *, user_id: str, channel_id: str
) -> str:
    """A slash command from ``user_id`` in ``channel_id``, with a fresh trigger and URL."""
    with state.lock:
        user = state.require_user(user_id)
        channel = state.channels.get(channel_id)
        if channel is None:
            raise LookupError(f"no channel {channel_id}")
        return signing.slash_command_body(
            command=command,
            text=text,
            user_id=user_id,
            user_name=user.name,
            channel_id=channel_id,
            channel_name=channel.command_channel_name,
            response_url=state.new_response_url(channel_id, user_id),
            trigger_id=state.issue_trigger_id(user_id),
            team_id=state.team_id,
            team_domain=state.team_domain,
            api_app_id=state.app_id,
        )


def action_body(
    state: WorkspaceState,
    user_id: str,
    *,
    action_id: str,
    block_id: str | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
    view_id: str | None = None,
    selected: signing.Selection = None,
    action_ts: str | None = None,
) -> str:
    """A ``block_actions`` payload for pressing or choosing ``action_id``.

    The element is looked up in a view (``view_id``) or a message (``channel`` and
    ``message_ts``; without ``message_ts`` the newest message the user sees that holds the
    element). ``selected`` is the chosen option value(s), user id(s), date...
    """
    with state.lock:
        user = state.require_user(user_id)
        common: dict[str, Any] = {
            "user_id": user_id,
            "user_name": user.name,
            "trigger_id": state.issue_trigger_id(user_id),
            "team_id": state.team_id,
            "team_domain": state.team_domain,
            "api_app_id": state.app_id,
        }
        if view_id is not None:
            view = state.require_view(view_id)
            found = block_kit.find_element(view.blocks, action_id, block_id)
            if found is None:
                raise LookupError(f"no element {action_id!r} in view {view_id}")
            action = signing.action_from_element(found[1], found[0], selected=selected, action_ts=action_ts)
            return signing.block_actions_body(
                action=action,
                container={"type": "view", "view_id": view_id},
                view=view.data,
                **common,
            )
        if channel is None:
            raise ValueError("give the channel of the message, or a view_id")
        message, (found_block, element) = state.message_with_element(
            channel, message_ts, user_id, action_id, block_id
        )
        action = signing.action_from_element(element, found_block, selected=selected, action_ts=action_ts)
        conversation = state.channels.get(channel)
        return signing.block_actions_body(
            action=action,
            container={
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel,
                "is_ephemeral": message.ephemeral,
            },
            message=None if message.ephemeral else message.as_api(),
            channel={
                "id": channel,
                "name": conversation.command_channel_name if conversation else channel,
            },
            response_url=state.new_response_url(channel, user_id, message_ts=message.ts),
            **common,
        )


def view_submission_body(
    state: WorkspaceState, user_id: str, view_id: str, inputs: Mapping[str, signing.Selection]
) -> str:
    """A ``view_submission`` of ``view_id`` with ``inputs`` keyed by action_id."""
    with state.lock:
        user = state.require_user(user_id)
        view = state.require_view(view_id)
        return signing.view_submission_body(
            user_id=user_id,
            user_name=user.name,
            view=view.data,
            values=signing.state_values(view.blocks, inputs),
            trigger_id=state.issue_trigger_id(user_id),
            team_id=state.team_id,
            team_domain=state.team_domain,
            api_app_id=state.app_id,
        )


def app_home_opened_body(state: WorkspaceState, user_id: str, *, event_id: str | None = None) -> str:
    """An Events API ``app_home_opened`` delivery for ``user_id``."""
    with state.lock:
        state.require_user(user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": state.open_conversation([user_id])[0],
            "tab": "home",
            "event_ts": state.next_ts(),
        }
        home_id = state.homes.get(user_id)
        if home_id is not None:
            event["view"] = copy.deepcopy(dict(state.views[home_id].data))
        return signing.event_body(
            event,
            team_id=state.team_id,
            api_app_id=state.app_id,
            bot_user_id=state.bot_user_id,
            event_id=event_id,
            event_time=int(state.clock()),
        )
