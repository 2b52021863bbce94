"""Microsoft's "Product names and service plan identifiers for licensing" CSV, read from a file.

Optional widening of the product catalog (R1): with it, `/subscription buy` knows every product
Microsoft sells by name, not only the common ones.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Final

from domain.catalog import KnownProduct, parse_product_table

__all__ = ["ProductTableError", "load_product_table"]

SOURCE: Final = "https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference"


class ProductTableError(Exception):
    """The product table file is missing, unreadable or not Microsoft's table."""


def load_product_table(path: Path) -> dict[str, KnownProduct]:
    """Products by part number, from the CSV (UTF-8, with or without a byte order mark)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            products = parse_product_table(lines)
    except FileNotFoundError:
        raise ProductTableError(
            f"The product table {path} does not exist. Download the CSV from {SOURCE}, "
            "or leave the setting empty to use the built-in list of common products."
        ) from None
    except UnicodeDecodeError as exc:
        raise ProductTableError(f"The product table {path} is not UTF-8 text ({exc.reason}).") from exc
    except OSError as exc:
        raise ProductTableError(f"The product table {path} cannot be read: {exc.strerror or exc}.") from exc
    except csv.Error as exc:
        raise ProductTableError(f"{path} is not a readable CSV file: {exc}.") from exc
    except ValueError as exc:  # parse_product_table: the columns are not Microsoft's
        raise ProductTableError(f"{path}: {exc}.") from exc
    if not products:
        raise ProductTableError(f"{path} is Microsoft's product table, but it lists no products.")
    return products
