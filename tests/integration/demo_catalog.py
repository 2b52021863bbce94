"""Microsoft's product table (the demo's rows of it), as PRODUCT_TABLE_PATH gives it in production:
the catalog the Graph tests give `GraphDirectory` and the services."""

from __future__ import annotations

from domain.catalog import KnownPlan, KnownProduct, ProductCatalog
from storage.simulated.products import DEMO_PRODUCTS

DEMO_CATALOG = ProductCatalog(
    {
        part: KnownProduct(
            d.sku_id,
            part,
            d.display_name,
            (),
            tuple(KnownPlan(p.id, p.name, p.display_name) for p in d.service_plans),
        )
        for part, d in DEMO_PRODUCTS.items()
    }
)
