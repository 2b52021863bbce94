"""Filling in a modal from the local shell: what each field holds, and `:set FIELD VALUE` as text.

A field is named by its number in the rendered form, by the start of its label (`users`, `product`,
`what`, `services`) or by its action id. Values are typed the way a person would pick them: people
as `@alice` or emails, an option by (part of) its label or its value, checkboxes as
`-Sway, +Teams` (untick, tick) or `all` / `none`. What Slack keeps across an update of the form
(a field whose block and action ids did not change) is kept here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.local_slack import InteractiveElement, Option, View, render_blocks
from domain.wording import quoted

__all__ = ["Form", "FormField"]

Selection = str | list[str] | None

_MULTI = {"multi_users_select", "multi_static_select", "multi_conversations_select", "multi_channels_select"}
_SINGLE = {"static_select", "radio_buttons", "users_select", "conversations_select", "channels_select"}
_TEXT = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}


@dataclass(frozen=True)
class FormField:
    number: int
    block_id: str
    action_id: str
    type: str
    label: str
    options: tuple[Option, ...]
    dispatches: bool
    """Choosing sends an action at once (`dispatch_action`), as the product select does."""

    @property
    def multiple(self) -> bool:
        return self.type in _MULTI or self.type == "checkboxes"


@dataclass
class Form:
    """An open modal and what the person has entered in it so far."""

    view: View
    fields: list[FormField] = field(default_factory=list)
    values: dict[str, Selection] = field(default_factory=dict)

    @classmethod
    def of(cls, view: View, previous: Form | None = None) -> Form:
        rendered = render_blocks(view.blocks, "")
        dispatching = {str(b.get("block_id")) for b in view.blocks if b.get("dispatch_action")}
        inputs = {str(b.get("block_id")) for b in view.blocks if b.get("type") == "input"}
        form = cls(view)
        kept = {(f.block_id, f.action_id) for f in previous.fields} if previous else set()
        for element in rendered.elements:
            if element.block_id not in inputs or not element.action_id:
                continue
            entry = FormField(
                element.number,
                element.block_id or "",
                element.action_id,
                element.type,
                element.label,
                element.options,
                element.block_id in dispatching,
            )
            form.fields.append(entry)
            if previous is not None and (entry.block_id, entry.action_id) in kept:
                form.values[entry.action_id] = previous.values.get(entry.action_id)
            else:
                form.values[entry.action_id] = _initial(element)
        return form

    def named(self, name: str) -> list[FormField]:
        """The fields a name stands for: a number, the start of labels, or an action id."""
        wanted = name.strip().casefold()
        if wanted.isdigit():
            return [f for f in self.fields if f.number == int(wanted)]
        by_label = [f for f in self.fields if f.label.casefold().startswith(wanted)]
        return by_label or [f for f in self.fields if f.action_id.casefold() == wanted]

    def choose(self, fields: Sequence[FormField], text: str, person: Callable[[str], str | None]) -> None:
        """Set `fields` from what was typed; `ValueError` with what is wrong, nothing set then."""
        if fields[0].type == "checkboxes":
            self._tick(fields, text)
            return
        entry = fields[0]
        if entry.type in _MULTI and entry.type.endswith("users_select"):
            self.values[entry.action_id] = _people(text, person)
        elif entry.type in _SINGLE and entry.type == "users_select":
            self.values[entry.action_id] = _people(text, person)[0]
        elif entry.type in _SINGLE | _MULTI:
            picks = (
                [_option(entry, part) for part in _parts(text)] if entry.multiple else [_option(entry, text)]
            )
            self.values[entry.action_id] = picks if entry.multiple else picks[0]
        elif entry.type in _TEXT:
            self.values[entry.action_id] = text
        else:
            raise ValueError(f"{entry.label} cannot be filled in from the shell ({entry.type}).")

    def summary(self, name_of: Callable[[str], str | None]) -> str:
        """What the form holds now, a field a line; a product's checkbox groups as one line."""
        rows: list[tuple[str, str | None]] = []  # (line, or the checkbox group it stands for)
        off: dict[str, list[str]] = {}
        for entry in self.fields:
            value = self.values.get(entry.action_id)
            if entry.type != "checkboxes":
                rows.append((f"  {entry.label}: {_shown(entry, value, name_of)}", None))
                continue
            group = entry.label.split(" (")[0]
            if group not in off:
                off[group] = []
                rows.append(("", group))
            off[group] += [o.label for o in entry.options if o.value not in (value or [])]
        return "\n".join(
            line
            if group is None
            else f"  {group}: " + (", ".join(off[group]) + " off" if off[group] else "all on")
            for line, group in rows
        )

    def _tick(self, fields: Sequence[FormField], text: str) -> None:
        wanted = text.strip().casefold()
        if wanted in {"all", "none"}:
            for entry in fields:
                self.values[entry.action_id] = [o.value for o in entry.options] if wanted == "all" else []
            return
        staged = {f.action_id: list(self.values.get(f.action_id) or []) for f in fields}
        for part in _parts(text):
            sign, name = ("-", part[1:]) if part.startswith("-") else ("+", part.lstrip("+"))
            hits = [(f, o) for f in fields for o in f.options if _matches(o, name)]
            exact = [(f, o) for f, o in hits if o.label.casefold() == name.strip().casefold()]
            hits = exact or hits
            if not hits:
                raise ValueError(
                    f"No {fields[0].label.split(' (')[0].lower()} matches {quoted(name.strip())}."
                )
            if len({o.value for _, o in hits}) > 1:
                names = ", ".join(o.label for _, o in hits[:6])
                raise ValueError(f"{quoted(name.strip())} could be several: {names}. Say which.")
            entry, option = hits[0]
            chosen = staged[entry.action_id]
            if sign == "+" and option.value not in chosen:
                chosen.append(option.value)
            if sign == "-" and option.value in chosen:
                chosen.remove(option.value)
        self.values.update(staged)


