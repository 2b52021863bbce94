"""Composition root: builds the real adapters from `Settings` unless fakes are passed in (STYLE.md)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import SystemClock
from bot.settings import ConfigurationError, Settings, TenantBackend
from bot.sign_in import build_access
from domain.application.group_follows import GroupFollows
from domain.application.licensing import Licensing
from domain.application.subscriptions.queries import WorkflowQueries
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.application.use_cases import LicenseUseCases
from domain.catalog import ProductCatalog
from domain.model import Cloud
from domain.ports import Clock, TenantDirectory
from domain.prices import Prices
from domain.workflows import WaitingOn
from domain.workflows.settings import WorkflowSettings
from handlers.blocks.workflows import workflow_sections
from handlers.context import Services, WorkflowSections
from handlers.message_updates import MessageUpdates
from handlers.notifier import SlackNotifier
from handlers.slack_directory import SlackUsers
from storage.calendar import HolidayCalendar
from storage.catalog_file import load_product_table
from storage.commerce import AdminTaskCommerce
from storage.database import create_engine, session_factory
from storage.graph.signin import LoginHttp, MicrosoftSignIn
from storage.migrate import ensure_schema
from storage.prices_file import PricesFileError, load_prices
from storage.simulated import SimulatedTenant, reset_demo_tenant, tenant_is_empty
from storage.simulated.commerce import SimulatedCommerce
from storage.uow import SqlUnitOfWorkFactory

__all__ = ["Container", "bootstrap", "process_owner"]

log = logging.getLogger(__name__)

_SEED_LOCK_KEY = 0x6C6963_5345  # "licSE": the advisory lock around seeding an empty simulated tenant


@dataclass(frozen=True)
class Container:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    uow: SqlUnitOfWorkFactory
    directory: TenantDirectory
    services: Services
    subscriptions: SubscriptionWorkflows
    notifier: SlackNotifier
    sign_in: MicrosoftSignIn | None = None
    """With `ADMIN_BINDING=entra`: the Microsoft sign-in that binds Slack accounts (R24)."""
    group_follows: GroupFollows | None = None
    """The group changes followed while Microsoft 365 processes them (R21), ticked by the scheduler."""


def _directory(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, catalog: ProductCatalog
) -> TenantDirectory:
    """The tenant, outside the bot's unit of work: the simulated one on its own sessions, or Graph."""
    if settings.tenant_backend is TenantBackend.SIMULATED:
        return SimulatedTenant(sessions, clock)
    from bot.graph import build_graph_directory

    return build_graph_directory(settings, catalog)


