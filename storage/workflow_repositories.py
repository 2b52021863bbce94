"""SQLAlchemy repositories for the subscription workflows, their approvals and admin tasks.

They map rows to the domain's values and back (`domain.workflows`); nothing outside `storage/`
sees a row. `get(..., for_update=True)` locks the row until the unit of work ends (PostgreSQL;
SQLite transactions begin IMMEDIATE, which serializes writers anyway).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.model import Cloud, PaymentMethod
from domain.workflows import (
    AdminTask,
    Approval,
    ApprovalState,
    Choice,
    ProductRef,
    Step,
    StepName,
    StepStatus,
    TaskKind,
    TaskState,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
)
from domain.workflows.settings import CREDIT_CHECK_BUSINESS_DAYS
from storage.orm import AdminTaskRow, ApprovalRow, WorkflowRow, WorkflowStepRow

__all__ = ["SqlAdminTaskRepository", "SqlApprovalRepository", "SqlWorkflowRepository"]


class SqlWorkflowRepository:
    """`domain.ports.WorkflowRepository`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, workflow: Workflow) -> None:
        row = WorkflowRow(id=workflow.id)
        _fill_workflow(row, workflow)
        self._session.add(row)
        self._session.flush()

    def get(self, workflow_id: str, *, for_update: bool = False) -> Workflow | None:
        query = select(WorkflowRow).where(WorkflowRow.id == workflow_id)
        row = self._session.scalars(_locked(query) if for_update else query).first()
        return None if row is None else _workflow(row)

    def save(self, workflow: Workflow) -> None:
        row = self._session.get(WorkflowRow, workflow.id)
        if row is None:
            raise LookupError(f"workflow {workflow.id} was never added")
        _fill_workflow(row, workflow)
        self._session.flush()

    def in_state(self, *states: WorkflowState) -> list[Workflow]:
        query = (
            select(WorkflowRow)
            .where(WorkflowRow.state.in_([s.value for s in states]))
            .order_by(WorkflowRow.created_at, WorkflowRow.id)
        )
        return [_workflow(row) for row in self._session.scalars(query)]

    def waiting_for(self, waits: Collection[WaitFor]) -> list[Workflow]:
        query = (
            select(WorkflowRow)
            .where(
                WorkflowRow.state == WorkflowState.WAITING.value,
                WorkflowRow.waiting_for.in_([w.value for w in waits]),
            )
            .order_by(WorkflowRow.created_at, WorkflowRow.id)
        )
        return [_workflow(row) for row in self._session.scalars(query)]

    def claim_ready(
        self, owner: str, now: datetime, ttl: timedelta, *, limit: int = 50, force: bool = False
    ) -> list[str]:
        query = select(WorkflowRow).where(WorkflowRow.state == WorkflowState.RUNNING.value)
        if not force:
            query = query.where(
                or_(
                    WorkflowRow.lease_expires_at.is_(None),
                    WorkflowRow.lease_expires_at <= now,
                    WorkflowRow.lease_owner == owner,
                )
            )
        query = (
            query.order_by(WorkflowRow.created_at, WorkflowRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        claimed: list[str] = []
        for row in self._session.scalars(query):
            workflow = _workflow(row)
            step = workflow.current
            if step is None or step.status not in {StepStatus.PENDING, StepStatus.RUNNING}:
                continue
            if step.status is StepStatus.PENDING:
                # A running step's lease is taken when the step is resumed, under the row lock.
                row.lease_owner, row.lease_expires_at = owner, now + ttl
            claimed.append(row.id)
        self._session.flush()
        return claimed

    def release_owned(self, owner_prefix: str) -> int:
        result = self._session.execute(
            update(WorkflowRow)
            .where(WorkflowRow.lease_owner.startswith(owner_prefix, autoescape=True))
            .values(lease_owner=None, lease_expires_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def recent(self, limit: int = 10, requested_by: str | None = None) -> list[Workflow]:
        query = select(WorkflowRow).order_by(WorkflowRow.created_at.desc(), WorkflowRow.id).limit(limit)
        if requested_by is not None:
            query = query.where(func.lower(WorkflowRow.requested_by) == requested_by.lower())
        return [_workflow(row) for row in self._session.scalars(query)]

    def purchases_taken(self, sku_id: str, *, excluding: str) -> set[str]:
        query = select(WorkflowRow.purchase_id).where(
            WorkflowRow.product_sku == sku_id,
            WorkflowRow.purchase_id.is_not(None),
            WorkflowRow.id != excluding,
        )
        return {str(taken) for taken in self._session.scalars(query)}

    def take_purchase(self, workflow_id: str, subscription_id: str) -> bool:
        owner = self._session.scalar(select(WorkflowRow.id).where(WorkflowRow.purchase_id == subscription_id))
        if owner is not None:
            return owner == workflow_id
        try:
            # The unique column decides between two transactions taking it at once: PostgreSQL makes
            # the second wait for the first and fails it if the first commits; only the savepoint
            # is undone, the rest of the unit of work goes on.
            with self._session.begin_nested():
                self._session.execute(
                    update(WorkflowRow)
                    .where(WorkflowRow.id == workflow_id)
                    .values(purchase_id=subscription_id)
                )
        except IntegrityError:
            return False
        return True


class SqlApprovalRepository:
    """`domain.ports.ApprovalRepository`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, approval: Approval) -> None:
        row = ApprovalRow(id=approval.id)
        _fill_approval(row, approval)
        self._session.add(row)
        self._session.flush()

    def get(self, approval_id: str, *, for_update: bool = False) -> Approval | None:
        query = select(ApprovalRow).where(ApprovalRow.id == approval_id)
        row = self._session.scalars(_locked(query) if for_update else query).first()
        return None if row is None else _approval(row)

    def save(self, approval: Approval) -> None:
        row = self._session.get(ApprovalRow, approval.id)
        if row is None:
            raise LookupError(f"approval {approval.id} was never added")
        _fill_approval(row, approval)
        self._session.flush()

    def pending(self) -> list[Approval]:
        query = (
            select(ApprovalRow)
            .where(ApprovalRow.state == ApprovalState.PENDING.value)
            .order_by(ApprovalRow.requested_at, ApprovalRow.id)
        )
        return [_approval(row) for row in self._session.scalars(query)]


class SqlAdminTaskRepository:
    """`domain.ports.AdminTaskRepository`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, task: AdminTask) -> None:
        if self._session.get(AdminTaskRow, task.id) is not None:
            return
        row = AdminTaskRow(id=task.id)
        _fill_task(row, task)
        self._session.add(row)
        self._session.flush()

    def get(self, task_id: str, *, for_update: bool = False) -> AdminTask | None:
        query = select(AdminTaskRow).where(AdminTaskRow.id == task_id)
        row = self._session.scalars(_locked(query) if for_update else query).first()
        return None if row is None else _task(row)

    def save(self, task: AdminTask) -> None:
        row = self._session.get(AdminTaskRow, task.id)
        if row is None:
            raise LookupError(f"admin task {task.id} was never added")
        _fill_task(row, task)
        self._session.flush()

    def open(self) -> list[AdminTask]:
        query = (
            select(AdminTaskRow)
            .where(AdminTaskRow.state == TaskState.OPEN.value)
            .order_by(AdminTaskRow.created_at, AdminTaskRow.id)
        )
        return [_task(row) for row in self._session.scalars(query)]


_Row = TypeVar("_Row", WorkflowRow, ApprovalRow, AdminTaskRow)


def _locked(query: Select[_Row]) -> Select[_Row]:
    # Re-read even if this session already holds the row, so the state is the locked one.
    return query.with_for_update().execution_options(populate_existing=True)


# --- workflows ----------------------------------------------------------------------------------


def _fill_workflow(row: WorkflowRow, workflow: Workflow) -> None:
    current = workflow.current
    row.kind = workflow.kind.value
    row.state = workflow.state.value
    row.requested_by = workflow.requested_by
    row.created_at = workflow.created_at
    row.updated_at = workflow.updated_at or workflow.created_at
    row.product_sku, row.product_part, row.product_name = _product_columns(workflow.product)
    row.current_step = current.name.value if current else None
    row.current_status = current.status.value if current else None
    row.waiting_for = workflow.waiting_for.value if workflow.waiting_for else None
    row.waiting_since = current.since if current and current.status is StepStatus.WAITING else None
    row.subscription_id = workflow.subscription_id
    row.purchase_id = workflow.purchase_id or None
    row.change_set_id = workflow.change_set_id
    row.approval_id = workflow.approval_id
    row.task_id = workflow.task_id
    row.parent_id = workflow.parent_id
    row.deadline = workflow.deadline
    row.escalated_at = workflow.escalated_at
    row.channel = workflow.channel
    row.message_ts = workflow.message_ts
    row.lease_owner = workflow.lease_owner or None
    row.lease_expires_at = workflow.lease_expires_at
    row.facts = {
        "cloud": workflow.cloud.value,
        "country": workflow.country,
        "source": _product_json(workflow.source),
        "targets": list(workflow.targets),
        "users_to_move": workflow.users_to_move,
        "seats": workflow.seats,
        "payment_method": workflow.payment_method.value,
        "expected_total": workflow.expected_total,
        "known_subscriptions": list(workflow.known_subscriptions),
        "credit_check_days": workflow.credit_check_days,
        "ordered_at": _when(workflow.ordered_at),
        "addons": [_product_json(addon) for addon in workflow.addons],
        "follow_ups": list(workflow.follow_ups),
        "notes": list(workflow.notes),
    }
    existing = list(row.steps)
    for position, step in enumerate(workflow.steps):
        if position < len(existing):
            step_row = existing[position]
        else:
            step_row = WorkflowStepRow(position=position)
            row.steps.append(step_row)
        step_row.name = step.name.value
        step_row.status = step.status.value
        step_row.waiting_for = step.waiting_for.value if step.waiting_for else None
        step_row.since = step.since
        step_row.note = step.note
        step_row.choices = [choice.value for choice in step.choices]
        step_row.attempts = step.attempts
    del row.steps[len(workflow.steps) :]


def _workflow(row: WorkflowRow) -> Workflow:
    facts = row.facts
    source = _product_from_json(facts.get("source"))
    return Workflow(
        id=row.id,
        kind=WorkflowKind(row.kind),
        requested_by=row.requested_by,
        created_at=row.created_at,
        product=ProductRef(row.product_sku, row.product_part, row.product_name),
        steps=[
            Step(
                name=StepName(step.name),
                status=StepStatus(step.status),
                waiting_for=WaitFor(step.waiting_for) if step.waiting_for else None,
                since=step.since,
                note=step.note,
                choices=tuple(Choice(choice) for choice in step.choices),
                attempts=step.attempts,
            )
            for step in row.steps
        ],
        state=WorkflowState(row.state),
        updated_at=row.updated_at,
        cloud=Cloud(facts.get("cloud", Cloud.WORLDWIDE.value)),
        country=str(facts.get("country", "US")),
        source=source,
        targets=tuple(str(t) for t in facts.get("targets", ())),
        users_to_move=int(facts.get("users_to_move", 0)),
        seats=int(facts.get("seats", 0)),
        payment_method=PaymentMethod(facts.get("payment_method", PaymentMethod.CARD.value)),
        subscription_id=row.subscription_id,
        purchase_id=row.purchase_id or "",
        expected_total=int(facts.get("expected_total", 0)),
        known_subscriptions=tuple(str(s) for s in facts.get("known_subscriptions", ())),
        credit_check_days=int(facts.get("credit_check_days", CREDIT_CHECK_BUSINESS_DAYS)),
        ordered_at=_parse_when(facts.get("ordered_at")),
        deadline=row.deadline,
        escalated_at=row.escalated_at,
        change_set_id=row.change_set_id,
        approval_id=row.approval_id,
        task_id=row.task_id,
        addons=tuple(p for p in (_product_from_json(a) for a in facts.get("addons", ())) if p is not None),
        follow_ups=tuple(str(f) for f in facts.get("follow_ups", ())),
        parent_id=row.parent_id,
        channel=row.channel,
        message_ts=row.message_ts,
        lease_owner=row.lease_owner or "",
        lease_expires_at=row.lease_expires_at,
        notes=[str(n) for n in facts.get("notes", ())],
    )


def _product_columns(product: ProductRef) -> tuple[str, str, str]:
    return product.sku_id, product.part_number, product.display_name


def _product_json(product: ProductRef | None) -> dict[str, str] | None:
    if product is None:
        return None
    return {"skuId": product.sku_id, "partNumber": product.part_number, "displayName": product.display_name}


def _product_from_json(value: Any) -> ProductRef | None:
    if not isinstance(value, dict):
        return None
    return ProductRef(str(value["skuId"]), str(value["partNumber"]), str(value["displayName"]))


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


# --- approvals and tasks ------------------------------------------------------------------------


def _fill_approval(row: ApprovalRow, approval: Approval) -> None:
    row.workflow_id = approval.workflow_id
    row.product_sku, row.product_part, row.product_name = _product_columns(approval.product)
    row.subscription_id = approval.subscription_id
    row.requested_by = approval.requested_by
    row.requested_by_id = approval.requested_by_id
    row.requested_at = approval.requested_at
    row.expires_at = approval.expires_at
    row.holders = list(approval.holders)
    row.state = approval.state.value
    row.decided_by = approval.decided_by
    row.decided_at = approval.decided_at
    row.accepted_loss_of_access = approval.accepted_loss_of_access
    row.reason = approval.reason
    row.channel = approval.channel
    row.message_ts = approval.message_ts


def _approval(row: ApprovalRow) -> Approval:
    return Approval(
        id=row.id,
        workflow_id=row.workflow_id,
        product=ProductRef(row.product_sku, row.product_part, row.product_name),
        subscription_id=row.subscription_id,
        requested_by=row.requested_by,
        requested_by_id=row.requested_by_id,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        holders=tuple(row.holders),
        state=ApprovalState(row.state),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        accepted_loss_of_access=row.accepted_loss_of_access,
        reason=row.reason,
        channel=row.channel,
        message_ts=row.message_ts,
    )


def _fill_task(row: AdminTaskRow, task: AdminTask) -> None:
    row.workflow_id = task.workflow_id
    row.step = task.step.value if task.step else None
    row.kind = task.kind.value
    row.title = task.title
    row.checklist = list(task.checklist)
    row.link = task.link
    row.owner = task.owner
    row.created_at = task.created_at
    row.state = task.state.value
    row.marked_done_by = task.marked_done_by
    row.marked_done_at = task.marked_done_at
    row.completed_at = task.completed_at
    row.note = task.note


def _task(row: AdminTaskRow) -> AdminTask:
    return AdminTask(
        id=row.id,
        kind=TaskKind(row.kind),
        title=row.title,
        checklist=tuple(row.checklist),
        link=row.link,
        created_at=row.created_at,
        workflow_id=row.workflow_id,
        step=StepName(row.step) if row.step else None,
        owner=row.owner,
        state=TaskState(row.state),
        marked_done_by=row.marked_done_by,
        marked_done_at=row.marked_done_at,
        completed_at=row.completed_at,
        note=row.note,
    )
