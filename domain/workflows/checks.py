"""The decisions of the subscription procedures as plain functions (R2, R10–R15, R23).

They read domain values only (products, subscriptions, users), so the services, the scheduler's
poll and the tests all ask the same questions the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.catalog import short_name
from domain.errors import (
    AmbiguousSubscription,
    DomainError,
    SeatsInUse,
    SubscriptionNotActive,
    UpgradeNotDirect,
)
from domain.model import (
    PaymentMethod,
    Product,
    PurchaseChannel,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.wording import plural
from domain.workflows.links import admin_center
from domain.workflows.notes import purchase_shown
from domain.workflows.settings import business_days
from domain.workflows.steps import StepName, StepStatus, WaitFor
from domain.workflows.workflow import ProductRef, Workflow, WorkflowKind

__all__ = [
    "E4_PART_NUMBER",
    "INEXACT_MATCH_AFTER",
    "PURCHASE_STEPS",
    "PURCHASE_WAITS",
    "SHORT_ID",
    "SWITCH_PATHS",
    "PathAdvice",
    "active_subscriptions",
    "awaits_purchase",
    "best_target",
    "by_id_suffix",
    "check_direct_purchase",
    "check_on_sale",
    "check_source_active",
    "id_suffix",
    "match_purchases",
    "not_listed_reasons",
    "only_active",
    "purchase_candidates",
    "recommend_path",
    "redundant_addons",
    "rival_purchases",
    "seat_subscription",
    "seats_wanted",
    "target_subscription",
    "users_losing_access",
]

E4_PART_NUMBER = "ENTERPRISEWITHSCAL"
"""Office 365 E4, retired: upgraded with its own rules (R14)."""

SWITCH_PATHS: frozenset[tuple[str, str]] = frozenset(
    {
        ("STANDARDPACK", "ENTERPRISEPACK"),
        ("STANDARDPACK", "ENTERPRISEPREMIUM"),
        ("STANDARDPACK", "SPE_E3"),
        ("STANDARDPACK", "SPE_E5"),
        ("ENTERPRISEPACK", "ENTERPRISEPREMIUM"),
        ("ENTERPRISEPACK", "SPE_E3"),
        ("ENTERPRISEPACK", "SPE_E5"),
        ("ENTERPRISEPREMIUM", "SPE_E5"),
        ("SPE_E3", "SPE_E5"),
        (E4_PART_NUMBER, "ENTERPRISEPACK"),
        (E4_PART_NUMBER, "ENTERPRISEPREMIUM"),
        (E4_PART_NUMBER, "SPE_E3"),
        (E4_PART_NUMBER, "SPE_E5"),
        ("O365_BUSINESS_ESSENTIALS", "O365_BUSINESS_PREMIUM"),
        ("O365_BUSINESS_ESSENTIALS", "SPB"),
        ("O365_BUSINESS_PREMIUM", "SPB"),
    }
)
"""Switches the admin center offers itself (Switch plans button, Upgrade tab): a higher plan of the same
family. Anything else is switched by hand (R15); when the admin center offers more, an admin can still
choose it — the bot only recommends."""


@dataclass(frozen=True, slots=True)
class PathAdvice:
    automatic: bool
    note: str


def recommend_path(workflow: Workflow) -> PathAdvice:
    """R15: the admin center's automatic path when everyone moves the same way and it offers the
    target; the manual procedure otherwise."""
    source = workflow.source
    if source is None:
        raise ValueError("only a switch or an upgrade has a path to decide")
    target = workflow.product
    pages = admin_center(workflow.cloud)
    upgrade = workflow.kind is WorkflowKind.UPGRADE
    if not workflow.moves_everyone:
        return PathAdvice(
            False,
            f"Only some users move, so this is a manual switch: the admin center's "
            f"{'Upgrade tab' if upgrade else 'Switch plans'} moves everyone the same way.",
        )
    if (source.part_number, target.part_number) not in SWITCH_PATHS:
        return PathAdvice(
            False,
            f"The admin center does not offer {target.display_name} as a direct switch from "
            f"{source.display_name}, so this is a manual switch.",
        )
    button = "Upgrade tab" if upgrade else "Switch plans button"
    credit = (
        f" Paying by invoice may add a credit check of up to {business_days(workflow.credit_check_days)}, "
        "during which admins have no admin center either."
        if upgrade
        else ""
    )
    return PathAdvice(
        True,
        f"Recommended: the admin center's {button} ({pages.subscriptions}, select "
        f"{source.display_name}). It buys {target.display_name}, moves every user and cancels "
        f"{source.display_name} in one go. While it runs — minutes to hours — admins cannot use the "
        f"admin center; users keep working with {source.display_name} throughout.{credit} "
        "Or let the bot do it here, step by step, with a preview before anyone is moved.",
    )


def active_subscriptions(subscriptions: Iterable[Subscription], sku_id: str) -> list[Subscription]:
    """The product's Enabled subscriptions, the largest first (R9)."""
    found = [s for s in subscriptions if s.sku_id == sku_id and s.status is SubscriptionStatus.ENABLED]
    return sorted(found, key=lambda s: (-s.total_licenses, s.id))


