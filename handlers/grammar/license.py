"""`/license …`: changing users' and groups' licenses, showing them, and the changes made.

Parsing turns the text into a small frozen value, or raises `InvalidCommand` with the usage to
show: whatever the text, nothing else is ever raised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.changes import REFERENCE_LENGTH, ChangeKind
from domain.errors import InvalidCommand
from domain.wording import quoted
from handlers.grammar.products import WITHOUT, misspelled_without, turned_off_services
from handlers.grammar.subcommands import ParsedHelp, help_topic, split_subcommand
from handlers.grammar.targets import Target, TargetKind, group_name, one_person, target_named
from handlers.grammar.usage import LICENSE_USAGE, usage_text
from handlers.grammar.waste import ParsedReclaim, ParsedReport, parse_reclaim, parse_report
from handlers.grammar.words import tokens, unescape
from handlers.ids import LICENSE_COMMAND

__all__ = [
    "LicenseCommand",
    "ParsedChange",
    "ParsedChangeLookup",
    "ParsedForm",
    "ParsedGroupChange",
    "ParsedGroupShow",
    "ParsedServices",
    "ParsedShow",
    "ParsedSignOut",
    "parse_license",
]


@dataclass(frozen=True, slots=True)
class ParsedChange:
    """`/license assign|replace|remove @users… PRODUCT [without SERVICE, …]`."""

    kind: ChangeKind
    targets: tuple[Target, ...]
    product: str
    turn_off: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedGroupChange:
    """`/license assign|replace|remove group:NAME PRODUCT [without SERVICE, …]`: the group's own
    license (R21)."""

    kind: ChangeKind
    group: str
    product: str
    turn_off: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedGroupShow:
    """`/license show group:NAME`."""

    group: str


@dataclass(frozen=True, slots=True)
class ParsedShow:
    """`/license show @user`."""

    target: Target


@dataclass(frozen=True, slots=True)
class ParsedServices:
    """`/license services @user PRODUCT`: a form to turn the user's services on or off."""

    target: Target
    product: str


@dataclass(frozen=True, slots=True)
class ParsedChangeLookup:
    """`/license status REF` (`undo` False) or `/license undo REF`: a change by its reference."""

    reference: str
    undo: bool = False


@dataclass(frozen=True, slots=True)
class ParsedForm:
    """`/license` with no text: the form to fill in."""


@dataclass(frozen=True, slots=True)
class ParsedSignOut:
    """`/license signout`: forget the Microsoft sign-in of this Slack account (R24)."""


LicenseCommand = (
    ParsedChange
    | ParsedGroupChange
    | ParsedServices
    | ParsedShow
    | ParsedGroupShow
    | ParsedForm
    | ParsedHelp
    | ParsedReclaim
    | ParsedReport
    | ParsedSignOut
    | ParsedChangeLookup
)

_REFERENCE = re.compile(r"[0-9a-f]{6,32}")


def parse_license(text: str) -> LicenseCommand:
    """`/license …` text → what was asked for; `InvalidCommand` with the usage otherwise."""
    words = tokens(text, LICENSE_COMMAND)
    if not words:
        return ParsedForm()
    subcommand, rest = split_subcommand(words, LICENSE_COMMAND, LICENSE_USAGE)
    if subcommand == "help":
        return ParsedHelp(LICENSE_COMMAND, help_topic(rest, LICENSE_COMMAND, LICENSE_USAGE))
    if subcommand == "show":
        return _parse_show(rest)
    if subcommand == "services":
        return _parse_services(rest)
    if subcommand == "signout":
        if rest:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} signout` takes nothing after it.", usage_text(LICENSE_COMMAND, "signout")
            )
        return ParsedSignOut()
    if subcommand == "reclaim":
        return parse_reclaim(rest)
    if subcommand == "report":
        return parse_report(rest)
    if subcommand in {"status", "undo"}:
        return _parse_reference(subcommand, rest)
    return _parse_change(ChangeKind(subcommand), rest)


def _parse_reference(subcommand: str, rest: Sequence[str]) -> ParsedChangeLookup:
    usage = usage_text(LICENSE_COMMAND, subcommand)
    if not rest:
        raise InvalidCommand(
            "Say which change: its reference is shown under its result (e.g. `e54d51b4`).", usage
        )
    if len(rest) > 1:
        raise InvalidCommand(f"`{LICENSE_COMMAND} {subcommand}` takes one change reference.", usage)
    reference = unescape(rest[0]).strip("`").casefold()
    if not _REFERENCE.fullmatch(reference):
        raise InvalidCommand(
            f"{quoted(unescape(rest[0]))} is not a change reference.",
            usage,
            f"A reference is {REFERENCE_LENGTH} letters and digits (0–9, a–f), as shown under the "
            "change's result, e.g. `e54d51b4`.",
        )
    return ParsedChangeLookup(reference, undo=subcommand == "undo")


