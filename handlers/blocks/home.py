"""App Home: subscriptions with a seat-use bar, products running out, the workflow sections when the
workflow part of licensebot provides them, and the requester's recent changes from the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from domain.application.results import HomeOverview
from domain.audit import AuditEntry, AuditResult
from domain.catalog import COMMON_PRODUCTS, short_name
from domain.model import Group, Product, Subscription, SubscriptionStatus
from handlers.blocks.message import Message, context, divider, header, section, sections
from handlers.blocks.text import (
    VIEW_MAX_BLOCKS,
    bar,
    clip,
    escape,
    plural,
    short_alias,
    shorten_list,
    through_groups,
)
from handlers.context import HomeItem, WorkflowSections

__all__ = ["NEAR_EXHAUSTION", "app_home", "home_notice"]

NEAR_EXHAUSTION = 0.9
"""A product with at least this share of its seats in use is "running out"."""

_SHOWN_PRODUCTS = 40
_SHOWN_ITEMS = 15
_SHOWN_CHANGES = 10
_LINE_LIMIT = 900


def app_home(overview: HomeOverview, workflows: WorkflowSections | None, now: datetime) -> View:
    """The requester's App Home; the workflow sections appear only when `workflows` is given."""
    user = overview.requester.user
    roles = ", ".join(sorted(role.value for role in overview.requester.roles)) or "no admin role"
    blocks: list[Block] = [
        header("licensebot"),
        section(
            f"*{escape(user.display_name)}* · {escape(roles)}\n"
            "Type `/license` for a form, `/license help` for every command, or "
            "`/subscription list` for the subscriptions."
        ),
        divider(),
    ]
    blocks += _subscriptions(overview.products, overview.subscriptions, overview.groups)
    blocks += _running_out(overview.products)
    if workflows is not None:
        blocks += _items("Workflows in flight", workflows.in_flight, "Nothing is in flight.")
        blocks += _items("Waiting on me", workflows.waiting_on_me, "Nothing is waiting on you.")
    blocks += _recent(overview.recent, {p.part_number: p.display_name for p in overview.products})
    blocks.append(context(f"Updated {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC, when you opened this tab."))
    return _home(blocks)


def home_notice(notice: Message) -> View:
    """App Home for someone it cannot show the overview to (no admin role, unknown in the tenant)."""
    return _home([header("licensebot"), *notice.blocks])


def _home(blocks: list[Block]) -> View:
    if len(blocks) > VIEW_MAX_BLOCKS:
        dropped = len(blocks) - (VIEW_MAX_BLOCKS - 1)
        blocks = [*blocks[: VIEW_MAX_BLOCKS - 1], context(f"… and {plural(dropped, 'more part')} not shown.")]
    return View(type="home", blocks=blocks)


def _subscriptions(
    products: Sequence[Product], subscriptions: Sequence[Subscription], groups: Sequence[Group] = ()
) -> list[Block]:
    by_sku: dict[str, list[Subscription]] = {}
    for subscription in subscriptions:
        by_sku.setdefault(subscription.sku_id, []).append(subscription)
    ordered = sorted(products, key=lambda p: p.display_name.casefold())
    if not ordered:
        return [section("*Subscriptions*\nThe tenant has no products yet.")]
    lines = [_product_line(product, by_sku.get(product.sku_id, []), groups) for product in ordered]
    return sections(["*Subscriptions*", *shorten_list(lines, _SHOWN_PRODUCTS, "… and {n} more products")])


def _product_line(
    product: Product, subscriptions: Sequence[Subscription], groups: Sequence[Group] = ()
) -> str:
    seats = product.seats
    usage = (
        f"`{bar(seats.consumed, seats.enabled)}` {seats.consumed:,} of {seats.enabled:,} used"
        f" · {seats.available:,} free"
    )
    statuses: dict[SubscriptionStatus, int] = {}
    for subscription in subscriptions:
        statuses[subscription.status] = statuses.get(subscription.status, 0) + 1
    status = ", ".join(f"{count} {state.label.lower()}" for state, count in statuses.items())
    name = f"*{escape(product.display_name)}*{short_alias(product.part_number, product.display_name)}"
    line = f"{name}\n{usage}"
    if status:
        line += f" · {plural(len(subscriptions), 'subscription')}: {status}"
    given = through_groups(product.sku_id, groups)
    if given:
        line += f"\n{given}"
    return clip(line, _LINE_LIMIT)


def _share(product: Product) -> float:
    seats = product.seats
    if seats.enabled <= 0:
        return 1.0 if seats.consumed > 0 else 0.0
    return seats.consumed / seats.enabled


