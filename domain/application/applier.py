"""Writing a confirmed change set to the tenant exactly once, whatever dies when (R7, R17, R20).

This module is the one place to check the exactly-once argument. The protocol, per batch of at most
20 users (Graph's `$batch`, R17):

1. **Intent** — one short transaction: renew the change set's lease (or claim it), pick the next
   batch, mark its items SENDING (each item carries the `before` state it was planned from) and
   commit. Nothing remote happens in it.
2. **Write** — with no transaction open (`domain.transactions`): the tenant directory writes each
   user once, adding and removing in one `assignLicense` (R7). A first attempt writes directly; a
   batch some of whose items were already SENDING (an earlier attempt died, or its answer was lost)
   is written with `verify`: the directory reads those users first and writes only the ones still
   in their `before` state.
3. **Outcome** — one short transaction: check the lease is still this thread's (a process that lost
   it records nothing: the new holder decides), record each item's outcome and its audit entry
   (R20), and commit.

What a resume concludes, item by item:
- PENDING: never sent; it goes into a later batch.
- SENDING: this change may have written it. The directory reads the user: in the `before` state, the
  write did not land and is sent now; in the `after` state, **this change wrote it** (its intent is
  recorded), so it is APPLIED and covered by Undo — only a user found in the `after` state with no
  intent recorded (a first attempt) is ALREADY_APPLIED, "already so"; in neither state, someone
  else changed the user meanwhile: CONFLICT, not written.
- APPLIED, ALREADY_APPLIED, FAILED, CONFLICT: final, never sent again.

Why no user is written twice: a write is only ever sent for a user read in (or planned from) its
`before` state, and an `assignLicense` that lands moves the user to `after`; a second sender (a
resume after a crash, or another replica once the lease ran out) reads `after` first and does not
write. Two senders never act at once, because the lease is renewed at every batch and a thread that
finds it held by another live owner stops. Why nobody is left without a license mid-move: the add
and the remove of one user are one request (R7).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.audit import AuditEntry, AuditResult
from domain.changes import (
    ChangeItem,
    ChangeOutcome,
    ChangeSet,
    ChangeState,
    ItemStatus,
    OutcomeKind,
    UserChange,
)
from domain.errors import ChangeConflict, ChangeNotPending, DomainError
from domain.group_licensing import UnknownGroup
from domain.model import licenses_to_json
from domain.ports import Clock, TenantDirectory, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "BATCH_SIZE",
    "LEASE_TTL",
    "UNDO_TTL",
    "ChangeApplier",
    "GroupWrites",
    "Progress",
    "change_set_lease",
]

BATCH_SIZE = 20
"""R17: Graph's `$batch` takes at most 20 requests."""

UNDO_TTL = timedelta(minutes=60)
"""How long after a change its Undo button works, unless the service is given another time."""

LEASE_TTL = timedelta(minutes=5)
"""How long a process applying a change set holds it, renewed at every batch: another process
finishes the change once the lease has run out (the first one died)."""

WRITTEN_BEFORE = "written by this change before it was interrupted"
"""The reason of an item found in its `after` state on a resume, with its intent recorded."""

Progress = Callable[[ChangeSet], None]

log = logging.getLogger(__name__)


def change_set_lease(change_set_id: str) -> str:
    """The lease (`domain.ports.Leases`) held by whoever applies the change set."""
    return f"change-set:{change_set_id}"


