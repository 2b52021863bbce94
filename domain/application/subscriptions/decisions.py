"""The decisions people take on subscription workflows: a choice at a waiting step (the step's
own `StepKind.choices`), an approval or a rejection (R13), an admin task marked done (R19).

Each is authorized inside the unit of work that locks the workflow (R16; refusals audited, R20), so
a double click or two approvers at once decide once.
"""

from __future__ import annotations

from datetime import datetime

from domain.application.steps.kind import Choosing
from domain.application.steps.registry import choice_effect
from domain.application.subscriptions.guard import SubscriptionGuard
from domain.application.workflow_engine import WorkflowEngine
from domain.audit import AuditResult
from domain.commands import ApproveCancellation, DecideStep, MarkTaskDone, RejectCancellation
from domain.errors import ApprovalNotPending, DomainError, NotAuthorized, UnknownApproval, UnknownTask
from domain.model import Permission
from domain.ports import UnitOfWork
from domain.wording import plural
from domain.workflows import (
    Approval,
    ApprovalState,
    Choice,
    StepName,
    WaitFor,
    Workflow,
    WorkflowStatus,
    notes,
)
from domain.workflows.checks import users_losing_access

__all__ = ["WorkflowDecisions"]


class WorkflowDecisions:
    """Choices, approvals and admin tasks of the subscription workflows; approvals expiring."""

    def __init__(self, engine: WorkflowEngine, guard: SubscriptionGuard) -> None:
        self._engine = engine
        self._guard = guard
        self._uow = engine.uow
        self._directory = engine.directory
        self._clock = engine.clock
        self._authorization = engine.authorization
        self._notifier = engine.notifier

    def decide(self, cmd: DecideStep) -> WorkflowStatus:
        """A choice at a waiting step (`WorkflowStatus.choices`), by the admin who started the
        workflow. A double click or a stale button finds the step no longer open (`StepNotOpen`).

        Confirming a preview starts the reassignment and returns when it is done: call it after
        Slack's acknowledgement; progress arrives through `Notifier.workflow_changed`.
        """
        try:
            step, choice = StepName(cmd.step), Choice(cmd.choice)
        except ValueError as unknown:
            raise DomainError(f"Unknown step or choice: {unknown}.", "Use the workflow's buttons.") from None
        action = f"{choice.label} at “{step.label}”"
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            seen = self._engine.load(uow, cmd.workflow_id)
        effect = choice_effect(step, choice)
        tenant = effect.reads(self._directory, seen) if effect is not None and effect.reads else None
        with self._uow() as uow:
            workflow = self._engine.load(uow, cmd.workflow_id, for_update=True)
            requester = self._authorization.authorize(
                uow, asker, Permission.MANAGE_SUBSCRIPTIONS, action, cmd.correlation_id
            )
            if requester.name.casefold() != workflow.requested_by.casefold():
                refusal = NotAuthorized(
                    requester.user.display_name,
                    "decide for a workflow that another admin started",
                    [],
                    f"Only {workflow.requested_by}, who started it, can.",
                )
                self._guard.refuse(
                    uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id
                )
                raise refusal
            workflow.choose(step, choice)
            if effect is None:  # every choice a step offers has its effect (the registry's test)
                raise AssertionError(f"{choice.value} at {step.value} does nothing")
            now = self._clock.now()
            choosing = Choosing(uow, workflow, step, choice, requester.name, now, self._engine, tenant)
            follow_ups = effect.apply(choosing)
            self._engine.audit(
                uow, workflow, requester.name, action, AuditResult.APPLIED, correlation_id=cmd.correlation_id
            )
            status = self._engine.commit(uow, workflow)
        self._engine.tell(self._notifier.workflow_changed, status)
        for follow_up in follow_ups:
            self._engine.tell(
                self._notifier.workflow_changed, self._engine.run(follow_up, cmd.correlation_id)
            )
        return self._engine.run(workflow.id, cmd.correlation_id)

    def approve(self, cmd: ApproveCancellation) -> WorkflowStatus:
        """R13: a different admin with Global or Billing admin approves; refused while users would
        lose access unless `accept_loss_of_access`. Two approvers at once, or a double click,
        cancel once: the workflow and the approval are locked and their state checked."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            found = uow.approvals.get(cmd.approval_id)
        losing = self._users_losing_access(found.subscription_id) if found is not None else 0
        with self._uow() as uow:
            approval, workflow = self._load_approval(uow, cmd.approval_id)
            action = f"approve: {approval.action}"
            now = self._clock.now()
            expired = self._expire(uow, workflow, approval, now) if approval.expire_if_due(now) else None
            if expired is None:
                approver = self._authorization.authorize(
                    uow, asker, Permission.APPROVE, action, cmd.correlation_id
                )
                try:
                    approval.approve(
                        approver.name,
                        approver.roles,
                        now,
                        users_losing_access=losing,
                        accept_loss_of_access=cmd.accept_loss_of_access,
                        approver_id=approver.user.id,
                        shown_as=approver.user.display_name,
                    )
                except DomainError as refusal:
                    self._guard.refuse(
                        uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id
                    )
                    raise
                loss = (
                    f", confirming that {plural(losing, 'user')} {'loses' if losing == 1 else 'lose'} access"
                    if approval.accepted_loss_of_access
                    else ""
                )
                workflow.complete(StepName.APPROVAL, now, f"Approved by {approver.name}{loss}.")
                workflow.start(StepName.CANCEL, now)
                self._engine.claim(workflow, now)
                uow.approvals.save(approval)
                self._engine.audit(
                    uow,
                    workflow,
                    approver.name,
                    action,
                    AuditResult.APPLIED,
                    correlation_id=cmd.correlation_id,
                    approver=approver.name,
                    reason=f"users losing access: {losing}" if losing else "",
                )
                status = self._engine.commit(uow, workflow)
        if expired is not None:
            self._engine.tell(self._notifier.approval_closed, expired)
            self._engine.tell(self._notifier.workflow_changed, expired)
            raise ApprovalNotPending(ApprovalState.EXPIRED.value)
        self._engine.tell(self._notifier.approval_closed, status)
        self._engine.tell(self._notifier.workflow_changed, status)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def reject(self, cmd: RejectCancellation) -> WorkflowStatus:
        """An approver says no, or the requester withdraws: the cancellation stops."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            approval, workflow = self._load_approval(uow, cmd.approval_id)
            action = f"reject: {approval.action}"
            who = self._authorization.authorize(uow, asker, Permission.READ, action, cmd.correlation_id)
            now = self._clock.now()
            expired = self._expire(uow, workflow, approval, now) if approval.expire_if_due(now) else None
            if expired is None:
                try:
                    approval.reject(who.name, who.roles, now, cmd.reason, shown_as=who.user.display_name)
                except DomainError as refusal:
                    self._guard.refuse(
                        uow, cmd.requester, action, refusal, cmd.correlation_id, target=workflow.id
                    )
                    raise
                reason = f": {approval.reason}" if approval.reason else ""
                workflow.cancel(now, f"Rejected by {who.name}{reason}.")
                uow.approvals.save(approval)
                self._engine.audit(
                    uow,
                    workflow,
                    who.name,
                    action,
                    AuditResult.CANCELLED,
                    correlation_id=cmd.correlation_id,
                    reason=cmd.reason,
                )
                status = self._engine.commit(uow, workflow)
        if expired is not None:
            self._engine.tell(self._notifier.approval_closed, expired)
            self._engine.tell(self._notifier.workflow_changed, expired)
            raise ApprovalNotPending(ApprovalState.EXPIRED.value)
        self._engine.tell(self._notifier.approval_closed, status)
        self._engine.tell(self._notifier.workflow_changed, status)
        return status

    def mark_task_done(self, cmd: MarkTaskDone) -> WorkflowStatus:
        """An admin says the admin-center task is done: the directory is checked at once, and the
        step completes only if it shows the result (R19)."""
        asker = self._authorization.identify(cmd.requester)
        with self._uow() as uow:
            found = uow.tasks.get(cmd.task_id)
            if found is None:
                raise UnknownTask(cmd.task_id)
            workflow = self._engine.load(uow, found.workflow_id)
        snapshot = self._engine.read(workflow)
        with self._uow() as uow:
            workflow = self._engine.load(uow, found.workflow_id, for_update=True)
            action = f"mark done: {found.title}"
            requester = self._authorization.authorize(
                uow, asker, Permission.MANAGE_SUBSCRIPTIONS, action, cmd.correlation_id
            )
            task = uow.tasks.get(cmd.task_id, for_update=True)
            if task is None:
                raise UnknownTask(cmd.task_id)
            now = self._clock.now()
            task.mark_done(requester.name, now)
            uow.tasks.save(task)
            step = workflow.current
            seen = self._engine.observe(uow, workflow, snapshot, now)
            if step is not None and step.name not in seen.completed and step.waiting_for is WaitFor.TASK:
                note = notes.task_not_seen(requester.name, task, now, seen.shown)
                workflow.wait(step.name, WaitFor.TASK, now, note, step.choices)
            verdict = "seen in the directory" if seen.completed else "not seen in the directory yet"
            self._engine.audit(
                uow,
                workflow,
                requester.name,
                action,
                AuditResult.REQUESTED,
                correlation_id=cmd.correlation_id,
                reason=verdict,
            )
            status = self._engine.commit(uow, workflow)
        self._engine.tell(self._notifier.workflow_changed, status)
        return self._engine.run(workflow.id, cmd.correlation_id)

    def attach_message(self, workflow_id: str, channel: str, message_ts: str) -> None:
        """The Slack side posted the workflow's message: remember it, to update it in place."""
        with self._uow() as uow:
            workflow = self._engine.load(uow, workflow_id, for_update=True)
            workflow.channel, workflow.message_ts = channel, message_ts
            uow.workflows.save(workflow)
            uow.commit()

    def attach_approval_message(self, approval_id: str, channel: str, message_ts: str) -> None:
        """The Slack side posted the approval request: remember it, to update it when decided."""
        with self._uow() as uow:
            approval = uow.approvals.get(approval_id, for_update=True)
            if approval is None:
                raise UnknownApproval(approval_id)
            approval.channel, approval.message_ts = channel, message_ts
            uow.approvals.save(approval)
            uow.commit()

    def expire_approvals(self, now: datetime) -> list[str]:
        """Close the approval requests past their time, and stop the cancellations they held (R13)."""
        with self._uow() as uow:
            due = [a.id for a in uow.approvals.pending() if now >= a.expires_at]
        expired: list[str] = []
        for approval_id in due:
            with self._uow() as uow:
                approval, workflow = self._load_approval(uow, approval_id)
                if not approval.expire_if_due(now):
                    continue
                status = self._expire(uow, workflow, approval, now)
            expired.append(approval_id)
            self._engine.tell(self._notifier.approval_closed, status)
            self._engine.tell(self._notifier.workflow_changed, status)
        return expired

    def _expire(
        self, uow: UnitOfWork, workflow: Workflow, approval: Approval, now: datetime
    ) -> WorkflowStatus:
        """Commit an approval that just expired, and the cancellation it stops."""
        uow.approvals.save(approval)
        expiry = f"{approval.expires_at:%a %d %b %H:%M} UTC"
        note = f"The approval request expired at {expiry} without a decision."
        if not workflow.state.final:
            workflow.cancel(now, note)
        self._engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"approval expired: {approval.action}",
            AuditResult.CANCELLED,
            reason=note,
        )
        return self._engine.commit(uow, workflow)

    def _users_losing_access(self, subscription_id: str) -> int:
        subscription = next((s for s in self._directory.subscriptions() if s.id == subscription_id), None)
        if subscription is None:
            return 0
        product = next((p for p in self._directory.products() if p.sku_id == subscription.sku_id), None)
        return users_losing_access(product, subscription)

    def _load_approval(self, uow: UnitOfWork, approval_id: str) -> tuple[Approval, Workflow]:
        """Lock the workflow, then the approval: the same order everywhere, so no deadlock."""
        found = uow.approvals.get(approval_id)
        if found is None:
            raise UnknownApproval(approval_id)
        workflow = self._engine.load(uow, found.workflow_id, for_update=True)
        approval = uow.approvals.get(approval_id, for_update=True)
        if approval is None:
            raise UnknownApproval(approval_id)
        return approval, workflow
