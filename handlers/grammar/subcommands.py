"""The subcommand a command starts with and the topic of its help, with a suggestion for a typo."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.application.lookups import HOLDERS_PREFIX
from domain.errors import InvalidCommand
from domain.group_licensing import GROUP_PREFIX
from domain.wording import quoted
from handlers.grammar.usage import Usage, usage_text
from handlers.grammar.words import unescape

__all__ = [
    "ParsedHelp",
    "help_topic",
    "split_subcommand",
]


@dataclass(frozen=True, slots=True)
class ParsedHelp:
    """`/license help [topic]`, `/subscription help [topic]`, or `/subscription` with no text."""

    command: str
    topic: str = ""


def split_subcommand(
    words: Sequence[str],
    command: str,
    table: dict[str, Usage],
    later: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    """The subcommand the words start with and the words after it; `InvalidCommand` with the forms
    there are (or the one meant, for a typo) otherwise."""
    first, rest = words[0], list(words[1:])
    name = unescape(first).casefold()
    if name in table:
        return name, rest
    if first.startswith("<") or "@" in first or name.startswith((HOLDERS_PREFIX, GROUP_PREFIX)):
        raise InvalidCommand(
            "Say what to do first, then who.",
            usage_text(command),
            f"For example: `{command} {next(iter(table))} …`; the forms are: {', '.join(table)}.",
        )
    later = later or {}
    if name in later:
        raise InvalidCommand(
            f"`{command} {name}` is not available in this version.",
            usage_text(command),
            later[name],
        )
    close = difflib.get_close_matches(name, [*table, *later], n=1, cutoff=0.6)
    shown = first if len(first) <= 40 else first[:40] + "…"
    fix = f"Did you mean `{command} {close[0]}`?" if close else f"Start with one of: {', '.join(table)}."
    raise InvalidCommand(
        f"`{command}` has no subcommand {quoted(unescape(shown))}.", usage_text(command), fix
    )


def help_topic(rest: Sequence[str], command: str, table: dict[str, Usage]) -> str:
    """The form to help with ("" for all of them); `InvalidCommand` for a topic there is none of."""
    if not rest:
        return ""
    topic = unescape(rest[0]).casefold()
    if topic in table:
        return topic
    shown = unescape(rest[0] if len(rest[0]) <= 40 else rest[0][:40] + "…")
    close = difflib.get_close_matches(topic, list(table), n=1, cutoff=0.6)
    meant = f"Did you mean `{command} help {close[0]}`? " if close else ""
    raise InvalidCommand(
        f"There is no help topic {quoted(shown)}.",
        usage_text(command, "help"),
        f"{meant}The topics are: {', '.join(table)}.",
    )
