"""Block Kit for the subscription workflows: the checklist message (one per workflow, updated in
place), the approval request, reminders, `/subscription status`, and the App Home lines.

Pure functions of the domain's `WorkflowStatus`, `Reminder` and `WaitingOn`. Every text that comes
from the tenant or a person (product names, notes, reasons) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
    PlainTextObject,
)

from domain.changes import ItemStatus
from domain.errors import DomainError
from domain.workflows import (
    ApprovalState,
    Choice,
    Reminder,
    Step,
    StepStatus,
    TaskState,
    WaitingOn,
    WorkflowState,
    WorkflowStatus,
)
from handlers.blocks.message import Message, context, header, message, section, sections
from handlers.blocks.text import BUTTON_TEXT_LIMIT, CONFIRM_TEXT_LIMIT, clip, escape, plural, shorten_list
from handlers.blocks.waste import renewal_message
from handlers.context import HomeItem, WorkflowSections
from handlers.ids import (
    APPROVAL_ACTIONS_BLOCK,
    APPROVE_CANCELLATION,
    APPROVE_LOSING_ACCESS,
    REJECT_CANCELLATION,
    TASK_ACTIONS_BLOCK,
    TASK_DONE,
    WORKFLOW_ACTIONS_BLOCK,
    WORKFLOW_CHOICE,
)

__all__ = [
    "approval_decided",
    "approval_request",
    "choice_value",
    "parse_choice_value",
    "reminder_message",
    "workflow_checklist",
    "workflow_list",
    "workflow_notice",
    "workflow_sections",
]

_STEP_ICONS = {
    StepStatus.PENDING: "◻️",
    StepStatus.RUNNING: "⏳",
    StepStatus.WAITING: "⏸️",
    StepStatus.DONE: "✅",
    StepStatus.FAILED: "❌",
    StepStatus.SKIPPED: "➖",
}
_STATE_WORDS = {
    WorkflowState.RUNNING: "in progress",
    WorkflowState.WAITING: "waiting",
    WorkflowState.DONE: "done",
    WorkflowState.FAILED: "failed",
    WorkflowState.CANCELLED: "stopped",
}
_SHOWN_NOTES = 5
_SHOWN_HOLDERS = 10
_SHOWN_WORKFLOWS = 15
_SEPARATOR = "|"


def choice_value(workflow_id: str, step: str, choice: Choice) -> str:
    """The value of a choice button: which workflow, which step, which choice."""
    return _SEPARATOR.join((workflow_id, step, choice.value))


def parse_choice_value(value: str) -> tuple[str, str, str]:
    """`choice_value` back into its parts; empty strings for a value that is not one."""
    parts = value.split(_SEPARATOR)
    if len(parts) != 3:
        return "", "", ""
    return parts[0], parts[1], parts[2]


def workflow_checklist(status: WorkflowStatus) -> Message:
    """The workflow's message: its steps with what each waits for and since when, its notes, the
    admin-center task with its link, and one button per choice open now."""
    workflow = status.workflow
    title = f"{workflow.summary} — {_STATE_WORDS[workflow.state]}"
    blocks: list[Block] = [
        header(clip(workflow.summary, 150)),
        context(
            f"Workflow `{escape(workflow.id)}` · asked by {escape(workflow.requested_by)} · "
            f"{_STATE_WORDS[workflow.state]} · started {_when(workflow.created_at)}"
        ),
    ]
    blocks += sections([_step_line(step) for step in workflow.steps])
    if status.change_set is not None:
        blocks.append(section(_change_line(status)))
    if status.task is not None and status.task.state is TaskState.OPEN:
        blocks += _task_blocks(status)
    if workflow.notes:
        shown = shorten_list([escape(n) for n in workflow.notes[-_SHOWN_NOTES:]], _SHOWN_NOTES)
        blocks.append(context("\n".join(shown)))
    buttons = _choice_buttons(status)
    if buttons is not None:
        blocks.append(buttons)
    return message(escape(title), blocks)


def approval_request(status: WorkflowStatus) -> Message:
    """To the approvers' channel: who asks to cancel what, who still holds its licenses, until when;
    Approve, Approve (they lose access), Reject."""
    approval = status.approval
    if approval is None:
        return workflow_checklist(status)
    holders = list(approval.holders)
    lines = [
        f"*{escape(approval.requested_by)}* asks to {escape(approval.action)}.",
        f"Only another Global or Billing admin can approve. Open until {_when(approval.expires_at)}.",
    ]
    if holders:
        who = shorten_list([escape(h) for h in holders], _SHOWN_HOLDERS, "… and {n} more")
        lines.append(
            f"⚠️ {plural(len(holders), 'user')} still hold its licenses and would lose access: "
            + ", ".join(who)
        )
    else:
        lines.append("Nobody holds its licenses any more.")
    elements = [
        ButtonElement(
            text=PlainTextObject(text="Approve"),
            action_id=APPROVE_CANCELLATION,
            value=approval.id,
            style="primary",
            confirm=_confirm("Approve the cancellation?", f"{_first_upper(approval.action)}?", "Approve"),
        )
    ]
    if holders:
        elements.append(
            ButtonElement(
                text=PlainTextObject(text="Approve (they lose access)"),
                action_id=APPROVE_LOSING_ACCESS,
                value=approval.id,
                style="danger",
                confirm=_confirm(
                    "They lose access",
                    f"{plural(len(holders), 'user')} lose what the subscription gives them. "
                    f"{_first_upper(approval.action)} anyway?",
                    "Approve",
                ),
            )
        )
    elements.append(
        ButtonElement(text=PlainTextObject(text="Reject"), action_id=REJECT_CANCELLATION, value=approval.id)
    )
    blocks: list[Block] = [
        header("Approval needed: cancel a subscription"),
        *sections(lines),
        context(_workflow_ref(status)),
        ActionsBlock(block_id=APPROVAL_ACTIONS_BLOCK, elements=elements),
    ]
    return message(escape(f"Approval needed: {approval.action}"), blocks)


def approval_decided(status: WorkflowStatus) -> Message:
    """The approval request once decided or expired: what happened, no buttons."""
    approval = status.approval
    if approval is None:
        return workflow_checklist(status)
    if approval.state is ApprovalState.EXPIRED:
        outcome = f"⌛ Expired unanswered at {_when(approval.expires_at)}; nothing was cancelled."
    else:
        by = escape(approval.decided_by)
        at = _when(approval.decided_at) if approval.decided_at else ""
        verb = "✅ Approved" if approval.state is ApprovalState.APPROVED else "🚫 Rejected"
        loss = " (accepting that users lose access)" if approval.accepted_loss_of_access else ""
        reason = f": {escape(approval.reason)}" if approval.reason else ""
        outcome = f"{verb} by {by}{loss} {at}{reason}."
    blocks: list[Block] = [
        section(f"*{escape(approval.requested_by)}* asked to {escape(approval.action)}."),
        section(outcome),
        context(_workflow_ref(status)),
    ]
    return message(escape(f"{approval.action}: {approval.state.value}"), blocks)


def reminder_message(reminder: Reminder) -> Message:
    if reminder.renewal is not None:
        return renewal_message(reminder.renewal)
    blocks: list[Block] = [section(f"🔔 {escape(reminder.text)}")]
    if reminder.digest:
        lines = [f"• {_status_line(s)}" for s in reminder.digest]
        blocks += sections(shorten_list(lines, _SHOWN_WORKFLOWS))
    elif reminder.status is not None:
        blocks.append(context(_status_line(reminder.status)))
    return message(escape(reminder.text), blocks)


def workflow_list(statuses: Sequence[WorkflowStatus]) -> Message:
    """`/subscription status`: the workflows in flight, then the latest finished ones."""
    if not statuses:
        return message(
            "No subscription workflows yet.",
            [section("No subscription workflows yet. `/subscription help` shows how to start one.")],
        )
    lines = [f"• {_status_line(s)}" for s in statuses]
    blocks: list[Block] = [
        header("Subscription workflows"),
        *sections(shorten_list(lines, _SHOWN_WORKFLOWS)),
        context("`/subscription status WORKFLOW` shows one of them step by step."),
    ]
    return message("Subscription workflows", blocks)


def workflow_notice(error: DomainError) -> Message:
    """A button that no longer applies (a double click, a stale message): a notice, not an error."""
    text = f"ℹ️ {escape(error.problem)}" + (f" {escape(error.fix)}" if error.fix else "")
    return message(escape(error.problem), [section(text)])


def workflow_sections(in_flight: Sequence[WorkflowStatus], waiting: WaitingOn) -> WorkflowSections:
    """App Home's "Workflows in flight" and "Waiting on me" (plain text; App Home escapes it)."""
    flying = [HomeItem(s.workflow.summary, _plain_step(s)) for s in in_flight]
    mine: list[HomeItem] = []
    for s in waiting.approvals:
        mine.append(HomeItem(f"Approve or reject: {s.workflow.summary}", _status_hint(s)))
    for s in waiting.tasks:
        title = s.task.title if s.task else s.workflow.summary
        mine.append(HomeItem(f"Admin-center task: {title}", _status_hint(s)))
    for s in waiting.confirmations:
        mine.append(HomeItem(f"Your choice: {s.workflow.summary}", _plain_step(s)))
    return WorkflowSections(flying, mine)


