"""Help for `/license` and `/subscription`: every form with what it does and examples."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from handlers.blocks.message import Message, context, divider, header, message, section
from handlers.blocks.text import code, escape
from handlers.grammar.usage import LICENSE_USAGE, SUBSCRIPTION_USAGE, Usage
from handlers.ids import LICENSE_COMMAND

__all__ = ["help_message"]

_TITLES = {
    LICENSE_COMMAND: "/license: Microsoft 365 licenses",
}
_SUBSCRIPTION_TITLE = "/subscription: Microsoft 365 subscriptions"
_LICENSE_NOTES = (
    "`/license` alone opens a form. Users are @mentions, @user-groups, email addresses or user "
    "principal names, or `has:PRODUCT` for everyone who holds a product. Products are short names "
    "(E3, E5), part numbers (ENTERPRISEPACK) or full names (Office 365 E5). Replace and remove show "
    "a preview to confirm; nothing changes until you press Confirm. A change for more than a few "
    "people is posted in the channel and updated as it goes, with the full list as a CSV in its "
    "thread; its result offers to retry the failed ones and to undo it for a while."
)


def help_message(command: str, topic: str = "") -> Message:
    """Help for one form of a command (`topic`), or for all of them."""
    table = LICENSE_USAGE if command == LICENSE_COMMAND else SUBSCRIPTION_USAGE
    forms = {topic: table[topic]} if topic in table else table
    title = _TITLES.get(command, _SUBSCRIPTION_TITLE)
    blocks: list[Block] = [header(title)]
    blocks.extend(section(_form(usage)) for usage in forms.values())
    if command == LICENSE_COMMAND:
        blocks += [divider(), context(_LICENSE_NOTES)]
    return message(f"{title}: {', '.join(forms)}", blocks)


def _form(usage: Usage) -> str:
    lines = [f"*{code(usage.syntax)}*", escape(usage.summary)]
    if usage.examples:
        lines.append("Examples: " + "  ".join(code(example) for example in usage.examples))
    return "\n".join(lines)
