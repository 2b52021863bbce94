"""Mention and link injection through command arguments (issue #8): whatever an admin types — a
`<!channel>`, a user or group mention, a link with a label — comes back as text, never as a live
mention or link, in every reply that echoes it. (Display names: `tests/slack/test_safety.py`.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.audit import AuditResult
from storage.orm import AuditRow
from tests.security.conftest import effects, sent_to_slack
from tests.slack.conftest import SlackBot, Tenant

LIVE = ("<!channel>", "<!here", "<!everyone>", "<@U0BOSS>", "<!subteam^S0BOSS", "<https://evil.example")
"""What Slack would turn into a notification or a link if the bot sent it as it is."""

INJECTED = (
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<@U0BOSS>",
    "<!subteam^S0BOSS|@admins>",
    "<https://evil.example/phish|Microsoft 365 sign-in>",
)

COMMANDS = (
    ("/license", "assign {x} E5"),
    ("/license", "show {x}"),
    ("/license", "replace alice@contoso.com {x}"),
    ("/license", "remove {x} E3"),
    ("/license", "services alice@contoso.com {x}"),
    ("/license", "{x}"),
    ("/subscription", "buy {x} 5"),
    ("/subscription", "seats E5 {x}"),
    ("/subscription", "switch E3 {x}"),
    ("/subscription", "switch E3 E5 {x}"),
    ("/subscription", "cancel {x}"),
    ("/subscription", "status {x}"),
)


@pytest.mark.parametrize("injected", INJECTED)
def test_an_injected_argument_is_echoed_as_text_and_changes_nothing(
    sbot: SlackBot, tenant: Tenant, injected: str
) -> None:
    before = effects(sbot, tenant)
    not_refused = _not_refusals(tenant)
    since = len(sbot.slack.calls())
    for command, text in COMMANDS:
        replies = len(sbot.replies("lena"))
        assert sbot.command("lena", text.format(x=injected), command) == 200
        sbot.wait_reply("lena", replies + 1)  # every command answers (else this would prove nothing)
    sbot.finish()

    sent = sent_to_slack(sbot, since)
    for live in LIVE:
        assert live not in sent, f"{live!r} reached Slack live"
    assert effects(sbot, tenant).writes == before.writes
    assert _not_refusals(tenant) == not_refused, "only refusals may be audited (R20)"


def _not_refusals(tenant: Tenant) -> int:
    with tenant.sessions() as session:
        query = select(func.count()).select_from(AuditRow).where(AuditRow.result != AuditResult.REFUSED.value)
        return int(session.scalar(query) or 0)
