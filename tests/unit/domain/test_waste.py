"""The daily digest's line on waste (R22): unused seats per product, licenses on disabled accounts,
renewals within 30 days; read from the tenant once the digest is claimed, never inside its unit of
work."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from domain.commands import BuySubscription
from domain.prices import Price, Prices
from domain.waste import waste_line, waste_summary
from domain.workflows import ReminderKind
from tests.fakes import SKU_E3, FixedClock, make_product, make_subscription, make_user
from tests.unit.domain.application.subscriptions.test_subscriptions import BILL, world


def test_the_line_names_unused_seats_disabled_accounts_and_renewals() -> None:
    now = FixedClock().now()
    e3, f3 = make_product("ENTERPRISEPACK", seats=25), make_product("DESKLESSPACK", seats=5)
    e3 = replace(e3, seats=replace(e3.seats, consumed=14))
    f3 = replace(f3, seats=replace(f3.seats, consumed=5))
    soon = replace(make_subscription(e3), next_lifecycle=now + timedelta(days=10))
    later = replace(make_subscription(f3), next_lifecycle=now + timedelta(days=90))
    disabled = [replace(make_user("victor", SKU_E3), account_enabled=False), make_user("gone")]

    summary = waste_summary([e3, f3], [soon, later], disabled, now)

    assert summary.unused == (("Office 365 E3", 11, None),)
    assert (summary.disabled_licenses, summary.disabled_accounts) == (1, 1)
    assert waste_line(summary) == (
        "Waste: unused seats: Office 365 E3 11 · 1 license on 1 disabled account (`/license reclaim`) · "
        f"renewing within 30 days: Office 365 E3 on {soon.next_lifecycle:%d %b}."
    )


def test_the_digest_carries_the_line() -> None:
    w = world()
    e3 = next(s for s in w.directory.subscriptions() if s.part_number == "ENTERPRISEPACK")
    w.directory.put_subscription(replace(e3, next_lifecycle=w.clock.now() + timedelta(days=12)))
    w.directory.add_user(replace(make_user("victor", SKU_E3), account_enabled=False))
    w.subscriptions.starts.buy(BuySubscription(BILL, "E5", 2))  # in flight: the digest is due

    (sent,) = [r for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.DIGEST]

    assert sent.waste is not None
    assert "Waste: unused seats: Office 365 E3 7" in sent.text
    assert "1 license on 1 disabled account (`/license reclaim`)" in sent.text
    assert "renewing within 30 days: Office 365 E3 on" in sent.text
    assert [r for r in w.subscriptions.ticks.due_reminders() if r.kind is ReminderKind.DIGEST] == []


def test_with_prices_the_line_says_what_unused_seats_cost() -> None:
    now = FixedClock().now()
    e3 = make_product("ENTERPRISEPACK", seats=25)
    e3 = replace(e3, seats=replace(e3.seats, consumed=14))
    prices = Prices({"ENTERPRISEPACK": Price(Decimal("23.00"), "USD")})

    summary = waste_summary([e3], [], [], now, prices)

    assert waste_line(summary) == "Waste: unused seats: Office 365 E3 11 (USD 253.00 a month)."
