"""What an admin reads, checked: the text licensebot sends to Slack speaks the admin's language.

Every Slack test runs through `LocalSlack`; the suite's autouse fixture hands each test's calls to
`violations`, which fails the test on a rule number, a raw id, a part number where a display name is
known, a Python repr of what someone typed, or a wrong plural. CSV files are data, not prose: they
keep full ids and part numbers, and are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bot.local_slack.records import Call
from storage.simulated.products import DEMO_PRODUCTS

__all__ = ["shown_texts", "violations"]

_SHOWN_METHODS = {
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "response_url",
    "views.open",
    "views.update",
    "views.push",
    "views.publish",
}
_HIDDEN_KEYS = {
    "action_id",
    "block_id",
    "callback_id",
    "private_metadata",
    "value",
    "url",
    "image_url",
    "channel",
    "ts",
    "thread_ts",
    "user",
    "external_id",
    "hash",
    "view_id",
    "trigger_id",
    "response_url",
    "initial_option",
    "initial_options",
    "initial_users",
    "initial_user",
}

_URL = re.compile(r"https?://[^\s|>]+")
_RULE = re.compile(r"\bR(?:[1-9]|1[0-9]|2[0-4])\b")
_GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")
_REPR = re.compile(r"\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}")
_ONE_PLURAL = re.compile(
    r"\b1 (users|licenses|seats|approvals|workflows|subscriptions|people|members|days|business days|"
    r"hours|minutes|tasks|changes|products|groups|more users|accounts)\b"
)
_PART_NUMBERS = sorted({p.part_number for p in DEMO_PRODUCTS.values()}, key=len, reverse=True)
_PART = re.compile(r"\b(" + "|".join(re.escape(p) for p in _PART_NUMBERS) + r")\b")
_NAMES = sorted({p.display_name for p in DEMO_PRODUCTS.values() if p.display_name != p.display_name.lower()})
_LOWERCASED = re.compile(r"\b(" + "|".join(re.escape(n.lower()) for n in _NAMES) + r")\b")

# What is legitimately shown although it looks like a problem: the help saying what may be *typed*.
# A product may be typed as its part number, so the help names one as an example. Keep this tiny.
_INPUT_DOCS = ("part numbers (ENTERPRISEPACK)", "a part number (ENTERPRISEPACK)")


def shown_texts(calls: Iterable[Call]) -> Iterator[tuple[str, str]]:
    """(method, text) for every piece of text a person sees in what the bot sent."""
    for call in calls:
        if call.method not in _SHOWN_METHODS:
            continue
        for text in _texts(call.params):
            yield call.method, text


def _texts(value: Any, key: str = "") -> Iterator[str]:
    if key in _HIDDEN_KEYS:
        return
    if isinstance(value, str):
        if key in {"text", "title", "placeholder", "alt_text", "fallback", "pretext"} or not key:
            yield value
        return
    if isinstance(value, Mapping):
        for name, inner in value.items():
            yield from _texts(inner, str(name) if not isinstance(inner, str) or name != "type" else "type")
        return
    if isinstance(value, (list, tuple)):
        for inner in value:
            yield from _texts(inner, key if key in {"text"} else "")


def violations(calls: Iterable[Call]) -> list[str]:
    """Each problem once, with the method and a piece of the text around it."""
    found: dict[str, None] = {}
    for method, shown in shown_texts(calls):
        text = shown
        for allowed in _INPUT_DOCS:
            text = text.replace(allowed, "")
        # An address is something to open, not prose: the ids in a sign-in link are Microsoft's.
        text = _URL.sub("<address>", text)
        for label, pattern in (
            ("rule number", _RULE),
            ("raw id", _GUID),
            ("raw id", _HEX_ID),
            ("Python repr", _REPR),
            ("wrong plural", _ONE_PLURAL),
            ("part number", _PART),
            ("lowercased product name", _LOWERCASED),
        ):
            for match in pattern.finditer(text):
                start = max(0, match.start() - 50)
                found[f"{label} in {method}: …{text[start : match.end() + 30]}…"] = None
    return list(found)
