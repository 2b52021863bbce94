"""The simulated Graph API's groups (R21): the collection with its filters, a group, its members and
those in a license error, and `assignLicense` on a group (answered 202, processed afterwards)."""

from __future__ import annotations

import re
from typing import Final

from domain.errors import DomainError
from domain.model import Group
from storage.graph_sim.license_requests import TenantProducts, assign_license_parameters, graph_refusal
from storage.graph_sim.messages import JSON_HEADERS, ApiRequest, ApiResponse, Refusal, not_found, ok
from storage.graph_sim.query_options import Pager, context, pick, selected_names
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.shapes import (
    DEFAULT_GROUP_PROPERTIES,
    DEFAULT_USER_PROPERTIES,
    GROUP_PROPERTIES,
    USER_PROPERTIES,
    group_json,
)
from storage.graph_sim.tenant import SimTenant, TenantSource
from storage.graph_sim.user_endpoints import UserEndpoints

__all__ = ["GroupEndpoints"]

_GROUP_EQUALS: Final = re.compile(r"^(displayName|mailNickname)\s+eq\s+'((?:[^']|'')*)'$")
_GROUP_LICENSE_COUNT: Final = re.compile(r"^assignedLicenses/\$count\s+(eq|ne)\s+0$")
"""`assignedLicenses/$count eq 0` or `ne 0` on groups: an advanced query only, as on Graph."""


class GroupEndpoints:
    """`users` shows the members as the user endpoints show users."""

    def __init__(self, tenant: TenantSource, rules: GraphRules, pager: Pager, users: UserEndpoints) -> None:
        self._tenant = tenant
        self._rules = rules
        self._pager = pager
        self._users = users

    def groups(self, request: ApiRequest, _key: str) -> ApiResponse:
        selected = selected_names(request, GROUP_PROPERTIES, "group")
        wanted = request.query.get("$filter", "").strip()
        counted = _GROUP_LICENSE_COUNT.match(wanted)
        if counted is not None:
            return self._by_license_count(request, selected, licensed=counted.group(1) == "ne")
        parts = re.split(r"\s+or\s+", wanted) if wanted else []
        clauses: list[tuple[str, str]] = []
        for part in parts:
            match = _GROUP_EQUALS.match(part.strip())
            if match is None:
                name = re.split(r"[\s/(]", part.strip(), maxsplit=1)[0]
                raise Refusal(
                    400,
                    "Request_UnsupportedQuery",
                    "Unsupported or invalid query filter clause specified for property "
                    f"'{name}' of resource 'Group'.",
                )
            clauses.append((match.group(1), match.group(2).replace("''", "'").casefold()))
        with self._tenant.session() as tenant:
            groups = tenant.list_groups()
        if clauses:
            groups = [
                group
                for group in groups
                if any(
                    (group.display_name if prop == "displayName" else group.mail_nickname).casefold() == value
                    for prop, value in clauses
                )
            ]
        items = [
            pick(group_json(g), selected or DEFAULT_GROUP_PROPERTIES)
            for g in sorted(groups, key=lambda g: g.id)
        ]
        return self._pager.page(request, items, context(request, "groups", selected))

    def _by_license_count(
        self, request: ApiRequest, selected: list[str] | None, *, licensed: bool
    ) -> ApiResponse:
        """Groups with (or without) licenses: `$count` on a collection in `$filter` is an
        advanced query, refused without `ConsistencyLevel: eventual` and `$count=true`."""
        if request.headers.get("consistencylevel") != "eventual" or request.query.get("$count") != "true":
            raise Refusal(
                400,
                "Request_UnsupportedQuery",
                "Unsupported Query. A filter on the count of a collection is an advanced query: it "
                "needs the header 'ConsistencyLevel: eventual' and '$count=true'.",
            )
        with self._tenant.session() as tenant:
            groups = [g for g in tenant.list_groups() if bool(g.licenses) is licensed]
        items = [
            pick(group_json(g), selected or DEFAULT_GROUP_PROPERTIES)
            for g in sorted(groups, key=lambda g: g.id)
        ]
        return self._pager.page(request, items, context(request, "groups", selected))

    def group(self, request: ApiRequest, key: str) -> ApiResponse:
        selected = selected_names(request, GROUP_PROPERTIES, "group")
        with self._tenant.session() as tenant:
            group = _group_by_id(tenant, key)
        body = {"@odata.context": context(request, "groups", selected, entity=True)}
        body.update(pick(group_json(group), selected or DEFAULT_GROUP_PROPERTIES))
        return ok(body)

    def group_members(self, request: ApiRequest, key: str) -> ApiResponse:
        return self._group_users(request, key, errors_only=False)

    def group_errors(self, request: ApiRequest, key: str) -> ApiResponse:
        return self._group_users(request, key, errors_only=True)

    def _group_users(self, request: ApiRequest, key: str, *, errors_only: bool) -> ApiResponse:
        selected = selected_names(request, USER_PROPERTIES, "user")
        with self._tenant.session() as tenant:
            group = _group_by_id(tenant, key)
            users = tenant.group_members(group.id)
        if errors_only:
            # What the tenant holds in error, and what these rules add (a location, R21).
            users = [
                user
                for user in users
                if any(
                    s.group_id == group.id and s.in_error
                    for s in self._rules.with_group_states(user, self._users.org_country()).states
                )
            ]
        items = [
            {
                "@odata.type": "#microsoft.graph.user",
                **pick(self._users.graph_user(u), selected or DEFAULT_USER_PROPERTIES),
            }
            for u in sorted(users, key=lambda user: user.id)
        ]
        return self._pager.page(request, items, context(request, "directoryObjects", selected))

    def assign_group_license(self, request: ApiRequest, key: str) -> ApiResponse:
        add, remove = assign_license_parameters(request.body)
        with self._tenant.session() as tenant:
            group = _group_by_id(tenant, key)
            products = TenantProducts(tenant)
            try:
                written = tenant.assign_group_license(group.id, add, remove)
            except DomainError as refusal:
                raise graph_refusal(refusal, key, add, products()) from refusal
        body = {"@odata.context": context(request, "groups", None, entity=True)}
        body.update(pick(group_json(written), DEFAULT_GROUP_PROPERTIES))
        # Graph accepts a group's license change and processes the members afterwards.
        return ApiResponse(202, body, dict(JSON_HEADERS))


def _group_by_id(tenant: SimTenant, key: str) -> Group:
    """Graph finds a group by object id only."""
    group = tenant.groups_by_id([key]).get(key)
    if group is None:
        raise Refusal(404, "Request_ResourceNotFound", not_found(key))
    return group
