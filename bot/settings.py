"""Configuration: one `Settings` object built once from the environment and passed down (STYLE.md 7).

Nothing else in licensebot reads the environment. Every variable is listed in docs/configuration.md.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.access import AdminBinding
from domain.model import Cloud

__all__ = ["ConfigurationError", "Settings", "TenantBackend"]


class ConfigurationError(Exception):
    """The settings cannot work together; the message says which variable to change."""


class TenantBackend(StrEnum):
    SIMULATED = "simulated"
    GRAPH = "graph"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = Field(
        default="sqlite:///licensebot.db",
        description="SQLAlchemy URL; SQLite for one process, postgresql+psycopg:// for replicas.",
    )
    slack_bot_token: SecretStr = Field(default=SecretStr(""), description="xoxb-… bot token.")
    slack_signing_secret: SecretStr = Field(default=SecretStr(""), description="Request signing secret.")
    slack_app_token: SecretStr = Field(default=SecretStr(""), description="xapp-… for Socket Mode.")
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL (a local fake in tests)."
    )
    port: int = Field(default=3000, ge=1, le=65535, description="HTTP port of `licensebot serve`.")
    host: str = Field(default="0.0.0.0", description="HTTP bind address of `licensebot serve`.")  # noqa: S104
    tenant_backend: TenantBackend = TenantBackend.SIMULATED
    graph_tenant_id: str = ""
    graph_client_id: str = ""
    graph_client_secret: SecretStr = SecretStr("")
    graph_certificate_path: Path | None = None
    graph_certificate_thumbprint: str = ""
    graph_certificate_passphrase: SecretStr = Field(
        default=SecretStr(""), description="Passphrase of an encrypted certificate private key."
    )
    graph_access_token: SecretStr = SecretStr("")
    graph_api_url: str = Field(
        default="",
        description="Defaults to the cloud's Graph endpoint; the root, without the API version "
        "(a trailing /v1.0 is dropped: licensebot adds it).",
    )
    graph_login_url: str = Field(default="", description="Defaults to the cloud's login endpoint.")
    graph_write_quota: int = Field(default=3000, ge=1, description="Directory writes per window (R17).")
    graph_write_window_seconds: float = Field(default=150.0, gt=0)
    graph_write_replicas: int = Field(
        default=1,
        ge=1,
        description="Processes writing through the same app registration; each paces itself to "
        "its share of the quota (R17).",
    )
    graph_timeout_seconds: float = Field(default=30.0, gt=0, description="Read timeout of a Graph request.")
    m365_cloud: Cloud = Cloud.WORLDWIDE
    approvals_channel: str = ""
    reminder_channel: str = ""
    poll_interval_seconds: float = Field(default=300.0, gt=0)
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a process holds running work (renewed as it goes) before another "
        "replica may take it over, after a crash.",
    )
    product_table_path: Path | None = Field(
        default=None, description="Microsoft's licensing CSV, for display names of every product."
    )
    preview_ttl_minutes: int = Field(default=15, ge=1)
    undo_ttl_minutes: int = Field(default=60, ge=1, description="How long a done change can be undone.")
    approval_ttl_hours: float = Field(
        default=24.0, gt=0, description="How long an approval stays open (R13)."
    )
    approval_reminder_hours: float = Field(
        default=4.0, gt=0, description="How often an approval still waiting is reminded."
    )
    task_reminder_hours: float = Field(
        default=24.0,
        gt=0,
        description="How often an open admin-center task, a decision waiting and an overdue purchase "
        "are reminded.",
    )
    digest_time_utc: time = Field(
        default=time(9, 0), description="HH:MM (UTC, 24-hour clock): when the daily digest goes out."
    )
    credit_check_business_days: int = Field(default=2, ge=0, description="R10: an invoice purchase's wait.")
    sim_activation_seconds: float = Field(
        default=60.0, ge=0, description="Simulated tenant: how long a card purchase stays Pending."
    )
    sim_credit_check_hours: float = Field(
        default=24.0, ge=0, description="Simulated tenant: how long an invoice purchase waits for credit."
    )
    admin_binding: AdminBinding = Field(
        default=AdminBinding.EMAIL,
        description="email: a Slack account acts for the tenant user of its confirmed profile email; "
        "entra: for the Entra user it is bound to by a Microsoft sign-in (R24).",
    )
    public_url: str = Field(
        default="",
        description="The public https address of `serve` in HTTP mode; with ADMIN_BINDING=entra and a "
        "client secret, sign-ins go through the browser to {PUBLIC_URL}/auth/microsoft/callback.",
    )
    sign_in_client_id: str = Field(
        default="", description="App registration of the sign-in; GRAPH_CLIENT_ID."
    )
    sign_in_client_secret: SecretStr = Field(
        default=SecretStr(""), description="Its client secret for browser sign-ins; GRAPH_CLIENT_SECRET."
    )
    sign_in_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often device-code sign-ins are checked while any wait."
    )
    log_level: str = "INFO"
    log_format: str = Field(default="auto", description="auto (JSON when not a terminal), json or text.")

    # --- Waste (R22): renewal alerts and prices --------------------------------------------------
    prices_file: Path | None = Field(
        default=None,
        description="CSV of product,monthly_price,currency: money next to seats in renewal alerts, "
        "the digest and reclaim previews (none: seats only).",
    )
    renewal_alert_days: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(14, 3),
        description="Days before a subscription renews when the alert about its unused seats is sent, "
        "comma-separated (empty: no renewal alerts).",
    )

    @field_validator("renewal_alert_days", mode="before")
    @classmethod
    def _renewal_days(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isdigit() and 0 < int(part) <= 365 for part in parts):
            raise ValueError(
                f"RENEWAL_ALERT_DAYS takes whole numbers of days from 1 to 365, comma-separated "
                f"(like 14,3), not {value!r}"
            )
        return tuple(int(part) for part in parts)

    @field_validator("m365_cloud", mode="before")
    @classmethod
    def _cloud_aliases(cls, value: object) -> object:
        aliases = {
            "global": "worldwide",
            "commercial": "worldwide",
            "usgov": "us-government",
            "gcc-high": "us-government",
            "21vianet": "china",
        }
        if isinstance(value, str):
            return aliases.get(value.strip().lower(), value.strip().lower())
        return value

    @field_validator("digest_time_utc", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        """Only `HH:MM` on a 24-hour clock: pydantic would also read `9` as nine seconds past midnight."""
        if isinstance(value, time):
            return value
        text = str(value).strip()
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
        if match is None:
            raise ValueError(
                f"write a time of day as HH:MM on a 24-hour clock in UTC, e.g. 09:00, not {text!r}"
            )
        return time(int(match.group(1)), int(match.group(2)))

    @model_validator(mode="after")
    def _approvals_reminded_before_they_expire(self) -> Self:
        if self.approval_reminder_hours >= self.approval_ttl_hours:
            raise ValueError(
                f"APPROVAL_REMINDER_HOURS={self.approval_reminder_hours:g} is not shorter than "
                f"APPROVAL_TTL_HOURS={self.approval_ttl_hours:g}: an approval would expire before its "
                "first reminder. Set APPROVAL_REMINDER_HOURS below APPROVAL_TTL_HOURS."
            )
        return self

    @field_validator("graph_api_url")
    @classmethod
    def _graph_root(cls, value: str) -> str:
        """The Graph root: licensebot adds `/v1.0` to every request itself, so a URL copied with the
        version is taken as its root, and another version is refused before it turns into 404s."""
        root = value.strip().rstrip("/")
        head, _, last = root.rpartition("/")
        if last.casefold() == "v1.0" and "://" in head:
            return head
        if last.casefold() == "beta" or (last[:1] in "vV" and last[1:2].isdigit() and "://" in head):
            raise ValueError(
                f"licensebot speaks Microsoft Graph v1.0 and adds the version itself: set GRAPH_API_URL "
                f"to the endpoint's root, {head} (not {root})"
            )
        return root

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
