"""The license use cases with the in-memory fakes: each request ends up in the tenant once (R2–R8,
R16, R17, R20)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from domain.application.authorization import Authorization
from domain.application.history import ChangeHistory
from domain.application.license_queries import LicenseQueries
from domain.application.licensing import Licensing
from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeSet, ChangeState, ItemStatus
from domain.commands import CancelChange, ChangeLicenses, ConfirmChange, ListSubscriptions, ShowUser
from domain.errors import (
    AmbiguousProduct,
    ChangeNotPending,
    NotAuthorized,
    NotEnoughSeats,
    NothingToChange,
    NoUsageLocation,
    OutsideOrganization,
    ServicePlanConflict,
    UnknownRequester,
    UnknownServicePlan,
    UnknownUser,
)
from domain.model import AdminRole, Permission
from tests.fakes import (
    SKU_E3,
    SKU_E5,
    SKU_F3,
    SKU_M365_E5,
    FixedClock,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    SimulatedCrash,
    license_of,
    make_product,
    make_subscription,
    make_user,
)

GLOBAL = "global.admin@contoso.com"
BILLING = "billing.admin@contoso.com"
LICENSE = "license.admin@contoso.com"
USER_ADMIN = "user.admin@contoso.com"
NOBODY = "no.role@contoso.com"
ADMINS = {
    GLOBAL: AdminRole.GLOBAL,
    BILLING: AdminRole.BILLING,
    LICENSE: AdminRole.LICENSE,
    USER_ADMIN: AdminRole.USER,
}


@dataclass
class Tenant:
    directory: InMemoryDirectory
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    licensing: Licensing

    @property
    def authorization(self) -> Authorization:
        return Authorization(self.uow, self.directory, self.clock)

    @property
    def queries(self) -> LicenseQueries:
        return LicenseQueries(self.uow, self.directory, self.clock, self.licensing.catalog)

    @property
    def history(self) -> ChangeHistory:
        return ChangeHistory(self.uow, self.directory, self.clock, self.licensing.catalog)

    def audit(self, result: AuditResult | None = None) -> list[AuditEntry]:
        return [e for e in self.uow.audit_entries if result is None or e.result is result]

    def stored(self, change_set: ChangeSet) -> ChangeSet:
        found = self.uow.change_set(change_set.id)
        assert found is not None
        return found


@pytest.fixture
def tenant() -> Tenant:
    """Contoso: Office 365 E3 (30 seats), F3, both E5s (60 seats each), four admins and a few users."""
    e3 = make_product("ENTERPRISEPACK", seats=30)
    products = [
        e3,
        make_product("DESKLESSPACK", seats=10),
        make_product("ENTERPRISEPREMIUM", seats=60),
        make_product("SPE_E5", seats=60),
        make_product("SHAREPOINTSTORAGE", seats=10),
    ]
    users = [
        *(make_user(email.split("@")[0]) for email in [*ADMINS, NOBODY]),
        make_user("alice", SKU_E3),
        make_user("bob", license_of(SKU_E3, "SWAY")),
        make_user("carol"),
        make_user("dave", SKU_F3),
        make_user("erin", usage_location=None),
        make_user("mallory", domain="fabrikam.com"),
    ]
    directory = InMemoryDirectory(
        products=products,
        users=users,
        subscriptions=[make_subscription(p) for p in products],
        roles={email: [role] for email, role in ADMINS.items()},
    )
    uow = InMemoryUnitOfWorkFactory()
    clock = FixedClock()
    return Tenant(directory, uow, clock, Licensing(uow, directory, clock, ProductCatalog()))


def add_e3_holders(tenant: Tenant, count: int) -> list[str]:
    emails = []
    for n in range(count):
        user = tenant.directory.add_user(make_user(f"staff{n:02}", SKU_E3))
        emails.append(user.user_principal_name)
    return emails


def ask(
    kind: ChangeKind,
    product: str,
    *users: str,
    by: str = LICENSE,
    without: tuple[str, ...] = (),
    turn_on: tuple[str, ...] = (),
) -> ChangeLicenses:
    return ChangeLicenses(
        kind, by, users, product, turn_off=without, turn_on=turn_on, correlation_id="corr-1", channel="C1"
    )


# -- assign: applied at once -----------------------------------------------------------------------


def test_assign_applies_at_once_with_one_audit_record_per_user(tenant: Tenant) -> None:
    done = tenant.licensing.request_change(
        ask(ChangeKind.ASSIGN, "Office 365 E5", "alice@contoso.com", "carol@contoso.com")
    )

    assert done.state is ChangeState.DONE
    assert done.counts()[ItemStatus.APPLIED] == 2
    assert set(tenant.directory.licenses_of("alice@contoso.com")) == {license_of(SKU_E3), license_of(SKU_E5)}
    assert tenant.directory.licenses_of("carol@contoso.com") == (license_of(SKU_E5),)
    applied = tenant.audit(AuditResult.APPLIED)
    assert [e.target for e in applied] == ["alice@contoso.com", "carol@contoso.com"]
    alice = applied[0]
    assert alice.actor == LICENSE
    assert alice.before == [{"skuId": SKU_E3, "disabledPlans": []}]
    assert {lic["skuId"] for lic in alice.after} == {SKU_E3, SKU_E5}
    assert alice.change_set_id == done.id
    assert alice.correlation_id == "corr-1"
    assert alice.at == tenant.clock.now()
    assert alice.at.tzinfo is not None
    requested = tenant.audit(AuditResult.REQUESTED)
    assert len(requested) == 1
    assert requested[0].details == {"users": 2, "refused": 0}


def test_r5_assign_without_services_turns_them_off_by_name(tenant: Tenant) -> None:
    tenant.licensing.request_change(
        ask(ChangeKind.ASSIGN, "ENTERPRISEPREMIUM", "carol@contoso.com", without=("Sway", "Teams"))
    )

    assert tenant.directory.licenses_of("carol@contoso.com") == (license_of(SKU_E5, "SWAY", "TEAMS1"),)


def test_r5_services_change_applies_at_once_and_keeps_other_services_off(tenant: Tenant) -> None:
    done = tenant.licensing.request_change(
        ask(ChangeKind.SERVICES, "E3", "bob@contoso.com", without=("Teams",))
    )

    assert done.state is ChangeState.DONE
    assert tenant.directory.licenses_of("bob@contoso.com") == (license_of(SKU_E3, "SWAY", "TEAMS1"),)


def test_r5_unknown_service_is_refused_before_anything_is_planned(tenant: Tenant) -> None:
    with pytest.raises(UnknownServicePlan):
        tenant.licensing.request_change(
            ask(ChangeKind.ASSIGN, "E3", "carol@contoso.com", without=("Skype for Kiosks",))
        )

    assert tenant.uow.change_sets() == []


def test_r1_ambiguous_product_in_a_request_asks_which_one_and_changes_nothing(tenant: Tenant) -> None:
    with pytest.raises(AmbiguousProduct) as refused:
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E5", "carol@contoso.com"))

    assert {part for part, _ in refused.value.choices} == {"ENTERPRISEPREMIUM", "SPE_E5"}
    assert tenant.directory.writes == []
    assert tenant.uow.change_sets() == []


# -- replace / remove: previewed until confirmed ---------------------------------------------------


def test_replace_stays_previewed_until_the_requester_confirms(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com", "bob@contoso.com")
    )

    assert preview.state is ChangeState.PREVIEWED
    assert tenant.directory.writes == []
    assert (preview.seats_before, preview.seats_total) == (0, 60)
    assert preview.channel == "C1"

    done = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert done.state is ChangeState.DONE
    assert done.confirmed_by == LICENSE
    assert tenant.directory.licenses_of("alice@contoso.com") == (license_of(SKU_M365_E5),)
    # R7: bob had Sway off in E3; E5 is a new license, so it comes whole.
    assert tenant.directory.licenses_of("bob@contoso.com") == (license_of(SKU_M365_E5),)
    assert tenant.stored(preview).state is ChangeState.DONE


def test_r7_replace_writes_add_and_remove_in_one_write_per_user(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com"))
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    (write,) = tenant.directory.writes
    assert write.before == (license_of(SKU_E3),)
    assert write.after == (license_of(SKU_M365_E5),)


def test_remove_is_previewed_then_applied(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))
    assert preview.state is ChangeState.PREVIEWED
    assert tenant.directory.licenses_of("alice@contoso.com") == (license_of(SKU_E3),)

    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.directory.licenses_of("alice@contoso.com") == ()


def test_nothing_to_change_for_several_users_gives_each_reason_once_as_sentences(tenant: Tenant) -> None:
    with pytest.raises(NothingToChange) as nothing:
        tenant.licensing.request_change(
            ask(ChangeKind.REMOVE, "Office 365 E5", "carol@contoso.com", "dave@contoso.com")
        )

    message = nothing.value.message
    assert message.startswith("Nothing to change for these users. ")
    assert "Carol has no Office 365 E5 license." in message
    assert "Dave has no Office 365 E5 license." in message
    assert "Carol: Carol" not in message, message
    assert "Dave: Dave" not in message, message
    assert ".." not in message, message
    assert ".;" not in message, message


def test_confirm_by_another_admin_is_refused_audited_and_changes_nothing(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com"))

    with pytest.raises(NotAuthorized) as refused:
        tenant.licensing.confirm(ConfirmChange(preview.id, GLOBAL, correlation_id="corr-2"))

    assert "confirm a change that another admin asked for" in refused.value.message
    assert f"Only {LICENSE}" in refused.value.fix
    assert tenant.directory.writes == []
    assert tenant.stored(preview).state is ChangeState.PREVIEWED
    (refusal,) = tenant.audit(AuditResult.REFUSED)
    assert (refusal.actor, refusal.correlation_id) == (GLOBAL, "corr-2")
    # The requester can still confirm it.
    assert tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE)).state is ChangeState.DONE


def test_confirm_twice_writes_each_user_once(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com", "bob@contoso.com")
    )
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    with pytest.raises(ChangeNotPending, match="already done"):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.directory.writes_for("alice@contoso.com") == 1
    assert tenant.directory.writes_for("bob@contoso.com") == 1
    assert len(tenant.audit(AuditResult.APPLIED)) == 2


def test_confirm_locks_the_change_set_so_two_clicks_cannot_both_find_it_pending(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))
    tenant.uow.locks.clear()

    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.uow.locks[0] == preview.id


def test_confirm_after_the_preview_expired_writes_nothing(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))
    tenant.clock.advance(timedelta(minutes=15))

    with pytest.raises(ChangeNotPending, match="expired"):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.directory.writes == []


def test_confirm_of_an_unknown_change_is_not_pending(tenant: Tenant) -> None:
    with pytest.raises(ChangeNotPending, match="gone"):
        tenant.licensing.confirm(ConfirmChange("no-such-change", LICENSE))


def test_cancel_discards_the_preview_and_is_audited(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com"))

    cancelled = tenant.licensing.cancel(CancelChange(preview.id, LICENSE, correlation_id="corr-3"))

    assert cancelled.state is ChangeState.CANCELLED
    assert tenant.stored(preview).state is ChangeState.CANCELLED
    (entry,) = tenant.audit(AuditResult.CANCELLED)
    assert (entry.actor, entry.change_set_id, entry.correlation_id) == (LICENSE, preview.id, "corr-3")
    with pytest.raises(ChangeNotPending, match="cancelled"):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    assert tenant.directory.writes == []


def test_cancel_after_confirm_is_not_pending(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    with pytest.raises(ChangeNotPending):
        tenant.licensing.cancel(CancelChange(preview.id, LICENSE))

    assert tenant.stored(preview).state is ChangeState.DONE


def test_r16_cancel_by_a_user_without_an_admin_role_is_refused_and_audited(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))

    with pytest.raises(NotAuthorized):
        tenant.licensing.cancel(CancelChange(preview.id, NOBODY))

    assert tenant.stored(preview).state is ChangeState.PREVIEWED
    assert [e.actor for e in tenant.audit(AuditResult.REFUSED)] == [NOBODY]


# -- bulk, batches and resuming --------------------------------------------------------------------


def test_r17_bulk_of_45_users_is_written_in_3_batches(tenant: Tenant) -> None:
    staff = add_e3_holders(tenant, 45)
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", *staff))
    seen: list[dict[ItemStatus, int]] = []

    done = tenant.licensing.confirm(
        ConfirmChange(preview.id, LICENSE), progress=lambda cs: seen.append(cs.counts())
    )

    assert [len(call.user_ids) for call in tenant.directory.calls] == [20, 20, 5]
    assert [counts[ItemStatus.APPLIED] for counts in seen] == [20, 40, 45]
    assert done.counts()[ItemStatus.APPLIED] == 45
    assert all(tenant.directory.writes_for(email) == 1 for email in staff)
    assert len(tenant.audit(AuditResult.APPLIED)) == 45


@pytest.mark.parametrize("crash_after_writes", [0, 3, 20, 22])
def test_crash_between_sending_and_recording_then_resume_writes_each_user_once(
    tenant: Tenant, crash_after_writes: int
) -> None:
    staff = add_e3_holders(tenant, 25)
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", *staff))
    tenant.directory.crash_once_after(crash_after_writes)

    with pytest.raises(SimulatedCrash):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    interrupted = tenant.stored(preview)
    assert interrupted.state is ChangeState.APPLYING
    assert interrupted.counts()[ItemStatus.SENDING] > 0
    calls_before_resume = len(tenant.directory.calls)

    assert tenant.licensing.resume_unfinished() == [preview.id]

    assert tenant.stored(preview).state is ChangeState.DONE
    for email in staff:
        assert tenant.directory.writes_for(email) == 1
        assert tenant.directory.licenses_of(email) == (license_of(SKU_M365_E5),)
    # The batch whose outcome was lost is read before it is written again (on Graph, that is what
    # prevents a second write).
    assert tenant.directory.calls[calls_before_resume].verify
    assert len(tenant.audit(AuditResult.APPLIED)) == 25
    assert tenant.licensing.resume_unfinished() == []


def test_resume_finds_an_interrupted_change_behind_many_newer_ones(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(ask(ChangeKind.REMOVE, "E3", "alice@contoso.com"))
    tenant.directory.crash_once_after(0)
    with pytest.raises(SimulatedCrash):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    with tenant.uow() as uow:
        for n in range(1000):
            tenant.clock.advance(timedelta(seconds=1))
            newer = replace(
                preview, id=f"newer-{n}", state=ChangeState.PREVIEWED, created_at=tenant.clock.now()
            )
            uow.change_sets.add(newer)
        uow.commit()

    assert tenant.licensing.resume_unfinished() == [preview.id]
    assert tenant.directory.licenses_of("alice@contoso.com") == ()


def test_resume_with_nothing_unfinished_does_nothing(tenant: Tenant) -> None:
    tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com"))

    assert tenant.licensing.resume_unfinished() == []
    assert tenant.directory.writes == []


def test_holders_target_expands_to_everyone_holding_the_product(tenant: Tenant) -> None:
    staff = add_e3_holders(tenant, 3)

    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", "has:E3"))

    targets = {item.change.user_principal_name for item in preview.items}
    assert targets == {"alice@contoso.com", "bob@contoso.com", *staff}


def test_holders_target_and_a_named_holder_count_once(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "SPE_E5", "has:Office 365 E3", "alice@contoso.com")
    )

    assert len(preview.items) == 2


def test_bulk_refused_users_are_listed_with_reasons_while_the_rest_proceed(tenant: Tenant) -> None:
    done = tenant.licensing.request_change(
        ask(
            ChangeKind.ASSIGN,
            "E3",
            "carol@contoso.com",
            "erin@contoso.com",
            "mallory@fabrikam.com",
            "dave@contoso.com",
            "alice@contoso.com",
        )
    )

    assert done.state is ChangeState.DONE
    assert [i.change.user_principal_name for i in done.items] == ["carol@contoso.com"]
    refused = dict(done.refused)
    assert set(refused) == {"Erin", "Mallory", "Dave"}
    assert "usage location" in refused["Erin"]
    assert "(R4)" not in refused["Erin"]
    assert "(R8)" not in refused["Mallory"]
    assert "Skype for Business Online (Plan 1)" in refused["Dave"]
    # Someone who already has it is not refused: nothing changes for them, and the preview says so.
    assert dict(done.unchanged) == {"Alice": "Alice already has that."}
    assert tenant.directory.licenses_of("carol@contoso.com") == (license_of(SKU_E3),)
    assert tenant.directory.licenses_of("erin@contoso.com") == ()


def test_bulk_with_everyone_refused_says_why(tenant: Tenant) -> None:
    with pytest.raises(NothingToChange) as refused:
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E3", "erin@contoso.com", "alice@contoso.com"))

    assert "Erin has no usage location" in refused.value.message
    assert "Alice already has that." in refused.value.message


@pytest.mark.parametrize(
    ("user", "product", "error"),
    [
        ("erin@contoso.com", "E3", NoUsageLocation),
        ("dave@contoso.com", "E3", ServicePlanConflict),
        ("mallory@fabrikam.com", "E3", OutsideOrganization),
        ("alice@contoso.com", "E3", NothingToChange),
    ],
)
def test_single_user_refusal_raises_the_domain_error(
    tenant: Tenant, user: str, product: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, product, user))

    assert tenant.directory.writes == []


def test_unknown_target_user_is_refused(tenant: Tenant) -> None:
    with pytest.raises(UnknownUser):
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E3", "zed@contoso.com"))


# -- R2 seats --------------------------------------------------------------------------------------


def test_r2_bulk_needs_a_seat_only_for_users_not_holding_the_product(tenant: Tenant) -> None:
    holders = add_e3_holders(tenant, 25)  # E3: 30 enabled, 27 held, 3 free

    done = tenant.licensing.request_change(
        ask(
            ChangeKind.ASSIGN,
            "E3",
            "carol@contoso.com",
            "global.admin@contoso.com",
            "billing.admin@contoso.com",
            *holders,
        )
    )

    assert done.counts()[ItemStatus.APPLIED] == 3
    assert len(done.unchanged) == 25
    assert done.refused == []


def test_r2_bulk_refused_when_seats_short_says_how_many_to_buy(tenant: Tenant) -> None:
    add_e3_holders(tenant, 25)  # 3 free

    with pytest.raises(NotEnoughSeats) as refused:
        tenant.licensing.request_change(
            ask(
                ChangeKind.ASSIGN,
                "E3",
                "carol@contoso.com",
                "global.admin@contoso.com",
                "billing.admin@contoso.com",
                "license.admin@contoso.com",
            )
        )

    assert "need 4, 3 free" in refused.value.message
    assert "buy 1 more" in refused.value.message.lower()
    assert tenant.directory.writes == []
    assert tenant.uow.change_sets() == []


def test_r2_seat_taken_between_preview_and_confirm_fails_that_user_only(tenant: Tenant) -> None:
    add_e3_holders(tenant, 26)  # E3: 2 free
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "E3", "carol@contoso.com", "dave@contoso.com")
    )
    tenant.directory.set_licenses("global.admin@contoso.com", license_of(SKU_E3))  # 1 free

    done = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert done.state is ChangeState.DONE
    assert done.counts()[ItemStatus.APPLIED] == 1
    (failed,) = done.failed_items
    assert failed.change.user_principal_name == "dave@contoso.com"
    assert failed.rule == "R2"
    assert "need 1, 0 free" in failed.reason
    assert tenant.directory.licenses_of("dave@contoso.com") == (license_of(SKU_F3),)  # left as it was
    assert [e.target for e in tenant.audit(AuditResult.FAILED)] == ["dave@contoso.com"]


def test_user_changed_since_the_preview_is_left_alone_as_a_conflict(tenant: Tenant) -> None:
    preview = tenant.licensing.request_change(
        ask(ChangeKind.REPLACE, "SPE_E5", "alice@contoso.com", "bob@contoso.com")
    )
    tenant.directory.set_licenses("alice@contoso.com", license_of(SKU_E3), license_of(SKU_E5))

    done = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert {i.change.user_id: i.status for i in done.items} == {
        "id-alice": ItemStatus.CONFLICT,
        "id-bob": ItemStatus.APPLIED,
    }
    assert "changed since the preview" in done.failed_items[0].reason
    assert set(tenant.directory.licenses_of("alice@contoso.com")) == {license_of(SKU_E3), license_of(SKU_E5)}
    assert tenant.directory.writes_for("alice@contoso.com") == 0


# -- R16 roles, refusals audited -------------------------------------------------------------------


@pytest.mark.parametrize("requester", [GLOBAL, BILLING, LICENSE, USER_ADMIN])
def test_r16_every_admin_role_may_change_licenses(tenant: Tenant, requester: str) -> None:
    done = tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E3", "carol@contoso.com", by=requester))

    assert done.state is ChangeState.DONE
    assert done.requested_by == requester


def test_r16_user_without_a_role_is_refused_and_the_refusal_is_audited(tenant: Tenant) -> None:
    with pytest.raises(NotAuthorized) as refused:
        tenant.licensing.request_change(ask(ChangeKind.ASSIGN, "E3", "carol@contoso.com", by=NOBODY))

    assert "No Role may not assign, replace or remove licenses" in refused.value.message
    (entry,) = tenant.audit()
    assert entry.result is AuditResult.REFUSED
    assert (entry.actor, entry.action, entry.correlation_id) == (NOBODY, "assign licenses", "corr-1")
    assert entry.reason == refused.value.message
    assert tenant.directory.writes == []
    assert tenant.uow.change_sets() == []


def test_r16_unknown_requester_is_refused_and_audited(tenant: Tenant) -> None:
    with pytest.raises(UnknownRequester):
        tenant.licensing.request_change(
            ask(ChangeKind.ASSIGN, "E3", "carol@contoso.com", by="stranger@example.org")
        )

    (entry,) = tenant.audit()
    assert (entry.result, entry.actor) == (AuditResult.REFUSED, "stranger@example.org")


def test_r16_authorize_commits_the_refusal_and_discards_work_not_committed(tenant: Tenant) -> None:
    asker = tenant.authorization.identify(NOBODY)  # read from the directory before the unit of work
    with tenant.uow() as uow:
        uow.keys.claim("click-1", tenant.clock.now())  # uncommitted work of the same unit
        with pytest.raises(NotAuthorized):
            tenant.authorization.authorize(uow, asker, Permission.MANAGE_SUBSCRIPTIONS, "buy E5")

    assert [(e.actor, e.action) for e in tenant.audit(AuditResult.REFUSED)] == [(NOBODY, "buy E5")]
    with tenant.uow() as uow:
        assert uow.keys.claim("click-1", tenant.clock.now())


def test_r16_authorize_returns_the_requester_with_roles(tenant: Tenant) -> None:
    asker = tenant.authorization.identify(BILLING)
    with tenant.uow() as uow:
        requester = tenant.authorization.authorize(uow, asker, Permission.MANAGE_SUBSCRIPTIONS, "buy E5")

    assert requester.name == BILLING
    assert requester.roles == {AdminRole.BILLING}
    assert tenant.audit() == []


def test_r16_any_admin_may_read(tenant: Tenant) -> None:
    overview = tenant.queries.show_user(ShowUser(USER_ADMIN, "bob@contoso.com"))
    assert overview.user.licenses == (license_of(SKU_E3, "SWAY"),)
    assert overview.products[SKU_E3].seats.consumed == 2

    subscriptions = tenant.queries.list_subscriptions(ListSubscriptions(LICENSE))
    assert {p.part_number for p in subscriptions.products} >= {"ENTERPRISEPACK", "SPE_E5"}
    assert len(subscriptions.subscriptions) == 5


def test_r16_reading_without_a_role_is_refused(tenant: Tenant) -> None:
    with pytest.raises(NotAuthorized):
        tenant.queries.show_user(ShowUser(NOBODY, "bob@contoso.com"))
    with pytest.raises(NotAuthorized):
        tenant.queries.list_subscriptions(ListSubscriptions(NOBODY))

    assert len(tenant.audit(AuditResult.REFUSED)) == 2
