"""The Graph simulator as a client other than ours would see it: plain HTTP requests, Graph's answers,
errors and texts; paging, `$select`, `$filter`, `$batch`; the write quota per app; injected faults;
counters; and the `licensebot graph-sim` command line."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from storage.graph import WriteQuota
from storage.graph_sim import FaultKind, FaultPlan, GraphSimulator
from storage.graph_sim.cli import build_parser, main, simulator_from
from storage.simulated import demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from storage.simulated.seed import demo_group_id

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
ALICE = demo_user_id("alice@contoso.com")
AUTH = {"Authorization": "Bearer some-token"}


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(page_size=3) as simulator:
        yield simulator


@pytest.fixture
def http(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.api_url, headers=AUTH, timeout=5) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "innerError"}
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert response.headers["request-id"]
    return error


def keep_licenses(http: httpx.Client, user_id: str) -> dict[str, Any]:
    user = http.get(f"/users/{user_id}", params={"$select": "assignedLicenses"}).json()
    return {"addLicenses": user["assignedLicenses"], "removeLicenses": []}


# Authentication


def test_every_request_needs_a_bearer_token(sim: GraphSimulator) -> None:
    answer = httpx.get(f"{sim.api_url}/organization", timeout=5)
    assert answer.status_code == 401
    assert error_of(answer)["code"] == "InvalidAuthenticationToken"
    assert error_of(answer)["message"] == "Access token is empty."
    basic = httpx.get(f"{sim.api_url}/organization", headers={"Authorization": "Basic eDp5"}, timeout=5)
    assert basic.status_code == 401


def test_only_the_configured_tokens_when_there_are_some() -> None:
    with GraphSimulator(tokens={"good": "app-1"}) as sim:
        bad = httpx.get(f"{sim.api_url}/organization", headers={"Authorization": "Bearer bad"}, timeout=5)
        good = httpx.get(f"{sim.api_url}/organization", headers={"Authorization": "Bearer good"}, timeout=5)
    assert (bad.status_code, error_of(bad)["message"]) == (401, "Access token validation failure.")
    assert good.status_code == 200


# Reads


def test_collections_carry_an_odata_context_and_page_with_absolute_next_links(http: httpx.Client) -> None:
    query = {"$filter": f"assignedLicenses/any(x:x/skuId eq {E3})", "$select": "id,userPrincipalName"}
    page = http.get("/users", params=query).json()
    assert page["@odata.context"] == f"{http.base_url}$metadata#users(id,userPrincipalName)"
    assert all(set(user) == {"id", "userPrincipalName"} for user in page["value"])
    names = [u["userPrincipalName"] for u in page["value"]]
    while "@odata.nextLink" in page:
        link = page["@odata.nextLink"]
        assert link.startswith(f"{http.base_url}users?")
        assert "$skiptoken=" in link
        page = http.get(link).json()
        names += [u["userPrincipalName"] for u in page["value"]]
    assert len(names) == len(set(names)) == 14
    top = http.get("/users", params={**query, "$top": "2"}).json()
    assert len(top["value"]) == 2


def test_a_user_by_id_or_upn_but_not_by_mail(http: httpx.Client) -> None:
    by_upn = http.get("/users/alice@contoso.com")
    assert by_upn.status_code == 200
    user = by_upn.json()
    assert user["@odata.context"].endswith("$metadata#users/$entity")
    assert user["id"] == ALICE
    assert "assignedLicenses" not in user  # not a default property: it must be selected
    assert http.get(f"/users/{ALICE}").json()["userPrincipalName"] == "alice@contoso.com"
    missing = http.get("/users/nobody@contoso.com")
    assert missing.status_code == 404
    assert error_of(missing) | {"innerError": None} == {
        "code": "Request_ResourceNotFound",
        "message": "Resource 'nobody@contoso.com' does not exist or one of its queried "
        "reference-property objects are not present.",
        "innerError": None,
    }


def test_filters_by_mail_with_odata_quoting(http: httpx.Client) -> None:
    found = http.get("/users", params={"$filter": "mail eq 'ALICE@contoso.com'"}).json()["value"]
    assert [u["id"] for u in found] == [ALICE]
    quoted = http.get("/users", params={"$filter": "mail eq 'o''brien@contoso.com'"}).json()["value"]
    assert quoted == []


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            {"$select": "id,shoeSize"},
            "BadRequest",
            "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
        ),
        (
            {"$filter": "mail eq 'a@contoso.com'", "$top": "1000"},
            "Request_UnsupportedQuery",
            "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
        ),
        (
            {"$filter": "startswith(displayName,'A')"},
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property 'startswith' of "
            "resource 'User'.",
        ),
        (
            {"$filter": "mail eq 'a@contoso.com'", "$skiptoken": "garbage"},
            "Request_BadRequest",
            "The specified page token value has expired or is invalid.",
        ),
    ],
)
def test_query_options_it_does_not_take_are_refused_like_graph(
    http: httpx.Client, query: dict[str, str], code: str, message: str
) -> None:
    answer = http.get("/users", params=query)
    assert answer.status_code == 400
    assert (error_of(answer)["code"], error_of(answer)["message"]) == (code, message)


def test_unknown_paths_and_versions(http: httpx.Client, sim: GraphSimulator) -> None:
    assert error_of(http.get("/sites"))["message"] == "Resource not found for the segment 'sites'."
    beta = httpx.get(f"{sim.url}/beta/organization", headers=AUTH, timeout=5)
    assert beta.status_code == 400
    assert http.post("/organization", json={}).status_code == 405


def test_roles_come_as_directory_roles_with_their_template_ids(http: httpx.Client) -> None:
    grace = demo_user_id("grace@contoso.com")
    roles = http.get(
        f"/users/{grace}/transitiveMemberOf/microsoft.graph.directoryRole",
        params={"$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    ).json()
    assert roles["@odata.context"].endswith("$metadata#directoryRoles")
    (role,) = roles["value"]
    assert role["@odata.type"] == "#microsoft.graph.directoryRole"
    assert (role["displayName"], role["roleTemplateId"]) == (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    )
    assert roles["@odata.count"] == 1
    plain = http.get(f"/users/{grace}/transitiveMemberOf/microsoft.graph.directoryRole")
    assert (plain.status_code, error_of(plain)["code"]) == (400, "Request_UnsupportedQuery")


# The write


def test_assign_license_needs_both_parameters_and_returns_the_user(http: httpx.Client) -> None:
    missing = http.post(f"/users/{ALICE}/assignLicense", json={"addLicenses": []})
    assert missing.status_code == 400
    assert error_of(missing)["message"] == (
        "One or more parameters of the function import 'assignLicense' are missing from the request "
        "payload. The missing parameters are: removeLicenses."
    )
    extra = http.post(
        f"/users/{ALICE}/assignLicense",
        json={"addLicenses": [{"skuId": E5, "disabledPlans": [], "seats": 1}], "removeLicenses": []},
    )
    assert (
        "The property 'seats' does not exist on type 'microsoft.graph.assignedLicense'"
        in (error_of(extra)["message"])
    )
    done = http.post(
        f"/users/{ALICE}/assignLicense",
        json={"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": [E3]},
    )
    assert done.status_code == 200
    assert done.json()["id"] == ALICE
    assert done.json()["@odata.context"].endswith("$metadata#users/$entity")
    licenses = http.get(f"/users/{ALICE}", params={"$select": "assignedLicenses"}).json()["assignedLicenses"]
    assert licenses == [{"disabledPlans": [], "skuId": E5}]


@pytest.mark.parametrize(
    ("user", "body", "message"),
    [
        (
            "nora@contoso.com",
            {"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []},
            "License assignment cannot be done for user with invalid usage location.",
        ),
        (
            "alice@contoso.com",
            {"addLicenses": [], "removeLicenses": [E5]},
            "User does not have a corresponding license.",
        ),
        (
            "alice@contoso.com",
            {
                "addLicenses": [{"skuId": "0c0c0c0c-0000-0000-0000-000000000000", "disabledPlans": []}],
                "removeLicenses": [],
            },
            "License 0c0c0c0c-0000-0000-0000-000000000000 does not correspond to a valid company License.",
        ),
    ],
)
def test_refusals_use_graphs_words(http: httpx.Client, user: str, body: dict[str, Any], message: str) -> None:
    answer = http.post(f"/users/{user}/assignLicense", json=body)
    assert answer.status_code == 400
    assert error_of(answer) | {"innerError": None} == {
        "code": "Request_BadRequest",
        "message": message,
        "innerError": None,
    }


# $batch


def test_a_batch_answers_each_request_by_id(http: httpx.Client, sim: GraphSimulator) -> None:
    requests = [
        {"id": "a", "method": "GET", "url": "/organization?$select=id"},
        {"id": "b", "method": "GET", "url": "users/nobody@contoso.com"},
        {
            "id": "c",
            "method": "POST",
            "url": f"/users/{ALICE}/assignLicense",
            "body": keep_licenses(http, ALICE),
            "headers": {"Content-Type": "application/json"},
        },
        {"id": "d", "method": "POST", "url": f"/users/{ALICE}/assignLicense", "body": {"addLicenses": []}},
    ]
    answer = http.post("/$batch", json={"requests": requests})
    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert {i: r["status"] for i, r in by_id.items()} == {"a": 200, "b": 404, "c": 200, "d": 400}
    assert by_id["d"]["body"]["error"]["message"] == (
        "Write request id : d does not contain Content-Type header or body."
    )
    assert sim.stats().batch_sizes == (4,)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"requests": [{"id": str(n), "method": "GET", "url": "/organization"} for n in range(21)]},
            "The batch request contains more than 20 requests.",
        ),
        ({"requests": [{"id": "1", "method": "GET", "url": "/organization"}] * 2}, "unique id"),
        ({"nothing": []}, "Invalid batch payload format."),
    ],
)
def test_a_batch_graph_would_refuse_is_refused_whole(
    http: httpx.Client, payload: dict[str, Any], message: str
) -> None:
    answer = http.post("/$batch", json=payload)
    assert answer.status_code == 400
    assert message in error_of(answer)["message"]


# Write quota, faults, counters


def _jwt(app: str) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"appid": app}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{claims}.sig"


def test_the_write_quota_is_counted_per_app_and_says_when_to_retry() -> None:
    clock = Ticker()
    with GraphSimulator(write_quota=WriteQuota(2, 60.0), clock=clock) as sim:
        apps = {
            app: httpx.Client(
                base_url=sim.api_url, headers={"Authorization": f"Bearer {_jwt(app)}"}, timeout=5
            )
            for app in ("app-1", "app-2")
        }
        body = keep_licenses(apps["app-1"], ALICE)
        write = f"/users/{ALICE}/assignLicense"
        answers = [apps["app-1"].post(write, json=body).status_code for _ in range(3)]
        other = apps["app-2"].post(write, json=body)
        clock.now = 20.0
        throttled = apps["app-1"].post(write, json=body)
        clock.now = 60.0
        later = apps["app-1"].post(write, json=body)
        for client in apps.values():
            client.close()
        stats = sim.stats()
    assert answers == [200, 200, 429]
    assert other.status_code == 200  # another app has a quota of its own
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "40")
    assert error_of(throttled)["code"] == "TooManyRequests"
    assert later.status_code == 200
    assert (stats.throttled, stats.throttled_by_quota) == (2, 2)
    assert stats.writes_applied == {ALICE: 4}


def test_faults_by_share_are_seeded_and_can_spare_reads() -> None:
    def statuses(plan: FaultPlan) -> list[int]:
        with GraphSimulator(faults=plan) as sim, httpx.Client(base_url=sim.api_url, headers=AUTH) as http:
            return [http.get("/organization").status_code for _ in range(20)]

    mixed = FaultPlan(throttle=0.2, unavailable=0.2, seed=11)
    assert statuses(mixed) == statuses(mixed)
    assert {429, 503, 200} <= set(statuses(mixed))
    assert set(statuses(FaultPlan(throttle=1.0, writes_only=True))) == {200}
    with pytest.raises(ValueError, match="add up to at most 1"):
        FaultPlan(throttle=0.7, unavailable=0.7)


def test_injected_faults_carry_retry_after_or_not(sim: GraphSimulator, http: httpx.Client) -> None:
    sim.inject(FaultKind.THROTTLE, match="GET /organization")
    sim.inject(FaultKind.THROTTLE_NO_RETRY_AFTER, match="GET /organization")
    sim.inject(FaultKind.UNAVAILABLE, match="GET /organization")
    first, second, third, fourth = (http.get("/organization") for _ in range(4))
    assert (first.status_code, first.headers.get("Retry-After")) == (429, "1")
    assert (second.status_code, second.headers.get("Retry-After")) == (429, None)
    assert (third.status_code, third.headers.get("Retry-After")) == (503, "1")
    assert fourth.status_code == 200
    stats = sim.stats()
    assert stats.faults == {"429": 1, "429-no-retry-after": 1, "503": 1}
    assert stats.requests_to("GET /organization") == 4


def test_latency_is_added_to_every_answer() -> None:
    with GraphSimulator(latency_ms=40) as sim, httpx.Client(base_url=sim.api_url, headers=AUTH) as http:
        http.get("/organization")
        started = time.perf_counter()
        http.get("/organization")
        assert time.perf_counter() - started >= 0.04


# The command line


def test_the_command_line_builds_the_simulator_it_describes() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--latency-ms",
            "0",
            "--write-quota",
            "30/1.5",
            "--fault-429",
            "0.0",
            "--token",
            "tok=app-9",
            "--page-size",
            "4",
        ]
    )
    assert args.write_quota == WriteQuota(30, 1.5)
    simulator = simulator_from(args)
    with simulator, httpx.Client(base_url=simulator.api_url, headers={"Authorization": "Bearer tok"}) as http:
        page = http.get("/users", params={"$filter": f"assignedLicenses/any(x:x/skuId eq {E3})"}).json()
        assert len(page["value"]) == 4
    assert build_parser().parse_args(["--write-quota", "off"]).write_quota is None
    assert build_parser().parse_args([]).write_quota == WriteQuota(3000, 150.0)


def test_the_command_line_sets_what_a_real_tenant_does_beyond_the_simulated_rules() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--assignment-error",
            "carol@contoso.com:ENTERPRISEPACK:CountViolation",
            "--prohibit",
            "ENTERPRISEPREMIUM:US,CA",
            "--requires",
            "TEAMS1:SWAY",
            "--writes-in-error",
            "DESKLESSPACK:DependencyViolation",
        ]
    )
    simulator = simulator_from(args)
    carol = demo_user_id("carol@contoso.com")
    alice = demo_user_id("alice@contoso.com")
    with simulator, httpx.Client(base_url=simulator.api_url, headers={"Authorization": "Bearer t"}) as http:
        states = http.get(f"/users/{carol}", params={"$select": "licenseAssignmentStates"}).json()
        add_e5 = {"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": [E3]}
        refused = http.post(f"/users/{alice}/assignLicense", json=add_e5).json()
    assert [(s["skuId"], s["error"], s["state"]) for s in states["licenseAssignmentStates"]] == [
        (E3, "CountViolation", "Error")
    ]
    assert refused["error"]["message"] == (
        f"License assignment failed because license {E5} is not available in usage location US."
    )


def test_the_command_line_refuses_a_product_or_user_the_tenant_lacks() -> None:
    args = build_parser().parse_args(["--port", "0", "--prohibit", "NO_SUCH_SKU:US"])
    with pytest.raises(ValueError, match="the tenant has no product 'NO_SUCH_SKU'"):
        simulator_from(args)


@pytest.mark.parametrize("argv", [["--fault-503", "1.5"], ["--write-quota", "lots"], ["--token", "=x"]])
def test_the_command_line_refuses_what_makes_no_sense(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "error" in capsys.readouterr().err


def test_the_command_line_sets_how_long_group_processing_takes_and_which_stalls() -> None:
    """R21: processing of a group's license change, instant here, and stalled for the demo group."""
    group = demo_group_id("allstaffe3")
    body = {"addLicenses": [{"skuId": E5, "disabledPlans": []}], "removeLicenses": []}
    for options, expected in (
        (["--group-processing-seconds", "0"], "ProcessingComplete"),
        (["--stall-group", "All Staff E3"], "ProcessingInProgress"),
    ):
        simulator = simulator_from(build_parser().parse_args(["--port", "0", *options]))
        with simulator, httpx.Client(base_url=simulator.api_url, headers=AUTH) as http:
            assert http.post(f"/groups/{group}/assignLicense", json=body).status_code == 202
            state = http.get(f"/groups/{group}", params={"$select": "licenseProcessingState"}).json()
        assert state["licenseProcessingState"]["state"] == expected
    with pytest.raises(ValueError, match="no group 'Nobody'"):
        simulator_from(build_parser().parse_args(["--port", "0", "--stall-group", "Nobody"]))
