"""One error handler for the whole app, and the correlation id every request carries.

Listeners do not catch errors. A `DomainError` becomes its explanation and fix as an ephemeral
reply (an `InvalidCommand` with the usage); anything else becomes a generic message with a
reference, and the traceback goes to the log under that reference. No exception text reaches Slack.

Listeners are registered through `acknowledge_first`: the request's own thread sends the ack
before anything else, and the work runs afterwards on a listener thread, which hands a failure to
the same handler itself.

Right after the ack, `acknowledge_first` claims the request's delivery key (its event id or trigger
id) in the database: a redelivery of the same request (`X-Slack-Retry-Num`) finds it claimed and
does nothing, on whichever replica it lands.

Where the person sees an error depends on where they are: in a form that a listener opened, the
form shows it; in App Home, the tab shows it; after a button on a message only they see, it takes
that message's place; otherwise it comes as a message only to them.
"""

from __future__ import annotations

import contextvars
import hashlib
import inspect
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, Args, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from domain.errors import DomainError
from domain.services import Licensing
from handlers.blocks import Message, domain_error, home_notice, internal_error, notice_view
from handlers.context import CLAIM_DELIVERY, CORRELATION_ID, OPEN_VIEW, correlation_id
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE

__all__ = ["acknowledge_first", "delivery_key", "explain", "first_delivery", "handle_error", "register"]

log = logging.getLogger(__name__)


def register(app: App, licensing: Licensing) -> None:
    app.middleware(correlate)
    app.middleware(_delivery_claim(licensing))
    app.error(_on_error)


def acknowledge_first(listen: Callable[..., object], work: Callable[..., None]) -> None:
    """Register `work` behind an acknowledgement: `listen` is what `app.command(…)`,
    `app.action(…)` or `app.event(…)` returned.

    The ack is sent from the request's own thread before anything else (Bolt runs listeners there
    with `process_before_response=True`): it waits for no listener thread and for none of the work
    of the requests before it. The work is handed to the app's listener thread pool as it is (not
    copied, as Bolt's lazy listeners are: the request is over once it is answered). There, unless
    the request is a redelivery, `work` runs with the Bolt arguments it names (`command`,
    `action`, `body`, `client`, `respond`, `context`…); a failure goes to the one error handler."""
    names = list(inspect.signature(work).parameters)

    def run(args: Args) -> None:
        try:
            if first_delivery(args.context):
                work(**{name: getattr(args, name) for name in names})
        except Exception as error:  # the one handler decides what the person sees
            handle_error(error, args.body, args.context, args.client)

    def listener(args: Args) -> None:
        args.ack()
        # In the request's context: what it states (its Slack account, for the audit) holds there.
        args.context.listener_runner.listener_executor.submit(contextvars.copy_context().run, run, args)

    # Named after `work` for Bolt's logs; no __wrapped__, or Bolt would inject `work`'s arguments.
    listener.__name__ = listener.__qualname__ = work.__name__
    listen(listener)


def delivery_key(body: Mapping[str, Any]) -> str:
    """What identifies one request across Slack's redeliveries: the event id of an Events API
    callback, the trigger id of a command or an interaction, else a digest of the payload."""
    team = str(body.get("team_id") or (body.get("team") or {}).get("id") or "")
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"slack:{team}:event:{event_id}"
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        return f"slack:{team}:trigger:{trigger_id}"
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"slack:{team}:payload:{digest}"


def first_delivery(context: BoltContext) -> bool:
    """Claims the request's delivery key (after the ack: it is a database write); False for a
    redelivery, which is logged and must do nothing."""
    claim = context.get(CLAIM_DELIVERY)
    if not callable(claim) or claim():
        return True
    log.info(
        "dropped a redelivery of a request already handled", extra={CORRELATION_ID: correlation_id(context)}
    )
    return False


def _delivery_claim(licensing: Licensing) -> Callable[..., None]:
    def remember_delivery(
        context: BoltContext, body: dict[str, Any], request: BoltRequest, next: Callable[[], None]
    ) -> None:
        """Gives the listener a claim on the request's key, to call after its ack."""
        key = delivery_key(body)
        context[CLAIM_DELIVERY] = lambda: licensing.first_delivery(key)
        retry = request.headers.get("x-slack-retry-num")
        if retry:
            log.info(
                "Slack redelivered a request",
                extra={"retry": retry[0], CORRELATION_ID: correlation_id(context)},
            )
        next()

    return remember_delivery


def correlate(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
    """Give the request a correlation id and log one line for it: team, user, what, id; never tokens.

    Interactions without actions, or whose actions are not objects with an `action_id`, are refused
    with 400 here (the edge refuses them earlier, `handlers.inbound.malformed`): Slack never sends
    them, and Bolt's listener matching would raise on them."""
    context[CORRELATION_ID] = uuid.uuid4().hex[:16]
    if body.get("type") == "block_actions" and not _well_formed_actions(body.get("actions")):
        log.warning(
            "refused an interaction with malformed actions", extra={CORRELATION_ID: context[CORRELATION_ID]}
        )
        return BoltResponse(status=400, body="")
    command = body.get("command")
    actions = body.get("actions") or [{}]
    what: dict[str, str] = {}
    if isinstance(command, str):
        subcommand = str(body.get("text") or "").split(maxsplit=1)[:1]
        what["command"] = " ".join([command, *subcommand])[:60]
    elif isinstance(actions[0], dict) and actions[0].get("action_id"):
        what["action"] = str(actions[0]["action_id"])[:60]
    else:
        what["action"] = str(body.get("type") or "request")[:60]
    log.info(
        "slack %s",
        what.get("command") or what.get("action"),
        extra={
            "team": context.team_id or "",
            "user": context.user_id or "",
            CORRELATION_ID: context[CORRELATION_ID],
            **what,
        },
    )
    next()
    return None


def _well_formed_actions(actions: object) -> bool:
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(action, dict) and isinstance(action.get("action_id"), str) for action in actions)
    )


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
