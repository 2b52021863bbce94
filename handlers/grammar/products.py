"""Products as typed, and the services a change turns off (`without SERVICE, …`)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from domain.changes import ChangeKind
from domain.errors import InvalidCommand
from domain.wording import quoted
from handlers.grammar.words import unescape

__all__ = [
    "WITHOUT",
    "misspelled_without",
    "plain_product",
    "turned_off_services",
]

WITHOUT = "without"
_TYPO_CUTOFF = 0.8


def plain_product(word: str, usage: str) -> str:
    """A word of a product's name; `InvalidCommand` for Slack markup or an address."""
    if word.startswith("<") or "@" in word:
        raise InvalidCommand(
            f"{quoted(word)} is not a product.", usage, "Name a product: E3, E5, Office 365 E5."
        )
    return word


def misspelled_without(word: str) -> bool:
    """`withot`, `witout`, `wihtout`: no product name has a word this close to `without`."""
    plain = unescape(word).casefold()
    return plain != WITHOUT and difflib.SequenceMatcher(None, plain, WITHOUT).ratio() >= _TYPO_CUTOFF


def turned_off_services(kind: ChangeKind, words: Sequence[str], usage: str) -> list[str]:
    """The services named after `without` (`Sway, Teams`), each once."""
    if kind is ChangeKind.REMOVE:
        raise InvalidCommand(
            "`without` goes with assign and replace: removing a license removes all its services.",
            usage,
        )
    for word in words:
        if word.startswith("<"):
            raise InvalidCommand(
                f"{quoted(word)} is not a service name.", usage, "Name services: Sway, Teams."
            )
    names = " ".join(unescape(word) for word in words).split(",")
    services = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not services:
        raise InvalidCommand(
            "Say which services to turn off after `without`.",
            usage,
            "For example: `without Sway, Teams`.",
        )
    return services
