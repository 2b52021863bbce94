"""The Graph v1.0 subset licensebot uses, served from the simulated tenant (no HTTP here).

Paths, query options, bodies, answers and error texts follow Graph; `GraphSimulator` puts this on a
socket. Faults and the write quota are applied per request, and per sub-request inside `$batch`,
like Graph throttles each request of a batch on its own. The endpoints are in
`subscription_endpoints.py`, `user_endpoints.py` and `group_endpoints.py`, `$batch` in `batch.py`, the
query options in `query_options.py`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from urllib.parse import unquote

from storage.graph_sim.batch import Batches
from storage.graph_sim.faults import FaultKind, Faults
from storage.graph_sim.group_endpoints import GroupEndpoints
from storage.graph_sim.messages import (
    ASSIGN_PATH,
    GROUP_ASSIGN_PATH,
    GROUP_ERRORS_PATH,
    GROUP_MEMBERS_PATH,
    GROUP_PATH,
    ROLES_PATH,
    USER_PATH,
    ApiRequest,
    ApiResponse,
    Refusal,
    endpoint_of,
    error_answer,
)
from storage.graph_sim.query_options import Pager
from storage.graph_sim.quota import QuotaWindow
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.stats import StatsRecorder
from storage.graph_sim.subscription_endpoints import SubscriptionEndpoints
from storage.graph_sim.tenant import TenantSource
from storage.graph_sim.user_endpoints import UserEndpoints

__all__ = ["GraphApi"]


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
        pager = Pager(page_size)
        rules = rules or GraphRules()
        self._faults = faults
        self._stats = stats
        self._quota = quota
        self._write_latency = write_latency_seconds
        self._sleep = sleeper
        self._subscriptions = SubscriptionEndpoints(tenant)
        self._users = UserEndpoints(tenant, rules, pager)
        self._groups = GroupEndpoints(tenant, rules, pager, self._users)
        self._batches = Batches(self._serve, stats, self._pause_for_writes, seed)

    def handle(self, request: ApiRequest) -> ApiResponse:
        """One HTTP request: `$batch` or a single request."""
        if request.method == "POST" and request.path == "/$batch":
            self._stats.request("POST /$batch")
            try:
                return self._batches.run(request)
            except Refusal as refusal:
                return error_answer(refusal, request.request_id)
        response = self._serve(request)
        if request.is_write:
            self._pause_for_writes()
        return response

    def _pause_for_writes(self) -> None:
        """The time Graph takes for a write (for all of a batch's, side by side)."""
        self._sleep(self._write_latency)

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
        except Refusal as refusal:
            response = error_answer(refusal, request.request_id)
        if request.is_write and 200 <= response.status < 300:
            self._stats.write_applied(str(response.body.get("id", "")))
        if fault is FaultKind.APPLIED_THEN_THROTTLED:
            return self._throttled(request.request_id, self._faults.plan.retry_after_seconds)
        response.hang = fault is FaultKind.TIMEOUT
        return response

    def _fault_answer(self, fault: FaultKind, request_id: str) -> ApiResponse:
        if fault is FaultKind.UNAVAILABLE:
            refusal = Refusal(
                503,
                "serviceNotAvailable",
                "Service unavailable. Please try again later.",
                {"Retry-After": str(self._faults.plan.retry_after_seconds)},
            )
            return error_answer(refusal, request_id)
        if fault is FaultKind.THROTTLE_NO_RETRY_AFTER:
            return self._throttled(request_id, None)
        return self._throttled(request_id, self._faults.plan.retry_after_seconds)

    def _throttled(self, request_id: str, seconds: int | None, *, by_quota: bool = False) -> ApiResponse:
        self._stats.throttled(by_quota=by_quota)
        headers = {} if seconds is None else {"Retry-After": str(seconds)}
        return error_answer(Refusal(429, "TooManyRequests", "Please retry again later.", headers), request_id)

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        path, method = request.path, request.method
        routes: Sequence[tuple[str, re.Pattern[str] | str, Callable[[ApiRequest, str], ApiResponse]]] = (
            ("GET", "/organization", self._subscriptions.organization),
            ("GET", "/subscribedSkus", self._subscriptions.subscribed_skus),
            ("GET", "/directory/subscriptions", self._subscriptions.subscriptions),
            ("GET", "/users", self._users.users),
            ("GET", USER_PATH, self._users.user),
            ("GET", ROLES_PATH, self._users.roles),
            ("POST", ASSIGN_PATH, self._users.assign_license),
            ("GET", "/groups", self._groups.groups),
            ("GET", GROUP_PATH, self._groups.group),
            ("GET", GROUP_MEMBERS_PATH, self._groups.group_members),
            ("GET", GROUP_ERRORS_PATH, self._groups.group_errors),
            ("POST", GROUP_ASSIGN_PATH, self._groups.assign_group_license),
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
            raise Refusal(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed here.")
        segment = path.strip("/").split("/")[0] or path
        raise Refusal(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
