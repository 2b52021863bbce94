"""The Graph v1.0 subset licensebot uses, served from the simulated tenant (no HTTP here).

Paths, query options, bodies, answers and error texts follow Graph; `GraphSimulator` puts this on a
socket. Faults and the write quota are applied per request, and per sub-request inside `$batch`,
like Graph throttles each request of a batch on its own.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

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
from domain.model import Group, LicenseAssignment, Product, SubscriptionStatus, User
from storage.graph_sim.faults import FaultKind, Faults
from storage.graph_sim.quota import QuotaWindow
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.shapes import (
    DEFAULT_GROUP_PROPERTIES,
    DEFAULT_USER_PROPERTIES,
    GROUP_PROPERTIES,
    ORGANIZATION_PROPERTIES,
    ROLE_PROPERTIES,
    SUBSCRIBED_SKU_PROPERTIES,
    SUBSCRIPTION_PROPERTIES,
    USER_PROPERTIES,
    activity_json,
    error_body,
    group_json,
    organization_json,
    role_json,
    subscribed_sku_json,
    subscription_json,
    user_json,
)
from storage.graph_sim.stats import StatsRecorder
from storage.graph_sim.tenant import SimTenant, TenantSource

__all__ = ["MAX_BATCH", "ApiRequest", "ApiResponse", "GraphApi", "endpoint_of"]

MAX_BATCH: Final = 20
MAX_TOP: Final = 999
SIGN_INS_PAGE: Final = 120
"""Graph serves at most this many users a page when their `signInActivity` is selected."""
_GUID: Final = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_ANY_SKU: Final = re.compile(rf"^assignedLicenses/any\(\s*(\w+)\s*:\s*\1/skuId\s+eq\s+({_GUID})\s*\)$")
_EQUALS: Final = re.compile(r"^(mail|userPrincipalName)\s+eq\s+'((?:[^']|'')*)'$")
_ENABLED: Final = re.compile(r"^accountEnabled\s+eq\s+(true|false)$")
_USER: Final = re.compile(r"^/users/(?P<key>[^/]+)$")
_ROLES: Final = re.compile(r"^/users/(?P<key>[^/]+)/transitiveMemberOf/microsoft\.graph\.directoryRole$")
_ASSIGN: Final = re.compile(r"^/users/(?P<key>[^/]+)/(?:microsoft\.graph\.)?assignLicense$")
_GROUP: Final = re.compile(r"^/groups/(?P<key>[^/]+)$")
_GROUP_MEMBERS: Final = re.compile(r"^/groups/(?P<key>[^/]+)/members(?:/microsoft\.graph\.user)?$")
_GROUP_ERRORS: Final = re.compile(r"^/groups/(?P<key>[^/]+)/membersWithLicenseErrors$")
_GROUP_ASSIGN: Final = re.compile(r"^/groups/(?P<key>[^/]+)/(?:microsoft\.graph\.)?assignLicense$")
_GROUP_EQUALS: Final = re.compile(r"^(displayName|mailNickname)\s+eq\s+'((?:[^']|'')*)'$")
_GROUP_LICENSE_COUNT: Final = re.compile(r"^assignedLicenses/\$count\s+(eq|ne)\s+0$")
"""`assignedLicenses/$count eq 0` or `ne 0` on groups: an advanced query only, as on Graph."""
_ASSIGNED_LICENSE_PROPERTIES: Final = frozenset({"skuId", "disabledPlans"})
_JSON: Final = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str
    """Below the version root, still percent-encoded: `/users/alice%40contoso.com`."""
    query: Mapping[str, str]
    body: Any
    base_url: str
    """`http://127.0.0.1:8765/v1.0`, for `@odata.context` and next links."""
    app: str
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-case names."""

    @property
    def is_write(self) -> bool:
        return self.method == "POST" and (
            _ASSIGN.match(self.path) is not None or _GROUP_ASSIGN.match(self.path) is not None
        )


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Answer only after the client gave up (an injected timeout)."""


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def endpoint_of(method: str, path: str) -> str:
    """The endpoint a request is counted under: ids replaced by `{id}`."""
    for pattern, template in (
        (_ROLES, "/users/{id}/transitiveMemberOf/microsoft.graph.directoryRole"),
        (_ASSIGN, "/users/{id}/assignLicense"),
        (_USER, "/users/{id}"),
        (_GROUP_MEMBERS, "/groups/{id}/members"),
        (_GROUP_ERRORS, "/groups/{id}/membersWithLicenseErrors"),
        (_GROUP_ASSIGN, "/groups/{id}/assignLicense"),
        (_GROUP, "/groups/{id}"),
    ):
        if pattern.match(path):
            return f"{method} {template}"
    return f"{method} {path}"


class GraphApi:
    def __init__(
        self,
        tenant: TenantSource,
        *,
        faults: Faults,
        stats: StatsRecorder,
        quota: QuotaWindow | None = None,
        rules: GraphRules | None = None,
        page_size: int = 100,
        write_latency_seconds: float = 0.0,
        sleeper: Callable[[float], None] = time.sleep,
        seed: int | None = 0,
    ) -> None:
        if not 1 <= page_size <= MAX_TOP:
            raise ValueError(f"page size must be 1..{MAX_TOP}, not {page_size}")
        self._tenant = tenant
        self._faults = faults
        self._stats = stats
        self._quota = quota
        self._rules = rules or GraphRules()
        self._page_size = page_size
        self._write_latency = write_latency_seconds
        self._sleep = sleeper
        self._random = random.Random(seed)  # noqa: S311 - answer order in $batch, not security
        self._random_lock = threading.Lock()
        self._country: str | None = None
        """The organization's country, read once: where members without a usage location are
        licensed (R21)."""

    def handle(self, request: ApiRequest) -> ApiResponse:
        """One HTTP request: `$batch` or a single request."""
        if request.method == "POST" and request.path == "/$batch":
            self._stats.request("POST /$batch")
            try:
                return self._batch(request)
            except _Refusal as refusal:
                return self._error(refusal, request.request_id)
        response = self._serve(request)
        if request.is_write:
            self._sleep(self._write_latency)
        return response

    # Faults, quota, then Graph itself

    def _serve(self, request: ApiRequest) -> ApiResponse:
        self._stats.request(endpoint_of(request.method, request.path))
        fault = self._faults.draw(request.method, request.path, is_write=request.is_write)
        if fault is not None:
            self._stats.fault(fault.value)
        if fault is not None and fault.stops_request:
            return self._fault_answer(fault, request.request_id)
        if request.is_write and self._quota is not None:
            wait = self._quota.take(request.app)
            if wait is not None:
                return self._throttled(request.request_id, wait, by_quota=True)
        try:
            response = self._dispatch(request)
        except _Refusal as refusal:
            response = self._error(refusal, request.request_id)
        if request.is_write and 200 <= response.status < 300:
            self._stats.write_applied(str(response.body.get("id", "")))
        if fault is FaultKind.APPLIED_THEN_THROTTLED:
            return self._throttled(request.request_id, self._faults.plan.retry_after_seconds)
        response.hang = fault is FaultKind.TIMEOUT
        return response

    def _fault_answer(self, fault: FaultKind, request_id: str) -> ApiResponse:
        if fault is FaultKind.UNAVAILABLE:
            refusal = _Refusal(
                503,
                "serviceNotAvailable",
                "Service unavailable. Please try again later.",
                {"Retry-After": str(self._faults.plan.retry_after_seconds)},
            )
            return self._error(refusal, request_id)
        if fault is FaultKind.THROTTLE_NO_RETRY_AFTER:
            return self._throttled(request_id, None)
        return self._throttled(request_id, self._faults.plan.retry_after_seconds)

    def _throttled(self, request_id: str, seconds: int | None, *, by_quota: bool = False) -> ApiResponse:
        self._stats.throttled(by_quota=by_quota)
        headers = {} if seconds is None else {"Retry-After": str(seconds)}
        return self._error(_Refusal(429, "TooManyRequests", "Please retry again later.", headers), request_id)

    def _error(self, refusal: _Refusal, request_id: str) -> ApiResponse:
        body = error_body(refusal.code, refusal.message, request_id, datetime.now(UTC))
        return ApiResponse(refusal.status, body, {**_JSON, **refusal.headers})

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        path, method = request.path, request.method
        routes: Sequence[tuple[str, re.Pattern[str] | str, Callable[[ApiRequest, str], ApiResponse]]] = (
            ("GET", "/organization", self._organization),
            ("GET", "/subscribedSkus", self._subscribed_skus),
            ("GET", "/directory/subscriptions", self._subscriptions),
            ("GET", "/users", self._users),
            ("GET", _USER, self._user),
            ("GET", _ROLES, self._roles),
            ("POST", _ASSIGN, self._assign_license),
            ("GET", "/groups", self._groups),
            ("GET", _GROUP, self._group),
            ("GET", _GROUP_MEMBERS, self._group_members),
            ("GET", _GROUP_ERRORS, self._group_errors),
            ("POST", _GROUP_ASSIGN, self._assign_group_license),
        )
        known_path = False
        for verb, route, serve in routes:
            if isinstance(route, str):
                hit, key = path == route, ""
            else:
                match = route.match(path)
                hit, key = match is not None, unquote(match["key"]) if match else ""
            if hit:
                known_path = True
                if verb == method:
                    return serve(request, key)
        if known_path:
            raise _Refusal(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed here.")
        segment = path.strip("/").split("/")[0] or path
        raise _Refusal(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    # Reads

    def _organization(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            org = organization_json(tenant.organization())
        selected = _selected(request, ORGANIZATION_PROPERTIES, "organization")
        item = _pick(org, selected)
        return _ok({"@odata.context": _context(request, "organization", selected), "value": [item]})

    def _subscribed_skus(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            org = tenant.organization()
            subscriptions = _listed(tenant)
            items = [
                subscribed_sku_json(product, org, [s.id for s in subscriptions if s.sku_id == product.sku_id])
                for product in tenant.products()
            ]
        selected = _selected(request, SUBSCRIBED_SKU_PROPERTIES, "subscribedSku")
        return _ok(
            {
                "@odata.context": _context(request, "subscribedSkus", selected),
                "value": [_pick(item, selected) for item in items],
            }
        )

    def _subscriptions(self, request: ApiRequest, _key: str) -> ApiResponse:
        with self._tenant.session() as tenant:
            products = {p.sku_id: p for p in tenant.products()}
            items = [subscription_json(s, products.get(s.sku_id)) for s in _listed(tenant)]
        selected = _selected(request, SUBSCRIPTION_PROPERTIES, "companySubscription")
        return _ok(
            {
                "@odata.context": _context(request, "directory/subscriptions", selected),
                "value": [_pick(item, selected) for item in items],
            }
        )

    def _users(self, request: ApiRequest, _key: str) -> ApiResponse:
        selected = _selected(request, USER_PROPERTIES, "user")
        wanted = request.query.get("$filter", "").strip()
        sign_ins = selected is not None and "signInActivity" in selected
        with self._tenant.session() as tenant:
            if sign_ins and not tenant.allows_sign_in_activity():
                # R22: what Graph answers a tenant without Microsoft Entra ID P1.
                raise _Refusal(
                    403,
                    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "Neither tenant is B2C or tenant doesn't have premium license",
                )
            users = _filtered(tenant, wanted)
            start, end = self._window(request, len(users), SIGN_INS_PAGE if sign_ins else MAX_TOP)
            shown = users[start:end]
            activity = (
                tenant.account_activity([u.id for u in shown])
                if selected is not None and {"signInActivity", "createdDateTime"} & set(selected)
                else {}
            )
        items = []
        for user in shown:
            item = self._user_json(user)
            if user.id in activity:
                item.update(activity_json(activity[user.id]))
            items.append(_pick(item, selected or DEFAULT_USER_PROPERTIES))
        return self._page(
            request, items, _context(request, "users", selected), window=(start, end, len(users))
        )

    def _user(self, request: ApiRequest, key: str) -> ApiResponse:
        selected = _selected(request, USER_PROPERTIES, "user")
        with self._tenant.session() as tenant:
            user = _by_id_or_upn(tenant, key)
        body = {"@odata.context": _context(request, "users", selected, entity=True)}
        body.update(_pick(self._user_json(user), selected or DEFAULT_USER_PROPERTIES))
        return _ok(body)

    def _user_json(self, user: User) -> dict[str, Any]:
        return user_json(self._rules.with_states(self._rules.with_group_states(user, self._org_country())))

    def _org_country(self) -> str:
        if self._country is None:
            with self._tenant.session() as tenant:
                self._country = tenant.organization().country_code
        return self._country

    def _roles(self, request: ApiRequest, key: str) -> ApiResponse:
        if request.headers.get("consistencylevel") != "eventual" or request.query.get("$count") != "true":
            raise _Refusal(
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
        selected = _selected(request, ROLE_PROPERTIES, "directoryRole")
        if selected:
            items = [{"@odata.type": item["@odata.type"], **_pick(item, selected)} for item in items]
        return self._page(request, items, _context(request, "directoryRoles", selected))

    def _window(self, request: ApiRequest, total: int, largest: int = MAX_TOP) -> tuple[int, int]:
        """The slice of a collection of `total` items this request's page holds (`$top`, at most
        `largest` per page, and `$skiptoken`)."""
        size = min(self._page_size, largest)
        top = request.query.get("$top")
        if top is not None:
            if not top.isdigit() or not 1 <= int(top) <= MAX_TOP:
                raise _Refusal(
                    400,
                    "Request_UnsupportedQuery",
                    f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.",
                )
            size = min(size, int(top))
        start = _skip(request.query.get("$skiptoken"))
        return start, min(start + size, total)

    def _page(
        self,
        request: ApiRequest,
        items: list[dict[str, Any]],
        context: str,
        *,
        window: tuple[int, int, int] | None = None,
    ) -> ApiResponse:
        """One page of `items`; with `window` (start, end, total), `items` is that page already."""
        if window is None:
            start, end = self._window(request, len(items))
            total, page = len(items), items[start:end]
        else:
            (start, end, total), page = window, items
        size = end - start
        body: dict[str, Any] = {"@odata.context": context}
        if request.query.get("$count") == "true":
            body["@odata.count"] = total
        body["value"] = page
        if end < total:
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
            body["@odata.nextLink"] = f"{request.base_url}{request.path}?{_encode(query)}"
        return _ok(body)

    # The write

    def _assign_license(self, request: ApiRequest, key: str) -> ApiResponse:
        add, remove = _assign_license_parameters(request.body)
        with self._tenant.session() as tenant:
            user = _by_id_or_upn(tenant, key)
            products = _Products(tenant)
            refused = self._rules.refusal(user, add, remove, products)
            if refused is not None:
                raise _Refusal(400, "Request_BadRequest", refused)
            try:
                written = tenant.assign_license(user.id, add, remove, request_id=request.request_id)
            except DomainError as refusal:
                raise _graph_refusal(refusal, key, add, products()) from refusal
            self._rules.written(user, add, remove)
        body = {"@odata.context": _context(request, "users", None, entity=True)}
        body.update(_pick(self._user_json(written), DEFAULT_USER_PROPERTIES))
        return _ok(body)

    # Groups (R21)

    def _groups(self, request: ApiRequest, _key: str) -> ApiResponse:
        selected = _selected(request, GROUP_PROPERTIES, "group")
        wanted = request.query.get("$filter", "").strip()
        counted = _GROUP_LICENSE_COUNT.match(wanted)
        if counted is not None:
            return self._groups_by_license_count(request, selected, licensed=counted.group(1) == "ne")
        parts = re.split(r"\s+or\s+", wanted) if wanted else []
        clauses: list[tuple[str, str]] = []
        for part in parts:
            match = _GROUP_EQUALS.match(part.strip())
            if match is None:
                name = re.split(r"[\s/(]", part.strip(), maxsplit=1)[0]
                raise _Refusal(
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
            _pick(group_json(g), selected or DEFAULT_GROUP_PROPERTIES)
            for g in sorted(groups, key=lambda g: g.id)
        ]
        return self._page(request, items, _context(request, "groups", selected))

    def _groups_by_license_count(
        self, request: ApiRequest, selected: list[str] | None, *, licensed: bool
    ) -> ApiResponse:
        """Groups with (or without) licenses: `$count` on a collection in `$filter` is an
        advanced query, refused without `ConsistencyLevel: eventual` and `$count=true`."""
        if request.headers.get("consistencylevel") != "eventual" or request.query.get("$count") != "true":
            raise _Refusal(
                400,
                "Request_UnsupportedQuery",
                "Unsupported Query. A filter on the count of a collection is an advanced query: it "
                "needs the header 'ConsistencyLevel: eventual' and '$count=true'.",
            )
        with self._tenant.session() as tenant:
            groups = [g for g in tenant.list_groups() if bool(g.licenses) is licensed]
        items = [
            _pick(group_json(g), selected or DEFAULT_GROUP_PROPERTIES)
            for g in sorted(groups, key=lambda g: g.id)
        ]
        return self._page(request, items, _context(request, "groups", selected))

    def _group(self, request: ApiRequest, key: str) -> ApiResponse:
        selected = _selected(request, GROUP_PROPERTIES, "group")
        with self._tenant.session() as tenant:
            group = _group_by_id(tenant, key)
        body = {"@odata.context": _context(request, "groups", selected, entity=True)}
        body.update(_pick(group_json(group), selected or DEFAULT_GROUP_PROPERTIES))
        return _ok(body)

    def _group_members(self, request: ApiRequest, key: str) -> ApiResponse:
        return self._group_users(request, key, errors_only=False)

    def _group_errors(self, request: ApiRequest, key: str) -> ApiResponse:
        return self._group_users(request, key, errors_only=True)

    def _group_users(self, request: ApiRequest, key: str, *, errors_only: bool) -> ApiResponse:
        selected = _selected(request, USER_PROPERTIES, "user")
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
                    for s in self._rules.with_group_states(user, self._org_country()).states
                )
            ]
        items = [
            {
                "@odata.type": "#microsoft.graph.user",
                **_pick(self._user_json(u), selected or DEFAULT_USER_PROPERTIES),
            }
            for u in sorted(users, key=lambda user: user.id)
        ]
        return self._page(request, items, _context(request, "directoryObjects", selected))

    def _assign_group_license(self, request: ApiRequest, key: str) -> ApiResponse:
        add, remove = _assign_license_parameters(request.body)
        with self._tenant.session() as tenant:
            group = _group_by_id(tenant, key)
            products = _Products(tenant)
            try:
                written = tenant.assign_group_license(group.id, add, remove)
            except DomainError as refusal:
                raise _graph_refusal(refusal, key, add, products()) from refusal
        body = {"@odata.context": _context(request, "groups", None, entity=True)}
        body.update(_pick(group_json(written), DEFAULT_GROUP_PROPERTIES))
        # Graph accepts a group's license change and processes the members afterwards.
        return ApiResponse(202, body, dict(_JSON))

    # $batch

    def _batch(self, request: ApiRequest) -> ApiResponse:
        entries = request.body.get("requests") if isinstance(request.body, Mapping) else None
        if not isinstance(entries, list) or not entries:
            raise _Refusal(400, "BadRequest", "Invalid batch payload format.")
        if len(entries) > MAX_BATCH:
            raise _Refusal(400, "BadRequest", f"The batch request contains more than {MAX_BATCH} requests.")
        ids = [str(e.get("id", "")) if isinstance(e, Mapping) else "" for e in entries]
        if "" in ids or len(set(ids)) != len(ids):
            raise _Refusal(400, "BadRequest", "Every request of a batch needs its own unique id.")
        self._stats.batch(len(entries))
        answers: list[dict[str, Any]] = []
        hang = writes = False
        for entry_id, entry in zip(ids, entries, strict=True):
            sub = _sub_request(request, entry_id, entry)
            if isinstance(sub, ApiResponse):
                response = sub
            else:
                response = self._serve(sub)
                writes = writes or sub.is_write
            hang = hang or response.hang
            answer: dict[str, Any] = {"id": entry_id, "status": response.status, "headers": response.headers}
            if response.body is not None:
                answer["body"] = response.body
            answers.append(answer)
        if writes:
            # Graph runs the requests of a batch side by side: one write's time, not twenty.
            self._sleep(self._write_latency)
        with self._random_lock:
            self._random.shuffle(answers)  # Answers come in any order: clients match them by id.
        return ApiResponse(200, {"responses": answers}, dict(_JSON), hang=hang)


class _Products:
    """The tenant's products by sku id, read once and only when asked for."""

    def __init__(self, tenant: SimTenant) -> None:
        self._tenant = tenant
        self._products: dict[str, Product] | None = None

    def __call__(self) -> dict[str, Product]:
        if self._products is None:
            self._products = {p.sku_id: p for p in self._tenant.products()}
        return self._products


