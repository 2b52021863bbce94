"""Settings → the Microsoft Graph tenant directory (TENANT_BACKEND=graph)."""

from __future__ import annotations

from bot.settings import ConfigurationError, Settings
from domain.catalog import ProductCatalog
from storage.graph.config import CertificateCredential, GraphConfig, WriteQuota
from storage.graph.directory import GraphDirectory
from storage.graph.factory import graph_directory

__all__ = ["build_graph_directory", "graph_config"]


def graph_config(settings: Settings) -> GraphConfig:
    """One credential of three (secret, certificate, token); a clear error when none or several."""
    certificate = None
    if settings.graph_certificate_path is not None:
        certificate = CertificateCredential(
            settings.graph_certificate_path, settings.graph_certificate_thumbprint
        )
    try:
        return _config(settings, certificate)
    except ValueError as exc:
        raise ConfigurationError(f"TENANT_BACKEND=graph: {exc}") from exc


def _config(settings: Settings, certificate: CertificateCredential | None) -> GraphConfig:
    return GraphConfig(
        tenant_id=settings.graph_tenant_id,
        client_id=settings.graph_client_id,
        client_secret=settings.graph_client_secret.get_secret_value() or None,
        certificate=certificate,
        access_token=settings.graph_access_token.get_secret_value() or None,
        cloud=settings.m365_cloud,
        graph_url=settings.graph_api_url,
        authority_url=settings.graph_login_url,
        write_quota=WriteQuota(settings.graph_write_quota, settings.graph_write_window_seconds),
    )


def build_graph_directory(settings: Settings, catalog: ProductCatalog | None = None) -> GraphDirectory:
    """Built once per process: every write must go through the same pacer to keep the quota."""
    return graph_directory(graph_config(settings), catalog=catalog)
