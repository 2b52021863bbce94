"""`licensebot serve` in Socket Mode (SLACK_APP_TOKEN set): the process opens a WebSocket to the local
Slack through `apps.connections.open`, acks envelopes within Slack's 3 s and answers through the Web
API, applies a confirmed change once however often it is delivered, reconnects when Slack asks it
to, and on SIGTERM exits 0 and gives the SQLite scheduler lease back.

One server serves the conversation tests (they share its tenant but not an order: each reads the
state it starts from); the SIGTERM test runs its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.local_slack import LocalSlack, Message, render_blocks
from bot.scheduler import SQLITE_SCHEDULER_LEASE
from handlers.ids import CONFIRM_CHANGE
from storage.database import create_engine
from storage.orm import SimLicenseEventRow, WorkLeaseRow
from storage.simulated import demo_user_id
from storage.simulated.seed import show_user_json

ALICE = "alice@contoso.com"
ACK_WITHIN = 3.0
"""Slack's limit: an envelope not acked by then is an error for the person (or a redelivery)."""

T = TypeVar("T")


class Output:
    """The server's log, read on a thread (its pipe never fills) and waited for without sleeping."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), name="serve-output", daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, fragment: str, timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: any(fragment in line for line in self._lines), timeout):
                pytest.fail(f"no {fragment!r} in the server's log within {timeout:g} s:\n{self.text()}")


@dataclass
class Server:
    process: subprocess.Popen[str]
    output: Output
    database: Path

    def read(self, query: Callable[[Session], T]) -> T:
        """`query(session)` on the server's SQLite database, beside the running server."""
        engine = create_engine(f"sqlite:///{self.database}")
        try:
            with Session(engine) as session:
                return query(session)
        finally:
            engine.dispose()


@dataclass
class Chat:
    """Lena in #licensing, talking to the bot over the socket."""

    slack: LocalSlack
    server: Server
    lena: str
    alice: str
    channel: str

    def command(self, text: str) -> float:
        """Send `/license text`; returns how long the ack took (its payload must be empty)."""
        payload = self.slack.slash_command_payload(
            "/license", text, user_id=self.lena, channel_id=self.channel
        )
        ack = self.slack.wait_ack(self.slack.socket_send("slash_commands", payload))
        assert ack.payload is None
        return ack.seconds

    def replies(self, containing: str) -> list[Message]:
        return [m for m in self.slack.ephemerals(self.lena) if containing in text_of(m)]

    def wait_reply(self, containing: str, count: int = 1) -> Message:
        """The `count`-th reply to Lena holding `containing`, once it exists."""

        def found() -> Message | None:
            hits = self.replies(containing)
            return hits[count - 1] if len(hits) >= count else None

        return self.slack.wait_for(
            found, timeout=15, description=f"reply {count} to lena with {containing!r}"
        )


def text_of(message: Message) -> str:
    return render_blocks(message.blocks, message.text).text.replace("*", "").replace("`", "")


@contextmanager
def serve(slack: LocalSlack, database: Path) -> Iterator[Server]:
    """`licensebot serve` in Socket Mode, once it connected; SIGTERM on exit if still running."""
    connects = slack.socket_connects()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_SIGNING_SECRET": "socket-mode-signing-secret",
        "SLACK_API_URL": slack.api_url,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "text",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("licensebot")), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    server = Server(process, Output(process.stdout), database)
    try:
        # No /readyz in Socket Mode: ready is connected. An early exit is noticed at the next call
        # the process makes, or at the deadline.
        slack.wait_for(
            lambda: slack.socket_connects() > connects or process.poll() is not None,
            timeout=60,
            description="licensebot serve connecting over Socket Mode",
        )
        if process.poll() is not None:
            pytest.fail(f"serve exited early with {process.returncode}:\n{server.output.text()}")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        yield workspace


@pytest.fixture(scope="module")
def chat(slack: LocalSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chat]:
    lena = slack.add_user("lena", real_name="Lena Fischer", email="lena@contoso.com")
    alice = slack.add_user("alice", real_name="Alice Wu", email=ALICE)
    channel = slack.add_channel("licensing", members=[lena])
    with serve(slack, tmp_path_factory.mktemp("socket-mode") / "serve.db") as server:
        yield Chat(slack, server, lena, alice, channel)


