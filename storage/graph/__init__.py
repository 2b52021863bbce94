"""The tenant directory over Microsoft Graph v1.0: msal + httpx, `$batch`, paging, a write pacer."""

from __future__ import annotations

from storage.graph.auth import MsalTokenProvider, StaticTokenProvider, TokenProvider, token_provider
from storage.graph.client import ClientStats, GraphClient, GraphRequest, GraphResponse
from storage.graph.config import CertificateCredential, GraphConfig, WriteQuota
from storage.graph.directory import GraphDirectory
from storage.graph.errors import (
    GraphAccessDenied,
    GraphRefused,
    GraphRequestError,
    GraphSignInFailed,
    MissingServiceDependency,
    ProhibitedInUsageLocation,
)
from storage.graph.factory import graph_directory
from storage.graph.pacer import PacerStats, WritePacer

__all__ = [
    "CertificateCredential",
    "ClientStats",
    "GraphAccessDenied",
    "GraphClient",
    "GraphConfig",
    "GraphDirectory",
    "GraphRefused",
    "GraphRequest",
    "GraphRequestError",
    "GraphResponse",
    "GraphSignInFailed",
    "MissingServiceDependency",
    "MsalTokenProvider",
    "PacerStats",
    "ProhibitedInUsageLocation",
    "StaticTokenProvider",
    "TokenProvider",
    "WritePacer",
    "WriteQuota",
    "graph_directory",
    "token_provider",
]
