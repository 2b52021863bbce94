"""`SlackNotifier`: the domain's `Notifier` port on Slack's Web API.

- A workflow's checklist is posted once in the channel where it was started, remembered with
  `WorkflowDecisions.attach_message`, and updated in place with `chat.update` after that.
- An approval request goes to `APPROVALS_CHANNEL` (else the workflow's channel) with Approve,
  Approve (they lose access) and Reject; it is updated without buttons once decided or expired.
- A license change that another process finished after a crash (`change_resumed`) shows its
  result in place of its progress message, else to the requester directly.
- Updates go through `MessageUpdates` (at most one a second per message, the last state wins), and
  people are looked up through the process's `SlackUsers` cache.
- Reminders go to the admin they are for (a direct message), else to `REMINDER_CHANNEL` (approval
  nudges to the approvals channel).

The domain calls it after its commit, never with a database transaction open (every Slack call
here checks it, `domain.transactions`); nothing raised here may stop a workflow, so Slack failures
are logged and swallowed. The client may be connected late (the local shell starts its Slack after the
composition root).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.application.group_follows import GroupProgress
from domain.changes import ChangeSet
from domain.group_follow import GroupFollow
from domain.transactions import forbid_remote_call
from domain.workflows import Reminder, ReminderKind, WorkflowStatus
from handlers.blocks.changes import change_result
from handlers.blocks.message import Message
from handlers.blocks.workflows import approval_decided, approval_request, reminder_message, workflow_checklist
from handlers.group_processing import show_group_progress
from handlers.message_updates import MessageUpdates
from handlers.slack_directory import SlackUsers

__all__ = ["MessageLinks", "SlackNotifier"]

log = logging.getLogger(__name__)


class MessageLinks(Protocol):
    """Where the notifier records the messages it posted (`WorkflowDecisions` does)."""

    def attach_message(self, workflow_id: str, channel: str, message_ts: str) -> None: ...

    def attach_approval_message(self, approval_id: str, channel: str, message_ts: str) -> None: ...


class SlackNotifier:
    def __init__(
        self,
        client: WebClient | None = None,
        *,
        approvals_channel: str = "",
        reminder_channel: str = "",
        users: SlackUsers | None = None,
        updates: MessageUpdates | None = None,
    ) -> None:
        self._client = client
        self._users = users or SlackUsers()
        self._updates = updates or MessageUpdates()
        self._approvals_channel = approvals_channel
        self._reminder_channel = reminder_channel
        self._links: MessageLinks | None = None
        self._lock = threading.RLock()
        self._posted: dict[str, tuple[str, str]] = {}
        """Workflow or approval id → (channel, ts), for updates that race the attach."""

    def connect(self, client: WebClient, updates: MessageUpdates | None = None) -> None:
        """A client connected late (the local shell), with its own pacing of updates when given."""
        self._client = client
        if updates is not None:
            self._updates = updates

    def remind_in(self, channel: str) -> None:
        """Where reminders go when no reminder channel is configured (the shell's own channel)."""
        self._reminder_channel = self._reminder_channel or channel

    def bind(self, links: MessageLinks) -> None:
        self._links = links

    # --- the Notifier port -------------------------------------------------------------------

    def workflow_changed(self, status: WorkflowStatus) -> None:
        workflow = status.workflow
        with self._lock:
            where = self._posted.get(workflow.id) or (
                (workflow.channel, workflow.message_ts) if workflow.message_ts else None
            )
            if where is not None:
                self._update(where, workflow_checklist(status))
                return
            if not workflow.channel:
                return
            posted = self._post(workflow.channel, workflow_checklist(status))
            if posted is None:
                return
            self._posted[workflow.id] = posted
        if self._links is not None:
            self._links.attach_message(workflow.id, *posted)

    def approval_requested(self, status: WorkflowStatus) -> None:
        approval = status.approval
        if approval is None:
            return
        channel = self._approvals_channel or status.workflow.channel
        if not channel:
            log.warning("no approvals channel for approval %s", approval.id)
            return
        with self._lock:
            if approval.id in self._posted or approval.message_ts:
                return
            posted = self._post(channel, approval_request(status))
            fallback = status.workflow.channel
            if posted is None and fallback and fallback != channel:
                # APPROVALS_CHANNEL is wrong or the bot is not in it: the request must still be seen.
                log.warning("approval %s goes to the workflow's channel instead of %s", approval.id, channel)
                posted = self._post(fallback, approval_request(status))
            if posted is None:
                return
            self._posted[approval.id] = posted
        if self._links is not None:
            self._links.attach_approval_message(approval.id, *posted)

    def approval_closed(self, status: WorkflowStatus) -> None:
        approval = status.approval
        if approval is None:
            return
        with self._lock:
            where = self._posted.get(approval.id) or (
                (approval.channel, approval.message_ts) if approval.message_ts else None
            )
        if where is not None:
            self._update(where, approval_decided(status))

    def reminder(self, reminder: Reminder) -> None:
        text = reminder_message(reminder)
        if reminder.to:
            direct = self._direct_channel(reminder.to)
            sent = bool(direct) and self._post(direct, text) is not None
            if sent and reminder.kind is not ReminderKind.ESCALATION:
                return
        channel = self._reminder_channel
        if reminder.kind is ReminderKind.APPROVAL_WAITING:
            channel = self._approvals_channel or channel
        if not channel and reminder.status is not None:
            channel = reminder.status.workflow.channel
        if channel:
            self._post(channel, text)
        elif not reminder.to:
            log.info("no channel for a %s reminder; set REMINDER_CHANNEL", reminder.kind.value)

    def change_resumed(self, change_set: ChangeSet) -> None:
        """The result of a change another process finished: in place of its progress message when
        it had one in a channel, else to the requester directly (else the channel it came from)."""
        result = change_result(change_set)
        if change_set.channel and change_set.message_ts:
            self._update((change_set.channel, change_set.message_ts), result)
            return
        direct = self._direct_channel(change_set.requested_by) if "@" in change_set.requested_by else ""
        channel = direct or change_set.channel
        if channel:
            self._post(channel, result)
        else:
            log.info("nowhere to show the result of change set %s", change_set.id)

    def group_progress(self, follow: GroupFollow, change_set: ChangeSet, progress: GroupProgress) -> bool:
        """`FollowMessages`: a followed group change's message, updated in place (R21)."""
        if self._client is None:
            return False
        return show_group_progress(self._client, self._updates, follow, change_set, progress)

    # --- Slack --------------------------------------------------------------------------------

    def _post(self, channel: str, message: Message) -> tuple[str, str] | None:
        forbid_remote_call("Slack (chat.postMessage)")
        if self._client is None:
            return None
        try:
            response = self._client.chat_postMessage(channel=channel, **message.to_dict())
        except SlackApiError as error:
            log.warning("could not post to %s: %s", channel, error.response.get("error"))
            return None
        return str(response.get("channel") or channel), str(response.get("ts") or "")

    def _update(self, where: tuple[str, str], message: Message) -> None:
        forbid_remote_call("Slack (chat.update)")
        if self._client is None:
            return
        try:
            self._updates.update(self._client, where[0], where[1], message)
        except SlackApiError as error:
            log.warning("could not update a message in %s: %s", where[0], error.response.get("error"))

    def _direct_channel(self, email: str) -> str:
        forbid_remote_call("Slack (users.lookupByEmail, conversations.open)")
        if self._client is None:
            return ""
        try:
            user = self._users.by_email(self._client, email).get("user") or {}
            opened = self._client.conversations_open(users=str(user.get("id") or ""))
        except SlackApiError as error:
            log.info("no direct message to %s: %s", email, error.response.get("error"))
            return ""
        return str((opened.get("channel") or {}).get("id") or "")
