"""Settings → the Microsoft Graph tenant directory (TENANT_BACKEND=graph)."""

from __future__ import annotations

from bot.settings import ConfigurationError, Settings
from domain.catalog import ProductCatalog
from storage.graph.config import CertificateCredential, GraphConfig, WriteQuota
from storage.graph.directory import GraphDirectory
from storage.graph.factory import graph_directory

__all__ = ["build_graph_directory", "graph_config", "process_quota"]


def graph_config(settings: Settings) -> GraphConfig:
    """One credential of three (secret, certificate, token); a clear error when none or several."""
    certificate = None
    if settings.graph_certificate_path is not None:
        certificate = CertificateCredential(
            settings.graph_certificate_path,
            settings.graph_certificate_thumbprint,
            settings.graph_certificate_passphrase.get_secret_value() or None,
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
        write_quota=process_quota(settings),
        timeout_seconds=settings.graph_timeout_seconds,
    )


def process_quota(settings: Settings) -> WriteQuota:
    """This process's share of the app's write quota: Graph counts the writes of every replica on
    the app registration together, and each replica's pacer sees only its own (R17)."""
    share = settings.graph_write_quota // settings.graph_write_replicas
    if share < 1:
        raise ConfigurationError(
            f"GRAPH_WRITE_QUOTA={settings.graph_write_quota} cannot be shared by "
            f"GRAPH_WRITE_REPLICAS={settings.graph_write_replicas} processes: each needs at least one write."
        )
    return WriteQuota(share, settings.graph_write_window_seconds)


def build_graph_directory(settings: Settings, catalog: ProductCatalog | None = None) -> GraphDirectory:
    """Built once per process: every write must go through the same pacer to keep the quota."""
    return graph_directory(graph_config(settings), catalog=catalog)
