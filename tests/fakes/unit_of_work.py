"""`InMemoryUnitOfWork` and its factory: the bot's own state with real commit and rollback.

Each unit of work works on a copy of the committed state, `commit()` publishes it, and anything not
committed is discarded. Like the real one (`storage.uow`), it holds the bot's own state only: the
tenant directory is no part of it, and while it is open the thread is marked (`domain.transactions`)
so that the directory, commerce and the notifier refuse to be called.
"""

from __future__ import annotations

import copy
from types import TracebackType
from typing import Self

from domain import transactions
from domain.audit import AuditEntry
from domain.changes import ChangeSet
from domain.ports import (
    AdminTaskRepository,
    ApprovalRepository,
    AuditLog,
    ChangeSetRepository,
    GroupFollowRepository,
    IdempotencyKeys,
    Leases,
    WorkflowRepository,
)
from domain.workflows import AdminTask, Approval, Workflow
from tests.fakes.repositories import (
    InMemoryApprovals,
    InMemoryAudit,
    InMemoryChangeSets,
    InMemoryGroupFollows,
    InMemoryKeys,
    InMemoryLeases,
    InMemoryTasks,
    InMemoryWorkflows,
    State,
)

__all__ = ["InMemoryUnitOfWork", "InMemoryUnitOfWorkFactory"]


class InMemoryUnitOfWork:
    """`UnitOfWork` over a copy of the committed state, taken when the unit of work begins.

    `commit()` writes the rows this unit of work added or saved (and its audit entries and keys)
    over the state committed meanwhile by others, then begins again from the result.
    """

    change_sets: ChangeSetRepository
    audit: AuditLog
    keys: IdempotencyKeys
    leases: Leases
    workflows: WorkflowRepository
    approvals: ApprovalRepository
    tasks: AdminTaskRepository
    group_follows: GroupFollowRepository

    def __init__(self, factory: InMemoryUnitOfWorkFactory) -> None:
        self._factory = factory
        self._begin()

    def _begin(self) -> None:
        self._state = self._factory.committed.copy()
        self.change_sets = InMemoryChangeSets(self._state, self._factory.locks)
        self.audit = InMemoryAudit(self._state)
        self.keys = InMemoryKeys(self._state)
        self.leases = InMemoryLeases(self._state)
        self.workflows = InMemoryWorkflows(self._state, self._factory.locks)
        self.approvals = InMemoryApprovals(self._state, self._factory.locks)
        self.tasks = InMemoryTasks(self._state, self._factory.locks)
        self.group_follows = InMemoryGroupFollows(self._state, self._factory.locks)

    def __enter__(self) -> Self:
        transactions.opened()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transactions.closed()
        self.rollback()

    def commit(self) -> None:
        self._factory.committed = self._factory.committed.merge(self._state)
        self._factory.commits += 1
        self._begin()

    def rollback(self) -> None:
        self._begin()


class InMemoryUnitOfWorkFactory:
    """`UnitOfWorkFactory`: every unit of work shares the committed state, and nothing else.

    For assertions: `audit_entries` and `change_set(id)` read what was committed, `commits` counts
    commits and `locks` lists the change set ids read `for_update`.
    """

    def __init__(self) -> None:
        self.committed = State()
        self.commits = 0
        self.locks: list[str] = []

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    @property
    def audit_entries(self) -> list[AuditEntry]:
        return list(self.committed.audit)

    def change_set(self, change_set_id: str) -> ChangeSet | None:
        stored = self.committed.change_sets.get(change_set_id)
        return copy.deepcopy(stored) if stored is not None else None

    def change_sets(self) -> list[ChangeSet]:
        return [copy.deepcopy(cs) for cs in self.committed.change_sets.values()]

    def workflow(self, workflow_id: str) -> Workflow | None:
        stored = self.committed.workflows.get(workflow_id)
        return copy.deepcopy(stored) if stored is not None else None

    def workflows(self) -> list[Workflow]:
        return [copy.deepcopy(w) for w in self.committed.workflows.values()]

    def approvals(self) -> list[Approval]:
        return [copy.deepcopy(a) for a in self.committed.approvals.values()]

    def tasks(self) -> list[AdminTask]:
        return [copy.deepcopy(t) for t in self.committed.tasks.values()]
