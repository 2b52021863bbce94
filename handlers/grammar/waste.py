"""`/license reclaim` and `/license report`: the licenses going to waste (R22) and who holds what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.application.lookups import HOLDERS_PREFIX
from domain.errors import InvalidCommand
from domain.group_licensing import GROUP_PREFIX
from domain.wording import quoted
from handlers.grammar.usage import usage_text
from handlers.grammar.words import unescape
from handlers.ids import LICENSE_COMMAND

__all__ = [
    "MAX_INACTIVE_DAYS",
    "ParsedReclaim",
    "ParsedReport",
    "parse_reclaim",
    "parse_report",
]


@dataclass(frozen=True, slots=True)
class ParsedReclaim:
    """`/license reclaim [inactive DAYS]` (R22)."""

    inactive_days: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """`/license report [PRODUCT | has:PRODUCT | group:NAME | all]`: with nothing, every licensed user."""

    product: str | None = None
    group: str | None = None
    include_unlicensed: bool = False


MAX_INACTIVE_DAYS = 3650
_INACTIVE = "inactive"


def parse_reclaim(rest: Sequence[str]) -> ParsedReclaim:
    """The words after `/license reclaim`: nothing, or `inactive DAYS`."""
    usage = usage_text(LICENSE_COMMAND, "reclaim")
    words = [unescape(word) for word in rest]
    if not words:
        return ParsedReclaim()
    if words[0].casefold() != _INACTIVE:
        raise InvalidCommand(
            f"`{LICENSE_COMMAND} reclaim` takes no {quoted(words[0][:40])}.",
            usage,
            f"Use `{LICENSE_COMMAND} reclaim` for disabled accounts, or "
            f"`{LICENSE_COMMAND} reclaim inactive 90` to add people who have not signed in for 90 days.",
        )
    if len(words) != 2 or not words[1].isdigit() or not 1 <= int(words[1]) <= MAX_INACTIVE_DAYS:
        raise InvalidCommand(
            "Say after how many days without a sign-in an account counts as inactive: a whole number "
            f"of days from 1 to {MAX_INACTIVE_DAYS:,}.",
            usage,
            f"For example: `{LICENSE_COMMAND} reclaim inactive 90`.",
        )
    return ParsedReclaim(int(words[1]))


def parse_report(rest: Sequence[str]) -> ParsedReport:
    """The words after `/license report`: nothing, a product, `has:PRODUCT`, `group:NAME` or `all`."""
    usage = usage_text(LICENSE_COMMAND, "report")
    text = " ".join(unescape(word) for word in rest).strip()
    if not text:
        return ParsedReport()
    if text.casefold() == "all":
        return ParsedReport(include_unlicensed=True)
    if rest[0].startswith("<") or "@" in text:
        raise InvalidCommand(
            "A report covers a product, a group or everyone, not people.",
            usage,
            f"To see one person's licenses, use `{LICENSE_COMMAND} show @alice`.",
        )
    if text.casefold().startswith(GROUP_PREFIX):
        group = text[len(GROUP_PREFIX) :].strip().strip('"')
        if not group:
            raise InvalidCommand("Say which group, after `group:`.", usage, "For example: `group:Sales`.")
        return ParsedReport(group=group)
    if text.casefold().startswith(HOLDERS_PREFIX):
        text = text[len(HOLDERS_PREFIX) :].strip()
    if not text:
        raise InvalidCommand("Say which product, after `has:`.", usage, "For example: `has:E3`.")
    return ParsedReport(product=text)