def _sub_request(request: ApiRequest, entry_id: str, entry: Mapping[str, Any]) -> ApiRequest | ApiResponse:
    method = str(entry.get("method", "")).upper()
    url = str(entry.get("url", ""))
    if not method or not url or urlsplit(url).scheme:
        return _sub_error(
            request, 400, "BadRequest", f"Request {entry_id} needs a method and a relative url."
        )
    body = entry.get("body")
    raw_headers = entry.get("headers")
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()} if isinstance(raw_headers, Mapping) else {}
    )
    if body is not None and "json" not in headers.get("content-type", ""):
        return _sub_error(
            request,
            400,
            "BadRequest",
            f"Write request id : {entry_id} does not contain Content-Type header or body.",
        )
    parts = urlsplit("/" + url.lstrip("/"))
    return ApiRequest(
        method=method,
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        body=body,
        base_url=request.base_url,
        app=request.app,
        request_id=str(uuid.uuid4()),
        headers=headers,
    )


def _sub_error(request: ApiRequest, status: int, code: str, message: str) -> ApiResponse:
    return ApiResponse(status, error_body(code, message, request.request_id, datetime.now(UTC)), dict(_JSON))


# Helpers of the Graph semantics


def _ok(body: dict[str, Any]) -> ApiResponse:
    return ApiResponse(200, body, dict(_JSON))


