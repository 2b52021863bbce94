"""Graph's `assignLicense` on the simulated tenant, for users and groups alike: its parameters checked
as Graph checks them, and the tenant's refusals told in Graph's words."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from domain.errors import (
    DomainError,
    LicenseInherited,
    NotAssignable,
    NotEnoughSeats,
    NothingToChange,
    NoUsageLocation,
    ServicePlanConflict,
    UnknownProduct,
    UnknownServicePlan,
    UnknownUser,
)
from domain.model import LicenseAssignment, Product
from storage.graph_sim.messages import Refusal, not_found
from storage.graph_sim.tenant import SimTenant

__all__ = ["TenantProducts", "assign_license_parameters", "graph_refusal"]

_GUID: Final = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_ASSIGNED_LICENSE_PROPERTIES: Final = frozenset({"skuId", "disabledPlans"})


class TenantProducts:
    """The tenant's products by sku id, read once and only when asked for."""

    def __init__(self, tenant: SimTenant) -> None:
        self._tenant = tenant
        self._products: dict[str, Product] | None = None

    def __call__(self) -> dict[str, Product]:
        if self._products is None:
            self._products = {p.sku_id: p for p in self._tenant.products()}
        return self._products


def assign_license_parameters(body: Any) -> tuple[list[LicenseAssignment], list[str]]:
    if not isinstance(body, Mapping):
        raise Refusal(400, "Request_BadRequest", "The request body is empty or is not a JSON object.")
    missing = [name for name in ("addLicenses", "removeLicenses") if name not in body]
    if missing:
        raise Refusal(
            400,
            "Request_BadRequest",
            "One or more parameters of the function import 'assignLicense' are missing from the request "
            f"payload. The missing parameters are: {', '.join(missing)}.",
        )
    add_items, remove_items = body["addLicenses"], body["removeLicenses"]
    if not isinstance(add_items, list) or not isinstance(remove_items, list):
        raise Refusal(400, "Request_BadRequest", "addLicenses and removeLicenses must be collections.")
    add: list[LicenseAssignment] = []
    for item in add_items:
        if not isinstance(item, Mapping):
            raise Refusal(400, "Request_BadRequest", "Each of addLicenses must be an assignedLicense.")
        extra = sorted(set(item) - _ASSIGNED_LICENSE_PROPERTIES)
        if extra:
            raise Refusal(
                400,
                "Request_BadRequest",
                f"The property '{extra[0]}' does not exist on type 'microsoft.graph.assignedLicense'. "
                "Make sure to only use property names that are defined by the type.",
            )
        plans = item.get("disabledPlans") or []
        if not _is_guid(item.get("skuId")) or not all(_is_guid(p) for p in plans):
            raise Refusal(
                400,
                "Request_BadRequest",
                "Invalid value specified for property 'skuId' or 'disabledPlans' of resource "
                "'AssignedLicense'.",
            )
        add.append(LicenseAssignment(str(item["skuId"]).lower(), frozenset(str(p).lower() for p in plans)))
    if not all(_is_guid(sku) for sku in remove_items):
        raise Refusal(400, "Request_BadRequest", "Invalid value specified for removeLicenses.")
    return add, [str(sku).lower() for sku in remove_items]


def _is_guid(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(_GUID, value) is not None


def graph_refusal(
    refusal: DomainError, key: str, add: Sequence[LicenseAssignment], products: Mapping[str, Product]
) -> Refusal:
    """The simulated tenant's refusal in Graph's words (see ../shared/reference/README.md)."""

    def bad(message: str) -> Refusal:
        return Refusal(400, "Request_BadRequest", message)

    by_part = {p.part_number: p.sku_id for p in products.values()}
    if isinstance(refusal, UnknownUser):
        return Refusal(
            404,
            "Request_ResourceNotFound",
            not_found(key),
        )
    if isinstance(refusal, LicenseInherited):
        return bad(
            "User license is inherited from group membership and it cannot be removed directly from the user."
        )
    if isinstance(refusal, NoUsageLocation):
        return bad("License assignment cannot be done for user with invalid usage location.")
    if isinstance(refusal, NotEnoughSeats):
        sku = by_part.get(refusal.product, refusal.product)
        return bad(f"Subscription {sku} does not have any available licenses.")
    if isinstance(refusal, ServicePlanConflict):
        names = {plan.name: plan.id for p in products.values() for plan in p.service_plans}
        plan_ids = ",".join(names.get(plan, plan) for plan in refusal.plans)
        return bad(f"License assignment failed because service plans {plan_ids} are mutually exclusive.")
    if isinstance(refusal, NotAssignable):
        company = [
            lic.sku_id
            for lic in add
            if lic.sku_id in products and not products[lic.sku_id].assignable_to_users
        ]
        sku = company[0] if company else ""
        return bad(f"License {sku} cannot be assigned to a user: it applies to the company.")
    if isinstance(refusal, NothingToChange):
        return bad("User does not have a corresponding license.")
    if isinstance(refusal, UnknownProduct):
        return bad(f"License {refusal.key} does not correspond to a valid company License.")
    if isinstance(refusal, UnknownServicePlan):
        return bad("Invalid value specified for property 'disabledPlans' of resource 'AssignedLicense'.")
    return bad(refusal.problem)
