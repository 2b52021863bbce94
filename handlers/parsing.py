"""The text grammar of `/license` and `/subscription` (DESIGN.md §3), as pure functions.

Slack sends the text of a slash command with `&`, `<` and `>` escaped, mentions as `<@U123|name>`,
user groups as `<!subteam^S1|@name>` and auto-linked emails as `<mailto:a@b.com|a@b.com>` (the
manifest sets `should_escape`). Parsing turns that text into small frozen values, or raises
`InvalidCommand` with the usage to show: whatever the text, nothing else is ever raised.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.application.lookups import HOLDERS_PREFIX
from domain.changes import REFERENCE_LENGTH, ChangeKind
from domain.errors import InvalidCommand
from domain.group_licensing import GROUP_PREFIX
from domain.wording import quoted
from domain.workflows import EVERYONE
from handlers.ids import LICENSE_COMMAND, SUBSCRIPTION_COMMAND

__all__ = [
    "LICENSE_USAGE",
    "MAX_TEXT_LENGTH",
    "SUBSCRIPTION_USAGE",
    "LicenseCommand",
    "ParsedBuy",
    "ParsedCancel",
    "ParsedChange",
    "ParsedChangeLookup",
    "ParsedForm",
    "ParsedGroupChange",
    "ParsedGroupShow",
    "ParsedHelp",
    "ParsedReclaim",
    "ParsedReport",
    "ParsedSeats",
    "ParsedServices",
    "ParsedShow",
    "ParsedSignOut",
    "ParsedStatus",
    "ParsedSubscriptionList",
    "ParsedSwitch",
    "ParsedUpgrade",
    "SubscriptionCommand",
    "Target",
    "TargetKind",
    "Usage",
    "check_characters",
    "control_character_in",
    "parse_license",
    "parse_subscription",
    "usage_text",
    "with_group_id",
]

MAX_TEXT_LENGTH = 3000
"""Longer command text is refused before it is looked at (a slash command holds about 4,000)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """One form of a command, as the help and the usage errors show it."""

    syntax: str
    summary: str
    examples: tuple[str, ...] = ()


