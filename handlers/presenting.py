"""How a change reaches the person who asked, within Slack's limits.

A change for a few people is answered only to them (ephemeral). A bulk change is posted in the
channel with `chat.postMessage`, so that it has a thread for the full list as a CSV file, and it is
then updated in place with `chat.update`: the preview, the progress per batch (at most one update a
second), the result. Long work never goes through a response URL (five posts in 30 minutes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from domain.application.licensing import Licensing
from domain.changes import ChangeSet, ChangeState
from domain.transactions import forbid_remote_call
from handlers.blocks import (
    Message,
    cannot_post_here,
    change_preview,
    change_progress,
    change_result,
    preview_fits,
    result_fits,
)
from handlers.exports import preview_csv, result_csv
from handlers.message_updates import MessageUpdates
from handlers.replies import reply

__all__ = ["BULK_USERS", "ChangeReplies", "Progress", "Surface", "is_bulk"]

log = logging.getLogger(__name__)

BULK_USERS = 5
"""A change naming more people than this is shared in the channel and updated in place."""

_NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


def is_bulk(change_set: ChangeSet) -> bool:
    """Shared in the channel: many people, or a group's license (it reaches every member, and its
    message is followed in place while Microsoft 365 processes them, R21)."""
    if change_set.group_id:
        return True
    return len(change_set.items) + len(change_set.refused) + len(change_set.unchanged) > BULK_USERS


@dataclass
class Surface:
    """Where one person talks to licensebot: a channel, and a response URL when Slack gave one."""

    client: WebClient
    channel: str
    user: str
    respond: Respond | None = None
    updates: MessageUpdates | None = None
    """The process's pacing of `chat.update` (at most once a second per message, the last state wins)."""

    def only_to_them(self, message: Message, *, replace_original: bool = False) -> None:
        """An ephemeral message: through the response URL when there is one, else `chat.postEphemeral`
        (a form has no response URL); in the bot's direct messages when the channel takes none."""
        if self.respond is not None:
            reply(self.respond, message, replace_original=replace_original)
            return
        try:
            self.client.chat_postEphemeral(channel=self.channel, user=self.user, **message.to_dict())
        except SlackApiError as error:
            if error.response.get("error") not in _NOT_POSTABLE:
                raise
            self.client.chat_postMessage(channel=self.user, **message.to_dict())

    def post(self, message: Message) -> str:
        """A message everyone in the channel sees; its ts. In the bot's direct messages with the
        person when licensebot may not post in the channel, and they are told why and how to fix it."""
        try:
            response = self.client.chat_postMessage(channel=self.channel, **message.to_dict())
        except SlackApiError as error:
            reason = str(error.response.get("error"))
            if reason not in _NOT_POSTABLE:
                raise
            response = self.client.chat_postMessage(channel=self.user, **message.to_dict())
            self.only_to_them(cannot_post_here("this change", "is in your direct messages with it", reason))
        self.channel = str(response["channel"])
        return str(response["ts"])

    def update(self, ts: str, message: Message) -> None:
        if self.updates is None:
            self.client.chat_update(channel=self.channel, ts=ts, **message.to_dict())
        else:
            self.updates.update(self.client, self.channel, ts, message)

    def attach(self, thread_ts: str, filename: str, content: str, comment: str) -> None:
        self.client.files_upload_v2(
            channel=self.channel,
            thread_ts=thread_ts,
            filename=filename,
            title=filename,
            content=content,
            initial_comment=comment,
        )


class Progress:
    """The per-batch callback of `Licensing.apply`: updates one message, at most once per `interval`
    seconds, and never lets a Slack failure stop the change being written."""

    def __init__(
        self,
        surface: Surface,
        ts: str,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._surface = surface
        self._ts = ts
        self._interval = interval
        self._clock = clock
        self._last: float | None = None

    def __call__(self, change_set: ChangeSet) -> None:
        # Called by the domain between batches: never while a transaction is open (the SQLite write
        # lock would be held across a Slack call and its rate-limit waits).
        forbid_remote_call("Slack (chat.update of a change's progress)")
        if change_set.state is not ChangeState.APPLYING:
            return  # the result replaces the message right after
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        try:
            self._surface.update(self._ts, change_progress(change_set))
        except SlackApiError as error:
            log.warning(
                "could not update a progress message",
                extra={"action": "progress", "error": str(error.response.get("error"))},
            )


class ChangeReplies:
    """Shows a planned change set and, when it is confirmed already, writes it with progress."""

    def __init__(
        self, licensing: Licensing, surface: Surface, *, interval: float, correlation_id: str
    ) -> None:
        self._licensing = licensing
        self._surface = surface
        self._interval = interval
        self._correlation_id = correlation_id

    def show(self, change_set: ChangeSet, *, replace_original: bool = False) -> None:
        """A preview to confirm, or (an assign, a services change) the change applied and its result."""
        if change_set.state is ChangeState.PREVIEWED:
            self.preview(change_set, replace_original=replace_original)
            return
        if is_bulk(change_set):
            ts = self._surface.post(change_progress(change_set))
            done = self._licensing.apply(change_set.id, self._correlation_id, self.progress(ts))
            self.finish(done, ts)
            return
        done = self._licensing.apply(change_set.id, self._correlation_id)
        self._surface.only_to_them(change_result(done), replace_original=replace_original)

    def preview(self, change_set: ChangeSet, *, replace_original: bool = False) -> None:
        if not is_bulk(change_set):
            self._surface.only_to_them(change_preview(change_set), replace_original=replace_original)
            return
        fits = preview_fits(change_set)
        ts = self._surface.post(change_preview(change_set, shared=True, csv_in_thread=not fits))
        if not fits:
            self._surface.attach(
                ts,
                f"preview-{change_set.id[:8]}.csv",
                preview_csv(change_set),
                "Every user of this preview, with what changes for them or why they are left out.",
            )

    def progress(self, ts: str) -> Progress:
        return Progress(self._surface, ts, self._interval)

    def finish(self, change_set: ChangeSet, ts: str) -> None:
        """The result in place of the shared message, and the full list in its thread if needed."""
        fits = result_fits(change_set)
        self._surface.update(ts, change_result(change_set, csv_in_thread=not fits))
        if not fits:
            self._surface.attach(
                ts,
                f"result-{change_set.id[:8]}.csv",
                result_csv(change_set),
                "Every user of this change with the result, and the reason of each failure.",
            )
