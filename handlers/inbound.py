"""What a request from Slack must carry before any listener sees it.

Two checks, one for each way a request can be wrong:

- `malformed`: the parsed body lacks what Bolt or a listener reads (no `user` or `team` on an
  interaction, an empty `actions` list, a view without `type`, a body that is not a JSON object…).
  Slack never sends such a thing; the edge that parsed the body (`bot.web` over HTTP,
  `bot.socket_mode` over Socket Mode) refuses it with 400 (or an empty ack) and one log line.
- control characters: text a person can send (a command's text, a button's or a choice's value, a
  form's values) holding an invisible control character (NUL and the like), which no database column
  or Slack message should carry. The middleware `refuse_control_characters` answers the person with
  what is wrong and how to fix it, and nothing reaches a service. A command's text is checked as
  its parser checks it (`handlers.grammar.words.check_characters`), so the answer is the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from domain.errors import DomainError, InvalidCommand
from handlers.context import CORRELATION_ID, OPEN_VIEW, correlation_id
from handlers.error_handler import handle_error
from handlers.grammar.words import check_characters, control_character_in
from handlers.ids import LICENSE_COMMAND, SUBSCRIPTION_COMMAND

__all__ = [
    "ControlCharacter",
    "ControlCharacterRefused",
    "control_character",
    "malformed",
    "refuse_control_characters",
    "register",
]

log = logging.getLogger(__name__)

_ERROR_LIMIT = 300
"""Slack shows at most this many characters of a field error."""


def register(app: App) -> None:
    app.middleware(refuse_control_characters)


# -- the shape of a request ---------------------------------------------------------------------

_INTERACTIONS = frozenset(
    {"block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut", "message_action"}
)
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")
"""Where Bolt looks for the ids of a request (`slack_bolt.request.internals`), besides the top level."""
_OBJECTS = ("container", "function_data", "state")


def malformed(body: object) -> str | None:
    """Why `body` (a request parsed from JSON or a form) cannot go to a listener; None when it can.

    The reason is for the log, in a few words."""
    if not isinstance(body, dict):
        return f"the body is {_kind(body)}, not a JSON object"
    if not body:
        return "the body is empty"
    if body.get("ssl_check"):
        return None  # Slack's certificate check: Bolt answers it
    problem = _ids(body, "")
    if problem:
        return problem
    if "command" in body:
        return _command(body)
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return "no type"
    if kind in _INTERACTIONS:
        return _interaction(kind, body)
    if kind == "event_callback":
        return _event_callback(body)
    if kind == "url_verification":
        return _need_text(body, "challenge", "")
    return None  # another kind of request: no listener takes it, and Bolt answers 404


def _ids(body: Mapping[str, Any], where: str) -> str | None:
    """What Bolt reads of every request to build its context (team, user, channel…), at the top
    level and in the objects it looks into."""
    for key in ("team", "user", "channel", "enterprise"):
        value = body.get(key)
        if value is not None and not isinstance(value, str | dict):
            return f"{where}{key} is {_kind(value)}"
        if isinstance(value, str) and _first_control(value) is not None:
            return f"{where}{key} holds a control character"
    for key in (*_NESTED, *_OBJECTS, "view"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            return f"{where}{key} is {_kind(value)}, not an object"
    if "response_url" in body and not isinstance(body["response_url"], str):
        return f"{where}response_url is not text"
    for key in ("authorizations", "response_urls"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return f"{where}{key} is not a list of objects"
    authorizations = body.get("authorizations") or []
    nested = [(key, body.get(key)) for key in _NESTED] + [("authorizations", authorizations[:1] or None)]
    for key, value in nested:
        inner = value[0] if isinstance(value, list) else value
        if isinstance(inner, dict):
            problem = _ids(inner, f"{where}{key}.")
            if problem:
                return problem
    return None


def _command(body: Mapping[str, Any]) -> str | None:
    for key in ("command", "team_id", "user_id", "channel_id", "trigger_id", "response_url"):
        problem = _need_text(body, key, "command ")
        if problem:
            return problem
    if not str(body["command"]).startswith("/"):
        return "the command does not start with /"
    if "text" in body and not isinstance(body["text"], str):
        return "the command's text is not text"
    return None


def _interaction(kind: str, body: Mapping[str, Any]) -> str | None:
    if "trigger_id" in body:
        problem = _need_text(body, "trigger_id", "")
        if problem:
            return problem
    for key in ("user", "team"):
        value = body.get(key)
        if not isinstance(value, dict):
            return f"no {key}"
        problem = _need_text(value, "id", f"{key} ")
        if problem:
            return problem
    view = body.get("view")
    if view is not None or kind in ("view_submission", "view_closed"):
        problem = _view(kind, view)
        if problem:
            return problem
    if kind == "block_actions":
        return _actions(body.get("actions"))
    if kind == "block_suggestion":
        return _need_text(body, "action_id", "")
    if kind in ("shortcut", "message_action"):
        return _need_text(body, "callback_id", "")
    return None


def _view(kind: str, view: object) -> str | None:
    if not isinstance(view, dict):
        return "no view"
    for key in ("type", "id"):
        problem = _need_text(view, key, "view ")
        if problem:
            return problem
    for key in ("callback_id", "private_metadata", "hash"):
        if key in view and not isinstance(view[key], str):
            return f"the view's {key} is not text"
    if kind in ("view_submission", "view_closed") and not isinstance(view.get("callback_id"), str):
        return "the view has no callback_id"
    state = view.get("state")
    if kind == "view_submission" and not isinstance(state, dict):
        return "the view has no state"
    if isinstance(state, dict):
        values = state.get("values", {})
        if not isinstance(values, dict) or not all(
            isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
            for block in values.values()
        ):
            return "the view's state values are not objects of objects"
    return None


def _actions(actions: object) -> str | None:
    if not isinstance(actions, list) or not actions:
        return "no actions"
    for action in actions:
        if not isinstance(action, dict):
            return "an action is not an object"
        problem = _need_text(action, "action_id", "action ")
        if problem:
            return problem
        if "block_id" in action and not isinstance(action["block_id"], str):
            return "an action's block_id is not text"
    return None


def _event_callback(body: Mapping[str, Any]) -> str | None:
    for key in ("team_id", "event_id"):
        problem = _need_text(body, key, "")
        if problem:
            return problem
    event = body.get("event")
    if not isinstance(event, dict):
        return "no event"
    return _need_text(event, "type", "event ")


def _need_text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    """`key` holds non-empty text; ids are stored (delivery keys, audit), so no control character."""
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        return f"no {where}{key}" if value is None else f"{where}{key} is {_kind(value)}"
    if _first_control(value) is not None:
        return f"{where}{key} holds a control character"
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "empty text" if not value else "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- control characters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlCharacter:
    """An invisible control character found in what a person pressed, chose or entered in a form."""

    code_point: int
    block_id: str = ""
    """In a form submission: the block of the field that holds it; else empty."""

    @property
    def label(self) -> str:
        return f"U+{self.code_point:04X}"


class ControlCharacterRefused(DomainError):
    """A value with an invisible control character: licensebot neither stores nor acts on it."""

    def __init__(self, found: ControlCharacter) -> None:
        character = f"an invisible control character ({found.label})"
        if found.block_id:
            super().__init__(
                f"This field contains {character}.",
                "Delete it (type the value instead of pasting it) and submit again.",
            )
        else:
            super().__init__(
                f"What you pressed or chose carries {character}, so licensebot did nothing.",
                "Run the command again and use the buttons of its new message.",
            )
        self.found = found


def control_character(body: Mapping[str, Any]) -> ControlCharacter | None:
    """The first control character (`handlers.grammar.words.control_character_in`) in the actions of an
    interaction (a button's or a choice's value…) or in the values of a form."""
    for action in body.get("actions") or ():
        point = _first_control(action)
        if point is not None:
            return ControlCharacter(point)
    view = body.get("view")
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    if isinstance(values, dict):
        for block_id, elements in values.items():
            point = _first_control(elements)
            if point is not None:
                return ControlCharacter(point, block_id=str(block_id))
    return None


def _first_control(value: object) -> int | None:
    for text in _texts(value):
        found = control_character_in(text)
        if found is not None:
            return ord(found)
    return None


def _texts(value: object) -> Iterator[str]:
    """Every string in `value`, keys included, without recursion (a payload can nest deeply)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(str(key) for key in item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def refuse_control_characters(
    context: BoltContext, body: dict[str, Any], client: WebClient, next: Callable[[], None]
) -> BoltResponse | None:
    """Bolt middleware: a command's text, a button's or a choice's value or a form's values
    holding a control character are answered here, and no listener runs (nothing is written, not
    even the request's delivery key). A form shows it on the field; anything else is told as any
    refusal is, after the ack (`handlers.error_handler.handle_error`): for a command, the parser's own
    refusal with the command's usage."""
    refusal = _refusal(body)
    if refusal is None:
        next()
        return None
    found = refusal.found if isinstance(refusal, ControlCharacterRefused) else None
    if found is not None and found.block_id and body.get("type") == "view_submission":
        log.info("refused: %s", type(refusal).__name__, extra=_fields(context))
        errors = {found.block_id: refusal.message[:_ERROR_LIMIT]}
        return BoltResponse(status=200, body={"response_action": "errors", "errors": errors})
    view = body.get("view")
    if isinstance(view, dict) and view.get("type") == "modal":
        context[OPEN_VIEW] = str(view["id"])  # a choice in a form: the form shows the refusal
    context.listener_runner.listener_executor.submit(handle_error, refusal, body, context, client)
    return BoltResponse(status=200, body="")


def _refusal(body: Mapping[str, Any]) -> DomainError | None:
    command = body.get("command")
    if command in (LICENSE_COMMAND, SUBSCRIPTION_COMMAND):
        try:
            check_characters(str(body.get("text") or ""), str(command))
        except InvalidCommand as refusal:
            return refusal
        return None
    found = control_character(body)
    return None if found is None else ControlCharacterRefused(found)


def _fields(context: BoltContext) -> dict[str, str]:
    return {
        "team": context.team_id or "",
        "user": context.user_id or "",
        CORRELATION_ID: correlation_id(context),
    }
