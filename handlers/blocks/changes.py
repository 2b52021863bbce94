"""License changes: the preview with Confirm / Cancel, the progress message, and the result per user
with Retry and Undo.

Every builder renders from the change set alone: it carries a snapshot of the names, seats and
service plans of every product it touches, so no reply reads the tenant again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
    PlainTextObject,
)

from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    UserChange,
    reference_of,
)
from handlers.blocks.groups import group_change_preview, group_change_result
from handlers.blocks.message import Message, context, header, message, section, sections
from handlers.blocks.text import CONFIRM_TEXT_LIMIT, bar, clip, escape, plural, shorten_list
from handlers.ids import (
    CANCEL_CHANGE,
    CHANGE_ACTIONS_BLOCK,
    CONFIRM_CHANGE,
    RESULT_ACTIONS_BLOCK,
    RETRY_FAILED,
    UNDO_CHANGE,
)

__all__ = [
    "change_applying",
    "change_cancelled",
    "change_preview",
    "change_progress",
    "change_result",
    "change_status",
    "describe_change",
    "preview_fits",
    "result_buttons",
    "result_fits",
    "result_note",
]

SHOWN_USERS = 25
"""Users listed by name in a preview or a result; the rest are counted (and go in a CSV)."""
SHOWN_REFUSALS = 10
SHOWN_UNCHANGED = 10
SHOWN_FAILURES = 30
_LINE_LIMIT = 600


@dataclass(frozen=True, slots=True)
class _Words:
    verb: str
    done: str
    preview: str
    applying: str


_WORDS = {
    ChangeKind.ASSIGN: _Words("assign", "assigned", "Preview: assign licenses", "Assigning licenses"),
    ChangeKind.REPLACE: _Words("replace", "replaced", "Preview: replace licenses", "Replacing licenses"),
    ChangeKind.REMOVE: _Words("remove", "removed", "Preview: remove licenses", "Removing licenses"),
    ChangeKind.SERVICES: _Words(
        "change services of", "services changed", "Preview: change services", "Changing services"
    ),
    ChangeKind.UNDO: _Words("undo", "undone", "Preview: undo a change", "Undoing a change"),
    ChangeKind.RECLAIM: _Words("reclaim", "reclaimed", "Preview: reclaim licenses", "Reclaiming licenses"),
}

_OUTCOME = {
    ItemStatus.APPLIED: ":white_check_mark:",
    ItemStatus.ALREADY_APPLIED: ":white_check_mark:",
    ItemStatus.CONFLICT: ":warning:",
    ItemStatus.FAILED: ":x:",
    ItemStatus.PLANNED: ":hourglass:",
    ItemStatus.SENDING: ":hourglass:",
}
_NOT_CHANGED = {ItemStatus.FAILED, ItemStatus.CONFLICT}


@dataclass(frozen=True, slots=True)
class _SeatChange:
    label: str
    before: int
    after: int
    total: int


def preview_fits(change_set: ChangeSet) -> bool:
    """Whether a preview names every user, refusal and unchanged user (else: the CSV in its thread)."""
    return (
        len(change_set.items) <= SHOWN_USERS
        and len(change_set.refused) <= SHOWN_REFUSALS
        and len(change_set.unchanged) <= SHOWN_UNCHANGED
    )


def result_fits(change_set: ChangeSet) -> bool:
    """Whether a result names every user (else: the CSV in its thread)."""
    failed = sum(1 for item in change_set.items if item.status in _NOT_CHANGED)
    return failed <= SHOWN_FAILURES and len(change_set.items) - failed <= SHOWN_USERS


def change_preview(change_set: ChangeSet, *, shared: bool = False, csv_in_thread: bool = False) -> Message:
    """Counts (gain, lose, unchanged, refused), the first users by name with what they gain and lose,
    seats before → after, who is left out and why; Confirm / Cancel.

    `shared`: posted in the channel for everyone (a bulk change), not only to the requester.
    """
    if change_set.group_id:
        return group_change_preview(change_set, _preview_buttons(change_set, "the group"))
    words = _WORDS[change_set.kind]
    product = escape(change_set.product_label)
    users = plural(len(change_set.items), "user")
    blocks: list[Block] = [
        header(words.preview),
        section(_summary(change_set, users) + "\n" + _tally(change_set)),
    ]
    lines = [_user_line(item.change, change_set) for item in change_set.items]
    more = "… and {n} more users" + (" (every one in the CSV in this thread)" if csv_in_thread else "")
    blocks += sections(shorten_list(lines, SHOWN_USERS, more))
    seats = _seat_changes(change_set)
    if seats:
        blocks += sections(["*Seats*", *(_seat_line(s) for s in seats)])
    if change_set.notes:
        kept = [_named_line(name, note) for name, note in change_set.notes]
        title = f"*Kept through a group ({len(change_set.notes):,})*"
        blocks += sections([title, *shorten_list(kept, SHOWN_REFUSALS, "… and {n} more")])
    if change_set.refused:
        refused = [_named_line(name, reason) for name, reason in change_set.refused]
        title = f":warning: *Left out ({len(change_set.refused):,})*: nothing will change for them"
        blocks += sections([title, *shorten_list(refused, SHOWN_REFUSALS, "… and {n} more")])
    if change_set.unchanged:
        same = [_named_line(name, reason) for name, reason in change_set.unchanged]
        title = f"*Unchanged ({len(change_set.unchanged):,})*: they already are as asked"
        blocks += sections([title, *shorten_list(same, SHOWN_UNCHANGED, "… and {n} more")])
    notes = [
        f"Nothing changes until you press Confirm. This preview expires at {_utc(change_set.expires_at)}."
    ]
    if shared:
        why = (
            "so that the full list can go in its thread as a CSV"
            if csv_in_thread
            else "so that it has a thread"
        )
        notes.append(
            f"Posted in the channel, not only to you, because it names many people ({why}); "
            f"only {escape(change_set.requested_by)} can confirm it."
        )
    blocks.append(context(" ".join(notes)))
    blocks.append(_preview_buttons(change_set, users))
    return message(f"Preview: {words.verb} {product} for {users}. Confirm or cancel.", blocks)


def change_applying() -> Message:
    """What replaces the preview as soon as Confirm is pressed (its buttons go with it)."""
    return message(
        "Applying the change…",
        [section(":hourglass_flowing_sand: Applying the change… the result will appear here.")],
    )


def change_progress(change_set: ChangeSet) -> Message:
    """A bulk change while it is written: how far it is, updated in place."""
    if change_set.group_id:
        name = escape(change_set.items[0].change.display_name)
        return message(
            f"Changing the license of the group {change_set.items[0].change.display_name}…",
            [section(f":hourglass_flowing_sand: Changing the license of the group *{name}*…")],
        )
    words = _WORDS[change_set.kind]
    counts = Counter(item.status for item in change_set.items)
    total = len(change_set.items)
    done = total - counts[ItemStatus.PLANNED] - counts[ItemStatus.SENDING]
    succeeded = counts[ItemStatus.APPLIED] + counts[ItemStatus.ALREADY_APPLIED]
    not_changed = counts[ItemStatus.FAILED] + counts[ItemStatus.CONFLICT]
    product = escape(change_set.product_label)
    lines = [
        f"*{product}*: {done:,} of {plural(total, 'user')} done",
        f"`{bar(done, total, 20)}`",
        f"{succeeded:,} changed · {not_changed:,} not changed so far",
    ]
    blocks: list[Block] = [
        header(f"{words.applying}…"),
        section("\n".join(lines)),
        context("This message is updated as it goes; the result per user will appear here."),
    ]
    return message(f"{words.applying}: {done:,} of {total:,} done.", blocks)


def change_result(change_set: ChangeSet, *, csv_in_thread: bool = False) -> Message:
    """The outcome per user, with counts; failures first, with their reason; Retry and Undo."""
    if change_set.group_id:
        return group_change_result(change_set, _result_buttons(change_set, 0), result_note(change_set))
    words = _WORDS[change_set.kind]
    counts = Counter(item.status for item in change_set.items)
    succeeded = counts[ItemStatus.APPLIED] + counts[ItemStatus.ALREADY_APPLIED]
    product = escape(change_set.product_label)
    summary = [f"*{product}* {words.done} for {succeeded:,} of {plural(len(change_set.items), 'user')}."]
    if change_set.kind is ChangeKind.SERVICES and _services_changed(change_set):
        summary[0] = summary[0][:-1] + f": {escape(_services_changed(change_set))}."
    tally = [
        f"{counts[ItemStatus.APPLIED]:,} applied",
        f"{counts[ItemStatus.ALREADY_APPLIED]:,} already so",
        f"{counts[ItemStatus.CONFLICT]:,} changed by someone else",
        f"{counts[ItemStatus.FAILED]:,} failed",
    ]
    unfinished = counts[ItemStatus.PLANNED] + counts[ItemStatus.SENDING]
    if unfinished:
        tally.append(f"{unfinished:,} still in progress")
    summary.append(" · ".join(tally))
    title = _result_title(change_set, succeeded == len(change_set.items))
    blocks: list[Block] = [header(title), section("\n".join(summary))]
    failed = [item for item in change_set.items if item.status in _NOT_CHANGED]
    csv_note = " (every one in the CSV in this thread)" if csv_in_thread else ""
    if failed:
        lines = [_failure_line(item) for item in failed]
        more = "… and {n} more not changed" + csv_note
        blocks += sections(["*Not changed*", *shorten_list(lines, SHOWN_FAILURES, more)])
    ok = [item for item in change_set.items if item.status not in _NOT_CHANGED]
    if ok:
        lines = [f"{_OUTCOME[item.status]} {_user_line(item.change, change_set)}" for item in ok]
        blocks += sections(
            ["*Changed*", *shorten_list(lines, SHOWN_USERS, "… and {n} more users" + csv_note)]
        )
    notes: list[str] = []
    if change_set.refused:
        notes.append(f"{plural(len(change_set.refused), 'user')} left out at the preview.")
    if change_set.unchanged:
        notes.append(f"{plural(len(change_set.unchanged), 'user')} already as asked, unchanged.")
    if change_set.undo_of:
        notes.append(f"Undoes change `{reference_of(change_set.undo_of)}`.")
    notes.append(result_note(change_set))
    blocks.append(context(" ".join(notes)))
    buttons = _result_buttons(change_set, len(failed))
    if buttons is not None:
        blocks.append(buttons)
    text = f"{product} {words.done}: {', '.join(tally)}."
    return message(text, blocks)


def result_note(change_set: ChangeSet) -> str:
    """The change's short reference (which `/license status` and `/license undo` take), that it is
    audited, and until when Undo works."""
    reference = change_set.reference
    note = f"Change `{reference}` · audited · `/license status {reference}` shows it again."
    if change_set.undoable_until is not None and _can_undo(change_set):
        until = _utc(change_set.undoable_until)
        note += f" Undo works until {until} (the button, or `/license undo {reference}`)."
    return note


def result_buttons(change_set: ChangeSet) -> ActionsBlock | None:
    """Undo (and Retry, for failures) under a result."""
    return _result_buttons(change_set, 0 if change_set.group_id else len(change_set.failed_items))


def change_status(change_set: ChangeSet) -> Message:
    """`/license status REF`: the change as it stands, as its own message showed it."""
    if change_set.state is ChangeState.PREVIEWED:
        return change_preview(change_set)
    if change_set.state in {ChangeState.CANCELLED, ChangeState.EXPIRED}:
        return change_cancelled(change_set)
    return change_result(change_set)


def change_cancelled(change_set: ChangeSet) -> Message:
    verb = _WORDS[change_set.kind].verb
    users = plural(len(change_set.items), "user")
    product = escape(change_set.product_label)
    return message(
        f"Cancelled: nothing was changed ({verb} {product} for {users}).",
        [section(f":no_entry_sign: Cancelled: nothing was changed ({verb} *{product}* for {users}).")],
    )


def describe_change(change: UserChange, change_set: ChangeSet) -> str:
    """What one user gains, loses and keeps, as plain (unescaped) text: `loses E3; gains E5 (Sway off)`."""
    parts: list[str] = []
    kept = set(_group_sources(change_set)[0].get(change.user_id, ()))
    lost = [change_set.label(sku) for sku in change.remove if sku not in kept]
    if lost:
        parts.append(f"loses {', '.join(lost)}")
    parts += [
        f"loses the direct assignment of {change_set.label(sku)} (keeps it through a group)"
        for sku in change.remove
        if sku in kept
    ]
    gained = set(change.gained)
    for lic in change.add:
        name = change_set.label(lic.sku_id)
        off = _plans_off(lic.sku_id, lic.disabled_plans, change_set)
        suffix = f" ({off} off)" if off else ""
        parts.append(f"gains {name}{suffix}" if lic.sku_id in gained else f"keeps {name}{suffix}")
    return "; ".join(parts) or "no change"


def _result_title(change_set: ChangeSet, all_ok: bool) -> str:
    if change_set.kind is ChangeKind.UNDO:
        return "Change undone" if all_ok else "Change undone, with problems"
    if change_set.kind is ChangeKind.RECLAIM:
        return "Licenses reclaimed" if all_ok else "Licenses reclaimed, with problems"
    done = _WORDS[change_set.kind].done
    title = f"Licenses {done}"
    if change_set.kind is ChangeKind.SERVICES:
        title = f"Services of {change_set.product_label} changed"
    return title if all_ok else f"{title}, with problems"


def _summary(change_set: ChangeSet, users: str) -> str:
    product = escape(change_set.product_label)
    if change_set.kind is ChangeKind.REPLACE:
        return (
            f"*{users}* will get *{product}* in place of every license they hold now, in one step per user."
        )
    if change_set.kind is ChangeKind.REMOVE:
        return f"*{users}* will lose *{product}* and every service that comes with it."
    if change_set.kind is ChangeKind.SERVICES:
        which = _services_changed(change_set) or "the services chosen turned on or off"
        return f"*{users}* will get services of *{product}* changed: {escape(which)}."
    if change_set.kind is ChangeKind.RECLAIM:
        return (
            f"*{product}*: *{users}* will lose every license assigned to them, and the seats go back "
            "to the pool for others."
        )
    if change_set.kind is ChangeKind.UNDO:
        return (
            f"*{users}* will get back exactly what they held before change "
            f"`{reference_of(change_set.undo_of)}` "
            f"({product}), licenses and services."
        )
    return f"*{users}* will get *{product}* in addition to what they hold."


def _tally(change_set: ChangeSet) -> str:
    gain = sum(1 for item in change_set.items if item.change.gained)
    kept = _group_sources(change_set)[0]
    lose = sum(
        1 for item in change_set.items if set(item.change.remove) - set(kept.get(item.change.user_id, ()))
    )
    services = sum(1 for item in change_set.items if not item.change.gained and not item.change.remove)
    parts = [f"Gain a license: *{gain:,}*", f"lose one: *{lose:,}*"]
    if services:
        parts.append(f"services only: *{services:,}*")
    parts += [f"unchanged: *{len(change_set.unchanged):,}*", f"refused: *{len(change_set.refused):,}*"]
    return " · ".join(parts)


def _user_line(change: UserChange, change_set: ChangeSet) -> str:
    who = f"*{escape(change.display_name)}* ({escape(change.user_principal_name)})"
    return clip(f"• {who}: {escape(describe_change(change, change_set))}", _LINE_LIMIT)


def _named_line(name: str, reason: str) -> str:
    """`• *Nora Lee* has no usage location…`: the name once, though the reason starts with it too."""
    rest = _after_name(name, reason)
    if rest is not None:
        return clip(f"• *{escape(name)}*{escape(rest)}", _LINE_LIMIT)
    return clip(f"• *{escape(name)}*: {escape(reason)}", _LINE_LIMIT)


def _after_name(name: str, reason: str) -> str | None:
    """What follows `name` when the reason (a domain error's sentence) starts with it, else None."""
    if name and (reason.startswith(f"{name} ") or reason.startswith(f"{name}'s ")):
        return reason[len(name) :]
    return None


def _failure_line(item: ChangeItem) -> str:
    reason = item.reason or item.status.value
    who = f"{_OUTCOME[item.status]} *{escape(item.change.display_name)}*"
    upn = escape(item.change.user_principal_name)
    rest = _after_name(item.change.display_name, reason)
    if rest is not None and rest.startswith(" "):  # not "(upn)'s licenses"
        return clip(f"{who} ({upn}){escape(rest)}", _LINE_LIMIT)
    return clip(f"{who} {upn}: {escape(reason)}", _LINE_LIMIT)


def _services_changed(change_set: ChangeSet) -> str:
    """`Microsoft Teams turned off, Sway turned on`: what a services change does, by service name."""
    snapshot = change_set.products.get(change_set.product_sku)
    if snapshot is None:
        return ""
    parts = []
    if change_set.turn_off:
        parts.append(f"{', '.join(snapshot.plan_names(frozenset(change_set.turn_off)))} turned off")
    if change_set.turn_on:
        parts.append(f"{', '.join(snapshot.plan_names(frozenset(change_set.turn_on)))} turned on")
    return ", ".join(parts)


def _plans_off(sku_id: str, disabled: frozenset[str], change_set: ChangeSet) -> str:
    snapshot = change_set.products.get(sku_id)
    if snapshot is None or not disabled:
        return ""
    return ", ".join(snapshot.plan_names(disabled))


def _seat_changes(change_set: ChangeSet) -> list[_SeatChange]:
    delta: Counter[str] = Counter()
    kept, held = _group_sources(change_set)
    for item in change_set.items:
        user = item.change.user_id
        # R21: one seat per user and product, whatever the sources.
        delta.update(sku for sku in item.change.gained if sku not in held.get(user, ()))
        delta.subtract(sku for sku in item.change.remove if sku not in kept.get(user, ()))
    changes: list[_SeatChange] = []
    for sku, moved in delta.items():
        if moved == 0:
            continue
        snapshot = change_set.products.get(sku)
        if snapshot is not None:
            before, total = snapshot.seats_consumed, snapshot.seats_enabled
        elif sku == change_set.product_sku:
            before, total = change_set.seats_before, change_set.seats_total
        else:
            continue
        changes.append(_SeatChange(change_set.label(sku), before, before + moved, total))
    return changes


def _group_sources(change_set: ChangeSet) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per user, the products a group keeps giving them (`kept`) or gives them already (`held`)."""
    if change_set.group_id:
        return {}, {}
    return dict(change_set.details.get("kept", {})), dict(change_set.details.get("held", {}))


def _seat_line(seats: _SeatChange) -> str:
    free = seats.total - seats.after
    after = f"{free:,} free after" if free >= 0 else f":warning: {-free:,} short"
    return f"• *{escape(seats.label)}*: {seats.before:,} → {seats.after:,} used of {seats.total:,} ({after})"


def _preview_buttons(change_set: ChangeSet, users: str) -> ActionsBlock:
    verb = _WORDS[change_set.kind].verb
    dialog = clip(
        f"{verb.capitalize()} {escape(change_set.product_label)} for {users}? "
        + ("They lose what the preview shows." if change_set.kind.removes_access else ""),
        CONFIRM_TEXT_LIMIT,
    )
    return ActionsBlock(
        block_id=CHANGE_ACTIONS_BLOCK,
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Confirm"),
                action_id=CONFIRM_CHANGE,
                value=change_set.id,
                style="primary",
                confirm=ConfirmObject(
                    title=PlainTextObject(text="Apply this change?"),
                    text=MarkdownTextObject(text=dialog),
                    confirm=PlainTextObject(text="Apply"),
                    deny=PlainTextObject(text="Back"),
                ),
            ),
            ButtonElement(text=PlainTextObject(text="Cancel"), action_id=CANCEL_CHANGE, value=change_set.id),
        ],
    )


def _can_undo(change_set: ChangeSet) -> bool:
    return change_set.undoable_until is not None and any(
        item.status is ItemStatus.APPLIED for item in change_set.items
    )


def _result_buttons(change_set: ChangeSet, failed: int) -> ActionsBlock | None:
    elements: list[ButtonElement] = []
    if failed:
        elements.append(
            ButtonElement(
                text=PlainTextObject(text=f"Retry the failed ones ({failed:,})"),
                action_id=RETRY_FAILED,
                value=change_set.id,
            )
        )
    if _can_undo(change_set):
        elements.append(
            ButtonElement(text=PlainTextObject(text="Undo"), action_id=UNDO_CHANGE, value=change_set.id)
        )
    return ActionsBlock(block_id=RESULT_ACTIONS_BLOCK, elements=elements) if elements else None


def _utc(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%H:%M} UTC"
