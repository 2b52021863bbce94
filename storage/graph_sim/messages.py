"""What the simulated Graph API takes and answers: a request, an answer, a refusal in Graph's error
shape, and the paths of the entities licensebot reads and writes (with `{id}` for the counters)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from storage.graph_sim.shapes import error_body

__all__ = [
    "ASSIGN_PATH",
    "GROUP_ASSIGN_PATH",
    "GROUP_ERRORS_PATH",
    "GROUP_MEMBERS_PATH",
    "GROUP_PATH",
    "JSON_HEADERS",
    "ROLES_PATH",
    "USER_PATH",
    "ApiRequest",
    "ApiResponse",
    "Refusal",
    "endpoint_of",
    "error_answer",
    "not_found",
    "ok",
]

USER_PATH: Final = re.compile(r"^/users/(?P<key>[^/]+)$")
ROLES_PATH: Final = re.compile(r"^/users/(?P<key>[^/]+)/transitiveMemberOf/microsoft\.graph\.directoryRole$")
ASSIGN_PATH: Final = re.compile(r"^/users/(?P<key>[^/]+)/(?:microsoft\.graph\.)?assignLicense$")
GROUP_PATH: Final = re.compile(r"^/groups/(?P<key>[^/]+)$")
GROUP_MEMBERS_PATH: Final = re.compile(r"^/groups/(?P<key>[^/]+)/members(?:/microsoft\.graph\.user)?$")
GROUP_ERRORS_PATH: Final = re.compile(r"^/groups/(?P<key>[^/]+)/membersWithLicenseErrors$")
GROUP_ASSIGN_PATH: Final = re.compile(r"^/groups/(?P<key>[^/]+)/(?:microsoft\.graph\.)?assignLicense$")
JSON_HEADERS: Final = {"Content-Type": "application/json"}


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
            ASSIGN_PATH.match(self.path) is not None or GROUP_ASSIGN_PATH.match(self.path) is not None
        )


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Answer only after the client gave up (an injected timeout)."""


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def endpoint_of(method: str, path: str) -> str:
    """The endpoint a request is counted under: ids replaced by `{id}`."""
    for pattern, template in (
        (ROLES_PATH, "/users/{id}/transitiveMemberOf/microsoft.graph.directoryRole"),
        (ASSIGN_PATH, "/users/{id}/assignLicense"),
        (USER_PATH, "/users/{id}"),
        (GROUP_MEMBERS_PATH, "/groups/{id}/members"),
        (GROUP_ERRORS_PATH, "/groups/{id}/membersWithLicenseErrors"),
        (GROUP_ASSIGN_PATH, "/groups/{id}/assignLicense"),
        (GROUP_PATH, "/groups/{id}"),
    ):
        if pattern.match(path):
            return f"{method} {template}"
    return f"{method} {path}"


def ok(body: dict[str, Any]) -> ApiResponse:
    return ApiResponse(200, body, dict(JSON_HEADERS))


def error_answer(refusal: Refusal, request_id: str) -> ApiResponse:
    body = error_body(refusal.code, refusal.message, request_id, datetime.now(UTC))
    return ApiResponse(refusal.status, body, {**JSON_HEADERS, **refusal.headers})


def not_found(key: str) -> str:
    return (
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present."
    )