LICENSE_USAGE: dict[str, Usage] = {
    "assign": Usage(
        f"{LICENSE_COMMAND} assign @user… PRODUCT [without SERVICE, …]",
        "Add a license to what the users already have (nothing they hold is taken away).",
        (
            f"{LICENSE_COMMAND} assign @alice @bob E5",
            f"{LICENSE_COMMAND} assign @sales-team Office 365 E3 without Sway, Teams",
            f"{LICENSE_COMMAND} assign carol@contoso.com E5",
            f'{LICENSE_COMMAND} assign group:"All Staff" E5 (the group\'s own license, after a preview)',
        ),
    ),
    "replace": Usage(
        f"{LICENSE_COMMAND} replace @user… PRODUCT [without SERVICE, …]",
        "Replace every license the users hold with this one, in one step per user "
        "(shows a preview to confirm first).",
        (
            f"{LICENSE_COMMAND} replace @alice E5",
            f"{LICENSE_COMMAND} replace has:E3 E5",
            f'{LICENSE_COMMAND} replace group:"All Staff" E5',
        ),
    ),
    "remove": Usage(
        f"{LICENSE_COMMAND} remove @user… PRODUCT",
        "Take a license away (shows a preview to confirm first).",
        (f"{LICENSE_COMMAND} remove @alice E3", f"{LICENSE_COMMAND} remove group:Sales E3"),
    ),
    "services": Usage(
        f"{LICENSE_COMMAND} services @user PRODUCT",
        "A form with a checkbox per service of the user's license: tick or untick, save, and only "
        "what you changed is changed.",
        (f"{LICENSE_COMMAND} services @alice E5", f"{LICENSE_COMMAND} services carol@contoso.com E3"),
    ),
    "show": Usage(
        f"{LICENSE_COMMAND} show @user",
        "A user's licenses, the services turned off, assignment errors and the seats left.",
        (
            f"{LICENSE_COMMAND} show @alice",
            f"{LICENSE_COMMAND} show alice@contoso.com",
            f'{LICENSE_COMMAND} show group:"All Staff" (its licenses, members and members in error)',
        ),
    ),
    "signout": Usage(
        f"{LICENSE_COMMAND} signout",
        "Forget your Microsoft sign-in (where licensebot asks admins to sign in with Microsoft); "
        "your next change asks you to sign in again.",
        (f"{LICENSE_COMMAND} signout",),
    ),
    "reclaim": Usage(
        f"{LICENSE_COMMAND} reclaim [inactive DAYS]",
        "Take back the licenses of disabled accounts; with `inactive 90`, also of people who have not "
        "signed in for 90 days (shows a preview to confirm first, with Undo after).",
        (f"{LICENSE_COMMAND} reclaim", f"{LICENSE_COMMAND} reclaim inactive 90"),
    ),
    "report": Usage(
        f"{LICENSE_COMMAND} report [PRODUCT | has:PRODUCT | group:NAME | all]",
        "A CSV file of users and their licenses, in the thread: every licensed user, the holders of "
        "a product, or `all` users (the unlicensed too).",
        (f"{LICENSE_COMMAND} report", f"{LICENSE_COMMAND} report E3", f"{LICENSE_COMMAND} report all"),
    ),
    "status": Usage(
        f"{LICENSE_COMMAND} status REF",
        "The result of a license change again, by the reference shown under it (e.g. `e54d51b4`).",
        (f"{LICENSE_COMMAND} status e54d51b4",),
    ),
    "undo": Usage(
        f"{LICENSE_COMMAND} undo REF",
        "Put everyone a change wrote to back to what they held before (shows a preview to confirm "
        "first), while its result says undo works.",
        (f"{LICENSE_COMMAND} undo e54d51b4",),
    ),
    "help": Usage(
        f"{LICENSE_COMMAND} help [FORM]",
        f"This help, or the help of one form. `{LICENSE_COMMAND}` alone opens a form to fill in.",
        (f"{LICENSE_COMMAND} help replace", LICENSE_COMMAND),
    ),
}

SUBSCRIPTION_USAGE: dict[str, Usage] = {
    "list": Usage(
        f"{SUBSCRIPTION_COMMAND} list",
        "Every product of the tenant with its seats used and free, and its subscriptions' status.",
        (f"{SUBSCRIPTION_COMMAND} list",),
    ),
    "buy": Usage(
        f"{SUBSCRIPTION_COMMAND} buy PRODUCT SEATS [invoice]",
        "Buy a subscription; the bot polls until it is active (an invoice purchase may wait for a "
        "credit check).",
        (f"{SUBSCRIPTION_COMMAND} buy E5 10", f"{SUBSCRIPTION_COMMAND} buy E5 10 invoice"),
    ),
    "seats": Usage(
        f"{SUBSCRIPTION_COMMAND} seats PRODUCT +N|-N",
        "Add or remove licenses (never below what users hold).",
        (f"{SUBSCRIPTION_COMMAND} seats E5 +5", f"{SUBSCRIPTION_COMMAND} seats E3 -3"),
    ),
    "switch": Usage(
        f"{SUBSCRIPTION_COMMAND} switch FROM TO [@user… | has:PRODUCT | all] [invoice]",
        "Move users from one plan to another, step by step; everyone by default.",
        (
            f"{SUBSCRIPTION_COMMAND} switch E3 E5",
            f"{SUBSCRIPTION_COMMAND} switch E3 E5 @alice @bob",
        ),
    ),
    "upgrade": Usage(
        f"{SUBSCRIPTION_COMMAND} upgrade E4 TO [invoice]",
        "Upgrade from Office 365 E4: direct purchases only; users keep E4 until moved.",
        (f"{SUBSCRIPTION_COMMAND} upgrade E4 E5",),
    ),
    "cancel": Usage(
        f"{SUBSCRIPTION_COMMAND} cancel PRODUCT|CODE",
        "Cancel a subscription: you confirm, then another Global or Billing admin approves. When a "
        "product has several, the answer shows a code for each (the end of its id) to name it by.",
        (f"{SUBSCRIPTION_COMMAND} cancel E3",),
    ),
    "status": Usage(
        f"{SUBSCRIPTION_COMMAND} status [WORKFLOW]",
        "Where the workflows stand: those in flight and the latest finished, or one of them.",
        (f"{SUBSCRIPTION_COMMAND} status",),
    ),
    "help": Usage(
        f"{SUBSCRIPTION_COMMAND} help [FORM]",
        "This help, or the help of one form.",
        (f"{SUBSCRIPTION_COMMAND} help list", f"{SUBSCRIPTION_COMMAND} help switch"),
    ),
}