class ChangeApplier:
    """Applies confirmed change sets batch by batch under their lease (the protocol above)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        *,
        batch_size: int = BATCH_SIZE,
        undo_ttl: timedelta = UNDO_TTL,
        lease_ttl: timedelta = LEASE_TTL,
        owner: str | None = None,
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._batch_size = batch_size
        self._undo_ttl = undo_ttl
        self._lease_ttl = lease_ttl
        self._process = owner or f"licensebot-{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()

    @property
    def process(self) -> str:
        """This process's part of every lease owner (`owner` adds the thread)."""
        return self._process

    @property
    def owner(self) -> str:
        """Who holds the lease of a change set this thread applies (a process and its thread)."""
        return f"{self._process}:{threading.get_ident()}"

    def hold(self, uow: UnitOfWork, change_set_id: str) -> None:
        """Take the change set's lease for this thread in `uow`, with the confirmation that makes
        it applying: from that commit on, no other replica's scheduler starts it first."""
        uow.leases.claim(change_set_lease(change_set_id), self.owner, self._clock.now(), self._lease_ttl)

    def stop(self) -> None:
        """The process is shutting down: every change being applied stops after its current
        batch and gives its lease back, so another process finishes it at once."""
        self._stopping.set()

    def apply(
        self, change_set_id: str, correlation_id: str = "", progress: Progress | None = None
    ) -> ChangeSet:
        """Write a confirmed change set in batches; resumable after a crash at any point.

        A change another live process is applying is returned as it is (still applying), and one
        whose process died is finished by the next one to try once the lease has run out. When this
        process is stopping (`stop`), the lease is given back after the current batch.
        """
        return self._apply(change_set_id, correlation_id, progress)[0]

    def resume_unfinished(self, *, force: bool = False) -> list[str]:
        """Finish every change set a crash, a restart or a stopped process left in the middle of
        applying; returns those finished. One that a live process is applying is left to it;
        `force` takes them all over at once — only for a process that knows it is alone."""
        with self._uow() as uow:
            unfinished = uow.change_sets.ids_in_state(ChangeState.APPLYING)
            if not force:
                # Left to its live holder without being read: reading a change set of 500 users
                # with its row locked (on SQLite, the whole database's write lock) at every
                # scheduler tick kept every other writer waiting for nothing.
                now = self._clock.now()
                unfinished = [c for c in unfinished if not self._held_by_another(uow, c, now)]
        finished: list[str] = []
        for change_set_id in unfinished:
            if self._stopping.is_set():
                break
            if force:
                self.take_over(change_set_id)
            change_set, held = self._apply(change_set_id)
            if held and change_set.state is not ChangeState.APPLYING:
                finished.append(change_set_id)
        return finished

    def _held_by_another(self, uow: UnitOfWork, change_set_id: str, now: datetime) -> bool:
        """Another thread or process holds the change set's lease and it has not run out: a claim
        would fail (`Leases.claim`)."""
        holder = uow.leases.holder(change_set_lease(change_set_id))
        return holder is not None and holder.owner != self.owner and holder.expires_at > now

    def take_over(self, change_set_id: str) -> None:
        """Drop whatever lease the change set has, so this thread applies it next."""
        lease = change_set_lease(change_set_id)
        with self._uow() as uow:
            holder = uow.leases.holder(lease)
            if holder is not None:
                uow.leases.release(lease, holder.owner)
                uow.commit()

    # --- one batch in three steps -----------------------------------------------------------------

    def _apply(
        self, change_set_id: str, correlation_id: str = "", progress: Progress | None = None
    ) -> tuple[ChangeSet, bool]:
        """`apply`, and whether this call held the change at all (False: it was finished already,
        or another process holds it)."""
        lease, owner = change_set_lease(change_set_id), self.owner
        held = False
        kept: ChangeSet | None = None
        try:
            while True:
                step = self._intent(change_set_id, lease, owner, held=held, kept=kept)
                if isinstance(step, _Stop):
                    return step.change_set, step.held
                change_set, batch, resumed = step
                # A group's own license (R21) is written with the group's assignLicense.
                writer = GroupWrites(self._directory) if change_set.group_id else self._directory
                outcomes = writer.apply([i.change for i in batch], verify=bool(resumed))
                recorded = self._outcome(
                    change_set, lease, owner, outcomes, resumed, correlation_id=correlation_id
                )
                if recorded is None:  # taken over meanwhile: the new holder decides from the intent
                    return self._current(change_set_id), False
                held, kept = True, recorded
                if progress is not None:
                    progress(recorded)
        except BaseException:
            self._give_back(lease, owner)  # a failure, not a death: let the next tick retry now
            raise

    def _intent(
        self, change_set_id: str, lease: str, owner: str, *, held: bool, kept: ChangeSet | None
    ) -> _Stop | tuple[ChangeSet, list[ChangeItem], frozenset[str]]:
        """Step 1: the next batch marked SENDING and committed, with the users an earlier attempt
        had marked already (`resumed`); or why there is nothing to send (`_Stop`)."""
        with self._uow() as uow:
            change_set, ours = self._lock(uow, change_set_id, lease, owner, kept)
            if change_set.state is not ChangeState.APPLYING:
                uow.leases.release(lease, owner)
                uow.commit()
                return _Stop(change_set, held)
            if self._stopping.is_set():
                uow.leases.release(lease, owner)
                uow.commit()
                log.info("stopping: change set %s is left to another process", change_set_id)
                return _Stop(change_set, held)
            if not ours and not uow.leases.claim(lease, owner, self._clock.now(), self._lease_ttl):
                return _Stop(change_set, False)  # another process is applying it
            batch = change_set.next_batch(self._batch_size)
            if not batch:  # every item already final: the set is done
                self._finish(change_set)
                uow.change_sets.save_progress(change_set, [])
                uow.leases.release(lease, owner)
                uow.commit()
                return _Stop(change_set, True)
            resumed = frozenset(i.change.user_id for i in batch if i.status is ItemStatus.SENDING)
            change_set.mark_sending(batch)
            uow.change_sets.save_progress(change_set, batch)
            uow.commit()
        return change_set, batch, resumed

    def _outcome(
        self,
        sent: ChangeSet,
        lease: str,
        owner: str,
        outcomes: list[ChangeOutcome],
        resumed: frozenset[str],
        *,
        correlation_id: str,
    ) -> ChangeSet | None:
        """Step 3: the outcomes and their audit committed, if this thread still holds the lease
        (None: another process took the change over while the batch was being written)."""
        with self._uow() as uow:
            change_set, ours = self._lock(uow, sent.id, lease, owner, sent)
            if change_set.state is not ChangeState.APPLYING:
                return None
            if not ours and not uow.leases.claim(lease, owner, self._clock.now(), self._lease_ttl):
                return None
            by_user = {i.change.user_id: i for i in change_set.items}
            now = self._clock.now()
            recorded: list[ChangeItem] = []
            for outcome in outcomes:
                current = by_user.get(outcome.user_id)
                if current is None or current.status is not ItemStatus.SENDING:
                    continue  # recorded meanwhile by whoever held the lease
                item = change_set.record(_by_intent(outcome, resumed))
                recorded.append(item)
                uow.audit.record(_audit(change_set, item, correlation_id, now))
            self._finish(change_set)
            uow.change_sets.save_progress(change_set, recorded)
            uow.commit()
        return change_set

    def _lock(
        self, uow: UnitOfWork, change_set_id: str, lease: str, owner: str, kept: ChangeSet | None
    ) -> tuple[ChangeSet, bool]:
        """The change set, its row locked, and whether this thread still holds its lease.

        When this thread has held the lease without a break since it last saved `kept`, no other
        process can have written the change since: only its row is locked and `kept` is used as it
        is. Otherwise (a first batch, or the lease was lost meanwhile) the change set is read again
        whole and the lease must be claimed."""
        if kept is not None:
            state = uow.change_sets.lock_state(change_set_id)
            if state is ChangeState.APPLYING and uow.leases.renew(
                lease, owner, self._clock.now(), self._lease_ttl
            ):
                return kept, True
        change_set = uow.change_sets.get(change_set_id, for_update=True)
        if change_set is None:
            raise ChangeNotPending("gone (unknown change)")
        return change_set, False

    def _current(self, change_set_id: str) -> ChangeSet:
        with self._uow() as uow:
            change_set = uow.change_sets.get(change_set_id)
        if change_set is None:
            raise ChangeNotPending("gone (unknown change)")
        return change_set

    def _give_back(self, lease: str, owner: str) -> None:
        try:
            with self._uow() as uow:
                uow.leases.release(lease, owner)
                uow.commit()
        except Exception:  # the database may be what failed; the lease then simply runs out
            log.warning("could not give back %s; it runs out by itself", lease, exc_info=True)

    def _finish(self, change_set: ChangeSet) -> None:
        """A change that is done and wrote something can be undone for a while."""
        wrote = any(item.status is ItemStatus.APPLIED for item in change_set.items)
        if change_set.state is ChangeState.DONE and change_set.undoable_until is None and wrote:
            change_set.undoable_until = self._clock.now() + self._undo_ttl


