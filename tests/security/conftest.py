"""The security suite: the real Bolt app over HTTP (see tests/slack/conftest.py), with every role of
the demo tenant in the channel, and ways to see whether a request had any effect at all."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.local_slack import LocalSlack
from handlers.context import Services
from storage.orm import AuditRow, SimLicenseEventRow
from tests.slack.conftest import FAST, SlackBot, Tenant, licenses_on, serve, slack, tenant  # noqa: F401 - the fixtures, shared with the Slack suite

EXTRA = ("bill", "uma")
"""Demo admins the Slack suite's channel does not have (Billing and User admin)."""
STRANGER = "stranger"
"""A Slack user whose email is not in the tenant."""
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "Error(", "Exception:")


@dataclass(frozen=True)
class Effects:
    """Everything a request could change: tenant writes, audit rows, calls the bot made to Slack."""

    writes: int
    audit: int
    slack_calls: int


def effects(bot: SlackBot, sim: Tenant) -> Effects:
    with sim.sessions() as session:
        writes = int(session.scalar(select(func.count()).select_from(SimLicenseEventRow)) or 0)
        audit = int(session.scalar(select(func.count()).select_from(AuditRow)) or 0)
    return Effects(writes, audit, len(bot.slack.calls()))


def sent_to_slack(bot: SlackBot, since: int = 0) -> str:
    """Every parameter of every call the bot made to LocalSlack since call number `since`, as JSON."""
    return json.dumps([call.params for call in bot.slack.calls()[since:]], ensure_ascii=False)


def assert_no_traceback(text: str) -> None:
    for mark in TRACEBACK_MARKS:
        assert mark not in text, f"{mark!r} reached Slack"


@pytest.fixture
def sbot(slack: LocalSlack, tenant: Tenant) -> Iterator[SlackBot]:  # noqa: F811 - the fixtures
    """The app, with grace, bill, lena, uma, dave and a stranger in one channel."""
    with serve(slack, Services(licenses=licenses_on(tenant.uow, tenant.directory), timing=FAST)) as running:
        people = dict(running.people)
        for name in EXTRA:
            people[name] = slack.add_user(name, email=f"{name}@contoso.com")
        people[STRANGER] = slack.add_user(STRANGER, email="stranger@elsewhere.example")
        channel = slack.add_channel("security", members=list(people.values()))
        yield dataclasses.replace(running, channel=channel, people=people)
