"""Following a group's license processing until Microsoft 365 is done (R21), across restarts.

After a confirmed change to a group's own license, Microsoft 365 licenses each member in the
background (`licenseProcessingState`). `start` records the follow in the database (the group, the
change set, where its message is, when it started, when it is said to be slow and when following
stops) and shows "processing" in place of the change's message. The scheduler's `tick` then reads
each followed group, at most once per poll interval whatever the number of processes (a lease taken
per read, never given back: it runs out after the interval), updates the message in place when what
it says changes, and records what it showed. A restart, or a crash, loses nothing: the next process
to tick goes on from the database, after it serves requests (the scheduler's first tick runs on its
own thread).

The message never says processing is complete before Microsoft 365 does. Still processing after
`slow_after`, it says it is slow and what to check; past `follow_for`, it says it stops following and
where to look. The tenant and Slack are never reached while a transaction is open.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from domain.changes import ChangeSet, ItemStatus
from domain.errors import DomainError
from domain.group_follow import FollowState, GroupFollow, group_poll_lease
from domain.model import Group, ProcessingState, Product, User
from domain.ports import Clock, TenantDirectory, UnitOfWorkFactory

__all__ = ["FollowMessages", "FollowTick", "GroupFollows", "GroupProgress"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GroupProgress:
    """What a followed group's message says now."""

    state: ProcessingState
    group: Group | None = None
    """The group as last read (None: not read yet)."""
    products: dict[str, Product] = field(default_factory=dict)
    in_error: list[User] = field(default_factory=list)
    """The members left in an error state, read once processing is complete."""
    slow: bool = False
    """Still processing after `slow_after`: say so, with what to check."""
    ended: bool = False
    """The follow window ran out before processing completed: the message stops following."""

    @property
    def complete(self) -> bool:
        return self.state is ProcessingState.COMPLETE

    def key(self) -> str:
        """What the message shows, as a key: it is updated only when this changes."""
        errors = sorted(
            (user.id, state.sku_id, state.error)
            for user in self.in_error
            for state in user.states
            if self.group is not None and state.group_id == self.group.id and state.in_error
        )
        digest = hashlib.sha256(repr(errors).encode()).hexdigest()[:16] if errors else ""
        return f"{self.state.value}|{'slow' if self.slow else ''}|{'ended' if self.ended else ''}|{digest}"


class FollowMessages(Protocol):
    """Where a followed group change's message is shown (Slack, implemented there)."""

    def group_progress(self, follow: GroupFollow, change_set: ChangeSet, progress: GroupProgress) -> bool:
        """Show `progress` in place of the change's message (`follow.channel`, `follow.message_ts`),
        with the members in error and their fix once complete. False when it could not be shown:
        it is shown again at the next read. Never called inside a transaction."""
        ...


@dataclass(slots=True)
class FollowTick:
    polled: list[str] = field(default_factory=list)
    """The groups read."""
    completed: list[str] = field(default_factory=list)
    """The change sets whose processing completed (and whose message says so)."""
    ended: list[str] = field(default_factory=list)
    """The change sets no longer followed: the follow window ran out."""