class GroupWrites:
    """The `TenantDirectory.apply` contract for groups: each change's target is a group, written
    with the group's own `assignLicense` (add and remove in one call). A group already in the
    `after` state is not written; one in neither state was changed by someone else and is left."""

    def __init__(self, directory: TenantDirectory) -> None:
        self._directory = directory

    def apply(self, changes: Sequence[UserChange], *, verify: bool = False) -> list[ChangeOutcome]:  # noqa: ARG002 (always read first: one group)
        groups = self._directory.groups_by_id([change.user_id for change in changes])
        outcomes: list[ChangeOutcome] = []
        for change in changes:
            group = groups.get(change.user_id)
            if group is None:
                outcomes.append(ChangeOutcome.failed(change.user_id, UnknownGroup(change.display_name)))
                continue
            state = change.state_of(group.licenses)
            if state == "after":
                outcomes.append(ChangeOutcome(group.id, OutcomeKind.ALREADY_APPLIED, licenses=group.licenses))
                continue
            if state == "other":
                conflict = ChangeConflict(f"The group {group.display_name}")
                outcomes.append(
                    ChangeOutcome(group.id, OutcomeKind.CONFLICT, conflict.message, licenses=group.licenses)
                )
                continue
            try:
                written = self._directory.assign_group_license(group.id, change.add, change.remove)
            except DomainError as refusal:
                outcomes.append(ChangeOutcome.failed(group.id, refusal))
                continue
            outcomes.append(ChangeOutcome(group.id, OutcomeKind.APPLIED, licenses=written.licenses))
        return outcomes