def _encode(query: Mapping[str, str]) -> str:
    return urlencode(dict(query), quote_via=quote, safe="$,:()'/")


def _context(
    request: ApiRequest, entity_set: str, selected: Sequence[str] | None, *, entity: bool = False
) -> str:
    select = f"({','.join(selected)})" if selected else ""
    return f"{request.base_url}/$metadata#{entity_set}{select}{'/$entity' if entity else ''}"


def _selected(request: ApiRequest, properties: frozenset[str], type_name: str) -> list[str] | None:
    raw = request.query.get("$select")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if name not in properties:
            raise _Refusal(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.",
            )
    return names


def _pick(item: Mapping[str, Any], names: Sequence[str] | None) -> dict[str, Any]:
    if not names:
        return dict(item)
    return {name: item[name] for name in names if name in item}


def _skip(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    label, _, offset = text.partition(":")
    if label != "offset" or not offset.isdigit():
        raise _Refusal(400, "Request_BadRequest", "The specified page token value has expired or is invalid.")
    return int(offset)


def _listed(tenant: SimTenant) -> list[Any]:
    """A purchase still Pending is not listed by Graph yet (R9, R11)."""
    return [s for s in tenant.subscriptions() if s.status is not SubscriptionStatus.PENDING]


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
    raise _Refusal(
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{name}' of resource 'User'.",
    )


def _not_found(key: str) -> str:
    return (
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present."
    )


def _by_id_or_upn(tenant: SimTenant, key: str) -> User:
    """Graph finds a user by object id or user principal name, never by mail."""
    user = tenant.user(key)
    if user is None or key.casefold() not in {user.id.casefold(), user.user_principal_name.casefold()}:
        raise _Refusal(
            404,
            "Request_ResourceNotFound",
            _not_found(key),
        )
    return user


def _group_by_id(tenant: SimTenant, key: str) -> Group:
    """Graph finds a group by object id only."""
    group = tenant.groups_by_id([key]).get(key)
    if group is None:
        raise _Refusal(404, "Request_ResourceNotFound", _not_found(key))
    return group


def _assign_license_parameters(body: Any) -> tuple[list[LicenseAssignment], list[str]]:
    if not isinstance(body, Mapping):
        raise _Refusal(400, "Request_BadRequest", "The request body is empty or is not a JSON object.")
    missing = [name for name in ("addLicenses", "removeLicenses") if name not in body]
    if missing:
        raise _Refusal(
            400,
            "Request_BadRequest",
            "One or more parameters of the function import 'assignLicense' are missing from the request "
            f"payload. The missing parameters are: {', '.join(missing)}.",
        )
    add_items, remove_items = body["addLicenses"], body["removeLicenses"]
    if not isinstance(add_items, list) or not isinstance(remove_items, list):
        raise _Refusal(400, "Request_BadRequest", "addLicenses and removeLicenses must be collections.")
    add: list[LicenseAssignment] = []
    for item in add_items:
        if not isinstance(item, Mapping):
            raise _Refusal(400, "Request_BadRequest", "Each of addLicenses must be an assignedLicense.")
        extra = sorted(set(item) - _ASSIGNED_LICENSE_PROPERTIES)
        if extra:
            raise _Refusal(
                400,
                "Request_BadRequest",
                f"The property '{extra[0]}' does not exist on type 'microsoft.graph.assignedLicense'. "
                "Make sure to only use property names that are defined by the type.",
            )
        plans = item.get("disabledPlans") or []
        if not _is_guid(item.get("skuId")) or not all(_is_guid(p) for p in plans):
            raise _Refusal(
                400,
                "Request_BadRequest",
                "Invalid value specified for property 'skuId' or 'disabledPlans' of resource "
                "'AssignedLicense'.",
            )
        add.append(LicenseAssignment(str(item["skuId"]).lower(), frozenset(str(p).lower() for p in plans)))
    if not all(_is_guid(sku) for sku in remove_items):
        raise _Refusal(400, "Request_BadRequest", "Invalid value specified for removeLicenses.")
    return add, [str(sku).lower() for sku in remove_items]


def _is_guid(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(_GUID, value) is not None


def _graph_refusal(
    refusal: DomainError, key: str, add: Sequence[LicenseAssignment], products: Mapping[str, Product]
) -> _Refusal:
    """The simulated tenant's refusal in Graph's words (see ../shared/reference/README.md)."""

    def bad(message: str) -> _Refusal:
        return _Refusal(400, "Request_BadRequest", message)

    by_part = {p.part_number: p.sku_id for p in products.values()}
    if isinstance(refusal, UnknownUser):
        return _Refusal(
            404,
            "Request_ResourceNotFound",
            _not_found(key),
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
