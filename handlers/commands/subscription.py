"""`/subscription`: list, help, and the workflows — buy, seats, switch, upgrade, cancel, status
(DESIGN.md §3, §4).

A workflow's checklist is posted in the channel by the `SlackNotifier` and updated in place as it
moves; when it could not be posted there (a direct message, a channel without the bot), the
requester gets it as a reply only they see, with how to have it in the channel; its buttons then
answer with the checklist as it moved.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext, Respond

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
from domain.subscriptions import Subscriptions
from domain.workflows import EVERYONE, WorkflowStatus
from handlers.admission import people as people_of
from handlers.blocks import cannot_post_here, help_message, subscription_list
from handlers.blocks.workflows import workflow_checklist, workflow_list
from handlers.context import Services, correlation_id
from handlers.error_handler import acknowledge_first
from handlers.ids import SUBSCRIPTION_COMMAND
from handlers.parsing import (
    ParsedBuy,
    ParsedCancel,
    ParsedHelp,
    ParsedSeats,
    ParsedStatus,
    ParsedSubscriptionList,
    ParsedSwitch,
    ParsedUpgrade,
    parse_subscription,
)
from handlers.replies import reply

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    licensing = services.licensing

    def subscription_command(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        parsed = parse_subscription(str(command.get("text") or ""))
        if isinstance(parsed, ParsedHelp):
            reply(respond, help_message(parsed.command, parsed.topic))
            return
        people = people_of(context)
        requester = people.requester(command["user_id"])
        if isinstance(parsed, ParsedSubscriptionList):
            reply(respond, subscription_list(licensing.list_subscriptions(ListSubscriptions(requester))))
            return
        workflows = _workflows(services.subscriptions)
        if isinstance(parsed, ParsedStatus):
            statuses = workflows.status(requester, parsed.workflow_id or None)
            if parsed.workflow_id:
                reply(respond, workflow_checklist(statuses[0]))
            else:
                reply(respond, workflow_list(statuses))
            return
        channel = str(command.get("channel_id") or "")
        reference = correlation_id(context)
        status: WorkflowStatus
        if isinstance(parsed, ParsedBuy):
            status = workflows.buy(
                BuySubscription(
                    requester, parsed.product, parsed.seats, _payment(parsed.invoice), reference, channel
                )
            )
        elif isinstance(parsed, ParsedSeats):
            status = workflows.change_seats(
                ChangeSeats(requester, parsed.product, parsed.delta, reference, channel)
            )
        elif isinstance(parsed, ParsedSwitch):
            users = people.tenant_keys(parsed.targets) if parsed.targets else (EVERYONE,)
            status = workflows.start_switch(
                SwitchPlans(
                    requester,
                    parsed.source,
                    parsed.target,
                    users,
                    _payment(parsed.invoice),
                    correlation_id=reference,
                    channel=channel,
                )
            )
        elif isinstance(parsed, ParsedUpgrade):
            status = workflows.start_upgrade(
                UpgradeFromE4(
                    requester, parsed.target, parsed.source, _payment(parsed.invoice), reference, channel
                )
            )
        else:
            assert isinstance(parsed, ParsedCancel)
            status = workflows.request_cancel(
                CancelSubscription(requester, parsed.subscription, reference, channel)
            )
        if not status.workflow.message_ts:
            reply(respond, workflow_checklist(status))
            reply(
                respond,
                cannot_post_here(
                    "this checklist",
                    f"is shown only to you and not kept up to date here "
                    f"(`{SUBSCRIPTION_COMMAND} status {status.workflow.id}` shows where it stands)",
                ),
            )

    acknowledge_first(app.command(SUBSCRIPTION_COMMAND), subscription_command)


def _workflows(subscriptions: Subscriptions | None) -> Subscriptions:
    if subscriptions is None:
        raise DomainError(
            "Subscription workflows are not set up in this bot.",
            f"`{SUBSCRIPTION_COMMAND} list` shows the products, seats and subscriptions.",
        )
    return subscriptions


def _payment(invoice: bool) -> PaymentMethod:
    return PaymentMethod.INVOICE if invoice else PaymentMethod.CARD
