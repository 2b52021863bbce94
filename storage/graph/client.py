"""A small Microsoft Graph client on one pooled `httpx.Client`: paged GETs, POSTs and `$batch`.

Reads are retried on 429, 502, 503 and 504 and on lost connections, honouring `Retry-After`
(exponential backoff with full jitter when Graph gives none). Writes are never retried blindly: a
write whose answer is a throttle, a server error or silence may or may not have happened, so it
comes back to the caller as such (`GraphResponse.outcome_unknown`) and the caller reads the state
before deciding. Writes are paced under the quota by a `WritePacer` (R17).

The transport is a seam (STYLE.md): tests pass an `httpx.MockTransport` or talk real HTTP to the
Graph simulator; the sleeper and the random source are injectable so that waiting is observable.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, NoReturn, Self

import httpx

from domain.errors import DirectoryUnavailable
from domain.transactions import forbid_remote_call
from storage.graph.auth import TokenProvider
from storage.graph.config import GraphConfig
from storage.graph.errors import GraphAccessDenied, GraphRequestError
from storage.graph.pacer import Sleeper, WritePacer

__all__ = ["MAX_BATCH", "ClientStats", "GraphClient", "GraphRequest", "GraphResponse"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 20
"""`POST /$batch` takes at most 20 requests."""

RETRYABLE_STATUS: Final = frozenset({429, 502, 503, 504})
NO_ANSWER: Final = 0
"""Status of a request that was sent but never answered (timeout, connection lost)."""
MAX_RETRY_AFTER_SECONDS: Final = 300.0


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """One request, relative to the version root (`/users/{id}/assignLicense`), as `$batch` takes it."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None

    @property
    def is_write(self) -> bool:
        return self.method.upper() != "GET"


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Header names in lower case."""
    detail: str = ""
    """Why there is no answer, for a request that got none."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def outcome_unknown(self) -> bool:
        """Throttled, failed on the server or unanswered: a write may or may not have happened."""
        return self.status in {NO_ANSWER, 429} or self.status >= 500

    @property
    def retryable(self) -> bool:
        return self.status == NO_ANSWER or self.status in RETRYABLE_STATUS

    @property
    def error_code(self) -> str:
        return str(self._error().get("code") or "")

    @property
    def error_message(self) -> str:
        return str(self._error().get("message") or self.detail)

    @property
    def request_id(self) -> str:
        inner = self._error().get("innerError")
        if isinstance(inner, Mapping) and inner.get("request-id"):
            return str(inner["request-id"])
        return self.headers.get("request-id", "")

    def retry_after(self, now: datetime | None = None) -> float | None:
        """`Retry-After` in seconds (delta-seconds or an HTTP date), capped; None when absent."""
        value = self.headers.get("retry-after", "").strip()
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)

    def _error(self) -> Mapping[str, Any]:
        if isinstance(self.body, Mapping):
            error = self.body.get("error")
            if isinstance(error, Mapping):
                return error
        return {}


@dataclass(frozen=True, slots=True)
class ClientStats:
    http_requests: int
    sub_requests: int
    retries: int
    throttled: int
    """429 answers seen, top level or inside `$batch`."""


class _BearerAuth(httpx.Auth):
    def __init__(self, tokens: TokenProvider) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._tokens.token()}"
        yield request


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values = {"http_requests": 0, "sub_requests": 0, "retries": 0, "throttled": 0}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.values[name] += amount


