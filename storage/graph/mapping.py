"""Graph v1.0 JSON ↔ the domain model, one function per resource type.

Property names are Graph's (`subscribedSku`, `companySubscription`, `user`, `directoryRole`,
`organization`); ids are lower-cased so that a skuId compares equal whichever way it was written.
Graph has no display names for products and service plans: they come from the product catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from domain.catalog import ProductCatalog
from domain.changes import UserChange
from domain.model import (
    NO_ERROR,
    ROLE_TEMPLATE_IDS,
    AdminRole,
    AssignmentError,
    CapabilityStatus,
    Cloud,
    Group,
    LicenseAssignment,
    LicenseState,
    Organization,
    ProcessingState,
    Product,
    Seats,
    ServicePlan,
    Subscription,
    SubscriptionStatus,
    User,
    licenses_to_json,
)

__all__ = [
    "GROUP_SELECT",
    "LICENSED_GROUPS_FILTER",
    "ORGANIZATION_SELECT",
    "SIGN_INS_SELECT",
    "USER_SELECT",
    "assign_group_license_body",
    "assign_license_body",
    "parse_group",
    "parse_organization",
    "parse_product",
    "parse_role",
    "parse_subscription",
    "parse_user",
]

log = logging.getLogger(__name__)

GROUP_SELECT: Final = "id,displayName,mailNickname,assignedLicenses,licenseProcessingState"
LICENSED_GROUPS_FILTER: Final = "assignedLicenses/$count ne 0"
"""The groups that have licenses: an advanced query on groups (`ConsistencyLevel: eventual` and
`$count=true`), as Microsoft documents for `assignedLicenses/$count` on directory objects."""
"""`hasMembersWithLicenseErrors` is left out: Graph never returns it on a GET (it is for `$filter`)."""
USER_SELECT: Final = (
    "id,userPrincipalName,displayName,mail,usageLocation,accountEnabled,assignedLicenses,"
    "licenseAssignmentStates"
)
SIGN_INS_SELECT: Final = f"{USER_SELECT},userType,createdDateTime,signInActivity"
"""A user with when they were created and last signed in (R22: AuditLog.Read.All, Entra ID P1)."""
ORGANIZATION_SELECT: Final = "id,displayName,verifiedDomains,countryLetterCode"
_NO_ERROR: Final = frozenset({"", "none"})


def _text(item: Mapping[str, Any], name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value) if value is not None else default


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _id(value: Any) -> str:
    return str(value).strip().lower() if value is not None else ""


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _licenses(items: Any) -> tuple[LicenseAssignment, ...]:
    licenses = [
        LicenseAssignment(_id(item.get("skuId")), frozenset(_id(p) for p in item.get("disabledPlans") or ()))
        for item in items or ()
        if isinstance(item, Mapping) and item.get("skuId")
    ]
    return tuple(sorted(licenses, key=lambda lic: lic.sku_id))


def _states(items: Any) -> tuple[LicenseState, ...]:
    """`licenseAssignmentStates`, kept only when a group gives something (R21): without one, every
    license is direct and `assignedLicenses` says it all."""
    states = tuple(
        LicenseState(
            sku_id=_id(state.get("skuId")),
            group_id=_id(state.get("assignedByGroup")) or None,
            disabled_plans=frozenset(_id(p) for p in state.get("disabledPlans") or ()),
            error=_text(state, "error", NO_ERROR) or NO_ERROR,
        )
        for state in items or ()
        if isinstance(state, Mapping) and state.get("skuId")
    )
    if not any(state.group_id for state in states):
        return ()
    return tuple(sorted(states, key=lambda s: (s.sku_id, s.group_id or "")))


def parse_user(item: Mapping[str, Any]) -> User:
    # An error on a direct license only: a group's member in error is told by `states` (R21).
    errors = tuple(
        AssignmentError(_id(state.get("skuId")), str(state["error"]))
        for state in item.get("licenseAssignmentStates") or ()
        if isinstance(state, Mapping)
        and str(state.get("error") or "").casefold() not in _NO_ERROR
        and not state.get("assignedByGroup")
    )
    return User(
        id=_id(item.get("id")),
        user_principal_name=_text(item, "userPrincipalName"),
        display_name=_text(item, "displayName") or _text(item, "userPrincipalName"),
        mail=item.get("mail") or None,
        usage_location=item.get("usageLocation") or None,
        account_enabled=item.get("accountEnabled") is not False,
        licenses=_licenses(item.get("assignedLicenses")),
        assignment_errors=errors,
        created=_when(item.get("createdDateTime")),
        last_sign_in=_last_sign_in(item.get("signInActivity")),
        states=_states(item.get("licenseAssignmentStates")),
    )


def _last_sign_in(activity: Any) -> datetime | None:
    """The latest of the interactive and non-interactive sign-ins (R22); None: never (or not read)."""
    if not isinstance(activity, Mapping):
        return None
    moments = [
        moment
        for name in ("lastSignInDateTime", "lastNonInteractiveSignInDateTime")
        if (moment := _when(activity.get(name))) is not None
    ]
    return max(moments, default=None)


def parse_group(item: Mapping[str, Any]) -> Group:
    processing = item.get("licenseProcessingState")
    state = _text(processing, "state") if isinstance(processing, Mapping) else ""
    try:
        status = ProcessingState(state) if state else ProcessingState.COMPLETE
    except ValueError:
        log.warning("Unknown licenseProcessingState %r from Graph: treated as in progress", state)
        status = ProcessingState.IN_PROGRESS
    return Group(
        id=_id(item.get("id")),
        display_name=_text(item, "displayName") or _text(item, "mailNickname") or _text(item, "id"),
        mail_nickname=_text(item, "mailNickname"),
        licenses=_licenses(item.get("assignedLicenses")),
        processing=status,
        has_members_with_errors=item.get("hasMembersWithLicenseErrors") is True,
    )


def assign_group_license_body(add: Sequence[LicenseAssignment], remove: Sequence[str]) -> dict[str, Any]:
    """A group's `assignLicense`: add and remove together in one call (R21)."""
    return {"addLicenses": licenses_to_json(add), "removeLicenses": sorted(remove)}


