"""What a real tenant does that the simulated one's rules do not: licenses held in an error state
(`licenseAssignmentStates[].error`), service plans that depend on others, and products not sold in
some usage locations.

Set from a test or from `licensebot graph-sim` options; kept in memory by the simulator, beside the
simulated tenant (whose database knows none of it). Refusals use Graph's words: a dependency is
refused as "License assignment failed because service plan {id} depends on the service plan(s)
{ids}.", as Graph answers it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Final

from domain.model import AssignmentError, LicenseAssignment, Product, User

__all__ = ["ASSIGNMENT_ERRORS", "PROHIBITED", "GraphRules"]

PROHIBITED: Final = "ProhibitedInUsageLocationViolation"

ASSIGNMENT_ERRORS: Final = frozenset(
    {
        "CountViolation",
        "MutuallyExclusiveViolation",
        "DependencyViolation",
        "ProhibitedInUsageLocationViolation",
        "UniquenessViolation",
        "Other",
    }
)
"""`licenseAssignmentState.error` values other than "None" (Graph's documentation)."""


class GraphRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[tuple[str, str], str] = {}
        self._writes_in_error: dict[str, str] = {}
        self._needs: dict[str, frozenset[str]] = {}
        self._prohibited: dict[str, frozenset[str]] = {}

    # Knobs

    def set_assignment_error(self, user_id: str, sku_id: str, error: str | None) -> None:
        """Hold `user_id`'s license of `sku_id` in `error` (None: clear it)."""
        key = (user_id.lower(), sku_id.lower())
        with self._lock:
            if error is None:
                self._errors.pop(key, None)
            else:
                self._errors[key] = _checked(error)

    def writes_land_in_error(self, sku_id: str, error: str | None) -> None:
        """Every write that gives a user `sku_id` is taken (200) but holds it in `error` afterwards,
        as Graph does when it checks a rule after the fact (None: stop)."""
        with self._lock:
            if error is None:
                self._writes_in_error.pop(sku_id.lower(), None)
            else:
                self._writes_in_error[sku_id.lower()] = _checked(error)

    def require(self, plan_id: str, *needed_plan_ids: str) -> None:
        """Service plan `plan_id` works only with every one of `needed_plan_ids` turned on."""
        with self._lock:
            self._needs[plan_id.lower()] = frozenset(p.lower() for p in needed_plan_ids)

    def prohibit(self, sku_id: str, *usage_locations: str) -> None:
        """`sku_id` is not sold for users in these usage locations (two-letter codes)."""
        with self._lock:
            self._prohibited[sku_id.lower()] = frozenset(c.upper() for c in usage_locations)

    # What the simulator asks

    def refusal(
        self,
        user: User,
        add: Sequence[LicenseAssignment],
        remove: Sequence[str],
        products: Callable[[], Mapping[str, Product]],
    ) -> str | None:
        """Graph's message refusing this `assignLicense`, or None when these rules let it through.
        `products` is read only when a dependency is set."""
        with self._lock:
            prohibited = dict(self._prohibited)
            needs = dict(self._needs)
        held = {lic.sku_id for lic in user.licenses}
        where = (user.usage_location or "").upper()
        for lic in add:
            if lic.sku_id not in held and where in prohibited.get(lic.sku_id, ()):
                return (
                    f"License assignment failed because license {lic.sku_id} is not available in usage "
                    f"location {user.usage_location}."
                )
        after = {lic.sku_id: lic for lic in user.licenses if lic.sku_id not in remove}
        after.update({lic.sku_id: lic for lic in add})
        if not needs:
            return None
        enabled = _enabled_plans(after.values(), products())
        for plan in sorted(enabled & needs.keys()):
            missing = sorted(needs[plan] - enabled)
            if missing:
                return (
                    f"License assignment failed because service plan {plan} depends on the service "
                    f"plan(s) {','.join(missing)}."
                )
        return None

    def written(self, user: User, add: Sequence[LicenseAssignment], remove: Sequence[str]) -> None:
        """A write was taken by `user` (as they were before it): the products it gave that land in
        error are held in it from now on; a removed product leaves its error behind."""
        with self._lock:
            for sku in remove:
                self._errors.pop((user.id.lower(), sku), None)
            held = {lic.sku_id for lic in user.licenses}
            for lic in add:
                error = self._writes_in_error.get(lic.sku_id)
                if error is not None and lic.sku_id not in held:
                    self._errors[(user.id.lower(), lic.sku_id)] = error

    def with_group_states(self, user: User, country: str = "") -> User:
        """`user` with the licenses groups give them of a product not sold in their usage location
        (the organization's `country` when they have none, as Microsoft licenses group members)
        held in error (ProhibitedInUsageLocationViolation, R21), and so not theirs."""
        with self._lock:
            prohibited = dict(self._prohibited)
        where = (user.usage_location or country or "").upper()
        if not prohibited or not where or not user.states:
            return user
        states = tuple(
            replace(state, error=PROHIBITED)
            if state.group_id and not state.in_error and where in prohibited.get(state.sku_id, ())
            else state
            for state in user.states
        )
        if states == user.states:
            return user
        working = {state.sku_id for state in states if not state.in_error}
        licenses = tuple(lic for lic in user.licenses if lic.sku_id in working)
        return replace(user, states=states, licenses=licenses)

    def with_states(self, user: User) -> User:
        """`user` with the errors of the licenses they hold."""
        with self._lock:
            errors = tuple(
                AssignmentError(lic.sku_id, self._errors[key])
                for lic in user.licenses
                if (key := (user.id.lower(), lic.sku_id)) in self._errors
            )
        return replace(user, assignment_errors=errors) if errors else user


def _checked(error: str) -> str:
    if error not in ASSIGNMENT_ERRORS:
        raise ValueError(f"{error!r} is not a licenseAssignmentState error: {sorted(ASSIGNMENT_ERRORS)}")
    return error


def _enabled_plans(licenses: Iterable[LicenseAssignment], products: Mapping[str, Product]) -> set[str]:
    return {
        plan.id
        for lic in licenses
        if (product := products.get(lic.sku_id)) is not None
        for plan in product.service_plans
        if plan.id not in lic.disabled_plans
    }
