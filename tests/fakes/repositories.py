"""The bot's own state in memory (change sets, audit, idempotency keys, leases, workflows, approvals,
admin tasks), with the repositories of `domain.ports` over it: rows are copied in and out, as a
database would, and each unit of work (`tests.fakes.unit_of_work`) works on a `State` of its own."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from domain.audit import AuditEntry
from domain.changes import ChangeItem, ChangeSet, ChangeState
from domain.group_follow import GroupFollow
from domain.ports import Lease
from domain.workflows import (
    AdminTask,
    Approval,
    ApprovalState,
    StepStatus,
    TaskState,
    WaitFor,
    Workflow,
    WorkflowState,
)

__all__ = [
    "InMemoryApprovals",
    "InMemoryAudit",
    "InMemoryChangeSets",
    "InMemoryGroupFollows",
    "InMemoryKeys",
    "InMemoryLeases",
    "InMemoryTasks",
    "InMemoryWorkflows",
    "State",
]


@dataclass(slots=True)
class State:
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    keys: dict[str, datetime] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    tasks: dict[str, AdminTask] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    """Change set ids added or saved since the unit of work began (its rows to write on commit)."""
    written_rows: set[tuple[str, str]] = field(default_factory=set)
    """(table, id) of workflows, approvals and tasks added or saved since the unit of work began."""
    appended: int = 0
    """Audit entries recorded since the unit of work began (the last ones of `audit`)."""
    leases_written: set[str] = field(default_factory=set)
    """Lease names claimed or released since the unit of work began."""
    group_follows: dict[str, GroupFollow] = field(default_factory=dict)

    def copy(self) -> State:
        # Shallow is enough: stored rows are private copies that nothing mutates in place
        # (the repositories copy on add, get and save).
        return State(
            dict(self.change_sets),
            list(self.audit),
            dict(self.keys),
            dict(self.workflows),
            dict(self.approvals),
            dict(self.tasks),
            dict(self.leases),
            group_follows=dict(self.group_follows),
        )

    def merge(self, staged: State) -> State:
        """This committed state with a unit of work's own rows on top, like a database commit."""
        merged = self.copy()
        for change_set_id in staged.written:
            merged.change_sets[change_set_id] = staged.change_sets[change_set_id]
        for table, row_id in staged.written_rows:
            mine: dict[str, object] = getattr(staged, table)
            theirs: dict[str, object] = getattr(merged, table)
            theirs[row_id] = mine[row_id]
        merged.audit.extend(staged.audit[len(staged.audit) - staged.appended :])
        for key, at in staged.keys.items():
            merged.keys.setdefault(key, at)
        for name in staged.leases_written:
            if name in staged.leases:
                merged.leases[name] = staged.leases[name]
            else:
                merged.leases.pop(name, None)
        return merged


class InMemoryChangeSets:
    """`ChangeSetRepository`: `get` returns a copy, so only `add`/`save` change what is stored."""

    def __init__(self, state: State, locks: list[str]) -> None:
        self._state = state
        self._locks = locks

    def add(self, change_set: ChangeSet) -> None:
        if change_set.id in self._state.change_sets:
            raise ValueError(f"change set {change_set.id} exists")
        self._state.change_sets[change_set.id] = copy.deepcopy(change_set)
        self._state.written.add(change_set.id)

    def get(self, change_set_id: str, *, for_update: bool = False) -> ChangeSet | None:
        stored = self._state.change_sets.get(change_set_id)
        if stored is None:
            return None
        if for_update:
            self._locks.append(change_set_id)
        return copy.deepcopy(stored)

    def save(self, change_set: ChangeSet) -> None:
        if change_set.id not in self._state.change_sets:
            raise KeyError(change_set.id)
        self._state.change_sets[change_set.id] = copy.deepcopy(change_set)
        self._state.written.add(change_set.id)

    def lock_state(self, change_set_id: str) -> ChangeState | None:
        stored = self._state.change_sets.get(change_set_id)
        if stored is None:
            return None
        self._locks.append(change_set_id)
        return stored.state

    def save_progress(self, change_set: ChangeSet, items: Sequence[ChangeItem]) -> None:
        stored = self._state.change_sets.get(change_set.id)
        if stored is None:
            raise KeyError(change_set.id)
        stored.state, stored.undoable_until = change_set.state, change_set.undoable_until
        by_user = {item.change.user_id: item for item in stored.items}
        for item in items:
            kept = by_user[item.change.user_id]
            kept.status, kept.reason, kept.rule = item.status, item.reason, item.rule
        self._state.written.add(change_set.id)

    def ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        return sorted(i for i in self._state.change_sets if i.startswith(prefix))[:limit]

    def recent(self, requested_by: str | None = None, limit: int = 10) -> list[ChangeSet]:
        found = [
            cs
            for cs in self._state.change_sets.values()
            if requested_by is None or cs.requested_by.casefold() == requested_by.casefold()
        ]
        found.sort(key=lambda cs: cs.created_at, reverse=True)
        return [copy.deepcopy(cs) for cs in found[:limit]]

    def ids_in_state(self, state: ChangeState) -> list[str]:
        return [cs.id for cs in self._state.change_sets.values() if cs.state is state]


