"""Graph's own schema as the judge: every JSON object the Graph simulator serves, and every
`assignLicense` body the adapter sends, uses only properties (and values) that Microsoft Graph v1.0's
CSDL (`../shared/reference/graph-v1.0-csdl.xml`) declares for that type, nested types included.

String properties the CSDL types as `Edm.String` but documents as a closed set (capabilityStatus,
status, licenseAssignmentState.error and .state) are checked against the documented values too.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from domain.changes import ChangeKind, plan_user_change
from domain.model import LicenseAssignment, User
from storage.graph import GraphClient, GraphConfig, GraphDirectory, StaticTokenProvider
from storage.graph.mapping import GROUP_SELECT, LICENSED_GROUPS_FILTER, USER_SELECT
from storage.graph_sim import FaultKind, GraphSimulator
from storage.graph_sim.shapes import GROUP_PROPERTIES, USER_PROPERTIES
from storage.simulated import demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E4, O365_E5
from storage.simulated.seed import demo_group_id

pytestmark = pytest.mark.reference

_EDM: Final = "{http://docs.oasis-open.org/odata/ns/edm}"
_GUID: Final = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
TOKEN: Final = "contract-token"

DOCUMENTED_VALUES: Final[Mapping[tuple[str, str], frozenset[str | None]]] = {
    ("microsoft.graph.subscribedSku", "capabilityStatus"): frozenset(
        {"Enabled", "Warning", "Suspended", "Deleted", "LockedOut"}
    ),
    ("microsoft.graph.companySubscription", "status"): frozenset(
        {"Enabled", "Warning", "Suspended", "Deleted", "LockedOut"}
    ),
    ("microsoft.graph.licenseAssignmentState", "error"): frozenset(
        {
            "None",
            "CountViolation",
            "MutuallyExclusiveViolation",
            "DependencyViolation",
            "ProhibitedInUsageLocationViolation",
            "UniquenessViolation",
            "Other",
        }
    ),
    ("microsoft.graph.licenseAssignmentState", "state"): frozenset(
        {"Active", "ActiveWithError", "Disabled", "Error"}
    ),
}
"""From Graph's documentation (and ../shared/reference/README.md): closed sets typed as strings.
A license without an error says so with the string "None", never null."""


@dataclass(frozen=True, slots=True)
class Property:
    type: str
    nullable: bool


@dataclass(slots=True)
class StructuredType:
    base: str | None
    properties: dict[str, Property] = field(default_factory=dict)


class Csdl:
    """The parts of an OData CSDL needed here: structured types, enums, bound actions."""

    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.types: dict[str, StructuredType] = {}
        self.enums: dict[str, frozenset[str]] = {}
        self.actions: dict[tuple[str, str], dict[str, Property]] = {}
        schemas = list(root.iter(f"{_EDM}Schema"))
        self._aliases = {s.get("Alias"): s.get("Namespace") for s in schemas if s.get("Alias")}
        for schema in schemas:
            namespace = schema.get("Namespace", "")
            for element in schema:
                name = f"{namespace}.{element.get('Name')}"
                if element.tag in {f"{_EDM}EntityType", f"{_EDM}ComplexType"}:
                    base = element.get("BaseType")
                    self.types[name] = StructuredType(
                        self.qualify(base) if base else None, self._properties(element)
                    )
                elif element.tag == f"{_EDM}EnumType":
                    self.enums[name] = frozenset(m.get("Name", "") for m in element.iter(f"{_EDM}Member"))
                elif element.tag == f"{_EDM}Action" and element.get("IsBound") == "true":
                    # The first parameter of a bound action is the one it is bound to.
                    parameters = self._properties(element, f"{_EDM}Parameter")
                    binding = parameters.pop(next(iter(parameters)))
                    self.actions[(name, binding.type)] = parameters

    def _properties(self, element: ET.Element, tag: str = f"{_EDM}Property") -> dict[str, Property]:
        return {
            p.get("Name", ""): Property(self.qualify(p.get("Type", "")), p.get("Nullable") != "false")
            for p in element.iter(tag)
        }

    def qualify(self, type_name: str) -> str:
        collection = type_name.startswith("Collection(")
        inner = type_name[len("Collection(") : -1] if collection else type_name
        prefix, _, rest = inner.rpartition(".")
        if prefix in self._aliases:
            inner = f"{self._aliases[prefix]}.{rest}"
        return f"Collection({inner})" if collection else inner

    def properties(self, type_name: str) -> dict[str, Property]:
        found: dict[str, Property] = {}
        current: str | None = type_name
        while current is not None:
            structured = self.types[current]
            found = {**structured.properties, **found}
            current = structured.base
        return found


@pytest.fixture(scope="module")
def csdl(reference_dir: Path) -> Csdl:
    return Csdl(reference_dir / "graph-v1.0-csdl.xml")


class Checker:
    """Walks a JSON value against a CSDL type and lists every departure from it."""

    def __init__(self, csdl: Csdl) -> None:
        self.csdl = csdl
        self.problems: list[str] = []
        self.seen: set[tuple[str, str]] = set()

    def check(self, type_name: str, value: Any, where: str, *, nullable: bool = True) -> None:
        if value is None:
            if not nullable:
                self.problems.append(f"{where}: null, but {type_name} is not nullable")
            return
        if type_name.startswith("Collection("):
            if not isinstance(value, list):
                self.problems.append(f"{where}: {type_name} must be a JSON array")
                return
            for n, item in enumerate(value):
                self.check(type_name[len("Collection(") : -1], item, f"{where}[{n}]", nullable=False)
            return
        if type_name.startswith("Edm."):
            self._primitive(type_name, value, where)
        elif type_name in self.csdl.enums:
            if value not in self.csdl.enums[type_name]:
                self.problems.append(f"{where}: {value!r} is no member of {type_name}")
        else:
            self._structured(type_name, value, where)

    def _structured(self, type_name: str, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{where}: {type_name} must be a JSON object")
            return
        declared = self.csdl.properties(type_name)
        for name, item in value.items():
            if name.startswith("@odata."):
                continue  # annotations, not properties
            prop = declared.get(name)
            if prop is None:
                self.problems.append(f"{where}.{name}: not a property of {type_name}")
                continue
            self.seen.add((type_name, name))
            allowed = DOCUMENTED_VALUES.get((type_name, name))
            if allowed is not None and item not in allowed:
                self.problems.append(f"{where}.{name}: {item!r} is not one of {sorted(map(str, allowed))}")
            self.check(prop.type, item, f"{where}.{name}", nullable=prop.nullable)

    def _primitive(self, type_name: str, value: Any, where: str) -> None:
        fits = {
            "Edm.String": isinstance(value, str),
            "Edm.Boolean": isinstance(value, bool),
            "Edm.Int32": isinstance(value, int) and not isinstance(value, bool),
            "Edm.Int64": isinstance(value, int) and not isinstance(value, bool),
            "Edm.Guid": isinstance(value, str) and _GUID.match(value) is not None,
            "Edm.DateTimeOffset": isinstance(value, str) and _is_timestamp(value),
        }.get(type_name, True)
        if not fits:
            self.problems.append(f"{where}: {value!r} is not an {type_name}")


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return value.endswith("Z") or value.endswith("+00:00")


@pytest.fixture(scope="module")
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(page_size=5) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def http(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def _all(http: httpx.Client, url: str, headers: Mapping[str, str] | None = None) -> list[Any]:
    items: list[Any] = []
    next_url: str | None = url
    while next_url:
        page = http.get(next_url, headers=headers).json()
        items += page["value"]
        next_url = page.get("@odata.nextLink")
    return items


def _assert_clean(checker: Checker) -> None:
    assert not checker.problems, "\n".join(checker.problems)


def test_organization_matches_the_csdl(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    (org,) = _all(http, "/organization")
    checker.check("microsoft.graph.organization", org, "organization")
    _assert_clean(checker)
    assert ("microsoft.graph.verifiedDomain", "isDefault") in checker.seen


def test_subscribed_skus_match_the_csdl(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    skus = _all(http, "/subscribedSkus")
    assert skus
    for n, sku in enumerate(skus):
        checker.check("microsoft.graph.subscribedSku", sku, f"subscribedSkus[{n}]")
    _assert_clean(checker)
    assert {
        ("microsoft.graph.subscribedSku", "prepaidUnits"),
        ("microsoft.graph.licenseUnitsDetail", "enabled"),
        ("microsoft.graph.servicePlanInfo", "servicePlanId"),
    } <= checker.seen


def test_company_subscriptions_match_the_csdl(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    subscriptions = _all(http, "/directory/subscriptions")
    assert subscriptions
    for n, subscription in enumerate(subscriptions):
        checker.check("microsoft.graph.companySubscription", subscription, f"subscriptions[{n}]")
    _assert_clean(checker)
    assert ("microsoft.graph.companySubscription", "nextLifecycleDateTime") in checker.seen


def test_users_match_the_csdl_with_every_property_selected(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    every = ",".join(sorted(USER_PROPERTIES))
    carol = http.get(f"/users/{demo_user_id('carol@contoso.com')}", params={"$select": every}).json()
    checker.check("microsoft.graph.user", carol, "carol")
    checker.check(
        "microsoft.graph.user", http.get("/users/nora@contoso.com").json(), "nora (default properties)"
    )
    holders = _all(http, f"/users?$filter=assignedLicenses/any(x:x/skuId eq {DEMO_PRODUCTS[O365_E4].sku_id})")
    for n, user in enumerate(holders):
        checker.check("microsoft.graph.user", user, f"holders[{n}]")
    _assert_clean(checker)
    assert {
        ("microsoft.graph.assignedLicense", "disabledPlans"),
        ("microsoft.graph.licenseAssignmentState", "state"),
        ("microsoft.graph.licenseAssignmentState", "error"),
        ("microsoft.graph.user", "usageLocation"),
    } <= checker.seen


def test_a_license_in_an_error_state_matches_the_csdl(
    csdl: Csdl, sim: GraphSimulator, http: httpx.Client
) -> None:
    carol = demo_user_id("carol@contoso.com")
    e3 = DEMO_PRODUCTS[O365_E3].sku_id
    sim.rules.set_assignment_error(carol, e3, "CountViolation")
    try:
        user = http.get(f"/users/{carol}", params={"$select": "licenseAssignmentStates"}).json()
    finally:
        sim.rules.set_assignment_error(carol, e3, None)
    checker = Checker(csdl)
    checker.check("microsoft.graph.user", user, "carol")
    _assert_clean(checker)
    states = {state["skuId"]: (state["error"], state["state"]) for state in user["licenseAssignmentStates"]}
    assert states[e3] == ("CountViolation", "Error")


def test_directory_roles_match_the_csdl(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    for who in ("grace", "bill", "lena", "uma"):
        user_id = demo_user_id(f"{who}@contoso.com")
        roles = _all(
            http,
            f"/users/{user_id}/transitiveMemberOf/microsoft.graph.directoryRole?$count=true",
            {"ConsistencyLevel": "eventual"},
        )
        assert roles
        for role in roles:
            assert role["@odata.type"] == "#microsoft.graph.directoryRole"
            checker.check("microsoft.graph.directoryRole", role, f"{who}'s role")
    _assert_clean(checker)
    assert ("microsoft.graph.directoryRole", "roleTemplateId") in checker.seen


class RecordingTransport(httpx.BaseTransport):
    """Real HTTP, keeping a copy of every request body the adapter sends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.bodies: list[Any] = []
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.content:
            self.bodies.append(json.loads(request.content))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_the_assign_license_bodies_the_adapter_sends_and_the_user_it_gets_back_match_the_csdl(
    csdl: Csdl, sim: GraphSimulator
) -> None:
    transport = RecordingTransport()
    config = GraphConfig(access_token=TOKEN, graph_url=sim.url)
    client = GraphClient(config, StaticTokenProvider(TOKEN), transport=transport)
    graph = GraphDirectory(client)
    org = graph.organization()
    products = {p.sku_id: p for p in graph.products()}
    e3, e4, e5 = (products[DEMO_PRODUCTS[part].sku_id] for part in (O365_E3, O365_E4, O365_E5))
    sway = e3.plan("SWAY")
    assert sway is not None

    def user(name: str) -> User:
        found = graph.user(f"{name}@contoso.com")
        assert found is not None
        return found

    changes = [
        plan_user_change(ChangeKind.SERVICES, user("dave"), e3, products, org, turn_off=frozenset({sway.id})),
        plan_user_change(ChangeKind.REPLACE, user("erin"), e5, products, org),
        plan_user_change(ChangeKind.REMOVE, user("peggy"), e4, products, org),
    ]
    outcomes = graph.apply(changes)
    client.close()
    assert all(o.succeeded for o in outcomes), outcomes

    action = csdl.actions[("microsoft.graph.assignLicense", "microsoft.graph.user")]
    assert set(action) == {"addLicenses", "removeLicenses"}
    checker = Checker(csdl)
    writes = [
        r
        for body in transport.bodies
        for r in body.get("requests", [])
        if r["method"] == "POST" and r["url"].endswith("/assignLicense")
    ]
    assert len(writes) == 3
    for n, write in enumerate(writes):
        assert set(write["body"]) == set(action), "both parameters, always"
        for name, parameter in action.items():
            checker.check(
                parameter.type, write["body"][name], f"assignLicense[{n}].{name}", nullable=parameter.nullable
            )
    _assert_clean(checker)
    assert any(write["body"]["removeLicenses"] for write in writes)
    assert any(lic["disabledPlans"] for write in writes for lic in write["body"]["addLicenses"])

    answer = httpx.post(
        f"{sim.api_url}/users/{outcomes[0].user_id}/assignLicense",
        json=writes[0]["body"],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200
    returned = answer.json()
    assert returned["@odata.context"].endswith("#users/$entity")
    checker.check("microsoft.graph.user", returned, "assignLicense answer")
    _assert_clean(checker)


ODATA_MAIN_ERROR: Final = frozenset({"code", "message", "target", "details", "innerError"})
"""OData v4 JSON error format (Graph's `ODataErrors.MainError`): the cleaned CSDL declares only
Graph's `InnerError`, so the outer object is checked against the format's own members."""


def _error_bodies(http: httpx.Client, sim: GraphSimulator) -> list[tuple[str, Any]]:
    """Every kind of error graph-sim answers, top level and inside `$batch`."""
    nora = demo_user_id("nora@contoso.com")
    carol = demo_user_id("carol@contoso.com")
    e3, e5 = DEMO_PRODUCTS[O365_E3].sku_id, DEMO_PRODUCTS[O365_E5].sku_id
    e5_product = next(p for p in http.get("/subscribedSkus").json()["value"] if p["skuId"] == e5)
    plans = [p["servicePlanId"] for p in e5_product["servicePlans"]]
    sim.rules.prohibit(e5, "US")
    answers = [
        ("no token", httpx.get(f"{sim.api_url}/organization")),
        ("unknown user", http.get("/users/nobody@contoso.com")),
        ("bad $select", http.get("/users", params={"$select": "shoeSize"})),
        ("bad filter", http.get("/users", params={"$filter": "city eq 'Paris'"})),
        ("no usage location", http.post(f"/users/{nora}/assignLicense", json=_add(e3))),
        ("usage location", http.post(f"/users/{carol}/assignLicense", json=_add(e5))),
    ]
    sim.rules.prohibit(e5)
    sim.rules.require(plans[0], plans[1])
    answers.append(
        ("dependency", http.post(f"/users/{carol}/assignLicense", json=_add(e5, disabled=[plans[1]])))
    )
    sim.rules.require(plans[0])
    sim.inject(FaultKind.THROTTLE, match="/organization")
    answers.append(("throttled", http.get("/organization")))
    batch = http.post(
        "/$batch",
        json={"requests": [{"id": "1", "method": "GET", "url": "/users/nobody@contoso.com"}]},
    ).json()
    bodies = [(what, answer.json()) for what, answer in answers]
    assert all(answer.status_code >= 400 for _, answer in answers), [(w, a.status_code) for w, a in answers]
    return [*bodies, ("$batch sub-response", batch["responses"][0]["body"])]


def _add(sku: str, *, disabled: list[str] | None = None) -> dict[str, Any]:
    return {"addLicenses": [{"skuId": sku, "disabledPlans": disabled or []}], "removeLicenses": []}


def test_error_bodies_use_only_the_odata_error_members_and_graphs_inner_error(
    csdl: Csdl, sim: GraphSimulator, http: httpx.Client
) -> None:
    inner = csdl.types["microsoft.graph.InnerError"]
    assert set(inner.properties) == {"request-id", "client-request-id", "date"}
    checker = Checker(csdl)
    for what, body in _error_bodies(http, sim):
        assert set(body) == {"error"}, what
        error = body["error"]
        assert set(error) <= ODATA_MAIN_ERROR, (what, sorted(set(error) - ODATA_MAIN_ERROR))
        assert isinstance(error["code"], str), what
        assert error["code"], what
        assert isinstance(error["message"], str), what
        assert error["message"], what
        checker.check("microsoft.graph.InnerError", error["innerError"], f"{what}.innerError")
    _assert_clean(checker)
    assert ("microsoft.graph.InnerError", "date") in checker.seen


def test_the_checker_catches_what_the_csdl_does_not_declare(csdl: Csdl) -> None:
    checker = Checker(csdl)
    checker.check(
        "microsoft.graph.subscribedSku",
        {
            "skuId": "not-a-guid",
            "capabilityStatus": "Active",
            "prepaidUnits": {"enabled": "5", "seats": 5},
            "servicePlans": None,
            "displayName": "Office 365 E3",
        },
        "sku",
    )
    problems = "\n".join(checker.problems)
    assert "'not-a-guid' is not an Edm.Guid" in problems
    assert "'Active' is not one of" in problems
    assert "'5' is not an Edm.Int32" in problems
    assert "prepaidUnits.seats: not a property of microsoft.graph.licenseUnitsDetail" in problems
    assert "servicePlans: null" in problems
    assert "displayName: not a property of microsoft.graph.subscribedSku" in problems


# Group-based licensing (R21)


def test_groups_and_their_members_match_the_csdl(csdl: Csdl, http: httpx.Client) -> None:
    checker = Checker(csdl)
    every = ",".join(sorted(GROUP_PROPERTIES))
    groups = _all(http, f"/groups?$select={every}")
    assert groups
    for n, group in enumerate(groups):
        checker.check("microsoft.graph.group", group, f"groups[{n}]")
    group_id = demo_group_id("allstaffe3")
    one = http.get(f"/groups/{group_id}", params={"$select": GROUP_SELECT}).json()
    checker.check("microsoft.graph.group", one, "All Staff E3")
    found = _all(http, "/groups?$filter=displayName eq 'All Staff E3' or mailNickname eq 'All Staff E3'")
    assert [g["id"] for g in found] == [group_id]
    members = _all(http, f"/groups/{group_id}/members/microsoft.graph.user?$select={USER_SELECT}")
    assert len(members) == 4
    for n, member in enumerate(members):
        checker.check("microsoft.graph.user", member, f"members[{n}]")
    in_error = _all(http, f"/groups/{group_id}/membersWithLicenseErrors?$select={USER_SELECT}")
    assert in_error == []
    _assert_clean(checker)
    assert {
        ("microsoft.graph.group", "assignedLicenses"),
        ("microsoft.graph.group", "licenseProcessingState"),
        ("microsoft.graph.licenseProcessingState", "state"),
        ("microsoft.graph.licenseAssignmentState", "assignedByGroup"),
    } <= checker.seen
    states = {(s["skuId"], s["assignedByGroup"]) for m in members for s in m["licenseAssignmentStates"]}
    assert (DEMO_PRODUCTS[O365_E3].sku_id, group_id) in states
    assert (DEMO_PRODUCTS[O365_E3].sku_id, None) in states, "Judy has it directly too"
    assert {one["licenseProcessingState"]["state"]} <= {
        "QueuedForProcessing",
        "ProcessingInProgress",
        "ProcessingComplete",
    }


def test_the_group_assign_license_body_and_the_group_it_gets_back_match_the_csdl(
    csdl: Csdl, sim: GraphSimulator
) -> None:
    transport = RecordingTransport()
    config = GraphConfig(access_token=TOKEN, graph_url=sim.url)
    client = GraphClient(config, StaticTokenProvider(TOKEN), transport=transport)
    graph = GraphDirectory(client)
    group_id = demo_group_id("allstaffe3")
    e3, e5 = DEMO_PRODUCTS[O365_E3], DEMO_PRODUCTS[O365_E5]
    sway = next(plan.id for plan in e5.service_plans if plan.name == "SWAY")
    try:
        written = graph.assign_group_license(
            group_id, [LicenseAssignment(e5.sku_id, frozenset({sway}))], [e3.sku_id]
        )
        back = graph.assign_group_license(group_id, [LicenseAssignment(e3.sku_id)], [e5.sku_id])
    finally:
        client.close()
    assert [lic.sku_id for lic in written.licenses] == [e5.sku_id]
    assert [lic.sku_id for lic in back.licenses] == [e3.sku_id]

    action = csdl.actions[("microsoft.graph.assignLicense", "microsoft.graph.group")]
    assert set(action) == {"addLicenses", "removeLicenses"}
    checker = Checker(csdl)
    writes = [body for body in transport.bodies if "addLicenses" in body]
    assert len(writes) == 2, "one call each: add and remove together"
    for n, body in enumerate(writes):
        assert set(body) == set(action)
        for name, parameter in action.items():
            checker.check(
                parameter.type, body[name], f"group assignLicense[{n}].{name}", nullable=parameter.nullable
            )
    answer = httpx.post(
        f"{sim.api_url}/groups/{group_id}/assignLicense",
        json={"addLicenses": [], "removeLicenses": []},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 400, "nothing to add or remove"
    answer = httpx.post(
        f"{sim.api_url}/groups/{group_id}/assignLicense",
        json={"addLicenses": [{"skuId": e5.sku_id, "disabledPlans": []}], "removeLicenses": []},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 202
    checker.check("microsoft.graph.group", answer.json(), "group assignLicense answer")
    _assert_clean(checker)


def test_graph_refuses_to_remove_an_inherited_license_from_the_user(http: httpx.Client) -> None:
    ivan = demo_user_id("ivan@contoso.com")
    answer = http.post(
        f"/users/{ivan}/assignLicense",
        json={"addLicenses": [], "removeLicenses": [DEMO_PRODUCTS[O365_E3].sku_id]},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "User license is inherited from group membership and it cannot be removed directly from the user."
    )


def test_every_group_property_licensebot_reads_is_in_the_csdl(csdl: Csdl) -> None:
    """What the adapter selects and filters on exists on `group`, with the type it expects."""
    group = csdl.properties("microsoft.graph.group")
    used = set(GROUP_SELECT.split(","))
    assert used <= set(group), sorted(used - set(group))
    assert used <= GROUP_PROPERTIES, "graph-sim serves every property the adapter selects"
    assert group["assignedLicenses"].type == "Collection(microsoft.graph.assignedLicense)"
    assert group["licenseProcessingState"].type == "microsoft.graph.licenseProcessingState"
    assert group["mailNickname"].type == group["displayName"].type == "Edm.String"
    # The licensed groups are filtered on the count of a collection: assignedLicenses is one.
    filtered = LICENSED_GROUPS_FILTER.split("/", 1)[0]
    assert group[filtered].type.startswith("Collection(")
    assert {"skuId", "disabledPlans"} <= set(csdl.properties("microsoft.graph.assignedLicense"))


def test_licensed_groups_are_filtered_by_graph_with_an_advanced_query(
    csdl: Csdl, http: httpx.Client, sim: GraphSimulator
) -> None:
    query = f"/groups?$filter={LICENSED_GROUPS_FILTER}&$count=true&$select={GROUP_SELECT}"
    refused = http.get(query)
    assert refused.status_code == 400, "without ConsistencyLevel: eventual, as Graph refuses it"
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    no_count = http.get(f"/groups?$filter={LICENSED_GROUPS_FILTER}", headers={"ConsistencyLevel": "eventual"})
    assert no_count.status_code == 400, "nor without $count=true"

    checker = Checker(csdl)
    licensed = _all(http, query, {"ConsistencyLevel": "eventual"})
    for n, group in enumerate(licensed):
        checker.check("microsoft.graph.group", group, f"licensed[{n}]")
    _assert_clean(checker)
    assert [g["id"] for g in licensed] == [demo_group_id("allstaffe3")]
    assert all(g["assignedLicenses"] for g in licensed)
    unlicensed = _all(
        http, "/groups?$filter=assignedLicenses/$count eq 0&$count=true", {"ConsistencyLevel": "eventual"}
    )
    assert all(not g.get("assignedLicenses") for g in unlicensed)

    transport = RecordingTransport()
    config = GraphConfig(access_token=TOKEN, graph_url=sim.url)
    client = GraphClient(config, StaticTokenProvider(TOKEN), transport=transport)
    try:
        [group] = GraphDirectory(client).licensed_groups()
    finally:
        client.close()
    assert group.id == demo_group_id("allstaffe3")
    assert group.member_count == 4
    listed = [r for r in transport.requests if r.url.path.endswith("/groups")]
    assert len(listed) == 1, "one filtered read (one page here), not every group page after page"
    assert listed[0].headers.get("ConsistencyLevel") == "eventual"