_USERS_HELP = (
    "Users: @mentions, @user-groups, email addresses or user principal names, "
    "or has:PRODUCT for everyone who holds a product (has:E3). "
    'A Microsoft Entra group\'s own license: group:NAME (quoted with spaces: group:"All Staff").'
)

# Subcommands DESIGN.md names that this version does not offer yet: refused honestly, not guessed at.
_SUBSCRIPTION_LATER = {
    name: f"`{SUBSCRIPTION_COMMAND} list` shows the products, seats and subscriptions." for name in ("show",)
}
_INVOICE = "invoice"
_SEATS_DELTA = re.compile(r"[+-]\d{1,6}")
_WORKFLOW_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REFERENCE = re.compile(r"[0-9a-f]{6,32}")


class TargetKind(StrEnum):
    MENTION = "mention"
    """A Slack user: `value` is the Slack user id."""
    USER_GROUP = "user-group"
    """A Slack user group: `value` is its id."""
    ADDRESS = "address"
    """An email address or user principal name, as typed."""
    HOLDERS = "holders"
    """Everyone who holds a product: `value` is the product as typed."""


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    value: str
    label: str = ""

    @property
    def shown(self) -> str:
        """How to name the target in a message."""
        if self.kind is TargetKind.HOLDERS:
            return f"{HOLDERS_PREFIX}{self.value}"
        if self.kind in {TargetKind.MENTION, TargetKind.USER_GROUP}:
            return f"@{self.label.lstrip('@')}" if self.label else self.value
        return self.value


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
class ParsedReclaim:
    """`/license reclaim [inactive DAYS]` (R22)."""

    inactive_days: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedReport:
    """`/license report [PRODUCT | has:PRODUCT | group:NAME | all]`: with nothing, every licensed user."""

    product: str | None = None
    group: str | None = None
    include_unlicensed: bool = False


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


@dataclass(frozen=True, slots=True)
class ParsedHelp:
    """`/license help [topic]`, `/subscription help [topic]`, or `/subscription` with no text."""

    command: str
    topic: str = ""


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

_TOKEN = re.compile(r"(?i:group:)(?:\"[^\"<>]*\"|\u201c[^\u201d<>]*\u201d)|<[^<>]*>|[^\s<>]+|[<>]")
_GROUP_TOKEN = re.compile(r"(?i:group:)(?:\"[^\"<>]*\"|\u201c[^\u201d<>]*\u201d|[^\s<>]+)")
_SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
_ADDRESS = re.compile(r"[^@\s,;:<>()\[\]\"']{1,64}@[^@\s,;:<>()\[\]\"']{1,190}\.[^@\s,;:<>()\[\]\"'.]{2,63}")
_BROADCASTS = {"channel", "here", "everyone", "group"}
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_WITHOUT = "without"
_TYPO_CUTOFF = 0.8


def usage_text(command: str, subcommand: str | None = None) -> str:
    """The syntax of one form of a command, or of every form."""
    table = LICENSE_USAGE if command == LICENSE_COMMAND else SUBSCRIPTION_USAGE
    forms = [table[subcommand]] if subcommand in table else list(table.values())
    lines = [form.syntax for form in forms]
    if command == LICENSE_COMMAND and (subcommand is None or subcommand in {"assign", "replace", "remove"}):
        lines.append(_USERS_HELP)
    return "\n".join(lines)


