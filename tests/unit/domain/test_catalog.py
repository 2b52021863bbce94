"""R1: what admins type for a product (skuId, part number, display name, alias) → one product."""

from __future__ import annotations

import pytest

from domain.catalog import COMMON_PRODUCTS, ProductCatalog, parse_product_table
from domain.errors import AmbiguousProduct, UnknownProduct
from domain.model import Product
from tests.fakes import SKU_E3, SKU_E5, SKU_F3, SKU_M365_E5, make_product

E3 = make_product("ENTERPRISEPACK")
F3 = make_product("DESKLESSPACK")
O365_E5 = make_product("ENTERPRISEPREMIUM")
M365_E5 = make_product("SPE_E5")
TENANT: list[Product] = [E3, F3, O365_E5, M365_E5]


@pytest.fixture
def catalog() -> ProductCatalog:
    return ProductCatalog()


@pytest.mark.parametrize(
    "key",
    [
        SKU_E3,
        SKU_E3.upper(),
        "ENTERPRISEPACK",
        "enterprisepack",
        "Office 365 E3",
        "office 365 e3",
        "  OFFICE365E3 ",
        "E3",
        "e3",
    ],
)
def test_r1_resolves_by_sku_id_part_number_display_name_or_alias(catalog: ProductCatalog, key: str) -> None:
    assert catalog.resolve(key, TENANT) == E3


def test_r1_resolves_the_long_alias_of_microsoft_365_e5(catalog: ProductCatalog) -> None:
    assert catalog.resolve("M365 E5", TENANT) == M365_E5
    assert catalog.resolve("Microsoft 365 E5", TENANT) == M365_E5
    assert catalog.resolve(SKU_E5, TENANT) == O365_E5


def test_r1_alias_shared_by_two_products_of_the_tenant_asks_which_one(catalog: ProductCatalog) -> None:
    with pytest.raises(AmbiguousProduct) as refused:
        catalog.resolve("E5", TENANT)

    assert set(refused.value.choices) == {
        ("ENTERPRISEPREMIUM", "Office 365 E5"),
        ("SPE_E5", "Microsoft 365 E5"),
    }
    assert "Office 365 E5" in refused.value.message
    assert "Microsoft 365 E5" in refused.value.message
    assert "full name" in refused.value.fix
    assert "ENTERPRISEPREMIUM" not in refused.value.message
    assert refused.value.rule == "R1"


def test_r1_alias_is_not_ambiguous_when_the_tenant_has_only_one_of_its_products(
    catalog: ProductCatalog,
) -> None:
    assert catalog.resolve("E5", [E3, O365_E5]) == O365_E5
    assert catalog.resolve("E5", [E3, M365_E5]) == M365_E5


def test_r1_alias_given_by_the_tenant_adapter_counts_too(catalog: ProductCatalog) -> None:
    custom = make_product("CONTOSO_KIOSK", sku_id="0000aaaa-0000-0000-0000-000000000001", aliases=("Kiosk",))

    assert catalog.resolve("kiosk", [*TENANT, custom]) == custom


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [
        # E5 names two products of this tenant, so each is shown by a name of its own.
        ("E55", ["Office 365 E5", "Microsoft 365 E5 (M365 E5)"]),
        ("Ofice 365 E3", ["Office 365 E3 (E3)"]),
        ("ENTERPRISEPAK", ["Office 365 E3 (E3)"]),
    ],
)
def test_r1_unknown_product_suggests_the_closest_as_admins_type_them(
    catalog: ProductCatalog, typo: str, suggested: list[str]
) -> None:
    with pytest.raises(UnknownProduct) as refused:
        catalog.resolve(typo, TENANT)

    assert refused.value.suggestions[: len(suggested)] == tuple(suggested)
    assert "Did you mean" in refused.value.fix
    assert refused.value.rule == "R1"


DEMO = [
    E3,
    *(
        make_product(part, sku_id=known.sku_id, display_name=known.display_name)
        for part, known in COMMON_PRODUCTS.items()
        if part in ("ENTERPRISEWITHSCAL", "SPB", "MCOMEETADV")
    ),
    O365_E5,
    F3,
]


@pytest.mark.parametrize(
    ("typed", "fix"),
    [
        # The nearest tier first, and never a part number the admin did not type.
        ("E7", "Did you mean Office 365 E5 (E5), Office 365 E4 (E4) or Office 365 E3 (E3)?"),
        # The edition the tenant has, not every product whose name starts with "Microsoft 365".
        ("Microsoft 365 E5", "Did you mean Office 365 E5 (E5)?"),
        ("Business Premum", "Did you mean Microsoft 365 Business Premium (BP)?"),
    ],
)
def test_r1_unknown_product_suggestions_are_ranked_and_named_as_admins_type_them(
    catalog: ProductCatalog, typed: str, fix: str
) -> None:
    with pytest.raises(UnknownProduct) as refused:
        catalog.resolve(typed, DEMO)

    assert refused.value.fix == fix
    assert "ENTERPRISE" not in refused.value.message