def process_owner() -> str:
    """This process, as it appears in the leases it holds: host, pid and a nonce (a pid is reused)."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _seed_empty_tenant(sessions: sessionmaker[Session], clock: Clock) -> None:
    """The embedded tenant works out of the box: an empty one becomes the Contoso demo."""
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Replicas starting together on an empty database: one seeds, the others then see it.
            session.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK_KEY)))
        if tenant_is_empty(session):
            reset_demo_tenant(session, clock)
            session.commit()
            log.info("seeded the simulated Contoso tenant", extra={"action": "seed"})


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    directory: TenantDirectory | None = None,
    migrate: bool = True,
    login_http: LoginHttp | None = None,
) -> Container:
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    if migrate:
        ensure_schema(engine)
    sessions = session_factory(engine)
    if migrate and settings.tenant_backend is TenantBackend.SIMULATED:
        _seed_empty_tenant(sessions, clock)
    known = load_product_table(settings.product_table_path) if settings.product_table_path else None
    catalog = ProductCatalog(known)
    uow = SqlUnitOfWorkFactory(sessions)
    directory = directory or _directory(settings, sessions, clock, catalog)
    prices = _prices(settings)
    licenses = LicenseUseCases.build(
        uow,
        directory,
        clock,
        catalog,
        preview_ttl=timedelta(minutes=settings.preview_ttl_minutes),
        undo_ttl=timedelta(minutes=settings.undo_ttl_minutes),
        lease_ttl=timedelta(seconds=settings.lease_seconds),
        owner=process_owner(),
        prices=prices,
    )
    users, updates = SlackUsers(), MessageUpdates()  # one of each per process, shared by every request
    notifier = build_notifier(settings, users, updates)
    # R21: a group being processed is read at most once per poll interval, by any process.
    follows = GroupFollows(
        uow,
        directory,
        clock,
        notifier,
        owner=licenses.changes.process,
        poll_interval=timedelta(seconds=settings.poll_interval_seconds),
    )
    subscriptions = build_subscriptions(
        settings, sessions, clock, catalog, uow, directory, licenses.changes, notifier, prices
    )
    token = settings.slack_bot_token.get_secret_value()
    slack = WebClient(token=token, base_url=settings.slack_api_url) if token else None
    access = build_access(
        settings,
        authorization=licenses.authorization,
        directory=directory,
        sessions=sessions,
        clock=clock,
        slack=slack,
        http=login_http,
    )
    services = Services(
        licenses=licenses,
        subscriptions=subscriptions,
        workflows=workflow_provider(subscriptions.queries),
        slack_users=users,
        message_updates=updates,
        access=access.access,
        group_follows=follows,
    )
    log.info(
        "licensebot ready",
        extra={"action": "bootstrap", "command": settings.tenant_backend.value},
    )
    return Container(
        settings,
        engine,
        sessions,
        clock,
        uow,
        directory,
        services,
        subscriptions,
        notifier,
        access.sign_in,
        group_follows=follows,
    )


def build_notifier(settings: Settings, users: SlackUsers, updates: MessageUpdates) -> SlackNotifier:
    """The Slack side of the workflows; without a bot token it is connected later (the shell)."""
    token = settings.slack_bot_token.get_secret_value()
    client = WebClient(token=token, base_url=settings.slack_api_url) if token else None
    return SlackNotifier(
        client,
        approvals_channel=settings.approvals_channel,
        reminder_channel=settings.reminder_channel,
        users=users,
        updates=updates,
    )


def _prices(settings: Settings) -> Prices:
    """The operator's prices (R22), or none: then only seats are shown."""
    if settings.prices_file is None:
        return Prices()
    try:
        return load_prices(settings.prices_file)
    except PricesFileError as problem:
        raise ConfigurationError(str(problem)) from problem


def build_subscriptions(  # noqa: PLR0917 - the composition root passes what it built
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Clock,
    catalog: ProductCatalog,
    uow: SqlUnitOfWorkFactory,
    directory: TenantDirectory,
    licensing: Licensing,
    notifier: SlackNotifier,
    prices: Prices | None = None,
) -> SubscriptionWorkflows:
    """The workflows on the simulated tenant's commerce, or as admin-center tasks on a real one (R19)."""
    commerce: SimulatedCommerce | AdminTaskCommerce
    if settings.tenant_backend is TenantBackend.SIMULATED:
        commerce = SimulatedCommerce(
            sessions,
            clock,
            activation_delay=timedelta(seconds=settings.sim_activation_seconds),
            credit_check_delay=timedelta(hours=settings.sim_credit_check_hours),
        )
    else:
        commerce = AdminTaskCommerce(
            Cloud(settings.m365_cloud),
            clock,
            catalog,
            credit_check_days=settings.credit_check_business_days,
        )
    subscriptions = subscription_workflows(
        uow,
        directory,
        clock,
        catalog,
        licensing=licensing,
        commerce=commerce,
        calendar=HolidayCalendar(),
        notifier=notifier,
        settings=WorkflowSettings(
            approval_ttl=timedelta(hours=settings.approval_ttl_hours),
            credit_check_business_days=settings.credit_check_business_days,
            lease_ttl=timedelta(seconds=settings.lease_seconds),
            poll_interval=timedelta(seconds=settings.poll_interval_seconds),
            reminder_every=timedelta(hours=settings.task_reminder_hours),
            approval_reminder_every=timedelta(hours=settings.approval_reminder_hours),
            digest_time_utc=settings.digest_time_utc,
        ),
        owner=licensing.process,
        renewal_days=settings.renewal_alert_days,
        prices=prices,
    )
    notifier.bind(subscriptions.decisions)
    return subscriptions


def workflow_provider(queries: WorkflowQueries) -> Callable[[str], WorkflowSections]:
    """App Home's workflow sections for one admin: what is in flight, what waits on them."""

    def sections(requester: str) -> WorkflowSections:
        waiting: WaitingOn = queries.waiting_on(requester)
        return workflow_sections(queries.in_flight(requester), waiting)

    return sections