def parse_license(text: str) -> LicenseCommand:
    """`/license …` text → what was asked for; `InvalidCommand` with the usage otherwise."""
    words = _tokens(text, LICENSE_COMMAND)
    if not words:
        return ParsedForm()
    subcommand, rest = _subcommand(words, LICENSE_COMMAND, LICENSE_USAGE)
    if subcommand == "help":
        return ParsedHelp(LICENSE_COMMAND, _help_topic(rest, LICENSE_COMMAND, LICENSE_USAGE))
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
        return _parse_reclaim(rest)
    if subcommand == "report":
        return _parse_report(rest)
    if subcommand in {"status", "undo"}:
        return _parse_reference(subcommand, rest)
    return _parse_change(ChangeKind(subcommand), rest)


MAX_INACTIVE_DAYS = 3650
_INACTIVE = "inactive"
_GROUP_PREFIX = "group:"


def _parse_reclaim(rest: Sequence[str]) -> ParsedReclaim:
    usage = usage_text(LICENSE_COMMAND, "reclaim")
    words = [_unescape(word) for word in rest]
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


def _parse_report(rest: Sequence[str]) -> ParsedReport:
    usage = usage_text(LICENSE_COMMAND, "report")
    text = " ".join(_unescape(word) for word in rest).strip()
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
    if text.casefold().startswith(_GROUP_PREFIX):
        group = text[len(_GROUP_PREFIX) :].strip().strip('"')
        if not group:
            raise InvalidCommand("Say which group, after `group:`.", usage, "For example: `group:Sales`.")
        return ParsedReport(group=group)
    if text.casefold().startswith(HOLDERS_PREFIX):
        text = text[len(HOLDERS_PREFIX) :].strip()
    if not text:
        raise InvalidCommand("Say which product, after `has:`.", usage, "For example: `has:E3`.")
    return ParsedReport(product=text)


def parse_subscription(text: str) -> SubscriptionCommand:
    """`/subscription …` text → what was asked for; `InvalidCommand` with the usage otherwise."""
    words = _tokens(text, SUBSCRIPTION_COMMAND)
    if not words:
        return ParsedHelp(SUBSCRIPTION_COMMAND)
    subcommand, rest = _subcommand(words, SUBSCRIPTION_COMMAND, SUBSCRIPTION_USAGE, _SUBSCRIPTION_LATER)
    if subcommand == "help":
        return ParsedHelp(SUBSCRIPTION_COMMAND, _help_topic(rest, SUBSCRIPTION_COMMAND, SUBSCRIPTION_USAGE))
    words = [_unescape(word) if not word.startswith("<") else word for word in rest]
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


def _plain_product(word: str, usage: str) -> str:
    if word.startswith("<") or "@" in word:
        raise InvalidCommand(
            f"{quoted(word)} is not a product.", usage, "Name a product: E3, E5, Office 365 E5."
        )
    return word


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
    product = " ".join(_plain_product(w, usage) for w in product_words)
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
    product = " ".join(_plain_product(w, usage) for w in product_words)
    return ParsedSeats(product, int(change))


def _parse_switch(words: list[str]) -> ParsedSwitch:
    usage = usage_text(SUBSCRIPTION_COMMAND, "switch")
    words, invoice = _invoice(words)
    if len(words) < 2:
        raise InvalidCommand("Say which plan to switch from and which to switch to.", usage)
    source, target = (_plain_product(w, usage) for w in words[:2])
    rest = words[2:]
    if len(rest) == 1 and rest[0].casefold() == EVERYONE:
        return ParsedSwitch(source, target, (), invoice)
    targets: list[Target] = []
    for word in rest:
        found = _target(word, usage)
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
    source, target = (_plain_product(w, usage) for w in words)
    return ParsedUpgrade(source, target, invoice)