def _workflow_ref(status: WorkflowStatus) -> str:
    """The workflow's id with the command that takes it (the approval's own id is for buttons)."""
    workflow_id = escape(status.workflow.id)
    return f"Workflow `{workflow_id}` · `/subscription status {workflow_id}` shows where it stands"


def _status_hint(status: WorkflowStatus) -> str:
    return f"/subscription status {status.workflow.id}"


def _plain_step(status: WorkflowStatus) -> str:
    step = status.step
    if step is None:
        return f"{_STATE_WORDS[status.workflow.state]} · {_status_hint(status)}"
    waiting = (
        f" for {step.waiting_for.value}" if step.waiting_for and step.status is StepStatus.WAITING else ""
    )
    return f"{step.name.label}: {step.status.value}{waiting} · {_status_hint(status)}"


def _status_line(status: WorkflowStatus) -> str:
    workflow = status.workflow
    step = status.step
    where = ""
    if step is not None and not workflow.state.final:
        waiting = f", waiting for {step.waiting_for.value}" if step.waiting_for else ""
        since = f" since {_when(step.since)}" if step.since else ""
        where = f" — {escape(step.name.label)}{waiting}{since}"
    return f"`{escape(workflow.id)}` *{escape(workflow.summary)}* · {_STATE_WORDS[workflow.state]}{where}"


