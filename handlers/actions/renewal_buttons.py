"""The buttons of a renewal alert (R22): "Reduce to N at renewal" starts the seats workflow (an
admin-center task on a directly billed tenant, tracked like a purchase), "Not now" answers the
alert. Either way the alert is updated in place, without its buttons.

A second click, or the same click on another replica, finds the alert answered already (its key is
claimed in the database) and starts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_bolt import App

from domain.application.deliveries import Deliveries
from domain.application.subscriptions.starts import WorkflowStarts
from domain.commands import ChangeSeats
from domain.errors import DomainError
from handlers.blocks.text import escape
from handlers.blocks.waste import parse_renewal_value, renewal_answered
from handlers.blocks.workflows import workflow_notice
from handlers.context import Services
from handlers.ids import RENEWAL_NOT_NOW, RENEWAL_REDUCE
from handlers.requests import Listener, Request, acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    if services.subscriptions is None:
        return
    buttons = _Buttons(services.licenses.deliveries, services.subscriptions.starts)
    pressed: Mapping[str, Listener] = {RENEWAL_REDUCE: buttons.reduce, RENEWAL_NOT_NOW: buttons.not_now}
    for action_id, listener in pressed.items():
        acknowledge_first(app.action(action_id), listener)


class _Buttons:
    def __init__(self, deliveries: Deliveries, starts: WorkflowStarts) -> None:
        self._deliveries = deliveries
        self._starts = starts

    def reduce(self, request: Request) -> None:
        parsed = parse_renewal_value(request.value)
        if parsed is None:
            raise DomainError("That button does not belong to a renewal alert.", "Use `/subscription list`.")
        sku, delta, key, subscription_id = parsed
        requester = request.requester
        # A double click starts one workflow: the click is claimed per person, so someone refused
        # (the workflow checks for a Global or Billing admin) leaves the buttons to the others.
        if not self._deliveries.first_delivery(f"{key}:reduce:{requester.casefold()}"):
            request.reply(workflow_notice(DomainError("You answered this renewal alert already.")))
            return
        status = self._starts.change_seats(
            ChangeSeats(requester, sku, delta, request.correlation_id, request.channel, subscription_id)
        )
        total = status.workflow.expected_total
        _answer(
            request,
            f"Reducing to {total:,} licenses: started by {escape(requester)} "
            "(the steps follow in their own message).",
        )

    def not_now(self, request: Request) -> None:
        _answer(request, f"Not now ({escape(request.requester)}): the next alert comes nearer the renewal.")


def _answer(request: Request, answer: str) -> None:
    """The alert updated in place, without its buttons."""
    container = request.body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    original = str((request.body.get("message") or {}).get("text") or "")
    if channel and ts:
        request.client.chat_update(
            channel=str(channel), ts=str(ts), **renewal_answered(original, answer).to_dict()
        )
