"""Settings → the Graph configuration: timeout, certificate passphrase, and the write quota shared by
the replicas on one app registration (R17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.graph import graph_config
from bot.settings import ConfigurationError, Settings, TenantBackend


def _settings(**values: object) -> Settings:
    return Settings(tenant_backend=TenantBackend.GRAPH, graph_access_token="token", **values)  # type: ignore[arg-type]


def test_the_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_TIMEOUT_SECONDS", "12.5")
    assert graph_config(_settings()).timeout_seconds == 12.5


def test_the_certificate_passphrase_reaches_the_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_CERTIFICATE_PASSPHRASE", "s3cret-phrase")
    settings = Settings(
        tenant_backend=TenantBackend.GRAPH,
        graph_tenant_id="tenant",
        graph_client_id="client",
        graph_certificate_path=Path("/etc/licensebot/app.pem"),
        graph_certificate_thumbprint="AB12",
    )
    certificate = graph_config(settings).certificate
    assert certificate is not None
    assert certificate.passphrase == "s3cret-phrase"
    assert "s3cret-phrase" not in repr(settings)
    assert "s3cret-phrase" not in repr(certificate)


def test_each_replica_paces_itself_to_its_share_of_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_WRITE_REPLICAS", "4")
    quota = graph_config(_settings(graph_write_quota=3000, graph_write_window_seconds=150)).write_quota
    assert (quota.writes, quota.window_seconds) == (750, 150)
    assert graph_config(_settings(graph_write_replicas=1)).write_quota.writes == 3000


def test_more_replicas_than_writes_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="GRAPH_WRITE_REPLICAS=5"):
        graph_config(_settings(graph_write_quota=4, graph_write_replicas=5))