def _step_line(step: Step) -> str:
    line = f"{_STEP_ICONS[step.status]} *{escape(step.name.label)}* · {step.status.value}"
    if step.status is StepStatus.WAITING and step.waiting_for is not None:
        line += f" for {step.waiting_for.value}"
    if step.since is not None and step.status is not StepStatus.PENDING:
        line += f" since {_when(step.since)}"
    if step.note:
        line += f"\n      {escape(step.note)}"
    return line


def _change_line(status: WorkflowStatus) -> str:
    change_set = status.change_set
    assert change_set is not None
    counts = change_set.counts()
    done = counts[ItemStatus.APPLIED] + counts[ItemStatus.ALREADY_APPLIED]
    failed = counts[ItemStatus.FAILED] + counts[ItemStatus.CONFLICT]
    total = len(change_set.items)
    line = (
        f"*Reassignment* to {escape(change_set.product_label)}: {done:,} of {plural(total, 'user')} moved"
        + (f", {failed:,} failed" if failed else "")
        + f" · {change_set.state.value}"
    )
    if change_set.seats_total:
        line += f"\nBefore: {change_set.seats_before:,} of {change_set.seats_total:,} "
        line += f"{escape(change_set.product_label)} licenses in use"
    return line


def _task_blocks(status: WorkflowStatus) -> list[Block]:
    task = status.task
    assert task is not None
    lines = [f"*Admin-center task:* {escape(task.title)}"]
    lines += [f"{n}. {escape(item)}" for n, item in enumerate(task.checklist, start=1)]
    if task.owner:
        lines.append(f"Owner: {escape(task.owner)}")
    elements = [
        ButtonElement(
            text=PlainTextObject(text="Open the admin center"), url=task.link, action_id="workflow.task.link"
        ),
        ButtonElement(
            text=PlainTextObject(text="Mark done"),
            action_id=TASK_DONE,
            value=task.id,
            style="primary",
        ),
    ]
    return [*sections(lines), ActionsBlock(block_id=TASK_ACTIONS_BLOCK, elements=elements)]


def _choice_buttons(status: WorkflowStatus) -> ActionsBlock | None:
    step = status.step
    choices = status.choices
    if step is None or not choices:
        return None
    elements: list[ButtonElement] = []
    for choice in choices:
        confirm: ConfirmObject | None = None
        style: str | None = "primary" if choice is Choice.CONFIRM else None
        if choice.destructive:
            confirm = _confirm(
                f"{choice.label}?",
                f"{choice.label}: {status.workflow.summary}. This takes something away.",
                choice.label,
            )
            style = style or "danger"
        elif choice is Choice.ABORT:
            confirm = _confirm("Stop this workflow?", f"Stop: {status.workflow.summary}?", "Stop it")
            style = "danger"
        elements.append(
            ButtonElement(
                text=PlainTextObject(text=clip(choice.label, BUTTON_TEXT_LIMIT)),
                action_id=f"{WORKFLOW_CHOICE}.{choice.value}",
                value=choice_value(status.workflow.id, step.name.value, choice),
                style=style,
                confirm=confirm,
            )
        )
    return ActionsBlock(block_id=WORKFLOW_ACTIONS_BLOCK, elements=elements)


def _first_upper(text: str) -> str:
    """A sentence's first letter in capitals, the rest as written (`str.capitalize` would lowercase
    "Office 365 E4")."""
    return text[:1].upper() + text[1:]


def _confirm(title: str, text: str, confirm: str) -> ConfirmObject:
    return ConfirmObject(
        title=PlainTextObject(text=clip(title, 100)),
        text=MarkdownTextObject(text=clip(escape(text), CONFIRM_TEXT_LIMIT)),
        confirm=PlainTextObject(text=clip(confirm, 30)),
        deny=PlainTextObject(text="Back"),
    )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(UTC):%a %d %b %H:%M} UTC"
