"""The real Bolt app over real HTTP, talking to a local fake Slack, on the simulated Contoso tenant.

Each test gets: a `LocalSlack` workspace whose people have the tenant's email addresses, a fresh
SQLite database with the demo tenant, and the app from `bot.app.create_app` served by a threaded
WSGI server on a free port. Requests are built from the workspace's state (fresh response URLs and
trigger ids) and signed like Slack signs them; replies are read back from the workspace.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.clock import SystemClock
from bot.local_slack import LocalSlack, Message, View, render_blocks, signed_headers
from bot.local_slack.signing import Selection
from bot.web import create_wsgi_app
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.application.use_cases import LicenseUseCases
from domain.audit import AuditEntry
from domain.catalog import ProductCatalog
from domain.ports import TenantDirectory, UnitOfWorkFactory
from handlers.blocks.workflows import workflow_sections
from handlers.context import Services, Timing, WorkflowSections
from handlers.message_updates import MessageUpdates
from handlers.notifier import SlackNotifier
from storage.calendar import HolidayCalendar
from storage.database import create_engine, session_factory
from storage.migrate import ensure_schema
from storage.orm import SimLicenseEventRow, SimUserLicenseRow, SimUserRow
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_user_id, reset_demo_tenant
from storage.simulated.commerce import SimulatedCommerce
from storage.simulated.products import DEMO_PRODUCTS
from storage.simulated.seed import user_row
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock
from tests.slack.admin_text import violations

SIGNING_SECRET = "8f2b1c0e5d4a49f6b7c3e2d1a0f9e8d7"
PEOPLE = ("lena", "alice", "bob", "carol", "nora", "dave", "grace")


@dataclass
class Tenant:
    """The simulated tenant in its own SQLite file, and ways to look at it from a test."""

    engine: Engine
    sessions: sessionmaker[Session]
    uow: SqlUnitOfWorkFactory
    directory: SimulatedTenant

    def products_of(self, email: str) -> set[str]:
        user = self.directory.user(email)
        assert user is not None
        parts = {p.sku_id: p.part_number for p in self.directory.products()}
        return {parts[lic.sku_id] for lic in user.licenses}

    def license_writes(self, email: str) -> int:
        with self.sessions() as session:
            query = select(func.count()).where(SimLicenseEventRow.user_id == demo_user_id(email))
            return int(session.scalar(query.select_from(SimLicenseEventRow)) or 0)

    def all_license_writes(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(SimLicenseEventRow)) or 0)

    def audit(self, actor: str) -> list[AuditEntry]:
        with self.uow() as uow:
            return uow.audit.recent(limit=50, actor=actor)

    def services_off(self, email: str, part: str) -> set[str]:
        """Names of the service plans turned off in the user's license of a product."""
        product = DEMO_PRODUCTS[part]
        user = self.directory.user(email)
        assert user is not None
        held = user.license_for(product.sku_id)
        assert held is not None, f"{email} has no {part}"
        return {plan.name for plan in product.service_plans if plan.id in held.disabled_plans}

    def add_user(
        self,
        upn: str,
        name: str,
        *products: str,
        usage_location: str | None = "US",
    ) -> str:
        """A user in the simulated tenant (by user principal name), holding `products` (part numbers)."""
        with self.sessions() as session:
            session.add(user_row(upn, name, products, usage_location=usage_location))
            session.commit()
        return upn

    def buy(self, part: str, seats: int) -> None:
        """A new subscription of `seats` licenses of a product, active at once (R2 passes)."""
        with self.sessions() as session:
            SimulatedDirectory(session, SystemClock()).add_subscription(part, seats)
            session.commit()

    def set_licenses(self, upn: str, *parts: str) -> None:
        """Someone else changes a user's licenses behind the bot's back."""
        with self.sessions() as session:
            row = session.scalars(select(SimUserRow).where(SimUserRow.user_principal_name == upn)).one()
            row.licenses = [
                SimUserLicenseRow(sku_id=DEMO_PRODUCTS[p].sku_id, disabled_plans=[]) for p in parts
            ]
            session.commit()