class GroupFollows:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        messages: FollowMessages,
        *,
        owner: str,
        poll_interval: timedelta,
        slow_after: timedelta = timedelta(hours=1),
        follow_for: timedelta = timedelta(days=1),
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._messages = messages
        self._owner = owner
        self._interval = poll_interval
        self._slow_after = slow_after
        self._follow_for = follow_for

    def start(self, change_set: ChangeSet, channel: str, message_ts: str) -> GroupFollow | None:
        """Follow a confirmed group change whose write went through: recorded, then its message
        says Microsoft 365 is processing the members. None when there is nothing to follow."""
        if not change_set.group_id or not change_set.items or not channel or not message_ts:
            return None
        if change_set.items[0].status is not ItemStatus.APPLIED:
            return None
        now = self._clock.now()
        progress = GroupProgress(ProcessingState.IN_PROGRESS)
        follow = GroupFollow(
            change_set_id=change_set.id,
            group_id=change_set.group_id,
            channel=channel,
            message_ts=message_ts,
            started_at=now,
            slow_after=now + self._slow_after,
            deadline=now + self._follow_for,
        )
        with self._uow() as uow:
            uow.group_follows.add(follow)
            uow.commit()
        if self._messages.group_progress(follow, change_set, progress):
            self._record(follow, progress.key())
        return follow

    def tick(self) -> FollowTick:
        """Read each followed group whose poll interval is over (claiming it, so no other process
        reads it in this interval), and update the messages of its follows."""
        report = FollowTick()
        now = self._clock.now()
        with self._uow() as uow:
            follows = uow.group_follows.following()
            claimed: list[str] = []
            for group_id in dict.fromkeys(follow.group_id for follow in follows):
                # A fresh owner per read: the lease is never renewed, even by this process.
                reader = f"{self._owner}:{uuid.uuid4().hex[:8]}"
                if uow.leases.claim(group_poll_lease(group_id), reader, now, self._interval):
                    claimed.append(group_id)
            change_sets = {
                follow.change_set_id: uow.change_sets.get(follow.change_set_id)
                for follow in follows
                if follow.group_id in claimed
            }
            uow.commit()
        for group_id in claimed:
            report.polled.append(group_id)
            read = self._read(group_id)
            for follow in (f for f in follows if f.group_id == group_id):
                change_set = change_sets.get(follow.change_set_id)
                if change_set is None:
                    self._end(follow, None, report)
                    continue
                self._advance(follow, change_set, read, report)
        return report

    def _read(self, group_id: str) -> tuple[Group, dict[str, Product], list[User]] | None:
        try:
            found = self._directory.groups_by_id([group_id]).get(group_id)
            if found is None:
                return None
            # Read once processing is over (Graph does not return `hasMembersWithLicenseErrors`).
            complete = found.processing is ProcessingState.COMPLETE
            in_error = self._directory.members_with_license_errors(group_id) if complete else []
            products = {p.sku_id: p for p in self._directory.products()} if in_error else {}
        except DomainError as error:
            log.warning("could not read a group being processed", extra={"error": error.problem})
            return None
        return found, products, in_error

    def _advance(
        self,
        follow: GroupFollow,
        change_set: ChangeSet,
        read: tuple[Group, dict[str, Product], list[User]] | None,
        report: FollowTick,
    ) -> None:
        now = self._clock.now()
        if read is None:
            if now >= follow.deadline:
                self._end(follow, change_set, report)
            return
        group, products, in_error = read
        state = group.processing
        complete = state is ProcessingState.COMPLETE
        ended = not complete and now >= follow.deadline
        progress = GroupProgress(
            state,
            group,
            products,
            in_error,
            slow=not complete and now >= follow.slow_after,
            ended=ended,
        )
        shown = follow.shown
        if progress.key() != follow.shown:
            if not self._messages.group_progress(follow, change_set, progress):
                if ended:
                    self._end(follow, None, report)
                return
            shown = progress.key()
        if complete:
            follow.state = FollowState.COMPLETE
            report.completed.append(follow.change_set_id)
        elif ended:
            follow.state = FollowState.ENDED
            report.ended.append(follow.change_set_id)
        self._record(follow, shown, polled=now)

    def _end(self, follow: GroupFollow, change_set: ChangeSet | None, report: FollowTick) -> None:
        """The window ran out with the group unreadable (or its change set gone)."""
        progress = GroupProgress(ProcessingState.IN_PROGRESS, slow=True, ended=True)
        if change_set is not None:
            self._messages.group_progress(follow, change_set, progress)
        follow.state = FollowState.ENDED
        report.ended.append(follow.change_set_id)
        self._record(follow, progress.key())

    def _record(self, follow: GroupFollow, shown: str, *, polled: datetime | None = None) -> None:
        """What the message shows now and whether the follow goes on, unless another process
        ended it meanwhile."""
        with self._uow() as uow:
            stored = uow.group_follows.get(follow.change_set_id, for_update=True)
            if stored is None or not stored.following:
                return
            stored.shown = shown
            stored.state = follow.state
            stored.polled_at = polled or stored.polled_at
            if follow.state is not FollowState.FOLLOWING:
                stored.ended_at = self._clock.now()
            uow.group_follows.save(stored)
            uow.commit()
        follow.shown = stored.shown
