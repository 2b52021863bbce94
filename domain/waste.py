"""Waste (R22): licenses held by accounts that are disabled or nobody signs in to any more, and
seats paid for but unused, which can often be reduced only at renewal (`nextLifecycleDateTime`).

Pure rules: which account counts as inactive, what reclaiming takes from a user, and the words for
what a set of reclaimed licenses frees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.changes import UserChange
from domain.model import Product, Subscription, User
from domain.prices import Price, Prices, monthly

__all__ = [
    "RECLAIM_DISABLED",
    "RECLAIM_INACTIVE",
    "RENEWAL_ALERT_DAYS",
    "RenewalAlert",
    "RenewalDue",
    "WasteSummary",
    "is_inactive",
    "reclaim_change",
    "reclaim_changes",
    "renewal_alerts",
    "renewal_text",
    "renewals_due",
    "waste_line",
    "waste_summary",
]

RENEWALS_AHEAD = timedelta(days=30)
"""The digest names the renewals within this time."""

RENEWAL_ALERT_DAYS = (14, 3)
"""Days before a renewal when its alert is sent, unless the settings say otherwise."""

RECLAIM_DISABLED = "Licenses of disabled accounts"
RECLAIM_INACTIVE = "Licenses of disabled and inactive accounts"


def is_inactive(user: User, now: datetime, days: int) -> bool:
    """Nobody signed in to the account for `days` (R22): its latest sign-in, interactive or not, is
    older; or it never signed in and was created before that (a new account is not inactive)."""
    cutoff = now - timedelta(days=days)
    if user.last_sign_in is not None:
        return user.last_sign_in < cutoff
    return user.created is not None and user.created < cutoff


def reclaim_change(user: User) -> UserChange | None:
    """Every license assigned to the user directly goes, in one write (None: they hold none so).

    A license inherited from a group (R21) is the group's to change and is never written here
    (Graph refuses to remove it from the user): `inherited_reasons` names it with its group.
    """
    direct = user.direct_licenses
    if not direct:
        return None
    return UserChange(
        user.id,
        user.user_principal_name,
        user.display_name,
        tuple(sorted(direct, key=lambda lic: lic.sku_id)),
        (),
    )


def inherited_reasons(
    users: Iterable[User], group_names: Mapping[str, str], product_names: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(user, why) for users whose licenses all come from groups (R21): the reclaim cannot take
    them; the fix is the group membership or the group's license."""
    reasons: list[tuple[str, str]] = []
    for user in users:
        kept = [
            f"{product_names.get(state.sku_id, state.sku_id)} through the group "
            f"{group_names.get(state.group_id, 'that gives it')}"
            for state in user.states
            if state.group_id is not None and not state.in_error
        ]
        if kept:
            reasons.append(
                (
                    user.display_name,
                    f"keeps {', '.join(kept)}: remove them from the group, or change the group's "
                    "license, to free that seat",
                )
            )
    return reasons


def reclaim_changes(users: Iterable[User]) -> list[UserChange]:
    """One change per user holding licenses, each user once, in the order given."""
    seen: set[str] = set()
    changes: list[UserChange] = []
    for user in users:
        if user.id in seen:
            continue
        seen.add(user.id)
        change = reclaim_change(user)
        if change is not None:
            changes.append(change)
    return changes


@dataclass(frozen=True, slots=True)
class RenewalAlert:
    """An active subscription renewing soon with seats unused (R22): seats can often be reduced only
    at renewal, so this is the moment to say so. One per subscription, renewal and threshold."""

    subscription: Subscription
    product_name: str
    renews_at: datetime
    days: int
    """The threshold crossed (14, 3…): the alert's place in the sequence."""
    days_left: int
    """Whole days until the renewal, rounded up, when the alert was made."""
    unused: int
    """The product's enabled seats minus those in use, at most this subscription's licenses."""
    reclaimable: int | None = None
    """Licenses of the product held by disabled accounts (None: not read)."""
    unused_monthly: Price | None = None
    """What the unused seats cost a month (`PRICES_FILE`; None: no price known)."""

    @property
    def key(self) -> str:
        """Claimed once (`IdempotencyKeys`), so restarts and replicas send it once; the renewal date
        is part of it, so next year's renewal alerts again."""
        return f"renewal:{self.subscription.id}:{self.renews_at:%Y-%m-%d}:{self.days}"

    @property
    def reduce_to(self) -> int:
        """What the subscription can go down to: never zero (that is cancelling it)."""
        return max(self.subscription.total_licenses - self.unused, 1)

    @property
    def can_reduce(self) -> bool:
        return self.reduce_to < self.subscription.total_licenses

    def with_reclaimable(self, count: int | None) -> RenewalAlert:
        return replace(self, reclaimable=count)


@dataclass(frozen=True, slots=True)
class RenewalDue:
    """A subscription whose renewal has crossed a threshold, known from the subscriptions alone:
    whether its alert says anything depends on the product's seats (`alert`)."""

    subscription: Subscription
    renews_at: datetime
    days: int
    days_left: int

    @property
    def key(self) -> str:
        """Claimed once (`IdempotencyKeys`), so restarts and replicas send it once; the renewal date
        is part of it, so next year's renewal alerts again."""
        return f"renewal:{self.subscription.id}:{self.renews_at:%Y-%m-%d}:{self.days}"

    def alert(self, product: Product | None, prices: Prices | None = None) -> RenewalAlert | None:
        """The alert, when the product has seats unused (None: nothing to say)."""
        if product is None:
            return None
        unused = min(product.seats.enabled - product.seats.consumed, self.subscription.total_licenses)
        if unused <= 0:
            return None
        return RenewalAlert(
            self.subscription,
            product.display_name,
            self.renews_at,
            self.days,
            self.days_left,
            unused,
            unused_monthly=prices.of_seats(product, unused) if prices else None,
        )


