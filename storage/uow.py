"""The unit of work (`domain.ports.UnitOfWork`) over one SQLAlchemy session.

It holds the bot's own state only. The tenant directory is not part of it (not even the simulated
one, which keeps its own sessions as a remote system would): while a unit of work is open, the thread
is marked (`domain.transactions`), and the adapters that reach the tenant refuse to be called.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from domain import transactions
from domain.errors import StateUnavailable
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
from storage.repositories import (
    SqlAuditLog,
    SqlChangeSetRepository,
    SqlGroupFollows,
    SqlIdempotencyKeys,
    SqlLeases,
)
from storage.workflow_repositories import (
    SqlAdminTaskRepository,
    SqlApprovalRepository,
    SqlWorkflowRepository,
)

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]


class SqlUnitOfWork:
    """`with uow:` opens a session and a transaction; leaving it rolls back whatever was not committed."""

    change_sets: ChangeSetRepository
    audit: AuditLog
    keys: IdempotencyKeys
    leases: Leases
    workflows: WorkflowRepository
    approvals: ApprovalRepository
    tasks: AdminTaskRepository
    group_follows: GroupFollowRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already in use; create a new one per `with` block")
        session = self._session_factory()
        self._session = session
        self.change_sets = SqlChangeSetRepository(session)
        self.audit = SqlAuditLog(session)
        self.keys = SqlIdempotencyKeys(session)
        self.leases = SqlLeases(session)
        self.workflows = SqlWorkflowRepository(session)
        self.approvals = SqlApprovalRepository(session)
        self.tasks = SqlAdminTaskRepository(session)
        self.group_follows = SqlGroupFollows(session)
        transactions.opened()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._active, None
        transactions.closed()
        try:
            session.rollback()
        except DBAPIError:
            if exc is None:
                raise StateUnavailable() from None
        finally:
            session.close()
        if isinstance(exc, DBAPIError) and _unreachable(exc):
            raise StateUnavailable() from exc

    def commit(self) -> None:
        try:
            self._active.commit()
        except DBAPIError as error:
            if _unreachable(error):
                raise StateUnavailable() from error
            raise

    def rollback(self) -> None:
        self._active.rollback()

    @property
    def _active(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `with uow:`")
        return self._session


def _unreachable(error: DBAPIError) -> bool:
    """The database is down or the connection dropped (not a constraint or a programming error):
    the person is told so, in words, instead of "something went wrong"."""
    return error.connection_invalidated or isinstance(error, (OperationalError, InterfaceError))


class SqlUnitOfWorkFactory:
    """`domain.ports.UnitOfWorkFactory`: a new unit of work per call."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory)