def check_source_active(product: ProductRef, subscriptions: Sequence[Subscription]) -> None:
    """R11: users move off a subscription that is listed and active, or not at all."""
    if active_subscriptions(subscriptions, product.sku_id):
        return
    statuses = sorted({s.status.label for s in subscriptions if s.sku_id == product.sku_id})
    raise SubscriptionNotActive(product.display_name, " / ".join(statuses) or "not listed")


PURCHASE_STEPS = frozenset({StepName.BUY, StepName.TARGET, StepName.AWAIT_ACTIVE})
"""The steps that wait for a bought subscription to be listed and active."""

PURCHASE_WAITS = frozenset({WaitFor.TASK, WaitFor.ACTIVATION})
"""What a purchase waits for: the admin to buy it (R19), then the directory to show it active."""

INEXACT_MATCH_AFTER = timedelta(hours=24)
"""R23: how long a new subscription that fulfils no pending purchase exactly stays unclaimed while
several purchases could take it (one of exactly its licenses may still be on its way)."""


def awaits_purchase(workflow: Workflow) -> bool:
    """Whether the workflow waits for a subscription it ordered that it knows only by product and
    seats (bought in the admin center, R19): it is matched among the product's new ones (R23)."""
    step = workflow.current
    return (
        not workflow.state.final
        and not workflow.subscription_id
        and step is not None
        and step.name in PURCHASE_STEPS
        and step.status is StepStatus.WAITING
        and step.waiting_for in PURCHASE_WAITS
    )


def purchase_candidates(
    workflow: Workflow, subscriptions: Iterable[Subscription], taken: Collection[str] = ()
) -> list[Subscription]:
    """The subscriptions that could fulfil the workflow's purchase: of its product, not listed when it
    was ordered, not `taken` by another workflow, with at least the licenses it asked for (R23)."""
    return [
        s
        for s in subscriptions
        if _new_to(workflow, s)
        and (s.id not in taken or s.id == workflow.purchase_id)
        and s.total_licenses >= workflow.seats
    ]


def rival_purchases(workflow: Workflow, waiting: Iterable[Workflow]) -> list[Workflow]:
    """The other purchases of the workflow's product still waiting for their subscription (R23)."""
    return [
        other
        for other in waiting
        if other.id != workflow.id
        and other.product.sku_id == workflow.product.sku_id
        and awaits_purchase(other)
    ]


def target_subscription(
    workflow: Workflow,
    subscriptions: Sequence[Subscription],
    taken: Collection[str] = (),
    *,
    rivals: Sequence[Workflow] = (),
    now: datetime | None = None,
) -> Subscription | None:
    """The subscription the workflow bought or waits for, if the directory lists it, active or not.

    Known by id when the bot bought it itself; bought in the admin center (R19), it is the new
    subscription `match_purchases` gives this workflow among the `rivals`, the other purchases of the
    product still waiting (R23). A subscription another workflow `taken` as its purchase is never
    this one's (one subscription completes one purchase).
    """
    if workflow.subscription_id:
        return next((s for s in subscriptions if s.id == workflow.subscription_id), None)
    if not purchase_candidates(workflow, subscriptions, taken):
        return None  # nothing new for it: the rivals need not be matched at all
    purchases = [workflow, *(r for r in rivals if r.id != workflow.id)]
    return match_purchases(purchases, subscriptions, taken, now).get(workflow.id)


