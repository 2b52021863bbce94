"""`POST /$batch` on the simulated Graph API: up to 20 requests, each served (and throttled, and
faulted) on its own as Graph does, the answers in any order."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from storage.graph_sim.messages import JSON_HEADERS, ApiRequest, ApiResponse, Refusal
from storage.graph_sim.shapes import error_body
from storage.graph_sim.stats import StatsRecorder

__all__ = ["MAX_BATCH", "Batches"]

MAX_BATCH: Final = 20


class Batches:
    """`serve` answers one request of a batch; `pause_for_writes` waits the time of one write."""

    def __init__(
        self,
        serve: Callable[[ApiRequest], ApiResponse],
        stats: StatsRecorder,
        pause_for_writes: Callable[[], None],
        seed: int | None,
    ) -> None:
        self._serve = serve
        self._stats = stats
        self._pause_for_writes = pause_for_writes
        self._random = random.Random(seed)  # noqa: S311 - answer order in $batch, not security
        self._random_lock = threading.Lock()

    def run(self, request: ApiRequest) -> ApiResponse:
        entries = request.body.get("requests") if isinstance(request.body, Mapping) else None
        if not isinstance(entries, list) or not entries:
            raise Refusal(400, "BadRequest", "Invalid batch payload format.")
        if len(entries) > MAX_BATCH:
            raise Refusal(400, "BadRequest", f"The batch request contains more than {MAX_BATCH} requests.")
        ids = [str(e.get("id", "")) if isinstance(e, Mapping) else "" for e in entries]
        if "" in ids or len(set(ids)) != len(ids):
            raise Refusal(400, "BadRequest", "Every request of a batch needs its own unique id.")
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
            self._pause_for_writes()
        with self._random_lock:
            self._random.shuffle(answers)  # Answers come in any order: clients match them by id.
        return ApiResponse(200, {"responses": answers}, dict(JSON_HEADERS), hang=hang)


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
    return ApiResponse(
        status, error_body(code, message, request.request_id, datetime.now(UTC)), dict(JSON_HEADERS)
    )
