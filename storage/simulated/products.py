"""The demo tenant's products with their real ids and service plans (R1), from `domain.product_table`.

The demo sells the products whose service plans the table lists; `COMPANY_PRODUCTS` and
`COMPANY_PLANS` say which of them, and which of their plans, apply to the company rather than to users.
`tests/integration/storage/simulated/test_products.py` checks the table against Microsoft's CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from domain.model import ServicePlan
from domain.product_table import COMPANY_PLANS, COMPANY_PRODUCTS, PRODUCT_ROWS, ProductRow

__all__ = [
    "AUDIO_CONFERENCING",
    "BUSINESS_PREMIUM",
    "COMPANY_PLANS",
    "DEMO_PRODUCTS",
    "EXTRA_FILE_STORAGE",
    "O365_E3",
    "O365_E4",
    "O365_E5",
    "O365_F3",
    "ProductDefinition",
]

O365_E3: Final = "ENTERPRISEPACK"
O365_E4: Final = "ENTERPRISEWITHSCAL"
O365_E5: Final = "ENTERPRISEPREMIUM"
O365_F3: Final = "DESKLESSPACK"
BUSINESS_PREMIUM: Final = "SPB"
AUDIO_CONFERENCING: Final = "MCOMEETADV"
EXTRA_FILE_STORAGE: Final = "SHAREPOINTSTORAGE"


@dataclass(frozen=True, slots=True)
class ProductDefinition:
    sku_id: str
    part_number: str
    display_name: str
    applies_to: str
    service_plans: tuple[ServicePlan, ...]


def _definition(row: ProductRow) -> ProductDefinition:
    return ProductDefinition(
        row.sku_id,
        row.part_number,
        row.display_name,
        "Company" if row.part_number in COMPANY_PRODUCTS else "User",
        tuple(
            ServicePlan(
                plan.id, plan.name, plan.display_name, "Company" if plan.name in COMPANY_PLANS else "User"
            )
            for plan in row.service_plans
        ),
    )


DEMO_PRODUCTS: Final[Mapping[str, ProductDefinition]] = {
    part: _definition(PRODUCT_ROWS[part])
    for part in (O365_E3, O365_E4, O365_E5, O365_F3, BUSINESS_PREMIUM, AUDIO_CONFERENCING, EXTRA_FILE_STORAGE)
}
