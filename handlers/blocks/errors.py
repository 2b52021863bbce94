"""Refusals, usage errors, notices and the generic failure, as messages.

The explanation and the fix come from the domain error (STYLE.md habit 6); they are escaped here
because they quote what people typed and what the tenant holds.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from domain.errors import ChangeNotPending, DomainError, InvalidCommand
from handlers.blocks.message import Message, context, message, section
from handlers.blocks.text import escape

__all__ = ["domain_error", "internal_error", "not_pending", "usage_error"]


def usage_error(error: InvalidCommand) -> Message:
    """What was wrong with the command text, the fix, and the usage to follow."""
    lines = [f":warning: *{escape(error.problem)}*"]
    if error.fix:
        lines.append(escape(error.fix))
    blocks = [section("\n".join(lines))]
    if error.usage:
        blocks.append(section("*Usage*\n```" + escape(error.usage) + "```"))
    return message(escape(error.message), blocks)


def domain_error(error: DomainError) -> Message:
    """A refusal: the problem, how to fix it, and the rule (R1…R20) it comes from."""
    if isinstance(error, InvalidCommand):
        return usage_error(error)
    lines = [f":no_entry: *{escape(error.problem)}*"]
    if error.fix:
        lines.append(escape(error.fix))
    blocks: list[Block] = [section("\n".join(lines))]
    if error.rule:
        blocks.append(context(f"Rule {escape(error.rule)}"))
    return message(escape(error.message), blocks)


def not_pending(error: ChangeNotPending) -> Message:
    """A second click on a change that is no longer waiting: a notice, not an error."""
    lines = [f":information_source: {escape(error.problem)}"]
    if error.fix:
        lines.append(escape(error.fix))
    return message(escape(error.message), [section("\n".join(lines))])


def internal_error(reference: str) -> Message:
    """The only thing said about an unexpected failure: no exception text, a reference to find the log."""
    text = f"Something went wrong on our side; nothing was changed. Reference: {reference}"
    return message(
        text,
        [
            section(
                ":x: Something went wrong on our side; nothing was changed.\n"
                f"Reference: `{escape(reference)}`"
            ),
            context("Try again in a minute; if it keeps failing, give the reference to your bot admins."),
        ],
    )
