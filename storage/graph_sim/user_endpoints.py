"""The simulated Graph API's users: the collection with its filters and sign-ins (R22), a user by id or
user principal name, their directory roles, and `assignLicense` on a user."""

from __future__ import annotations

import re
from typing import Any, Final

from domain.errors import DomainError
from domain.model import User
from storage.graph_sim.license_requests import TenantProducts, assign_license_parameters, graph_refusal
from storage.graph_sim.messages import ApiRequest, ApiResponse, Refusal, not_found, ok
from storage.graph_sim.query_options import MAX_TOP, Pager, context, pick, selected_names
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.shapes import (
    DEFAULT_USER_PROPERTIES,
    ROLE_PROPERTIES,
    USER_PROPERTIES,
    activity_json,
    role_json,
    user_json,
)
from storage.graph_sim.tenant import SimTenant, TenantSource

__all__ = ["SIGN_INS_PAGE", "UserEndpoints"]

SIGN_INS_PAGE: Final = 120
"""Graph serves at most this many users a page when their `signInActivity` is selected."""
_GUID: Final = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_ANY_SKU: Final = re.compile(rf"^assignedLicenses/any\(\s*(\w+)\s*:\s*\1/skuId\s+eq\s+({_GUID})\s*\)$")
_EQUALS: Final = re.compile(r"^(mail|userPrincipalName)\s+eq\s+'((?:[^']|'')*)'$")
_ENABLED: Final = re.compile(r"^accountEnabled\s+eq\s+(true|false)$")


class UserEndpoints:
    def __init__(self, tenant: TenantSource, rules: GraphRules, pager: Pager) -> None:
        self._tenant = tenant
        self._rules = rules
        self._pager = pager
        self._country: str | None = None
        """The organization's country, read once: where members without a usage location are
        licensed (R21)."""

    def users(self, request: ApiRequest, _key: str) -> ApiResponse:
        selected = selected_names(request, USER_PROPERTIES, "user")
        wanted = request.query.get("$filter", "").strip()
        sign_ins = selected is not None and "signInActivity" in selected
        with self._tenant.session() as tenant:
            if sign_ins and not tenant.allows_sign_in_activity():
                # R22: what Graph answers a tenant without Microsoft Entra ID P1.
                raise Refusal(
                    403,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                )
            users = _filtered(tenant, wanted)
            start, end = self._pager.window(request, len(users), SIGN_INS_PAGE if sign_ins else MAX_TOP)
            shown = users[start:end]
            activity = (
                tenant.account_activity([u.id for u in shown])
                if selected is not None and {"signInActivity", "createdDateTime"} & set(selected)
                else {}
            )
        items = []
        for user in shown:
            item = self.graph_user(user)
            if user.id in activity:
                item.update(activity_json(activity[user.id]))
            items.append(pick(item, selected or DEFAULT_USER_PROPERTIES))
        return self._pager.page(
            request, items, context(request, "users", selected), window=(start, end, len(users))
        )

    def user(self, request: ApiRequest, key: str) -> ApiResponse:
        selected = selected_names(request, USER_PROPERTIES, "user")
        with self._tenant.session() as tenant:
            user = _by_id_or_upn(tenant, key)
        body = {"@odata.context": context(request, "users", selected, entity=True)}
        body.update(pick(self.graph_user(user), selected or DEFAULT_USER_PROPERTIES))
        return ok(body)

    def graph_user(self, user: User) -> dict[str, Any]:
        return user_json(self._rules.with_states(self._rules.with_group_states(user, self.org_country())))

    def org_country(self) -> str:
        if self._country is None:
            with self._tenant.session() as tenant:
                self._country = tenant.organization().country_code
        return self._country

    def roles(self, request: ApiRequest, key: str) -> ApiResponse:
        if request.headers.get("consistencylevel") != "eventual" or request.query.get("$count") != "true":
            raise Refusal(
                400,
                "Request_UnsupportedQuery",
                "An OData cast on this relationship is an advanced query: it needs the header "
                "'ConsistencyLevel: eventual' and '$count=true'.",
            )
        with self._tenant.session() as tenant:
            user = _by_id_or_upn(tenant, key)
            org = tenant.organization()
            roles = sorted(tenant.admin_roles(user.id), key=lambda role: role.value)
        items = [role_json(role, org) for role in roles]
        selected = selected_names(request, ROLE_PROPERTIES, "directoryRole")
        if selected:
            items = [{"@odata.type": item["@odata.type"], **pick(item, selected)} for item in items]
        return self._pager.page(request, items, context(request, "directoryRoles", selected))

    def assign_license(self, request: ApiRequest, key: str) -> ApiResponse:
        add, remove = assign_license_parameters(request.body)
        with self._tenant.session() as tenant:
            user = _by_id_or_upn(tenant, key)
            products = TenantProducts(tenant)
            refused = self._rules.refusal(user, add, remove, products)
            if refused is not None:
                raise Refusal(400, "Request_BadRequest", refused)
            try:
                written = tenant.assign_license(user.id, add, remove, request_id=request.request_id)
            except DomainError as refusal:
                raise graph_refusal(refusal, key, add, products()) from refusal
            self._rules.written(user, add, remove)
        body = {"@odata.context": context(request, "users", None, entity=True)}
        body.update(pick(self.graph_user(written), DEFAULT_USER_PROPERTIES))
        return ok(body)


def _filtered(tenant: SimTenant, wanted: str) -> list[User]:
    if not wanted:
        return sorted(tenant.users(), key=lambda user: user.id)
    holds = _ANY_SKU.match(wanted)
    if holds:
        return sorted(tenant.users_with_product(holds.group(2).lower()), key=lambda user: user.id)
    enabled = _ENABLED.match(wanted)
    if enabled:
        flag = enabled.group(1) == "true"
        return sorted((u for u in tenant.users() if u.account_enabled is flag), key=lambda user: user.id)
    equals = _EQUALS.match(wanted)
    if equals:
        prop, value = equals.group(1), equals.group(2).replace("''", "'").casefold()
        matches = [
            user
            for user in tenant.users()
            if ((user.mail if prop == "mail" else user.user_principal_name) or "").casefold() == value
        ]
        return sorted(matches, key=lambda user: user.id)
    name = re.split(r"[\s/(]", wanted, maxsplit=1)[0]
    raise Refusal(
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{name}' of resource 'User'.",
    )


def _by_id_or_upn(tenant: SimTenant, key: str) -> User:
    """Graph finds a user by object id or user principal name, never by mail."""
    user = tenant.user(key)
    if user is None or key.casefold() not in {user.id.casefold(), user.user_principal_name.casefold()}:
        raise Refusal(
            404,
            "Request_ResourceNotFound",
            not_found(key),
        )
    return user
