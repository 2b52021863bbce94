"""How to reach one tenant through Microsoft Graph: cloud endpoints (R18), credentials, limits (R17)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from domain.model import Cloud

__all__ = ["API_VERSION", "CertificateCredential", "GraphConfig", "WriteQuota"]

API_VERSION = "v1.0"


@dataclass(frozen=True, slots=True)
class WriteQuota:
    """Directory writes allowed per app and tenant: 3,000 per 150 s (20 per second) on Graph."""

    writes: int = 3000
    window_seconds: float = 150.0

    def __post_init__(self) -> None:
        if self.writes < 1 or self.window_seconds <= 0:
            raise ValueError(f"A write quota needs writes >= 1 and a positive window, not {self}")

    @property
    def per_second(self) -> float:
        return self.writes / self.window_seconds

    @classmethod
    def parse(cls, text: str) -> WriteQuota:
        """`3000/150` → 3,000 writes per 150 seconds."""
        writes, _, window = text.partition("/")
        try:
            return cls(int(writes), float(window or "1"))
        except ValueError as exc:
            raise ValueError(f"A write quota looks like 3000/150 (writes/seconds), not {text!r}") from exc


@dataclass(frozen=True, slots=True)
class CertificateCredential:
    """An app certificate: the PEM file with the private key, and the certificate's SHA-1 thumbprint."""

    private_key_path: Path
    thumbprint: str
    passphrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class GraphConfig:
    """One tenant through one app registration.

    Exactly one way to authenticate: a client secret, a certificate, or an access token obtained
    elsewhere. `graph_url` and `authority_url` default to the cloud's endpoints (R18).
    """

    tenant_id: str = ""
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    certificate: CertificateCredential | None = None
    access_token: str | None = field(default=None, repr=False)
    cloud: Cloud = Cloud.WORLDWIDE
    graph_url: str = ""
    authority_url: str = ""
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    write_quota: WriteQuota = field(default_factory=WriteQuota)
    pacing_margin_seconds: float = 0.5
    """Added to the quota window when pacing, so that network jitter between our clock and Graph's
    cannot push a window over the quota."""
    max_retries: int = 5
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    max_connections: int = 10

    def __post_init__(self) -> None:
        ways = [self.client_secret, self.certificate, self.access_token]
        if sum(1 for way in ways if way) != 1:
            raise ValueError(
                "Microsoft Graph needs exactly one credential: a client secret, a certificate, "
                "or an access token."
            )
        if not self.access_token and not (self.tenant_id and self.client_id):
            raise ValueError("A client secret or certificate needs the tenant id and the client id.")
        if self.max_retries < 0:
            raise ValueError("max_retries cannot be negative")

    @property
    def graph_root(self) -> str:
        """`https://graph.microsoft.com` (or the national cloud's, or a simulator's)."""
        return (self.graph_url or self.cloud.graph_url).rstrip("/")

    @property
    def api_root(self) -> str:
        """Every request path is relative to this: `https://graph.microsoft.com/v1.0`."""
        return f"{self.graph_root}/{API_VERSION}"

    @property
    def authority(self) -> str:
        """The tenant's login authority: `https://login.microsoftonline.com/{tenant}`."""
        return f"{(self.authority_url or self.cloud.login_authority).rstrip('/')}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """Client credentials ask for the resource's `.default` scope: every granted app permission."""
        return f"{self.graph_root}/.default"
