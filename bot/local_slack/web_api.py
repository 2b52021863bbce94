"""How the local Slack answers a Web API call: arguments (forms, JSON bodies, multipart), tokens and
their types, the ``x-oauth-scopes`` header, injected failures and rate limits (HTTP 429 with
``Retry-After``), and the ``ok: false`` shape of every error. The methods themselves are in the
``*_api`` modules, one per family."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from bot.check import SLACK_SCOPES
from bot.local_slack.records import Call
from bot.local_slack.workspace_state import WorkspaceState

__all__ = [
    "BOT_SCOPES",
    "ApiError",
    "Method",
    "Params",
    "Reply",
    "answer_call",
    "invalid_arguments",
    "json_object",
    "multipart_fields",
]

BOT_SCOPES: tuple[str, ...] = SLACK_SCOPES
"""The bot token's scopes by default: those manifest.yml asks for (sent back in `x-oauth-scopes`)."""

# Methods that take the app-level token (xapp-…), in the Authorization header only; no other does.
_APP_LEVEL_METHODS = frozenset({"apps.connections.open"})
# Methods Slack documents as form-only: a JSON body's arguments are not read (so they count as
# missing), which catches code that sends them with ``api_call(..., json=...)``.
_FORM_ONLY_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.lookupByEmail",
        "usergroups.users.list",
        "files.getUploadURLExternal",
    }
)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer of the local Slack."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, data: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return cls(status, json.dumps(data).encode(), headers=dict(headers or {}))


class ApiError(Exception):
    """An ``ok: false`` answer; ``extra`` holds fields such as ``errors`` or ``response_metadata``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def invalid_arguments(*problems: str) -> ApiError:
    return ApiError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
    )


class Params:
    """Arguments of one call: strings from a form, any JSON value from a JSON body."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise invalid_arguments(f"missing required field: {key}")
        return value

    def flag(self, key: str) -> bool:
        return self.values.get(key) in (True, 1, "true", "1", "True")

    def decoded(self, key: str, error: str) -> Any:
        """A JSON argument, sent as a JSON string (forms) or as JSON (JSON bodies)."""
        value = self.values.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ApiError(error) from None
            self.values[key] = value
        return value


Method = Callable[[WorkspaceState, Params], dict[str, Any]]
"""A Web API method: the fields of its ``ok: true`` answer, or ``ApiError``; runs with the lock held."""


def multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    parsed = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in parsed.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields[name] = raw if part.get_filename() else raw.decode("utf-8")
    return fields


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _parse_params(
    content_type: str, query: str, body: bytes, *, accepts_json: bool
) -> tuple[dict[str, Any], str | None]:
    """The call's arguments and the token sent as an argument (forms and query strings only)."""
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    if mime == "application/json":
        data = json_object(body or b"{}")
        if data is None:
            raise ApiError("invalid_json")
        if accepts_json:
            data.pop("token", None)  # Slack reads the token of a JSON call from the header only
            values.update(data)
    elif mime == "multipart/form-data":
        values.update(multipart_fields(content_type, body))
    elif body:
        values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    token = values.pop("token", None)
    return values, token if isinstance(token, str) else None


def answer_call(
    state: WorkspaceState,
    methods: Mapping[str, Method],
    method: str,
    query: str,
    body: bytes,
    *,
    content_type: str,
    authorization: str | None,
) -> Reply:
    """Answer one ``/api/<method>`` request, recording it as a ``Call``."""
    with state.lock:
        params: dict[str, Any] = {}
        granted: dict[str, str] = {}
        try:
            params, body_token = _parse_params(
                content_type,
                query,
                body,
                accepts_json=method not in _FORM_ONLY_METHODS,
            )
            handler = methods.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            _authenticate(state, method, authorization, body_token)
            if method not in _APP_LEVEL_METHODS:  # Slack names a bot token's scopes on every answer
                granted["x-oauth-scopes"] = ",".join(state.scopes)
            failure = state.next_failure(method)
            if failure is not None:
                state.record(Call(method, params, failure.error))
                if failure.error == "ratelimited":
                    retry_after = str(failure.retry_after if failure.retry_after else 1)
                    return Reply.json(
                        {"ok": False, "error": "ratelimited"},
                        429,
                        {"Retry-After": retry_after},
                    )
                return Reply.json({"ok": False, "error": failure.error}, headers=granted)
            result = handler(state, Params(params))
        except ApiError as error:
            state.record(Call(method, params, error.error))
            return Reply.json({"ok": False, "error": error.error, **error.extra}, headers=granted)
        else:
            state.record(Call(method, params))
            return Reply.json({"ok": True, **result}, headers=granted)


def _authenticate(
    state: WorkspaceState, method: str, authorization: str | None, body_token: str | None
) -> None:
    token = body_token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if not token:
        raise ApiError("not_authed")
    expected, other = (
        (state.app_token, state.bot_token)
        if method in _APP_LEVEL_METHODS
        else (state.bot_token, state.app_token)
    )
    if token == other:
        raise ApiError("not_allowed_token_type")
    if token != expected or (method in _APP_LEVEL_METHODS and not authorization):
        # Slack refuses an app-level token sent as a POST parameter.
        raise ApiError("invalid_auth")
