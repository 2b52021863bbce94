"""`licensebot serve` in HTTP mode: the production server (gunicorn) answers health checks and signed
Slack requests, refuses unsigned ones, and replies through the Slack Web API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local_slack import LocalSlack, signed_headers

SECRET = "serve-test-signing-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as workspace:
        yield workspace


@pytest.fixture
def server(tmp_path: Path, slack: LocalSlack) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("SLACK_APP_TOKEN", None)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("licensebot")), "serve", "--threads", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, base, deadline=time.monotonic() + 60)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_ready(process: subprocess.Popen[str], base: str, deadline: float) -> None:
    """Poll /readyz until it answers, the process dies, or the deadline passes."""
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:
            process.wait(timeout=0.1)  # doubles as the poll interval, and notices an early exit
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"serve exited early:\n{process.stdout.read() if process.stdout else ''}")
    pytest.fail("serve did not become ready within 60 s")


def test_health_and_readiness(server: str) -> None:
    assert httpx.get(f"{server}/healthz").text == "ok\n"
    assert httpx.get(f"{server}/readyz").status_code == 200


def test_a_signed_command_is_acknowledged_and_answered(server: str, slack: LocalSlack) -> None:
    lena = slack.add_user("lena", email="lena@contoso.com")
    channel = slack.add_channel("licensing", members=[lena])
    body = slack.slash_command_body("/license", "show alice@contoso.com", user_id=lena, channel_id=channel)

    response = httpx.post(f"{server}/slack/events", content=body, headers=signed_headers(body, SECRET))

    assert response.status_code == 200
    reply = slack.wait_for(lambda: slack.ephemerals(lena), timeout=30)
    assert "Alice Wu" in str(reply[-1].blocks)


def test_a_wrongly_signed_command_gets_401_and_no_reply(server: str, slack: LocalSlack) -> None:
    lena = slack.add_user("lena", email="lena@contoso.com")
    channel = slack.add_channel("licensing", members=[lena])
    body = slack.slash_command_body("/license", "show alice@contoso.com", user_id=lena, channel_id=channel)

    response = httpx.post(f"{server}/slack/events", content=body, headers=signed_headers(body, "wrong"))

    assert response.status_code == 401
    assert slack.calls("chat.postEphemeral") == []
    assert not [c for c in slack.calls() if c.method == "response_url"]
