"""`PRICES_FILE`: the operator's monthly price per license of each product, as CSV (R22).

    product,monthly_price,currency
    ENTERPRISEPACK,23.00,USD
    DESKLESSPACK,8.00,USD

A product is named by part number or sku id; one row per product.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from domain.prices import Price, Prices

__all__ = ["PricesFileError", "load_prices"]

_COLUMNS = ("product", "monthly_price", "currency")


class PricesFileError(ValueError):
    """The prices file is missing or not in the expected form; the message says what to fix."""


def load_prices(path: Path) -> Prices:
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            rows = list(csv.DictReader(lines))
    except FileNotFoundError:
        raise PricesFileError(
            f"PRICES_FILE {path} does not exist; leave it empty to show seats only."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PricesFileError(f"PRICES_FILE {path} cannot be read as UTF-8 CSV ({exc}).") from exc
    prices: dict[str, Price] = {}
    for number, row in enumerate(rows, start=2):
        missing = [name for name in _COLUMNS if not (row.get(name) or "").strip()]
        if missing:
            raise PricesFileError(
                f"PRICES_FILE {path}, line {number}: {', '.join(missing)} missing; the columns are "
                f"{','.join(_COLUMNS)} (for example ENTERPRISEPACK,23.00,USD)."
            )
        try:
            amount = Decimal(row["monthly_price"].strip())
        except InvalidOperation:
            raise PricesFileError(
                f"PRICES_FILE {path}, line {number}: {row['monthly_price'].strip()!r} is not a price "
                "(write it like 23.00)."
            ) from None
        currency = row["currency"].strip().upper()
        if amount < 0 or len(currency) != 3 or not currency.isalpha():
            raise PricesFileError(
                f"PRICES_FILE {path}, line {number}: a price is a positive amount and a three-letter "
                "currency code, like 23.00,USD."
            )
        prices[row["product"].strip()] = Price(amount, currency)
    return Prices(prices)
