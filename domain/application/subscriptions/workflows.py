"""The subscription workflows wired on one engine: what the bot's container builds once per process."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.application.licensing import Licensing
from domain.application.subscriptions.decisions import WorkflowDecisions
from domain.application.subscriptions.guard import SubscriptionGuard
from domain.application.subscriptions.queries import WorkflowQueries
from domain.application.subscriptions.starts import WorkflowStarts
from domain.application.subscriptions.tick import WorkflowTicks
from domain.application.workflow_engine import WorkflowEngine
from domain.catalog import ProductCatalog
from domain.ports import BusinessCalendar, Clock, Commerce, Notifier, TenantDirectory, UnitOfWorkFactory
from domain.prices import Prices
from domain.waste import RENEWAL_ALERT_DAYS
from domain.workflows.settings import WorkflowSettings

__all__ = ["SubscriptionWorkflows", "subscription_workflows"]


@dataclass(frozen=True, slots=True)
class SubscriptionWorkflows:
    """The four services of the subscription workflows (R2, R8–R15, R19, R20, R22), sharing one
    engine: each caller takes the one it needs."""

    starts: WorkflowStarts
    decisions: WorkflowDecisions
    queries: WorkflowQueries
    ticks: WorkflowTicks
    engine: WorkflowEngine


def subscription_workflows(
    uow: UnitOfWorkFactory,
    directory: TenantDirectory,
    clock: Clock,
    catalog: ProductCatalog,
    *,
    licensing: Licensing,
    commerce: Commerce,
    calendar: BusinessCalendar,
    notifier: Notifier,
    settings: WorkflowSettings | None = None,
    owner: str | None = None,
    renewal_days: Sequence[int] = RENEWAL_ALERT_DAYS,
    prices: Prices | None = None,
) -> SubscriptionWorkflows:
    """Wire the services on one engine; `owner` names this process in every lease it takes."""
    engine = WorkflowEngine(
        uow,
        directory,
        clock,
        catalog,
        licensing=licensing,
        commerce=commerce,
        calendar=calendar,
        notifier=notifier,
        settings=settings or WorkflowSettings(),
        owner=owner or f"licensebot-{uuid.uuid4().hex[:8]}",
    )
    guard = SubscriptionGuard(uow, engine.authorization)
    decisions = WorkflowDecisions(engine, guard)
    return SubscriptionWorkflows(
        starts=WorkflowStarts(engine, guard),
        decisions=decisions,
        queries=WorkflowQueries(engine),
        ticks=WorkflowTicks(engine, decisions, renewal_days=renewal_days, prices=prices),
        engine=engine,
    )
