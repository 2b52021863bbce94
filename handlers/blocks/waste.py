"""Waste (R22): the reclaim notice, the license report's message and the renewal alert."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
    PlainTextObject,
)

from domain.application.waste import InactiveAccount, ReclaimPlan
from domain.waste import RenewalAlert, renewal_text
from handlers.blocks.message import Message, context, message, section
from handlers.blocks.text import escape, plural
from handlers.ids import RENEWAL_ACTIONS_BLOCK, RENEWAL_NOT_NOW, RENEWAL_REDUCE

__all__ = [
    "parse_renewal_value",
    "reclaim_notice",
    "renewal_answered",
    "renewal_message",
    "renewal_value",
    "report_attached",
    "report_comment",
    "report_failed",
    "report_preparing",
]

_SEPARATOR = "|"
SHOWN_INACTIVE = 10
"""Inactive accounts named, with why, next to a reclaim preview (the rest are counted)."""


def reclaim_notice(plan: ReclaimPlan) -> Message | None:
    """Said next to a reclaim preview: what the freed seats cost (with `PRICES_FILE`), and why
    inactive accounts are left out when sign-ins could not be read (None: nothing to add)."""
    lines: list[str] = []
    if plan.freed_monthly:
        lines.append(f":moneybag: The seats this frees cost {escape(plan.freed_monthly)}.")
    if plan.inactive_accounts:
        why = [_inactive_line(account) for account in plan.inactive_accounts]
        lines.append(
            f":zzz: Not signed in for {plan.inactive_days} days or more: "
            + ", ".join(why[:SHOWN_INACTIVE])
            + (f" and {len(why) - SHOWN_INACTIVE:,} more" if len(why) > SHOWN_INACTIVE else "")
            + "."
        )
    unavailable = plan.sign_ins_unavailable
    if unavailable is not None:
        lines.append(
            f":information_source: Only disabled accounts are in this preview "
            f"({plural(plan.disabled, 'account')}): {escape(unavailable.problem)} {escape(unavailable.fix)}"
        )
    if not lines:
        return None
    text = "\n".join(lines)
    return message(text, [section(text)])


def _inactive_line(account: InactiveAccount) -> str:
    if account.days_since_sign_in is not None:
        return f"{escape(account.name)} (last signed in {plural(account.days_since_sign_in, 'day')} ago)"
    age = f", account {plural(account.account_age_days, 'day')} old" if account.account_age_days else ""
    return f"{escape(account.name)} (never signed in{age})"


def report_preparing(scope: str) -> Message:
    text = f"Preparing the license report of {escape(scope)}…"
    return message(text, [section(f":hourglass_flowing_sand: {text}")])


def report_failed(scope: str) -> Message:
    text = f"The license report of {escape(scope)} could not be finished: the reason is in your reply."
    return message(text, [section(f":x: {text}")])


def report_comment(scope: str, users: int) -> str:
    """The comment of the report's CSV file."""
    return f"License report: {plural(users, 'user')} ({escape(scope)})."


def report_attached(scope: str, users: int, products: int) -> Message:
    """The message the report's CSV is attached under, in its thread."""
    text = f"License report of {escape(scope)}: {plural(users, 'user')}, {plural(products, 'product')}."
    return message(
        text,
        [
            section(f":page_facing_up: *License report* of {escape(scope)}: {plural(users, 'user')}."),
            context(
                "One row per user: name, user principal name, enabled, usage location, then a column per "
                "product (direct when assigned to the user) with the services turned off."
            ),
        ],
    )


def renewal_value(alert: RenewalAlert) -> str:
    """What the Reduce button carries: the product, the seats to remove and the alert's key (which
    names the subscription)."""
    delta = alert.reduce_to - alert.subscription.total_licenses
    return _SEPARATOR.join((alert.subscription.sku_id, str(delta), alert.key))


def parse_renewal_value(value: str) -> tuple[str, int, str, str] | None:
    """(sku id, seat change, alert key, subscription id), or None for a value no alert made."""
    sku, _, rest = value.partition(_SEPARATOR)
    delta, _, key = rest.partition(_SEPARATOR)
    if not sku or not key.startswith("renewal:") or not delta.startswith("-") or not delta[1:].isdigit():
        return None
    subscription_id = key.split(":")[1]
    return sku, int(delta), key, subscription_id


def renewal_message(alert: RenewalAlert) -> Message:
    """The alert in the reminders channel, with the fix one click away (R22): reduce the seats at
    renewal (a tracked admin-center task on directly billed tenants), or not now."""
    text = renewal_text(alert)
    when = "in 1 day" if alert.days_left == 1 else f"in {alert.days_left} days"
    blocks: list[Block] = [
        section(f":calendar: {escape(text)}"),
        context(
            f"It renews {when}. Seats can often be reduced only at renewal: reducing now avoids paying "
            "for the unused ones for another term."
        ),
    ]
    if not alert.can_reduce:
        blocks.append(
            context(
                "Every seat is unused: to stop paying for it, cancel the subscription "
                f"(`/subscription cancel {escape(alert.subscription.part_number)}`)."
            )
        )
    blocks.append(
        ActionsBlock(
            block_id=RENEWAL_ACTIONS_BLOCK,
            elements=[
                *_reduce_button(alert),
                ButtonElement(
                    text=PlainTextObject(text="Not now"), action_id=RENEWAL_NOT_NOW, value="not-now"
                ),
            ],
        )
    )
    return message(escape(text), blocks)


def _reduce_button(alert: RenewalAlert) -> list[ButtonElement]:
    if not alert.can_reduce:
        return []
    return [
        ButtonElement(
            text=PlainTextObject(text=f"Reduce to {alert.reduce_to:,} at renewal"),
            action_id=RENEWAL_REDUCE,
            value=renewal_value(alert),
            style="primary",
            confirm=ConfirmObject(
                title=PlainTextObject(text="Reduce the seats?"),
                text=MarkdownTextObject(
                    text=f"{escape(alert.product_name)} goes from "
                    f"{alert.subscription.total_licenses:,} to {alert.reduce_to:,} licenses."
                ),
                confirm=PlainTextObject(text="Reduce"),
                deny=PlainTextObject(text="Back"),
            ),
        )
    ]


def renewal_answered(original: str, answer: str) -> Message:
    """The alert once someone answered it: its text, what was decided, no buttons."""
    return message(f"{original} {answer}", [section(f":calendar: {original}"), context(answer)])