@dataclass
class SlackBot:
    """Drives the bot like a person in Slack would: a command, a button; reads what came back."""

    slack: LocalSlack
    app: App
    url: str
    channel: str
    people: dict[str, str]

    def post(self, body: str, headers: dict[str, str]) -> int:
        return self.exchange(body, headers)[0]

    def exchange(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """POST a request as Slack does: the HTTP status and the body of the app's answer."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            connection.request("POST", parts.path, body=body.encode(), headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def send(self, body: str, **headers: int) -> tuple[int, dict[str, object]]:
        """A signed request (`retry_num=1` for a redelivery); the app's JSON answer."""
        status, answer = self.exchange(body, signed_headers(body, SIGNING_SECRET, **headers))
        return status, json.loads(answer) if answer.strip().startswith("{") else {}

    def command_body(self, who: str, text: str, command: str = "/license") -> str:
        return self.slack.slash_command_body(command, text, user_id=self.people[who], channel_id=self.channel)

    def command(self, who: str, text: str, command: str = "/license") -> int:
        body = self.command_body(who, text, command)
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def press_body(self, who: str, action_id: str) -> str:
        return self.slack.action_body(self.people[who], action_id=action_id, channel=self.channel)

    def press(self, who: str, action_id: str) -> int:
        body = self.press_body(who, action_id)
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def open_form(self, who: str, text: str = "") -> View:
        """`/license …` that opens a form; the form once it has been filled in by the bot."""
        before = {v.id for v in self.slack.open_views(self.people[who])}
        assert self.command(who, text) == 200

        def filled() -> View | None:
            for view in self.slack.open_views(self.people[who]):
                if (
                    view.id not in before
                    and view.callback_id
                    and "Reading the tenant" not in str(view.blocks)
                ):
                    return view
            return None

        return self.slack.wait_for(filled, description=f"the form of {text!r} filled in")

    def form(self, who: str) -> View:
        (view,) = self.slack.open_views(self.people[who])
        return view

    def choose(self, who: str, view: View, action_id: str, selected: Selection) -> View:
        """Choose in a form's element that sends its choice at once; the form once updated."""
        body = self.slack.action_body(
            self.people[who], action_id=action_id, view_id=view.id, selected=selected
        )
        assert self.post(body, signed_headers(body, SIGNING_SECRET)) == 200
        return self.slack.wait_for(
            lambda: (v := self.slack.view(view.id)) is not None and v.hash != view.hash and v,
            description=f"the form updated after choosing {selected!r}",
        )

    def submit(self, who: str, view: View, inputs: Mapping[str, Selection]) -> dict[str, object]:
        """Submit a form; the app's answer to Slack (`response_action`, `errors`…). As Slack does, a
        plain answer closes the form."""
        body = self.slack.view_submission_body(self.people[who], view.id, inputs)
        status, answer = self.send(body)
        assert status == 200
        if not answer.get("response_action"):
            self.slack.close_view(view.id, whole_stack=True)
        return answer

    def posted(self) -> list[Message]:
        """Messages the whole channel sees (bulk changes), oldest first."""
        return self.slack.messages(self.channel)

    def wait_posted(self, containing: str, *, count: int = 1) -> Message:
        def found() -> Message | None:
            hits = [m for m in self.posted() if containing in text_of(m)]
            return hits[count - 1] if len(hits) >= count else None

        return self.slack.wait_for(found, description=f"message {count} in the channel with {containing!r}")

    def press_on(self, who: str, message: Message, action_id: str) -> int:
        body = self.slack.action_body(
            self.people[who], action_id=action_id, channel=message.channel, message_ts=message.ts
        )
        return self.post(body, signed_headers(body, SIGNING_SECRET))

    def mention(self, who: str) -> str:
        return f"<@{self.people[who]}|{who}>"

    def replies(self, who: str) -> list[Message]:
        return self.slack.ephemerals(self.people[who], channel=self.channel)

    def wait_reply(self, who: str, count: int = 1, *, containing: str = "") -> Message:
        """The `count`-th ephemeral reply to `who` once it exists (and holds `containing`)."""

        def found() -> Message | None:
            replies = self.replies(who)
            if len(replies) < count:
                return None
            reply = replies[count - 1]
            return reply if containing in text_of(reply) else None

        return self.slack.wait_for(found, description=f"reply {count} to {who} with {containing!r}")

    def wait_calls(self, method: str, count: int) -> None:
        self.slack.wait_for(
            lambda: len(self.slack.calls(method)) >= count, description=f"{count} calls of {method}"
        )

    def finish(self) -> None:
        """Wait until every listener has run to its end."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)


def text_of(message: Message) -> str:
    """What a person sees: the message rendered as text, without bold and code markers."""
    return render_blocks(message.blocks, message.text).text.replace("*", "").replace("`", "")


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    """The fake Slack; at the end, everything the bot sent must read in the admin's words."""
    with LocalSlack() as local:
        yield local
        found = violations(local.calls())
    if found:
        pytest.fail("What the admin reads is not in their words:\n" + "\n".join(found), pytrace=False)


@contextmanager
def open_tenant(url: str) -> Iterator[Tenant]:
    """The demo tenant in the empty database at `url` (SQLite or PostgreSQL)."""
    engine = create_engine(url)
    ensure_schema(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    with sessions() as session:
        reset_demo_tenant(session, clock)
        session.commit()
    try:
        yield Tenant(engine, sessions, SqlUnitOfWorkFactory(sessions), SimulatedTenant(sessions, clock))
    finally:
        engine.dispose()


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    with open_tenant(f"sqlite:///{tmp_path / 'licensebot.db'}") as opened:
        yield opened


def licenses_on(uow: UnitOfWorkFactory, directory: TenantDirectory) -> LicenseUseCases:
    return LicenseUseCases.build(uow, directory, SystemClock(), ProductCatalog())


class Unreachable:
    """A unit of work or a tenant directory that fails with `error` whatever is asked of it."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def __call__(self) -> Any:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        raise self._error


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


FAST = Timing(progress_interval=0.0)
"""Every batch updates the progress message at once (no waiting in tests)."""


@contextmanager
def serve(slack: LocalSlack, services: Services) -> Iterator[SlackBot]:
    """The app from `create_app` behind the WSGI app `licensebot serve` runs (`create_wsgi_app`: the
    signature and the body are checked before Bolt sees them), served over HTTP on a free port, its
    WebClient on `slack`."""
    app = create_app(
        bot_token=slack.bot_token, signing_secret=SIGNING_SECRET, services=services, base_url=slack.api_url
    )
    server = make_server(
        "127.0.0.1",
        0,
        create_wsgi_app(app, lambda: True, signing_secret=SIGNING_SECRET),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="bolt-http", daemon=True)
    thread.start()
    people = {name: slack.add_user(name, email=f"{name}@contoso.com") for name in PEOPLE}
    channel = slack.add_channel("licensing", members=list(people.values()))
    bot = SlackBot(slack, app, f"http://127.0.0.1:{server.server_address[1]}/slack/events", channel, people)
    try:
        yield bot
    finally:
        server.shutdown()
        server.server_close()
        bot.finish()


@pytest.fixture
def bot(slack: LocalSlack, tenant: Tenant) -> Iterator[SlackBot]:
    with serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory))) as running:
        yield running


@dataclass
class WorkflowWiring:
    """The subscription workflows wired as `bot.bootstrap` does, on a demo tenant of their own, with
    a clock the test moves: what a Slack test needs to serve them and to look behind them."""

    tenant: Tenant
    clock: FixedClock
    subscriptions: SubscriptionWorkflows
    notifier: SlackNotifier
    services: Services


def wire_workflows(
    slack: LocalSlack,
    database: Path,
    *,
    approvals: str,
    reminders: str,
    updates: MessageUpdates | None = None,
) -> WorkflowWiring:
    """The workflows on the simulated tenant in `database` (a Monday morning; purchases active after
    two minutes), telling Slack through `slack` with these approval and reminder channels (and
    `updates` pacing its message updates, as `bot.bootstrap` shares one with the listeners)."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    engine = create_engine(f"sqlite:///{database}")
    ensure_schema(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        reset_demo_tenant(session, clock)
    uow = SqlUnitOfWorkFactory(sessions)
    directory = SimulatedTenant(sessions, clock)
    licenses = LicenseUseCases.build(uow, directory, clock, ProductCatalog())
    notifier = SlackNotifier(
        WebClient(token=slack.bot_token, base_url=slack.api_url),
        approvals_channel=approvals,
        reminder_channel=reminders,
        updates=updates,
    )
    commerce = SimulatedCommerce(
        sessions, clock, activation_delay=timedelta(minutes=2), credit_check_delay=timedelta(days=10)
    )
    subscriptions = subscription_workflows(
        uow,
        directory,
        clock,
        ProductCatalog(),
        licensing=licenses.changes,
        commerce=commerce,
        calendar=HolidayCalendar(),
        notifier=notifier,
    )
    notifier.bind(subscriptions.decisions)

    def sections(requester: str) -> WorkflowSections:
        return workflow_sections(
            subscriptions.queries.in_flight(requester), subscriptions.queries.waiting_on(requester)
        )

    services = Services(
        licenses=licenses,
        subscriptions=subscriptions,
        workflows=sections,
        timing=FAST,
        message_updates=updates,
    )
    return WorkflowWiring(Tenant(engine, sessions, uow, directory), clock, subscriptions, notifier, services)
