"""The builders of the Slack experience against Slack's limits: forms, App Home, progress, results with
Retry / Undo, the CSV of a bulk change, and the throttle of progress updates."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from domain.application.authorization import Requester
from domain.application.results import HomeOverview, UserServices
from domain.audit import AuditEntry, AuditResult
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeSet,
    ChangeState,
    ItemStatus,
    UserChange,
    snapshot_products,
)
from domain.model import AdminRole, LicenseAssignment, Product, Seats, ServicePlan
from domain.transactions import RemoteCallInTransaction, closed, opened
from handlers.blocks import (
    app_home,
    change_preview,
    change_progress,
    change_result,
    license_form,
    notice_view,
    preview_fits,
    result_fits,
    services_form,
)
from handlers.blocks.message import Message
from handlers.context import HomeItem, WorkflowSections
from handlers.exports import preview_csv, result_csv
from handlers.ids import RETRY_FAILED, UNDO_CHANGE
from handlers.notifier import SlackNotifier
from handlers.presenting import BULK_USERS, Progress, Surface, is_bulk
from tests.fakes import SKU_E3, SKU_E5, license_of, make_product, make_subscription, make_user

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <@U0BOSS> & <https://evil.example|click> <!subteam^S1>"
LONG = "Ω" * 5000
E3 = make_product("ENTERPRISEPACK", seats=25, consumed=20)
E5 = make_product("ENTERPRISEPREMIUM", seats=10, consumed=3)


# --- helpers ----------------------------------------------------------------------------------


def data_of(built: View | Message) -> dict[str, Any]:
    raw = built.to_dict()
    return dict(json.loads(json.dumps(raw, ensure_ascii=False)))


def texts(node: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get("type") in {"plain_text", "mrkdwn"} and isinstance(node.get("text"), str):
            found.append((node["type"], node["text"]))
        for value in node.values():
            found += texts(value)
    elif isinstance(node, list):
        for value in node:
            found += texts(value)
    return found


def assert_view_within_limits(view: View) -> dict[str, Any]:
    data = data_of(view)
    assert 0 < len(data["blocks"]) <= 100
    if data["type"] == "modal":
        for key in ("title", "submit", "close"):
            if data.get(key):
                assert len(data[key]["text"]) <= 24
        assert len(data.get("private_metadata") or "") <= 3000
    for block in data["blocks"]:
        element = block.get("element") or block.get("accessory") or {}
        if element.get("type") == "checkboxes":
            assert len(element["options"]) <= 10
        if element.get("type") == "static_select":
            assert len(element["options"]) <= 100
        for option in element.get("options") or []:
            assert len(option["text"]["text"]) <= 75
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    return data


def assert_nothing_live(built: View | Message) -> None:
    for kind, text in texts(data_of(built)):
        for live in ("<!channel>", "<@U0BOSS>", "<https://evil", "<!subteam"):
            assert live not in text, f"{live} live in a {kind} text"


def plans(count: int, *, name: str = "Plan") -> tuple[ServicePlan, ...]:
    return tuple(ServicePlan(f"plan-{n:03}", f"PLAN_{n}", f"{name} {n}") for n in range(count))


def product(count: int, *, name: str = "Office 365 E5", automatic: int = 0) -> Product:
    company = tuple(ServicePlan(f"co-{n}", f"CO_{n}", f"Company {n}", "Company") for n in range(automatic))
    return Product(SKU_E5, "ENTERPRISEPREMIUM", name, plans(count, name=name) + company, Seats(10, 3))


def change_set(
    count: int,
    *,
    kind: ChangeKind = ChangeKind.REPLACE,
    display: str = "User",
    status: ItemStatus = ItemStatus.PLANNED,
    refused: int = 0,
    unchanged: int = 0,
) -> ChangeSet:
    items = [
        ChangeItem(
            UserChange(
                f"id-{n}",
                f"user{n}@contoso.com",
                f"{display} {n}",
                (LicenseAssignment(SKU_E3),),
                (license_of(SKU_E5, "SWAY"),),
            ),
            status=status,
        )
        for n in range(count)
    ]
    return ChangeSet(
        id="c0ffee" * 5 + "00",
        kind=kind,
        requested_by="lena@contoso.com",
        product_sku=SKU_E5,
        product_label="Office 365 E5",
        items=items,
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        refused=[(f"{display} refused {n}", f"{display} has no usage location") for n in range(refused)],
        unchanged=[(f"{display} same {n}", f"{display} already has that.") for n in range(unchanged)],
        seats_before=3,
        seats_total=10,
        products=snapshot_products([E3, E5], {SKU_E3, SKU_E5}),
    )


def done(change_set: ChangeSet, *, undoable: bool = True) -> ChangeSet:
    change_set.state = ChangeState.DONE
    change_set.undoable_until = NOW + timedelta(hours=1) if undoable else None
    return change_set


# --- the /license form ------------------------------------------------------------------------


def test_the_form_splits_a_products_services_into_groups_of_ten() -> None:
    e5 = product(56, automatic=2)
    view = license_form([e5, E3], "sealed", chosen=e5)
    data = assert_view_within_limits(view)
    groups = [b for b in data["blocks"] if str(b.get("block_id", "")).startswith("form.services:")]
    assert [len(g["element"]["options"]) for g in groups] == [10, 10, 10, 10, 10, 6]
    assert len({g["element"]["action_id"] for g in groups}) == 6, "each group answers on its own action id"
    assert groups[1]["label"]["text"] == "Services of Office 365 E5 (2 of 6)"
    assert "Company 0, Company 1" in json.dumps(data), "company-wide services are listed, not ticked"
    assert data["private_metadata"] == "sealed"


def test_a_tenant_with_hundreds_of_hostile_products_fits_the_form() -> None:
    products = [
        Product(f"sku-{n}", f"PART{n}", f"{HOSTILE} {LONG} {n}", plans(3, name=HOSTILE), Seats(5, 1))
        for n in range(250)
    ]
    view = license_form(products, "x", chosen=products[0])
    assert_view_within_limits(view)
    assert "<!channel>" not in json.dumps(data_of(view))


def test_a_product_with_more_services_than_a_view_holds_stays_within_limits() -> None:
    view = license_form([product(2000)], "x", chosen=product(2000))
    data = assert_view_within_limits(view)
    assert "more parts not shown" in json.dumps(data)


def test_the_services_form_ticks_what_is_on_and_shows_a_hostile_name_as_text() -> None:
    e5 = product(12, automatic=1)
    user = make_user("alice", display_name=HOSTILE + LONG)
    services = UserServices(user, e5, LicenseAssignment(SKU_E5, frozenset({"plan-001", "plan-011"})))
    view = services_form(services, "sealed")
    data = assert_view_within_limits(view)
    assert_nothing_live(view)
    ticked = [
        o["value"] for b in data["blocks"] if "element" in b for o in b["element"].get("initial_options", [])
    ]
    assert "plan-001" not in ticked
    assert "plan-011" not in ticked
    assert "plan-000" in ticked
    assert data["submit"]["text"] == "Save"


def test_a_notice_view_has_no_submit() -> None:
    data = assert_view_within_limits(notice_view("licensebot", Message("Only text", ())))
    assert "submit" not in data
    assert data["blocks"][0]["text"]["text"] == "Only text"


# --- App Home ---------------------------------------------------------------------------------


def overview(products: list[Product], recent: list[AuditEntry]) -> HomeOverview:
    requester = Requester(make_user("lena", display_name=HOSTILE), frozenset({AdminRole.LICENSE}))
    subscriptions = [make_subscription(p, total=p.seats.enabled) for p in products]
    return HomeOverview(requester, products, subscriptions, recent)


def test_home_with_many_hostile_products_and_changes_stays_within_limits() -> None:
    products = [
        Product(f"sku-{n}", f"PART{n}", f"{HOSTILE} {n}", (), Seats(10, 9 + n % 3)) for n in range(300)
    ]
    recent = [
        AuditEntry(NOW, "lena@contoso.com", HOSTILE, AuditResult.APPLIED, change_set_id=f"cs-{n % 40}")
        for n in range(200)
    ]
    sections = WorkflowSections([HomeItem(HOSTILE + LONG, HOSTILE)] * 50, [HomeItem(HOSTILE)] * 50)
    view = app_home(overview(products, recent), sections, NOW)
    assert_view_within_limits(view)
    assert_nothing_live(view)
    assert data_of(view)["type"] == "home"


def test_home_lists_products_at_90_percent_or_more_as_running_out() -> None:
    full = replace(E5, seats=Seats(10, 9))
    over = replace(E3, seats=Seats(25, 30))
    view = app_home(overview([full, over, make_product("DESKLESSPACK", seats=5, consumed=1)], []), None, NOW)
    shown = json.dumps(data_of(view), ensure_ascii=False)
    running_out = shown.split("Running out")[1]
    assert "Office 365 E3*: 0 free of 25 (120% used)" in running_out
    assert "Office 365 E5*: 1 free of 10 (90% used)" in running_out
    assert "Office 365 F3*: " not in running_out


def test_home_groups_recent_changes_by_change_set() -> None:
    recent = [
        AuditEntry(NOW, "lena", "replace Office 365 E5", AuditResult.FAILED, change_set_id="a"),
        AuditEntry(NOW, "lena", "replace Office 365 E5", AuditResult.APPLIED, change_set_id="a"),
        AuditEntry(
            NOW,
            "lena",
            "replace ENTERPRISEPREMIUM",
            AuditResult.REQUESTED,
            change_set_id="a",
            details={"users": 2},
        ),
        AuditEntry(NOW, "lena", "assign licenses", AuditResult.REFUSED, reason="Nora has no usage location."),
    ]
    shown = json.dumps(data_of(app_home(overview([E5], recent), None, NOW)), ensure_ascii=False)
    assert "Replaced the licenses of 2 people with Office 365 E5 · 1 applied, 1 failed · " in shown
    assert "Assign licenses · refused: Nora has no usage location. · " in shown
    assert "ENTERPRISEPREMIUM" not in shown


# --- changes: preview, progress, result -------------------------------------------------------


def test_a_bulk_preview_counts_gain_lose_unchanged_and_refused_and_says_where_the_rest_is() -> None:
    big = change_set(60, refused=3, unchanged=2)
    assert not preview_fits(big)
    data = data_of(change_preview(big, shared=True, csv_in_thread=True))
    shown = json.dumps(data, ensure_ascii=False)
    assert "Gain a license: *60* · lose one: *60* · unchanged: *2* · refused: *3*" in shown
    assert "… and 35 more users (every one in the CSV in this thread)" in shown
    assert "Posted in the channel, not only to you" in shown
    assert "only lena@contoso.com can confirm it" in shown
    assert "*Unchanged (2)*" in shown


def test_previews_and_results_of_500_hostile_users_stay_within_slack_limits() -> None:
    for built in (
        change_preview(change_set(500, display=HOSTILE + LONG, refused=500, unchanged=500), shared=True),
        change_progress(change_set(500, display=HOSTILE)),
        change_result(done(change_set(500, display=HOSTILE + LONG, status=ItemStatus.FAILED))),
    ):
        data = data_of(built)
        assert 0 < len(data["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in data["blocks"] if b["type"] == "section")
        assert_nothing_live(built)


def test_progress_says_how_far_with_a_bar() -> None:
    running = change_set(60)
    running.state = ChangeState.APPLYING
    for item in running.items[:20]:
        item.status = ItemStatus.APPLIED
    running.items[20].status = ItemStatus.FAILED
    shown = json.dumps(data_of(change_progress(running)), ensure_ascii=False)
    assert "*Office 365 E5*: 21 of 60 users done" in shown
    assert "20 changed · 1 not changed so far" in shown
    assert "`▰▰▰▰▰▰▰▱▱▱▱▱▱▱▱▱▱▱▱▱`" in shown
    assert change_progress(running).text == "Replacing licenses: 21 of 60 done."


def test_a_result_offers_retry_for_the_failed_and_undo_until_its_time() -> None:
    result = done(change_set(4, status=ItemStatus.APPLIED))
    result.items[1].status = ItemStatus.FAILED
    result.items[2].status = ItemStatus.CONFLICT
    data = data_of(change_result(result))
    actions = next(b for b in data["blocks"] if b["type"] == "actions")
    retry, undo = actions["elements"]
    assert (retry["action_id"], retry["text"]["text"], retry["value"]) == (
        RETRY_FAILED,
        "Retry the failed ones (2)",
        result.id,
    )
    assert (undo["action_id"], undo["value"]) == (UNDO_CHANGE, result.id)
    shown = json.dumps(data, ensure_ascii=False)
    assert "Undo works until 10:00 UTC (the button, or `/license undo c0ffeec0`)." in shown
    assert "Change `c0ffeec0` · audited · `/license status c0ffeec0` shows it again." in shown
    assert result.id not in json.dumps([b for b in data["blocks"] if b["type"] != "actions"])


def test_a_result_without_anything_written_offers_no_undo() -> None:
    result = done(change_set(2, status=ItemStatus.ALREADY_APPLIED), undoable=False)
    assert not any(b["type"] == "actions" for b in data_of(change_result(result))["blocks"])


def test_an_undo_is_worded_as_one() -> None:
    undo = change_set(3, kind=ChangeKind.UNDO)
    undo.undo_of = "feedface"
    preview = json.dumps(data_of(change_preview(undo)))
    assert "Preview: undo a change" in preview
    assert "will get back exactly what they held before change `feedface`" in preview
    finished = done(change_set(3, kind=ChangeKind.UNDO, status=ItemStatus.APPLIED))
    finished.undo_of = "feedface"
    result = json.dumps(data_of(change_result(finished)))
    assert "Change undone" in result
    assert "Undoes change `feedface`." in result


def test_results_that_do_not_fit_are_flagged_for_a_csv() -> None:
    assert result_fits(done(change_set(25, status=ItemStatus.APPLIED)))
    assert not result_fits(done(change_set(26, status=ItemStatus.APPLIED)))
    assert result_fits(done(change_set(30, status=ItemStatus.FAILED)))
    assert not result_fits(done(change_set(31, status=ItemStatus.FAILED)))


def test_bulk_means_more_than_a_few_people_named() -> None:
    assert not is_bulk(change_set(BULK_USERS))
    assert is_bulk(change_set(BULK_USERS - 1, refused=1, unchanged=1))


# --- the CSV ----------------------------------------------------------------------------------


def test_the_preview_csv_lists_everyone_and_cannot_run_formulas() -> None:
    cs = change_set(2, display='=HYPERLINK("http://evil")', refused=1, unchanged=1)
    rows = list(csv.reader(io.StringIO(preview_csv(cs))))
    assert rows[0] == ["user", "email", "status", "change", "reason"]
    assert rows[1][0].startswith("'="), "a formula is shown as text"
    assert rows[1][2:4] == ["planned", "loses Office 365 E3; gains Office 365 E5 (Sway off)"]
    assert [row[2] for row in rows[1:]] == ["planned", "planned", "refused", "unchanged"]


def test_the_result_csv_gives_each_outcome_reason_and_rule() -> None:
    result = done(change_set(2, status=ItemStatus.APPLIED))
    result.items[1].status = ItemStatus.FAILED
    result.items[1].reason = "-1 seats"
    result.items[1].rule = "R2"
    rows = list(csv.DictReader(io.StringIO(result_csv(result))))
    assert [(r["result"], r["reason"], r["rule"]) for r in rows] == [
        ("applied", "", ""),
        ("failed", "'-1 seats", "R2"),
    ]


# --- progress updates: at most one per interval ------------------------------------------------


class FakeSurface(Surface):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(client=None, channel="C1", user="U1")  # type: ignore[arg-type]
        self.updates: list[str] = []
        self.fail = fail

    def update(self, ts: str, message: Message) -> None:
        if self.fail:
            raise SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"})
        self.updates.append(message.text)


def test_progress_updates_at_most_once_per_interval_and_never_once_done() -> None:
    surface = FakeSurface()
    now = [100.0]
    progress = Progress(surface, "1.0", 1.0, clock=lambda: now[0])
    running = change_set(60)
    running.state = ChangeState.APPLYING

    for step in (0.0, 0.4, 0.9, 1.1, 1.5, 2.2):
        now[0] = 100.0 + step
        progress(running)
    running.state = ChangeState.DONE
    now[0] = 200.0
    progress(running)

    assert len(surface.updates) == 3, "at 0.0, 1.1 and 2.2 s: about one a second (Slack's rate)"


def test_a_failing_progress_update_does_not_stop_the_change() -> None:
    running = change_set(3)
    running.state = ChangeState.APPLYING
    Progress(FakeSurface(fail=True), "1.0", 0.0)(running)  # logged, not raised


def test_slack_is_never_called_with_a_database_transaction_open() -> None:
    """Progress and the notifier are what the domain calls back into Slack with; each refuses a
    call made inside a unit of work (DESIGN.md §5: SQLite's write lock would be held across it)."""
    running = change_set(3)
    running.state = ChangeState.APPLYING
    running.channel, running.message_ts = "C1", "1.0"
    surface = FakeSurface()
    notifier = SlackNotifier()
    opened()
    try:
        with pytest.raises(RemoteCallInTransaction):
            Progress(surface, "1.0", 0.0)(running)
        with pytest.raises(RemoteCallInTransaction):
            notifier.change_resumed(running)
    finally:
        closed()
    assert surface.updates == []
    Progress(surface, "1.0", 0.0)(running)
    notifier.change_resumed(running)  # no client: nothing sent, nothing refused
    assert len(surface.updates) == 1


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11, 55])
def test_any_number_of_services_fits(count: int) -> None:
    assert_view_within_limits(license_form([product(count)], "x", chosen=product(count)))
