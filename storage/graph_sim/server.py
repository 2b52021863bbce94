"""`GraphSimulator`: the simulated tenant served over HTTP as the Graph v1.0 subset licensebot uses.

Standard library only (`ThreadingHTTPServer`), on 127.0.0.1 by default, on a free port unless told.
Knobs: page size, latency per request and per write, the write quota per app (429 + `Retry-After`
when exceeded), injected faults; counters of what it saw (`stats()`). Every request needs a bearer
token (401 `InvalidAuthenticationToken` otherwise); writes are counted per app, as Graph does: the
`appid` claim of a JWT, or the token itself for an opaque one.

With `apps` (client id → `SimApp`), it also answers the client credentials flow at
`POST /{tenant}/oauth2/v2.0/token`, as the Microsoft identity platform does: a token (a JWT, not
signed) with the app's `roles`, or `invalid_client` (AADSTS7000215) for a wrong secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, urlsplit

from storage.graph.config import API_VERSION, WriteQuota
from storage.graph_sim.api import GraphApi
from storage.graph_sim.faults import FaultKind, FaultPlan, Faults
from storage.graph_sim.messages import ApiRequest, ApiResponse
from storage.graph_sim.quota import QuotaWindow
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.shapes import error_body
from storage.graph_sim.stats import SimStats, StatsRecorder
from storage.graph_sim.tenant import DatabaseTenant, TenantSource

__all__ = ["GraphSimulator", "SimApp"]

log = logging.getLogger(__name__)

_PREFIX: Final = f"/{API_VERSION}"
_TOKEN_PATH: Final = "/oauth2/v2.0/token"  # noqa: S105 - the login endpoint's path, not a secret


@dataclass(frozen=True)
class SimApp:
    """An app registration the simulator's token endpoint knows: its secret and granted permissions."""

    secret: str = field(repr=False)
    roles: tuple[str, ...] = ()


