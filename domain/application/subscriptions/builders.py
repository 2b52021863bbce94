"""Building new workflows: the plain ones each command starts, and the follow-ups a step's choice
starts (a cancellation, a seat removal). Nothing here reads the tenant or commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from domain.model import Organization, Product, Subscription, User
from domain.ports import Clock, UnitOfWork
from domain.workflows import (
    Choice,
    ProductRef,
    StepName,
    WaitFor,
    Workflow,
    WorkflowKind,
    WorkflowState,
    fresh_steps,
    notes,
)
from domain.workflows.checks import users_losing_access
from domain.workflows.settings import WorkflowSettings

__all__ = ["Tenant", "WorkflowBuilder", "cancel_in_flight", "in_flight"]


@dataclass(frozen=True, slots=True)
class Tenant:
    """What a decision needs of the tenant, read before its unit of work opens."""

    organization: Organization
    products: list[Product]
    subscriptions: list[Subscription]
    holders: dict[str, list[User]] = field(default_factory=dict)
    """By product: who holds it (for the products a decision may cancel)."""


class WorkflowBuilder:
    """New workflows, with the settings they keep for their lifetime (the credit check's days)."""

    def __init__(self, clock: Clock, settings: WorkflowSettings) -> None:
        self._clock = clock
        self._settings = settings

    def new(
        self,
        organization: Organization,
        kind: WorkflowKind,
        requested_by: str,
        product: Product | ProductRef,
        *,
        channel: str,
    ) -> Workflow:
        now = self._clock.now()
        return Workflow(
            id=uuid.uuid4().hex[:12],
            kind=kind,
            requested_by=requested_by,
            created_at=now,
            product=ProductRef.of(product) if isinstance(product, Product) else product,
            steps=fresh_steps(kind),
            updated_at=now,
            cloud=organization.cloud,
            country=organization.country_code,
            credit_check_days=self._settings.credit_check_business_days,
            channel=channel,
        )

    def seats(
        self,
        organization: Organization,
        requested_by: str,
        product: Product,
        subscription: Subscription,
        delta: int,
        *,
        channel: str,
        parent: str = "",
    ) -> Workflow:
        workflow = self.new(organization, WorkflowKind.SEATS, requested_by, product, channel=channel)
        workflow.seats = delta
        workflow.subscription_id = subscription.id
        workflow.expected_total = subscription.total_licenses + delta
        workflow.parent_id = parent
        return workflow

    def cancel(
        self,
        tenant: Tenant,
        requested_by: str,
        subscription: Subscription,
        *,
        channel: str,
        parent: str = "",
    ) -> Workflow:
        """A cancellation starts waiting for its requester, who sees who still holds the licenses (R13)."""
        product = next((p for p in tenant.products if p.sku_id == subscription.sku_id), None)
        ref = (
            ProductRef.of(product)
            if product
            else ProductRef(subscription.sku_id, subscription.part_number, subscription.part_number)
        )
        workflow = self.new(tenant.organization, WorkflowKind.CANCEL, requested_by, ref, channel=channel)
        workflow.subscription_id = subscription.id
        workflow.parent_id = parent
        holders = [u.display_name for u in tenant.holders.get(subscription.sku_id, [])]
        note = notes.cancel_confirmation(
            ref, subscription, holders, users_losing_access(product, subscription)
        )
        workflow.wait(
            StepName.CONFIRM, WaitFor.CONFIRMATION, self._clock.now(), note, (Choice.CONFIRM, Choice.ABORT)
        )
        return workflow


def in_flight(uow: UnitOfWork) -> list[Workflow]:
    return uow.workflows.in_state(WorkflowState.RUNNING, WorkflowState.WAITING)


def cancel_in_flight(uow: UnitOfWork, subscription_id: str) -> str | None:
    """The workflow already cancelling this subscription, if any."""
    for workflow in in_flight(uow):
        if workflow.kind is WorkflowKind.CANCEL and workflow.subscription_id == subscription_id:
            return workflow.id
    return None
