"""No secret — Slack bot token, signing secret, Graph client secret or token — appears in logs, in
anything sent to Slack, or in the audit, even at DEBUG and even when an exception carries one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.local_slack import LocalSlack
from bot.logs import configure_logging
from handlers.context import Services
from handlers.ids import CONFIRM_CHANGE
from storage.orm import AuditRow
from tests.slack.conftest import SIGNING_SECRET, SlackBot, Tenant, Unreachable, licenses_on, serve, text_of

GRAPH_SECRET = "graph-client-secret-Q7v~x9"
GRAPH_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-graph-token-payload.signature"


@pytest.fixture
def log_output(slack: LocalSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging as `licensebot` configures it, at DEBUG, told the secrets, into a buffer."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("DEBUG", "json", [slack.bot_token, SIGNING_SECRET, GRAPH_SECRET, GRAPH_TOKEN])
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _leaky() -> Unreachable:
    return Unreachable(
        RuntimeError(f"Graph said no to client_secret={GRAPH_SECRET} and Bearer {GRAPH_TOKEN}")
    )


def _secrets(slack: LocalSlack) -> list[str]:
    return [slack.bot_token, SIGNING_SECRET, GRAPH_SECRET, GRAPH_TOKEN, "secret-graph-token-payload"]


def _assert_clean(where: str, text: str, slack: LocalSlack) -> None:
    for secret in _secrets(slack):
        assert secret not in text, f"a secret appeared in {where}"


def test_flows_at_debug_leak_no_secret(
    sbot: SlackBot, tenant: Tenant, slack: LocalSlack, log_output: io.StringIO
) -> None:
    bot = sbot
    assert bot.command("lena", f"replace {bot.mention('alice')} E5") == 200
    bot.wait_reply("lena", containing="Preview: replace licenses")
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    assert "Licenses replaced" in text_of(bot.wait_reply("lena", containing="Licenses replaced"))
    assert bot.command("dave", f"remove {bot.mention('bob')} E3") == 200
    bot.wait_reply("dave", containing="may not")
    bot.finish()

    logged = log_output.getvalue()
    assert len(logged.splitlines()) >= 3, "the flows were logged at DEBUG"
    _assert_clean("the log", logged, slack)
    _assert_clean("what was sent to Slack", json.dumps([c.params for c in slack.calls()]), slack)
    with tenant.sessions() as session:
        rows = session.scalars(select(AuditRow))
        fields = [[r.actor, r.action, r.target, r.reason, r.before, r.after] for r in rows]
        audit = json.dumps(fields, default=str)
    assert "alice@contoso.com" in audit, "the audit was read"
    _assert_clean("the audit", audit, slack)


def test_an_exception_that_carries_secrets_is_logged_redacted_and_never_shown(
    slack: LocalSlack, log_output: io.StringIO
) -> None:
    with serve(slack, Services(licenses=licenses_on(_leaky(), _leaky()))) as bot:
        assert bot.command("lena", f"show {bot.mention('alice')}") == 200
        reply = bot.wait_reply("lena")
        bot.finish()

    assert "Something went wrong on our side" in text_of(reply)
    logged = log_output.getvalue()
    assert "Graph said no to client_secret=[redacted]" in logged, "the traceback was logged, redacted"
    _assert_clean("the log", logged, slack)
    _assert_clean("what was sent to Slack", json.dumps([c.params for c in slack.calls()]), slack)
