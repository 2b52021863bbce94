"""Buying and cancelling on a real tenant (R19) through the Graph adapter, against graph-sim over HTTP.

No Graph v1.0 API buys or cancels a subscription, so each is an admin-center task (AdminTaskCommerce,
as `bot.bootstrap` wires it for TENANT_BACKEND=graph). The test plays the admin by changing
graph-sim's tenant directly, as the admin center would; the workflow completes only when a poll
through Graph sees the result, and "Mark done" makes the bot look rather than take the admin's word.
The bot's own database is the migrated one of the storage suites; the clock is a fixed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from domain.application.licensing import Licensing
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.commands import ApproveCancellation, BuySubscription, CancelSubscription, DecideStep, MarkTaskDone
from domain.model import Cloud, PaymentMethod, SubscriptionStatus
from domain.workflows import Choice, StepName, TaskState, WaitFor, WorkflowState, WorkflowStatus
from domain.workflows.settings import WorkflowSettings
from storage.calendar import HolidayCalendar
from storage.commerce import AdminTaskCommerce
from storage.database import session_factory
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, demo_subscription_id
from storage.simulated.products import O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock, RecordingNotifier
from tests.integration.demo_catalog import DEMO_CATALOG

TOKEN = "workflow-test-token"
BILL = "bill@contoso.com"
GRACE = "grace@contoso.com"
SUBSCRIPTION_READS = "GET /directory/subscriptions"
POLL = WorkflowSettings().poll_interval


@dataclass
class GraphBot:
    """The workflows on a Graph tenant, and the admin center (graph-sim's tenant) beside them."""

    sim: GraphSimulator
    tenant: DatabaseTenant
    clock: FixedClock
    subscriptions: SubscriptionWorkflows

    def subscription_reads(self) -> int:
        return self.sim.stats().requests_to(SUBSCRIPTION_READS)


@pytest.fixture
def graph_bot(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[GraphBot]:
    tenant = DatabaseTenant(clock=clock)
    with GraphSimulator(tenant, tokens={TOKEN: "licensebot"}) as sim:
        client = GraphClient(
            GraphConfig(access_token=TOKEN, graph_url=sim.url), StaticTokenProvider(TOKEN), sleeper=_no_sleep
        )
        directory = GraphDirectory(client, catalog=DEMO_CATALOG)
        uow = SqlUnitOfWorkFactory(sessions)
        licensing = Licensing(uow, directory, clock, DEMO_CATALOG)
        subscriptions = subscription_workflows(
            uow,
            directory,
            clock,
            DEMO_CATALOG,
            licensing=licensing,
            commerce=AdminTaskCommerce(Cloud.WORLDWIDE, clock, DEMO_CATALOG),
            calendar=HolidayCalendar(),
            notifier=RecordingNotifier(),
            settings=WorkflowSettings(),
        )
        yield GraphBot(sim, tenant, clock, subscriptions)
        client.close()
    tenant.close()


def _no_sleep(_seconds: float) -> None:
    raise AssertionError("nothing here is throttled: the client must not wait")


@contextmanager
def _in_admin_center(bot: GraphBot) -> Iterator[SimulatedDirectory]:
    """Not the bot: an admin's work by hand, straight in the tenant, committed at the end."""
    with session_factory(bot.tenant.engine).begin() as session:
        yield SimulatedDirectory(session, bot.clock)


def _status(bot: GraphBot, workflow_id: str) -> WorkflowStatus:
    [status] = bot.subscriptions.queries.status(BILL, workflow_id)
    return status


def test_a_purchase_on_a_graph_tenant_completes_only_when_graph_shows_it_r19(graph_bot: GraphBot) -> None:
    bot = graph_bot
    status = bot.subscriptions.starts.buy(BuySubscription(BILL, "ENTERPRISEPREMIUM", 4))
    assert status.workflow.waiting_for is WaitFor.TASK
    task = status.task
    assert task is not None
    assert task.state is TaskState.OPEN
    assert task.link.startswith("https://admin.microsoft.com")

    reads = bot.subscription_reads()
    marked = bot.subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, task.id))
    assert bot.subscription_reads() > reads, "Mark done looks at the tenant through Graph"
    assert marked.workflow.waiting_for is WaitFor.TASK, "an admin's word is not enough"
    assert "does not show it yet" in marked.workflow.step(StepName.BUY).note
    assert marked.task is not None
    assert marked.task.state is TaskState.OPEN

    assert bot.subscriptions.ticks.tick().advanced == (), "nothing bought yet"
    with _in_admin_center(bot) as admin_center:  # the admin buys it in the admin center
        admin_center.add_subscription(O365_E5, 4)

    bot.clock.advance(POLL)
    reads = bot.subscription_reads()
    assert bot.subscriptions.ticks.tick().advanced == (status.workflow.id,)
    assert bot.subscription_reads() > reads
    done = _status(bot, status.workflow.id)
    assert done.workflow.state is WorkflowState.DONE
    assert done.task is not None
    assert done.task.state is TaskState.DONE
    assert bot.sim.stats().total_writes_applied == 0, "a purchase writes no license"


