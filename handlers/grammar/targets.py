"""Who a command names: Slack mentions and user groups, email addresses, `has:PRODUCT`, and
`group:NAME` for an Entra group's own license (R21)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from domain.application.lookups import HOLDERS_PREFIX
from domain.errors import InvalidCommand
from domain.group_licensing import GROUP_PREFIX
from domain.wording import quoted
from handlers.grammar.words import unescape
from handlers.ids import LICENSE_COMMAND

__all__ = [
    "Target",
    "TargetKind",
    "group_name",
    "one_person",
    "target_named",
    "with_group_id",
]


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


_GROUP_TOKEN = re.compile(r"(?i:group:)(?:\"[^\"<>]*\"|\u201c[^\u201d<>]*\u201d|[^\s<>]+)")
_SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
_ADDRESS = re.compile(r"[^@\s,;:<>()\[\]\"']{1,64}@[^@\s,;:<>()\[\]\"']{1,190}\.[^@\s,;:<>()\[\]\"'.]{2,63}")
_BROADCASTS = {"channel", "here", "everyone", "group"}


def one_person(word: str, subcommand: str, usage: str) -> Target:
    """The one person a `/license` subcommand is about: a mention or an address."""
    target = target_named(word, usage)
    if target is None:
        raise InvalidCommand(
            f"{quoted(unescape(word))} is not a user.",
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


def group_name(word: str, usage: str) -> str | None:
    """The group a `group:NAME` word names (quotes taken off), None for any other word (R21)."""
    plain = unescape(word)
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


def target_named(word: str, usage: str) -> Target | None:
    """The target a word names, None for an ordinary word; `InvalidCommand` for a bad one."""
    if word.startswith("<"):
        return _markup_target(word, usage)
    plain = unescape(word)
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
        return Target(TargetKind.MENTION, target[1:], unescape(label))
    if target.startswith("!subteam^") and _SLACK_ID.fullmatch(target[len("!subteam^") :]):
        return Target(TargetKind.USER_GROUP, target[len("!subteam^") :], unescape(label))
    if target.startswith("mailto:"):
        address = unescape(target[len("mailto:") :])
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
