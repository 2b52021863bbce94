"""The product table (`domain.product_table`, which the catalog, the demo tenant and the tests read)
is Microsoft's: same sku ids, names and service plans as the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.product_table import PRODUCT_ROWS
from storage.catalog_file import load_product_table
from storage.simulated.products import COMPANY_PLANS, DEMO_PRODUCTS


@pytest.mark.reference
@pytest.mark.parametrize("part_number", sorted(DEMO_PRODUCTS))
def test_the_demo_product_matches_microsofts_table(reference_dir: Path, part_number: str) -> None:
    table = load_product_table(reference_dir / "m365-product-service-plans.csv")
    known = table[part_number]
    demo = DEMO_PRODUCTS[part_number]

    assert demo.sku_id == known.sku_id
    assert demo.display_name == known.display_name
    assert [(p.id, p.name, p.display_name) for p in demo.service_plans] == [
        (p.id, p.name, p.display_name) for p in known.service_plans
    ]


@pytest.mark.reference
@pytest.mark.parametrize("part_number", list(PRODUCT_ROWS))
def test_every_product_of_the_table_matches_microsofts_table(reference_dir: Path, part_number: str) -> None:
    """Those carried for their names too (the catalog's common products): sku id and name as listed."""
    known = load_product_table(reference_dir / "m365-product-service-plans.csv")[part_number]
    row = PRODUCT_ROWS[part_number]

    assert (row.sku_id, row.display_name) == (known.sku_id, known.display_name)
    if row.service_plans:
        assert [(p.id, p.name, p.display_name) for p in row.service_plans] == [
            (p.id, p.name, p.display_name) for p in known.service_plans
        ]


def test_company_plans_are_marked_as_such() -> None:
    """R5: services that apply to the company come with the license automatically."""
    for product in DEMO_PRODUCTS.values():
        for plan in product.service_plans:
            assert plan.automatic == (plan.name in COMPANY_PLANS), (product.part_number, plan.name)


def test_one_demo_product_applies_to_the_company() -> None:
    """R3: Office 365 Extra File Storage cannot be assigned to a person."""
    assert [p.part_number for p in DEMO_PRODUCTS.values() if p.applies_to != "User"] == ["SHAREPOINTSTORAGE"]


def test_f3_conflicts_with_e3_e4_and_e5() -> None:
    """R6: F3 brings MCOIMP, the enterprise plans MCOSTANDARD."""

    def names(part: str) -> set[str]:
        return {p.name for p in DEMO_PRODUCTS[part].service_plans}

    assert "MCOIMP" in names("DESKLESSPACK")
    for part in ("ENTERPRISEPACK", "ENTERPRISEWITHSCAL", "ENTERPRISEPREMIUM"):
        assert "MCOSTANDARD" in names(part)
    assert "MCOMEETADV" in names("ENTERPRISEPREMIUM")  # the add-on is redundant after an E5 upgrade
