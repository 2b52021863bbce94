"""Which reminders are due (DESIGN.md §4): each comes with the key under which it is claimed, once per
interval, so a reminder is sent once whatever the number of replicas asking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.wording import plural
from domain.workflows.approvals import ApprovalState
from domain.workflows.links import admin_center
from domain.workflows.settings import WorkflowSettings
from domain.workflows.steps import Choice, WaitFor
from domain.workflows.tasks import TaskState
from domain.workflows.views import Reminder, ReminderKind, WorkflowStatus

__all__ = ["digest", "reminders_for"]


def digest(
    statuses: Sequence[WorkflowStatus], now: datetime, settings: WorkflowSettings
) -> tuple[str, Reminder] | None:
    """The daily digest to the reminders channel, from `digest_time_utc` on."""
    if now.time() < settings.digest_time_utc:
        return None
    approvals = sum(1 for s in statuses if s.approval and s.approval.state is ApprovalState.PENDING)
    tasks = sum(1 for s in statuses if s.task and s.task.state is TaskState.OPEN)
    text = (
        f"{plural(len(statuses), 'subscription workflow')} in flight, {plural(approvals, 'approval')} "
        f"waiting, {plural(tasks, 'admin-center task')} open."
    )
    return f"digest:{now:%Y-%m-%d}", Reminder(ReminderKind.DIGEST, "", text, digest=tuple(statuses))


def reminders_for(
    status: WorkflowStatus, now: datetime, settings: WorkflowSettings
) -> list[tuple[str, Reminder]]:
    """A workflow's nudges: an approval waiting, an admin task open, a choice waiting, an overdue purchase."""
    workflow, approval, task = status.workflow, status.approval, status.task
    found: list[tuple[str, Reminder]] = []
    if approval is not None and approval.state is ApprovalState.PENDING and now < approval.expires_at:
        slot = _slot(approval.requested_at, settings.approval_reminder_every, now)
        if slot:
            text = (
                f"Still waiting for approval: {approval.action} (asked by {approval.requested_by}, expires "
                f"{approval.expires_at:%a %d %b %H:%M} UTC)."
            )
            found.append(
                (f"approval:{approval.id}:{slot}", Reminder(ReminderKind.APPROVAL_WAITING, "", text, status))
            )
    if task is not None and task.state is TaskState.OPEN:
        slot = _slot(task.created_at, settings.reminder_every, now)
        if slot:
            text = f"Admin-center task still open: {task.title} ({task.link})."
            found.append(
                (f"task:{task.id}:{slot}", Reminder(ReminderKind.TASK_WAITING, task.owner, text, status))
            )
    step = workflow.current
    if step is not None and step.since is not None and set(status.choices) - {Choice.ABORT}:
        slot = _slot(step.since, settings.reminder_every, now)
        if slot:
            text = f"{workflow.summary} waits for your decision: {step.name.label}."
            key = f"choice:{workflow.id}:{step.name.value}:{slot}"
            found.append(
                (key, Reminder(ReminderKind.CONFIRMATION_WAITING, workflow.requested_by, text, status))
            )
    if workflow.escalated_at is not None and workflow.waiting_for in {WaitFor.ACTIVATION, WaitFor.TASK}:
        slot = int((now - workflow.escalated_at) / settings.reminder_every)
        # R10: past the credit check's deadline only support can help.
        text = f"{workflow.summary} is overdue: contact support ({admin_center(workflow.cloud).support})."
        found.append(
            (
                f"escalation:{workflow.id}:{slot}",
                Reminder(ReminderKind.ESCALATION, workflow.requested_by, text, status),
            )
        )
    return found


def _slot(since: datetime, every: timedelta, now: datetime) -> int:
    """How many whole intervals have passed: 0 means none is due yet."""
    return int((now - since) / every)
