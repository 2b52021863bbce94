"""Running workflow steps through the ports: the engine under `domain.subscriptions`.

A step that acts on the outside world (buy, change seats, cancel, reassign) is marked running under
a lease and committed BEFORE it acts, with a reference that stays the same across retries; its
outcome is recorded in a second transaction. Killed in between, the step is still running when the
process comes back: whoever takes it over once the lease has expired acts again with the same
reference, and the adapters (commerce by reference, `Licensing` by verifying before it writes) do
the thing once. Steps decided by the directory alone are advanced with `observe` from a snapshot.

The tenant (directory and commerce) is only reached between those transactions, never inside one
(DESIGN.md §5): a step reads what it needs first, then locks the workflow to decide and record.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import ClassVar

from domain.application.applier import change_set_lease
from domain.application.licensing import Licensing
from domain.application.lookups import HOLDERS_PREFIX
from domain.audit import AuditEntry, AuditResult
from domain.catalog import KnownProduct, ProductCatalog
from domain.changes import ChangeKind, ChangeSet, ChangeState
from domain.commands import ChangeLicenses
from domain.errors import DomainError, NothingToChange, SubscriptionNotActive, UnknownWorkflow
from domain.model import PaymentMethod, Subscription
from domain.ports import (
    BusinessCalendar,
    Clock,
    Commerce,
    Notifier,
    TenantDirectory,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.wording import plural
from domain.workflows import (
    Approval,
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
    observe,
)
from domain.workflows.checks import (
    PURCHASE_WAITS,
    active_subscriptions,
    awaits_purchase,
    best_target,
    purchase_candidates,
    recommend_path,
    rival_purchases,
)
from domain.workflows.polling import wants_products
from domain.workflows.settings import WorkflowSettings
from domain.workflows.tasks import AdminTask, Receipt, TaskKind

__all__ = ["WorkflowEngine"]

log = logging.getLogger(__name__)

_MAX_STEPS_PER_RUN = 50
"""A guard: no workflow has that many steps, so more runs in one go means a step makes no progress."""
CATCH_UP_ROUNDS = 3
"""How many times a checklist update is sent again because the workflow moved on meanwhile."""

Record = Callable[[UnitOfWork, Workflow, datetime], None]


class WorkflowEngine:
    """Runs the steps of persisted workflows; `Subscriptions` starts them and takes the decisions."""

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
        self._uow = uow
        self._directory = directory
        self._clock = clock
        self._catalog = catalog
        self._licensing = licensing
        self._commerce = commerce
        self._calendar = calendar
        self._notifier = notifier
        self._settings = settings
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
            with self._uow() as uow:
                workflow = self.load(uow, workflow_id)
                step = workflow.current
                ready = step is not None and step.status in {StepStatus.PENDING, StepStatus.RUNNING}
                if workflow.state.final or step is None or not ready:
                    return self.status(uow, workflow)
                # After a step of ours, a step still running but not under our lease was handed
                # back (or taken over): whoever holds it, or the next tick, goes on with it.
                handed_back = turn > 0 and workflow.lease_owner != self.owner
                running = step.status is StepStatus.RUNNING
                if running and (handed_back or not self.may_take(workflow, self._clock.now())):
                    return self.status(uow, workflow)
            marker = (step.name, step.status, step.attempts, workflow.updated_at)
            if marker == last:
                log.error("workflow %s makes no progress at %s", workflow_id, step.name)
                break
            last = marker
            self._RUNNERS[step.name](self, workflow_id, correlation_id)
        with self._uow() as uow:
            return self.status(uow, self.load(uow, workflow_id))

    def advance(self, workflow_id: str, snapshot: DirectorySnapshot, now: datetime) -> bool:
        """Advance one waiting workflow from the scheduler's snapshot; run what that made ready."""
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if workflow.waiting_for is None or not workflow.waiting_for.polled:
                return False
            seen = self.observe(uow, workflow, snapshot, now)
            if not seen.changed:
                return False
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)
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
        workflow.claim(self.owner, now, self._settings.lease_ttl)

    def take_over(self, workflow_id: str) -> None:
        """Drop whatever lease the workflow (and the change set it applies) has, so this process
        runs it next."""
        with self._uow() as uow:
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
        with self._uow() as uow:
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
        with self._uow() as uow:
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
            if notify == self._notifier.workflow_changed:
                self._catch_up(notify, status)
        except Exception:
            log.exception("the notifier failed for workflow %s", status.workflow.id)

    def _catch_up(self, notify: Callable[[WorkflowStatus], None], shown: WorkflowStatus) -> None:
        for _ in range(CATCH_UP_ROUNDS):
            with self._uow() as uow:
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
                at=self._clock.now(),
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
        products = tuple(self._directory.products()) if wants_products(workflow) else None
        return DirectorySnapshot(tuple(self._directory.subscriptions()), products)

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
            last = self._calendar.add_business_days(
                ordered_at.astimezone(UTC).date(), workflow.credit_check_days, workflow.country
            )
            return datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        return ordered_at + self._settings.activation_grace

    # --- the running step's two transactions ------------------------------------------------------

    def _begin(self, workflow_id: str, name: StepName, correlation_id: str) -> Workflow | None:
        """Mark the step running under our lease and commit, before it acts on the outside world.

        A step already running under our own lease goes on; one whose lease expired (a crash) is
        taken over as another attempt. None: it is not ours to run (moved on, or someone else's).
        """
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            now = self._clock.now()
            if (
                step is None
                or step.name is not name
                or step.status not in {StepStatus.PENDING, StepStatus.RUNNING}
            ):
                return None
            if step.status is StepStatus.PENDING:
                workflow.start(name, now)
            elif workflow.lease_owner != self.owner or _lease_expired(workflow, now):
                if not workflow.claim(self.owner, now, self._settings.lease_ttl):
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
        self.tell(self._notifier.workflow_changed, status)
        return status.workflow

    def _record(self, workflow_id: str, name: StepName, record: Record) -> None:
        """Record what a running step did, if it is still running (it was not taken over)."""
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            if step is None or step.name is not name or step.status is not StepStatus.RUNNING:
                log.warning(
                    "workflow %s: %s is no longer running; its outcome is not recorded", workflow_id, name
                )
                return
            record(uow, workflow, self._clock.now())
            current = workflow.current
            if current is None or current.status is not StepStatus.RUNNING:
                workflow.release()
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)

    def _fail(self, workflow_id: str, name: StepName, error: DomainError, correlation_id: str) -> None:
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

        self._record(workflow_id, name, record)

    def _wait_for_task(
        self, uow: UnitOfWork, workflow: Workflow, name: StepName, task: AdminTask, now: datetime
    ) -> None:
        """R19: the step waits for the admin task; the poll decides when it is done."""
        if uow.tasks.get(task.id) is None:
            task = replace(task, workflow_id=workflow.id, step=name, owner=workflow.requested_by)
            uow.tasks.add(task)
        workflow.task_id = task.id
        workflow.wait(name, WaitFor.TASK, now, notes.task_waiting(task), (Choice.ABORT,))

    # --- one runner per step ----------------------------------------------------------------------

    def _run_decide(self, workflow_id: str, correlation_id: str) -> None:
        """R15: recommend the admin center's automatic path when it applies, else switch by hand."""
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if not _is_current(workflow, StepName.DECIDE, StepStatus.PENDING):
                return
            now = self._clock.now()
            advice = recommend_path(workflow)
            if advice.automatic:
                choices = (Choice.MANUAL, Choice.ADMIN_CENTER, Choice.ABORT)
                workflow.wait(StepName.DECIDE, WaitFor.CONFIRMATION, now, advice.note, choices)
            else:
                workflow.complete(StepName.DECIDE, now, advice.note)
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                "decide the path",
                AuditResult.REQUESTED,
                correlation_id=correlation_id,
                reason=advice.note,
            )
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)

    def _run_target(self, workflow_id: str, correlation_id: str) -> None:
        """The target subscription exists (already bought, even if still Pending), or buy it."""
        with self._uow() as uow:
            pending = _is_current(self.load(uow, workflow_id), StepName.TARGET, StepStatus.PENDING)
        subscriptions = self._directory.subscriptions() if pending else []
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if _is_current(workflow, StepName.TARGET, StepStatus.RUNNING):
                buying = True  # the requester chose to buy it
            elif pending and _is_current(workflow, StepName.TARGET, StepStatus.PENDING):
                buying = False
                now = self._clock.now()
                found = best_target(subscriptions, workflow.product.sku_id)
                if found is not None:
                    workflow.subscription_id = found.id
                    workflow.complete(StepName.TARGET, now, notes.target_found(workflow, found))
                else:
                    mine = tuple(s.id for s in subscriptions if s.sku_id == workflow.product.sku_id)
                    workflow.known_subscriptions = mine
                    choices = (Choice.BUY, Choice.ABORT)
                    workflow.wait(
                        StepName.TARGET, WaitFor.CONFIRMATION, now, notes.target_missing(workflow), choices
                    )
                status = self.commit(uow, workflow)
            else:
                return
        if buying:
            self._run_buy(workflow_id, correlation_id, StepName.TARGET)
        else:
            self.tell(self._notifier.workflow_changed, status)

    def _run_buy(self, workflow_id: str, correlation_id: str, name: StepName = StepName.BUY) -> None:
        workflow = self._begin(workflow_id, name, correlation_id)
        if workflow is None:
            return
        try:
            result = self._commerce.buy(
                self._known(workflow.product),
                workflow.seats,
                workflow.payment_method,
                reference=f"{workflow.id}/{name.value}",
            )
        except DomainError as refusal:
            self._fail(workflow_id, name, refusal, correlation_id)
            return
        snapshot = self.read(workflow)

        def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            if isinstance(result, AdminTask):
                self._wait_for_task(uow, workflow, name, result, now)
                # R10: the credit check counts from the request, not from whenever Mark done is pressed.
                workflow.ordered_at = now
                workflow.deadline = self.deadline(workflow, now)
            else:
                workflow.subscription_id = result.subscription_id
                if uow.workflows.take_purchase(workflow.id, result.subscription_id):
                    workflow.purchase_id = result.subscription_id
                workflow.ordered_at = now
                workflow.deadline = self.deadline(workflow, now)
                workflow.complete(name, now, notes.ordered(workflow, result))
                self.observe(uow, workflow, snapshot, now)
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                f"buy {workflow.seats} {workflow.product.part_number}",
                AuditResult.APPLIED,
                correlation_id=correlation_id,
                reason=notes.outcome(result),
            )

        self._record(workflow_id, name, record)

    def _run_poll(self, workflow_id: str, _correlation_id: str) -> None:
        """A step decided by the directory alone, checked now rather than at the next tick."""
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id)
        snapshot = self.read(workflow)
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            step = workflow.current
            if step is None or step.status is not StepStatus.PENDING:
                return
            self.observe(uow, workflow, snapshot, self._clock.now())
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)

    def _run_check_seats(self, workflow_id: str, correlation_id: str) -> None:
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id)
        if workflow.step(StepName.CHECK_SEATS).status is StepStatus.RUNNING:
            self._run_seat_change(workflow_id, correlation_id, StepName.CHECK_SEATS)
        else:
            self._run_poll(workflow_id, correlation_id)

    def _run_change_seats(self, workflow_id: str, correlation_id: str) -> None:
        self._run_seat_change(workflow_id, correlation_id, StepName.CHANGE_SEATS)

    def _run_seat_change(self, workflow_id: str, correlation_id: str, name: StepName) -> None:
        """Set `subscription_id` to `expected_total` licenses, both fixed before the step ran."""
        workflow = self._begin(workflow_id, name, correlation_id)
        if workflow is None:
            return
        subscription = _find(self._directory.subscriptions(), workflow.subscription_id)
        try:
            if subscription is None:
                raise SubscriptionNotActive(workflow.product.display_name, "not listed")
            reference = f"{workflow.id}/{name.value}/{workflow.expected_total}"
            result = self._commerce.change_seats(subscription, workflow.expected_total, reference=reference)
        except DomainError as refusal:
            self._fail(workflow_id, name, refusal, correlation_id)
            return
        before = subscription.total_licenses
        snapshot = self.read(workflow)

        def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            if isinstance(result, AdminTask):
                self._wait_for_task(uow, workflow, name, result, now)
            elif name is StepName.CHECK_SEATS:
                ordered = notes.seats_ordered(workflow, before, result)
                workflow.wait(name, WaitFor.SEATS, now, ordered, (Choice.ABORT,))
                self.observe(uow, workflow, snapshot, now)
            else:
                workflow.complete(name, now, notes.seats_set(result, before))
                self.observe(uow, workflow, snapshot, now)
            action = f"set {workflow.product.part_number} licenses to {workflow.expected_total}"
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                action,
                AuditResult.APPLIED,
                correlation_id=correlation_id,
                reason=notes.outcome(result),
            )

        self._record(workflow_id, name, record)

    def _run_preview(self, workflow_id: str, correlation_id: str) -> None:
        """Plan the reassignment as a `Licensing` change set (REPLACE, R7); wait for the confirmation."""
        workflow = self._begin(workflow_id, StepName.PREVIEW, correlation_id)
        if workflow is None:
            return
        command = ChangeLicenses(
            kind=ChangeKind.REPLACE,
            requester=workflow.requested_by,
            users=_licensing_targets(workflow),
            product=workflow.product.sku_id,
            correlation_id=correlation_id,
            channel=workflow.channel,
        )
        planned: ChangeSet | DomainError
        try:
            planned = self._licensing.request_change(command)
        except NothingToChange as nobody:
            self._record(workflow_id, StepName.PREVIEW, _nobody_to_move(nobody))
            return
        except DomainError as refusal:
            planned = refusal

        def record(_uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            if isinstance(planned, DomainError):
                choices = (Choice.RETRY, Choice.ABORT)
                workflow.wait(StepName.PREVIEW, WaitFor.CONFIRMATION, now, planned.message, choices)
                return
            workflow.change_set_id = planned.id
            note = notes.preview(workflow, planned)
            workflow.wait(StepName.PREVIEW, WaitFor.CONFIRMATION, now, note, (Choice.CONFIRM, Choice.ABORT))

        self._record(workflow_id, StepName.PREVIEW, record)

    def _run_reassign(self, workflow_id: str, correlation_id: str) -> None:
        """Apply the confirmed change set in batches (R17) through `Licensing`, which resumes a batch
        a crash interrupted by verifying before it writes again."""
        workflow = self._begin(workflow_id, StepName.REASSIGN, correlation_id)
        if workflow is None:
            return

        def progress(change_set: ChangeSet) -> None:
            done = sum(1 for item in change_set.items if item.status.final)
            with self._uow() as uow:
                current = self.load(uow, workflow_id, for_update=True)
                if not _is_current(current, StepName.REASSIGN, StepStatus.RUNNING):
                    return
                now = self._clock.now()
                current.progress(
                    StepName.REASSIGN, now, f"Moved {done} of {plural(len(change_set.items), 'user')}…"
                )
                self.claim(current, now)
                status = self.commit(uow, current)
            self.tell(self._notifier.workflow_changed, status)

        applied = self._licensing.apply(workflow.change_set_id, correlation_id, progress)
        if applied.state is ChangeState.APPLYING:
            # Not finished here: this process is stopping, or another one is applying the change.
            # Whoever runs the step next finds it done, or goes on with it.
            self.hand_back(workflow_id)
            return

        def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            if applied.state is not ChangeState.DONE:
                note = f"The change set is {applied.state.value}; nobody was moved."
                workflow.fail(StepName.REASSIGN, now, note)
                self.audit(
                    uow,
                    workflow,
                    workflow.requested_by,
                    "reassign licenses",
                    AuditResult.FAILED,
                    correlation_id=correlation_id,
                    reason=note,
                )
                return
            note = notes.reassigned(workflow, applied)
            workflow.complete(StepName.REASSIGN, now, note)
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                "reassign licenses",
                AuditResult.APPLIED,
                correlation_id=correlation_id,
                reason=note,
            )

        self._record(workflow_id, StepName.REASSIGN, record)

    def _run_offer_addons(self, workflow_id: str, _correlation_id: str) -> None:
        """R14: offer to remove the add-ons the target includes (never done without a yes)."""
        products = {p.sku_id: p for p in self._directory.products()}
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if not _is_current(workflow, StepName.OFFER_ADDONS, StepStatus.PENDING):
                return
            now = self._clock.now()
            listed = [products[a.sku_id] for a in workflow.addons if a.sku_id in products]
            if listed:
                note = notes.addons_offer(workflow, listed)
                choices = (Choice.REMOVE_ADDONS, Choice.SKIP)
                workflow.wait(StepName.OFFER_ADDONS, WaitFor.CONFIRMATION, now, note, choices)
            else:
                note = f"No add-on is made redundant by {workflow.product.display_name}."
                workflow.skip(StepName.OFFER_ADDONS, now, note)
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)

    def _run_offer_cleanup(self, workflow_id: str, _correlation_id: str) -> None:
        """R12: everyone moved → offer to cancel the old subscription; some → its unused licenses."""
        products, subscriptions = self._directory.products(), self._directory.subscriptions()
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            source = workflow.source
            if not _is_current(workflow, StepName.OFFER_CLEANUP, StepStatus.PENDING) or source is None:
                return
            now = self._clock.now()
            product = next((p for p in products if p.sku_id == source.sku_id), None)
            olds = active_subscriptions(subscriptions, source.sku_id)
            offer: tuple[Choice, ...] = (Choice.SKIP,)
            if product is None or not olds:
                note = f"{source.display_name} has no active subscription left."
            elif product.seats.consumed == 0:
                note, offer = notes.cancel_offer(source, olds), (Choice.CANCEL_OLD, Choice.SKIP)
            elif product.seats.available > 0:
                note, offer = notes.seats_offer(source, product), (Choice.REMOVE_SEATS, Choice.SKIP)
            else:
                note = f"Every {source.display_name} license is still in use."
            if len(offer) > 1:
                workflow.wait(StepName.OFFER_CLEANUP, WaitFor.CONFIRMATION, now, note, offer)
            else:
                workflow.skip(StepName.OFFER_CLEANUP, now, note)
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)

    def _run_approval(self, workflow_id: str, correlation_id: str) -> None:
        """R13: an approval request, open for `approval_ttl`, to the approvers' channel."""
        with self._uow() as uow:
            seen = self.load(uow, workflow_id)
        holders = self._directory.users_with_product(seen.product.sku_id)
        requester = self._directory.user(seen.requested_by)  # R24: four eyes are two Entra users
        with self._uow() as uow:
            workflow = self.load(uow, workflow_id, for_update=True)
            if not _is_current(workflow, StepName.APPROVAL, StepStatus.PENDING):
                return
            now = self._clock.now()
            approval = Approval(
                id=_new_id(),
                workflow_id=workflow.id,
                product=workflow.product,
                subscription_id=workflow.subscription_id,
                requested_by=workflow.requested_by,
                requested_at=now,
                expires_at=now + self._settings.approval_ttl,
                holders=tuple(u.display_name for u in holders),
                requested_by_id=requester.id if requester is not None else "",
            )
            uow.approvals.add(approval)
            workflow.approval_id = approval.id
            workflow.wait(
                StepName.APPROVAL, WaitFor.APPROVAL, now, notes.approval_waiting(workflow, approval)
            )
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                f"request approval: {approval.action}",
                AuditResult.REQUESTED,
                correlation_id=correlation_id,
            )
            status = self.commit(uow, workflow)
        self.tell(self._notifier.workflow_changed, status)
        self.tell(self._notifier.approval_requested, status)

    def _run_cancel(self, workflow_id: str, correlation_id: str) -> None:
        workflow = self._begin(workflow_id, StepName.CANCEL, correlation_id)
        if workflow is None:
            return
        subscription = _find(self._directory.subscriptions(), workflow.subscription_id)
        with self._uow() as uow:
            approval = uow.approvals.get(workflow.approval_id) if workflow.approval_id else None
        result: Receipt | AdminTask | None = None
        if subscription is not None and subscription.status.is_active:
            try:
                result = self._commerce.cancel(subscription, reference=f"{workflow.id}/cancel")
            except DomainError as refusal:
                self._fail(workflow_id, StepName.CANCEL, refusal, correlation_id)
                return
        snapshot = self.read(workflow)

        def record(uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
            if isinstance(result, AdminTask):
                self._wait_for_task(uow, workflow, StepName.CANCEL, result, now)
            else:
                workflow.complete(StepName.CANCEL, now, notes.cancelled(workflow, result))
                self.observe(uow, workflow, snapshot, now)
            self.audit(
                uow,
                workflow,
                workflow.requested_by,
                f"cancel subscription {workflow.subscription_id}",
                AuditResult.APPLIED,
                correlation_id=correlation_id,
                approver=approval.decided_by if approval else "",
                reason=notes.outcome(result),
            )

        self._record(workflow_id, StepName.CANCEL, record)

    _RUNNERS: ClassVar[dict[StepName, Callable[[WorkflowEngine, str, str], None]]] = {
        StepName.DECIDE: _run_decide,
        StepName.TARGET: _run_target,
        StepName.BUY: _run_buy,
        StepName.AWAIT_ACTIVE: _run_poll,
        StepName.CHECK_SEATS: _run_check_seats,
        StepName.CHANGE_SEATS: _run_change_seats,
        StepName.AWAIT_SEATS: _run_poll,
        StepName.PREVIEW: _run_preview,
        StepName.REASSIGN: _run_reassign,
        StepName.OFFER_ADDONS: _run_offer_addons,
        StepName.OFFER_CLEANUP: _run_offer_cleanup,
        StepName.APPROVAL: _run_approval,
        StepName.CANCEL: _run_cancel,
        StepName.VERIFY: _run_poll,
    }
    """CONFIRM has no runner: a cancellation starts with it waiting for the requester."""

    def _known(self, product: ProductRef) -> KnownProduct:
        return self._catalog.known(product.part_number) or KnownProduct(
            product.sku_id, product.part_number, product.display_name
        )


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _same_progress(workflow: Workflow, shown: Workflow) -> bool:
    """Whether a checklist showing `shown` still shows `workflow` as it is."""
    return workflow.state == shown.state and workflow.steps == shown.steps


def _lease_expired(workflow: Workflow, now: datetime) -> bool:
    return workflow.lease_expires_at is None or workflow.lease_expires_at <= now


def _is_current(workflow: Workflow, name: StepName, status: StepStatus) -> bool:
    step = workflow.current
    return not workflow.state.final and step is not None and step.name is name and step.status is status


def _find(subscriptions: list[Subscription], subscription_id: str) -> Subscription | None:
    return next((s for s in subscriptions if s.id == subscription_id), None)


def _licensing_targets(workflow: Workflow) -> tuple[str, ...]:
    if workflow.moves_everyone and workflow.source is not None:
        return (f"{HOLDERS_PREFIX}{workflow.source.sku_id}",)
    return workflow.targets


def _nobody_to_move(reason: DomainError) -> Record:
    def record(_uow: UnitOfWork, workflow: Workflow, now: datetime) -> None:
        workflow.skip(StepName.PREVIEW, now, reason.message)
        workflow.skip(StepName.REASSIGN, now, "Nobody to move.")

    return record