def test_on_a_graph_tenant_the_8_license_subscription_completes_the_8_license_purchase_r23(
    graph_bot: GraphBot,
) -> None:
    bot = graph_bot
    by_invoice = bot.subscriptions.starts.buy(
        BuySubscription(BILL, "ENTERPRISEPREMIUM", 7, PaymentMethod.INVOICE)
    )
    bot.clock.advance(POLL)
    by_card = bot.subscriptions.starts.buy(BuySubscription(BILL, "ENTERPRISEPREMIUM", 8))

    with _in_admin_center(bot) as admin_center:  # the 8 are bought first
        eight = admin_center.add_subscription(O365_E5, 8).id
    bot.clock.advance(POLL)
    assert bot.subscriptions.ticks.tick().advanced == (by_card.workflow.id,)
    assert _status(bot, by_invoice.workflow.id).workflow.waiting_for is WaitFor.TASK

    with _in_admin_center(bot) as admin_center:
        seven = admin_center.add_subscription(O365_E5, 7, payment_method=PaymentMethod.INVOICE).id
    bot.clock.advance(POLL)
    assert bot.subscriptions.ticks.tick().advanced == (by_invoice.workflow.id,)
    done = [_status(bot, w.workflow.id).workflow for w in (by_invoice, by_card)]
    assert [(w.state, w.subscription_id) for w in done] == [
        (WorkflowState.DONE, seven),
        (WorkflowState.DONE, eight),
    ]


def test_a_cancellation_on_a_graph_tenant_completes_only_when_graph_shows_it_r19(graph_bot: GraphBot) -> None:
    bot = graph_bot
    e5 = demo_subscription_id("e5")
    with _in_admin_center(bot) as admin_center:
        bought = admin_center.add_subscription(O365_E5, 2)  # a second, unused E5 subscription
    status = bot.subscriptions.starts.request_cancel(CancelSubscription(BILL, bought.id))
    status = bot.subscriptions.decisions.decide(
        DecideStep(BILL, status.workflow.id, StepName.CONFIRM.value, Choice.CONFIRM.value)
    )
    approval = status.approval
    assert approval is not None
    status = bot.subscriptions.decisions.approve(
        ApproveCancellation(GRACE, approval.id, accept_loss_of_access=True)
    )
    assert status.workflow.waiting_for is WaitFor.TASK
    task = status.task
    assert task is not None
    assert task.state is TaskState.OPEN

    reads = bot.subscription_reads()
    marked = bot.subscriptions.decisions.mark_task_done(MarkTaskDone(BILL, task.id))
    assert bot.subscription_reads() > reads, "Mark done looks at the tenant through Graph"
    assert marked.workflow.state is not WorkflowState.DONE, "an admin's word is not enough"
    assert marked.task is not None
    assert marked.task.state is TaskState.OPEN
    assert bot.subscriptions.ticks.tick().advanced == ()

    with _in_admin_center(bot) as admin_center:  # the admin cancels it in the admin center
        admin_center.set_status(bought.id, SubscriptionStatus.SUSPENDED)

    bot.clock.advance(POLL)
    assert bot.subscriptions.ticks.tick().advanced == (status.workflow.id,)
    done = _status(bot, status.workflow.id)
    assert done.workflow.state is WorkflowState.DONE
    assert done.task is not None
    assert done.task.state is TaskState.DONE
    with _in_admin_center(bot) as admin_center:
        statuses = {s.id: s.status for s in admin_center.subscriptions()}
    assert statuses[e5] is SubscriptionStatus.ENABLED, "only the cancelled subscription changed"
