"""Error handling as a feature: unexpected failures say only "something went wrong" and a reference;
the traceback goes to the log under that reference; every command leaves one log line."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.local_slack import LocalSlack
from domain.errors import NotEnoughSeats
from handlers.context import Services
from handlers.error_handler import handle_error
from tests.slack.conftest import SlackBot, Unreachable, licenses_on, serve, text_of

SECRET_DETAIL = "password=hunter2 at db.internal"


@pytest.fixture
def broken_bot(slack: LocalSlack) -> Iterator[SlackBot]:
    broken = Unreachable(RuntimeError(f"cannot connect: {SECRET_DETAIL}"))
    with serve(slack, Services(licenses=licenses_on(broken, broken))) as running:
        yield running


def test_an_exception_in_a_service_becomes_a_reference_and_a_logged_traceback(
    broken_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert broken_bot.command("lena", f"show {broken_bot.mention('alice')}") == 200
    reply = broken_bot.wait_reply("lena")
    shown = text_of(reply)
    assert "Something went wrong on our side; nothing was changed." in shown
    reference = re.search(r"Reference: ([0-9a-f]{16})", shown)
    assert reference is not None

    posted = json.dumps([call.params for call in broken_bot.slack.calls()])
    for leak in ("hunter2", "Traceback", "RuntimeError", "cannot connect", ".py"):
        assert leak not in posted

    broken_bot.finish()
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(logged) == 1
    assert getattr(logged[0], "correlation_id", "") == reference.group(1)
    assert "hunter2" in logging.Formatter().formatException(logged[0].exc_info)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "text"),
    [("/license", "frobnicate"), ("/license", "assign E5"), ("/subscription", "lst"), ("/license", "help")],
)
def test_usage_errors_are_acknowledged_at_once(bot: SlackBot, command: str, text: str) -> None:
    """A listener that fails right after its ack still answers Slack 200 at once (not 404 after 3 s)."""
    started = time.monotonic()
    assert bot.command("lena", text, command) == 200
    assert time.monotonic() - started < 1.0
    bot.wait_reply("lena")


def test_a_failing_slack_call_is_an_unexpected_error_too(bot: SlackBot) -> None:
    bot.slack.fail_next("users.info", "fatal_error")
    assert bot.command("lena", "show alice@contoso.com") == 200
    assert "Reference:" in text_of(bot.wait_reply("lena"))
    assert "fatal_error" not in json.dumps([m.blocks for m in bot.replies("lena")])


def test_one_log_line_per_command_with_team_user_command_and_correlation_id(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert bot.command("lena", f"replace {bot.mention('alice')} E5") == 200
    bot.wait_reply("lena", containing="Preview")
    bot.finish()
    lines = [r for r in caplog.records if r.name == "handlers.requests" and getattr(r, "command", None)]
    assert len(lines) == 1
    line = lines[0]
    assert line.command == "/license replace"  # type: ignore[attr-defined]
    assert line.team == bot.slack.team_id  # type: ignore[attr-defined]
    assert line.user == bot.people["lena"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{16}", line.correlation_id)  # type: ignore[attr-defined]
    for record in caplog.records:
        assert bot.slack.bot_token not in record.getMessage()
        assert bot.slack.bot_token not in json.dumps(record.__dict__, default=str)


def test_without_a_response_url_the_error_goes_ephemerally_to_the_channel(slack: LocalSlack) -> None:
    person = slack.add_user("lena", email="lena@contoso.com")
    channel = slack.add_channel("licensing", members=[person])
    context = BoltContext(user_id=person, channel_id=channel, correlation_id="feedfacecafebeef")
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)

    handle_error(
        NotEnoughSeats("E5", 10, 7, name="Office 365 E5"), {"type": "view_submission"}, context, client
    )

    (reply,) = slack.ephemerals(person, channel=channel)
    assert "Not enough Office 365 E5 licenses: need 10, 7 free." in text_of(reply)
    assert "Rule R2" not in text_of(reply)
