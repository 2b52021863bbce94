"""How a Slack request reaches its listener: its correlation id, its ack first, its delivery once,
and the one `Request` the listener is given.

Every request gets a correlation id and one log line (`correlate`). Listeners are registered
through `acknowledge_first`: the request's own thread sends the ack before anything else, and the
work runs afterwards on a listener thread, which hands a failure to the one error handler
(`handlers.error_handler`) itself.

Right after the ack, `acknowledge_first` claims the request's delivery key (its event id or trigger
id) in the database: a redelivery of the same request (`X-Slack-Retry-Num`) finds it claimed and
does nothing, on whichever replica it lands. Then it builds the listener's `Request`: who sent it
(their requester resolved on first use), the correlation id, what the request carries and where
the answer goes.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, Args, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient

from domain.application.deliveries import Deliveries
from handlers.admission import people
from handlers.blocks import Message
from handlers.context import CLAIM_DELIVERY, CORRELATION_ID, OPEN_VIEW, correlation_id
from handlers.error_handler import handle_error
from handlers.message_updates import MessageUpdates
from handlers.people import SlackPeople
from handlers.presenting import Surface
from handlers.replies import reply

__all__ = [
    "Listener",
    "Request",
    "acknowledge_first",
    "correlate",
    "delivery_key",
    "first_delivery",
    "register",
]

log = logging.getLogger(__name__)


class Request:
    """One Slack request as its listener sees it (a command, a button, a form, an event).

    `requester` is who the sender acts for in the tenant, admitted by `handlers.admission` (R24):
    it is resolved on first use only, since it costs a `users.info` call. Where the answer goes:
    `respond` (the response URL; `reply`), `channel` and `user_id` (`surface`), and `message_ts`,
    the message whose button was pressed (to update it, or to reply in its thread)."""

    __slots__ = (
        "_requester",
        "body",
        "channel",
        "client",
        "context",
        "correlation_id",
        "message_ts",
        "only_theirs",
        "respond",
        "user_id",
    )

    def __init__(
        self, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond | None
    ) -> None:
        self.body = body
        self.context = context
        self.client = client
        self.respond = respond
        self.correlation_id = correlation_id(context)
        """The request's reference, in its log lines, its audit entries and its error messages."""
        self.user_id = _user_id(body)
        """The Slack account that sent the command, pressed the button, submitted the form or opened
        App Home."""
        container = body.get("container") or {}
        channel = (
            body.get("channel_id") or container.get("channel_id") or (body.get("channel") or {}).get("id")
        )
        self.channel = str(channel or "")
        """The channel the command was typed in or the button pressed in ("" for a form or App Home)."""
        self.message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        self.only_theirs = bool(container.get("is_ephemeral"))
        """The button is on an ephemeral message: only the person who pressed it sees it."""
        self._requester: str | None = None

    @property
    def people(self) -> SlackPeople:
        """The request's Slack people (`users.info` at most once per person): who a command names."""
        return people(self.context)

    @property
    def requester(self) -> str:
        """The tenant user the sender acts for, once their Slack account is admitted (R24)."""
        if self._requester is None:
            self._requester = self.people.requester(self.user_id)
        return self._requester

    @property
    def text(self) -> str:
        """A slash command's text."""
        return str(self.body.get("text") or "")

    @property
    def action(self) -> dict[str, Any]:
        """The pressed button or chosen option of an interaction ({} for anything else)."""
        actions = self.body.get("actions") or [{}]
        return dict(actions[0])

    @property
    def value(self) -> str:
        """The value of the pressed button."""
        return str(self.action.get("value") or "")

    @property
    def event(self) -> dict[str, Any]:
        """An Events API callback's event ({} for anything else)."""
        return dict(self.body.get("event") or {})

    def reply(self, message: Message, *, replace_original: bool = False) -> None:
        """`message` only to the sender, through the response URL (`handlers.replies.reply`)."""
        if self.respond is None:
            log.warning("no response URL to reply to", extra={"action": "reply"})
            return
        reply(self.respond, message, replace_original=replace_original)

    def surface(self, updates: MessageUpdates | None) -> Surface:
        """Where the sender talks to licensebot: the channel, and the response URL."""
        return Surface(self.client, self.channel, self.user_id, self.respond, updates)

    def errors_in_form(self, view_id: str | None) -> None:
        """From here on, an error is shown in the form `view_id` (None: the form is closed)."""
        self.context[OPEN_VIEW] = view_id


Listener = Callable[[Request], None]
"""What a listener does with its request, after the ack."""


def _user_id(body: Mapping[str, Any]) -> str:
    """A command's `user_id`, an interaction's `user.id`, an event's `event.user`."""
    if body.get("user_id"):
        return str(body["user_id"])
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id") or "")
    event = body.get("event") or {}
    return str(event.get("user") or "")


def register(app: App, deliveries: Deliveries) -> None:
    app.middleware(correlate)
    app.middleware(_delivery_claim(deliveries))


def acknowledge_first(listen: Callable[..., object], work: Listener) -> None:
    """Register `work` behind an acknowledgement: `listen` is what `app.command(…)`,
    `app.action(…)` or `app.event(…)` returned.

    The ack is sent from the request's own thread before anything else (Bolt runs listeners there
    with `process_before_response=True`): it waits for no listener thread and for none of the work
    of the requests before it. The work is handed to the app's listener thread pool as it is (not
    copied, as Bolt's lazy listeners are: the request is over once it is answered). There, unless
    the request is a redelivery, `work` runs with the request's `Request`; a failure goes to the one
    error handler."""

    def run(args: Args) -> None:
        try:
            if first_delivery(args.context):
                work(Request(args.body, args.context, args.client, args.respond))
        except Exception as error:  # the one handler decides what the person sees
            handle_error(error, args.body, args.context, args.client)

    def listener(args: Args) -> None:
        args.ack()
        # In the request's context: what it states (its Slack account, for the audit) holds there.
        args.context.listener_runner.listener_executor.submit(contextvars.copy_context().run, run, args)

    # Named after `work` for Bolt's logs; no __wrapped__, or Bolt would inject `work`'s arguments.
    listener.__name__ = listener.__qualname__ = getattr(work, "__name__", "listener")
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


def _delivery_claim(deliveries: Deliveries) -> Callable[..., None]:
    def remember_delivery(
        context: BoltContext, body: dict[str, Any], request: BoltRequest, next: Callable[[], None]
    ) -> None:
        """Gives the listener a claim on the request's key, to call after its ack."""
        key = delivery_key(body)
        context[CLAIM_DELIVERY] = lambda: deliveries.first_delivery(key)
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