def match_purchases(
    purchases: Sequence[Workflow],
    subscriptions: Sequence[Subscription],
    taken: Collection[str] = (),
    now: datetime | None = None,
) -> dict[str, Subscription]:
    """R23: which new subscription fulfils which waiting purchase (workflow id → subscription).

    A purchase only takes a subscription of its product that was not listed when it was ordered,
    that no other workflow `taken`, with at least the licenses it asked for. Then:
    1. Exact: a subscription goes to a purchase of exactly its licenses, the oldest request first
       (and the oldest subscription first), whatever its status: a listed subscription that is not
       active yet is still that purchase's, which waits for it rather than taking another one.
    2. Inexact: a subscription that fulfils no waiting purchase exactly (an admin bought more than
       asked) goes to the purchase it covers with the fewest licenses to spare, then the oldest one,
       but only when it is the only purchase that subscription can cover, or once the subscription
       has been listed for `INEXACT_MATCH_AFTER` (its creation time; unknown counts as long ago), so
       that a purchase of exactly its licenses ordered meanwhile is not robbed of it.

    The answer depends only on its inputs, so every workflow polled from the same snapshot agrees.
    """
    assigned: dict[str, Subscription] = {}
    used = set(taken)
    waiting = sorted(purchases, key=_requested)
    for purchase in waiting:
        own = next((s for s in subscriptions if purchase.purchase_id and s.id == purchase.purchase_id), None)
        if own is not None:
            assigned[purchase.id] = own
            used.add(own.id)
    by_age = sorted(subscriptions, key=_listed)
    for purchase in waiting:
        if purchase.id in assigned:
            continue
        exact = next(
            (
                s
                for s in by_age
                if s.id not in used and _new_to(purchase, s) and s.total_licenses == purchase.seats
            ),
            None,
        )
        if exact is not None:
            assigned[purchase.id] = exact
            used.add(exact.id)
    left = [p for p in waiting if p.id not in assigned]
    pairs: list[tuple[int, tuple[datetime, str], tuple[datetime, str], Workflow, Subscription]] = []
    for subscription in by_age:
        if subscription.id in used:
            continue
        covers = [p for p in left if _new_to(p, subscription) and subscription.total_licenses >= p.seats]
        settled = subscription.created is None or (
            now is not None and now - subscription.created >= INEXACT_MATCH_AFTER
        )
        if len(covers) == 1 or (covers and settled):
            pairs += [
                (subscription.total_licenses - p.seats, _requested(p), _listed(subscription), p, subscription)
                for p in covers
            ]
    for *_order, purchase, subscription in sorted(pairs, key=lambda pair: pair[:3]):
        if purchase.id not in assigned and subscription.id not in used:
            assigned[purchase.id] = subscription
            used.add(subscription.id)
    return assigned


_LONG_AGO = datetime.min.replace(tzinfo=UTC)


def _requested(purchase: Workflow) -> tuple[datetime, str]:
    """When the purchase was asked for: its order (the buy step), else the workflow's start."""
    return (purchase.ordered_at or purchase.created_at, purchase.id)


def _listed(subscription: Subscription) -> tuple[datetime, str]:
    return (subscription.created or _LONG_AGO, subscription.id)


def _new_to(purchase: Workflow, subscription: Subscription) -> bool:
    return (
        subscription.sku_id == purchase.product.sku_id and subscription.id not in purchase.known_subscriptions
    )


