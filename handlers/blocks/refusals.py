"""Refusals, usage errors, notices and the generic failure, as messages.

The explanation and the fix come from the domain error (STYLE.md habit 6); they are escaped here
because they quote what people typed and what the tenant holds.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from domain.errors import ChangeNotPending, DomainError, InvalidCommand
from handlers.blocks.message import Message, context, message, section
from handlers.blocks.text import escape

__all__ = ["cannot_post_here", "domain_error", "internal_error", "not_pending", "usage_error"]


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
    """A refusal: the problem and how to fix it (the rule it comes from stays in the audit)."""
    if isinstance(error, InvalidCommand):
        return usage_error(error)
    lines = [f":no_entry: *{escape(error.problem)}*"]
    if error.fix:
        lines.append(escape(error.fix))
    blocks: list[Block] = [section("\n".join(lines))]
    if error.learn is not None:
        title, address = error.learn
        blocks.append(context(f"From Microsoft Learn: <{address}|{escape(title)}>"))
    return message(escape(error.message), blocks)


def not_pending(error: ChangeNotPending) -> Message:
    """A second click on a change that is no longer waiting: a notice, not an error."""
    lines = [f":information_source: {escape(error.problem)}"]
    if error.fix:
        lines.append(escape(error.fix))
    return message(escape(error.message), [section("\n".join(lines))])


def cannot_post_here(what: str, instead: str, reason: str = "") -> Message:
    """Slack refused licensebot a post in the channel (it is not a member, or cannot see the
    channel): what went elsewhere, and how to have it here. `reason` is Slack's error code."""
    why = f" (Slack: `{escape(reason)}`)" if reason else ""
    return message(
        f"licensebot cannot post in this channel, so {escape(what)} {escape(instead)}.",
        [
            section(
                f":information_source: licensebot cannot post in this channel{why}, "
                f"so {escape(what)} {escape(instead)}."
            ),
            context(
                "To have it here, invite licensebot to the channel (`/invite @licensebot`) or use a "
                "channel it is in."
            ),
        ],
    )


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
