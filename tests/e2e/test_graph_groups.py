"""Group-based licensing through Microsoft Graph, against graph-sim over HTTP (R21): a group replace
and a group assign, previewed, confirmed, their processing followed in place by the scheduler until
Microsoft 365 is done, and the members left in error listed with their fix.

The bot is the production container (`bot.bootstrap`, TENANT_BACKEND=graph) talking to the local
Slack; graph-sim serves the demo tenant from its own database. Both share the test's clock, so
Microsoft 365's processing of a group's change (five seconds in the demo) ends when the test says.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container, bootstrap
from bot.local_slack import LocalSlack
from bot.local_slack.render import render_blocks
from bot.scheduler import WorkflowScheduler
from bot.settings import Settings, TenantBackend
from domain.changes import ChangeKind, ChangeSet
from domain.commands import ChangeGroupLicense, ConfirmChange
from domain.group_licensing import GroupPreview
from domain.model import ProcessingState
from storage.database import create_engine, session_factory
from storage.graph_sim import DatabaseTenant, GraphSimulator
from storage.simulated import SimulatedDirectory, demo_user_id
from storage.simulated.seed import DEMO_GROUP_PROCESSING
from tests.fakes import FixedClock

TOKEN = "test-token-for-graph-groups"
LENA = "lena@contoso.com"
E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def tenant_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'tenant.db'}")
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def graph(tenant_sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[GraphSimulator]:
    engine = tenant_sessions.kw["bind"]
    with GraphSimulator(DatabaseTenant(engine=engine, clock=clock), tokens={TOKEN: "licensebot-test"}) as sim:
        yield sim


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        yield local


@pytest.fixture
def bot(tmp_path: Path, slack: LocalSlack, graph: GraphSimulator, clock: FixedClock) -> Iterator[Container]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        tenant_backend=TenantBackend.GRAPH,
        graph_api_url=graph.url,
        graph_access_token=TOKEN,
        slack_bot_token=SecretStr(slack.bot_token),
        slack_api_url=slack.api_url,
    )
    container = bootstrap(settings, clock=clock)
    try:
        yield container
    finally:
        container.engine.dispose()


def tick(container: Container) -> None:
    """One scheduler tick, as `licensebot serve` runs them."""
    scheduler = WorkflowScheduler(
        container.subscriptions.ticks,
        container.notifier,
        interval_seconds=container.settings.poll_interval_seconds,
        follows=container.group_follows,
    )
    assert scheduler.run_once() is not None


def text(slack: LocalSlack, channel: str, ts: str) -> str:
    found = slack.message(channel, ts)
    assert found is not None
    return render_blocks(found.blocks, found.text).text.replace("*", "").replace("`", "")


def says(slack: LocalSlack, channel: str, ts: str, words: str) -> str:
    """The message `ts` once it says `words` (an update may be paced by a second)."""

    def shown() -> str:
        now = text(slack, channel, ts)
        return now if words in now else ""

    return slack.wait_for(shown, description=f"the message says {words!r}")


def confirmed(
    container: Container, slack: LocalSlack, channel: str, change: tuple[ChangeKind, str, str]
) -> tuple[GroupPreview, ChangeSet, str]:
    """A group change (kind, group, product) previewed, its message posted, confirmed, and followed
    from then on."""
    kind, group, product = change
    licenses = container.services.licenses
    preview = licenses.groups.plan_group_change(
        ChangeGroupLicense(kind, LENA, group, product, channel=channel)
    )
    posted = WebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel=channel, text="Preview: a group's license"
    )
    ts = str(posted["ts"])
    done = licenses.changes.confirm(ConfirmChange(preview.id, LENA, channel=channel, message_ts=ts))
    assert container.group_follows is not None
    assert container.group_follows.start(done, channel, ts) is not None
    return GroupPreview.from_json(preview.details or {}), done, ts


def group_writes(graph: GraphSimulator) -> int:
    return sum(graph.stats().writes_applied.values())


def test_a_group_replace_through_graph_is_followed_in_place_until_processed(
    bot: Container, slack: LocalSlack, graph: GraphSimulator, clock: FixedClock
) -> None:
    channel = slack.add_channel("licensing")

    preview, done, ts = confirmed(bot, slack, channel, (ChangeKind.REPLACE, "All Staff E3", "E5"))

    assert done.items[0].status.value == "applied"
    assert group_writes(graph) == 1, "one assignLicense on the group: add and remove together"
    says(slack, channel, ts, "Microsoft 365 is processing the members")
    tick(bot)
    assert "has processed" not in text(slack, channel, ts), "never complete before Microsoft 365"
    [group] = bot.directory.find_groups("All Staff E3")
    assert group.processing is ProcessingState.IN_PROGRESS

    clock.advance(DEMO_GROUP_PROCESSING + timedelta(seconds=bot.settings.poll_interval_seconds))
    tick(bot)

    shown = says(slack, channel, ts, "Microsoft 365 has processed every member")
    assert "Members in error" not in shown
    ivan = bot.directory.user("ivan@contoso.com")
    assert ivan is not None
    assert {lic.sku_id for lic in ivan.licenses} == {E5}, "Ivan's license came from the group: now E5"
    assert preview.gains or preview.loses, "the preview named who gains and who loses"
    assert group_writes(graph) == 1, "following the processing only reads"


def test_a_group_assign_through_graph_lists_the_members_left_in_error_with_their_fix(
    bot: Container,
    slack: LocalSlack,
    graph: GraphSimulator,
    clock: FixedClock,
    tenant_sessions: sessionmaker[Session],
) -> None:
    # Ten people without Office 365 E5 in a new group; the demo tenant has 7 E5 seats free.
    candidates = [bot.directory.user(f"{name}@contoso.com") for name in NAMES]
    members = [u for u in candidates if u is not None and u.usage_location and not u.holds(E5)][:10]
    assert len(members) == 10
    with tenant_sessions.begin() as session:
        SimulatedDirectory(session, clock).groups.add(
            "Project Falcon",
            members=[demo_user_id(u.user_principal_name) for u in members],
            processing_delay=DEMO_GROUP_PROCESSING,
        )
    channel = slack.add_channel("licensing")

    preview, done, ts = confirmed(bot, slack, channel, (ChangeKind.ASSIGN, "Project Falcon", "E5"))

    predicted = {member for member, _product, _problem, _fix in preview.errors}
    assert len(predicted) == 3, "7 seats for 10 people: the preview warns about 3 of them"
    assert done.items[0].status.value == "applied", "a warning, not a refusal: Microsoft applies the rest"
    says(slack, channel, ts, "Microsoft 365 is processing the members")

    clock.advance(DEMO_GROUP_PROCESSING + timedelta(seconds=bot.settings.poll_interval_seconds))
    tick(bot)

    shown = says(slack, channel, ts, "Microsoft 365 has processed the members: 3 members left in an error")
    assert "Members in error" in shown
    assert shown.count("not enough Office 365 E5 seats for them") == 3
    assert "Buy seats" in shown, "each with its fix"
    assert "CountViolation" not in shown, "in the admin's words"
    [group] = bot.directory.find_groups("Project Falcon")
    in_error = {u.display_name for u in bot.directory.members_with_license_errors(group.id)}
    assert in_error == predicted, "the preview predicted who Microsoft 365 left in error"


NAMES = ("alice", "bob", "dave", "erin", "frank", "heidi", "ivan", "judy", "uma", "yara", "zoe")
"""People of the demo tenant with a usage location and nothing that conflicts with Office 365 E5."""
