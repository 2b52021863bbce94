"""`/subscription`: list, help, and the workflows — buy, seats, switch, upgrade, cancel, status
(DESIGN.md §3, §4).

A workflow's checklist is posted in the channel by the `SlackNotifier` and updated in place as it
moves; when it could not be posted there (a direct message, a channel without the bot), the
requester gets it as a reply only they see, with how to have it in the channel; its buttons then
answer with the checklist as it moved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, get_args

from slack_bolt import App

from domain.application.subscriptions.workflows import SubscriptionWorkflows
from domain.commands import (
    BuySubscription,
    CancelSubscription,
    ChangeSeats,
    ListSubscriptions,
    SwitchPlans,
    UpgradeFromE4,
)
from domain.errors import DomainError
from domain.model import PaymentMethod
from domain.workflows import EVERYONE, WorkflowStatus
from handlers.blocks import cannot_post_here, help_message, subscription_list
from handlers.blocks.workflows import workflow_checklist, workflow_list
from handlers.context import Services
from handlers.grammar.subcommands import ParsedHelp
from handlers.grammar.subscription import (
    ParsedBuy,
    ParsedCancel,
    ParsedSeats,
    ParsedStatus,
    ParsedSubscriptionList,
    ParsedSwitch,
    ParsedUpgrade,
    SubscriptionCommand,
    parse_subscription,
)
from handlers.ids import SUBSCRIPTION_COMMAND
from handlers.requests import Request, acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    listeners = _SubscriptionCommand(services)
    acknowledge_first(app.command(SUBSCRIPTION_COMMAND), listeners.subscription_command)


class _SubscriptionCommand:
    """`/subscription …` parsed, then run by the handler its kind is mapped to."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._handlers: Mapping[type[SubscriptionCommand], Callable[[Any, Request], None]] = {
            ParsedHelp: self._help,
            ParsedSubscriptionList: self._list,
            ParsedStatus: self._status,
            ParsedBuy: self._buy,
            ParsedSeats: self._seats,
            ParsedSwitch: self._switch,
            ParsedUpgrade: self._upgrade,
            ParsedCancel: self._cancel,
        }
        missing = set(get_args(SubscriptionCommand)) - set(self._handlers)
        if missing:
            raise RuntimeError(f"no handler for {sorted(kind.__name__ for kind in missing)}")

    def subscription_command(self, request: Request) -> None:
        parsed = parse_subscription(request.text)
        self._handlers[type(parsed)](parsed, request)

    def _help(self, parsed: ParsedHelp, request: Request) -> None:
        request.reply(help_message(parsed.command, parsed.topic))

    def _list(self, _parsed: ParsedSubscriptionList, request: Request) -> None:
        listed = self._services.licenses.queries.list_subscriptions(ListSubscriptions(request.requester))
        request.reply(subscription_list(listed))

    def _status(self, parsed: ParsedStatus, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        statuses = workflows.queries.status(requester, parsed.workflow_id or None)
        if parsed.workflow_id:
            request.reply(workflow_checklist(statuses[0]))
        else:
            request.reply(workflow_list(statuses))

    def _buy(self, parsed: ParsedBuy, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        status = workflows.starts.buy(
            BuySubscription(
                requester,
                parsed.product,
                parsed.seats,
                _payment(parsed.invoice),
                request.correlation_id,
                request.channel,
            )
        )
        _started(request, status)

    def _seats(self, parsed: ParsedSeats, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        status = workflows.starts.change_seats(
            ChangeSeats(requester, parsed.product, parsed.delta, request.correlation_id, request.channel)
        )
        _started(request, status)

    def _switch(self, parsed: ParsedSwitch, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        users = request.people.tenant_keys(parsed.targets) if parsed.targets else (EVERYONE,)
        status = workflows.starts.start_switch(
            SwitchPlans(
                requester,
                parsed.source,
                parsed.target,
                users,
                _payment(parsed.invoice),
                correlation_id=request.correlation_id,
                channel=request.channel,
            )
        )
        _started(request, status)

    def _upgrade(self, parsed: ParsedUpgrade, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        status = workflows.starts.start_upgrade(
            UpgradeFromE4(
                requester,
                parsed.target,
                parsed.source,
                _payment(parsed.invoice),
                request.correlation_id,
                request.channel,
            )
        )
        _started(request, status)

    def _cancel(self, parsed: ParsedCancel, request: Request) -> None:
        requester = request.requester
        workflows = _workflows(self._services.subscriptions)
        status = workflows.starts.request_cancel(
            CancelSubscription(requester, parsed.subscription, request.correlation_id, request.channel)
        )
        _started(request, status)


def _started(request: Request, status: WorkflowStatus) -> None:
    """A workflow's checklist is posted in the channel by the notifier; when it could not be, the
    requester gets it only to them, with where to follow it."""
    if not status.workflow.message_ts:
        request.reply(workflow_checklist(status))
        request.reply(
            cannot_post_here(
                "this checklist",
                f"is shown only to you and not kept up to date here "
                f"(`{SUBSCRIPTION_COMMAND} status {status.workflow.id}` shows where it stands)",
            ),
        )


def _workflows(subscriptions: SubscriptionWorkflows | None) -> SubscriptionWorkflows:
    if subscriptions is None:
        raise DomainError(
            "Subscription workflows are not set up in this bot.",
            f"`{SUBSCRIPTION_COMMAND} list` shows the products, seats and subscriptions.",
        )
    return subscriptions


def _payment(invoice: bool) -> PaymentMethod:
    return PaymentMethod.INVOICE if invoice else PaymentMethod.CARD
