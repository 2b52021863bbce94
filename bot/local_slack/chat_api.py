"""Web API methods of messages: ``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``,
``chat.delete`` and ``reactions.add``, and the ``response_url`` endpoint (5 posts in 30 minutes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.local_slack import block_kit
from bot.local_slack.records import Call, Channel, EventKind, Message
from bot.local_slack.web_api import ApiError, Method, Params, Reply, json_object
from bot.local_slack.workspace_state import ResponseUrl, WorkspaceState

__all__ = ["METHODS", "postable_channel", "receive_response"]

# Slack's documented limits.
MESSAGE_MAX_CHARS = 40_000
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60


def chat_post_message(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel = postable_channel(state, p.text("channel"))
    text, blocks = _message_content(state, p, required=True)
    metadata = p.decoded("metadata", "invalid_metadata_format")
    message = Message(
        channel=channel.id,
        ts=state.next_ts(),
        user=state.bot_user_id,
        text=text or "",
        blocks=tuple(blocks or ()),
        thread_ts=p.text("thread_ts"),
        bot_id=state.bot_id,
        app_id=state.app_id,
        team=state.team_id,
        metadata=metadata if isinstance(metadata, Mapping) else None,
    )
    state.messages.append(message)
    state.emit(EventKind.POSTED, message)
    return {"channel": channel.id, "ts": message.ts, "message": message.as_api()}


def chat_post_ephemeral(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel = postable_channel(state, p.text("channel"), allow_user_id=False)
    recipient = p.require("user")
    if recipient not in state.users:
        raise ApiError("user_not_found")
    if recipient not in channel.members:
        raise ApiError("user_not_in_channel")
    text, blocks = _message_content(state, p, required=True)
    message = Message(
        channel=channel.id,
        ts=state.next_ts(),
        user=state.bot_user_id,
        text=text or "",
        blocks=tuple(blocks or ()),
        thread_ts=p.text("thread_ts"),
        ephemeral=True,
        recipient=recipient,
        bot_id=state.bot_id,
        app_id=state.app_id,
        team=state.team_id,
    )
    state.messages.append(message)
    state.emit(EventKind.EPHEMERAL, message)
    return {"message_ts": message.ts}


def chat_update(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel_id = p.require("channel")
    if channel_id not in state.channels:
        raise ApiError("channel_not_found")
    ts = p.require("ts")
    current = state.find_message(channel_id, ts)
    if current is None or current.ephemeral:
        raise ApiError("message_not_found")
    if current.user != state.bot_user_id:
        raise ApiError("cant_update_message")
    text, blocks = _message_content(state, p, required=True)
    updated = replace(
        current,
        text=text if text is not None else current.text,
        # Slack keeps the blocks when the update has none; "blocks": [] removes them.
        blocks=tuple(blocks) if blocks is not None else current.blocks,
        edited_ts=state.next_ts(),
    )
    state.replace_message(current, updated)
    state.emit(EventKind.UPDATED, updated)
    return {
        "channel": channel_id,
        "ts": ts,
        "text": updated.text,
        "message": updated.as_api(),
    }


def chat_delete(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel_id = p.require("channel")
    if channel_id not in state.channels:
        raise ApiError("channel_not_found")
    ts = p.require("ts")
    current = state.find_message(channel_id, ts)
    if current is None or current.ephemeral:
        raise ApiError("message_not_found")
    if current.user != state.bot_user_id:
        raise ApiError("cant_delete_message")
    state.messages.remove(current)
    state.emit(EventKind.DELETED, current)
    return {"channel": channel_id, "ts": ts}


def reactions_add(state: WorkspaceState, p: Params) -> dict[str, Any]:
    channel_id = p.require("channel")
    name = p.require("name").strip(":")
    current = state.find_message(channel_id, p.require("timestamp"))
    if current is None or current.ephemeral:
        raise ApiError("message_not_found")
    if (name, state.bot_user_id) in current.reactions:
        raise ApiError("already_reacted")
    updated = replace(current, reactions=(*current.reactions, (name, state.bot_user_id)))
    state.replace_message(current, updated)
    state.emit(EventKind.UPDATED, updated)
    return {}


def receive_response(state: WorkspaceState, token: str, content_type: str, body: bytes) -> Reply:
    with state.lock:
        entry = state.response_urls.get(token)
        if entry is None:
            return Reply.json({"ok": False, "error": "invalid_url"}, 404)
        if state.clock() - entry.created_at > RESPONSE_URL_TTL_SECONDS:
            state.record(Call("response_url", {}, "expired_url"))
            return Reply.json({"ok": False, "error": "expired_url"}, 404)
        if entry.uses >= RESPONSE_URL_MAX_USES:
            state.record(Call("response_url", {}, "used_url"))
            return Reply.json({"ok": False, "error": "used_url"}, 404)
        entry.uses += 1
        data = json_object(body) if content_type.lower().startswith("application/json") else None
        if data is None:
            state.record(Call("response_url", {}, "invalid_payload"))
            return Reply.json({"ok": False, "error": "invalid_payload"}, 400)
        try:
            _respond(state, entry, Params(data))
        except ApiError as error:
            state.record(Call("response_url", data, error.error))
            return Reply.json({"ok": False, "error": error.error, **error.extra}, 400)
        state.record(Call("response_url", data))
        return Reply.json({"ok": True})


def _respond(state: WorkspaceState, entry: ResponseUrl, p: Params) -> None:
    original = state.find_message(entry.channel, entry.original_ts) if entry.original_ts else None
    if p.flag("delete_original"):
        if original is not None:
            state.messages.remove(original)
            state.emit(EventKind.DELETED, original)
            entry.original_ts = None
        return
    text, blocks = _message_content(state, p, required=True)
    if p.flag("replace_original") and original is not None:
        updated = replace(
            original,
            text=text or "",
            blocks=tuple(blocks or ()),
            edited_ts=state.next_ts(),
        )
        state.replace_message(original, updated)
        state.emit(EventKind.UPDATED, updated)
        return
    in_channel = p.text("response_type") == "in_channel"
    message = Message(
        channel=entry.channel,
        ts=state.next_ts(),
        user=state.bot_user_id,
        text=text or "",
        blocks=tuple(blocks or ()),
        thread_ts=p.text("thread_ts"),
        ephemeral=not in_channel,
        recipient=None if in_channel else entry.user,
        bot_id=state.bot_id,
        app_id=state.app_id,
        team=state.team_id,
        via_response_url=True,
    )
    state.messages.append(message)
    entry.original_ts = message.ts
    state.emit(EventKind.POSTED if in_channel else EventKind.EPHEMERAL, message)


def postable_channel(state: WorkspaceState, target: str | None, *, allow_user_id: bool = True) -> Channel:
    """The channel a message or file goes to: an id, a user id (their DM) or a ``#name``."""
    if not target:
        raise ApiError("channel_not_found")
    channel = state.channels.get(target)
    if channel is None and allow_user_id and target in state.users:
        # Posting to a user id writes in the bot's direct-message channel with that user.
        channel = state.channels[state.open_conversation([target])[0]]
    if channel is None:
        name = target.removeprefix("#")
        channel = next((c for c in state.channels.values() if c.name == name and not c.is_im), None)
    if channel is None:
        raise ApiError("channel_not_found")
    if state.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    return channel


def _message_content(
    state: WorkspaceState, p: Params, *, required: bool
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The ``text`` and ``blocks`` of a message (blocks checked, with the ids Slack fills in)."""
    text = p.text("text")
    if text is not None and len(text) > MESSAGE_MAX_CHARS:
        raise ApiError("msg_too_long")
    blocks: list[dict[str, Any]] | None = None
    if "blocks" in p.values:
        raw = p.decoded("blocks", "invalid_blocks_format")
        if not isinstance(raw, list):
            raise ApiError("invalid_blocks_format")
        problems = block_kit.block_problems(raw, "/blocks", block_kit.MESSAGE_MAX_BLOCKS)
        if problems:
            raise ApiError(
                "invalid_blocks",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {m}" for m in problems]},
            )
        blocks = block_kit.with_ids(raw, state.sequence)
    has_attachments = bool(p.text("attachments"))
    if required and text is None and not blocks and not has_attachments:
        raise ApiError("no_text")
    return text, blocks


METHODS: dict[str, Method] = {
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "reactions.add": reactions_add,
}
