"""Settings come from the environment only; logs never carry a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import Redactor, configure_logging
from bot.settings import Settings, TenantBackend
from domain.model import Cloud


def test_defaults_run_the_embedded_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TENANT_BACKEND", "M365_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.tenant_backend is TenantBackend.SIMULATED
    assert settings.m365_cloud is Cloud.WORLDWIDE
    assert settings.is_sqlite


@pytest.mark.parametrize(
    ("value", "cloud"),
    [("worldwide", Cloud.WORLDWIDE), ("US-Government", Cloud.US_GOVERNMENT), ("21vianet", Cloud.CHINA)],
)
def test_cloud_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, cloud: Cloud
) -> None:
    monkeypatch.setenv("M365_CLOUD", value)
    assert Settings().m365_cloud is cloud


def test_an_unknown_cloud_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("M365_CLOUD", "germany")
    with pytest.raises(ValueError, match="m365_cloud"):
        Settings()


def test_secrets_are_not_shown_by_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-123-secret-value")
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "graph-client-secret-value")
    text = repr(Settings())
    assert "secret-value" not in text


def test_known_secrets_and_token_shapes_are_redacted() -> None:
    redact = Redactor(["s3cr3t-signing"]).redact
    assert redact("sig s3cr3t-signing") == "sig [redacted]"
    assert redact("token xoxb-1-2-abc and xapp-1-A1-xyz") == "token [redacted] and [redacted]"
    assert "[redacted]" in redact("Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload")


@pytest.fixture
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("_restore_root_logger")
def test_json_logs_carry_context_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("DEBUG", "json", ["top-secret-token"])
    log = logging.getLogger("licensebot.test")
    log.info("calling with top-secret-token", extra={"correlation_id": "c-1", "command": "/license"})
    try:
        raise RuntimeError("failed with top-secret-token")
    except RuntimeError:
        log.exception("boom")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["correlation_id"] == "c-1"
    assert lines[0]["command"] == "/license"
    assert "top-secret-token" not in stream.getvalue()
    assert "RuntimeError" in lines[1]["exception"]
