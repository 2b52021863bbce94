"""Microsoft Entra groups' own licenses (R21): `/license show group:NAME`, the preview of a change
to a group's license (what it does to the members), its result, and processing followed in place.

Group licensing is asynchronous: a group's license is written at once, and Microsoft 365 then
processes each member. The result message says so and is updated until processing is complete,
then lists the members left in an error state, each with the reason and its fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, PlainTextObject

from domain.application.results import GroupOverview
from domain.changes import ChangeKind, ChangeSet, ItemStatus, reference_of
from domain.group_licensing import AmbiguousGroup, GroupPreview, member_error
from domain.model import LicenseAssignment, ProcessingState, Product, User
from handlers.blocks.message import Message, context, header, message, section, sections
from handlers.blocks.text import clip, escape, plural, shorten_list
from handlers.ids import PICK_GROUP

__all__ = [
    "SHOWN_MEMBER_ERRORS",
    "MemberError",
    "group_change_preview",
    "group_change_result",
    "group_overview",
    "group_processing",
    "member_errors",
]

SHOWN_MEMBERS = 25
SHOWN_MEMBER_ERRORS = 20
"""Members in error listed in the message; more go in a CSV in its thread."""
_LINE_LIMIT = 600

MemberError = tuple[str, str, str, str]
"""(member, product, problem, fix)."""

_VERBS = {
    ChangeKind.ASSIGN: ("assign", "now has"),
    ChangeKind.REPLACE: ("replace", "now has only"),
    ChangeKind.REMOVE: ("remove", "no longer has"),
    ChangeKind.UNDO: ("undo", "is back to"),
}


def group_overview(overview: GroupOverview) -> Message:
    """The group's products with services turned off, members, processing state, members in error."""
    group = overview.group
    name = escape(group.display_name)
    facts = [
        f"*{name}* · Microsoft Entra group · {plural(len(overview.members), 'member')}",
        f"License processing: {_processing(group.processing)}",
    ]
    blocks: list[Block] = [header("Group licenses"), section("\n".join(facts))]
    if group.licenses:
        lines = [_license_line(lic, overview.products, len(overview.members)) for lic in group.licenses]
        blocks += sections(lines)
    else:
        blocks.append(section("This group gives no license."))
    if overview.in_error:
        errors = member_errors(group.id, overview.in_error, overview.products, group.display_name)
        lines = [_error_line(entry) for entry in errors]
        title = f":warning: *Members in error ({len(overview.in_error):,})*"
        blocks += sections([title, *shorten_list(lines, SHOWN_MEMBER_ERRORS, "… and {n} more")])
    elif group.licenses:
        blocks.append(section("No member is in error."))
    blocks.append(
        context(
            "Members get the group's licenses from Microsoft 365, a while after each change. "
            "Change them with `/license assign|replace|remove group:NAME PRODUCT`."
        )
    )
    return message(f"{group.display_name}: {plural(len(group.licenses), 'license')}", blocks)


def group_change_preview(change_set: ChangeSet, buttons: ActionsBlock) -> Message:
    """Who among the members gains or loses what, seats before and after, who will end in error."""
    preview = GroupPreview.from_json(change_set.details)
    [item] = change_set.items
    name = escape(item.change.display_name)
    verb, _ = _VERBS.get(change_set.kind, ("change", "now has"))
    product = escape(change_set.product_label)
    summary = _group_summary(change_set, name, product)
    members = plural(preview.members, "member")
    blocks: list[Block] = [header(f"Preview: {verb} a group's license")]
    if change_set.details:
        blocks.append(section(f"{summary}\nThe group has {members}: " + _tally(preview)))
    else:
        before = escape(_licenses_text(item.change.before, change_set))
        after = escape(_licenses_text(item.change.after, change_set))
        blocks.append(
            section(f"{summary}\nIts licenses: {before} → {after}. Every member follows, once processed.")
        )
    lines = [f"• *{escape(who)}* gains {escape(what)}" for who, what in preview.gains]
    lines += [f"• *{escape(who)}* loses {escape(what)}" for who, what in preview.loses]
    if lines:
        blocks += sections(shorten_list(lines, SHOWN_MEMBERS, "… and {n} more members"))
    if preview.seats:
        seats = [
            f"• *{escape(label)}*: {before:,} → {after:,} of {total:,} seats used"
            + (" :warning: more than there are" if after > total else "")
            for label, before, after, total in preview.seats
        ]
        blocks += sections(["*Seats*", *seats])
    if preview.errors:
        title = (
            f":warning: *Will end in an error ({len(preview.errors):,})*: Microsoft 365 applies the "
            "change to the other members and leaves these in an error state until it is fixed"
        )
        errors = [_error_line(entry) for entry in preview.errors]
        blocks += sections([title, *shorten_list(errors, SHOWN_MEMBER_ERRORS, "… and {n} more")])
    if preview.no_location:
        names = ", ".join(escape(n) for n in preview.no_location[:10])
        more = f" and {len(preview.no_location) - 10:,} more" if len(preview.no_location) > 10 else ""
        blocks.append(
            section(
                f"{names}{more} {'has' if len(preview.no_location) == 1 else 'have'} no usage location: "
                f"with a group's license Microsoft 365 uses the organization's ({escape(preview.country)})."
            )
        )
    blocks.append(
        context(
            "Nothing changes until you press Confirm. It reaches every member of the group, a while "
            "after it is written: this message then follows it until Microsoft 365 is done."
        )
    )
    blocks.append(buttons)
    return message(f"Preview: {verb} {product} for the group {name}. Confirm or cancel.", blocks)


