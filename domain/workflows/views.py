"""What the Slack side renders: a workflow with what belongs to it, reminders, and what waits on an admin.

Small frozen values built by the services; Block Kit builders are pure functions of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.changes import ChangeSet
from domain.waste import RenewalAlert, WasteSummary
from domain.workflows.approvals import Approval
from domain.workflows.steps import Choice, Step, StepStatus
from domain.workflows.tasks import AdminTask
from domain.workflows.workflow import Workflow

__all__ = ["Reminder", "ReminderKind", "WaitingOn", "WorkflowStatus"]


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A workflow as it stands, with its approval, its open admin task and its preview, if any."""

    workflow: Workflow
    approval: Approval | None = None
    task: AdminTask | None = None
    change_set: ChangeSet | None = None
    """The reassignment: its preview (who gains and loses what, seats before and after) and progress."""

    @property
    def step(self) -> Step | None:
        return self.workflow.current

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The buttons to show now (each one calls `WorkflowDecisions.decide` with the step's name)."""
        step = self.step
        if step is None or step.status is not StepStatus.WAITING or self.workflow.state.final:
            return ()
        return step.choices


class ReminderKind(StrEnum):
    DIGEST = "digest"
    """Once a day, to the reminders channel: workflows in flight, approvals and tasks waiting."""
    APPROVAL_WAITING = "approval-waiting"
    """To the approvals channel: an approval request still undecided."""
    TASK_WAITING = "task-waiting"
    """To the task's owner: an admin-center task still not seen done."""
    CONFIRMATION_WAITING = "confirmation-waiting"
    """To the requester: a workflow waits for their choice."""
    ESCALATION = "escalation"
    """To the requester and the reminders channel: a purchase is overdue; contact support (R10)."""
    RENEWAL = "renewal"
    """To the reminders channel: a subscription renews soon with seats unused (R22)."""


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: ReminderKind
    to: str
    """The admin to remind (user principal name), or "" for the channel of that kind."""
    text: str
    status: WorkflowStatus | None = None
    digest: tuple[WorkflowStatus, ...] = ()
    renewal: RenewalAlert | None = None
    waste: WasteSummary | None = None
    """The digest's line on waste (R22), also in `text`."""


@dataclass(frozen=True, slots=True)
class WaitingOn:
    """What waits on one admin (App Home): approvals they may decide, their tasks, their choices."""

    user: str
    approvals: tuple[WorkflowStatus, ...] = ()
    tasks: tuple[WorkflowStatus, ...] = ()
    confirmations: tuple[WorkflowStatus, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.approvals or self.tasks or self.confirmations)
