"""Running workflow steps through the ports: the engine under `domain.application.subscriptions`.

A step that acts on the outside world (buy, change seats, cancel, reassign) is marked running under
a lease and committed BEFORE it acts, with a reference that stays the same across retries; its
outcome is recorded in a second transaction. Killed in between, the step is still running when the
process comes back: whoever takes it over once the lease has expired acts again with the same
reference, and the adapters (commerce by reference, `Licensing` by verifying before it writes) do
the thing once. Steps decided by the directory alone are advanced with `observe` from a snapshot.

What each step does lives in its own module of `domain.application.steps` (`StepKind`); the engine
keeps the run loop, the take-over of a crashed step, and the transactions that begin, record and
fail a step.

The tenant (directory and commerce) is only reached between those transactions, never inside one
(DESIGN.md §5): a step reads what it needs first, then locks the workflow to decide and record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from domain.application.applier import change_set_lease
from domain.application.authorization import Authorization
from domain.application.licensing import Licensing
from domain.application.steps.observing import observe
from domain.application.steps.registry import step_kind
from domain.audit import AuditEntry, AuditResult
from domain.catalog import KnownProduct, ProductCatalog
from domain.errors import DomainError, UnknownWorkflow
from domain.model import PaymentMethod
from domain.ports import (
    BusinessCalendar,
    Clock,
    Commerce,
    Notifier,
    TenantDirectory,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.workflows import (
    Choice,
    DirectorySnapshot,
    Observation,
    ProductRef,
    StepName,
    StepStatus,
    WaitFor,
    Workflow,
    WorkflowStatus,
    notes,
)
from domain.workflows.checks import (
    PURCHASE_WAITS,
    awaits_purchase,
    purchase_candidates,
    rival_purchases,
)
from domain.workflows.polling import wants_products
from domain.workflows.settings import WorkflowSettings
from domain.workflows.tasks import AdminTask, TaskKind

__all__ = ["Record", "WorkflowEngine"]

log = logging.getLogger(__name__)

_MAX_STEPS_PER_RUN = 50
"""A guard: no workflow has that many steps, so more runs in one go means a step makes no progress."""
CATCH_UP_ROUNDS = 3
"""How many times a checklist update is sent again because the workflow moved on meanwhile."""

Record = Callable[[UnitOfWork, Workflow, datetime], None]


class WorkflowEngine:
    """Runs the steps of persisted workflows; `WorkflowStarts` starts them, `WorkflowDecisions`
    takes the decisions. The step kinds reach the ports through its attributes."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: TenantDirectory,
        clock: Clock,
        catalog: ProductCatalog,
        *,
        licensing: Licensing,
        commerce: Commerce,
        calendar: BusinessCalendar,
        notifier: Notifier,
        settings: WorkflowSettings,
        owner: str,
    ) -> None:
        self.uow = uow
        self.directory = directory
        self.clock = clock
        self.catalog = catalog
        self.licensing = licensing
        self.authorization = Authorization(uow, directory, clock)
        self.commerce = commerce
        self.calendar = calendar
        self.notifier = notifier
        self.settings = settings
        self._process = owner

    @property
    def process(self) -> str:
        """This process's part of every lease owner (`owner` adds the thread)."""
        return self._process

    @property
    def owner(self) -> str:
        """Who holds the lease of a step this thread runs: a Slack request and the scheduler, in
        two threads of one process, never run the same step at once; a new process never takes
        over a step before its lease expires (unless told it is alone, `resume(force=True)`)."""
        return f"{self._process}:{threading.get_ident()}"

    # --- running ----------------------------------------------------------------------------------

    def run(self, workflow_id: str, correlation_id: str = "") -> WorkflowStatus:
        """Run the workflow's steps while one is ready; stop when it waits or ends."""
        last: tuple[object, ...] = ()
        for turn in range(_MAX_STEPS_PER_RUN):
            with self.uow() as uow:
                workflow = self.load(uow, workflow_id)
                step = workflow.current
                ready = step is not None and step.status in {StepStatus.PENDING, StepStatus.RUNNING}
                if workflow.state.final or step is None or not ready:
                    return self.status(uow, workflow)
                # After a step of ours, a step still running but not under our lease was handed
                # back (or taken over): whoever holds it, or the next tick, goes on with it.
                handed_back = turn > 0 and workflow.lease_owner != self.owner
                running = step.status is StepStatus.RUNNING
                if running and (handed_back or not self.may_take(workflow, self.clock.now())):
                    return self.status(uow, workflow)
            marker = (step.name, step.status, step.attempts, workflow.updated_at)
            if marker == last:
                log.error("workflow %s makes no progress at %s", workflow_id, step.name)
                break
            last = marker
            runner = step_kind(step.name).run
            if runner is None:  # a step that only waits (the confirmation of a cancellation)
                log.error("workflow %s has nothing to run at %s", workflow_id, step.name)
                break
            runner(self, workflow_id, correlation_id)
        with self.uow() as uow:
            return self.status(uow, self.load(uow, workflow_id))

    def advance(self, workflow_id: str, snapshot: DirectorySnapshot, now: datetime) -> bool:
        """Advance one waiting workflow from the scheduler's snapshot; run what that made ready."""
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if workflow.waiting_for is None or not workflow.waiting_for.polled:
                return False
            seen = self.observe(uow, workflow, snapshot, now)
            if not seen.changed:
                return False
            status = self.commit(uow, workflow)
        self.tell(self.notifier.workflow_changed, status)
        try:
            self.run(workflow_id)
        except Exception:
            log.exception(
                "workflow %s could not run its next step; it is retried at the next tick", workflow_id
            )
        return True

    def may_take(self, workflow: Workflow, now: datetime) -> bool:
        """A running step may be run by its lease holder, or by anyone once the lease expired."""
        return _lease_expired(workflow, now) or workflow.lease_owner == self.owner

    def claim(self, workflow: Workflow, now: datetime) -> None:
        workflow.claim(self.owner, now, self.settings.lease_ttl)

    def take_over(self, workflow_id: str) -> None:
        """Drop whatever lease the workflow (and the change set it applies) has, so this process
        runs it next."""
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            workflow.release()
            uow.workflows.save(workflow)
            if workflow.change_set_id:
                lease = change_set_lease(workflow.change_set_id)
                holder = uow.leases.holder(lease)
                if holder is not None:
                    uow.leases.release(lease, holder.owner)
            uow.commit()

    def release_if_idle(self, workflow_id: str) -> None:
        """Give back the lease this thread took to run the workflow, unless a step of it is still
        running under it (then it is renewed while it runs, and released when it ends)."""
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            running = step is not None and step.status is StepStatus.RUNNING
            if workflow.lease_owner != self.owner or (running and not workflow.state.final):
                return
            workflow.release()
            uow.workflows.save(workflow)
            uow.commit()

    def hand_back(self, workflow_id: str) -> None:
        """This thread stops running the workflow's current step (the process is stopping, or
        another one applies its change): give the lease back, so any process resumes it at once."""
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if workflow.lease_owner != self.owner:
                return
            workflow.release()
            uow.workflows.save(workflow)
            uow.commit()

    # --- shared with the services -----------------------------------------------------------------

    def load(self, uow: UnitOfWork, workflow_id: str, *, for_update: bool = False) -> Workflow:
        workflow = uow.workflows.get(workflow_id, for_update=for_update)
        if workflow is None:
            raise UnknownWorkflow(workflow_id)
        return workflow

    def status(self, uow: UnitOfWork, workflow: Workflow) -> WorkflowStatus:
        approval = uow.approvals.get(workflow.approval_id) if workflow.approval_id else None
        task = uow.tasks.get(workflow.task_id) if workflow.task_id else None
        change_set = uow.change_sets.get(workflow.change_set_id) if workflow.change_set_id else None
        return WorkflowStatus(workflow, approval, task, change_set)

    def commit(self, uow: UnitOfWork, workflow: Workflow) -> WorkflowStatus:
        uow.workflows.save(workflow)
        status = self.status(uow, workflow)
        uow.commit()
        return status

    def tell(self, notify: Callable[[WorkflowStatus], None], status: WorkflowStatus) -> None:
        """Notify after the commit; a failing notifier never undoes or stops a workflow.

        The workflow's checklist is one Slack message, and Slack keeps whichever update came last:
        when another process moved the workflow on and updated the message before this update
        landed, this one would leave the message behind. So after a checklist update the workflow
        is read again, and shown again as long as it moved on meanwhile."""
        try:
            notify(status)
            if notify == self.notifier.workflow_changed:
                self._catch_up(notify, status)
        except Exception:
            log.exception("the notifier failed for workflow %s", status.workflow.id)

    def _catch_up(self, notify: Callable[[WorkflowStatus], None], shown: WorkflowStatus) -> None:
        for _ in range(CATCH_UP_ROUNDS):
            with self.uow() as uow:
                workflow = uow.workflows.get(shown.workflow.id)
                if workflow is None or _same_progress(workflow, shown.workflow):
                    return
                shown = self.status(uow, workflow)
            notify(shown)

    def audit(
        self,
        uow: UnitOfWork,
        workflow: Workflow,
        actor: str,
        action: str,
        result: AuditResult,
        *,
        correlation_id: str = "",
        approver: str = "",
        reason: str = "",
    ) -> None:
        """R20: who, what, for which subscription, the result and why, tied to the workflow."""
        uow.audit.record(
            AuditEntry(
                at=self.clock.now(),
                actor=actor,
                action=f"{workflow.kind.value}: {action}"[:200],
                result=result,
                target=" ".join(filter(None, [workflow.product.part_number, workflow.subscription_id])),
                approver=approver,
                reason=reason,
                correlation_id=correlation_id,
                change_set_id=workflow.change_set_id,
                details={"workflow_id": workflow.id, "state": workflow.state.value},
            )
        )

    def read(self, workflow: Workflow) -> DirectorySnapshot:
        """What `observe` needs of the tenant for this workflow; with no unit of work open."""
        products = tuple(self.directory.products()) if wants_products(workflow) else None
        return DirectorySnapshot(tuple(self.directory.subscriptions()), products)

    def observe(
        self, uow: UnitOfWork, workflow: Workflow, snapshot: DirectorySnapshot, now: datetime
    ) -> Observation:
        """`observe`, plus what follows from it: the admin task verified, each outcome audited."""
        task_step = (
            workflow.current.name if workflow.waiting_for is WaitFor.TASK and workflow.current else None
        )
        taken = uow.workflows.purchases_taken(workflow.product.sku_id, excluding=workflow.id)
        rivals = (
            rival_purchases(workflow, uow.workflows.waiting_for(PURCHASE_WAITS))
            if awaits_purchase(workflow) and purchase_candidates(workflow, snapshot.subscriptions, taken)
            else []
        )  # R23: a new subscription is shared out among all the purchases of its product waiting
        self._deadline_from_task(uow, workflow)
        seen = observe(
            workflow,
            snapshot,
            now,
            taken=taken,
            take=lambda subscription_id: uow.workflows.take_purchase(workflow.id, subscription_id),
            rivals=rivals,
        )
        if task_step is not None and task_step in seen.completed and workflow.task_id:
            task = uow.tasks.get(workflow.task_id, for_update=True)
            if task is not None:
                task.verified(now, workflow.step(task_step).note)
                uow.tasks.save(task)
        for name in seen.completed:
            note = workflow.step(name).note
            self.audit(
                uow, workflow, workflow.requested_by, f"seen: {name.label}", AuditResult.APPLIED, reason=note
            )
        if seen.escalated:
            current = workflow.current
            reason = current.note if current else ""
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                "escalate: purchase overdue",
                AuditResult.REQUESTED,
                reason=reason,
            )
        return seen

    def _deadline_from_task(self, uow: UnitOfWork, workflow: Workflow) -> None:
        """R10: a purchase handed to an admin before its deadline was set at the request (a workflow
        started by an older version) counts it from when its task was created, with its own days."""
        if workflow.deadline is not None or not workflow.task_id or not awaits_purchase(workflow):
            return
        task = uow.tasks.get(workflow.task_id)
        if task is not None and task.kind is TaskKind.BUY:
            workflow.ordered_at = task.created_at
            workflow.deadline = self.deadline(workflow, task.created_at)

    def deadline(self, workflow: Workflow, ordered_at: datetime) -> datetime:
        """R10: an invoice purchase's credit check ends after N business days of the organization's
        country (at the end of that day, UTC); a card purchase is overdue after the activation grace."""
        if workflow.payment_method is PaymentMethod.INVOICE:
            last = self.calendar.add_business_days(
                ordered_at.astimezone(UTC).date(), workflow.credit_check_days, workflow.country
            )
            return datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        return ordered_at + self.settings.activation_grace

    # --- the running step's two transactions, for the step kinds ----------------------------------

    def begin(self, workflow_id: str, name: StepName, correlation_id: str) -> Workflow | None:
        """Mark the step running under our lease and commit, before it acts on the outside world.

        A step already running under our own lease goes on; one whose lease expired (a crash) is
        taken over as another attempt. None: it is not ours to run (moved on, or someone else's).
        """
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            now = self.clock.now()
            if (
                step is None
                or step.name is not name
                or step.status not in {StepStatus.PENDING, StepStatus.RUNNING}
            ):
                return None
            if step.status is StepStatus.PENDING:
                workflow.start(name, now)
            elif workflow.lease_owner != self.owner or _lease_expired(workflow, now):
                if not workflow.claim(self.owner, now, self.settings.lease_ttl):
                    return None
                workflow.resume(name, now)
                attempts = workflow.step(name).attempts
                self.audit(
                    uow,
                    workflow,
                    self.owner,
                    f"resume “{name.label}”",
                    AuditResult.REQUESTED,
                    correlation_id=correlation_id,
                    reason=f"attempt {attempts}: the previous one did not finish",
                )
            self.claim(workflow, now)
            status = self.commit(uow, workflow)
        self.tell(self.notifier.workflow_changed, status)
        return status.workflow

    def record(self, workflow_id: str, name: StepName, record: Record) -> None:
        """Record what a running step did, if it is still running (it was not taken over)."""
        with self.uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            if step is None or step.name is not name or step.status is not StepStatus.RUNNING:
                log.warning(
                    "workflow %s: %s is no longer running; its outcome is not recorded", workflow_id, name
                )
                return
            record(uow, workflow, self.clock.now())
            current = workflow.current
            if current is None or current.status is not StepStatus.RUNNING:
                workflow.release()
            status = self.commit(uow, workflow)
        self.tell(self.notifier.workflow_changed, status)

    def fail(self, workflow_id: str, name: StepName, error: DomainError, correlation_id: str) -> None:
        def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            workflow.fail(name, now, error.message)
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                name.label,
                AuditResult.FAILED,
                correlation_id=correlation_id,
                reason=error.message,
            )

        self.record(workflow_id, name, record)

    def wait_for_task(
        self, uow: UnitOfWork, workflow: Workflow, name: StepName, task: AdminTask, now: datetime
    ) -> None:
        """R19: the step waits for the admin task; the poll decides when it is done."""
        if uow.tasks.get(task.id) is None:
            task = replace(task, workflow_id=workflow.id, step=name, owner=workflow.requested_by)
            uow.tasks.add(task)
        workflow.task_id = task.id
        workflow.wait(name, WaitFor.TASK, now, notes.task_waiting(task), (Choice.ABORT,))

    def known(self, product: ProductRef) -> KnownProduct:
        """The product as commerce buys it: from the catalog, or as the workflow remembers it."""
        return self.catalog.known(product.part_number) or KnownProduct(
            product.sku_id, product.part_number, product.display_name
        )


def _same_progress(workflow: Workflow, shown: Workflow) -> bool:
    """Whether a checklist showing `shown` still shows `workflow` as it is."""
    return workflow.state == shown.state and workflow.steps == shown.steps


def _lease_expired(workflow: Workflow, now: datetime) -> bool:
    return workflow.lease_expires_at is None or workflow.lease_expires_at <= now
