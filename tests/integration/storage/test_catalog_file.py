"""Microsoft's product table read from a file, and clear errors for a file that is not it."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.catalog_file import ProductTableError, load_product_table

HEADER = (
    "Product_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,"
    "Service_Plans_Included_Friendly_Names"
)


@pytest.mark.reference
def test_microsofts_table_loads_with_every_product(reference_dir: Path) -> None:
    table = load_product_table(reference_dir / "m365-product-service-plans.csv")

    assert len(table) == 568
    e5 = table["ENTERPRISEPREMIUM"]
    assert e5.sku_id == "c7df2760-2c81-4ef7-b578-5b5392b571df"
    assert e5.display_name == "Office 365 E5"
    assert "MCOMEETADV" in {p.name for p in e5.service_plans}
    assert e5.aliases == ("E5",)


def test_a_small_table_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes(
        (
            "\ufeff" + HEADER + "\r\n"
            "Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,SWAY,"
            "a23b959c-7ce8-4e57-9140-b90eb88a9e97,Sway\r\n"
        ).encode()
    )

    [(part, product)] = load_product_table(path).items()

    assert part == "ENTERPRISEPACK"
    assert [p.name for p in product.service_plans] == ["SWAY"]


def test_a_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ProductTableError, match=r"does not exist\. Download the CSV from https://learn"):
        load_product_table(tmp_path / "absent.csv")


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ProductTableError, match="cannot be read"):
        load_product_table(tmp_path)


def test_another_csv_is_not_the_product_table(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("name,email\nAlice,alice@contoso.com\n")
    with pytest.raises(ProductTableError, match=r"users\.csv: Not Microsoft's product table: columns"):
        load_product_table(path)


def test_a_binary_file_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "products.xlsx"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(ProductTableError, match="not UTF-8 text"):
        load_product_table(path)


def test_a_table_without_rows_has_no_products(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(HEADER + "\n")
    with pytest.raises(ProductTableError, match="lists no products"):
        load_product_table(path)
