"""`licensebot db` and `licensebot tenant` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.cli import main
from bot.settings import ConfigurationError, Settings, TenantBackend


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return url


@pytest.mark.usefixtures("database")
def test_db_upgrade_downgrade_and_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    head = capsys.readouterr().out
    assert "Database at revision" in head
    assert main(["db", "downgrade", "base"]) == 0
    assert "base" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert "base" in capsys.readouterr().out


@pytest.mark.usefixtures("database")
def test_tenant_reset_then_show_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tenant", "reset"]) == 0
    capsys.readouterr()
    assert main(["tenant", "show", "alice@contoso.com"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["userPrincipalName"] == "alice@contoso.com"
    assert [lic["skuPartNumber"] for lic in shown["assignedLicenses"]] == ["ENTERPRISEPACK"]


@pytest.mark.usefixtures("database")
def test_tenant_show_of_an_unknown_user_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    main(["tenant", "reset"])
    assert main(["tenant", "show", "nobody@contoso.com"]) == 1
    assert "No user 'nobody@contoso.com'" in capsys.readouterr().err


@pytest.mark.usefixtures("database")
def test_serve_without_slack_credentials_says_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    assert main(["serve"]) == 2
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in capsys.readouterr().err


def test_a_bad_setting_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_BACKEND", "carrier-pigeon")
    assert main(["db", "current"]) == 2
    assert "tenant_backend" in capsys.readouterr().err


def test_graph_backend_without_credentials_is_a_clear_configuration_error(database: str) -> None:
    settings = Settings(database_url=database, tenant_backend=TenantBackend.GRAPH)
    with pytest.raises(ConfigurationError, match="exactly one credential"):
        bootstrap(settings)


@pytest.mark.usefixtures("database")
def test_tenant_commands_need_the_simulated_backend(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_BACKEND", "graph")
    assert main(["tenant", "show", "alice@contoso.com"]) == 2
    assert "TENANT_BACKEND=simulated" in capsys.readouterr().err
