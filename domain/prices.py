"""Prices (R22, optional): what a product costs a month per license, from the operator's own file
(`PRICES_FILE`), to show money next to seats in renewal alerts, the digest and reclaim previews.
Nothing is hard-coded: without the file, only seats are shown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.model import Product

__all__ = ["Price", "Prices", "monthly"]


@dataclass(frozen=True, slots=True)
class Price:
    """One license a month."""

    amount: Decimal
    currency: str

    def times(self, seats: int) -> Price:
        return Price(self.amount * seats, self.currency)

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"


class Prices:
    """Monthly prices by product, keyed by part number or sku id (case-insensitive)."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices = {key.strip().casefold(): price for key, price in (prices or {}).items()}

    def __bool__(self) -> bool:
        return bool(self._prices)

    def of(self, product: Product) -> Price | None:
        return self._prices.get(product.part_number.casefold()) or self._prices.get(product.sku_id.casefold())

    def of_seats(self, product: Product, seats: int) -> Price | None:
        price = self.of(product)
        return price.times(seats) if price is not None else None


def monthly(prices: Iterable[Price | None]) -> str:
    """`USD 57.00 a month` (a sum per currency), or "" when no price is known."""
    totals: dict[str, Decimal] = {}
    for price in prices:
        if price is not None:
            totals[price.currency] = totals.get(price.currency, Decimal(0)) + price.amount
    if not totals:
        return ""
    return (
        " + ".join(str(Price(amount, currency)) for currency, amount in sorted(totals.items())) + " a month"
    )
