"""R24 with `ADMIN_BINDING=entra`: a Slack account acts for the Entra user it is bound to by a
Microsoft sign-in, whatever its Slack profile says.

The real Bolt app with signed requests against the local fake Slack, and msal against a local fake
of Microsoft's login endpoints (`tests.fakes.login`): an unbound admin is asked to sign in (device code,
or in the browser with PKCE through `/auth/microsoft/callback`), a bound one acts as their Entra user
even after their Slack email changes, a lost role unbinds, `/license signout` forgets, and an
approval by the same Entra user under a second Slack account is refused.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_sdk import WebClient
from sqlalchemy import delete

from bot.clock import SystemClock
from bot.local_slack import LocalSlack, Message
from bot.settings import Settings
from bot.sign_in import build_access
from bot.web import SIGN_IN_CALLBACK_PATH, create_wsgi_app
from domain.access import AdminBinding
from domain.audit import AuditResult
from domain.model import SubscriptionStatus
from handlers.context import Services
from handlers.ids import CONFIRM_CHANGE
from storage.access import SqlBindingStore
from storage.graph.signin import LoginHttp, MicrosoftSignIn
from storage.orm import SimRoleAssignmentRow
from storage.simulated import SimulatedDirectory, demo_subscription_id, demo_user_id
from tests.fakes.login import PUBLIC, TENANT, FakeLogin, Person
from tests.slack.conftest import (
    FAST,
    SIGNING_SECRET,
    SlackBot,
    Tenant,
    licenses_on,
    serve,
    text_of,
    wire_workflows,
)

CLIENT_ID = "5b1d9c7e-0a42-4c1e-9d55-2f0f6a9e3c21"
LENA = "lena@contoso.com"  # a License admin
BILL = "bill@contoso.com"  # a Billing admin
CAROL = "carol@contoso.com"  # no admin role


def _settings(login: FakeLogin, **more: str) -> Settings:
    return Settings(
        admin_binding=AdminBinding.ENTRA,
        graph_tenant_id=TENANT,
        sign_in_client_id=CLIENT_ID,
        graph_login_url=login.url,
        **more,  # type: ignore[arg-type]
    )


@dataclass
class Bound:
    bot: SlackBot
    tenant: Tenant
    login: FakeLogin
    sign_in: MicrosoftSignIn
    bindings: SqlBindingStore

    def sign_in_with_code(self, who: str, person: Person, *, count: int = 1) -> None:
        """`who` was asked to sign in: they type the code they were given, and the bot checks."""
        reply = text_of(self.bot.wait_reply(who, count, containing="sign in once with Microsoft"))
        code = re.search(r"enter the code (\w+)", reply)
        assert code is not None, reply
        self.login.enter_code(code.group(1), person)
        assert self.sign_in.poll() == 0


@contextmanager
def _bound(
    slack: LocalSlack, tenant: Tenant, login: FakeLogin, settings: Settings, services: Services
) -> Iterator[Bound]:
    http = LoginHttp(PUBLIC, login.url)
    wired = build_access(
        settings,
        authorization=services.licenses.authorization,
        directory=tenant.directory,
        sessions=tenant.sessions,
        clock=SystemClock(),
        slack=WebClient(token=slack.bot_token, base_url=slack.api_url),
        http=http,
    )
    assert wired.sign_in is not None
    try:
        with serve(slack, replace(services, access=wired.access)) as bot:
            yield Bound(bot, tenant, login, wired.sign_in, SqlBindingStore(tenant.sessions))
    finally:
        http.close()


@pytest.fixture
def login() -> Iterator[FakeLogin]:
    with FakeLogin(CLIENT_ID) as fake:
        yield fake


@pytest.fixture
def bound(slack: LocalSlack, tenant: Tenant, login: FakeLogin) -> Iterator[Bound]:
    services = Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)
    with _bound(slack, tenant, login, _settings(login), services) as running:
        yield running


def _lena() -> Person:
    return Person(demo_user_id(LENA), LENA)


def test_an_unbound_admin_is_asked_to_sign_in_and_nothing_changes(bound: Bound) -> None:
    bot, tenant = bound.bot, bound.tenant
    assert bot.command("lena", f"replace {bot.mention('bob')} E5") == 200

    asked = text_of(bot.wait_reply("lena", containing="sign in once with Microsoft"))
    assert "https://microsoft.com/devicelogin" in asked
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    again = text_of(bot.wait_reply("lena", 2, containing="sign in once with Microsoft"))
    code = re.compile(r"enter the code (\w+)")
    assert code.findall(again) == code.findall(asked), "asking again gives the code already given"
    assert len([r for r in bound.login.requests if r.endswith("/devicecode")]) == 1
    bot.finish()
    assert tenant.all_license_writes() == 0
    refusals = [e for e in tenant.audit(LENA) if e.result is AuditResult.REFUSED]
    assert len(refusals) == 2
    assert all("sign in once with Microsoft" in e.reason for e in refusals)
    assert {e.slack_user for e in refusals} == {bot.people["lena"]}


def test_a_bound_admin_acts_as_their_entra_user_even_after_their_slack_email_changes(bound: Bound) -> None:
    bot, tenant = bound.bot, bound.tenant
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    bound.sign_in_with_code("lena", _lena())
    binding = bound.bindings.get(bot.people["lena"])
    assert binding is not None
    assert (binding.object_id, binding.user_principal_name) == (demo_user_id(LENA), LENA)
    assert any("You are signed in with Microsoft as lena@contoso.com" in text for text in _dms(bot, "lena"))
    signed_in = [e for e in tenant.audit(LENA) if e.action == "sign in with Microsoft"]
    assert len(signed_in) == 1
    assert signed_in[0].result is AuditResult.APPLIED

    # A Slack admin (or a provisioning service) sets her profile email to a user without any role.
    bot.slack.set_email(bot.people["lena"], CAROL)
    assert bot.command("lena", f"replace {bot.mention('bob')} E5") == 200
    bot.wait_reply("lena", 2, containing="Preview")
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", 2, containing="Licenses replaced")
    bot.finish()
    assert tenant.products_of("bob@contoso.com") == {"ENTERPRISEPREMIUM"}
    assert [e for e in tenant.audit(LENA) if e.result is AuditResult.APPLIED and "replace" in e.action]
    noticed = [e for e in tenant.audit(LENA) if e.action == "slack profile email changed"]
    assert len(noticed) == 1, "noticed once"
    assert CAROL in noticed[0].reason
    assert not tenant.audit(CAROL), "nothing was done as Carol"


def test_another_slack_account_with_the_admins_email_is_not_the_admin(bound: Bound) -> None:
    bot = bound.bot
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    bound.sign_in_with_code("lena", _lena())
    bot.people["twin"] = bot.slack.add_user("twin", email=LENA)
    bot.channel = bot.slack.add_channel("licensing-2", members=list(bot.people.values()))

    assert bot.command("twin", f"replace {bot.mention('bob')} E5") == 200

    assert "sign in once with Microsoft" in text_of(bot.wait_reply("twin"))
    bot.finish()
    assert bound.tenant.all_license_writes() == 0


def test_a_lost_role_unbinds_and_signout_forgets(bound: Bound) -> None:
    bot, tenant = bound.bot, bound.tenant
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    bound.sign_in_with_code("lena", _lena())

    assert bot.command("lena", "signout") == 200
    assert "Signed out: licensebot no longer acts for lena@contoso.com" in text_of(bot.wait_reply("lena", 2))
    assert bound.bindings.get(bot.people["lena"]) is None
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    bound.sign_in_with_code("lena", _lena(), count=3)
    assert bound.bindings.get(bot.people["lena"]) is not None

    with tenant.sessions.begin() as session:
        session.execute(
            delete(SimRoleAssignmentRow).where(SimRoleAssignmentRow.user_id == demo_user_id(LENA))
        )
    assert bot.command("lena", f"replace {bot.mention('bob')} E5") == 200

    refused = text_of(bot.wait_reply("lena", 4))
    assert "no longer holds an admin role" in refused
    bot.finish()
    assert bound.bindings.get(bot.people["lena"]) is None
    unbound = [e for e in tenant.audit(LENA) if e.action == "unbind"]
    assert len(unbound) == 1
    assert "no longer holds an admin role" in unbound[0].reason
    assert [e for e in tenant.audit(LENA) if e.action == "sign out"]
    assert tenant.all_license_writes() == 0


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def _request(method: str, url: str, form: str = "") -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    try:
        connection.request(method, f"{parts.path}?{parts.query}", body=form or None, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_in_the_browser_the_sign_in_uses_pkce_and_posts_back_to_the_callback(
    slack: LocalSlack, tenant: Tenant, login: FakeLogin
) -> None:
    web = make_server("127.0.0.1", 0, lambda e, s: [], server_class=_ThreadingServer, handler_class=_Quiet)
    public_url = f"http://127.0.0.1:{web.server_address[1]}"
    settings = _settings(login, public_url=public_url, sign_in_client_secret="browser-secret")
    services = Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)
    with _bound(slack, tenant, login, settings, services) as running:
        bot = running.bot
        web.set_app(
            create_wsgi_app(bot.app, lambda: True, sign_in=running.sign_in, signing_secret=SIGNING_SECRET)
        )
        thread = threading.Thread(target=web.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            assert bot.command("lena", f"show {bot.mention('bob')}") == 200
            asked = text_of(bot.wait_reply("lena", containing="sign in once with Microsoft"))
            link = re.search(r"Open (\S+) \(valid", asked)
            assert link is not None, asked
            auth_uri = link.group(1).replace("&amp;", "&")
            assert auth_uri.startswith(f"{PUBLIC}/{TENANT}/oauth2/v2.0/authorize?")
            assert "code_challenge_method=S256" in auth_uri

            assert "response_mode=form_post" in auth_uri

            login.next_browser_user = _lena()
            status, headers, form = _request("GET", auth_uri.replace(PUBLIC, login.url))
            assert status == 200
            callback = headers["X-Form-Action"]
            assert callback == f"{public_url}{SIGN_IN_CALLBACK_PATH}"
            answer = urlencode(dict(re.findall(r'name="(\w+)" value="([^"]*)"', form)))
            status, _, page = _request("POST", callback, answer)
            assert status == 200, page
            assert "You are signed in as lena@contoso.com" in page
            binding = running.bindings.get(bot.people["lena"])
            assert binding is not None
            assert binding.object_id == demo_user_id(LENA)

            status, _, page = _request("POST", callback, answer)
            assert status == 400, "a replayed answer binds nothing"
            assert "expired or was already used" in page

            assert bot.command("lena", f"show {bot.mention('bob')}") == 200
            assert "Office 365 E3" in text_of(bot.wait_reply("lena", 2))
        finally:
            web.shutdown()
            web.server_close()


def test_an_approval_by_the_same_entra_user_under_a_second_slack_account_is_refused(
    slack: LocalSlack, tmp_path: Path, login: FakeLogin
) -> None:
    approvals = slack.add_channel("license-approvals")
    wired = wire_workflows(slack, tmp_path / "licensebot.db", approvals=approvals, reminders=approvals)
    with _bound(slack, wired.tenant, login, _settings(login), wired.services) as running:
        bot = running.bot
        for name in ("bill", "bill-phone"):
            bot.people[name] = slack.add_user(name, email=BILL)
        bot.channel = slack.add_channel("subscriptions", members=list(bot.people.values()))
        slack.add_channel("x", members=list(bot.people.values()), channel_id=approvals)
        bill = Person(demo_user_id(BILL), BILL)
        assert bot.command("bill", "status", "/subscription") == 200
        running.sign_in_with_code("bill", bill)
        assert bot.command("bill-phone", "status", "/subscription") == 200
        running.sign_in_with_code("bill-phone", bill)

        assert bot.command("bill", "cancel E4", "/subscription") == 200
        checklist = bot.wait_posted("Cancel the Office 365 E4 subscription")
        slack.wait_for(
            lambda: "waiting for confirmation" in text_of(slack.message(checklist.channel, checklist.ts)),  # type: ignore[arg-type]
            description="the confirmation step",
        )
        assert bot.press_on("bill", checklist, "workflow.choice.confirm") == 200
        request: Message = slack.wait_for(
            lambda: next(iter(slack.messages(approvals)), None), description="the approval request"
        )

        assert bot.press_on("bill-phone", request, "approval.approve-loss") == 200

        phone = bot.people["bill-phone"]
        reply = slack.wait_for(
            lambda: next(iter(slack.ephemerals(phone, channel=approvals)), None), description="the refusal"
        )
        assert "their own request" in text_of(reply)
        bot.finish()
        with wired.tenant.sessions() as session:
            subscriptions = SimulatedDirectory(session, SystemClock()).subscriptions()
            e4 = next(s for s in subscriptions if s.id == demo_subscription_id("e4"))
        assert e4.status is SubscriptionStatus.ENABLED
    wired.tenant.engine.dispose()


def _dms(bot: SlackBot, who: str) -> list[str]:
    return [text_of(m) for m in bot.slack.messages(bot.slack.open_im(bot.people[who]))]


def test_a_declined_sign_in_binds_nothing_and_says_so(bound: Bound) -> None:
    bot = bound.bot
    assert bot.command("lena", f"show {bot.mention('bob')}") == 200
    asked = text_of(bot.wait_reply("lena", containing="sign in once with Microsoft"))
    code = re.search(r"enter the code (\w+)", asked)
    assert code is not None
    bound.login.decline(code.group(1))

    assert bound.sign_in.poll() == 0

    assert bound.bindings.get(bot.people["lena"]) is None
    (told,) = _dms(bot, "lena")
    assert "The Microsoft sign-in did not complete (authorization_declined" in told
    assert not [e for e in bound.tenant.audit(LENA) if e.action == "sign in with Microsoft"]
