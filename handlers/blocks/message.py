"""A message as the builders return it, and the blocks they are made of, within Slack's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from handlers.blocks.text import (
    FALLBACK_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    clip,
    plural,
    split_lines,
)

__all__ = ["Message", "context", "divider", "header", "message", "section", "sections"]

_CONTEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Message:
    """Fallback text (notifications, screen readers) and the blocks of one message."""

    text: str
    blocks: tuple[Block, ...]

    def to_dict(self) -> dict[str, Any]:
        """`text` and `blocks` as Slack's API takes them (validated by slack_sdk's models)."""
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def message(text: str, blocks: Sequence[Block]) -> Message:
    """A message of at most 50 blocks: extra blocks are dropped with a note saying so.

    `text` is the fallback Slack shows in notifications; it is mrkdwn too, so it must already be
    escaped where it holds outside text.
    """
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        dropped = len(kept) - (MAX_BLOCKS - 1)
        kept = [*kept[: MAX_BLOCKS - 1], context(f"… and {plural(dropped, 'more part')} not shown.")]
    return Message(clip(text, FALLBACK_LIMIT) or "licensebot", tuple(kept))


def header(text: str) -> HeaderBlock:
    """A header; its text is plain, so it must not carry anything typed by people or the tenant."""
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT), emoji=True))


def section(text: str) -> SectionBlock:
    """A mrkdwn section; `text` must already be escaped where it holds outside text."""
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)))


def sections(lines: Sequence[str]) -> list[Block]:
    """Lines in as few sections as Slack's 3,000 characters per section allow."""
    return [section(chunk) for chunk in split_lines(lines, SECTION_LIMIT)]


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, _CONTEXT_LIMIT))])


def divider() -> DividerBlock:
    return DividerBlock()
