"""The simulated Graph API's organization, its products (`subscribedSkus`) and its subscriptions
(`directory/subscriptions`)."""

from __future__ import annotations

from typing import Any

from domain.model import SubscriptionStatus
from storage.graph_sim.messages import ApiRequest, ApiResponse, ok
from storage.graph_sim.query_options import context, pick, selected_names
from storage.graph_sim.shapes import (
    ORGANIZATION_PROPERTIES,
    SUBSCRIBED_SKU_PROPERTIES,
    SUBSCRIPTION_PROPERTIES,
    organization_json,
    subscribed_sku_json,
    subscription_json,
)
from storage.graph_sim.tenant import SimTenant, TenantSource

__all__ = ["SubscriptionEndpoints"]


class SubscriptionEndpoints:
    def __init__(self, tenant: TenantSource) -> None:
        self._tenant = tenant

    def organization(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            org = organization_json(tenant.organization())
        selected = selected_names(request, ORGANIZATION_PROPERTIES, "organization")
        item = pick(org, selected)
        return ok({"@odata.context": context(request, "organization", selected), "value": [item]})

    def subscribed_skus(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            org = tenant.organization()
            subscriptions = _listed(tenant)
            items = [
                subscribed_sku_json(product, org, [s.id for s in subscriptions if s.sku_id == product.sku_id])
                for product in tenant.products()
            ]
        selected = selected_names(request, SUBSCRIBED_SKU_PROPERTIES, "subscribedSku")
        return ok(
            {
                "@odata.context": context(request, "subscribedSkus", selected),
                "value": [pick(item, selected) for item in items],
            }
        )

    def subscriptions(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            products = {p.sku_id: p for p in tenant.products()}
            items = [subscription_json(s, products.get(s.sku_id)) for s in _listed(tenant)]
        selected = selected_names(request, SUBSCRIPTION_PROPERTIES, "companySubscription")
        return ok(
            {
                "@odata.context": context(request, "directory/subscriptions", selected),
                "value": [pick(item, selected) for item in items],
            }
        )


def _listed(tenant: SimTenant) -> list[Any]:
    """A purchase still Pending is not listed by Graph yet (R9, R11)."""
    return [s for s in tenant.subscriptions() if s.status is not SubscriptionStatus.PENDING]
