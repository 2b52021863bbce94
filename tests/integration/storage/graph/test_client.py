"""GraphClient and WritePacer on their own: the write quota kept, Retry-After and backoff, `$batch`
sub-responses matched by id, next links kept on Graph, transport failures. A fake clock stands in
for time; Graph is either the simulator over real HTTP or httpx's MockTransport (its test seam)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from domain.errors import DirectoryUnavailable
from domain.model import Cloud
from storage.graph import (
    GraphClient,
    GraphConfig,
    GraphRequest,
    GraphRequestError,
    GraphResponse,
    StaticTokenProvider,
    WritePacer,
    WriteQuota,
)
from storage.graph_sim import FaultKind, GraphSimulator

TOKEN = "client-test-token"


class FakeTime:
    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def client_on(
    fake: FakeTime,
    answer: Callable[[httpx.Request], httpx.Response] | None = None,
    *,
    graph_url: str = "",
    **config: Any,
) -> GraphClient:
    settings = GraphConfig(access_token=TOKEN, graph_url=graph_url, pacing_margin_seconds=0.0, **config)
    return GraphClient(
        settings,
        StaticTokenProvider(TOKEN),
        transport=httpx.MockTransport(answer) if answer else None,
        pacer=WritePacer(settings.write_quota, clock=fake.monotonic, sleeper=fake.sleep),
        sleeper=fake.sleep,
        rng=random.Random(3),
    )


# The pacer


def test_100_writes_never_exceed_20_in_any_second_and_go_at_the_quotas_pace(fake: FakeTime) -> None:
    pacer = WritePacer(WriteQuota(20, 1.0), clock=fake.monotonic, sleeper=fake.sleep)
    sizes = random.Random(5).choices(range(1, 21), k=200)
    sent: list[float] = []
    for wanted in sizes:
        if len(sent) >= 100:
            break
        size = min(wanted, 100 - len(sent))
        pacer.acquire(size)
        sent.extend([fake.now] * size)
    assert len(sent) == 100
    for start in sent:
        in_window = [t for t in sent if start <= t < start + 1.0]
        assert len(in_window) <= 20, f"{len(in_window)} writes in the second from {start}"
    # 20 at once, then as fast as the window allows: at least 4 more windows, plus some waste when
    # a batch does not fit the room left in the window.
    assert 4.0 <= fake.now - 50.0 <= 6.0
    assert pacer.stats().writes == 100


def test_batches_of_20_under_3000_per_150_seconds_reach_the_quota_rate(fake: FakeTime) -> None:
    pacer = WritePacer(WriteQuota(), clock=fake.monotonic, sleeper=fake.sleep)
    for _ in range(600):  # 12,000 writes: four full windows
        pacer.acquire(20)
    rate = 12_000 / (fake.now - 50.0 + 150.0)  # the last window's writes took no time to send
    assert rate == pytest.approx(20.0)


def test_a_throttle_from_graph_holds_every_write(fake: FakeTime) -> None:
    pacer = WritePacer(WriteQuota(20, 1.0), clock=fake.monotonic, sleeper=fake.sleep)
    pacer.hold(5.0)
    assert pacer.acquire(1) == pytest.approx(5.0)
    assert pacer.acquire(0) == 0.0
    with pytest.raises(ValueError, match="can never fit"):
        pacer.acquire(21)


def test_a_pacing_margin_widens_the_window_for_network_jitter(fake: FakeTime) -> None:
    pacer = WritePacer(WriteQuota(2, 1.0), margin_seconds=0.25, clock=fake.monotonic, sleeper=fake.sleep)
    pacer.acquire(2)
    assert pacer.acquire(1) == pytest.approx(1.25)


def test_a_write_quota_reads_as_writes_per_seconds() -> None:
    assert WriteQuota.parse("3000/150") == WriteQuota(3000, 150.0)
    assert WriteQuota().per_second == 20.0
    with pytest.raises(ValueError, match="3000/150"):
        WriteQuota.parse("fast")
    with pytest.raises(ValueError, match="positive window"):
        WriteQuota(0, 1.0)


# Configuration per cloud (R18)


@pytest.mark.parametrize(
    ("cloud", "api_root"),
    [
        (Cloud.WORLDWIDE, "https://graph.microsoft.com/v1.0"),
        (Cloud.US_GOVERNMENT, "https://graph.microsoft.us/v1.0"),
        (Cloud.CHINA, "https://microsoftgraph.chinacloudapi.cn/v1.0"),
    ],
)
def test_each_cloud_has_its_own_graph(cloud: Cloud, api_root: str) -> None:
    assert GraphConfig(access_token="t", cloud=cloud).api_root == api_root
    assert GraphConfig(access_token="t", cloud=cloud, graph_url="http://127.0.0.1:1/").api_root == (
        "http://127.0.0.1:1/v1.0"
    )


# Retry-After and backoff


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    assert GraphResponse(429, headers={"retry-after": "2.128"}).retry_after() == 2.128
    now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    dated = {"retry-after": format_datetime(now + timedelta(seconds=30), usegmt=True)}
    assert GraphResponse(503, headers=dated).retry_after(now) == 30.0
    assert GraphResponse(429, headers={"retry-after": "soon"}).retry_after() is None
    assert GraphResponse(429).retry_after() is None
    assert GraphResponse(429, headers={"retry-after": "86400"}).retry_after() == 300.0


def test_without_retry_after_the_backoff_is_exponential_with_full_jitter(fake: FakeTime) -> None:
    client = client_on(fake, lambda _r: httpx.Response(200))
    for attempt in range(8):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [client.retry_delay(GraphResponse(429), attempt) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not fixed
    assert client.retry_delay(GraphResponse(429, headers={"retry-after": "9"}), 0) == 9.0
    client.close()


def test_a_read_is_retried_on_429_503_504_and_a_lost_connection(fake: FakeTime) -> None:
    answers: Iterator[Callable[[httpx.Request], httpx.Response]] = iter(
        [
            lambda _r: httpx.Response(429, headers={"Retry-After": "3"}),
            lambda _r: httpx.Response(503, headers={"Retry-After": "1"}),
            _raise(httpx.ReadTimeout("slow")),
            lambda _r: httpx.Response(504),
            lambda _r: httpx.Response(200, json={"value": [{"id": "x"}]}),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers)(request)

    client = client_on(fake, answer)
    assert list(client.get_all("/subscribedSkus")) == [{"id": "x"}]
    assert fake.sleeps[:2] == [3.0, 1.0]
    assert len(fake.sleeps) == 4
    assert client.stats().retries == 4
    client.close()


def _raise(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def answer(_request: httpx.Request) -> httpx.Response:
        raise error

    return answer


def test_a_read_that_keeps_failing_is_directory_unavailable(fake: FakeTime) -> None:
    client = client_on(fake, lambda _r: httpx.Response(503), max_retries=3)
    with pytest.raises(DirectoryUnavailable, match="kept answering 503"):
        client.get("/organization")
    assert len(fake.sleeps) == 3
    client.close()


def test_other_errors_are_not_retried_and_say_what_graph_said(fake: FakeTime) -> None:
    body = {"error": {"code": "Request_BadRequest", "message": "Nope.", "innerError": {"request-id": "r-1"}}}
    client = client_on(fake, lambda _r: httpx.Response(400, json=body))
    with pytest.raises(GraphRequestError) as refused:
        client.get("/organization")
    assert (refused.value.status, refused.value.code, refused.value.request_id) == (
        400,
        "Request_BadRequest",
        "r-1",
    )
    assert "Nope." in refused.value.message
    assert fake.sleeps == []
    client.close()


def test_a_next_link_to_another_host_is_not_followed_with_our_token(fake: FakeTime) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"value": [], "@odata.nextLink": "https://evil.example/v1.0/users"})

    client = client_on(fake, answer)
    with pytest.raises(GraphRequestError, match="leaves Graph"):
        list(client.get_all("/users"))
    assert seen == ["https://graph.microsoft.com/v1.0/users"]
    client.close()


# $batch


def _batch_answer(statuses: dict[str, int], headers: dict[str, str] | None = None) -> Callable[..., Any]:
    """Answers a $batch in reverse order, with the given status per request id (200 otherwise)."""

    def answer(request: httpx.Request) -> httpx.Response:
        ids = [r["id"] for r in json.loads(request.content)["requests"]]
        responses = [
            {"id": i, "status": statuses.get(i, 200), "headers": headers or {}, "body": {"id": i}}
            for i in reversed(ids)
        ]
        return httpx.Response(200, json={"responses": responses})

    return answer


def test_batch_answers_are_matched_by_id_whatever_their_order(fake: FakeTime) -> None:
    client = client_on(fake, _batch_answer({}))
    requests = [GraphRequest("GET", f"/users/u{n}") for n in range(5)]
    assert [r.body for r in client.batch(requests)] == [{"id": str(n + 1)} for n in range(5)]
    client.close()


def test_a_batch_takes_at_most_20_requests(fake: FakeTime) -> None:
    client = client_on(fake, _batch_answer({}))
    with pytest.raises(ValueError, match="at most 20"):
        client.batch([GraphRequest("GET", "/organization")] * 21)
    client.close()


def test_throttled_reads_in_a_batch_go_again_and_throttled_writes_come_back(fake: FakeTime) -> None:
    calls: list[list[dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["requests"]
        calls.append(sent)
        first = len(calls) == 1
        responses = [
            {
                "id": r["id"],
                "status": 429 if first else 200,
                "headers": {"Retry-After": "4"} if first else {},
                "body": {"ok": r["method"]},
            }
            for r in sent
        ]
        return httpx.Response(200, json={"responses": responses})

    client = client_on(fake, answer)
    read = GraphRequest("GET", "/users/a")
    write = GraphRequest("POST", "/users/a/assignLicense", {"addLicenses": [], "removeLicenses": []})
    answers = client.batch([read, write])
    assert answers[0].ok
    assert answers[1].status == 429
    assert answers[1].outcome_unknown
    assert [len(c) for c in calls] == [2, 1]  # only the read went again
    assert calls[0][1]["headers"] == {"Content-Type": "application/json"}
    assert fake.sleeps == [4.0]
    assert client.pacer.stats().writes == 1
    client.close()


def test_a_batch_without_an_answer_leaves_its_writes_unknown_and_retries_its_reads(fake: FakeTime) -> None:
    attempts: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        attempts.append(len(json.loads(request.content)["requests"]))
        if len(attempts) == 1:
            raise httpx.ReadTimeout("no answer")
        return _batch_answer({})(request)

    client = client_on(fake, answer)
    write = GraphRequest("POST", "/users/a/assignLicense", {"addLicenses": [], "removeLicenses": []})
    answers = client.batch([GraphRequest("GET", "/users/a"), write])
    assert answers[0].ok
    assert (answers[1].status, answers[1].outcome_unknown) == (0, True)
    assert "no answer" in answers[1].detail
    assert attempts == [2, 1]
    client.close()


def test_a_batch_that_could_not_connect_is_sent_again_whole(fake: FakeTime) -> None:
    attempts: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectError("refused")
        return _batch_answer({})(request)

    client = client_on(fake, answer)
    write = GraphRequest("POST", "/users/a/assignLicense", {"addLicenses": [], "removeLicenses": []})
    assert client.batch([write])[0].ok  # nothing reached Graph the first time: safe to send again
    assert len(attempts) == 2
    client.close()


def test_a_missing_answer_in_a_batch_is_an_unknown_outcome(fake: FakeTime) -> None:
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"responses": [{"id": "1", "status": 204}]})

    client = client_on(fake, answer)
    write = GraphRequest("POST", "/x", {"a": 1})
    first, second = client.batch([write, write])
    assert first.ok
    assert second.outcome_unknown
    client.close()


def test_a_single_write_is_paced_and_its_throttle_holds_the_pacer(fake: FakeTime) -> None:
    client = client_on(fake, lambda _r: httpx.Response(429, headers={"Retry-After": "6"}))
    response = client.post("/users/a/assignLicense", {"addLicenses": [], "removeLicenses": []})
    assert response.outcome_unknown
    assert client.pacer.acquire(1) == pytest.approx(6.0)
    client.close()


def test_batches_against_the_simulator_count_one_write_per_assign_license(fake: FakeTime) -> None:
    with GraphSimulator() as sim:
        client = client_on(fake, graph_url=sim.url)
        user = client.get("/users/alice@contoso.com?$select=id,assignedLicenses")
        keep = {"addLicenses": user["assignedLicenses"], "removeLicenses": []}
        sim.inject(FaultKind.THROTTLE, match="GET /organization")
        answers = client.batch(
            [
                GraphRequest("POST", f"/users/{user['id']}/assignLicense", keep),
                GraphRequest("GET", "/organization"),
            ]
        )
        client.close()
        stats = sim.stats()
    assert [a.status for a in answers] == [200, 200]
    assert stats.requests_to("POST /users/{id}/assignLicense") == 1
    assert stats.requests_to("GET /organization") == 2  # throttled once, then again
    assert fake.sleeps == [1.0]
    assert client.pacer.stats().writes == 1
