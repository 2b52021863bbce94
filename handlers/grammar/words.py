"""Command text into words: its length and characters checked, Slack's escaping taken off.

Slack sends the text with `&`, `<` and `>` escaped; a word is a piece of Slack markup (`<…>`), a
quoted `group:"NAME"`, or a run of other characters.
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import InvalidCommand
from handlers.grammar.usage import usage_text

__all__ = [
    "MAX_TEXT_LENGTH",
    "check_characters",
    "control_character_in",
    "tokens",
    "unescape",
]

MAX_TEXT_LENGTH = 3000
"""Longer command text is refused before it is looked at (a slash command holds about 4,000)."""


_TOKEN = re.compile(r"(?i:group:)(?:\"[^\"<>]*\"|\u201c[^\u201d<>]*\u201d)|<[^<>]*>|[^\s<>]+|[<>]")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def tokens(text: str, command: str) -> list[str]:
    """The words of a command's text; `InvalidCommand` for text too long or with an invisible
    control character."""
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidCommand(
            f"That command is too long ({len(text):,} characters; at most {MAX_TEXT_LENGTH:,}).",
            usage_text(command),
            "Split it into several commands, or use a user group or has:PRODUCT for many users.",
        )
    check_characters(text, command)
    return _TOKEN.findall(text)


def check_characters(text: str, command: str) -> None:
    """`InvalidCommand` when the text of `command` holds an invisible control character or a
    direction override (what a paste can bring along, and no database should store)."""
    for char in text:
        if char in _BIDI_CONTROLS or control_character_in(char):
            raise InvalidCommand(
                f"The command contains an invisible control character (U+{ord(char):04X}).",
                usage_text(command),
                "Type the command again without pasting it from elsewhere.",
            )


def control_character_in(text: str) -> str | None:
    """The first control character of `text` (C0, DEL or C1) other than tab, newline and carriage
    return; None when there is none."""
    for char in text:
        if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
            return char
    return None


def unescape(text: str) -> str:
    """The text with Slack's escaping of `&`, `<` and `>` taken off."""
    # Slack escapes exactly these three; "&amp;" last so "&amp;lt;" stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
