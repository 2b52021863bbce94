"""Issue #8 B: the bot's database (PostgreSQL) stops for a while, then starts again.

The real Bolt app over HTTP (as in `tests/slack`) runs on a PostgreSQL server of this test's own
(`private_postgres`: the shared server at 127.0.0.1:5432 is never touched), holding the bot's state
and the simulated tenant. With the server stopped (`pg_ctl stop -m immediate`, as a crash), a slash
command and a button click are still acknowledged at once and answered with a message that says
nothing was changed and to try again, with no traceback or driver text reaching Slack; nothing is
left half-done. Started again, the same commands work without restarting the bot (the pool's
pre-ping replaces the dead connections). The message should also say what is wrong (the bot's
database cannot be reached): the second test holds that, expected to fail until the product does.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.bootstrap import Container, bootstrap
from bot.local_slack import LocalSlack, Message, signed_headers
from bot.settings import Settings
from domain.changes import ChangeState
from handlers.ids import CONFIRM_CHANGE
from storage.orm import ChangeSetRow, SimLicenseEventRow
from storage.simulated import demo_user_id
from tests.chaos.conftest import PrivatePostgres
from tests.slack.conftest import SIGNING_SECRET, SlackBot, serve, text_of

pytestmark = [pytest.mark.chaos]

log = logging.getLogger(__name__)

ALICE = "alice@contoso.com"
ACK_LIMIT = 3.0
"""Slack's limit for the acknowledgement."""
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlalchemy", "SQLAlchemy", ".py", "Connection refused")
"""What must never reach Slack: exception names, driver and library text, file names."""


@pytest.fixture
def container(private_postgres: PrivatePostgres) -> Iterator[Container]:
    """The production container on the private server: migrated, the demo tenant seeded."""
    built = bootstrap(Settings(database_url=private_postgres.url))
    yield built
    built.engine.dispose()


@pytest.fixture
def bot(container: Container) -> Iterator[SlackBot]:
    with LocalSlack() as slack, serve(slack, container.services) as running:
        yield running


def products_of(container: Container, email: str) -> set[str]:
    user = container.directory.user(email)
    assert user is not None
    parts = {p.sku_id: p.part_number for p in container.directory.products()}
    return {parts[lic.sku_id] for lic in user.licenses}


def license_writes(container: Container, email: str) -> int:
    with container.sessions() as session:
        query = select(func.count()).where(SimLicenseEventRow.user_id == demo_user_id(email))
        return int(session.scalar(query.select_from(SimLicenseEventRow)) or 0)


def change_set_states(container: Container) -> dict[str, str]:
    with container.sessions() as session:
        return {row.id: row.state for row in session.scalars(select(ChangeSetRow))}


def timed(send: Callable[[], int]) -> tuple[int, float]:
    """The HTTP status of a request to the app, and how long its answer took."""
    started = time.monotonic()
    status = send()
    return status, time.monotonic() - started


@dataclass
class Outage:
    """What the person saw while the database was down, and how long it was down."""

    statuses: list[int]
    acks: list[float]
    shown: list[str]
    posted: str
    """Every Slack Web API call's parameters, as JSON."""
    seconds: float


def go_through_an_outage(private_postgres: PrivatePostgres, container: Container, bot: SlackBot) -> Outage:
    """A preview waiting for Confirm; the server stops; `/license replace`, `/license show` and the
    preview's Confirm are sent; the server starts again. Checks that nothing was half-done and that
    the same bot serves the same commands again, without a restart."""
    alice = bot.mention("alice")

    # Before: the bot works, and lena has a preview waiting for her Confirm.
    assert bot.command("lena", f"show {alice}") == 200
    assert "Office 365 E3" in text_of(bot.wait_reply("lena", 1, containing="Alice Wu"))
    assert bot.command("lena", f"replace {alice} E5") == 200
    preview = bot.wait_reply("lena", 2, containing="Preview: replace licenses")
    confirm_later = bot.press_body("lena", CONFIRM_CHANGE)
    (previewed,) = change_set_states(container).items()
    assert previewed[1] == ChangeState.PREVIEWED.value

    # The database goes away, as in a crash.
    private_postgres.stop("immediate")
    outage_started = time.monotonic()

    replace_status, replace_ack = timed(lambda: bot.command("lena", f"replace {alice} E5"))
    first = bot.wait_reply("lena", 3)
    show_status, show_ack = timed(lambda: bot.command("lena", f"show {alice}"))
    second = bot.wait_reply("lena", 4)
    click_status, click_ack = timed(
        lambda: bot.post(confirm_later, signed_headers(confirm_later, SIGNING_SECRET))
    )

    def answered_click() -> Message | None:
        # On a preview only lena sees, the answer takes the preview's place (its Confirm did nothing).
        now = next((m for m in bot.replies("lena") if m.ts == preview.ts), None)
        return now if now is not None and now != preview else None

    clicked = bot.slack.wait_for(answered_click, description="the answer to Confirm with the database down")
    outage = Outage(
        statuses=[replace_status, show_status, click_status],
        acks=[replace_ack, show_ack, click_ack],
        shown=[text_of(first), text_of(second), text_of(clicked)],
        posted=json.dumps([call.params for call in bot.slack.calls()]),
        seconds=0.0,
    )

    # The database comes back; the same bot, not restarted.
    private_postgres.start()
    outage.seconds = time.monotonic() - outage_started

    # Nothing half-done: alice unchanged, no write, the preview still only a preview, nothing applying.
    assert products_of(container, ALICE) == {"ENTERPRISEPACK"}
    assert license_writes(container, ALICE) == 0
    assert change_set_states(container) == {previewed[0]: ChangeState.PREVIEWED.value}

    # The same commands work again.
    count = len(bot.replies("lena"))
    assert bot.command("lena", f"show {alice}") == 200
    assert "Office 365 E3" in text_of(bot.wait_reply("lena", count + 1, containing="Alice Wu"))
    assert bot.command("lena", f"replace {alice} E5") == 200
    bot.wait_reply("lena", count + 2, containing="Preview: replace licenses")
    assert bot.press("lena", CONFIRM_CHANGE) == 200
    bot.wait_reply("lena", count + 2, containing="Licenses replaced")
    assert products_of(container, ALICE) == {"ENTERPRISEPREMIUM"}
    assert license_writes(container, ALICE) == 1

    log.warning(
        "chaos B: outage %.2f s; statuses %s; acks %s s; shown: %s",
        outage.seconds,
        outage.statuses,
        [round(ack, 3) for ack in outage.acks],
        outage.shown,
    )
    return outage


def test_with_the_database_down_nothing_is_half_done_and_work_resumes_without_a_restart(
    private_postgres: PrivatePostgres, container: Container, bot: SlackBot
) -> None:
    outage = go_through_an_outage(private_postgres, container, bot)

    assert outage.statuses == [200, 200, 200], "every request is acknowledged"
    assert max(outage.acks) < ACK_LIMIT
    for shown in outage.shown:
        assert "nothing was changed" in shown.lower(), shown
        assert "try again" in shown.lower(), shown
    for leak in LEAKS:
        assert leak not in outage.posted, f"{leak!r} reached Slack"


def test_with_the_database_down_the_person_is_told_the_database_cannot_be_reached(
    private_postgres: PrivatePostgres, container: Container, bot: SlackBot
) -> None:
    outage = go_through_an_outage(private_postgres, container, bot)

    for shown in outage.shown:
        assert "database" in shown.lower(), f"the reply does not name the database: {shown!r}"
        assert "something went wrong" not in shown.lower(), shown
