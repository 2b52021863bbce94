"""A workflow step: its name, its status, what it waits for and since when, and its outcome note.

Statuses move one way (STYLE.md habit 5):

    pending ──▶ running ──▶ done | failed | skipped
       │  │       │  ▲
       │  │       ▼  │
       │  └───▶ waiting ──▶ done | failed | skipped
       └──────▶ done | skipped            (decided at once: nothing to wait for)

`running → running` is only a resume after a crash (the attempt is counted); everything else that is
not drawn raises `IllegalTransition`. A step waiting for a person offers choices (the Slack buttons);
a step waiting for the tenant is advanced by the scheduler's poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import IllegalTransition

__all__ = ["POLLED_WAITS", "Choice", "Step", "StepName", "StepStatus", "WaitFor"]


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        return self in {StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED}

    @property
    def passed(self) -> bool:
        """Done or skipped: the workflow moves on to the next step."""
        return self in {StepStatus.DONE, StepStatus.SKIPPED}


_ALLOWED: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {StepStatus.RUNNING, StepStatus.WAITING, StepStatus.DONE, StepStatus.SKIPPED}
    ),
    StepStatus.RUNNING: frozenset(
        {StepStatus.WAITING, StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED}
    ),
    StepStatus.WAITING: frozenset(
        {StepStatus.WAITING, StepStatus.RUNNING, StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED}
    ),
    StepStatus.DONE: frozenset(),
    StepStatus.FAILED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
}


class WaitFor(StrEnum):
    """What a waiting step waits for."""

    CONFIRMATION = "confirmation"
    """A choice by the requester (the step's `choices`)."""
    APPROVAL = "approval"
    """A second admin's approval (R13)."""
    ACTIVATION = "activation"
    """A subscription to be listed and active (R10, R11): polled."""
    SEATS = "seats"
    """Enough free seats (R2): polled, and the requester may choose to buy the missing ones."""
    TASK = "task"
    """An admin to do something in the admin center (R19): polled, never trusted blindly."""
    CANCELLATION = "cancellation"
    """A cancelled subscription to be no longer Enabled (R13): polled."""

    @property
    def polled(self) -> bool:
        return self in POLLED_WAITS


POLLED_WAITS = frozenset({WaitFor.ACTIVATION, WaitFor.SEATS, WaitFor.TASK, WaitFor.CANCELLATION})
"""Waits the scheduler's tick decides by reading the directory."""


class StepName(StrEnum):
    DECIDE = "decide"
    TARGET = "target-subscription"
    BUY = "buy"
    AWAIT_ACTIVE = "await-active"
    CHANGE_SEATS = "change-seats"
    AWAIT_SEATS = "await-seats"
    CHECK_SEATS = "check-seats"
    PREVIEW = "preview"
    REASSIGN = "reassign"
    OFFER_ADDONS = "offer-addons"
    OFFER_CLEANUP = "offer-cleanup"
    CONFIRM = "confirm"
    APPROVAL = "approval"
    CANCEL = "cancel"
    VERIFY = "verify-cancelled"

    @property
    def label(self) -> str:
        return _STEP_LABELS[self]


_STEP_LABELS = {
    StepName.DECIDE: "Decide how to switch",
    StepName.TARGET: "Target subscription exists (buy it if not)",
    StepName.BUY: "Buy the subscription",
    StepName.AWAIT_ACTIVE: "Wait until listed and active",
    StepName.CHANGE_SEATS: "Change the number of licenses",
    StepName.AWAIT_SEATS: "Wait until the new number shows",
    StepName.CHECK_SEATS: "Enough licenses for every user",
    StepName.PREVIEW: "Preview and confirm",
    StepName.REASSIGN: "Reassign licenses in batches",
    StepName.OFFER_ADDONS: "Remove add-ons made redundant",
    StepName.OFFER_CLEANUP: "Cancel the old subscription or remove unused licenses",
    StepName.CONFIRM: "Requester confirms",
    StepName.APPROVAL: "Approval by another Global or Billing admin",
    StepName.CANCEL: "Cancel the subscription",
    StepName.VERIFY: "Verify it is no longer active",
}


class Choice(StrEnum):
    """What a person can decide at a waiting step; the Slack side shows one button per choice."""

    MANUAL = "manual"
    ADMIN_CENTER = "admin-center"
    BUY = "buy"
    BUY_SEATS = "buy-seats"
    CONFIRM = "confirm"
    RETRY = "retry"
    CANCEL_OLD = "cancel-old-subscription"
    REMOVE_SEATS = "remove-unused-seats"
    REMOVE_ADDONS = "remove-addons"
    SKIP = "skip"
    ABORT = "abort"

    @property
    def label(self) -> str:
        return _CHOICE_LABELS[self]

    @property
    def destructive(self) -> bool:
        """Choices that take something away: the Slack side asks "are you sure?" on the button."""
        return self in {Choice.CONFIRM, Choice.CANCEL_OLD, Choice.REMOVE_SEATS, Choice.REMOVE_ADDONS}


_CHOICE_LABELS = {
    Choice.MANUAL: "Switch here, step by step",
    Choice.ADMIN_CENTER: "I'll use the admin center",
    Choice.BUY: "Buy it",
    Choice.BUY_SEATS: "Buy the missing licenses",
    Choice.CONFIRM: "Confirm",
    Choice.RETRY: "Try again",
    Choice.CANCEL_OLD: "Cancel the old subscription",
    Choice.REMOVE_SEATS: "Remove the unused licenses",
    Choice.REMOVE_ADDONS: "Remove the redundant add-ons",
    Choice.SKIP: "Not now",
    Choice.ABORT: "Stop this workflow",
}


@dataclass(slots=True)
class Step:
    """One step of a workflow. Only `Workflow` moves it, through `move`."""

    name: StepName
    status: StepStatus = StepStatus.PENDING
    waiting_for: WaitFor | None = None
    since: datetime | None = None
    """When the current status began: waiting since, running since, done at."""
    note: str = ""
    """The outcome, or why it waits and what to do about it."""
    choices: tuple[Choice, ...] = ()
    attempts: int = 0
    """How many times the step started running (more than one: resumed after a crash)."""

    def move(
        self,
        to: StepStatus,
        now: datetime,
        *,
        note: str | None = None,
        waiting_for: WaitFor | None = None,
        choices: tuple[Choice, ...] = (),
        resume: bool = False,
    ) -> None:
        same_running = self.status is StepStatus.RUNNING and to is StepStatus.RUNNING
        if not (to in _ALLOWED[self.status] or (same_running and resume)):
            raise IllegalTransition(f"The step “{self.name.label}”", self.status.value, to.value)
        if to is StepStatus.WAITING and waiting_for is None:
            raise IllegalTransition(f"The step “{self.name.label}”", self.status.value, "waiting for nothing")
        if to is StepStatus.RUNNING:
            self.attempts += 1
        keeps_waiting = self.status is StepStatus.WAITING and to is StepStatus.WAITING
        if not (keeps_waiting and waiting_for is self.waiting_for):
            self.since = now
        self.status = to
        self.waiting_for = waiting_for if to is StepStatus.WAITING else None
        self.choices = choices if to is StepStatus.WAITING else ()
        if note is not None:
            self.note = note