@dataclass(frozen=True, slots=True)
class _Stop:
    """Nothing (more) to send in this call: the change set as it is, and whether we held it."""

    change_set: ChangeSet
    held: bool


def _by_intent(outcome: ChangeOutcome, resumed: frozenset[str]) -> ChangeOutcome:
    """A user found in the `after` state whose item this change had marked SENDING before this
    attempt was written by this change (its answer was lost in a crash): APPLIED, so Undo covers
    them. Without a recorded intent, `after` means the user was so already."""
    if outcome.kind is OutcomeKind.ALREADY_APPLIED and outcome.user_id in resumed:
        return replace(outcome, kind=OutcomeKind.APPLIED, reason=WRITTEN_BEFORE)
    return outcome


def _audit(change_set: ChangeSet, item: ChangeItem, correlation_id: str, now: datetime) -> AuditEntry:
    applied = item.status in {ItemStatus.APPLIED, ItemStatus.ALREADY_APPLIED}
    return AuditEntry(
        at=now,
        actor=change_set.requested_by,
        action=f"{change_set.kind} {change_set.product_label}",
        result=AuditResult.APPLIED if applied else AuditResult.FAILED,
        target=item.change.user_principal_name,
        before=licenses_to_json(item.change.before),
        after=licenses_to_json(item.change.after),
        reason=item.reason or item.status.value,
        correlation_id=correlation_id,
        change_set_id=change_set.id,
    )
