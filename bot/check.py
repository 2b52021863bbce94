"""`licensebot check`: the production settings tried for real before going live, one line per check.

Each check says what it found in the admin's words and, when it fails, what to change. It calls
Slack (`auth.test`, `conversations.info`), the tenant's login endpoint and Microsoft Graph, and the
database, and changes nothing anywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from bot.graph import graph_config
from bot.settings import ConfigurationError, Settings, TenantBackend
from domain.errors import DirectoryUnavailable
from storage.database import create_engine, normalize_url
from storage.graph.auth import ConfidentialAppFactory, msal_app, token_provider
from storage.graph.config import GraphConfig
from storage.graph.errors import GraphSignInFailed
from storage.migrate import current_revision, head_revision

__all__ = ["GRAPH_PERMISSIONS", "SLACK_SCOPES", "Finding", "Outcome", "check", "report"]

SLACK_SCOPES: Final = (
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "files:write",
    "im:write",
    "channels:read",
    "groups:read",
)
"""The bot token scopes manifest.yml asks for (tests/unit/test_check.py keeps the two equal)."""

GRAPH_PERMISSIONS: Final = (
    "LicenseAssignment.ReadWrite.All",
    "GroupMember.Read.All",
    "Organization.Read.All",
    "User.Read.All",
    "RoleManagement.Read.Directory",
)
"""The least-privileged Microsoft Graph application permissions licensebot needs (docs/setup.md's
table; tests/unit/test_deployment_docs.py keeps the two equal)."""

_REINSTALL: Final = (
    "At api.slack.com/apps → licensebot → OAuth & Permissions, add them under Bot Token Scopes (or "
    "update the app from manifest.yml), then reinstall the app to the workspace and copy the new Bot "
    "User OAuth Token into SLACK_BOT_TOKEN."
)
_CHANNEL_ID: Final = (
    "Set it to the channel's ID (in Slack: open the channel, click its name, the ID is at the bottom "
    "of About, e.g. C0123ABCDEF); for a private channel, invite the bot first."
)


_CHANNEL_ID_SHAPE: Final = re.compile(r"[CGD][A-Z0-9]{6,}")


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    outcome: Outcome
    subject: str
    detail: str
    fix: str = ""


def _ok(subject: str, detail: str) -> Finding:
    return Finding(Outcome.OK, subject, detail)


def _fail(subject: str, detail: str, fix: str) -> Finding:
    return Finding(Outcome.FAIL, subject, detail, fix)


def _skip(subject: str, detail: str) -> Finding:
    return Finding(Outcome.SKIP, subject, detail)


def check(settings: Settings, *, app_factory: ConfidentialAppFactory = msal_app) -> list[Finding]:
    """Every check, in the order an admin sets things up; `app_factory` builds the msal app."""
    return [*_slack(settings), *_graph(settings, app_factory), _database(settings)]


def report(findings: Sequence[Finding]) -> str:
    lines = ["licensebot check: the settings of this environment, tried for real.", ""]
    for finding in findings:
        lines.append(f"  {finding.outcome.value:<4}  {finding.subject}: {finding.detail}")
        if finding.fix:
            lines.append(f"        Fix: {finding.fix}")
    failed = sum(1 for f in findings if f.outcome is Outcome.FAIL)
    lines.append("")
    if failed:
        lines.append(f"{failed} of {len(findings)} checks failed: fix them and run `licensebot check` again.")
    else:
        lines.append("Everything licensebot needs is in place.")
    return "\n".join(lines)


# Slack


def _slack(settings: Settings) -> list[Finding]:
    secret = (
        _ok("Slack signing secret", "set")
        if settings.slack_signing_secret.get_secret_value()
        else _fail(
            "Slack signing secret",
            "SLACK_SIGNING_SECRET is not set, so no request from Slack can be verified",
            "Copy the Signing Secret from api.slack.com/apps → licensebot → Basic Information → App "
            "Credentials into SLACK_SIGNING_SECRET.",
        )
    )
    token = settings.slack_bot_token.get_secret_value()
    if not token:
        return [
            _fail(
                "Slack bot token",
                "SLACK_BOT_TOKEN is not set",
                "Copy the Bot User OAuth Token (xoxb-…) from api.slack.com/apps → licensebot → OAuth & "
                "Permissions into SLACK_BOT_TOKEN.",
            ),
            secret,
            _skip("Slack channels", "not checked without a bot token"),
        ]
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=15)
    try:
        signed_in = client.auth_test()
    except SlackApiError as refused:
        error = str(refused.response.get("error") or "")
        return [_token_refused(error), secret, _skip("Slack channels", "not checked without a working token")]
    except OSError as unreachable:
        return [
            _fail(
                "Slack bot token",
                f"Slack did not answer at {settings.slack_api_url} ({unreachable})",
                "Check that this machine reaches Slack (proxy, firewall) and that SLACK_API_URL is "
                "https://slack.com/api/ (or unset).",
            ),
            secret,
            _skip("Slack channels", "not checked: Slack did not answer"),
        ]
    bot = str(signed_in.get("user") or "licensebot")
    workspace = str(signed_in.get("team") or signed_in.get("team_id") or "the workspace")
    findings = [_ok("Slack bot token", f"signed in as @{bot} in {workspace}")]
    findings.append(_scopes(_header(signed_in.headers, "x-oauth-scopes")))
    findings.append(secret)
    for variable, channel, use, unset in (
        (
            "APPROVALS_CHANNEL",
            settings.approvals_channel,
            "approval requests",
            "approval requests and their reminders go to the channel where each workflow was started",
        ),
        (
            "REMINDER_CHANNEL",
            settings.reminder_channel,
            "the daily digest and overdue purchases",
            "no daily digest; reminders go by direct message, else to the workflow's channel",
        ),
    ):
        if not channel:
            findings.append(_skip(variable, f"not set: {unset}"))
        else:
            findings.append(_channel(client, variable, channel, use, bot))
    return findings


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _token_refused(error: str) -> Finding:
    if error in {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"}:
        detail = f"Slack refused SLACK_BOT_TOKEN ({error}): it is not a valid bot token of an installed app"
    elif error == "not_allowed_token_type":
        detail = "SLACK_BOT_TOKEN holds another kind of token (an app-level xapp-… or a user xoxp-… token)"
    else:
        detail = f"Slack refused SLACK_BOT_TOKEN ({error})"
    return _fail(
        "Slack bot token",
        detail,
        "Copy the Bot User OAuth Token (xoxb-…) from api.slack.com/apps → licensebot → OAuth & "
        "Permissions into SLACK_BOT_TOKEN (reinstall the app to the workspace if there is none).",
    )


def _scopes(granted_header: str | None) -> Finding:
    if granted_header is None:
        return _skip("Slack scopes", "Slack did not say which scopes the token has")
    granted = {scope.strip() for scope in granted_header.split(",") if scope.strip()}
    missing = [scope for scope in SLACK_SCOPES if scope not in granted]
    if missing:
        return _fail("Slack scopes", f"the bot token lacks {', '.join(missing)}", _REINSTALL)
    return _ok("Slack scopes", f"the bot token has the {len(SLACK_SCOPES)} scopes manifest.yml asks for")


def _channel(client: WebClient, variable: str, channel: str, use: str, bot: str) -> Finding:
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as refused:
        error = str(refused.response.get("error") or "")
        if error == "channel_not_found" and not _CHANNEL_ID_SHAPE.fullmatch(channel):
            return _fail(
                variable,
                f"{channel} is a channel name, and licensebot needs the channel's ID",
                _CHANNEL_ID,
            )
        if error == "channel_not_found":
            return _fail(
                variable,
                f"{channel} is no channel the bot can see, so {use} would not arrive there",
                _CHANNEL_ID,
            )
        if error == "missing_scope":
            return _fail(
                variable, "the bot token cannot read channels (channels:read, groups:read)", _REINSTALL
            )
        return _fail(variable, f"Slack refused to show {channel} ({error})", _CHANNEL_ID)
    except OSError as unreachable:
        return _fail(variable, f"Slack did not answer ({unreachable})", "Run the check again.")
    name = f"#{info.get('name') or channel}"
    if not info.get("is_member"):
        return _fail(
            variable,
            f"the bot is not a member of {name}, so {use} would not arrive there",
            f"In {name}, type `/invite @{bot}`.",
        )
    return _ok(variable, f"{name} found, and the bot is a member")


# Microsoft Graph


def _graph(settings: Settings, app_factory: ConfidentialAppFactory) -> list[Finding]:
    if settings.tenant_backend is TenantBackend.SIMULATED:
        return [
            _skip(
                "Microsoft Graph",
                "not used: TENANT_BACKEND=simulated runs on the embedded demo tenant (set "
                "TENANT_BACKEND=graph for a real one)",
            )
        ]
    try:
        config = graph_config(settings)
    except ConfigurationError as refused:
        return [
            _fail(
                "Graph credential",
                str(refused).removeprefix("TENANT_BACKEND=graph: "),
                "Set GRAPH_TENANT_ID and GRAPH_CLIENT_ID with one of GRAPH_CLIENT_SECRET, "
                "GRAPH_CERTIFICATE_PATH (+ GRAPH_CERTIFICATE_THUMBPRINT) or GRAPH_ACCESS_TOKEN.",
            ),
            _skip("Graph permissions", "not checked without a credential"),
            _skip("Graph endpoint", "not checked without a credential"),
        ]
    try:
        token = token_provider(config, app_factory).token()
    except GraphSignInFailed as refused:
        return [
            _sign_in_refused(config, refused.detail),
            _skip("Graph permissions", "not checked without a token"),
            _skip("Graph endpoint", "not checked without a token"),
        ]
    except DirectoryUnavailable:
        return [
            _fail(
                "Graph credential",
                f"the login endpoint {config.authority} did not answer",
                "Check that this machine reaches it (proxy, firewall), that GRAPH_TENANT_ID is the "
                "Directory (tenant) ID of the tenant, and that M365_CLOUD (or GRAPH_LOGIN_URL) names "
                "the tenant's cloud.",
            ),
            _skip("Graph permissions", "not checked without a token"),
            _skip("Graph endpoint", "not checked without a token"),
        ]
    how = "GRAPH_ACCESS_TOKEN given" if config.access_token else f"token obtained from {config.authority}"
    return [_ok("Graph credential", how), _permissions(token), _endpoint(config, token)]


def _sign_in_refused(config: GraphConfig, error: str) -> Finding:
    place = "Microsoft Entra admin center → App registrations → the app"
    if "certificate file" in error:
        return _fail(
            "Graph credential",
            error[0].upper() + error[1:],
            "Set GRAPH_CERTIFICATE_PATH to the PEM file with the certificate's private key, readable "
            "by licensebot.",
        )
    if "AADSTS7000215" in error or "AADSTS7000222" in error or "invalid_client" in error:
        detail = f"Microsoft refused the app's credential ({error})"
        fix = (
            f"In the {place} → Certificates & secrets, create a new client secret and set "
            "GRAPH_CLIENT_SECRET to its Value (not its Secret ID); or check the certificate's thumbprint."
        )
    elif "AADSTS700016" in error or "unauthorized_client" in error:
        detail = f"GRAPH_CLIENT_ID {config.client_id} is no app registration of the tenant ({error})"
        fix = f"Copy the Application (client) ID from the {place} → Overview into GRAPH_CLIENT_ID."
    elif "AADSTS90002" in error or "invalid_tenant" in error:
        detail = f"GRAPH_TENANT_ID {config.tenant_id} is no tenant of this cloud ({error})"
        fix = "Copy the Directory (tenant) ID into GRAPH_TENANT_ID, and set M365_CLOUD to the tenant's cloud."
    else:
        detail = f"Microsoft refused to sign the app in ({error})"
        fix = f"Check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the secret or certificate against the {place}."
    return _fail("Graph credential", detail, fix)


def _claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _permissions(token: str) -> Finding:
    claims = _claims(token)
    if claims is None:
        return _skip("Graph permissions", "the access token cannot be read, so its permissions are unknown")
    roles = {str(role) for role in claims.get("roles") or []}
    missing = [permission for permission in GRAPH_PERMISSIONS if permission not in roles]
    if missing:
        return _fail(
            "Graph permissions",
            f"the app lacks the Microsoft Graph application permission{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}",
            "In the Microsoft Entra admin center → App registrations → the app → API permissions → Add "
            f"a permission → Microsoft Graph → Application permissions, add {', '.join(missing)}, then "
            "Grant admin consent (a delegated permission does not count). docs/setup.md lists why each is "
            "needed.",
        )
    extra = sorted(roles - set(GRAPH_PERMISSIONS))
    more = f"; it also holds {', '.join(extra)}, which licensebot does not need" if extra else ""
    return _ok(
        "Graph permissions", f"the app holds the {len(GRAPH_PERMISSIONS)} permissions licensebot needs{more}"
    )


def _endpoint(config: GraphConfig, token: str) -> Finding:
    url = f"{config.api_root}/organization"
    fix_url = (
        "Leave GRAPH_API_URL unset (M365_CLOUD picks the tenant's Graph), or set it to the Graph root "
        "without the version, e.g. https://graph.microsoft.com."
    )
    try:
        answer = httpx.get(
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
        )
    except httpx.HTTPError as unreachable:
        return _fail(
            "Graph endpoint", f"{config.api_root} did not answer ({type(unreachable).__name__})", fix_url
        )
    if answer.is_success:
        return _ok("Graph endpoint", f"Microsoft Graph answers at {config.api_root}")
    if answer.status_code == httpx.codes.NOT_FOUND:
        return _fail("Graph endpoint", f"{url} does not exist (404): this is not a Graph v1.0 root", fix_url)
    if answer.status_code == httpx.codes.UNAUTHORIZED:
        return _fail(
            "Graph endpoint",
            f"Graph at {config.api_root} refused the token (401)",
            "The token is for another cloud or has expired: check M365_CLOUD and GRAPH_API_URL, or "
            "give a fresh GRAPH_ACCESS_TOKEN.",
        )
    if answer.status_code == httpx.codes.FORBIDDEN:
        return _fail(
            "Graph endpoint",
            "Graph refused to read the organization (403)",
            "Grant admin consent for Organization.Read.All (see Graph permissions).",
        )
    return _fail("Graph endpoint", f"{url} answered {answer.status_code}", "Run the check again later.")


# The database


def _database(settings: Settings) -> Finding:
    url = normalize_url(settings.database_url)
    where = url.render_as_string(hide_password=True)
    file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if file and not Path(file).exists():
        return _fail(
            "Database",
            f"the SQLite file {file} does not exist",
            "Run `licensebot db upgrade` to create it, or point DATABASE_URL at the database to use.",
        )
    engine = create_engine(url)
    try:
        current = current_revision(engine)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return _fail(
            "Database",
            f"{where} cannot be reached: {reason}",
            "Check that the database server runs and is reachable from here, and that DATABASE_URL "
            "names the right host, port, database, user and password.",
        )
    finally:
        engine.dispose()
    head = head_revision()
    if current == head:
        return _ok("Database", f"{where} is reachable and on the newest schema ({head})")
    if current is None:
        return _fail(
            "Database",
            f"{where} is reachable but has no licensebot schema yet",
            "Run `licensebot db upgrade`.",
        )
    return _fail(
        "Database",
        f"{where} is on schema revision {current}, and this version of licensebot needs {head}",
        "Run `licensebot db upgrade` (the release step of docs/deployment.md).",
    )
