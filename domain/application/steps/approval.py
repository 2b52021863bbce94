"""Approval by another Global or Billing admin (R13, R24): a request open for `approval_ttl`.

It is decided by `approve` and `reject` (`domain.application.subscriptions.decisions`), not by a choice.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from domain.application.steps.kind import StepKind
from domain.application.steps.runners import is_current
from domain.audit import AuditResult
from domain.workflows import Approval, StepName, StepStatus, WaitFor, notes

if TYPE_CHECKING:
    from domain.application.workflow_engine import WorkflowEngine

__all__ = ["STEP"]


def run(engine: WorkflowEngine, workflow_id: str, correlation_id: str) -> None:
    """R13: an approval request, open for `approval_ttl`, to the approvers' channel."""
    with engine.uow() as uow:
        seen = engine.load(uow, workflow_id)
    holders = engine.directory.users_with_product(seen.product.sku_id)
    requester = engine.directory.user(seen.requested_by)  # R24: four eyes are two Entra users
    with engine.uow() as uow:
        workflow = engine.load(uow, workflow_id, for_update=True)
        if not is_current(workflow, StepName.APPROVAL, StepStatus.PENDING):
            return
        now = engine.clock.now()
        approval = Approval(
            id=uuid.uuid4().hex[:12],
            workflow_id=workflow.id,
            product=workflow.product,
            subscription_id=workflow.subscription_id,
            requested_by=workflow.requested_by,
            requested_at=now,
            expires_at=now + engine.settings.approval_ttl,
            holders=tuple(u.display_name for u in holders),
            requested_by_id=requester.id if requester is not None else "",
        )
        uow.approvals.add(approval)
        workflow.approval_id = approval.id
        workflow.wait(StepName.APPROVAL, WaitFor.APPROVAL, now, notes.approval_waiting(workflow, approval))
        engine.audit(
            uow,
            workflow,
            workflow.requested_by,
            f"request approval: {approval.action}",
            AuditResult.REQUESTED,
            correlation_id=correlation_id,
        )
        status = engine.commit(uow, workflow)
    engine.tell(engine.notifier.workflow_changed, status)
    engine.tell(engine.notifier.approval_requested, status)


STEP = StepKind(StepName.APPROVAL, run)
