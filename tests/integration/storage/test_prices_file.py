"""`PRICES_FILE` (R22): product,monthly_price,currency; wrong files are refused with what to fix."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.settings import ConfigurationError, Settings
from domain.prices import Price
from storage.prices_file import PricesFileError, load_prices
from tests.fakes import make_product


def test_prices_by_part_number_or_sku_id(tmp_path: Path) -> None:
    e3, f3 = make_product("ENTERPRISEPACK"), make_product("DESKLESSPACK")
    path = tmp_path / "prices.csv"
    path.write_text(
        f"product,monthly_price,currency\nenterprisepack,23.00,USD\n{f3.sku_id},8,eur\n", encoding="utf-8"
    )

    prices = load_prices(path)

    assert prices.of(e3) == Price(Decimal("23.00"), "USD")
    assert prices.of_seats(f3, 3) == Price(Decimal("24"), "EUR")
    assert prices.of(make_product("SHAREPOINTSTORAGE")) is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("product,monthly_price,currency\nENTERPRISEPACK,cheap,USD\n", "'cheap' is not a price"),
        ("product,monthly_price,currency\nENTERPRISEPACK,23,dollars\n", "three-letter currency code"),
        ("product,price\nENTERPRISEPACK,23\n", "monthly_price, currency missing"),
    ],
)
def test_a_wrong_file_says_what_to_fix(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(PricesFileError, match=problem):
        load_prices(path)


def test_a_missing_file_stops_the_bot_with_the_setting_to_fix(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}", prices_file=tmp_path / "nope.csv")

    with pytest.raises(ConfigurationError, match=r"PRICES_FILE .* does not exist"):
        bootstrap(settings)
