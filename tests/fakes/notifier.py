"""`RecordingNotifier`: the `Notifier` port, keeping what it was told."""

from __future__ import annotations

from domain.changes import ChangeSet
from domain.transactions import forbid_remote_call
from domain.workflows import Reminder, WorkflowStatus

__all__ = ["RecordingNotifier"]


class RecordingNotifier:
    """`Notifier` that keeps what it was told, in order: (event, workflow id, the status or reminder).
    Like Slack behind the real one, it refuses to be called with a database transaction open."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, WorkflowStatus | Reminder | ChangeSet]] = []

    def workflow_changed(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (workflow changed)")
        self.events.append(("workflow_changed", status.workflow.id, status))

    def approval_requested(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (approval requested)")
        self.events.append(("approval_requested", status.workflow.id, status))

    def approval_closed(self, status: WorkflowStatus) -> None:
        forbid_remote_call("the notifier (approval closed)")
        self.events.append(("approval_closed", status.workflow.id, status))

    def reminder(self, reminder: Reminder) -> None:
        forbid_remote_call("the notifier (reminder)")
        workflow_id = reminder.status.workflow.id if reminder.status else ""
        self.events.append(("reminder", workflow_id, reminder))

    def change_resumed(self, change_set: ChangeSet) -> None:
        forbid_remote_call("the notifier (change resumed)")
        self.events.append(("change_resumed", change_set.id, change_set))

    def named(self, event: str) -> list[WorkflowStatus | Reminder | ChangeSet]:
        return [payload for name, _, payload in self.events if name == event]