class GraphClient:
    def __init__(
        self,
        config: GraphConfig,
        tokens: TokenProvider,
        *,
        transport: httpx.BaseTransport | None = None,
        pacer: WritePacer | None = None,
        sleeper: Sleeper = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._pacer = pacer or WritePacer(config.write_quota, margin_seconds=config.pacing_margin_seconds)
        self._sleep = sleeper
        self._random = rng or random.Random()  # noqa: S311 - jitter, not security
        self._counters = _Counters()
        self._http = httpx.Client(
            base_url=config.api_root,
            auth=_BearerAuth(tokens),
            transport=transport,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=config.max_connections
            ),
            headers={"Accept": "application/json", "User-Agent": "licensebot"},
        )

    @property
    def config(self) -> GraphConfig:
        return self._config

    @property
    def pacer(self) -> WritePacer:
        return self._pacer

    def stats(self) -> ClientStats:
        return ClientStats(**self._counters.values)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Reads

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        """GET a path below the version root (or a next link), retried; raises for errors."""
        response = self._read(url, headers)
        if not response.ok:
            self._raise(GraphRequest("GET", url), response)
        return response.body

    def get_all(self, url: str, headers: Mapping[str, str] | None = None) -> Iterator[Mapping[str, Any]]:
        """Every item of a collection, page after page over `@odata.nextLink`."""
        for page in self.get_pages(url, headers):
            yield from page

    def get_pages(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> Iterator[list[Mapping[str, Any]]]:
        """A collection a page at a time over `@odata.nextLink`: each page is read when the one
        before has been consumed, so memory holds one page whatever the collection's size."""
        next_url: str | None = url
        while next_url is not None:
            page = self.get(next_url, headers)
            if not isinstance(page, Mapping):
                raise GraphRequestError(
                    "GET", _path(next_url), status=200, code="UnexpectedBody", message="not a JSON object"
                )
            yield [item for item in page.get("value", ()) if isinstance(item, Mapping)]
            link = page.get("@odata.nextLink")
            next_url = self._same_origin(link) if isinstance(link, str) and link else None

    # Writes

    def post(self, url: str, body: Mapping[str, Any]) -> GraphResponse:
        """One write, paced, not retried once sent (see `GraphResponse.outcome_unknown`)."""
        request = GraphRequest("POST", url, body)
        self._pacer.acquire(1)
        for attempt in range(self._config.max_retries + 1):
            response, sent = self._exchange("POST", url, body)
            if sent or attempt == self._config.max_retries:
                break
            self._retry_wait(response, attempt)
        self._check_access(request, response)
        if response.status == 429:
            self._throttled(response, writes=1)
        return response

    # $batch

    def batch(self, requests: Sequence[GraphRequest]) -> list[GraphResponse]:
        """Send up to 20 requests as one `POST /$batch`; one response per request, in order.

        Each sub-response is handled on its own: a throttled or failed read is sent again (after its
        own `Retry-After`) in a follow-up batch with the other ones; writes are paced (each one is
        one write) and returned as answered, whatever the answer.
        """
        if len(requests) > MAX_BATCH:
            raise ValueError(f"$batch takes at most {MAX_BATCH} requests, not {len(requests)}")
        results: dict[int, GraphResponse] = {}
        pending = list(range(len(requests)))
        attempt = 0
        while pending:
            self._pacer.acquire(sum(1 for i in pending if requests[i].is_write))
            answers = self._send_batch({str(i + 1): requests[i] for i in pending})
            retry: list[int] = []
            delay = 0.0
            for i in pending:
                response = answers[str(i + 1)]
                if response.status == 429:
                    self._throttled(response, writes=1 if requests[i].is_write else 0)
                if not requests[i].is_write and response.retryable and attempt < self._config.max_retries:
                    retry.append(i)
                    delay = max(delay, self.retry_delay(response, attempt))
                else:
                    results[i] = response
            pending = retry
            if pending:
                self._counters.add("retries", len(pending))
                log.info("Graph $batch: %d reads throttled or failed, again in %.1fs", len(pending), delay)
                self._sleep(delay)
                attempt += 1
        return [results[i] for i in range(len(requests))]

    # Waiting

    def retry_delay(self, response: GraphResponse, attempt: int) -> float:
        """Graph's `Retry-After`, else exponential backoff with full jitter."""
        after = response.retry_after()
        if after is not None:
            return after
        ceiling = min(self._config.backoff_cap_seconds, self._config.backoff_base_seconds * 2**attempt)
        return self._random.uniform(0, ceiling)

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    # Internals

    def _read(self, url: str, headers: Mapping[str, str] | None) -> GraphResponse:
        attempt = 0
        while True:
            response, _ = self._exchange("GET", url, headers=headers)
            self._check_access(GraphRequest("GET", url), response)
            if not response.retryable or attempt >= self._config.max_retries:
                return response
            if response.status == 429:
                self._counters.add("throttled")
            self._retry_wait(response, attempt)
            attempt += 1

    def _retry_wait(self, response: GraphResponse, attempt: int) -> None:
        delay = self.retry_delay(response, attempt)
        self._counters.add("retries")
        log.info("Graph answered %s; trying again in %.1fs", response.status or response.detail, delay)
        self._sleep(delay)

    def _send_batch(self, requests: Mapping[str, GraphRequest]) -> dict[str, GraphResponse]:
        payload = {"requests": [_batch_entry(key, request) for key, request in requests.items()]}
        self._counters.add("sub_requests", len(requests))
        for attempt in range(self._config.max_retries + 1):
            top, sent = self._exchange("POST", "/$batch", payload)
            if sent or attempt == self._config.max_retries:
                break
            # Nothing reached Graph (no connection): sending again cannot write twice.
            self._retry_wait(top, attempt)
        self._check_access(GraphRequest("POST", "/$batch"), top)
        if not top.ok and not top.outcome_unknown:
            self._raise(GraphRequest("POST", "/$batch"), top)
        if not top.ok:
            return dict.fromkeys(requests, top)
        answers = _batch_answers(top.body if isinstance(top.body, Mapping) else {})
        missing = GraphResponse(NO_ANSWER, detail="no answer for this request in the $batch response")
        return {key: answers.get(key, missing) for key in requests}

    def _exchange(
        self,
        method: str,
        url: str,
        body: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[GraphResponse, bool]:
        """One HTTP exchange → (response, whether the request may have reached Graph)."""
        forbid_remote_call(f"Microsoft Graph ({method} {_path(url)})")
        self._counters.add("http_requests")
        started = time.perf_counter()
        try:
            http = self._http.request(method, url, json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            log.warning("Graph %s %s: not sent (%s)", method, _path(url), type(exc).__name__)
            return GraphResponse(NO_ANSWER, detail=f"no connection to Microsoft Graph ({exc})"), False
        except httpx.TransportError as exc:
            log.warning("Graph %s %s: no answer (%s)", method, _path(url), type(exc).__name__)
            return GraphResponse(NO_ANSWER, detail=f"no answer from Microsoft Graph ({exc})"), True
        log.debug(
            "Graph %s %s → %s in %.0f ms",
            method,
            _path(url),
            http.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return GraphResponse(http.status_code, _json(http), _headers(http.headers.items())), True

    def _check_access(self, request: GraphRequest, response: GraphResponse) -> None:
        if response.status in {401, 403}:
            raise GraphAccessDenied(f"{request.method} {_path(request.url)}: {response.error_message}")

    def _throttled(self, response: GraphResponse, *, writes: int) -> None:
        self._counters.add("throttled")
        if writes:
            after = response.retry_after()
            if after is not None:
                self._pacer.hold(after)

    def _raise(self, request: GraphRequest, response: GraphResponse) -> NoReturn:
        if response.status == NO_ANSWER or response.retryable:
            what = response.detail or f"it kept answering {response.status} {response.error_code}".strip()
            raise DirectoryUnavailable(what)
        raise GraphRequestError(
            request.method,
            _path(request.url),
            status=response.status,
            code=response.error_code,
            message=response.error_message,
            request_id=response.request_id,
        )

    def _same_origin(self, link: str) -> str:
        # A next link carries our bearer token: follow it only to the Graph we were configured for.
        if not link.startswith(self._config.api_root + "/"):
            raise GraphRequestError(
                "GET",
                _path(link),
                status=200,
                code="UnexpectedNextLink",
                message="the next link leaves Graph",
            )
        return link


def _batch_entry(key: str, request: GraphRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": key, "method": request.method.upper(), "url": request.url}
    if request.body is not None:
        entry["body"] = dict(request.body)
        entry["headers"] = {"Content-Type": "application/json"}
    return entry


def _batch_answers(body: Mapping[str, Any]) -> dict[str, GraphResponse]:
    answers: dict[str, GraphResponse] = {}
    for item in body.get("responses", ()):
        if not isinstance(item, Mapping) or "id" not in item:
            continue
        headers = item.get("headers")
        answers[str(item["id"])] = GraphResponse(
            int(item.get("status", NO_ANSWER)),
            item.get("body"),
            _headers(headers.items() if isinstance(headers, Mapping) else ()),
        )
    return answers


def _headers(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _path(url: str) -> str:
    """The path alone, for logs: queries can hold addresses, and nothing else belongs in a log line."""
    return httpx.URL(url).path