def _parse_cancel(words: list[str]) -> ParsedCancel:
    usage = usage_text(SUBSCRIPTION_COMMAND, "cancel")
    if not words:
        raise InvalidCommand(
            "Say which subscription to cancel: a product, or the code of one of its subscriptions.", usage
        )
    return ParsedCancel(" ".join(_plain_product(w, usage) for w in words))


def _parse_status(words: list[str]) -> ParsedStatus:
    usage = usage_text(SUBSCRIPTION_COMMAND, "status")
    if len(words) > 1 or (words and not _WORKFLOW_ID.fullmatch(words[0])):
        raise InvalidCommand("`/subscription status` takes at most one workflow id.", usage)
    return ParsedStatus(words[0] if words else "")


def _tokens(text: str, command: str) -> list[str]:
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


def _subcommand(
    words: Sequence[str],
    command: str,
    table: dict[str, Usage],
    later: Mapping[str, str] | None = None,
) -> tuple[str, list[str]]:
    first, rest = words[0], list(words[1:])
    name = _unescape(first).casefold()
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
        f"`{command}` has no subcommand {quoted(_unescape(shown))}.", usage_text(command), fix
    )


def _help_topic(rest: Sequence[str], command: str, table: dict[str, Usage]) -> str:
    """The form to help with ("" for all of them); `InvalidCommand` for a topic there is none of."""
    if not rest:
        return ""
    topic = _unescape(rest[0]).casefold()
    if topic in table:
        return topic
    shown = _unescape(rest[0] if len(rest[0]) <= 40 else rest[0][:40] + "…")
    close = difflib.get_close_matches(topic, list(table), n=1, cutoff=0.6)
    meant = f"Did you mean `{command} help {close[0]}`? " if close else ""
    raise InvalidCommand(
        f"There is no help topic {quoted(shown)}.",
        usage_text(command, "help"),
        f"{meant}The topics are: {', '.join(table)}.",
    )


def _parse_reference(subcommand: str, rest: Sequence[str]) -> ParsedChangeLookup:
    usage = usage_text(LICENSE_COMMAND, subcommand)
    if not rest:
        raise InvalidCommand(
            "Say which change: its reference is shown under its result (e.g. `e54d51b4`).", usage
        )
    if len(rest) > 1:
        raise InvalidCommand(f"`{LICENSE_COMMAND} {subcommand}` takes one change reference.", usage)
    reference = _unescape(rest[0]).strip("`").casefold()
    if not _REFERENCE.fullmatch(reference):
        raise InvalidCommand(
            f"{quoted(_unescape(rest[0]))} is not a change reference.",
            usage,
            f"A reference is {REFERENCE_LENGTH} letters and digits (0–9, a–f), as shown under the "
            "change's result, e.g. `e54d51b4`.",
        )
    return ParsedChangeLookup(reference, undo=subcommand == "undo")


def _parse_show(rest: Sequence[str]) -> ParsedShow | ParsedGroupShow:
    usage = usage_text(LICENSE_COMMAND, "show")
    if not rest:
        raise InvalidCommand("Say whose licenses to show.", usage)
    group = _group_name(rest[0], usage)
    if group is not None:
        if len(rest) > 1:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} show` takes one group and nothing else.",
                usage,
                f'Quote a name with spaces: `{LICENSE_COMMAND} show group:"All Staff"`.',
            )
        return ParsedGroupShow(group)
    target = _one_person(rest[0], "show", usage)
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
    target = _one_person(rest[0], "services", usage)
    product_words: list[str] = []
    for word in rest[1:]:
        if _unescape(word).casefold() == _WITHOUT:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} services` opens a form to tick or untick services; it takes no "
                "`without`.",
                usage,
                f"To turn services off while assigning, use `{LICENSE_COMMAND} assign … without …`.",
            )
        if _target(word, usage) is not None:
            raise InvalidCommand(
                f"`{LICENSE_COMMAND} services` takes one person: {quoted(_unescape(word))} is another.",
                usage,
                "Change one person's services at a time.",
            )
        product_words.append(_unescape(word))
    if not product_words:
        raise InvalidCommand(
            "Say of which product, after the user.",
            usage,
            "Use a short name (E3, E5), a part number (ENTERPRISEPACK) or the full name (Office 365 E5).",
        )
    return ParsedServices(target, " ".join(product_words))


