"""`/subscription list`: per product, seats used of total with a bar, and its subscriptions' status (R9)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from domain.application.results import SubscriptionOverview
from domain.catalog import COMMON_PRODUCTS
from domain.model import Group, Product, Subscription, SubscriptionStatus
from handlers.blocks.message import Message, context, header, message, section, sections
from handlers.blocks.text import bar, clip, escape, plural, short_alias, shorten_list, through_groups

__all__ = ["subscription_list"]

_LINE_LIMIT = 1200
_SHOWN_PRODUCTS = 60
_SHOWN_SUBSCRIPTIONS = 6


def subscription_list(overview: SubscriptionOverview) -> Message:
    by_sku: dict[str, list[Subscription]] = defaultdict(list)
    for subscription in overview.subscriptions:
        by_sku[subscription.sku_id].append(subscription)
    products = sorted(overview.products, key=lambda p: p.display_name.casefold())
    blocks: list[Block] = [header("Subscriptions")]
    if not products and not overview.subscriptions:
        blocks.append(section("The tenant has no products or subscriptions yet."))
    lines = [_product(product, by_sku.pop(product.sku_id, []), overview.groups) for product in products]
    blocks += sections(shorten_list(lines, _SHOWN_PRODUCTS, "… and {n} more products"))
    unlisted = [s for subs in by_sku.values() for s in subs]
    if unlisted:
        pending = [f"• {escape(_name(s.part_number))}: {_subscription(s)}" for s in unlisted]
        blocks += sections(["*Bought, not listed as a product yet*", *shorten_list(pending, _SHOWN_PRODUCTS)])
    blocks.append(context("Free = enabled seats − seats in use, over all subscriptions of the product."))
    summary = f"{plural(len(products), 'product')}, {plural(len(overview.subscriptions), 'subscription')}"
    return message(summary, blocks)


def _product(product: Product, subscriptions: list[Subscription], groups: Sequence[Group] = ()) -> str:
    seats = product.seats
    lines = [f"*{escape(product.display_name)}*{short_alias(product.part_number, product.display_name)}"]
    usage = f"`{bar(seats.consumed, seats.enabled)}` {seats.consumed:,} of {seats.enabled:,} used"
    usage += f" · {seats.available:,} free"
    if seats.consumed > seats.enabled:
        usage += f" · :warning: {seats.consumed - seats.enabled:,} more in use than bought"
    lines.append(usage)
    given = through_groups(product.sku_id, groups)
    if given:
        lines.append(given)
    status = SubscriptionStatus(product.capability_status.value)
    if status is not SubscriptionStatus.ENABLED:
        lines.append(f"Status: *{status.label}*")
    if not product.assignable_to_users:
        lines.append(f"Applies to the {escape(product.applies_to.lower())}, not to users.")
    shown = [f"    {_subscription(s)}" for s in subscriptions]
    lines += shorten_list(shown, _SHOWN_SUBSCRIPTIONS, "    … and {n} more subscriptions")
    return clip("\n".join(lines), _LINE_LIMIT)


def _name(part_number: str) -> str:
    """A product the tenant does not list yet, by the name Microsoft's table gives it."""
    known = COMMON_PRODUCTS.get(part_number)
    return known.display_name if known else part_number


def _subscription(subscription: Subscription) -> str:
    parts = [subscription.status.label, plural(subscription.total_licenses, "seat")]
    if subscription.is_trial:
        parts.append("trial")
    if subscription.next_lifecycle is not None:
        parts.append(f"next change {subscription.next_lifecycle:%Y-%m-%d}")
    return " · ".join(parts)
