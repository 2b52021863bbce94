"""The license use cases for the Slack experience, with the in-memory fakes: planning before writing,
a change set that renders itself, strict forms, confirmation hooks and keys, retry, undo (R20),
services, App Home."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.application.deliveries import Deliveries
from domain.application.history import ChangeHistory
from domain.application.license_queries import LicenseQueries
from domain.application.licensing import Licensing
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeSet, ChangeState, ItemStatus
from domain.commands import (
    CancelChange,
    ChangeLicenses,
    ConfirmChange,
    RetryFailed,
    ShowHome,
    ShowServices,
    UndoChange,
)
from domain.errors import (
    ChangeNotPending,
    NotAuthorized,
    NothingToChange,
    NoUsageLocation,
    OutsideOrganization,
    UndoNotAvailable,
    UnknownUser,
)
from domain.model import AdminRole
from tests.fakes import (
    SKU_E3,
    SKU_E5,
    FixedClock,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    license_of,
    make_product,
    make_subscription,
    make_user,
    plan_id,
)

ADMIN = "license.admin@contoso.com"
NOBODY = "no.role@contoso.com"
ALICE, BOB, CAROL, ERIN = (f"{n}@contoso.com" for n in ("alice", "bob", "carol", "erin"))


class Tenant:
    def __init__(self) -> None:
        products = [make_product("ENTERPRISEPACK", seats=30), make_product("ENTERPRISEPREMIUM", seats=60)]
        self.directory = InMemoryDirectory(
            products=products,
            users=[
                make_user("license.admin"),
                make_user("no.role"),
                make_user("alice", SKU_E3),
                make_user("bob", license_of(SKU_E3, "SWAY")),
                make_user("carol"),
                make_user("erin", usage_location=None),
            ],
            subscriptions=[make_subscription(p) for p in products],
            roles={ADMIN: [AdminRole.LICENSE]},
        )
        self.uow = InMemoryUnitOfWorkFactory()
        self.clock = FixedClock()
        self.licensing = Licensing(
            self.uow, self.directory, self.clock, ProductCatalog(), undo_ttl=timedelta(minutes=30)
        )
        self.history = ChangeHistory(self.uow, self.directory, self.clock, ProductCatalog())
        self.queries = LicenseQueries(self.uow, self.directory, self.clock, ProductCatalog())
        self.deliveries = Deliveries(self.uow, self.clock)

    def stored(self, change_set: ChangeSet) -> ChangeSet:
        found = self.uow.change_set(change_set.id)
        assert found is not None
        return found

    def done_replace(self, *users: str) -> ChangeSet:
        preview = self.licensing.request_change(ask(ChangeKind.REPLACE, "E5", *users, without=("Sway",)))
        return self.licensing.confirm(ConfirmChange(preview.id, ADMIN))


@pytest.fixture
def tenant() -> Tenant:
    return Tenant()


def ask(
    kind: ChangeKind, product: str, *users: str, without: tuple[str, ...] = (), **extra: bool
) -> ChangeLicenses:
    return ChangeLicenses(kind, ADMIN, users, product, turn_off=without, channel="C1", **extra)


# -- planning ---------------------------------------------------------------------------------------


def test_planning_an_assign_keeps_it_confirmed_without_writing(tenant: Tenant) -> None:
    planned = tenant.licensing.plan_change(ask(ChangeKind.ASSIGN, "E5", CAROL))

    assert planned.state is ChangeState.APPLYING
    assert tenant.directory.licenses_of(CAROL) == ()
    done = tenant.licensing.apply(planned.id)
    assert done.state is ChangeState.DONE
    assert tenant.directory.licenses_of(CAROL) == (license_of(SKU_E5),)


def test_a_change_set_carries_a_snapshot_of_every_product_it_touches(tenant: Tenant) -> None:
    planned = tenant.licensing.plan_change(ask(ChangeKind.REPLACE, "E5", ALICE, without=("Sway",)))

    assert set(planned.products) == {SKU_E3, SKU_E5}
    e5 = planned.products[SKU_E5]
    assert (e5.part_number, e5.display_name, e5.seats_consumed, e5.seats_enabled) == (
        "ENTERPRISEPREMIUM",
        "Office 365 E5",
        0,
        60,
    )
    assert e5.plan_names({plan_id("SWAY")}) == ["Sway"]
    assert planned.label(SKU_E3) == "Office 365 E3"
    assert planned.turn_off == (plan_id("SWAY"),)
    assert tenant.stored(planned).products == planned.products


def test_a_form_refuses_the_whole_change_when_a_rule_refuses_anyone(tenant: Tenant) -> None:
    with pytest.raises(NoUsageLocation):
        tenant.licensing.plan_change(ask(ChangeKind.ASSIGN, "E5", CAROL, ERIN, all_or_nothing=True))
    assert tenant.uow.change_sets() == []


def test_a_form_still_leaves_out_who_already_has_it(tenant: Tenant) -> None:
    planned = tenant.licensing.plan_change(ask(ChangeKind.ASSIGN, "E3", ALICE, CAROL, all_or_nothing=True))
    assert [i.change.user_principal_name for i in planned.items] == [CAROL]
    assert planned.unchanged == [("Alice", "Alice already has that.")]


# -- confirming ------------------------------------------------------------------------------------


def test_the_confirmed_hook_runs_once_accepted_and_before_anything_is_written(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE))
    seen: list[tuple[ChangeState, int]] = []

    def confirmed(change_set: ChangeSet) -> None:
        seen.append((change_set.state, tenant.directory.writes_for(ALICE)))

    tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN), confirmed=confirmed)

    assert seen == [(ChangeState.APPLYING, 0)]


def test_a_second_confirmation_finds_the_key_claimed(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE))
    tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN))
    with pytest.raises(ChangeNotPending):
        tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN))
    assert tenant.directory.writes_for(ALICE) == 1


def test_a_done_change_can_be_undone_for_the_configured_time(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    assert done.undoable_until == tenant.clock.now() + timedelta(minutes=30)
    assert done.can_undo(tenant.clock.now())
    assert not done.can_undo(tenant.clock.now() + timedelta(minutes=31))


# -- undo --------------------------------------------------------------------------------------------


def test_undo_previews_the_reverse_then_restores_licenses_and_services(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE, BOB)

    undo = tenant.history.request_undo(UndoChange(done.id, ADMIN))

    assert undo.kind is ChangeKind.UNDO
    assert undo.state is ChangeState.PREVIEWED
    assert undo.undo_of == done.id
    assert tenant.directory.licenses_of(BOB) == (license_of(SKU_E5, "SWAY"),), "nothing before Confirm"
    tenant.licensing.confirm(ConfirmChange(undo.id, ADMIN))
    assert tenant.directory.licenses_of(ALICE) == (license_of(SKU_E3),)
    assert tenant.directory.licenses_of(BOB) == (license_of(SKU_E3, "SWAY"),), "services as they were"
    requested = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REQUESTED]
    assert requested[-1].action == "undo Office 365 E5"
    assert requested[-1].details["undo_of"] == done.id


def test_undo_refuses_users_changed_since_and_skips_those_already_so(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "E5", ALICE, BOB, CAROL, without=("Sway",))
    )
    tenant.directory.set_licenses(CAROL, license_of(SKU_E5, "SWAY"))  # made so elsewhere before Confirm
    done = tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN))
    assert [i.status for i in done.items][-1] is ItemStatus.ALREADY_APPLIED
    tenant.directory.set_licenses(BOB, license_of(SKU_E3))  # changed since, by someone else

    undo = tenant.history.request_undo(UndoChange(done.id, ADMIN))

    assert [i.change.user_principal_name for i in undo.items] == [ALICE]
    assert undo.refused == [("Bob", undo.refused[0][1])]
    assert "changed since" in undo.refused[0][1]
    assert undo.unchanged == [("Carol", "already had it, so the change did not touch them")]


def test_undo_once_per_change_and_not_after_its_time(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    tenant.history.request_undo(UndoChange(done.id, ADMIN))
    with pytest.raises(ChangeNotPending, match="being undone"):
        tenant.history.request_undo(UndoChange(done.id, ADMIN))

    later = tenant.done_replace(BOB)
    tenant.clock.advance(timedelta(minutes=31))
    with pytest.raises(UndoNotAvailable, match="expired at"):
        tenant.history.request_undo(UndoChange(later.id, ADMIN))


def test_a_cancelled_undo_lets_the_person_ask_again_once(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    first = tenant.history.request_undo(UndoChange(done.id, ADMIN))
    tenant.licensing.cancel(CancelChange(first.id, ADMIN))

    again = tenant.history.request_undo(UndoChange(done.id, ADMIN))

    assert again.id != first.id
    assert again.state is ChangeState.PREVIEWED
    assert tenant.stored(first).state is ChangeState.CANCELLED
    with pytest.raises(ChangeNotPending, match="being undone"):
        tenant.history.request_undo(UndoChange(done.id, ADMIN))
    tenant.licensing.confirm(ConfirmChange(again.id, ADMIN))
    assert tenant.directory.licenses_of(ALICE) == (license_of(SKU_E3),)
    with pytest.raises(ChangeNotPending, match="already undone"):
        tenant.history.request_undo(UndoChange(done.id, ADMIN))


def test_an_expired_undo_preview_lets_the_person_ask_again_within_the_undo_time(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    first = tenant.history.request_undo(UndoChange(done.id, ADMIN))
    tenant.clock.advance(timedelta(minutes=16))  # past the 15-minute preview, within the 30-minute undo

    again = tenant.history.request_undo(UndoChange(done.id, ADMIN))

    assert again.id != first.id
    with pytest.raises(ChangeNotPending, match="expired"):
        tenant.licensing.confirm(ConfirmChange(first.id, ADMIN))
    assert tenant.licensing.confirm(ConfirmChange(again.id, ADMIN)).state is ChangeState.DONE
    assert tenant.directory.licenses_of(ALICE) == (license_of(SKU_E3),)


def test_a_preview_cannot_be_undone(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE))
    with pytest.raises(UndoNotAvailable, match="previewed, not done"):
        tenant.history.request_undo(UndoChange(preview.id, ADMIN))


def test_undo_needs_the_role_and_the_refusal_is_audited(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    with pytest.raises(NotAuthorized):
        tenant.history.request_undo(UndoChange(done.id, NOBODY))
    refused = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REFUSED]
    assert [(e.actor, e.action) for e in refused] == [(NOBODY, "undo a license change")]


# -- retry -------------------------------------------------------------------------------------------


def test_retry_plans_the_failed_users_afresh_once(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE, BOB, without=("Sway",)))
    tenant.directory.set_licenses(ALICE, license_of(SKU_E5))  # changed after the preview: a conflict
    done = tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN))
    assert [i.status for i in done.items] == [ItemStatus.CONFLICT, ItemStatus.APPLIED]

    retry = tenant.history.retry_failed(RetryFailed(done.id, ADMIN))

    assert retry.state is ChangeState.PREVIEWED
    assert [i.change.user_principal_name for i in retry.items] == [ALICE]
    assert retry.items[0].change.after == (license_of(SKU_E5, "SWAY"),), "the same services as asked first"
    assert retry.request_key == f"retry:{done.id}"
    with pytest.raises(ChangeNotPending, match="retried"):
        tenant.history.retry_failed(RetryFailed(done.id, ADMIN))


def test_a_cancelled_or_expired_retry_can_be_asked_for_again(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE, BOB, without=("Sway",)))
    tenant.directory.set_licenses(ALICE, license_of(SKU_E5))  # a conflict at the write
    done = tenant.licensing.confirm(ConfirmChange(preview.id, ADMIN))
    first = tenant.history.retry_failed(RetryFailed(done.id, ADMIN))
    tenant.licensing.cancel(CancelChange(first.id, ADMIN))

    second = tenant.history.retry_failed(RetryFailed(done.id, ADMIN))
    tenant.clock.advance(timedelta(minutes=16))
    third = tenant.history.retry_failed(RetryFailed(done.id, ADMIN))

    assert len({first.id, second.id, third.id}) == 3
    assert third.state is ChangeState.PREVIEWED
    with pytest.raises(ChangeNotPending, match="retried"):
        tenant.history.retry_failed(RetryFailed(done.id, ADMIN))


def test_nothing_to_retry_when_nothing_failed(tenant: Tenant) -> None:
    done = tenant.done_replace(ALICE)
    with pytest.raises(NothingToChange, match="Nothing failed"):
        tenant.history.retry_failed(RetryFailed(done.id, ADMIN))


# -- who a request is for: R8, and refusals audited with their target (R20) ----------------------------


def test_an_address_outside_the_verified_domains_is_another_organization_r8(tenant: Tenant) -> None:
    with pytest.raises(OutsideOrganization) as outside:
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E5", "eve@fabrikam.com"))

    assert outside.value.rule == "R8"
    assert "eve@fabrikam.com is not in this organization" in outside.value.problem
    assert "contoso.com, contoso.onmicrosoft.com" in outside.value.problem
    with pytest.raises(UnknownUser):
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E5", "nobody@contoso.com"))
    with pytest.raises(UnknownUser):
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E5", "not-an-address"))
    assert tenant.directory.writes == []


def test_a_refusal_is_audited_with_whom_it_was_for(tenant: Tenant) -> None:
    change = ChangeLicenses(ChangeKind.REPLACE, NOBODY, (ALICE, "has:E3"), "E5", correlation_id="c-1")
    with pytest.raises(NotAuthorized):
        tenant.licensing.request_change(change)
    done = tenant.done_replace(BOB)
    with pytest.raises(NotAuthorized):
        tenant.history.request_undo(UndoChange(done.id, NOBODY))

    refused = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REFUSED]
    assert [(e.action, e.target, e.change_set_id) for e in refused] == [
        ("replace licenses", f"{ALICE}, has:E3", ""),
        ("undo a license change", "", done.id),
    ]


def test_a_refused_confirmation_names_the_users_of_the_change(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "E5", ALICE, BOB))
    with pytest.raises(NotAuthorized):
        tenant.licensing.confirm(ConfirmChange(preview.id, NOBODY))

    (refused,) = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REFUSED]
    assert (refused.target, refused.change_set_id) == (f"{ALICE}, {BOB}", preview.id)


# -- services and App Home --------------------------------------------------------------------------


def test_services_of_a_user_and_product(tenant: Tenant) -> None:
    found = tenant.queries.services_of(ShowServices(ADMIN, BOB, "E3"))
    assert found.license == license_of(SKU_E3, "SWAY")
    assert plan_id("SWAY") not in found.enabled_plans
    with pytest.raises(NothingToChange, match="Assign it first"):
        tenant.queries.services_of(ShowServices(ADMIN, CAROL, "E3"))


def test_home_gives_products_subscriptions_and_my_recent_audit(tenant: Tenant) -> None:
    tenant.done_replace(ALICE)
    home = tenant.queries.home(ShowHome(ADMIN))
    assert {p.part_number for p in home.products} == {"ENTERPRISEPACK", "ENTERPRISEPREMIUM"}
    assert len(home.subscriptions) == 2
    assert {e.actor for e in home.recent} == {ADMIN}
    assert home.recent[0].result is AuditResult.APPLIED
    with pytest.raises(NotAuthorized):
        tenant.queries.home(ShowHome(NOBODY))


def test_a_delivery_is_first_only_once(tenant: Tenant) -> None:
    assert tenant.deliveries.first_delivery("slack:T1:trigger:1")
    assert not tenant.deliveries.first_delivery("slack:T1:trigger:1")
    assert tenant.deliveries.first_delivery("slack:T1:trigger:2")