def _initial(element: InteractiveElement) -> Selection:
    raw: Mapping[str, Any] = element.element
    if element.type in _MULTI and element.type.endswith("users_select"):
        return [str(u) for u in raw.get("initial_users") or []]
    if element.type == "checkboxes" or element.type in _MULTI:
        return [str(o.get("value")) for o in raw.get("initial_options") or [] if isinstance(o, Mapping)]
    if element.type in _SINGLE:
        initial = raw.get("initial_option")
        if isinstance(initial, Mapping):
            return str(initial.get("value"))
        user = raw.get("initial_user")
        return str(user) if user else None
    if element.type in _TEXT:
        value = raw.get("initial_value")
        return str(value) if value else None
    return None


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _people(text: str, person: Callable[[str], str | None]) -> list[str]:
    found: list[str] = []
    for word in text.replace(",", " ").split():
        user_id = person(word)
        if user_id is None:
            raise ValueError(f"No one in the tenant is {quoted(word)}: use @name or an email address.")
        found.append(user_id)
    if not found:
        raise ValueError("Name at least one person: @alice @bob, or email addresses.")
    return found


def _matches(option: Option, name: str) -> bool:
    wanted = name.strip().casefold()
    return bool(wanted) and (option.value.casefold() == wanted or wanted in option.label.casefold())


def _option(entry: FormField, text: str) -> str:
    wanted = text.strip().casefold()
    for test in (
        lambda o: o.value.casefold() == wanted,
        lambda o: o.label.casefold() == wanted,
        lambda o: o.label.casefold().startswith(wanted),
        lambda o: wanted in o.label.casefold().replace("·", " ").split(),
        lambda o: wanted in o.label.casefold(),
    ):
        hits = [o for o in entry.options if test(o)]
        if len(hits) == 1:
            return hits[0].value
        if len(hits) > 1:
            names = ", ".join(o.label for o in hits[:6])
            raise ValueError(f"{quoted(text.strip())} could be several: {names}. Say which.")
    names = ", ".join(o.label for o in entry.options[:10])
    raise ValueError(f"{entry.label} has no {quoted(text.strip())}; it offers: {names}.")


def _shown(entry: FormField, value: Selection, name_of: Callable[[str], str | None]) -> str:
    if value in (None, "", []):
        return "(empty)"
    values = value if isinstance(value, list) else [value]
    if entry.type.endswith("users_select"):
        return ", ".join("@" + (name_of(v) or v) for v in values)
    labels = {o.value: o.label for o in entry.options}
    return ", ".join(labels.get(v, v) for v in values)
