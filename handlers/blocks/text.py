"""Text for Block Kit: escaping, Slack's length limits, and a few small formats.

Every piece of text that comes from a person or from the tenant (display names, product names,
reasons, what was typed) goes through `escape` before it is put into mrkdwn, so `<!channel>` in a
display name shows as text instead of notifying a channel (DESIGN.md §3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.catalog import short_name
from domain.model import Group

__all__ = [
    "BUTTON_TEXT_LIMIT",
    "CHECKBOX_OPTIONS_LIMIT",
    "CONFIRM_TEXT_LIMIT",
    "FALLBACK_LIMIT",
    "HEADER_LIMIT",
    "MAX_BLOCKS",
    "METADATA_LIMIT",
    "OPTION_TEXT_LIMIT",
    "SECTION_LIMIT",
    "SELECT_OPTIONS_LIMIT",
    "VIEW_MAX_BLOCKS",
    "VIEW_TITLE_LIMIT",
    "bar",
    "clip",
    "code",
    "escape",
    "plain",
    "plural",
    "short_alias",
    "shorten_list",
    "split_lines",
    "through_groups",
]

MAX_BLOCKS = 50
"""Blocks in one message."""
SECTION_LIMIT = 3000
"""Characters in a section's text."""
HEADER_LIMIT = 150
"""Characters in a header's plain text."""
BUTTON_TEXT_LIMIT = 75
"""Characters in a button's text."""
CONFIRM_TEXT_LIMIT = 300
"""Characters in a confirmation dialog's text."""
FALLBACK_LIMIT = 3000
"""Characters kept in a message's fallback `text` (notifications, screen readers)."""
VIEW_MAX_BLOCKS = 100
"""Blocks in a modal or App Home."""
VIEW_TITLE_LIMIT = 24
"""Characters in a modal's title, submit and close texts."""
OPTION_TEXT_LIMIT = 75
"""Characters in an option's text (selects, radio buttons, checkboxes)."""
CHECKBOX_OPTIONS_LIMIT = 10
"""Options in one checkbox group."""
SELECT_OPTIONS_LIMIT = 100
"""Options in one static select."""
METADATA_LIMIT = 3000
"""Characters in a view's `private_metadata`."""

_ELLIPSIS = "…"


def escape(text: str) -> str:
    """Slack's three control characters as entities: `&` first, so nothing is escaped twice."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Outside text for a `plain_text` object (option labels, titles): Slack shows it as typed and
    parses no markup there, but angle brackets are turned into look-alikes anyway, so that no payload
    licensebot sends ever holds a live-looking `<!channel>`, whatever renders it."""
    return text.replace("<", "‹").replace(">", "›")


def clip(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis; never cuts inside an escape entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(_ELLIPSIS), 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + _ELLIPSIS


def code(text: str) -> str:
    """Inline code for something the admin can type; escaped, and backticks cannot close it early."""
    return "`" + escape(text).replace("`", "'") + "`"


def short_alias(part_number: str, display_name: str) -> str:
    """` (E5)` after a product's display name when a shorter name can be typed for it, else nothing:
    products are shown by name; the part number is for machines and the CSV files."""
    short = short_name(part_number, display_name)
    return f" ({escape(short)})" if short != display_name else ""


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def bar(used: int, total: int, width: int = 10) -> str:
    """A text bar of seat use: `▰▰▰▱▱▱▱▱▱▱` (full when more are used than there are)."""
    if total <= 0:
        filled = width if used > 0 else 0
    else:
        filled = min(width, round(width * used / total))
        if used > 0 and filled == 0:
            filled = 1
    return "▰" * filled + "▱" * (width - filled)


_ONE_MORE = re.compile(r"\b(1 more (?:user|license|product|subscription))s\b")
"""… and 1 more user: the `more` texts are written for many."""


def shorten_list(lines: Sequence[str], shown: int, more: str = "and {n} more") -> list[str]:
    """The first `shown` lines, then "and N more" when there are others."""
    if len(lines) <= shown:
        return list(lines)
    rest = more.format(n=f"{len(lines) - shown:,}")
    return [*lines[:shown], _ONE_MORE.sub(lambda m: m.group(1), rest)]


def split_lines(lines: Sequence[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Lines joined into as few texts of at most `limit` characters as possible."""
    chunks: list[str] = []
    current = ""
    for raw in lines:
        line = clip(raw, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def through_groups(sku_id: str, groups: Sequence[Group]) -> str:
    """`Through groups: All Staff E3 (4 members)`: the groups that give a product, whose members
    each take a seat of it (R21); "" when none does."""
    giving = [group for group in groups if group.license_for(sku_id) is not None]
    if not giving:
        return ""
    named = [
        escape(group.display_name)
        + (f" ({plural(group.member_count, 'member')})" if group.member_count is not None else "")
        for group in giving[:5]
    ]
    more = f" and {len(giving) - 5:,} more" if len(giving) > 5 else ""
    return "Through groups: " + ", ".join(named) + more