def _one_person(word: str, subcommand: str, usage: str) -> Target:
    target = _target(word, usage)
    if target is None:
        raise InvalidCommand(
            f"{quoted(_unescape(word))} is not a user.",
            usage,
            "Mention the person (@name) or give their email address.",
        )
    if target.kind in {TargetKind.USER_GROUP, TargetKind.HOLDERS}:
        raise InvalidCommand(
            f"`{LICENSE_COMMAND} {subcommand}` takes one person, not {target.shown}.",
            usage,
            "Mention one person or give one email address.",
        )
    return target


def _parse_change(kind: ChangeKind, rest: Sequence[str]) -> ParsedChange | ParsedGroupChange:
    usage = usage_text(LICENSE_COMMAND, kind.value)
    group = _group_name(rest[0], usage) if rest else None
    if group is not None:
        return _parse_group_change(kind, group, rest[1:], usage)
    targets: dict[tuple[TargetKind, str], Target] = {}
    position = 0
    while position < len(rest):
        target = _target(rest[position], usage)
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
        if _unescape(word).casefold() == _WITHOUT:
            services = _services(kind, rest[index + 1 :], usage)
            break
        if product_words and index + 1 < len(rest) and _misspelled_without(word):
            raise InvalidCommand(
                f"{quoted(_unescape(word))} looks like a misspelled `without`.",
                usage,
                f"Did you mean `{LICENSE_COMMAND} {kind.value} "
                f"{' '.join(t.shown for t in targets.values())} {' '.join(product_words)} without "
                f"{_unescape(' '.join(rest[index + 1 :]))}`?",
            )
        if _group_name(word, usage) is not None:
            raise InvalidCommand(
                f"A group's license is changed on its own: {quoted(_unescape(word))} comes with users.",
                usage,
                f"Change the group alone (`{LICENSE_COMMAND} {kind.value} {_unescape(word)} PRODUCT`), "
                "and the users in another command.",
            )
        if _target(word, usage) is not None:
            raise InvalidCommand(
                f"Put every user before the product: {quoted(_unescape(word))} comes after it.",
                usage,
                f"For example: `{LICENSE_COMMAND} {kind.value} @alice @bob E5`.",
            )
        product_words.append(_unescape(word))
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
        if _unescape(word).casefold() == _WITHOUT:
            services = _services(kind, rest[index + 1 :], usage)
            break
        if _group_name(word, usage) is not None or _target(word, usage) is not None:
            raise InvalidCommand(
                f"A group's license is changed for one group at a time: {quoted(_unescape(word))} is "
                "another target.",
                usage,
                f'Quote a group name with spaces: `{LICENSE_COMMAND} {kind.value} group:"All Staff" E5`.',
            )
        product_words.append(_unescape(word))
    if not product_words:
        raise InvalidCommand(
            "Say which product, after the group.",
            usage,
            f'For example: `{LICENSE_COMMAND} {kind.value} group:"All Staff" E5`.',
        )
    return ParsedGroupChange(kind, group, " ".join(product_words), tuple(services))


def _group_name(word: str, usage: str) -> str | None:
    """The group a `group:NAME` word names (quotes taken off), None for any other word (R21)."""
    plain = _unescape(word)
    if not plain.casefold().startswith(GROUP_PREFIX):
        return None
    name = plain[len(GROUP_PREFIX) :].strip()
    if len(name) >= 2 and name[0] in '"\u201c' and name[-1] in '"\u201d':
        name = name[1:-1].strip()
    if not name or '"' in name:
        raise InvalidCommand(
            f"Say which group after `{GROUP_PREFIX}`.",
            usage,
            "Name it by display name, mail nickname or object id; quote a name with spaces: "
            f'`{GROUP_PREFIX}"All Staff"`.',
        )
    return name