def not_listed_reasons(workflow: Workflow, found: Subscription | None) -> str:
    """R11: why a new subscription may not show up, or not as active, with what to do."""
    pages = admin_center(workflow.cloud)
    reasons = []
    if found is not None and found.status is SubscriptionStatus.PENDING:
        reasons.append("it was bought and is being set up, which usually takes minutes")
    if workflow.payment_method is PaymentMethod.INVOICE and (
        found is None or found.status is SubscriptionStatus.PENDING
    ):
        until = f", until {workflow.credit_check_ends}" if workflow.deadline else ""
        days = business_days(workflow.credit_check_days)
        reasons.append(f"an invoice purchase may wait for a credit check for up to {days}{until}")
    if found is None:
        reasons.append(
            "a subscription bought for another organization (another domain) never shows up here: "
            "it must be bought for the users' organization"
        )
        reasons.append(f"if it was bought and still does not show, only support can help ({pages.support})")
    else:
        reasons.append(
            f"if it stays that way, check Billing > Your products ({pages.subscriptions}) or ask "
            f"support ({pages.support})"
        )
    return f"{purchase_shown(workflow, found)}. Likely reasons: " + "; ".join(reasons) + "."


def seats_wanted(workflow: Workflow, source: Product | None) -> int:
    """How many free target licenses a switch needs (R2); an upgrade needs at least E4's (R14).

    Moving everyone takes a target seat for each holder the switch moves (counted when it started:
    not those who get the source only from a group, who keep it and their seat, nor those who hold
    the target already), never more than the source's seats taken now (some may have left since);
    the source's seats taken count a person once whatever their sources, group-only ones included."""
    moving = workflow.users_to_move
    if workflow.moves_everyone and source is not None:
        moving = min(source.seats.consumed, workflow.users_to_move)
    return max(moving, workflow.seats) if workflow.kind is WorkflowKind.UPGRADE else moving


def check_direct_purchase(product: ProductRef, subscriptions: Sequence[Subscription]) -> None:
    """R14: E4 bought through a partner or volume licensing is upgraded by them, not here."""
    for subscription in subscriptions:
        if (
            subscription.sku_id == product.sku_id
            and subscription.purchase_channel is not PurchaseChannel.DIRECT
        ):
            raise UpgradeNotDirect(product.display_name, subscription.purchase_channel.value)


def check_on_sale(part_number: str, display_name: str) -> None:
    """R14: Microsoft no longer sells Office 365 E4 — no new subscription, no more licenses, no
    users moved onto it; its holders upgrade to a plan that is sold."""
    if part_number == E4_PART_NUMBER:
        raise DomainError(
            f"Microsoft no longer sells {display_name}: no new subscription, no more licenses, and "
            "no users moved onto it.",
            "Buy Office 365 E5 or Microsoft 365 E5 instead (`/subscription buy E5 10`); to move the "
            "users who hold E4, use `/subscription upgrade E4 E5`.",
            rule="R14",
        )


def redundant_addons(
    holders: Sequence[User], products: Sequence[Product], target: Product | None
) -> list[Product]:
    """R14: products the upgrading users hold besides E4 whose every per-user service plan the target
    includes (Audio Conferencing, MCOMEETADV, in Office 365 E5)."""
    if target is None:
        return []
    included = {plan.name for plan in target.service_plans}
    held = {lic.sku_id for user in holders for lic in user.licenses}
    redundant = []
    for product in products:
        if (
            product.sku_id == target.sku_id
            or product.part_number == E4_PART_NUMBER
            or product.sku_id not in held
        ):
            continue
        plans = [plan.name for plan in product.service_plans if not plan.automatic]
        if plans and set(plans) <= included:
            redundant.append(product)
    return redundant


def users_losing_access(product: Product | None, subscription: Subscription) -> int:
    """R13: how many holders would be left without a seat once this subscription's seats are gone."""
    if product is None:
        return 0
    usable = product.seats.enabled + product.seats.warning
    if subscription.status in {SubscriptionStatus.ENABLED, SubscriptionStatus.WARNING}:
        usable -= subscription.total_licenses
    return max(product.seats.consumed - max(usable, 0), 0)


