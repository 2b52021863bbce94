"""The buttons of a change: Confirm and Cancel on a preview, Retry and Undo on a result.

A double click, or a retried request, acts once: the domain refuses a second confirmation, retry
or undo (a key claimed with the change), which is shown as a notice, not as an error. A preview
only its requester sees is replaced through the response URL; a shared one (a bulk change) is
updated in place with `chat.update`, and says "applying" only once the confirmation is accepted,
since anyone in the channel can press its buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, Respond
from slack_sdk import WebClient

from domain.changes import ChangeSet, ChangeState
from domain.commands import CancelChange, ConfirmChange, RetryFailed, UndoChange
from domain.errors import ChangeNotPending
from handlers.admission import people
from handlers.blocks import change_applying, change_cancelled, change_result, not_pending
from handlers.context import Services, correlation_id
from handlers.error_handler import acknowledge_first
from handlers.group_processing import GroupFollower, follow_in_background
from handlers.ids import CANCEL_CHANGE, CONFIRM_CHANGE, RETRY_FAILED, UNDO_CHANGE
from handlers.message_updates import MessageUpdates
from handlers.presenting import ChangeReplies, Surface
from handlers.replies import reply

__all__ = ["register"]


def register(app: App, services: Services) -> None:
    buttons = _Buttons(services)
    acknowledge_first(app.action(CONFIRM_CHANGE), buttons.confirm_change)
    acknowledge_first(app.action(CANCEL_CHANGE), buttons.cancel_change)
    acknowledge_first(app.action(RETRY_FAILED), buttons.retry_failed)
    acknowledge_first(app.action(UNDO_CHANGE), buttons.undo_change)


class _Buttons:
    def __init__(self, services: Services) -> None:
        self._licensing = services.licensing
        self._interval = services.timing.progress_interval
        self._users = services.slack_users
        self._updates = services.message_updates
        self._timing = services.timing

    def confirm_change(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        surface = _surface(body, client, respond, self._updates)
        requester = people(context).requester(surface.user)
        confirm = ConfirmChange(
            str(action.get("value") or ""),
            requester,
            correlation_id(context),
            channel=surface.channel,
            message_ts="" if _only_theirs(body) else _message_ts(body),
        )
        if _only_theirs(body):
            # The preview and its buttons go at once, so nobody is tempted to press Confirm again.
            reply(respond, change_applying(), replace_original=True)
            try:
                done = self._licensing.confirm(confirm)
            except ChangeNotPending as already:
                _already(respond, already)
                return
            reply(respond, change_result(done), replace_original=True)
            return
        ts = _message_ts(body)
        replies = self._replies(surface, context)
        # "Applying" once the confirmation holds, then the progress: a Slack failure (a rate limit
        # outlasting the retries) skips an update and never stops the change being written.
        progress = replies.progress(ts)
        try:
            done = self._licensing.confirm(confirm, progress, confirmed=progress)
        except ChangeNotPending as already:
            reply(respond, not_pending(already))
            return
        replies.finish(done, ts)
        if done.group_id:
            # R21: Microsoft 365 processes the members afterwards; the message follows it.
            follow_in_background(GroupFollower(self._licensing, surface, ts, self._timing), done)

    def cancel_change(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        surface = _surface(body, client, respond, self._updates)
        requester = people(context).requester(surface.user)
        cancel = CancelChange(str(action.get("value") or ""), requester, correlation_id(context))
        try:
            change_set = self._licensing.cancel(cancel)
        except ChangeNotPending as already:
            if _only_theirs(body):
                _already(respond, already)
            else:
                reply(respond, not_pending(already))
            return
        if _only_theirs(body):
            reply(respond, change_cancelled(change_set), replace_original=True)
        else:
            surface.update(_message_ts(body), change_cancelled(change_set))

    def retry_failed(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        def start(change_set_id: str, requester: str, reference: str) -> ChangeSet:
            return self._licensing.retry_failed(RetryFailed(change_set_id, requester, reference))

        self._follow_up(body, action, client, respond, context, start=start)

    def undo_change(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        def start(change_set_id: str, requester: str, reference: str) -> ChangeSet:
            return self._licensing.request_undo(UndoChange(change_set_id, requester, reference))

        self._follow_up(body, action, client, respond, context, start=start)

    def _follow_up(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
        *,
        start: Callable[[str, str, str], ChangeSet],
    ) -> None:
        """Retry and Undo: a new change planned from a finished one (change set id, requester, id)."""
        surface = _surface(body, client, respond, self._updates)
        requester = people(context).requester(surface.user)
        try:
            change_set = start(str(action.get("value") or ""), requester, correlation_id(context))
        except ChangeNotPending as already:
            reply(respond, not_pending(already))
            return
        self._replies(surface, context).show(change_set)

    def _replies(self, surface: Surface, context: BoltContext) -> ChangeReplies:
        return ChangeReplies(
            self._licensing, surface, interval=self._interval, correlation_id=correlation_id(context)
        )


def _surface(
    body: dict[str, Any], client: WebClient, respond: Respond, updates: MessageUpdates | None
) -> Surface:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    return Surface(client, str(channel), str(body["user"]["id"]), respond, updates)


def _only_theirs(body: dict[str, Any]) -> bool:
    """The button is on an ephemeral message: only the person who pressed it sees it."""
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _message_ts(body: dict[str, Any]) -> str:
    return str((body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts") or "")


def _already(respond: Respond, already: ChangeNotPending) -> None:
    """The change is no longer waiting for this click.

    While another click is still applying it, that click's result will replace the message, so the
    notice comes as a message of its own; otherwise the notice replaces what this click put there.
    """
    still_applying = already.state == ChangeState.APPLYING.value
    reply(respond, not_pending(already), replace_original=not still_applying)