def renewals_due(
    subscriptions: Sequence[Subscription], now: datetime, thresholds: Sequence[int] = RENEWAL_ALERT_DAYS
) -> list[RenewalDue]:
    """Each active subscription with a renewal date ahead, at the nearest threshold it has crossed
    (one, when a first look finds several crossed: the 3-day alert, not the 14-day one too)."""
    due: list[RenewalDue] = []
    for subscription in subscriptions:
        renews_at = subscription.next_lifecycle
        if (
            not subscription.status.is_active
            or subscription.is_trial
            or renews_at is None
            or renews_at <= now
        ):
            continue
        days_left = math.ceil((renews_at - now) / timedelta(days=1))
        crossed = [days for days in thresholds if days_left <= days]
        if crossed:
            due.append(RenewalDue(subscription, renews_at, min(crossed), days_left))
    return due


def renewal_alerts(
    subscriptions: Sequence[Subscription],
    products: Mapping[str, Product],
    now: datetime,
    thresholds: Sequence[int] = RENEWAL_ALERT_DAYS,
) -> list[RenewalAlert]:
    """The alerts due now: `renewals_due` whose product has seats unused."""
    return [
        alert
        for due in renewals_due(subscriptions, now, thresholds)
        if (alert := due.alert(products.get(due.subscription.sku_id))) is not None
    ]


def renewal_text(alert: RenewalAlert) -> str:
    """The alert in plain words: "Office 365 E3 renews on 21 Dec with 12 of 25 licenses unused."."""
    total = alert.subscription.total_licenses
    cost = f" ({monthly([alert.unused_monthly])})" if alert.unused_monthly is not None else ""
    text = (
        f"{alert.product_name} renews on {alert.renews_at:%d %b} with {alert.unused:,} of {total:,} "
        f"licenses unused{cost}."
    )
    if alert.reclaimable:
        text += f" Disabled accounts hold {alert.reclaimable:,} more, which `/license reclaim` frees."
    return text


@dataclass(frozen=True, slots=True)
class WasteSummary:
    """The digest's line on waste (R22)."""

    unused: tuple[tuple[str, int, Price | None], ...]
    """(product name, seats unused, what they cost a month) of the active products applying to
    users, most unused first."""
    disabled_licenses: int
    disabled_accounts: int
    renewals: tuple[tuple[str, datetime], ...]
    """(product name, renewal date) of the active subscriptions renewing within 30 days, soonest first."""


def waste_summary(
    products: Iterable[Product],
    subscriptions: Iterable[Subscription],
    disabled: Iterable[User],
    now: datetime,
    prices: Prices | None = None,
) -> WasteSummary:
    products = list(products)
    names = {p.sku_id: p.display_name for p in products}
    unused = sorted(
        (
            (
                p.display_name,
                p.seats.enabled - p.seats.consumed,
                prices.of_seats(p, p.seats.enabled - p.seats.consumed) if prices else None,
            )
            for p in products
            if p.assignable_to_users and p.seats.enabled > p.seats.consumed
        ),
        key=lambda item: (-item[1], item[0]),
    )
    holders = [user for user in disabled if user.licenses]
    renewals = sorted(
        (
            (names.get(s.sku_id, s.part_number), s.next_lifecycle)
            for s in subscriptions
            if s.status.is_active
            and not s.is_trial
            and s.next_lifecycle is not None
            and now < s.next_lifecycle <= now + RENEWALS_AHEAD
        ),
        key=lambda item: item[1],
    )
    return WasteSummary(
        tuple(unused),
        sum(len(user.licenses) for user in holders),
        len(holders),
        tuple(renewals),
    )


def waste_line(summary: WasteSummary) -> str:
    """`Waste: unused seats: Office 365 E3 11, Office 365 F3 3 · 3 licenses on 2 disabled accounts
    (/license reclaim) · renewing within 30 days: Office 365 F3 on 17 Dec.`"""
    parts = []
    if summary.unused:
        parts.append(
            "unused seats: "
            + ", ".join(
                f"{name} {count:,}" + (f" ({monthly([cost])})" if cost else "")
                for name, count, cost in summary.unused
            )
        )
    if summary.disabled_licenses:
        accounts = (
            f"{summary.disabled_accounts:,} disabled account{'s' if summary.disabled_accounts != 1 else ''}"
        )
        licenses = f"{summary.disabled_licenses:,} license{'s' if summary.disabled_licenses != 1 else ''}"
        parts.append(f"{licenses} on {accounts} (`/license reclaim`)")
    if summary.renewals:
        parts.append(
            "renewing within 30 days: "
            + ", ".join(f"{name} on {when:%d %b}" for name, when in summary.renewals)
        )
    return "Waste: " + (" · ".join(parts) if parts else "none found") + "."
