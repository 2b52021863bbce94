"""What a license in an error state means (`licenseAssignmentStates[].error`), as a domain error.

Microsoft 365 can hold a license in an error state instead of refusing the write: group licensing,
a count that changed under the write, a rule checked after the fact. Each error is the same
refusal a rule gives up front (R2, R4, R5, R6), so it carries the same explanation and fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from domain.catalog import short_name
from domain.errors import (
    DomainError,
    MissingServiceDependency,
    NotEnoughSeats,
    ProhibitedInUsageLocation,
    ServicePlanConflict,
)
from domain.model import AssignmentError, LicenseAssignment, Product, User
from domain.rules import find_conflict

__all__ = ["EXPLAINED_ERRORS", "assignment_state_error"]

EXPLAINED_ERRORS: Final = frozenset(
    {
        "CountViolation",
        "MutuallyExclusiveViolation",
        "DependencyViolation",
        "ProhibitedInUsageLocationViolation",
    }
)
"""The errors a rule explains; UniquenessViolation (a proxy address taken) and Other are not about
licenses and are shown as Microsoft 365 names them."""


def assignment_state_error(
    user: User, state: AssignmentError, products: Mapping[str, Product]
) -> DomainError | None:
    """The domain error for one product in an error state on `user`; None when no rule explains it."""
    product = products.get(state.sku_id)
    name = product.display_name if product else state.sku_id
    if state.error == "CountViolation":
        # The seat this license needs is the one missing: "need one more than is free".
        available = product.seats.available if product else 0
        typed = short_name(product.part_number, product.display_name) if product else state.sku_id
        return NotEnoughSeats(typed, available + 1, available, name=name)
    if state.error == "ProhibitedInUsageLocationViolation":
        return ProhibitedInUsageLocation(user.display_name, user.usage_location)
    if state.error == "DependencyViolation":
        return MissingServiceDependency(user.display_name, f"Microsoft 365 reports it on {name}")
    if state.error == "MutuallyExclusiveViolation":
        return _conflict(user, state.sku_id, name, products)
    return None


def _conflict(user: User, sku_id: str, name: str, products: Mapping[str, Product]) -> DomainError:
    # The product in error last: the conflict then names its plan as the one to turn off (R6).
    held = [lic for lic in user.licenses if lic.sku_id != sku_id]
    ordered = [*held, user.license_for(sku_id) or LicenseAssignment(sku_id)]
    try:
        find_conflict(user, ordered, products)
    except ServicePlanConflict as conflict:
        return conflict
    return DomainError(
        f"{user.display_name} cannot have {name} with the licenses they hold: a service in it is "
        "mutually exclusive with one of theirs.",
        "Turn off the conflicting service in it (`without ...`), or replace the other product instead "
        "of adding to it (`/license replace`).",
        rule="R6",
    )