def _parse_show(rest: Sequence[str]) -> ParsedShow | ParsedGroupShow:
    usage = usage_text(LICENSE_COMMAND, "show")
    if not rest:
        raise InvalidCommand("Say whose licenses to show.", usage)
    group = group_name(rest[0], usage)
    if group is not None:
        if len(rest) > 1:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} show` takes one group and nothing else.",
                usage,
                f'Quote a name with spaces: `{LICENSE_COMMAND} show group:"All Staff"`.',
            )
        return ParsedGroupShow(group)
    target = one_person(rest[0], "show", usage)
    if len(rest) > 1:
        raise InvalidCommand(f"`{LICENSE_COMMAND} show` takes one person and nothing else.", usage)
    return ParsedShow(target)


def _parse_services(rest: Sequence[str]) -> ParsedServices:
    usage = usage_text(LICENSE_COMMAND, "services")
    if not rest:
        raise InvalidCommand(
            "Say whose services to change, and of which product.",
            usage,
            f"For example: `{LICENSE_COMMAND} services @alice E5`.",
        )
    target = one_person(rest[0], "services", usage)
    product_words: list[str] = []
    for word in rest[1:]:
        if unescape(word).casefold() == WITHOUT:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} services` opens a form to tick or untick services; it takes no "
                "`without`.",
                usage,
                f"To turn services off while assigning, use `{LICENSE_COMMAND} assign … without …`.",
            )
        if target_named(word, usage) is not None:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} services` takes one person: {quoted(unescape(word))} is another.",
                usage,
                "Change one person's services at a time.",
            )
        product_words.append(unescape(word))
    if not product_words:
        raise InvalidCommand(
            "Say of which product, after the user.",
            usage,
            "Use a short name (E3, E5), a part number (ENTERPRISEPACK) or the full name (Office 365 E5).",
        )
    return ParsedServices(target, " ".join(product_words))


def _parse_change(kind: ChangeKind, rest: Sequence[str]) -> ParsedChange | ParsedGroupChange:
    usage = usage_text(LICENSE_COMMAND, kind.value)
    group = group_name(rest[0], usage) if rest else None
    if group is not None:
        return _parse_group_change(kind, group, rest[1:], usage)
    targets: dict[tuple[TargetKind, str], Target] = {}
    position = 0
    while position < len(rest):
        target = target_named(rest[position], usage)
        if target is None:
            break
        targets.setdefault((target.kind, target.value.casefold()), target)
        position += 1
    if not targets:
        raise InvalidCommand(
            "Say whose licenses to change, before the product.",
            usage,
            "Mention people (@alice) or user groups, or give email addresses or has:PRODUCT.",
        )
    product_words: list[str] = []
    services: list[str] = []
    for index in range(position, len(rest)):
        word = rest[index]
        if unescape(word).casefold() == WITHOUT:
            services = turned_off_services(kind, rest[index + 1 :], usage)
            break
        if product_words and index + 1 < len(rest) and misspelled_without(word):
            raise InvalidCommand(
                f"{quoted(unescape(word))} looks like a misspelled `without`.",
                usage,
                f"Did you mean `{LICENSE_COMMAND} {kind.value} "
                f"{' '.join(t.shown for t in targets.values())} {' '.join(product_words)} without "
                f"{unescape(' '.join(rest[index + 1 :]))}`?",
            )
        if group_name(word, usage) is not None:
            raise InvalidCommand(
                f"A group's license is changed on its own: {quoted(unescape(word))} comes with users.",
                usage,
                f"Change the group alone (`{LICENSE_COMMAND} {kind.value} {unescape(word)} PRODUCT`), "
                "and the users in another command.",
            )
        if target_named(word, usage) is not None:
            raise InvalidCommand(
                f"Put every user before the product: {quoted(unescape(word))} comes after it.",
                usage,
                f"For example: `{LICENSE_COMMAND} {kind.value} @alice @bob E5`.",
            )
        product_words.append(unescape(word))
    if not product_words:
        raise InvalidCommand(
            "Say which product, after the users.",
            usage,
            "Use a short name (E3, E5), a part number (ENTERPRISEPACK) or the full name (Office 365 E5).",
        )
    return ParsedChange(kind, tuple(targets.values()), " ".join(product_words), tuple(services))


def _parse_group_change(kind: ChangeKind, group: str, rest: Sequence[str], usage: str) -> ParsedGroupChange:
    product_words: list[str] = []
    services: list[str] = []
    for index, word in enumerate(rest):
        if unescape(word).casefold() == WITHOUT:
            services = turned_off_services(kind, rest[index + 1 :], usage)
            break
        if group_name(word, usage) is not None or target_named(word, usage) is not None:
            raise InvalidCommand(
                f"A group's license is changed for one group at a time: {quoted(unescape(word))} is "
                "another target.",
                usage,
                f'Quote a group name with spaces: `{LICENSE_COMMAND} {kind.value} group:"All Staff" E5`.',
            )
        product_words.append(unescape(word))
    if not product_words:
        raise InvalidCommand(
            "Say which product, after the group.",
            usage,
            f'For example: `{LICENSE_COMMAND} {kind.value} group:"All Staff" E5`.',
        )
    return ParsedGroupChange(kind, group, " ".join(product_words), tuple(services))