class GraphSimulator:
    def __init__(
        self,
        tenant: TenantSource | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 100,
        latency_ms: float = 0.0,
        write_latency_ms: float = 0.0,
        write_quota: WriteQuota | None = None,
        faults: FaultPlan | None = None,
        rules: GraphRules | None = None,
        tokens: Mapping[str, str] | None = None,
        apps: Mapping[str, SimApp] | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = 0,
    ) -> None:
        """`tenant`: where the data lives (default: a fresh in-memory Contoso demo tenant).
        `rules`: what a real tenant does beyond the simulated rules (license error states,
        dependencies, usage locations); see `rules`.
        `tokens`: accepted bearer tokens → app id (default: any non-empty token).
        `apps`: client id → app, for the token endpoint (its tokens are then accepted too).
        `clock`: monotonic seconds for the write quota (tests share a fake one with the pacer)."""
        self._owned = tenant is None
        self._tenant: TenantSource = tenant if tenant is not None else DatabaseTenant()
        self._host = host
        self._port = port
        self._latency = latency_ms / 1000
        self._tokens = dict(tokens) if tokens is not None else None
        self._apps = dict(apps or {})
        self._stats = StatsRecorder()
        self._faults = Faults(faults or FaultPlan(seed=seed))
        self._quota = (
            QuotaWindow(write_quota.writes, write_quota.window_seconds, clock) if write_quota else None
        )
        self._rules = rules or GraphRules()
        self._stopping = threading.Event()
        self._api = GraphApi(
            self._tenant,
            faults=self._faults,
            stats=self._stats,
            quota=self._quota,
            rules=self._rules,
            page_size=page_size,
            write_latency_seconds=write_latency_ms / 1000,
            seed=seed,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.simulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="graph-sim", daemon=True
        )
        self._thread.start()
        log.info("Graph simulator on %s", self.api_url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._owned and isinstance(self._tenant, DatabaseTenant):
            self._tenant.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve until interrupted (the CLI)."""
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # Where, and what happened

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the `graph_url` of a client (requests go to `{url}/v1.0/...`)."""
        if self._server is None:
            raise RuntimeError("the Graph simulator is not running: start() it first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}{_PREFIX}"

    @property
    def tenant(self) -> TenantSource:
        return self._tenant

    @property
    def rules(self) -> GraphRules:
        """Set license error states, dependencies and prohibited usage locations while serving."""
        return self._rules

    @property
    def faults(self) -> Faults:
        return self._faults

    def inject(self, kind: FaultKind, *, match: str = "", times: int = 1) -> None:
        """The next `times` requests whose "METHOD /path" contains `match` get fault `kind`."""
        self._faults.inject(kind, match=match, times=times)

    def stats(self) -> SimStats:
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    # One HTTP exchange

    def _respond(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> ApiResponse:
        request_id = str(uuid.uuid4())
        parts = urlsplit(target)
        if method == "POST" and parts.path.endswith(_TOKEN_PATH):
            return self._issue_token(raw)
        if not parts.path.startswith(_PREFIX + "/"):
            return _error(400, "BadRequest", f"Only {API_VERSION} is served here.", request_id)
        token = _bearer(headers.get("authorization", ""))
        if not token:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.", request_id)
        if self._tokens is not None and token not in self._tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure.", request_id)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "BadRequest", "Unable to read JSON request payload.", request_id)
        host = headers.get("host") or f"{self._host}:{self._port}"
        request = ApiRequest(
            method=method,
            path=parts.path[len(_PREFIX) :],
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body=body,
            base_url=f"http://{host}{_PREFIX}",
            app=self._tokens[token] if self._tokens is not None else _app_of(token),
            request_id=request_id,
            headers=headers,
        )
        response = self._api.handle(request)
        response.headers.setdefault("request-id", request_id)
        return response

    def _issue_token(self, raw: bytes) -> ApiResponse:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        client_id = form.get("client_id", "")
        app = self._apps.get(client_id)
        headers = {"Content-Type": "application/json"}
        if app is None:
            error = f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            return ApiResponse(400, {"error": "unauthorized_client", "error_description": error}, headers)
        if form.get("client_secret") != app.secret:
            error = "AADSTS7000215: Invalid client secret provided."
            return ApiResponse(401, {"error": "invalid_client", "error_description": error}, headers)
        claims = {"appid": client_id, "roles": list(app.roles), "aud": "https://graph.microsoft.com"}
        token = ".".join(_b64(part) for part in ({"alg": "none", "typ": "JWT"}, claims, {}))
        if self._tokens is not None:
            self._tokens[token] = client_id
        body = {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        return ApiResponse(200, body, headers)

    def _wait_out(self, response: ApiResponse) -> None:
        """Latency, or an injected hang that lasts past the client's timeout (or until stop())."""
        if response.hang:
            self._stopping.wait(self._faults.plan.hang_seconds)
        elif self._latency:
            time.sleep(self._latency)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    simulator: GraphSimulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: written apart, Nagle's algorithm and the client's
    # delayed ACK would add ~40 ms to every keep-alive exchange.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._exchange()

    def do_POST(self) -> None:
        self._exchange()

    def do_PATCH(self) -> None:
        self._exchange()

    def do_DELETE(self) -> None:
        self._exchange()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("graph-sim %s", format % args)

    def _exchange(self) -> None:
        simulator = self.server.simulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = simulator._respond(self.command, self.path, headers, raw)
        except Exception:
            log.exception("graph-sim failed on %s %s", self.command, urlsplit(self.path).path)
            response = _error(500, "InternalServerError", "The simulator failed.", str(uuid.uuid4()))
        simulator._wait_out(response)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (an injected timeout)


def _error(status: int, code: str, message: str, request_id: str) -> ApiResponse:
    return ApiResponse(
        status,
        error_body(code, message, request_id, datetime.now(UTC)),
        {"Content-Type": "application/json", "request-id": request_id},
    )


def _b64(part: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") if part else ""


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _app_of(token: str) -> str:
    """The app a token belongs to: its `appid` (v1) or `azp` (v2) claim, read without verifying."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
            claims = None
        if isinstance(claims, dict) and (claims.get("appid") or claims.get("azp")):
            return str(claims.get("appid") or claims.get("azp"))
    return hashlib.sha256(token.encode()).hexdigest()[:16]