def group_change_result(change_set: ChangeSet, buttons: ActionsBlock | None, note: str) -> Message:
    """The group's write, done (or not), before its members are processed."""
    [item] = change_set.items
    name = escape(item.change.display_name)
    product = escape(change_set.product_label)
    _, done = _VERBS.get(change_set.kind, ("change", "now has"))
    if item.status in {ItemStatus.APPLIED, ItemStatus.ALREADY_APPLIED}:
        title = "Group license changed"
        what = (
            _licenses_text(item.change.after, change_set)
            if change_set.kind is not ChangeKind.REMOVE
            else product
        )
        text = f":white_check_mark: The group *{name}* {done} *{escape(what)}*."
        follow = (
            "Microsoft 365 is now processing its members: this message follows it and lists the "
            "members left in an error state, with how to fix each."
        )
    else:
        title = "Group license not changed"
        text = f":x: The group *{name}* was not changed: {escape(item.reason or item.status.value)}"
        follow = ""
    blocks: list[Block] = [header(title), section(clip(text, 2900))]
    if follow:
        blocks.append(section(follow))
    blocks.append(context(note))
    if buttons is not None:
        blocks.append(buttons)
    return message(clip(f"{title}: {item.change.display_name}", 300), blocks)


def group_processing(
    change_set: ChangeSet,
    processing: ProcessingState,
    errors: Sequence[MemberError],
    *,
    buttons: ActionsBlock | None,
    note: str,
    stalled: bool = False,
    ended: bool = False,
    csv_in_thread: bool = False,
) -> Message:
    """The group change's message while Microsoft 365 processes the members, once it is done, and
    once it is no longer followed (`ended`: the follow window ran out before it was done)."""
    [item] = change_set.items
    name = escape(item.change.display_name)
    product = escape(change_set.product_label)
    _, done = _VERBS.get(change_set.kind, ("change", "now has"))
    complete = processing is ProcessingState.COMPLETE
    blocks: list[Block] = [
        header("Group license changed" if complete else "Group license: processing members")
    ]
    lines = [f":white_check_mark: The group *{name}* {done} *{product}*."]
    if complete:
        lines.append(
            ":white_check_mark: Microsoft 365 has processed every member."
            if not errors
            else f":warning: Microsoft 365 has processed the members: {plural(len(errors), 'member')} "
            "left in an error state (below), every other member has it."
        )
    elif ended:
        lines.append(
            f":hourglass: Microsoft 365 has not finished processing the group {name} yet, and this "
            f'message stops following it. `/license show group:"{name}"` shows where it stands and who '
            "is in error; if it stays stuck, check the group in the Microsoft Entra admin center "
            "(Licenses) and reprocess it there."
        )
    elif stalled:
        lines.append(
            f":hourglass: {_working(processing)} It is taking a long while. It "
            "usually finishes on its own; if it does not, check the group in the Microsoft Entra admin "
            "center (Licenses) and reprocess it there. This message keeps following it."
        )
    else:
        lines.append(f":hourglass_flowing_sand: {_working(processing)}")
    blocks.append(section("\n".join(lines)))
    if complete and errors:
        shown = [_error_line(entry) for entry in errors]
        more = "… and {n} more" + (" (every one in the CSV in this thread)" if csv_in_thread else "")
        blocks += sections(["*Members in error*", *shorten_list(shown, SHOWN_MEMBER_ERRORS, more)])
    blocks.append(context(note))
    if buttons is not None:
        blocks.append(buttons)
    state = "processed" if complete else ("no longer followed" if ended else "processing")
    return message(f"Group {item.change.display_name}: {state}.", blocks)


