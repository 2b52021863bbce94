"""A plain-text rendering of Block Kit for a terminal.

The local chat shell prints what the bot posts and lets a person press a button or pick an option
by its number, so rendering returns the text and the numbered interactive elements together.
Text is converted for display only (mentions, links, the three HTML entities Slack escapes); the
stored messages keep Slack's own markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "InteractiveElement",
    "Option",
    "RenderedMessage",
    "Resolver",
    "mrkdwn_to_text",
    "render_blocks",
]

Resolver = Callable[[str], str | None]
"""Maps a Slack id (user or channel) to a display name, or None when unknown."""

_DIVIDER = "-" * 40
_TOKEN = re.compile(r"<([^<>]*)>")
_STATEFUL_TEXT_INPUTS = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
}


@dataclass(frozen=True)
class Option:
    """One choice of a select, overflow menu, checkbox group or radio group."""

    label: str
    value: str


@dataclass(frozen=True)
class InteractiveElement:
    """A numbered element of a rendered message: what "press 2" refers to."""

    number: int
    type: str
    block_id: str | None
    action_id: str | None
    label: str
    value: str | None = None
    style: str | None = None
    url: str | None = None
    options: tuple[Option, ...] = ()
    element: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    elements: tuple[InteractiveElement, ...]

    def element(self, number: int) -> InteractiveElement:
        """The element shown as ``[number]``."""
        for candidate in self.elements:
            if candidate.number == number:
                return candidate
        shown = ", ".join(f"[{e.number}] {e.label}" for e in self.elements) or "none"
        raise LookupError(f"no element [{number}] in this message (elements: {shown})")


def render_blocks(
    blocks: Sequence[Mapping[str, Any]] | None,
    text: str,
    *,
    resolve_user: Resolver | None = None,
    resolve_channel: Resolver | None = None,
) -> RenderedMessage:
    """Render a message (or view) for a terminal; ``text`` is shown when there are no blocks."""
    renderer = _Renderer(resolve_user, resolve_channel)
    if not blocks:
        return RenderedMessage(renderer.mrkdwn(text), ())
    for block in blocks:
        renderer.block(block)
    return RenderedMessage("\n".join(renderer.lines), tuple(renderer.elements))


def mrkdwn_to_text(
    text: str,
    *,
    resolve_user: Resolver | None = None,
    resolve_channel: Resolver | None = None,
) -> str:
    """Slack mrkdwn to display text: ``<@U1>`` → ``@name``, ``<url|label>`` → ``label (url)``.

    Emphasis markers (``*bold*``, ``_italic_``, ``~strike~``, backticks) are kept as they are.
    """
    return _Renderer(resolve_user, resolve_channel).mrkdwn(text)


def _unescape(text: str) -> str:
    # Slack escapes exactly these three; "&amp;" last so "&amp;lt;" shows as "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain(obj: Any) -> str:
    if isinstance(obj, Mapping):
        value = obj.get("text", "")
        return value if isinstance(value, str) else ""
    return obj if isinstance(obj, str) else ""


def _options(element: Mapping[str, Any]) -> tuple[Option, ...]:
    found: list[Option] = []
    raw_options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        if isinstance(group, Mapping):
            raw_options.extend(group.get("options") or [])
    for option in raw_options:
        if isinstance(option, Mapping):
            found.append(Option(_plain(option.get("text")), str(option.get("value", ""))))
    return tuple(found)


def _selected_values(element: Mapping[str, Any]) -> set[str]:
    chosen: set[str] = set()
    initial = element.get("initial_option")
    if isinstance(initial, Mapping):
        chosen.add(str(initial.get("value", "")))
    for option in element.get("initial_options") or []:
        if isinstance(option, Mapping):
            chosen.add(str(option.get("value", "")))
    return chosen


class _Renderer:
    def __init__(self, resolve_user: Resolver | None, resolve_channel: Resolver | None) -> None:
        self._resolve_user = resolve_user
        self._resolve_channel = resolve_channel
        self.lines: list[str] = []
        self.elements: list[InteractiveElement] = []

    # -- text -------------------------------------------------------------------------------

    def mrkdwn(self, text: str) -> str:
        parts: list[str] = []
        position = 0
        for match in _TOKEN.finditer(text):
            parts.append(_unescape(text[position : match.start()]))
            parts.append(self._token(match.group(1)))
            position = match.end()
        parts.append(_unescape(text[position:]))
        return "".join(parts)

    def text_object(self, obj: Any) -> str:
        if not isinstance(obj, Mapping):
            return ""
        if obj.get("type") == "mrkdwn":
            return self.mrkdwn(_plain(obj))
        return _plain(obj)

    def _user(self, user_id: str, label: str = "") -> str:
        name = self._resolve_user(user_id) if self._resolve_user else None
        return "@" + (name or label or user_id)

    def _channel(self, channel_id: str, label: str = "") -> str:
        name = self._resolve_channel(channel_id) if self._resolve_channel else None
        return "#" + (name or label or channel_id)

    def _token(self, token: str) -> str:
        target, _, label = token.partition("|")
        target, label = _unescape(target), _unescape(label)
        if target.startswith("@"):
            return self._user(target[1:], label)
        if target.startswith("#"):
            return self._channel(target[1:], label)
        if target.startswith("!"):
            return self._special(target[1:], label)
        if not label or target in (label, f"mailto:{label}"):
            return label or target
        return f"{label} ({target})"

    @staticmethod
    def _special(target: str, label: str) -> str:
        kind, _, rest = target.partition("^")
        if kind == "subteam":
            if label:
                return label if label.startswith("@") else "@" + label
            return "@" + rest
        if kind in {"here", "channel", "everyone"}:
            return "@" + kind
        if kind == "date":
            return label or rest.partition("^")[0]
        return label or target

    # -- blocks -----------------------------------------------------------------------------

    def block(self, block: Mapping[str, Any]) -> None:
        kind = block.get("type")
        block_id = block.get("block_id")
        block_id = block_id if isinstance(block_id, str) else None
        if kind == "header":
            self.lines.append(f"== {_plain(block.get('text'))} ==")
        elif kind == "section":
            self._section(block, block_id)
        elif kind == "divider":
            self.lines.append(_DIVIDER)
        elif kind == "context":
            pieces = [self._context_piece(e) for e in block.get("elements") or []]
            self.lines.append("  " + " | ".join(p for p in pieces if p))
        elif kind == "actions":
            self._actions(block, block_id)
        elif kind == "input":
            self._input(block, block_id)
        elif kind == "image":
            title = _plain(block.get("title"))
            alt = block.get("alt_text", "")
            self.lines.append(f"[image: {alt}]" + (f" {title}" if title else ""))
        elif kind == "rich_text":
            for element in block.get("elements") or []:
                self._rich_text_element(element, indent=0)
        elif kind == "markdown":
            self.lines.append(str(block.get("text", "")))
        else:
            self.lines.append(f"[{kind} block]")

    def _section(self, block: Mapping[str, Any], block_id: str | None) -> None:
        if "text" in block:
            self.lines.extend(self.text_object(block["text"]).split("\n"))
        for item in block.get("fields") or []:
            self.lines.append("  " + " ".join(self.text_object(item).split("\n")))
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping):
            if accessory.get("type") == "image":
                self.lines.append(f"  [image: {accessory.get('alt_text', '')}]")
            else:
                self._element(accessory, block_id, indent="  ", label=None)

    def _context_piece(self, element: Any) -> str:
        if not isinstance(element, Mapping):
            return ""
        if element.get("type") == "image":
            return f"[{element.get('alt_text', 'image')}]"
        return self.text_object(element)

    def _actions(self, block: Mapping[str, Any], block_id: str | None) -> None:
        buttons: list[str] = []
        for element in block.get("elements") or []:
            if not isinstance(element, Mapping):
                continue
            if element.get("type") == "button":
                buttons.append(self._register_button(element, block_id))
                continue
            if buttons:
                self.lines.append("  ".join(buttons))
                buttons = []
            self._element(element, block_id, indent="", label=None)
        if buttons:
            self.lines.append("  ".join(buttons))

    def _input(self, block: Mapping[str, Any], block_id: str | None) -> None:
        label = _plain(block.get("label"))
        optional = " (optional)" if block.get("optional") else ""
        self.lines.append(f"{label}{optional}:")
        element = block.get("element")
        if isinstance(element, Mapping):
            self._element(element, block_id, indent="  ", label=label)
        hint = _plain(block.get("hint"))
        if hint:
            self.lines.append(f"  ({hint})")

    def _register(
        self,
        element: Mapping[str, Any],
        block_id: str | None,
        label: str,
        **details: Any,
    ) -> int:
        number = len(self.elements) + 1
        action_id = element.get("action_id")
        self.elements.append(
            InteractiveElement(
                number=number,
                type=str(element.get("type", "")),
                block_id=block_id,
                action_id=action_id if isinstance(action_id, str) else None,
                label=label,
                element=element,
                **details,
            )
        )
        return number

    def _register_button(self, element: Mapping[str, Any], block_id: str | None) -> str:
        label = _plain(element.get("text"))
        style = element.get("style")
        url = element.get("url")
        number = self._register(
            element,
            block_id,
            label,
            value=element.get("value"),
            style=style if isinstance(style, str) else None,
            url=url if isinstance(url, str) else None,
        )
        shown = f"[{number}] {label}"
        if isinstance(style, str):
            shown += f" ({style})"
        if isinstance(url, str):
            shown += f" -> {url}"
        return shown

    def _element(
        self, element: Mapping[str, Any], block_id: str | None, *, indent: str, label: str | None
    ) -> None:
        kind = str(element.get("type", ""))
        if kind == "button":
            self.lines.append(indent + self._register_button(element, block_id))
            return
        placeholder = _plain(element.get("placeholder"))
        title = label or placeholder or kind
        options = _options(element)
        number = self._register(element, block_id, title, options=options)
        if kind in _STATEFUL_TEXT_INPUTS:
            initial = element.get("initial_value")
            shown = str(initial) if initial not in (None, "") else f"<{placeholder or 'text'}>"
            self.lines.append(f"{indent}[{number}] {shown}")
            return
        if kind in {"datepicker", "timepicker", "datetimepicker"}:
            initial = (
                element.get("initial_date") or element.get("initial_time") or element.get("initial_date_time")
            )
            self.lines.append(f"{indent}[{number}] {title}: {initial or '<' + kind + '>'}")
            return
        self.lines.append(f"{indent}[{number}] {title} ({kind})")
        chosen = _selected_values(element)
        for option in options:
            if kind == "checkboxes":
                mark = "[x] " if option.value in chosen else "[ ] "
            elif kind == "radio_buttons":
                mark = "(*) " if option.value in chosen else "( ) "
            else:
                mark = "- "
            suffix = " (selected)" if option.value in chosen and mark == "- " else ""
            self.lines.append(f"{indent}    {mark}{option.label}{suffix}")

    # -- rich text --------------------------------------------------------------------------

    def _rich_text_element(self, element: Any, *, indent: int) -> None:
        if not isinstance(element, Mapping):
            return
        kind = element.get("type")
        pad = "  " * indent
        if kind == "rich_text_section":
            self.lines.extend(pad + line for line in self._inline(element).split("\n"))
        elif kind == "rich_text_list":
            ordered = element.get("style") == "ordered"
            depth = int(element.get("indent", 0) or 0)
            for index, item in enumerate(element.get("elements") or [], start=1):
                bullet = f"{index}. " if ordered else "- "
                text = self._inline(item) if isinstance(item, Mapping) else ""
                self.lines.append("  " * (indent + depth) + bullet + text)
        elif kind == "rich_text_preformatted":
            self.lines.append(pad + "```")
            self.lines.extend(pad + line for line in self._inline(element).split("\n"))
            self.lines.append(pad + "```")
        elif kind == "rich_text_quote":
            self.lines.extend(pad + "> " + line for line in self._inline(element).split("\n"))

    def _inline(self, container: Mapping[str, Any]) -> str:
        pieces: list[str] = []
        for item in container.get("elements") or []:
            if isinstance(item, Mapping):
                pieces.append(self._inline_piece(item))
        return "".join(pieces)

    def _inline_piece(self, item: Mapping[str, Any]) -> str:
        kind = item.get("type")
        if kind == "text":
            text = str(item.get("text", ""))
            raw_style = item.get("style")
            style: Mapping[str, Any] = raw_style if isinstance(raw_style, Mapping) else {}
            core = text.strip()
            if not core:
                return text
            for flag, marker in (("code", "`"), ("strike", "~"), ("italic", "_"), ("bold", "*")):
                if style.get(flag):
                    core = f"{marker}{core}{marker}"
            # Markers hug the words: "* done*" would not read as bold.
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            return f"{lead}{core}{trail}"
        if kind == "link":
            url = str(item.get("url", ""))
            label = str(item.get("text", ""))
            return f"{label} ({url})" if label and label != url else url
        if kind == "user":
            return self._user(str(item.get("user_id", "")))
        if kind == "usergroup":
            return "@" + str(item.get("usergroup_id", ""))
        if kind == "channel":
            return self._channel(str(item.get("channel_id", "")))
        if kind == "emoji":
            return f":{item.get('name', '')}:"
        if kind == "broadcast":
            return "@" + str(item.get("range", ""))
        if kind == "date":
            return str(item.get("fallback", item.get("timestamp", "")))
        return ""
