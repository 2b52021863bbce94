"""Web API methods of views: ``views.open``, ``views.push`` (3 modals deep at most), ``views.update``
and ``views.publish`` (App Home), with trigger ids that expire after 3 seconds and view hashes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.local_slack import block_kit
from bot.local_slack.records import EventKind, View
from bot.local_slack.web_api import ApiError, Method, Params, invalid_arguments
from bot.local_slack.workspace_state import WorkspaceState

__all__ = ["METHODS"]

# Slack's documented limits.
TRIGGER_TTL_SECONDS = 3.0
VIEW_STACK_MAX = 3


def views_open(state: WorkspaceState, p: Params) -> dict[str, Any]:
    payload = _view_payload(state, p, "modal")
    user_id = _exchange_trigger(state, p)
    view = _new_view(state, user_id, payload, root_id=None, previous_id=None)
    state.stacks[user_id] = [view.id]
    state.emit(EventKind.VIEW_OPENED, view)
    return {"view": copy.deepcopy(dict(view.data))}


def views_push(state: WorkspaceState, p: Params) -> dict[str, Any]:
    payload = _view_payload(state, p, "modal")
    user_id = _exchange_trigger(state, p)
    stack = state.stacks.get(user_id, [])
    if not stack:
        raise ApiError("not_found")
    if len(stack) >= VIEW_STACK_MAX:
        raise ApiError("push_limit_reached")
    view = _new_view(state, user_id, payload, root_id=stack[0], previous_id=stack[-1])
    stack.append(view.id)
    state.emit(EventKind.VIEW_PUSHED, view)
    return {"view": copy.deepcopy(dict(view.data))}


def views_update(state: WorkspaceState, p: Params) -> dict[str, Any]:
    view_id = p.text("view_id")
    external_id = p.text("external_id")
    if view_id is None and external_id is None:
        raise invalid_arguments("must provide view_id or external_id")
    current = next(
        (
            v
            for v in state.views.values()
            if (view_id is not None and v.id == view_id)
            or (view_id is None and external_id is not None and v.external_id == external_id)
        ),
        None,
    )
    if current is None or current.closed:
        raise ApiError("not_found")
    expected_hash = p.text("hash")
    if expected_hash is not None and expected_hash != current.hash:
        raise ApiError("hash_conflict")
    payload = _view_payload(state, p, current.type, keep_external_id=current.external_id)
    updated = replace(current, data=_view_data(state, current.id, payload, current.data))
    state.views[current.id] = updated
    kind = EventKind.HOME_PUBLISHED if updated.type == "home" else EventKind.VIEW_UPDATED
    state.emit(kind, updated)
    return {"view": copy.deepcopy(dict(updated.data))}


def views_publish(state: WorkspaceState, p: Params) -> dict[str, Any]:
    user_id = p.require("user_id")
    if user_id not in state.users:
        raise ApiError("user_not_found")
    payload = _view_payload(state, p, "home")
    current_id = state.homes.get(user_id)
    if current_id is None:
        view = _new_view(state, user_id, payload, root_id=None, previous_id=None)
        state.homes[user_id] = view.id
    else:
        current = state.views[current_id]
        expected_hash = p.text("hash")
        if expected_hash is not None and expected_hash != current.hash:
            raise ApiError("hash_conflict")
        view = replace(current, data=_view_data(state, current_id, payload, current.data))
        state.views[current_id] = view
    state.emit(EventKind.HOME_PUBLISHED, view)
    return {"view": copy.deepcopy(dict(view.data))}


def _view_payload(
    state: WorkspaceState, p: Params, kind: str, *, keep_external_id: str = ""
) -> dict[str, Any]:
    raw = p.decoded("view", "invalid_arguments")
    if raw is None:
        raise invalid_arguments("missing required field: view")
    if not isinstance(raw, dict):
        raise invalid_arguments("must be an object [json-pointer:/view]")
    problems, blocks = block_kit.view_problems(raw, kind)
    if problems:
        raise invalid_arguments(*problems)
    external_id = raw.get("external_id")
    taken = {v.external_id for v in state.views.values()} - {keep_external_id}
    if external_id and external_id in taken:
        raise ApiError("duplicate_external_id")
    payload = dict(raw)
    payload["blocks"] = block_kit.with_ids(blocks, state.sequence)
    return payload


def _exchange_trigger(state: WorkspaceState, p: Params) -> str:
    trigger_id = p.text("trigger_id") or p.text("interactivity_pointer")
    if trigger_id is None:
        raise invalid_arguments("missing required field: trigger_id")
    trigger = state.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if state.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
        raise ApiError("expired_trigger_id")
    trigger.used = True
    return trigger.user_id


def _new_view(
    state: WorkspaceState,
    user_id: str,
    payload: dict[str, Any],
    *,
    root_id: str | None,
    previous_id: str | None,
) -> View:
    view_id = state.new_id("V")
    data = _view_data(state, view_id, payload, None)
    data["root_view_id"] = root_id or view_id
    data["previous_view_id"] = previous_id
    view = View(view_id, user_id, data)
    state.views[view_id] = view
    return view


def _view_data(
    state: WorkspaceState, view_id: str, payload: dict[str, Any], previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    kept_state = previous.get("state") if previous else None
    return {
        "id": view_id,
        "team_id": state.team_id,
        "type": payload["type"],
        "title": payload.get("title"),
        "submit": payload.get("submit"),
        "close": payload.get("close"),
        "blocks": payload["blocks"],
        "private_metadata": payload.get("private_metadata", ""),
        "callback_id": payload.get("callback_id", ""),
        "state": copy.deepcopy(kept_state) if kept_state else {"values": {}},
        "hash": f"{int(state.clock())}.{block_kit.short_id(next(state.sequence))}",
        "clear_on_close": bool(payload.get("clear_on_close", False)),
        "notify_on_close": bool(payload.get("notify_on_close", False)),
        "root_view_id": previous.get("root_view_id") if previous else view_id,
        "previous_view_id": previous.get("previous_view_id") if previous else None,
        "app_id": state.app_id,
        "external_id": payload.get("external_id", ""),
        "app_installed_team_id": state.team_id,
        "bot_id": state.bot_id,
    }


METHODS: dict[str, Method] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
