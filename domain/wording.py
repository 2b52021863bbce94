"""How counts and quoted input read in a sentence an admin sees: "1 license", "3 licenses",
"2 people"; what someone typed in quotes as they typed it, with invisible characters named."""

from __future__ import annotations

import unicodedata

__all__ = ["plural", "quoted"]


def plural(count: int, one: str, many: str | None = None) -> str:
    """`count` with the noun in the right number (`many` when adding an "s" is wrong)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def quoted(text: str) -> str:
    """“rep[U+200B]lace”: what someone typed, in quotes, with every character that does not show
    (zero-width, direction and control characters) named by its code point."""
    return "“" + "".join(_shown(char) for char in text) + "”"


def _shown(char: str) -> str:
    if char == " ":
        return char
    if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn"}:
        return f"[U+{ord(char):04X}]"
    return char
