"""The simulated tenant as Graph v1.0 JSON: property names, nesting and enum values of the CSDL
(`organization`, `subscribedSku`, `companySubscription`, `user`, `directoryRole`), and Graph's error
bodies and texts (`{"error": {"code", "message", "innerError"}}`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from domain.model import ROLE_TEMPLATE_IDS, AdminRole, Group, Organization, Product, Subscription, User
from storage.simulated.directory import AccountActivity

__all__ = [
    "DEFAULT_GROUP_PROPERTIES",
    "DEFAULT_USER_PROPERTIES",
    "GROUP_PROPERTIES",
    "ORGANIZATION_PROPERTIES",
    "ROLE_DESCRIPTIONS",
    "ROLE_PROPERTIES",
    "SUBSCRIBED_SKU_PROPERTIES",
    "SUBSCRIPTION_PROPERTIES",
    "USER_PROPERTIES",
    "activity_json",
    "error_body",
    "group_json",
    "organization_json",
    "role_json",
    "subscribed_sku_json",
    "subscription_json",
    "timestamp",
    "user_json",
]

USER_PROPERTIES: Final = frozenset(
    {
        "id",
        "userPrincipalName",
        "displayName",
        "givenName",
        "surname",
        "mail",
        "usageLocation",
        "accountEnabled",
        "assignedLicenses",
        "licenseAssignmentStates",
        "businessPhones",
        "jobTitle",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "createdDateTime",
        "signInActivity",
        "userType",
    }
)
ORGANIZATION_PROPERTIES: Final = frozenset(
    {"id", "displayName", "countryLetterCode", "tenantType", "verifiedDomains"}
)
SUBSCRIBED_SKU_PROPERTIES: Final = frozenset(
    {
        "id",
        "accountId",
        "accountName",
        "appliesTo",
        "capabilityStatus",
        "consumedUnits",
        "prepaidUnits",
        "servicePlans",
        "skuId",
        "skuPartNumber",
        "subscriptionIds",
    }
)
SUBSCRIPTION_PROPERTIES: Final = frozenset(
    {
        "id",
        "commerceSubscriptionId",
        "createdDateTime",
        "isTrial",
        "nextLifecycleDateTime",
        "serviceStatus",
        "skuId",
        "skuPartNumber",
        "status",
        "totalLicenses",
    }
)
ROLE_PROPERTIES: Final = frozenset({"id", "deletedDateTime", "description", "displayName", "roleTemplateId"})
DEFAULT_USER_PROPERTIES: Final = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
"""What Graph returns for a user when nothing is selected."""

ROLE_DESCRIPTIONS: Final[Mapping[AdminRole, str]] = {
    AdminRole.GLOBAL: "Can manage all aspects of Microsoft Entra ID and Microsoft services that use "
    "Microsoft Entra identities.",
    AdminRole.BILLING: "Can perform common billing related tasks like updating payment information.",
    AdminRole.LICENSE: "Can manage product licenses on users and groups.",
    AdminRole.USER: "Can manage all aspects of users and groups, including resetting passwords for "
    "limited admins.",
}
_TEMPLATES: Final = {role: template for template, role in ROLE_TEMPLATE_IDS.items()}


def timestamp(when: datetime | None) -> str | None:
    """`Edm.DateTimeOffset` as Graph writes it: UTC with a `Z`."""
    if when is None:
        return None
    moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def error_body(code: str, message: str, request_id: str, when: datetime) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": timestamp(when),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }


def organization_json(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "displayName": org.display_name,
        "countryLetterCode": org.country_code,
        "tenantType": "AAD",
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": name == (org.default_domain or "").lower(),
                "isInitial": name.endswith(".onmicrosoft.com"),
                "name": name,
                "type": "Managed",
            }
            for name in sorted(d.lower() for d in org.verified_domains)
        ],
    }


def _plan_info(product: Product) -> list[dict[str, Any]]:
    return [
        {
            "servicePlanId": plan.id,
            "servicePlanName": plan.name,
            "provisioningStatus": "Success",
            "appliesTo": plan.applies_to,
        }
        for plan in product.service_plans
    ]


def subscribed_sku_json(product: Product, org: Organization, subscription_ids: list[str]) -> dict[str, Any]:
    return {
        "id": f"{org.id}_{product.sku_id}",
        "accountId": org.id,
        "accountName": org.display_name,
        "appliesTo": product.applies_to,
        "capabilityStatus": product.capability_status.value,
        "consumedUnits": product.seats.consumed,
        "prepaidUnits": {
            "enabled": product.seats.enabled,
            "lockedOut": 0,
            "suspended": product.seats.suspended,
            "warning": product.seats.warning,
        },
        "servicePlans": _plan_info(product),
        "skuId": product.sku_id,
        "skuPartNumber": product.part_number,
        "subscriptionIds": subscription_ids,
    }


def subscription_json(subscription: Subscription, product: Product | None) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "commerceSubscriptionId": subscription.id,
        "createdDateTime": timestamp(subscription.created),
        "isTrial": subscription.is_trial,
        "nextLifecycleDateTime": timestamp(subscription.next_lifecycle),
        "serviceStatus": _plan_info(product) if product else [],
        "skuId": subscription.sku_id,
        "skuPartNumber": subscription.part_number,
        "status": subscription.status.value,
        "totalLicenses": subscription.total_licenses,
    }


def activity_json(activity: AccountActivity) -> dict[str, Any]:
    """`createdDateTime` and `signInActivity` (null for an account that never signed in)."""
    interactive, background = activity.last_sign_in, activity.last_non_interactive_sign_in
    sign_ins: dict[str, Any] | None = None
    if interactive is not None or background is not None:
        sign_ins = {
            "lastSignInDateTime": timestamp(interactive),
            "lastSignInRequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"i{interactive}"))
            if interactive
            else None,
            "lastNonInteractiveSignInDateTime": timestamp(background),
            "lastNonInteractiveSignInRequestId": (
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"n{background}")) if background else None
            ),
            "lastSuccessfulSignInDateTime": timestamp(max(m for m in (interactive, background) if m)),
            "lastSuccessfulSignInRequestId": None,
        }
    return {"createdDateTime": timestamp(activity.created), "signInActivity": sign_ins}


def user_json(user: User) -> dict[str, Any]:
    """Every user property the simulator knows; `$select` picks from these (`createdDateTime` and
    `signInActivity` come from `activity_json`)."""
    errors = {e.sku_id: e.error for e in user.assignment_errors}
    given, _, surname = user.display_name.partition(" ")
    return {
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "givenName": given or None,
        "surname": surname or None,
        "mail": user.mail,
        "usageLocation": user.usage_location,
        "accountEnabled": user.account_enabled,
        "userType": "Member",
        "businessPhones": [],
        "jobTitle": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "assignedLicenses": [
            {"disabledPlans": sorted(lic.disabled_plans), "skuId": lic.sku_id} for lic in user.licenses
        ],
        "licenseAssignmentStates": _states_json(user, errors),
    }


def _states_json(user: User, errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """One state per source of each license (R21): `assignedByGroup` null when direct."""
    if not user.states:
        return [
            {
                "assignedByGroup": None,
                "disabledPlans": sorted(lic.disabled_plans),
                "error": errors.get(lic.sku_id, "None"),
                "lastUpdatedDateTime": None,
                "skuId": lic.sku_id,
                "state": "Error" if lic.sku_id in errors else "Active",
            }
            for lic in user.licenses
        ]
    states: list[dict[str, Any]] = []
    for state in user.states:
        error = (
            state.error if state.in_error else errors.get(state.sku_id, "None") if state.direct else "None"
        )
        states.append(
            {
                "assignedByGroup": state.group_id,
                "disabledPlans": sorted(state.disabled_plans),
                "error": error,
                "lastUpdatedDateTime": None,
                "skuId": state.sku_id,
                "state": "Error" if error != "None" else "Active",
            }
        )
    return states


GROUP_PROPERTIES: Final = frozenset(
    {
        "id",
        "displayName",
        "mailNickname",
        "description",
        "mail",
        "mailEnabled",
        "securityEnabled",
        "groupTypes",
        "assignedLicenses",
        "licenseProcessingState",
    }
)
"""Graph's documentation: `hasMembersWithLicenseErrors` is never returned on a GET (only filtered on)."""
DEFAULT_GROUP_PROPERTIES: Final = (
    "id",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
)
"""What Graph returns for a group when nothing is selected (no license properties: they must be
asked for with `$select`)."""


def group_json(group: Group) -> dict[str, Any]:
    """Every group property the simulator knows (`group` of the CSDL); `$select` picks from these."""
    return {
        "id": group.id,
        "displayName": group.display_name,
        "mailNickname": group.mail_nickname,
        "description": None,
        "mail": None,
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": [],
        "assignedLicenses": [
            {"disabledPlans": sorted(lic.disabled_plans), "skuId": lic.sku_id} for lic in group.licenses
        ],
        "licenseProcessingState": {"state": group.processing.value},
    }


def role_json(role: AdminRole, org: Organization) -> dict[str, Any]:
    template = _TEMPLATES[role]
    return {
        "@odata.type": "#microsoft.graph.directoryRole",
        "id": str(uuid.uuid5(uuid.UUID(_as_uuid(org.id)), template)),
        "deletedDateTime": None,
        "description": ROLE_DESCRIPTIONS[role],
        "displayName": role.value,
        "roleTemplateId": template,
    }


def _as_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, value))
