"""The one error handler of the app: what the person is told when a request fails, and where.

Listeners do not catch errors. A `DomainError` becomes its explanation and fix as an ephemeral
reply (an `InvalidCommand` with the usage); anything else becomes a generic message with a
reference (the request's correlation id, `handlers.requests`), and the traceback goes to the log
under that reference. No exception text reaches Slack.

Where the person sees an error depends on where they are: in a form that a listener opened, the
form shows it; in App Home, the tab shows it; after a button on a message only they see, it takes
that message's place; otherwise it comes as a message only to them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from domain.errors import DomainError
from handlers.blocks import Message, domain_error, home_notice, internal_error, notice_view
from handlers.context import CORRELATION_ID, OPEN_VIEW, correlation_id
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE

__all__ = ["explain", "handle_error", "register"]

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.error(_on_error)


def _on_error(
    error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient
) -> BoltResponse | None:
    """Bolt's error handler, for listeners and middleware.

    A request that fails before `correlate` ran never got past Bolt's own checks (its signature and
    timestamp are verified first): it is not known to come from Slack, so nothing is sent anywhere
    (its response URL could point anywhere) and it gets 401, like any other unverified request. A
    timestamp that is not a number makes Bolt's verifier raise instead of refusing.
    """
    if correlation_id(context):
        handle_error(error, body, context, client)
        return None
    log.warning("refused a request that failed its checks: %s", type(error).__name__)
    return BoltResponse(status=401, body="")


def handle_error(error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    fields = _fields(context)
    _deliver(_explain(error, fields), body, context, client, fields)


def explain(error: Exception, context: BoltContext) -> Message:
    """What the person is told about `error`, logged: a refusal's explanation, or for anything
    else only a reference, with the traceback in the log under it."""
    return _explain(error, _fields(context))


def _explain(error: Exception, fields: dict[str, str]) -> Message:
    if isinstance(error, DomainError):
        log.info("refused: %s", type(error).__name__, extra=fields)
        return domain_error(error)
    log.error("unexpected error", exc_info=error, extra=fields)
    return internal_error(fields[CORRELATION_ID])


def _fields(context: BoltContext) -> dict[str, str]:
    reference = correlation_id(context) or uuid.uuid4().hex[:16]
    return {"team": context.team_id or "", "user": context.user_id or "", CORRELATION_ID: reference}


def _deliver(
    message: Message, body: dict[str, Any], context: BoltContext, client: WebClient, fields: dict[str, str]
) -> None:
    """In the form a listener opened, in App Home, through the response URL, or as an ephemeral
    message in the channel.

    A preview whose Confirm or Cancel was pressed is replaced when only that person sees it: its
    buttons would act on a change that did not go as shown. A result (Retry, Undo) stays, and so
    does a message the whole channel sees (the person who pressed may not be the one who asked).
    Nothing raised here may escape: it would be lost in Bolt's worker thread.
    """
    event = body.get("event") or {}
    container = body.get("container") or {}
    pressed = {str(a.get("action_id")) for a in body.get("actions") or [] if isinstance(a, dict)}
    on_preview = bool(pressed & {CONFIRM_CHANGE, CANCEL_CHANGE}) and bool(container.get("is_ephemeral"))
    try:
        if context.get(OPEN_VIEW):
            client.views_update(view_id=context[OPEN_VIEW], view=notice_view("licensebot", message))
        elif event.get("type") == "app_home_opened" and event.get("user"):
            client.views_publish(user_id=event["user"], view=home_notice(message))
        elif context.respond is not None and context.response_url:
            context.respond(
                **message.to_dict(),
                response_type="ephemeral",
                replace_original=body.get("type") == "block_actions" and on_preview,
            )
        elif context.channel_id and context.user_id:
            client.chat_postEphemeral(channel=context.channel_id, user=context.user_id, **message.to_dict())
        else:
            log.warning("nowhere to report the error to", extra=fields)
    except Exception:
        log.exception("could not report an error to Slack", extra=fields)
