"""Inbound requests shaped and signed the way Slack sends them to an app.

Slack signs ``v0:{timestamp}:{raw body}`` with HMAC-SHA256 and the app's signing secret and sends
``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=<hex>``; receivers refuse timestamps
more than five minutes away from their clock. Slash commands arrive form-encoded, interactions as
a form field ``payload`` holding JSON, Events API deliveries as JSON.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_TEAM_DOMAIN",
    "DEFAULT_TEAM_ID",
    "DEFAULT_VERIFICATION_TOKEN",
    "action_from_element",
    "block_actions_body",
    "event_body",
    "signature",
    "signed_headers",
    "slash_command_body",
    "state_values",
    "view_submission_body",
]

DEFAULT_TEAM_ID = "T0LOCAL001"
DEFAULT_TEAM_DOMAIN = "licensebot-local"
DEFAULT_APP_ID = "A0LOCALAPP"
# The deprecated verification token Slack still puts in every payload; Bolt does not check it.
DEFAULT_VERIFICATION_TOKEN = "local-verification-token"  # noqa: S105 - a fixed fake, not a secret

_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
_SELECTED_KEY = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}
_TEXT_INPUTS = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
}

Selection = str | Sequence[str] | None


def signature(body: str, secret: str, timestamp: int) -> str:
    """The ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    secret: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
    *,
    retry_reason: str = "http_timeout",
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends with ``body``; ``retry_num`` marks an Events API redelivery.

    The content type follows the body: JSON for Events API callbacks, form-encoded otherwise.
    """
    sent_at = int(time.time()) if timestamp is None else timestamp
    if content_type is None:
        is_json = body.lstrip().startswith("{")
        content_type = "application/json" if is_json else "application/x-www-form-urlencoded"
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(sent_at),
        "X-Slack-Signature": signature(body, secret, sent_at),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    response_url: str,
    trigger_id: str,
    channel_name: str = "general",
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """The form-encoded body of a slash command invocation, fields in Slack's order."""
    return urlencode(
        [
            ("token", token),
            ("team_id", team_id),
            ("team_domain", team_domain),
            ("channel_id", channel_id),
            ("channel_name", channel_name),
            ("user_id", user_id),
            ("user_name", user_name),
            ("command", command),
            ("text", text),
            ("api_app_id", api_app_id),
            ("is_enterprise_install", "false"),
            ("response_url", response_url),
            ("trigger_id", trigger_id),
        ]
    )


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _interaction_body(payload: Mapping[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _find_option(element: Mapping[str, Any], value: str) -> dict[str, Any]:
    candidates = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        candidates.extend(group.get("options") or [])
    for option in candidates:
        if option.get("value") == value:
            return dict(option)
    shown = ", ".join(str(o.get("value")) for o in candidates)
    raise ValueError(f"{element.get('action_id')!r} has no option {value!r} (options: {shown})")


def _as_list(selection: Selection) -> list[str]:
    if selection is None:
        return []
    if isinstance(selection, str):
        return [selection]
    return list(selection)


def _selection_fields(element: Mapping[str, Any], selection: Selection) -> dict[str, Any]:
    """The state an element reports: ``selected_option``, ``selected_users``, ``value``…"""
    kind = element.get("type")
    if kind in _SINGLE_OPTION:
        values = _as_list(selection)
        return {"selected_option": _find_option(element, values[0]) if values else None}
    if kind in _MULTI_OPTION:
        return {"selected_options": [_find_option(element, v) for v in _as_list(selection)]}
    if kind in _SELECTED_KEY:
        key = _SELECTED_KEY[kind]
        if key.endswith("s"):
            return {key: _as_list(selection)}
        values = _as_list(selection)
        return {key: values[0] if values else None}
    if kind == "datetimepicker":
        values = _as_list(selection)
        return {"selected_date_time": int(values[0]) if values else None}
    if kind in _TEXT_INPUTS or kind == "rich_text_input":
        values = _as_list(selection)
        return {"value": values[0] if values else None}
    return {}


def action_from_element(
    element: Mapping[str, Any],
    block_id: str,
    *,
    selected: Selection = None,
    action_ts: str | None = None,
) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends when a person uses ``element`` of a block."""
    action: dict[str, Any] = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": element.get("type"),
        "action_ts": action_ts or _action_ts(),
    }
    if element.get("type") == "button":
        action["text"] = copy.deepcopy(element.get("text"))
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
        return action
    if "placeholder" in element:
        action["placeholder"] = copy.deepcopy(element["placeholder"])
    action.update(_selection_fields(element, selected))
    return action


def state_values(
    blocks: Sequence[Mapping[str, Any]],
    inputs: Mapping[str, Selection],
) -> dict[str, dict[str, dict[str, Any]]]:
    """``view.state.values`` for ``blocks`` with ``inputs`` keyed by action_id.

    Every input block is reported (with empty values when not given), as Slack does; interactive
    elements of other blocks only when ``inputs`` names them.
    """
    values: dict[str, dict[str, dict[str, Any]]] = {}
    unused = set(inputs)
    for block in blocks:
        block_id = str(block.get("block_id", ""))
        elements: list[Mapping[str, Any]] = []
        if block.get("type") == "input" and isinstance(block.get("element"), Mapping):
            elements.append(block["element"])
        elif block.get("type") == "actions":
            elements.extend(e for e in block.get("elements") or [] if e.get("action_id") in inputs)
        elif block.get("type") == "section":
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping) and accessory.get("action_id") in inputs:
                elements.append(accessory)
        for element in elements:
            action_id = str(element.get("action_id", ""))
            unused.discard(action_id)
            state = {"type": element.get("type")}
            state.update(_selection_fields(element, inputs.get(action_id)))
            values.setdefault(block_id, {})[action_id] = state
    if unused:
        raise ValueError(f"no input element with action_id {sorted(unused)} in these blocks")
    return values


def block_actions_body(
    *,
    user_id: str,
    user_name: str,
    action: Mapping[str, Any],
    trigger_id: str,
    container: Mapping[str, Any],
    message: Mapping[str, Any] | None = None,
    channel: Mapping[str, str] | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    state: Mapping[str, Any] | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` of a ``block_actions`` interaction.

    ``container`` is ``{"type": "message", "message_ts", "channel_id", "is_ephemeral"}`` for a
    message (then ``channel``, ``response_url`` and, unless ephemeral, ``message`` are sent) or
    ``{"type": "view", "view_id"}`` for a modal or the App Home (then ``view`` is sent).
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "container": dict(container),
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel is not None:
        payload["channel"] = dict(channel)
    if message is not None:
        payload["message"] = copy.deepcopy(dict(message))
    if view is not None:
        payload["view"] = copy.deepcopy(dict(view))
    payload["state"] = copy.deepcopy(dict(state)) if state is not None else {"values": {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [dict(action)]
    return _interaction_body(payload)


def view_submission_body(
    *,
    user_id: str,
    user_name: str,
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    trigger_id: str,
    response_urls: Sequence[Mapping[str, str]] = (),
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` of a ``view_submission``: ``view`` as opened, with ``state.values``."""
    submitted = copy.deepcopy(dict(view))
    submitted["state"] = {"values": copy.deepcopy(dict(values))}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": submitted,
        "response_urls": [dict(u) for u in response_urls],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _interaction_body(payload)


def event_body(
    event: Mapping[str, Any],
    *,
    team_id: str = DEFAULT_TEAM_ID,
    api_app_id: str = DEFAULT_APP_ID,
    bot_user_id: str | None = None,
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """The JSON body of an Events API ``event_callback`` delivering ``event``.

    Pass the same ``event_id`` to model a redelivery (with ``retry_num`` in the headers).
    """
    payload = {
        "token": token,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(payload, separators=(",", ":"))
