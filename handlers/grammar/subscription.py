"""`/subscription …`: buying, resizing, switching, upgrading and cancelling subscriptions, and
where the workflows doing it stand.

Parsing turns the text into a small frozen value, or raises `InvalidCommand` with the usage to
show: whatever the text, nothing else is ever raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidCommand
from domain.wording import quoted
from domain.workflows import EVERYONE
from handlers.grammar.products import plain_product
from handlers.grammar.subcommands import ParsedHelp, help_topic, split_subcommand
from handlers.grammar.targets import Target, target_named
from handlers.grammar.usage import SUBSCRIPTION_USAGE, usage_text
from handlers.grammar.words import tokens, unescape
from handlers.ids import SUBSCRIPTION_COMMAND

__all__ = [
    "ParsedBuy",
    "ParsedCancel",
    "ParsedSeats",
    "ParsedStatus",
    "ParsedSubscriptionList",
    "ParsedSwitch",
    "ParsedUpgrade",
    "SubscriptionCommand",
    "parse_subscription",
]


@dataclass(frozen=True, slots=True)
class ParsedSubscriptionList:
    """`/subscription list`."""


@dataclass(frozen=True, slots=True)
class ParsedBuy:
    """`/subscription buy PRODUCT SEATS [invoice]`."""

    product: str
    seats: int
    invoice: bool = False


@dataclass(frozen=True, slots=True)
class ParsedSeats:
    """`/subscription seats PRODUCT +N|-N`."""

    product: str
    delta: int


@dataclass(frozen=True, slots=True)
class ParsedSwitch:
    """`/subscription switch FROM TO [@users… | has:PRODUCT | all] [invoice]`: no targets is everyone."""

    source: str
    target: str
    targets: tuple[Target, ...] = ()
    invoice: bool = False


@dataclass(frozen=True, slots=True)
class ParsedUpgrade:
    """`/subscription upgrade E4 TO [invoice]`."""

    source: str
    target: str
    invoice: bool = False


@dataclass(frozen=True, slots=True)
class ParsedCancel:
    """`/subscription cancel PRODUCT|SUBSCRIPTION-ID`."""

    subscription: str


@dataclass(frozen=True, slots=True)
class ParsedStatus:
    """`/subscription status [WORKFLOW]`."""

    workflow_id: str = ""


SubscriptionCommand = (
    ParsedSubscriptionList
    | ParsedHelp
    | ParsedBuy
    | ParsedSeats
    | ParsedSwitch
    | ParsedUpgrade
    | ParsedCancel
    | ParsedStatus
)


# Subcommands DESIGN.md names that this version does not offer yet: refused honestly, not guessed at.
_SUBSCRIPTION_LATER = {
    name: f"`{SUBSCRIPTION_COMMAND} list` shows the products, seats and subscriptions." for name in ("show",)
}
_INVOICE = "invoice"
_SEATS_DELTA = re.compile(r"[+-]\d{1,6}")
_WORKFLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def parse_subscription(text: str) -> SubscriptionCommand:
    """`/subscription …` text → what was asked for; `InvalidCommand` with the usage otherwise."""
    words = tokens(text, SUBSCRIPTION_COMMAND)
    if not words:
        return ParsedHelp(SUBSCRIPTION_COMMAND)
    subcommand, rest = split_subcommand(words, SUBSCRIPTION_COMMAND, SUBSCRIPTION_USAGE, _SUBSCRIPTION_LATER)
    if subcommand == "help":
        return ParsedHelp(SUBSCRIPTION_COMMAND, help_topic(rest, SUBSCRIPTION_COMMAND, SUBSCRIPTION_USAGE))
    words = [unescape(word) if not word.startswith("<") else word for word in rest]
    if subcommand == "buy":
        return _parse_buy(words)
    if subcommand == "seats":
        return _parse_seats(words)
    if subcommand == "switch":
        return _parse_switch(words)
    if subcommand == "upgrade":
        return _parse_upgrade(words)
    if subcommand == "cancel":
        return _parse_cancel(words)
    if subcommand == "status":
        return _parse_status(words)
    if rest:
        raise InvalidCommand(
            f"`{SUBSCRIPTION_COMMAND} list` takes nothing after it.",
            usage_text(SUBSCRIPTION_COMMAND, "list"),
        )
    return ParsedSubscriptionList()


def _invoice(words: list[str]) -> tuple[list[str], bool]:
    """Words without a trailing `invoice`, and whether it was there."""
    if words and words[-1].casefold() == _INVOICE:
        return words[:-1], True
    return words, False


def _parse_buy(words: list[str]) -> ParsedBuy:
    usage = usage_text(SUBSCRIPTION_COMMAND, "buy")
    words, invoice = _invoice(words)
    if len(words) < 2:
        raise InvalidCommand("Say which product and how many licenses to buy.", usage)
    *product_words, count = words
    if not count.isdigit():
        raise InvalidCommand(
            f"{quoted(count)} is not a number of licenses.", usage, "For example `buy E5 10`."
        )
    seats = int(count)
    if not 1 <= seats <= 1_000_000:
        raise InvalidCommand(f"Buy between 1 and 1,000,000 licenses, not {seats:,}.", usage)
    product = " ".join(plain_product(w, usage) for w in product_words)
    return ParsedBuy(product, seats, invoice)


def _parse_seats(words: list[str]) -> ParsedSeats:
    usage = usage_text(SUBSCRIPTION_COMMAND, "seats")
    if len(words) < 2:
        raise InvalidCommand("Say which product and how many licenses to add (+5) or remove (-3).", usage)
    *product_words, change = words
    if not _SEATS_DELTA.fullmatch(change) or int(change) == 0:
        raise InvalidCommand(
            f"{quoted(change)} is not a change of licenses.",
            usage,
            "Write +5 to add five, -3 to remove three.",
        )
    product = " ".join(plain_product(w, usage) for w in product_words)
    return ParsedSeats(product, int(change))


def _parse_switch(words: list[str]) -> ParsedSwitch:
    usage = usage_text(SUBSCRIPTION_COMMAND, "switch")
    words, invoice = _invoice(words)
    if len(words) < 2:
        raise InvalidCommand("Say which plan to switch from and which to switch to.", usage)
    source, target = (plain_product(w, usage) for w in words[:2])
    rest = words[2:]
    if len(rest) == 1 and rest[0].casefold() == EVERYONE:
        return ParsedSwitch(source, target, (), invoice)
    targets: list[Target] = []
    for word in rest:
        found = target_named(word, usage)
        if found is None:
            raise InvalidCommand(
                f"{quoted(word)} is not a user.",
                usage,
                "Name users after the two products (@alice, alice@contoso.com, has:E3), or `all`.",
            )
        targets.append(found)
    return ParsedSwitch(source, target, tuple(targets), invoice)


def _parse_upgrade(words: list[str]) -> ParsedUpgrade:
    usage = usage_text(SUBSCRIPTION_COMMAND, "upgrade")
    words, invoice = _invoice(words)
    if len(words) != 2:
        raise InvalidCommand("Say the plan to upgrade from (E4) and the plan to upgrade to.", usage)
    source, target = (plain_product(w, usage) for w in words)
    return ParsedUpgrade(source, target, invoice)


def _parse_cancel(words: list[str]) -> ParsedCancel:
    usage = usage_text(SUBSCRIPTION_COMMAND, "cancel")
    if not words:
        raise InvalidCommand(
            "Say which subscription to cancel: a product, or the code of one of its subscriptions.", usage
        )
    return ParsedCancel(" ".join(plain_product(w, usage) for w in words))


def _parse_status(words: list[str]) -> ParsedStatus:
    usage = usage_text(SUBSCRIPTION_COMMAND, "status")
    if len(words) > 1 or (words and not _WORKFLOW_ID.fullmatch(words[0])):
        raise InvalidCommand("`/subscription status` takes at most one workflow id.", usage)
    return ParsedStatus(words[0] if words else "")
