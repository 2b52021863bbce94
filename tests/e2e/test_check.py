"""`licensebot check` against the local fake Slack, graph-sim (with its token endpoint) and a real
database: everything in place passes, and each fault planted once fails on its own line with its fix."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.check import GRAPH_PERMISSIONS, SLACK_SCOPES, Finding, Outcome, check, report
from bot.cli import main
from bot.local_slack import LocalSlack
from bot.settings import Settings, TenantBackend
from storage import migrate
from storage.graph.auth import ConfidentialApp
from storage.graph_sim import GraphSimulator, SimApp

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "the-right-secret"


class HttpConfidentialApp:
    """msal's client credentials request, sent over HTTP to graph-sim's token endpoint (msal itself
    only talks to https authorities, so the test builds the request the way msal does)."""

    def __init__(self, client_id: str, credential: str | dict[str, str], authority: str) -> None:
        self._client_id = client_id
        self._secret = credential if isinstance(credential, str) else ""
        self._authority = authority

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]:
        answer = httpx.post(
            f"{self._authority}/oauth2/v2.0/token",
            data={
                "client_id": self._client_id,
                "client_secret": self._secret,
                "scope": " ".join(scopes),
                "grant_type": "client_credentials",
            },
        )
        body: Mapping[str, Any] = answer.json()
        return body


def http_app(client_id: str, credential: str | dict[str, str], authority: str) -> ConfidentialApp:
    return HttpConfidentialApp(client_id, credential, authority)


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        local.add_channel("license-approvals", channel_id="C0APPROVALS")
        local.add_channel("license-reminders", channel_id="C0REMINDERS", is_private=True)
        local.add_channel("general", channel_id="C0GENERAL", bot_is_member=False)
        yield local


def _graph(roles: tuple[str, ...] = GRAPH_PERMISSIONS) -> GraphSimulator:
    return GraphSimulator(apps={CLIENT_ID: SimApp(SECRET, roles)})


@pytest.fixture
def graph() -> Iterator[GraphSimulator]:
    with _graph() as simulator:
        yield simulator


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate.upgrade(url)
    return url


def _settings(slack: LocalSlack, graph: GraphSimulator, database: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database,
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": "a-signing-secret",
        "slack_api_url": slack.api_url,
        "approvals_channel": "C0APPROVALS",
        "reminder_channel": "C0REMINDERS",
        "tenant_backend": TenantBackend.GRAPH,
        "graph_tenant_id": "contoso-tenant",
        "graph_client_id": CLIENT_ID,
        "graph_client_secret": SECRET,
        "graph_api_url": graph.url,
        "graph_login_url": graph.url,
        **overrides,
    }
    return Settings(**values)


def _by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def _only_failure(findings: list[Finding]) -> Finding:
    failed = [f for f in findings if f.outcome is Outcome.FAIL]
    assert len(failed) == 1, report(findings)
    assert failed[0].fix, failed[0]
    return failed[0]


def test_manifest_scopes_are_the_scopes_the_check_wants() -> None:
    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text(encoding="utf-8"))
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == SLACK_SCOPES


def test_everything_in_place_passes(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    findings = check(_settings(slack, graph, database), app_factory=http_app)
    assert all(f.outcome is Outcome.OK for f in findings), report(findings)
    text = report(findings)
    assert "signed in as @licensebot" in text
    assert "#license-approvals found, and the bot is a member" in text
    assert f"Microsoft Graph answers at {graph.api_url}" in text
    assert "Everything licensebot needs is in place." in text
    assert {"auth.test", "conversations.info"} <= {c.method for c in slack.calls()}


def test_a_wrong_slack_token(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    findings = check(_settings(slack, graph, database, slack_bot_token="xoxb-wrong"), app_factory=http_app)
    failed = _only_failure(findings)
    assert failed.subject == "Slack bot token"
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in failed.detail
    assert "Bot User OAuth Token" in failed.fix
    assert _by_subject(findings)["Slack channels"].outcome is Outcome.SKIP


def test_a_missing_scope(graph: GraphSimulator, database: str) -> None:
    with LocalSlack(scopes=[s for s in SLACK_SCOPES if s != "usergroups:read"]) as slack:
        slack.add_channel("license-approvals", channel_id="C0APPROVALS")
        slack.add_channel("license-reminders", channel_id="C0REMINDERS")
        failed = _only_failure(check(_settings(slack, graph, database), app_factory=http_app))
    assert (failed.subject, failed.detail) == ("Slack scopes", "the bot token lacks usergroups:read")
    assert "reinstall the app" in failed.fix


def test_a_missing_signing_secret(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    settings = _settings(slack, graph, database, slack_signing_secret="")
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.subject == "Slack signing secret"
    assert "Basic Information" in failed.fix


def test_a_channel_not_found(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    settings = _settings(slack, graph, database, approvals_channel="C0DELETED1")
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.subject == "APPROVALS_CHANNEL"
    assert (
        failed.detail
        == "C0DELETED1 is no channel the bot can see, so approval requests would not arrive there"
    )
    assert "channel's ID" in failed.fix


def test_a_channel_name_instead_of_its_id(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    settings = _settings(slack, graph, database, approvals_channel="#license-approvals")
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.detail == "#license-approvals is a channel name, and licensebot needs the channel's ID"
    assert "About" in failed.fix


def test_the_bot_not_a_member(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    settings = _settings(slack, graph, database, reminder_channel="C0GENERAL")
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.subject == "REMINDER_CHANNEL"
    assert failed.detail.startswith("the bot is not a member of #general")
    assert failed.fix == "In #general, type `/invite @licensebot`."


def test_a_bad_graph_secret(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    findings = check(_settings(slack, graph, database, graph_client_secret="stale"), app_factory=http_app)
    failed = _only_failure(findings)
    assert failed.subject == "Graph credential"
    assert "AADSTS7000215" in failed.detail
    assert "GRAPH_CLIENT_SECRET to its Value" in failed.fix
    assert "stale" not in report(findings)


def test_an_unreadable_certificate(
    slack: LocalSlack, graph: GraphSimulator, database: str, tmp_path: Path
) -> None:
    settings = _settings(
        slack,
        graph,
        database,
        graph_client_secret="",
        graph_certificate_path=tmp_path / "missing.pem",
        graph_certificate_thumbprint="AB12",
    )
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.detail.startswith("The certificate file ")
    assert "GRAPH_CERTIFICATE_PATH" in failed.fix


def test_a_missing_graph_permission(slack: LocalSlack, database: str) -> None:
    roles = tuple(r for r in GRAPH_PERMISSIONS if r != "RoleManagement.Read.Directory")
    with _graph(roles) as graph:
        failed = _only_failure(check(_settings(slack, graph, database), app_factory=http_app))
    assert failed.subject == "Graph permissions"
    assert (
        failed.detail
        == "the app lacks the Microsoft Graph application permission RoleManagement.Read.Directory"
    )
    assert "Grant admin consent" in failed.fix


def test_more_permissions_than_needed_pass_with_a_note(slack: LocalSlack, database: str) -> None:
    with _graph((*GRAPH_PERMISSIONS, "Directory.ReadWrite.All")) as graph:
        findings = check(_settings(slack, graph, database), app_factory=http_app)
    assert (
        "Directory.ReadWrite.All, which licensebot does not need"
        in _by_subject(findings)["Graph permissions"].detail
    )
    assert not [f for f in findings if f.outcome is Outcome.FAIL]


def test_a_graph_url_with_the_version_is_taken_as_its_root(
    slack: LocalSlack, graph: GraphSimulator, database: str
) -> None:
    settings = _settings(slack, graph, database, graph_api_url=f"{graph.url}/v1.0/")
    findings = check(settings, app_factory=http_app)
    assert _by_subject(findings)["Graph endpoint"].detail == f"Microsoft Graph answers at {graph.api_url}"
    assert not [f for f in findings if f.outcome is Outcome.FAIL]


def test_a_graph_url_with_another_version_is_refused_with_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_API_URL", "https://graph.microsoft.com/beta")
    with pytest.raises(
        ValueError, match=r"GRAPH_API_URL to the endpoint.s root, https://graph.microsoft.com "
    ):
        Settings()


def test_a_graph_url_that_is_not_graph(slack: LocalSlack, graph: GraphSimulator, database: str) -> None:
    settings = _settings(slack, graph, database, graph_api_url=f"{slack.base_url}graph")
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.subject == "Graph endpoint"
    assert "does not exist (404)" in failed.detail


def test_an_unreachable_database(slack: LocalSlack, graph: GraphSimulator) -> None:
    settings = _settings(
        slack, graph, "sqlite:///x.db", database_url="postgresql+psycopg://licensebot@127.0.0.1:1/none"
    )
    failed = _only_failure(check(settings, app_factory=http_app))
    assert failed.subject == "Database"
    assert "cannot be reached" in failed.detail
    assert "DATABASE_URL" in failed.fix


def test_an_unmigrated_database(slack: LocalSlack, graph: GraphSimulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0002_workflows")
    failed = _only_failure(check(_settings(slack, graph, url), app_factory=http_app))
    assert failed.subject == "Database"
    assert "is on schema revision 0002_workflows" in failed.detail
    assert failed.fix.startswith("Run `licensebot db upgrade`")


def test_the_cli_on_the_simulated_backend_skips_graph_and_exits_by_the_outcome(
    slack: LocalSlack, database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "DATABASE_URL": database,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "a-signing-secret",
        "SLACK_API_URL": slack.api_url,
        "APPROVALS_CHANNEL": "C0APPROVALS",
        "LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "skip  Microsoft Graph: not used: TENANT_BACKEND=simulated" in out
    assert "skip  REMINDER_CHANNEL: not set" in out
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    assert main(["check"]) == 1
    assert "FAIL  Slack bot token" in capsys.readouterr().out