class InMemoryAudit:
    """`AuditLog`: append-only; entries show in `recent` newest first."""

    def __init__(self, state: State) -> None:
        self._state = state

    def record(self, entry: AuditEntry) -> None:
        self._state.audit.append(entry)
        self._state.appended += 1

    def recent(self, limit: int = 20, actor: str | None = None) -> list[AuditEntry]:
        found = [e for e in reversed(self._state.audit) if actor is None or e.actor == actor]
        return found[:limit]


class InMemoryKeys:
    """`IdempotencyKeys`: a key is claimed once."""

    def __init__(self, state: State) -> None:
        self._state = state

    def claim(self, key: str, at: datetime) -> bool:
        if key in self._state.keys:
            return False
        self._state.keys[key] = at
        return True


class InMemoryLeases:
    """`Leases`: claimed and released in the unit of work, kept on commit."""

    def __init__(self, state: State) -> None:
        self._state = state

    def claim(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self._state.leases.get(name)
        if held is not None and held.owner != owner and held.expires_at > now:
            return False
        self._state.leases[name] = Lease(name, owner, now + ttl)
        self._state.leases_written.add(name)
        return True

    def renew(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        held = self._state.leases.get(name)
        if held is None or held.owner != owner:
            return False
        self._state.leases[name] = Lease(name, owner, now + ttl)
        self._state.leases_written.add(name)
        return True

    def release(self, name: str, owner: str) -> None:
        held = self._state.leases.get(name)
        if held is not None and held.owner == owner:
            del self._state.leases[name]
            self._state.leases_written.add(name)

    def holder(self, name: str) -> Lease | None:
        return self._state.leases.get(name)

    def release_owned(self, owner_prefix: str) -> int:
        mine = [name for name, lease in self._state.leases.items() if lease.owner.startswith(owner_prefix)]
        for name in mine:
            del self._state.leases[name]
            self._state.leases_written.add(name)
        return len(mine)


_Row = TypeVar("_Row", Workflow, Approval, AdminTask, GroupFollow)


class _InMemoryRows(Generic[_Row]):
    """A table of the bot's workflow state: copies in and out, like rows."""

    table: str = ""

    def __init__(self, state: State, locks: list[str]) -> None:
        self._state = state
        self._locks = locks

    @property
    def _rows(self) -> dict[str, _Row]:
        rows: dict[str, _Row] = getattr(self._state, self.table)
        return rows

    def add(self, row: _Row) -> None:
        if row.id in self._rows:
            raise ValueError(f"{self.table} {row.id} exists")
        self._put(row)

    def get(self, row_id: str, *, for_update: bool = False) -> _Row | None:
        stored = self._rows.get(row_id)
        if stored is None:
            return None
        if for_update:
            self._locks.append(row_id)
        return copy.deepcopy(stored)

    def save(self, row: _Row) -> None:
        if row.id not in self._rows:
            raise KeyError(row.id)
        self._put(row)

    def _put(self, row: _Row) -> None:
        self._rows[row.id] = copy.deepcopy(row)
        self._state.written_rows.add((self.table, row.id))

    def _all(self) -> list[_Row]:
        return [copy.deepcopy(row) for row in self._rows.values()]


class InMemoryWorkflows(_InMemoryRows[Workflow]):
    """`WorkflowRepository`."""

    table = "workflows"

    def in_state(self, *states: WorkflowState) -> list[Workflow]:
        found = [w for w in self._all() if w.state in states]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    def waiting_for(self, waits: Collection[WaitFor]) -> list[Workflow]:
        found = [w for w in self._all() if w.state is WorkflowState.WAITING and w.waiting_for in waits]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    def claim_ready(
        self, owner: str, now: datetime, ttl: timedelta, *, limit: int = 50, force: bool = False
    ) -> list[str]:
        claimed: list[str] = []
        for workflow in self.in_state(WorkflowState.RUNNING):
            step = workflow.current
            if step is None or step.status not in {StepStatus.PENDING, StepStatus.RUNNING}:
                continue
            free = (
                workflow.lease_expires_at is None
                or workflow.lease_expires_at <= now
                or workflow.lease_owner == owner
            )
            if not (free or force):
                continue
            if step.status is StepStatus.PENDING:
                workflow.lease_owner, workflow.lease_expires_at = owner, now + ttl
                self._put(workflow)
            claimed.append(workflow.id)
            if len(claimed) >= limit:
                break
        return claimed

    def release_owned(self, owner_prefix: str) -> int:
        mine = [w for w in self._all() if w.lease_owner and w.lease_owner.startswith(owner_prefix)]
        for workflow in mine:
            workflow.lease_owner, workflow.lease_expires_at = "", None
            self._put(workflow)
        return len(mine)

    def recent(self, limit: int = 10, requested_by: str | None = None) -> list[Workflow]:
        found = [
            w
            for w in self._all()
            if requested_by is None or w.requested_by.casefold() == requested_by.casefold()
        ]
        return sorted(found, key=lambda w: (w.created_at, w.id), reverse=True)[:limit]

    def purchases_taken(self, sku_id: str, *, excluding: str) -> set[str]:
        return {
            w.purchase_id
            for w in self._rows.values()
            if w.purchase_id and w.product.sku_id == sku_id and w.id != excluding
        }

    def take_purchase(self, workflow_id: str, subscription_id: str) -> bool:
        owner = next((w.id for w in self._rows.values() if w.purchase_id == subscription_id), None)
        if owner not in {None, workflow_id}:
            return False
        self._rows[workflow_id].purchase_id = subscription_id
        self._state.written_rows.add((self.table, workflow_id))
        return True


class InMemoryApprovals(_InMemoryRows[Approval]):
    """`ApprovalRepository`."""

    table = "approvals"

    def pending(self) -> list[Approval]:
        found = [a for a in self._all() if a.state is ApprovalState.PENDING]
        return sorted(found, key=lambda a: (a.requested_at, a.id))


class InMemoryTasks(_InMemoryRows[AdminTask]):
    """`AdminTaskRepository`: adding a task that exists is a no-op, as the port says."""

    table = "tasks"

    def add(self, row: AdminTask) -> None:
        if row.id not in self._rows:
            self._put(row)

    def open(self) -> list[AdminTask]:
        found = [t for t in self._all() if t.state is TaskState.OPEN]
        return sorted(found, key=lambda t: (t.created_at, t.id))


class InMemoryGroupFollows(_InMemoryRows[GroupFollow]):
    """`GroupFollowRepository`: adding a follow that exists is a no-op, as the port says."""

    table = "group_follows"

    def add(self, row: GroupFollow) -> None:
        if row.id not in self._rows:
            self._put(row)

    def following(self) -> list[GroupFollow]:
        found = [f for f in self._all() if f.following]
        return sorted(found, key=lambda f: (f.started_at, f.id))
