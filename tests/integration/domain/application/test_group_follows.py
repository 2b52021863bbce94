"""Following a group's license processing survives a restart (R21), on SQLite and PostgreSQL.

Each "process" is the production container (`bot.bootstrap`) over the same database and the same
local Slack: the follow is recorded in the database when the change is confirmed, and whichever
process's scheduler ticks next reads the group (at most once per poll interval, whoever ticks) and
updates the change's message in place. The demo tenant's clock is the test's: Microsoft 365's
processing of a group's change (five seconds in the demo) completes when the test moves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient

from bot.bootstrap import Container, bootstrap
from bot.local_slack import LocalSlack
from bot.local_slack.render import render_blocks
from bot.scheduler import WorkflowScheduler
from bot.settings import Settings
from domain.changes import ChangeKind, ChangeSet
from domain.commands import ChangeGroupLicense, ConfirmChange
from domain.group_follow import FollowState
from domain.model import ProcessingState
from storage.simulated import SimulatedDirectory
from storage.simulated.seed import DEMO_GROUP_PROCESSING, demo_group_id
from tests.fakes import FixedClock

ALL_STAFF = demo_group_id("allstaffe3")
LENA = "lena@contoso.com"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        yield local


def process(db_url: str, slack: LocalSlack, clock: FixedClock) -> Container:
    """A licensebot process on this database, talking to this Slack."""
    settings = Settings(
        database_url=db_url, slack_bot_token=SecretStr(slack.bot_token), slack_api_url=slack.api_url
    )
    return bootstrap(settings, clock=clock)


def scheduler_of(container: Container) -> WorkflowScheduler:
    return WorkflowScheduler(
        container.subscriptions.ticks,
        container.notifier,
        interval_seconds=container.settings.poll_interval_seconds,
        follows=container.group_follows,
    )


def text(slack: LocalSlack, channel: str, ts: str) -> str:
    found = slack.message(channel, ts)
    assert found is not None
    return render_blocks(found.blocks, found.text).text.replace("*", "").replace("`", "")


def shown_once(slack: LocalSlack, channel: str, ts: str, words: str) -> str:
    """The message `ts` once it says `words` (an update may be paced by a second)."""

    def says() -> str:
        shown = text(slack, channel, ts)
        return shown if words in shown else ""

    return slack.wait_for(says, description=f"the message says {words!r}")


def confirmed_group_change(container: Container, slack: LocalSlack, channel: str) -> tuple[ChangeSet, str]:
    """`/license replace group:"All Staff E3" E5`, confirmed, its message in the channel."""
    licenses = container.services.licenses
    preview = licenses.groups.plan_group_change(
        ChangeGroupLicense(ChangeKind.REPLACE, LENA, "All Staff E3", "E5", channel=channel)
    )
    posted = WebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel=channel, text="Preview: replace a group's license"
    )
    ts = str(posted["ts"])
    done = licenses.changes.confirm(ConfirmChange(preview.id, LENA, channel=channel, message_ts=ts))
    assert container.group_follows is not None
    follow = container.group_follows.start(done, channel, ts)
    assert follow is not None
    return done, ts


def stall(container: Container, clock: FixedClock) -> None:
    with container.sessions.begin() as session:
        SimulatedDirectory(session, clock).groups.stall(ALL_STAFF)


def state_of(container: Container, change_set_id: str) -> FollowState:
    with container.uow() as uow:
        follow = uow.group_follows.get(change_set_id)
    assert follow is not None
    return follow.state


def test_a_restart_in_the_middle_of_processing_finishes_the_follow_and_updates_the_message(
    db_url: str, slack: LocalSlack
) -> None:
    clock = FixedClock()
    channel = slack.add_channel("licensing")
    first = process(db_url, slack, clock)
    try:
        done, ts = confirmed_group_change(first, slack, channel)
        slack.wait_for(
            lambda: "Microsoft 365 is processing the members" in text(slack, channel, ts),
            description="the message says it is processing, in place",
        )
        assert scheduler_of(first).run_once() is not None
        assert "has processed" not in text(slack, channel, ts), "never complete before Microsoft 365"
    finally:
        first.engine.dispose()  # the process dies: nothing of it runs any more

    clock.advance(DEMO_GROUP_PROCESSING + timedelta(seconds=first.settings.poll_interval_seconds))
    second = process(db_url, slack, clock)
    try:
        scheduler_of(second).run_once()
        slack.wait_for(
            lambda: "Microsoft 365 has processed every member" in text(slack, channel, ts),
            description="the new process finished the follow, in place",
        )
        assert state_of(second, done.id) is FollowState.COMPLETE
        [group] = second.directory.find_groups(ALL_STAFF)
        assert group.processing is ProcessingState.COMPLETE
        assert second.group_follows is not None
        assert second.group_follows.tick().polled == [], "a follow that is over is not read again"
    finally:
        second.engine.dispose()


def test_a_stalled_processing_is_said_to_be_slow_then_no_longer_followed(
    db_url: str, slack: LocalSlack
) -> None:
    clock = FixedClock()
    channel = slack.add_channel("licensing")
    container = process(db_url, slack, clock)
    try:
        done, ts = confirmed_group_change(container, slack, channel)
        stall(container, clock)
        follows = container.group_follows
        assert follows is not None
        clock.advance(timedelta(minutes=30))
        assert follows.tick().polled == [ALL_STAFF]
        assert "taking a long while" not in text(slack, channel, ts)

        clock.advance(timedelta(minutes=31))  # over an hour
        follows.tick()
        slow = shown_once(slack, channel, ts, "taking a long while")
        assert "Microsoft Entra admin center" in slow
        assert "has processed" not in slow
        assert state_of(container, done.id) is FollowState.FOLLOWING

        clock.advance(timedelta(days=1))
        report = follows.tick()
        assert report.ended == [done.id]
        ended = shown_once(slack, channel, ts, "stops following it")
        assert 'license show group:"All Staff E3"' in ended
        assert "has processed" not in ended
        assert state_of(container, done.id) is FollowState.ENDED
        clock.advance(timedelta(hours=1))
        assert follows.tick().polled == []
        [group] = container.directory.find_groups(ALL_STAFF)
        assert group.processing is ProcessingState.IN_PROGRESS
    finally:
        container.engine.dispose()


def test_two_replicas_read_a_group_at_most_once_per_poll_interval(db_url: str, slack: LocalSlack) -> None:
    clock = FixedClock()
    channel = slack.add_channel("licensing")
    one, two = process(db_url, slack, clock), process(db_url, slack, clock)
    try:
        confirmed_group_change(one, slack, channel)
        stall(one, clock)  # still processing at every read
        assert one.group_follows is not None
        assert two.group_follows is not None
        interval = timedelta(seconds=one.settings.poll_interval_seconds)
        clock.advance(interval)
        assert one.group_follows.tick().polled == [ALL_STAFF]
        assert two.group_follows.tick().polled == [], "the other replica read it in this interval"
        assert one.group_follows.tick().polled == [], "and so did this one"
        clock.advance(interval / 2)
        assert two.group_follows.tick().polled == []
        clock.advance(interval / 2)
        assert two.group_follows.tick().polled == [ALL_STAFF]
        assert one.group_follows.tick().polled == []
    finally:
        one.engine.dispose()
        two.engine.dispose()