def member_errors(
    group_id: str, members: Sequence[User], products: Mapping[str, Product], group: str = ""
) -> list[MemberError]:
    """Each member's error state from this group, with the reason and fix (R21)."""
    entries: list[MemberError] = []
    for user in sorted(members, key=lambda u: u.display_name.casefold()):
        for state in user.states:
            if state.group_id == group_id and state.in_error:
                problem, fix = member_error(user, state.sku_id, state.error, products, group)
                product = products[state.sku_id].display_name if state.sku_id in products else state.sku_id
                entries.append((user.display_name, product, problem, fix))
    return entries


def _processing(state: ProcessingState) -> str:
    return state.label


def _working(state: ProcessingState) -> str:
    if state is ProcessingState.QUEUED:
        return "Microsoft 365 has the change queued: it has not started on the members yet."
    return "Microsoft 365 is processing the members…"


def _license_line(lic: LicenseAssignment, products: Mapping[str, Product], members: int) -> str:
    product = products.get(lic.sku_id)
    if product is None:
        return f"• *{escape(lic.sku_id)}* (a product the tenant no longer lists)"
    off = [p.display_name or p.name for p in product.service_plans if p.id in lic.disabled_plans]
    services = f"Services off: {escape(', '.join(off))}" if off else "All services on"
    seats = product.seats
    return clip(
        f"• *{escape(product.display_name)}*\n    {services}\n"
        f"    Seats: {seats.consumed:,} of {seats.enabled:,} used in the tenant "
        f"({plural(members, 'member')} here)",
        _LINE_LIMIT,
    )


def _error_line(entry: MemberError) -> str:
    who, product, problem, fix = entry
    return clip(
        f"• *{escape(who)}* ({escape(product)}): {escape(problem)}\n    Fix: {escape(fix)}", _LINE_LIMIT
    )


def _tally(preview: GroupPreview) -> str:
    return " · ".join(
        [
            f"gain a license: *{len({who for who, _ in preview.gains}):,}*",
            f"lose one: *{len({who for who, _ in preview.loses}):,}*",
            f"will end in an error: *{len({e[0] for e in preview.errors}):,}*",
        ]
    )


def _group_summary(change_set: ChangeSet, name: str, product: str) -> str:
    if change_set.kind is ChangeKind.REPLACE:
        return (
            f"The group *{name}* will give *{product}* in place of every license it gives now, in one change."
        )
    if change_set.kind is ChangeKind.REMOVE:
        return f"The group *{name}* will stop giving *{product}*."
    if change_set.kind is ChangeKind.UNDO:
        undone = reference_of(change_set.undo_of)
        return f"The group *{name}* will get back the licenses it had before change `{undone}`."
    return f"The group *{name}* will give *{product}* to its members, in addition to what it gives now."


def _licenses_text(licenses: Sequence[LicenseAssignment], change_set: ChangeSet) -> str:
    return ", ".join(change_set.label(lic.sku_id) for lic in licenses) or "no license"


BUTTON_VALUE_LIMIT = 2000
"""Slack's limit on a button's value."""


def which_group(ambiguous: AmbiguousGroup, commands: Sequence[str]) -> Message:
    """Several groups answer to the name: one button per group, each running the command again
    for that group (`commands`, in the same order as `ambiguous.choices`)."""
    nicknames = [group.mail_nickname for group in ambiguous.choices]
    lines = [
        f"• *{escape(group.display_name)}* · mail nickname {escape(group.mail_nickname or '-')}"
        # Told apart by the end of their id only when their nicknames are alike too.
        + (f" · id ending `{escape(group.id[-6:])}`" if nicknames.count(group.mail_nickname) > 1 else "")
        for group in ambiguous.choices
    ]
    blocks: list[Block] = sections(
        [
            f":grey_question: *{len(ambiguous.choices)} groups are called {escape(ambiguous.key)}.* "
            "Which one?",
            *lines,
        ]
    )
    buttons = [
        ButtonElement(
            text=PlainTextObject(
                text=clip(f"{group.display_name} ({group.mail_nickname or group.id[:8]})", 75)
            ),
            action_id=f"{PICK_GROUP}.{index}",
            value=command,
        )
        for index, (group, command) in enumerate(zip(ambiguous.choices, commands, strict=True))
        if len(command) <= BUTTON_VALUE_LIMIT
    ][:5]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    blocks.append(context("Or name it by its mail nickname, e.g. `group:NICKNAME`."))
    return message(f"{len(ambiguous.choices)} groups are called {ambiguous.key}: which one?", blocks)