def best_target(subscriptions: Sequence[Subscription], sku_id: str) -> Subscription | None:
    """An existing subscription to move users to: Enabled first, then one bought and still Pending."""
    usable = [
        s
        for s in subscriptions
        if s.sku_id == sku_id and s.status in {SubscriptionStatus.ENABLED, SubscriptionStatus.PENDING}
    ]
    usable.sort(key=lambda s: (s.status is not SubscriptionStatus.ENABLED, -s.total_licenses, s.id))
    return usable[0] if usable else None


def seat_subscription(
    product: Product, subscriptions: Sequence[Subscription], delta: int, subscription_id: str = ""
) -> Subscription:
    """The subscription whose licenses change: the one named (a renewal alert's, R22) if it is
    active, else the product's largest active one; never below what users hold (R2), never to zero
    (that is cancelling)."""
    if delta == 0:
        raise DomainError("Add or remove at least one license: `+5` or `-3`.")
    active = active_subscriptions(subscriptions, product.sku_id)
    if not active:
        raise SubscriptionNotActive(product.display_name, "not active", "Buy it first (`/subscription buy`).")
    if delta < 0 and product.seats.consumed > product.seats.enabled + delta:
        raise SeatsInUse(
            product.display_name,
            product.seats.enabled,
            product.seats.consumed,
            -delta,
            typed=short_name(product.part_number, product.display_name),
        )
    chosen = next((s for s in active if s.id == subscription_id), active[0])
    if chosen.total_licenses + delta < 1:
        raise DomainError(
            f"The largest {product.display_name} subscription has {chosen.total_licenses} "
            f"licenses, so at most {chosen.total_licenses - 1} can be removed from it.",
            f"To stop it altogether, cancel it (`/subscription cancel {id_suffix(chosen, subscriptions)}`).",
        )
    return chosen


def only_active(product: Product, subscriptions: Sequence[Subscription]) -> Subscription:
    """The product's one active subscription, or the question which one (R13: cancel exactly one)."""
    active = active_subscriptions(subscriptions, product.sku_id)
    if not active:
        raise SubscriptionNotActive(product.display_name, "not active", "There is nothing to cancel.")
    if len(active) > 1:
        raise AmbiguousSubscription(
            product.display_name, [_told_apart(s, active) for s in active], id_suffix(active[0], active)
        )
    return active[0]


SHORT_ID = 4
"""The fewest last characters of a subscription id that `/subscription cancel` takes."""


def id_suffix(subscription: Subscription, among: Sequence[Subscription]) -> str:
    """The shortest end of the subscription's id (at least `SHORT_ID` characters) that no other
    subscription's id ends with: what tells two subscriptions of one product apart when nothing else
    does, and what `/subscription cancel` takes."""
    own = subscription.id.casefold()
    others = [s.id.casefold() for s in among if s.id != subscription.id]
    for length in range(SHORT_ID, len(own) + 1):
        if not any(other.endswith(own[-length:]) for other in others):
            return subscription.id[-length:]
    return subscription.id


def by_id_suffix(key: str, subscriptions: Sequence[Subscription]) -> Subscription | None:
    """The subscription whose id is `key`, or ends with it (at least `SHORT_ID` characters, and one
    subscription only); None otherwise."""
    wanted = key.strip().casefold()
    exact = [s for s in subscriptions if s.id.casefold() == wanted]
    if exact or len(wanted) < SHORT_ID:
        return exact[0] if exact else None
    ending = [s for s in subscriptions if s.id.casefold().endswith(wanted)]
    return ending[0] if len(ending) == 1 else None


def _told_apart(subscription: Subscription, among: Sequence[Subscription]) -> str:
    """ "25 licenses, Active, renews 2027-01-10 (code `e6a7`)": product and seats first, the id's end last."""
    parts = [plural(subscription.total_licenses, "license"), subscription.status.label]
    if subscription.next_lifecycle is not None:
        parts.append(f"renews {subscription.next_lifecycle:%Y-%m-%d}")
    return f"{', '.join(parts)} (code `{id_suffix(subscription, among)}`)"