def test_r1_unknown_product_without_anything_close_lists_what_the_tenant_has(
    catalog: ProductCatalog,
) -> None:
    with pytest.raises(UnknownProduct) as refused:
        catalog.resolve("Visio", [E3, F3])

    assert refused.value.suggestions == ()
    assert refused.value.fix == "The tenant has: Office 365 E3 (E3), Office 365 F3 (F3)."


def test_r1_empty_product_name_is_unknown(catalog: ProductCatalog) -> None:
    with pytest.raises(UnknownProduct):
        catalog.resolve("  ", TENANT)


def test_r1_resolve_any_finds_a_product_the_tenant_does_not_have_yet(catalog: ProductCatalog) -> None:
    known = catalog.resolve_any("Office 365 E5", [E3])

    assert (known.sku_id, known.part_number) == (SKU_E5, "ENTERPRISEPREMIUM")
    assert catalog.resolve_any("M365 E5", [E3]).sku_id == SKU_M365_E5


def test_r1_resolve_any_prefers_the_tenants_own_product(catalog: ProductCatalog) -> None:
    assert catalog.resolve_any("E3", [E3]).sku_id == SKU_E3
    assert catalog.resolve_any("F3", [F3]).sku_id == SKU_F3


def test_r1_resolve_any_asks_when_an_alias_fits_several_products_for_sale(catalog: ProductCatalog) -> None:
    with pytest.raises(AmbiguousProduct) as refused:
        catalog.resolve_any("E5", [E3])

    assert {part for part, _ in refused.value.choices} == {"ENTERPRISEPREMIUM", "SPE_E5"}


def test_r1_resolve_any_unknown_name_suggests_from_everything_for_sale(catalog: ProductCatalog) -> None:
    with pytest.raises(UnknownProduct) as refused:
        catalog.resolve_any("Office 365 E33", [])

    assert "Office 365 E3" in refused.value.suggestions


TABLE = (
    "\ufeffProduct_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,"
    "Service_Plans_Included_Friendly_Names\n"
    "Office 365 E3,ENTERPRISEPACK,6FD2C87F-B296-42F0-B197-1E91E994B900,SWAY,"
    "a23b959c-7ce8-4e57-9140-b90eb88a9e97,Sway\n"
    "Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,MCOSTANDARD,"
    "0feaeb32-d00e-4d66-bd5a-43b5b83db82c,Skype for Business Online (Plan 2)\n"
    "Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,SWAY,"
    "a23b959c-7ce8-4e57-9140-b90eb88a9e97,Sway\n"
    '"Microsoft Teams Rooms Pro",Microsoft_Teams_Rooms_Pro,4cde982a-ede4-4409-9ae6-b003453c8ea6,'
    "TEAMS1,57ff2da0-773e-42df-b2af-ffb7a2317929,Microsoft Teams\n"
)


def test_r1_parse_product_table_reads_microsofts_csv_with_its_bom() -> None:
    products = parse_product_table(TABLE.splitlines(keepends=True))

    e3 = products["ENTERPRISEPACK"]
    assert e3.sku_id == SKU_E3  # lower-cased
    assert e3.display_name == "Office 365 E3"
    assert e3.aliases == ("E3",)  # from the built-in table
    assert [(plan.name, plan.display_name) for plan in e3.service_plans] == [
        ("SWAY", "Sway"),
        ("MCOSTANDARD", "Skype for Business Online (Plan 2)"),
    ]
    rooms = products["Microsoft_Teams_Rooms_Pro"]
    assert rooms.aliases == ()
    assert rooms.service_plans[0].id == "57ff2da0-773e-42df-b2af-ffb7a2317929"


def test_r1_parsed_table_widens_the_catalog() -> None:
    catalog = ProductCatalog(parse_product_table(TABLE.splitlines()))

    assert catalog.resolve_any("Microsoft Teams Rooms Pro", []).part_number == "Microsoft_Teams_Rooms_Pro"
    assert catalog.display_name("Microsoft_Teams_Rooms_Pro") == "Microsoft Teams Rooms Pro"


def test_r1_parse_product_table_refuses_other_columns() -> None:
    with pytest.raises(ValueError, match="GUID"):
        parse_product_table(["Product_Display_Name,String_Id,Sku\n", "Office 365 E3,ENTERPRISEPACK,x\n"])
