"""`licensebot db` and `licensebot tenant` from the command line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
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
    err = capsys.readouterr().err
    assert "licensebot: no user 'nobody@contoso.com' in the simulated tenant" in err
    assert "licensebot tenant show alice@contoso.com" in err


@pytest.mark.usefixtures("database")
def test_tenant_show_takes_a_bare_name_at_the_tenants_default_domain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["tenant", "reset"])
    capsys.readouterr()
    for typed in ("alice", "@alice", "ALICE"):
        assert main(["tenant", "show", typed]) == 0
        assert json.loads(capsys.readouterr().out)["userPrincipalName"] == "alice@contoso.com"


@pytest.mark.usefixtures("database")
def test_tenant_show_of_a_misspelled_name_says_what_to_type(capsys: pytest.CaptureFixture[str]) -> None:
    main(["tenant", "reset"])
    capsys.readouterr()
    assert main(["tenant", "show", "alicee"]) == 1
    err = capsys.readouterr().err
    assert "no user 'alicee'" in err
    assert "looked for alicee@contoso.com" in err
    assert "Did you mean alice@contoso.com?" in err


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
    err = capsys.readouterr().err
    assert err.startswith("licensebot: the configuration is not valid:")
    assert "TENANT_BACKEND: Input should be 'simulated' or 'graph'" in err


@pytest.mark.usefixtures("database")
@pytest.mark.parametrize("action", ["upgrade", "downgrade"])
def test_db_to_an_unknown_revision_says_which_revisions_exist(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", action, "nonsense"]) == 2
    err = capsys.readouterr().err
    assert f"licensebot: cannot {action} to 'nonsense': Can't locate revision identified by 'nonsense'" in err
    assert "The database is at base." in err
    assert "Revisions, oldest first: 0001, 0002_workflows" in err


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("garbage", "DATABASE_URL is not a database URL licensebot can use"),
        ("nosuchdb://host/db", "DATABASE_URL is not a database URL licensebot can use"),
        ("mysql://host/db", "DATABASE_URL names mysql: licensebot runs on SQLite or PostgreSQL"),
    ],
)
@pytest.mark.parametrize("command", [["tenant", "show", "a@b.c"], ["shell"], ["db", "current"]])
def test_an_unusable_database_url_is_explained_not_raised(
    url: str,
    why: str,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"licensebot: {why}")
    assert "Set DATABASE_URL to sqlite:///licensebot.db" in err


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A local port that is bound but never listens: connecting to it is refused at once."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["tenant", "show", "alice"], ["workflows"]])
def test_an_unreachable_postgresql_is_explained_without_its_password(
    command: list[str],
    refusing_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:s3cret@127.0.0.1:{refusing_port}/licensebot")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"licensebot: the database at postgresql+psycopg://bot:***@127.0.0.1:{refusing_port}/licensebot "
        "cannot be used: connection failed"
    )
    assert "Check that the database server is running" in err
    assert "s3cret" not in err


def test_a_sqlite_file_where_none_can_be_made_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "licensebot.db"
    not_a_folder.write_text("")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{not_a_folder / 'nested.db'}")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"licensebot: cannot use {not_a_folder}")
    assert "the SQLite file of DATABASE_URL" in err


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
