"""Renewal alerts (R22): on every scheduler tick, from the poll's own read, an alert per active
subscription renewing within a threshold with seats unused — once per threshold, the nearest one when
a first look finds several crossed, whatever the restarts and the number of replicas."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from domain.application.licensing import Licensing
from domain.application.subscriptions.workflows import SubscriptionWorkflows, subscription_workflows
from domain.catalog import ProductCatalog
from domain.model import SubscriptionStatus
from domain.prices import Price, Prices
from domain.waste import RenewalAlert, renewal_alerts, renewal_text, renewals_due
from domain.workflows import ReminderKind
from domain.workflows.checks import seat_subscription
from handlers.blocks.waste import parse_renewal_value, renewal_message, renewal_value
from handlers.ids import RENEWAL_REDUCE
from tests.fakes import (
    SKU_E3,
    FixedClock,
    InMemoryCommerce,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    RecordingNotifier,
    make_product,
    make_subscription,
    make_user,
)
from tests.unit.domain.application.subscriptions.test_subscriptions import WeekdaysOnly


def e3_tenant(clock: FixedClock, *, renews_in: timedelta) -> InMemoryDirectory:
    e3 = make_product("ENTERPRISEPACK", seats=25)
    holders = [make_user(f"u{n:02}", SKU_E3) for n in range(13)]
    holders.append(replace(make_user("victor", SKU_E3), account_enabled=False))
    subscription = replace(make_subscription(e3), next_lifecycle=clock.now() + renews_in)
    return InMemoryDirectory(products=[e3], users=holders, subscriptions=[subscription])


def replica(
    directory: InMemoryDirectory, uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> SubscriptionWorkflows:
    """One process's services on the shared database (`uow`): a restart or another replica."""
    catalog = ProductCatalog()
    return subscription_workflows(
        uow,
        directory,
        clock,
        catalog,
        licensing=Licensing(uow, directory, clock, catalog),
        commerce=InMemoryCommerce(directory, clock),
        calendar=WeekdaysOnly(),
        notifier=RecordingNotifier(),
    )


def test_the_nearest_crossed_threshold_only() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=2, hours=1))
    products = {p.sku_id: p for p in directory.products()}

    (alert,) = renewal_alerts(directory.subscriptions(), products, clock.now(), (14, 3))

    assert (alert.days, alert.days_left, alert.unused, alert.reduce_to) == (3, 3, 11, 14)
    assert renewal_text(alert).startswith("Office 365 E3 renews on ")
    assert "with 11 of 25 licenses unused." in renewal_text(alert)


def test_no_alert_before_a_threshold_without_unused_seats_or_for_an_inactive_subscription() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=20))
    products = {p.sku_id: p for p in directory.products()}
    subscription = directory.subscriptions()[0]
    now = clock.now()

    assert renewal_alerts([subscription], products, now, (14, 3)) == []
    soon = replace(subscription, next_lifecycle=now + timedelta(days=5))
    assert len(renewal_alerts([soon], products, now, (14, 3))) == 1
    assert renewal_alerts([replace(soon, status=SubscriptionStatus.WARNING)], products, now, (14, 3)) == []
    assert renewal_alerts([replace(soon, is_trial=True)], products, now, (14, 3)) == []
    assert renewal_alerts([replace(soon, next_lifecycle=now - timedelta(days=1))], products, now) == []
    full = {sku: replace(p, seats=replace(p.seats, consumed=25)) for sku, p in products.items()}
    assert renewal_alerts([soon], full, now, (14, 3)) == []


def test_one_alert_per_threshold_across_restarts_and_replicas() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=10))
    uow = InMemoryUnitOfWorkFactory()
    first, second = replica(directory, uow, clock), replica(directory, uow, clock)

    alerts = [r for s in (first, second, first) for r in s.ticks.tick().renewals]
    clock.advance(timedelta(minutes=10))
    alerts += [r for s in (second, first) for r in s.ticks.tick().renewals]

    assert [(r.kind, r.renewal.days if r.renewal else 0) for r in alerts] == [(ReminderKind.RENEWAL, 14)]
    alert = alerts[0].renewal
    assert isinstance(alert, RenewalAlert)
    assert alert.reclaimable == 1  # Victor's disabled account holds one
    assert "Disabled accounts hold 1 more, which `/license reclaim` frees." in alerts[0].text

    clock.advance(timedelta(days=7, hours=1))
    restarted = replica(directory, uow, clock)
    later = [r for s in (restarted, second, restarted) for r in s.ticks.tick().renewals]
    assert [r.renewal.days for r in later if r.renewal] == [3]


def test_a_first_look_finding_both_thresholds_crossed_sends_only_the_nearest() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=2))
    subscriptions = replica(directory, InMemoryUnitOfWorkFactory(), clock)

    sent = [r.renewal.days for r in subscriptions.ticks.tick().renewals if r.renewal]
    clock.advance(timedelta(hours=1))
    sent += [r.renewal.days for r in subscriptions.ticks.tick().renewals if r.renewal]

    assert sent == [3]


def test_no_thresholds_no_alerts_and_no_extra_read() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=2))
    uow = InMemoryUnitOfWorkFactory()
    catalog = ProductCatalog()
    quiet = subscription_workflows(
        uow,
        directory,
        clock,
        catalog,
        licensing=Licensing(uow, directory, clock, catalog),
        commerce=InMemoryCommerce(directory, clock),
        calendar=WeekdaysOnly(),
        notifier=RecordingNotifier(),
        renewal_days=(),
    )

    assert quiet.ticks.tick().renewals == ()


def test_with_prices_the_alert_says_what_the_unused_seats_cost() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=5))
    products = {p.sku_id: p for p in directory.products()}
    prices = Prices({"ENTERPRISEPACK": Price(Decimal("23"), "USD")})

    (due,) = renewals_due(directory.subscriptions(), clock.now(), (14, 3))
    alert = due.alert(products[due.subscription.sku_id], prices)

    assert alert is not None
    assert "with 11 of 25 licenses unused (USD 253.00 a month)." in renewal_text(alert)
    assert due.alert(None) is None


def test_reduce_never_goes_to_zero_and_a_one_seat_subscription_is_offered_cancelling() -> None:
    clock = FixedClock()
    e3 = make_product("ENTERPRISEPACK", seats=1)
    lone = replace(make_subscription(e3, total=1), next_lifecycle=clock.now() + timedelta(days=2))
    (alert,) = renewal_alerts([lone], {e3.sku_id: e3}, clock.now())

    assert (alert.unused, alert.reduce_to, alert.can_reduce) == (1, 1, False)
    shown = str(renewal_message(alert).to_dict())
    assert RENEWAL_REDUCE not in shown
    assert "/subscription cancel ENTERPRISEPACK" in shown


def test_the_reduce_button_names_the_alerted_subscription() -> None:
    clock = FixedClock()
    directory = e3_tenant(clock, renews_in=timedelta(days=5))
    products = {p.sku_id: p for p in directory.products()}
    (alert,) = renewal_alerts(directory.subscriptions(), products, clock.now())

    assert parse_renewal_value(renewal_value(alert)) == (
        alert.subscription.sku_id,
        -11,
        alert.key,
        alert.subscription.id,
    )
    assert parse_renewal_value("sku|+3|renewal:x:2026-01-01:3") is None
    assert parse_renewal_value("garbage") is None
    other = replace(alert.subscription, id="sub-bigger", total_licenses=50)
    e3 = products[alert.subscription.sku_id]
    assert (
        seat_subscription(e3, [other, alert.subscription], -11, alert.subscription.id) == alert.subscription
    )
