"""Following a group's license change while Microsoft 365 processes its members (R21).

A group's license is written at once; Microsoft 365 then licenses each member in the background
(`licenseProcessingState`). After a confirmed group change, its message in the channel is updated in
place: "processing…", then, once the state is ProcessingComplete and only then, the members left in
an error state with the reason and fix of each (in a CSV in the thread when they are many). The group
is read at most once per poll interval, whatever the number of followers of it; a processing that
takes longer than `group_stall_after` is said to be slow, with what to check, and is followed until
`group_follow_for` runs out. Reads happen with no transaction open (the services read the tenant).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from domain.application.group_changes import GroupChanges
from domain.application.results import GroupOverview
from domain.changes import ChangeSet, ItemStatus
from domain.errors import DomainError
from domain.model import ProcessingState
from handlers.blocks import group_processing, member_errors, result_buttons, result_note
from handlers.blocks.groups import SHOWN_MEMBER_ERRORS
from handlers.blocks.text import escape
from handlers.context import Timing
from handlers.exports import member_errors_csv
from handlers.presenting import Surface

__all__ = ["GroupFollower", "GroupPolls", "follow_in_background"]

log = logging.getLogger(__name__)


class GroupPolls:
    """At most one read of a group per interval, across every follower in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait_turn(self, group_id: str, interval: float, sleep: Callable[[float], None]) -> None:
        while True:
            with self._lock:
                now = self._clock()
                due = self._next.get(group_id, now)
                if due <= now:
                    self._next[group_id] = now + interval
                    return
            sleep(due - now)


POLLS = GroupPolls()
"""This process's reads of groups being processed."""


@dataclass
class GroupFollower:
    groups: GroupChanges
    surface: Surface
    ts: str
    timing: Timing
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    polls: GroupPolls = POLLS

    def follow(self, change_set: ChangeSet) -> ProcessingState | None:
        """Update the message until processing is complete (or followed long enough); the last
        state read (None: never read)."""
        started = self.clock()
        shown: tuple[object, ...] | None = None
        state: ProcessingState | None = None
        while True:
            self.polls.wait_turn(change_set.group_id, self.timing.group_poll_interval, self.sleep)
            try:
                status = self.groups.group_processing(change_set.group_id)
            except DomainError as error:
                log.warning("could not read a group being processed", extra={"error": error.problem})
                status = None
            waited = self.clock() - started
            if status is not None:
                state = status.group.processing
                shown = self._show(change_set, status, waited, shown)
                if state is ProcessingState.COMPLETE:
                    return state
            if waited >= self.timing.group_follow_for:
                self._hand_over(change_set)
                return state

    def _show(
        self, change_set: ChangeSet, status: GroupOverview, waited: float, shown: tuple[object, ...] | None
    ) -> tuple[object, ...]:
        state = status.group.processing
        complete = state is ProcessingState.COMPLETE
        group = status.group
        errors = (
            member_errors(group.id, status.in_error, status.products, group.display_name) if complete else []
        )
        stalled = not complete and waited >= self.timing.group_stall_after
        key = (state, stalled, tuple(errors))
        if key == shown:
            return key  # nothing new: no chat.update
        many = len(errors) > SHOWN_MEMBER_ERRORS
        message = group_processing(
            change_set,
            state,
            errors,
            buttons=result_buttons(change_set),
            note=result_note(change_set),
            stalled=stalled,
            csv_in_thread=many,
        )
        try:
            self.surface.update(self.ts, message)
            if many:
                self.surface.attach(
                    self.ts,
                    f"group-errors-{change_set.id[:8]}.csv",
                    member_errors_csv(errors),
                    "Every member left in an error state, with the reason and the fix.",
                )
        except SlackApiError as error:
            log.warning(
                "could not update a group's message", extra={"error": str(error.response.get("error"))}
            )
        return key

    def _hand_over(self, change_set: ChangeSet) -> None:
        name = escape(change_set.items[0].change.display_name)
        try:
            self.surface.client.chat_postMessage(
                channel=self.surface.channel,
                thread_ts=self.ts,
                text=(
                    f"Microsoft 365 has not finished processing the group {name} yet; this message stops "
                    f'following it. `/license show group:"{name}"` shows where it stands and who is in error.'
                ),
            )
        except SlackApiError as error:
            log.warning("could not post a hand-over", extra={"error": str(error.response.get("error"))})


def follow_in_background(follower: GroupFollower, change_set: ChangeSet) -> threading.Thread | None:
    """Follow a group change that was written, on a thread of its own (it can take minutes)."""
    if not change_set.group_id or change_set.items[0].status is not ItemStatus.APPLIED:
        return None
    thread = threading.Thread(
        target=_safely, args=(follower, change_set), name=f"group-{change_set.id[:8]}", daemon=True
    )
    thread.start()
    return thread


def _safely(follower: GroupFollower, change_set: ChangeSet) -> None:
    try:
        follower.follow(change_set)
    except Exception:
        log.exception("following a group's processing failed", extra={"action": "group-processing"})