def licenses_of(server: Server, email: str) -> list[dict[str, Any]]:
    """The licenses `email` holds, as `licensebot tenant show` reports them."""

    def query(session: Session) -> list[dict[str, Any]]:
        user = show_user_json(session, email)
        assert user is not None
        return list(user["assignedLicenses"])

    return server.read(query)


def products_of(server: Server, email: str) -> set[str]:
    return {lic["skuPartNumber"] for lic in licenses_of(server, email)}


def license_writes(server: Server, email: str) -> int:
    """How many times the simulated tenant changed the licenses of `email`."""
    query = (
        select(func.count())
        .select_from(SimLicenseEventRow)
        .where(SimLicenseEventRow.user_id == demo_user_id(email))
    )
    return server.read(lambda session: int(session.scalar(query) or 0))


def leases(server: Server) -> list[str]:
    return server.read(lambda session: list(session.scalars(select(WorkLeaseRow.name))))


def test_a_command_over_the_socket_is_acked_within_3_s_and_answered(chat: Chat) -> None:
    assert chat.command(f"show <@{chat.alice}|alice>") < ACK_WITHIN

    shown = text_of(chat.wait_reply("Alice Wu"))
    assert ALICE in shown
    held = licenses_of(chat.server, ALICE)
    assert held
    for lic in held:
        assert lic["displayName"] in shown


def test_replace_is_previewed_confirmed_and_a_redelivery_changes_nothing(chat: Chat) -> None:
    assert products_of(chat.server, ALICE) == {"ENTERPRISEPACK"}
    assert chat.command(f"replace <@{chat.alice}|alice> E5") < ACK_WITHIN
    preview = chat.wait_reply("Preview: replace licenses")
    assert "Alice Wu (alice@contoso.com): loses Office 365 E3; gains Office 365 E5" in text_of(preview)

    confirm = chat.slack.action_payload(chat.lena, action_id=CONFIRM_CHANGE, channel=chat.channel)
    ack = chat.slack.wait_ack(chat.slack.socket_send("interactive", confirm))
    assert ack.seconds < ACK_WITHIN
    assert ack.payload is None
    result = chat.wait_reply("Licenses replaced")
    assert "Office 365 E5 replaced for 1 of 1 user." in text_of(result)
    assert products_of(chat.server, ALICE) == {"ENTERPRISEPREMIUM"}
    assert license_writes(chat.server, ALICE) == 1

    # Slack redelivers the same interaction (its ack was late, as far as Slack knows).
    posts_before = len(chat.slack.calls("response_url"))
    again = chat.slack.socket_send("interactive", confirm, retry_attempt=1, retry_reason="timeout")
    assert chat.slack.wait_ack(again).seconds < ACK_WITHIN
    chat.server.output.wait_for("dropped a redelivery of a request already handled")

    assert license_writes(chat.server, ALICE) == 1
    assert len(chat.slack.calls("response_url")) == posts_before, "nothing more was said"
    assert products_of(chat.server, ALICE) == {"ENTERPRISEPREMIUM"}


def test_after_slack_asks_to_reconnect_the_next_command_works(chat: Chat) -> None:
    connects = chat.slack.socket_connects()
    opened = len(chat.slack.calls("apps.connections.open"))

    chat.slack.socket_disconnect("refresh_requested")

    # A new link through apps.connections.open, then the bot closes the old one. slack_sdk's builtin
    # client reads nothing in between (closing the old link waits out its 3 s receive timeout), so
    # an envelope sent then is acked after ~3 s; the command goes once the old link is closed.
    chat.slack.wait_for(
        lambda: chat.slack.socket_connects() == connects + 1 and chat.slack.socket_connections() == 1,
        timeout=10,
        description="the bot reconnecting",
    )
    assert len(chat.slack.calls("apps.connections.open")) == opened + 1
    shown = len(chat.replies("Alice Wu"))
    assert chat.command(f"show <@{chat.alice}|alice>") < ACK_WITHIN
    chat.wait_reply("Alice Wu", count=shown + 1)


def test_sigterm_exits_0_and_gives_the_scheduler_lease_back(slack: LocalSlack, tmp_path: Path) -> None:
    with serve(slack, tmp_path / "serve.db") as server:
        assert SQLITE_SCHEDULER_LEASE in leases(server)
        connections = slack.socket_connections()

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=10)

        assert code == 0, server.output.text()
        assert time.monotonic() - started < 5
        assert SQLITE_SCHEDULER_LEASE not in leases(server)
        slack.wait_for(
            lambda: slack.socket_connections() == connections - 1, description="the connection closed"
        )
