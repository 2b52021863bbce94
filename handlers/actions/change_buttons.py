"""The buttons of a change: Confirm and Cancel on a preview, Retry and Undo on a result.

A double click, or a retried request, acts once: the domain refuses a second confirmation, retry
or undo (a key claimed with the change), which is shown as a notice, not as an error. A preview
only its requester sees is replaced through the response URL; a shared one (a bulk change) is
updated in place with `chat.update`, and says "applying" only once the confirmation is accepted,
since anyone in the channel can press its buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from slack_bolt import App

from domain.changes import ChangeSet, ChangeState
from domain.commands import CancelChange, ConfirmChange, RetryFailed, UndoChange
from domain.errors import ChangeNotPending
from handlers.blocks import change_applying, change_cancelled, change_result, not_pending
from handlers.context import Services
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE, RETRY_FAILED, UNDO_CHANGE
from handlers.presenting import ChangeReplies, Surface
from handlers.requests import Listener, Request, acknowledge_first

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    buttons = _Buttons(services)
    pressed: Mapping[str, Listener] = {
        CONFIRM_CHANGE: buttons.confirm_change,
        CANCEL_CHANGE: buttons.cancel_change,
        RETRY_FAILED: buttons.retry_failed,
        UNDO_CHANGE: buttons.undo_change,
    }
    for action_id, listener in pressed.items():
        acknowledge_first(app.action(action_id), listener)


class _Buttons:
    def __init__(self, services: Services) -> None:
        self._licensing = services.licenses.changes
        self._history = services.licenses.history
        self._interval = services.timing.progress_interval
        self._updates = services.message_updates
        self._follows = services.group_follows

    def confirm_change(self, request: Request) -> None:
        surface = request.surface(self._updates)
        confirm = ConfirmChange(
            request.value,
            request.requester,
            request.correlation_id,
            channel=surface.channel,
            message_ts="" if request.only_theirs else request.message_ts,
        )
        if request.only_theirs:
            # The preview and its buttons go at once, so nobody is tempted to press Confirm again.
            request.reply(change_applying(), replace_original=True)
            try:
                done = self._licensing.confirm(confirm)
            except ChangeNotPending as already:
                _already(request, already)
                return
            request.reply(change_result(done), replace_original=True)
            return
        ts = request.message_ts
        replies = self._replies(surface, request)
        # "Applying" once the confirmation holds, then the progress: a Slack failure (a rate limit
        # outlasting the retries) skips an update and never stops the change being written.
        progress = replies.progress(ts)
        try:
            done = self._licensing.confirm(confirm, progress, confirmed=progress)
        except ChangeNotPending as already:
            request.reply(not_pending(already))
            return
        replies.finish(done, ts)
        if done.group_id and self._follows is not None:
            # R21: Microsoft 365 processes the members afterwards; the scheduler follows it, in the
            # database, and updates this message in place.
            self._follows.start(done, surface.channel, ts)

    def cancel_change(self, request: Request) -> None:
        surface = request.surface(self._updates)
        cancel = CancelChange(request.value, request.requester, request.correlation_id)
        try:
            change_set = self._licensing.cancel(cancel)
        except ChangeNotPending as already:
            if request.only_theirs:
                _already(request, already)
            else:
                request.reply(not_pending(already))
            return
        if request.only_theirs:
            request.reply(change_cancelled(change_set), replace_original=True)
        else:
            surface.update(request.message_ts, change_cancelled(change_set))

    def retry_failed(self, request: Request) -> None:
        def start(change_set_id: str, requester: str, reference: str) -> ChangeSet:
            return self._history.retry_failed(RetryFailed(change_set_id, requester, reference))

        self._follow_up(request, start=start)

    def undo_change(self, request: Request) -> None:
        def start(change_set_id: str, requester: str, reference: str) -> ChangeSet:
            return self._history.request_undo(UndoChange(change_set_id, requester, reference))

        self._follow_up(request, start=start)

    def _follow_up(self, request: Request, *, start: Callable[[str, str, str], ChangeSet]) -> None:
        """Retry and Undo: a new change planned from a finished one (change set id, requester, id)."""
        surface = request.surface(self._updates)
        try:
            change_set = start(request.value, request.requester, request.correlation_id)
        except ChangeNotPending as already:
            request.reply(not_pending(already))
            return
        self._replies(surface, request).show(change_set)

    def _replies(self, surface: Surface, request: Request) -> ChangeReplies:
        return ChangeReplies(
            self._licensing, surface, interval=self._interval, correlation_id=request.correlation_id
        )


def _already(request: Request, already: ChangeNotPending) -> None:
    """The change is no longer waiting for this click.

    While another click is still applying it, that click's result will replace the message, so the
    notice comes as a message of its own; otherwise the notice replaces what this click put there.
    """
    still_applying = already.state == ChangeState.APPLYING.value
    request.reply(not_pending(already), replace_original=not still_applying)
