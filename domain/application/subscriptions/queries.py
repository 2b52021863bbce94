"""What is in flight and what waits on whom: the workflows as `/subscription status` and App Home
show them."""

from __future__ import annotations

from domain.application.subscriptions.builders import in_flight
from domain.application.workflow_engine import WorkflowEngine
from domain.model import Permission
from domain.workflows import Choice, WaitingOn, WorkflowStatus

__all__ = ["WorkflowQueries"]


class WorkflowQueries:
    """Reading the subscription workflows (R16: anyone who may read)."""

    def __init__(self, engine: WorkflowEngine) -> None:
        self._engine = engine
        self._uow = engine.uow
        self._clock = engine.clock
        self._authorization = engine.authorization

    def status(self, requester: str, workflow_id: str | None = None) -> list[WorkflowStatus]:
        """One workflow, or those in flight followed by the latest finished ones."""
        self._authorization.authorize_now(requester, Permission.READ, "show workflows")
        with self._uow() as uow:
            if workflow_id:
                return [self._engine.status(uow, self._engine.load(uow, workflow_id))]
            flying = in_flight(uow)
            seen = {w.id for w in flying}
            recent = [w for w in uow.workflows.recent(10) if w.id not in seen]
            return [self._engine.status(uow, w) for w in [*flying, *recent]]

    def in_flight(self, requester: str) -> list[WorkflowStatus]:
        """Workflows not finished, oldest first (App Home, `/subscription status`)."""
        self._authorization.authorize_now(requester, Permission.READ, "show workflows")
        with self._uow() as uow:
            return [self._engine.status(uow, w) for w in in_flight(uow)]

    def waiting_on(self, user: str) -> WaitingOn:
        """What waits on this admin (App Home): approvals they may decide, their tasks, their choices."""
        me = self._authorization.authorize_now(user, Permission.READ, "show what waits on me")
        with self._uow() as uow:
            now, mine = self._clock.now(), me.name.casefold()
            approver = bool(me.roles & Permission.APPROVE.roles)
            approvals = [
                a
                for a in uow.approvals.pending()
                if approver and now < a.expires_at and a.requested_by.casefold() != mine
            ]
            tasks = [t for t in uow.tasks.open() if t.owner.casefold() == mine]
            flying = [w for w in in_flight(uow) if w.requested_by.casefold() == mine]

            def status(workflow_id: str) -> WorkflowStatus:
                return self._engine.status(uow, self._engine.load(uow, workflow_id))

            choosing = [self._engine.status(uow, w) for w in flying]
            return WaitingOn(
                me.name,
                tuple(status(a.workflow_id) for a in approvals),
                tuple(status(t.workflow_id) for t in tasks),
                tuple(s for s in choosing if set(s.choices) - {Choice.ABORT}),
            )