def with_group_id(text: str, group_id: str) -> str:
    """The command text with its `group:NAME` naming the group by object id instead (R21)."""
    return _GROUP_TOKEN.sub(lambda _: f"{GROUP_PREFIX}{group_id}", text, count=1)


def _misspelled_without(word: str) -> bool:
    """`withot`, `witout`, `wihtout`: no product name has a word this close to `without`."""
    plain = _unescape(word).casefold()
    return plain != _WITHOUT and difflib.SequenceMatcher(None, plain, _WITHOUT).ratio() >= _TYPO_CUTOFF


def _services(kind: ChangeKind, words: Sequence[str], usage: str) -> list[str]:
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
    names = " ".join(_unescape(word) for word in words).split(",")
    services = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not services:
        raise InvalidCommand(
            "Say which services to turn off after `without`.",
            usage,
            "For example: `without Sway, Teams`.",
        )
    return services


def _target(word: str, usage: str) -> Target | None:
    """The target a word names, None for an ordinary word; `InvalidCommand` for a bad one."""
    if word.startswith("<"):
        return _markup_target(word, usage)
    plain = _unescape(word)
    if plain.casefold().startswith(HOLDERS_PREFIX):
        product = plain[len(HOLDERS_PREFIX) :]
        if not product:
            raise InvalidCommand(
                f"Say which product after `{HOLDERS_PREFIX}`.",
                usage,
                f"For example `{HOLDERS_PREFIX}E3` for everyone who holds Office 365 E3.",
            )
        return Target(TargetKind.HOLDERS, product)
    if plain.startswith("@"):
        raise InvalidCommand(
            f"{quoted(plain)} is not a mention Slack recognized.",
            usage,
            "Pick the person from Slack's suggestions as you type @, or give their email address.",
        )
    if "@" in plain:
        if not _ADDRESS.fullmatch(plain):
            raise InvalidCommand(
                f"{quoted(plain)} is not an email address or a user principal name.",
                usage,
                "Write it as name@domain, e.g. alice@contoso.com.",
            )
        return Target(TargetKind.ADDRESS, plain)
    return None


def _markup_target(word: str, usage: str) -> Target:
    if word in {"<", ">"}:
        raise InvalidCommand("The command has an unmatched '<' or '>'.", usage)
    body = word[1:-1]
    target, _, label = body.partition("|")
    if target.startswith("@") and _SLACK_ID.fullmatch(target[1:]):
        return Target(TargetKind.MENTION, target[1:], _unescape(label))
    if target.startswith("!subteam^") and _SLACK_ID.fullmatch(target[len("!subteam^") :]):
        return Target(TargetKind.USER_GROUP, target[len("!subteam^") :], _unescape(label))
    if target.startswith("mailto:"):
        address = _unescape(target[len("mailto:") :])
        if _ADDRESS.fullmatch(address):
            return Target(TargetKind.ADDRESS, address)
        raise InvalidCommand(f"{quoted(address)} is not an email address.", usage)
    if target.startswith("!") and target[1:].partition("^")[0] in _BROADCASTS:
        raise InvalidCommand(
            f"@{target[1:].partition('^')[0]} cannot be a target: it is everyone in a channel.",
            usage,
            f"Mention people or a user group, or use {HOLDERS_PREFIX}PRODUCT for everyone holding one.",
        )
    if target.startswith("#"):
        raise InvalidCommand(
            "A channel cannot be a target.", usage, "Mention people or a user group instead."
        )
    if target.startswith(("http://", "https://")) or "://" in target:
        raise InvalidCommand("A link cannot be a target or a product.", usage)
    raise InvalidCommand("The command contains Slack markup that is not a user or a user group.", usage)


def _unescape(text: str) -> str:
    # Slack escapes exactly these three; "&amp;" last so "&amp;lt;" stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
