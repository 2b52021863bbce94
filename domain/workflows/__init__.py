"""Durable subscription workflows (DESIGN.md §4): plan switch, E4 upgrade, purchase, seats, cancel.

Aggregates with explicit states and ordered steps, the approvals and admin tasks they wait on, and the
rules that decide each step (R2, R10–R15, R19). Pure Python: the services in
`domain.application.subscriptions` and the step kinds in `domain.application.steps` do the I/O
through the ports.
"""

from __future__ import annotations

from domain.workflows import notes
from domain.workflows.approvals import Approval, ApprovalState
from domain.workflows.checks import E4_PART_NUMBER, SWITCH_PATHS, PathAdvice
from domain.workflows.links import AdminCenter, admin_center
from domain.workflows.polling import DirectorySnapshot, Observation, Purchases
from domain.workflows.steps import POLLED_WAITS, Choice, Step, StepName, StepStatus, WaitFor
from domain.workflows.tasks import AdminTask, Receipt, TaskKind, TaskState
from domain.workflows.views import Reminder, ReminderKind, WaitingOn, WorkflowStatus
from domain.workflows.workflow import (
    EVERYONE,
    STEPS,
    ProductRef,
    Workflow,
    WorkflowKind,
    WorkflowState,
    fresh_steps,
)

__all__ = [
    "E4_PART_NUMBER",
    "EVERYONE",
    "POLLED_WAITS",
    "STEPS",
    "SWITCH_PATHS",
    "AdminCenter",
    "AdminTask",
    "Approval",
    "ApprovalState",
    "Choice",
    "DirectorySnapshot",
    "Observation",
    "PathAdvice",
    "ProductRef",
    "Purchases",
    "Receipt",
    "Reminder",
    "ReminderKind",
    "Step",
    "StepName",
    "StepStatus",
    "TaskKind",
    "TaskState",
    "WaitFor",
    "WaitingOn",
    "Workflow",
    "WorkflowKind",
    "WorkflowState",
    "WorkflowStatus",
    "admin_center",
    "fresh_steps",
    "notes",
]