def _running_out(products: Sequence[Product]) -> list[Block]:
    tight = sorted(
        (p for p in products if p.assignable_to_users and _share(p) >= NEAR_EXHAUSTION),
        key=lambda p: (-_share(p), p.display_name.casefold()),
    )
    title = f"*Running out* (at least {NEAR_EXHAUSTION:.0%} of the seats in use)"
    if not tight:
        return [section(f"{title}\nNo product is that full.")]
    lines = [
        clip(
            f":warning: *{escape(p.display_name)}*: {p.seats.available:,} free of {p.seats.enabled:,} "
            f"({_share(p):.0%} used). Add seats with "
            f"`/subscription seats {escape(short_name(p.part_number, p.display_name))} +N`.",
            _LINE_LIMIT,
        )
        for p in tight
    ]
    return sections([title, *shorten_list(lines, _SHOWN_PRODUCTS, "… and {n} more")])


def _items(title: str, items: Sequence[HomeItem], empty: str) -> list[Block]:
    if not items:
        return [divider(), section(f"*{title}*\n{empty}")]
    lines = [
        clip(
            f"• *{escape(item.title)}*" + (f"\n    {escape(item.detail)}" if item.detail else ""), _LINE_LIMIT
        )
        for item in items
    ]
    return [divider(), *sections([f"*{title}* ({len(items):,})", *shorten_list(lines, _SHOWN_ITEMS)])]


_LICENSE_SENTENCES = {
    "assign": ("Give {product} to {people}", "Gave {product} to {people}"),
    "replace": (
        "Replace the licenses of {people} with {product}",
        "Replaced the licenses of {people} with {product}",
    ),
    "remove": ("Remove {product} from {people}", "Removed {product} from {people}"),
    "services": (
        "Change the services of {product} for {people}",
        "Changed the services of {product} for {people}",
    ),
    "undo": ("Undo a change for {people}", "Undid a change for {people}"),
}
"""What a license change did (once something was applied), or was asked to do."""
_WORKFLOW_SENTENCES = {
    "purchase": "Buy {product}",
    "seats": "Change the number of {product} licenses",
    "switch": "Switch plans to {product}",
    "upgrade": "Upgrade to {product}",
    "cancel": "Cancel a {product} subscription",
}


@dataclass
class _Change:
    """The audit entries of one change set or workflow (or one entry of its own), newest first."""

    names: dict[str, str]
    entries: list[AuditEntry] = field(default_factory=list)

    def line(self) -> str:
        first = self.entries[-1]
        newest = self.entries[0]
        requested = next((e for e in self.entries if e.result is AuditResult.REQUESTED), first)
        results = [e.result for e in self.entries]
        applied = results.count(AuditResult.APPLIED)
        failed = results.count(AuditResult.FAILED)
        parts = [self._sentence(requested, done=applied > 0)]
        if "workflow_id" in newest.details:
            parts.append(str(newest.details.get("state", "")).replace("_", " "))
        elif AuditResult.REFUSED in results:
            parts.append(f"refused: {first.reason}")
        elif AuditResult.CANCELLED in results:
            parts.append("cancelled")
        elif applied or failed:
            parts.append(f"{applied:,} applied" + (f", {failed:,} failed" if failed else ""))
        else:
            parts.append("waiting for confirmation")
        parts.append(f"{first.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        return clip("• " + escape(" · ".join(p for p in parts if p)), _LINE_LIMIT)

    def _product(self, part: str) -> str:
        known = COMMON_PRODUCTS.get(part)
        return self.names.get(part) or (known.display_name if known else part)

    def _sentence(self, entry: AuditEntry, *, done: bool) -> str:
        """What was done, as a sentence: "Replaced the licenses of 2 people with Office 365 E5"."""
        kind, _, rest = entry.action.partition(" ")
        if "workflow_id" in entry.details:
            kind = entry.action.partition(":")[0]
            part = entry.target.partition(" ")[0]
            pattern = _WORKFLOW_SENTENCES.get(kind)
            return pattern.format(product=self._product(part)) if pattern else entry.action
        users = entry.details.get("users")
        patterns = _LICENSE_SENTENCES.get(kind)
        if patterns is None or not isinstance(users, int):
            return entry.action[:1].upper() + entry.action[1:]
        return patterns[done].format(product=self._product(rest), people=plural(users, "person", "people"))


def _recent(entries: Sequence[AuditEntry], names: dict[str, str]) -> list[Block]:
    changes: dict[str, _Change] = {}
    for number, entry in enumerate(entries):
        key = str(entry.details.get("workflow_id") or entry.change_set_id or f"entry-{number}")
        changes.setdefault(key, _Change(names)).entries.append(entry)
    lines = [change.line() for change in list(changes.values())[:_SHOWN_CHANGES]]
    if not lines:
        return [divider(), section("*My recent changes*\nNone yet.")]
    return [divider(), *sections(["*My recent changes* (from the audit log)", *lines])]
