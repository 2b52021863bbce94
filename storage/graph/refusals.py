"""Graph's refusals of a license write, in the domain's errors and words (the same as the simulated
tenant's): an error answer, or a license Graph took but holds in an error state."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from domain.assignment_states import assignment_state_error
from domain.catalog import short_name
from domain.changes import ChangeOutcome, OutcomeKind, UserChange
from domain.errors import (
    DomainError,
    LicenseInherited,
    NotAssignable,
    NotEnoughSeats,
    NoUsageLocation,
    ServicePlanConflict,
    UnknownUser,
)
from domain.model import Product, User
from domain.rules import find_conflict
from storage.graph.client import GraphResponse
from storage.graph.errors import (
    GraphAccessDenied,
    GraphRefused,
    MissingServiceDependency,
    ProhibitedInUsageLocation,
)

__all__ = ["LazyProducts", "failed_with", "graph_refusal", "state_failure"]

_GUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def graph_refusal(
    change: UserChange, response: GraphResponse, products: LazyProducts, user: User | None
) -> DomainError:
    text = f"{response.error_code} {response.error_message}".casefold()
    who = change.display_name
    if response.status == 404:
        return UnknownUser(change.user_principal_name)
    if "inherited from group" in text:
        # R21: the plan never sends this; someone added the user to a group since the preview.
        return LicenseInherited(who, _names(change.remove, products()), [])
    if response.status in {401, 403}:
        return GraphAccessDenied(response.error_message)
    if "invalid usage location" in text:
        return NoUsageLocation(who)
    if "prohibitedinusagelocation" in text or "usage location" in text:
        return ProhibitedInUsageLocation(who, user.usage_location if user else None)
    if "countviolation" in text or "available licenses" in text or "not enough licenses" in text:
        return _no_seats(change, response.error_message, products())
    if "mutuallyexclusive" in text or "mutually exclusive" in text or "conflicting service plans" in text:
        return _conflict(change, response, products())
    if "dependencyviolation" in text or "depends on" in text or "dependent" in text:
        return MissingServiceDependency(who, _with_plan_names(response.error_message, products()))
    if "cannot be assigned to a user" in text:
        product = _product_named(change, response.error_message, products())
        if product is not None:
            return NotAssignable(product.display_name, product.applies_to)
    return GraphRefused(who, response.error_code or str(response.status), response.error_message)


def _no_seats(change: UserChange, message: str, products: Mapping[str, Product]) -> DomainError:
    product = _product_named(change, message, products)
    if product is None:
        return GraphRefused(change.display_name, "CountViolation", message)
    typed = short_name(product.part_number, product.display_name)
    return NotEnoughSeats(typed, 1, product.seats.available, name=product.display_name)


def _conflict(change: UserChange, response: GraphResponse, products: Mapping[str, Product]) -> DomainError:
    user = User(change.user_id, change.user_principal_name, change.display_name)
    # What the user keeps first, what is new last: the message then names the new product's
    # plan as the one to turn off, as the rule does when it refuses a plan (R6).
    gained = set(change.gained)
    ordered = [lic for lic in change.after if lic.sku_id not in gained]
    ordered += [lic for lic in change.after if lic.sku_id in gained]
    try:
        # The domain knows the exclusive pairs (R6): the same check names the same plans.
        find_conflict(user, ordered, products)
    except ServicePlanConflict as conflict:
        return conflict
    # A pair the domain does not list: name the plans Graph named, with their products.
    named = [
        (plan.display_name or plan.name, product.display_name)
        for lic in change.after
        if (product := products.get(lic.sku_id)) is not None
        for plan in product.service_plans
        if plan.id in response.error_message.lower() or plan.name in response.error_message
    ]
    if len(named) >= 2:
        (plan_a, product_a), (plan_b, product_b) = named[0], named[1]
        return ServicePlanConflict(change.display_name, plan_a, product_a, plan_b, product_b)
    return GraphRefused(change.display_name, response.error_code, response.error_message)


class LazyProducts:
    """The tenant's products, read once per `apply` and only when an error needs them."""

    def __init__(self, load: Callable[[], list[Product]]) -> None:
        self._load = load
        self._products: dict[str, Product] | None = None

    def __call__(self) -> dict[str, Product]:
        if self._products is None:
            self._products = {product.sku_id: product for product in self._load()}
        return self._products


def _names(sku_ids: Sequence[str], products: Mapping[str, Product]) -> str:
    return ", ".join(products[sku].display_name if sku in products else sku for sku in sku_ids)


def _with_plan_names(message: str, products: Mapping[str, Product]) -> str:
    """Graph's words with the service plan ids it names replaced by the plans' names."""
    names = {
        plan.id: plan.display_name or plan.name
        for product in products.values()
        for plan in product.service_plans
    }
    return _GUID.sub(lambda found: names.get(found.group(0).lower(), found.group(0)), message)


def state_failure(change: UserChange, user: User, products: LazyProducts) -> DomainError | None:
    """The refusal a product this change writes stands for, when Graph holds it in an error state."""
    written = {lic.sku_id for lic in change.add}
    for state in user.assignment_errors:
        if state.sku_id in written:
            explained = assignment_state_error(user, state, products())
            return explained or GraphRefused(
                change.display_name,
                state.error,
                f"Microsoft 365 holds the license {state.sku_id} in the error state {state.error}",
            )
    return None


def failed_with(change: UserChange, failure: DomainError, user: User) -> ChangeOutcome:
    return ChangeOutcome(change.user_id, OutcomeKind.FAILED, failure.message, failure.rule, user.licenses)


def _product_named(change: UserChange, message: str, products: Mapping[str, Product]) -> Product | None:
    """The product a refusal is about: the skuId in Graph's message, else the change's first new one."""
    for sku in _GUID.findall(message):
        if sku.lower() in products:
            return products[sku.lower()]
    for sku in change.gained or tuple(lic.sku_id for lic in change.add):
        if sku in products:
            return products[sku]
    return None
