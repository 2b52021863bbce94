"""One call that builds the Graph tenant directory from its configuration (for `bot/` to wire)."""

from __future__ import annotations

import httpx

from domain.catalog import ProductCatalog
from storage.graph.auth import ConfidentialAppFactory, msal_app, token_provider
from storage.graph.client import GraphClient
from storage.graph.config import GraphConfig
from storage.graph.directory import GraphDirectory

__all__ = ["graph_directory"]


def graph_directory(
    config: GraphConfig,
    *,
    catalog: ProductCatalog | None = None,
    transport: httpx.BaseTransport | None = None,
    app_factory: ConfidentialAppFactory = msal_app,
) -> GraphDirectory:
    """Token provider (msal or a given token) → pooled client with its write pacer → directory.

    Build it once per process and share it: the pacer only keeps the quota if every write of the
    app goes through the same one.
    """
    client = GraphClient(config, token_provider(config, app_factory), transport=transport)
    return GraphDirectory(client, catalog=catalog, cloud=config.cloud)