def _capability(value: str) -> CapabilityStatus:
    try:
        return CapabilityStatus(value)
    except ValueError:
        log.warning("Unknown capabilityStatus %r from Graph: treated as Suspended", value)
        return CapabilityStatus.SUSPENDED


def parse_product(item: Mapping[str, Any], catalog: ProductCatalog) -> Product:
    part = _text(item, "skuPartNumber")
    known = catalog.known(part)
    friendly = {plan.id: plan.display_name for plan in known.service_plans} if known else {}
    plans = tuple(
        ServicePlan(
            id=_id(plan.get("servicePlanId")),
            name=_text(plan, "servicePlanName"),
            display_name=friendly.get(_id(plan.get("servicePlanId"))) or _text(plan, "servicePlanName"),
            applies_to=_text(plan, "appliesTo", "User"),
        )
        for plan in item.get("servicePlans") or ()
        if isinstance(plan, Mapping)
    )
    prepaid = item.get("prepaidUnits")
    units = prepaid if isinstance(prepaid, Mapping) else {}
    return Product(
        sku_id=_id(item.get("skuId")),
        part_number=part,
        display_name=catalog.display_name(part, part),
        service_plans=plans,
        seats=Seats(
            enabled=_int(units.get("enabled")),
            consumed=_int(item.get("consumedUnits")),
            warning=_int(units.get("warning")),
            suspended=_int(units.get("suspended")),
        ),
        applies_to=_text(item, "appliesTo", "User"),
        capability_status=_capability(_text(item, "capabilityStatus", "Enabled")),
    )


def parse_subscription(item: Mapping[str, Any]) -> Subscription:
    status_text = _text(item, "status", "Enabled")
    try:
        status = SubscriptionStatus(status_text)
    except ValueError:
        log.warning("Unknown subscription status %r from Graph: treated as Suspended", status_text)
        status = SubscriptionStatus.SUSPENDED
    return Subscription(
        id=_id(item.get("id")),
        sku_id=_id(item.get("skuId")),
        part_number=_text(item, "skuPartNumber"),
        status=status,
        total_licenses=_int(item.get("totalLicenses")),
        created=_when(item.get("createdDateTime")),
        next_lifecycle=_when(item.get("nextLifecycleDateTime")),
        is_trial=item.get("isTrial") is True,
    )


def parse_organization(item: Mapping[str, Any], cloud: Cloud) -> Organization:
    domains = [d for d in item.get("verifiedDomains") or () if isinstance(d, Mapping) and d.get("name")]
    default = next((str(d["name"]) for d in domains if d.get("isDefault")), "")
    return Organization(
        id=_id(item.get("id")),
        display_name=_text(item, "displayName"),
        verified_domains=frozenset(str(d["name"]).lower() for d in domains),
        country_code=_text(item, "countryLetterCode", "US") or "US",
        cloud=cloud,
        default_domain=default.lower(),
    )


def parse_role(item: Mapping[str, Any]) -> AdminRole | None:
    return ROLE_TEMPLATE_IDS.get(_id(item.get("roleTemplateId")))


def assign_license_body(change: UserChange) -> dict[str, Any]:
    """`assignLicense`: both lists always present (either may be empty), add and remove together (R7)."""
    return {
        "addLicenses": licenses_to_json(change.add),
        "removeLicenses": list(change.remove),
    }
