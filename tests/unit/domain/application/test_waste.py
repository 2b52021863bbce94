"""Reclaim (R22) with the in-memory fakes: the licenses of disabled accounts, and of inactive ones
when sign-ins are readable, previewed, confirmed, written once, audited and undone like any change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from domain.application.history import ChangeHistory
from domain.application.licensing import Licensing
from domain.application.waste import Waste
from domain.audit import AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeState, ItemStatus
from domain.commands import ConfirmChange, ReclaimLicenses, RetryFailed, UndoChange
from domain.errors import ChangeNotPending, NotAuthorized, NothingToChange
from domain.model import AdminRole, User
from domain.waste import RECLAIM_DISABLED, RECLAIM_INACTIVE, is_inactive, reclaim_change
from tests.fakes import (
    SKU_E3,
    SKU_F3,
    FixedClock,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    license_of,
    make_product,
    make_subscription,
    make_user,
)

ADMIN = "lena@contoso.com"
READER = "nobody@contoso.com"


@dataclass
class Tenant:
    directory: InMemoryDirectory
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    licensing: Licensing
    history: ChangeHistory
    waste: Waste


def disabled(user: User) -> User:
    return replace(user, account_enabled=False)


@pytest.fixture
def tenant() -> Tenant:
    clock = FixedClock()
    now = clock.now()
    products = [make_product("ENTERPRISEPACK", seats=10), make_product("DESKLESSPACK", seats=5)]
    users = [
        make_user("lena"),
        make_user("nobody"),
        make_user("alice", SKU_E3),
        disabled(make_user("victor", SKU_F3)),
        disabled(make_user("xena", license_of(SKU_E3, "SWAY"))),
        disabled(make_user("gone")),  # disabled, nothing to take back
        replace(make_user("judy", SKU_E3), last_sign_in=now - timedelta(days=120)),
        replace(make_user("yara", SKU_F3), created=now - timedelta(days=200)),  # never signed in
        replace(make_user("newbie", SKU_F3), created=now - timedelta(days=10)),  # new, not inactive
    ]
    directory = InMemoryDirectory(
        products=products,
        users=users,
        subscriptions=[make_subscription(p) for p in products],
        roles={ADMIN: [AdminRole.LICENSE]},
    )
    directory.page_size = 2  # several pages, whatever the tenant
    uow = InMemoryUnitOfWorkFactory()
    catalog = ProductCatalog()
    return Tenant(
        directory,
        uow,
        clock,
        Licensing(uow, directory, clock, catalog),
        ChangeHistory(uow, directory, clock, catalog),
        Waste(uow, directory, clock, catalog),
    )


def names(users: list[str]) -> list[str]:
    return sorted(u.partition("@")[0] for u in users)


def test_inactive_means_no_sign_in_for_the_period_or_never_and_older_than_it() -> None:
    now = FixedClock().now()
    user = make_user("x")
    assert is_inactive(replace(user, last_sign_in=now - timedelta(days=91)), now, 90)
    assert not is_inactive(replace(user, last_sign_in=now - timedelta(days=89)), now, 90)
    assert is_inactive(replace(user, created=now - timedelta(days=91)), now, 90)
    assert not is_inactive(replace(user, created=now - timedelta(days=5)), now, 90)
    assert not is_inactive(user, now, 90)  # nothing known: not inactive
    assert reclaim_change(user) is None


def test_reclaim_previews_every_license_of_disabled_accounts(tenant: Tenant) -> None:
    plan = tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN))

    change_set = plan.change_set
    assert change_set.kind is ChangeKind.RECLAIM
    assert change_set.state is ChangeState.PREVIEWED
    assert change_set.product_label == RECLAIM_DISABLED
    assert names([i.change.user_principal_name for i in change_set.items]) == ["victor", "xena"]
    assert all(i.change.after == () for i in change_set.items)
    assert (plan.disabled, plan.inactive) == (2, 0)
    assert set(change_set.products) == {SKU_E3, SKU_F3}  # seats freed per product
    assert tenant.directory.writes == []
    assert tenant.uow.change_set(change_set.id) is not None
    requested = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REQUESTED]
    assert requested[-1].action == "reclaim licenses of disabled accounts"


def test_reclaim_inactive_adds_members_without_a_sign_in_for_the_period(tenant: Tenant) -> None:
    plan = tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN, inactive_days=90))

    users = [i.change.user_principal_name for i in plan.change_set.items]
    assert names(users) == ["judy", "victor", "xena", "yara"]
    assert (plan.disabled, plan.inactive, plan.sign_ins_unavailable) == (2, 2, None)
    assert plan.change_set.product_label == RECLAIM_INACTIVE


def test_without_sign_ins_it_says_so_and_still_previews_the_disabled(tenant: Tenant) -> None:
    tenant.directory.sign_ins_readable = False

    plan = tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN, inactive_days=90))

    assert names([i.change.user_principal_name for i in plan.change_set.items]) == ["victor", "xena"]
    assert plan.sign_ins_unavailable is not None
    assert "AuditLog.Read.All" in plan.sign_ins_unavailable.message
    assert plan.change_set.product_label == RECLAIM_DISABLED


def test_confirm_writes_once_and_undo_gives_everything_back(tenant: Tenant) -> None:
    before = {u: tenant.directory.licenses_of(u) for u in ("victor@contoso.com", "xena@contoso.com")}
    plan = tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN))

    done = tenant.licensing.confirm(ConfirmChange(plan.change_set.id, ADMIN))

    assert done.state is ChangeState.DONE
    assert [i.status for i in done.items] == [ItemStatus.APPLIED] * 2
    assert all(tenant.directory.licenses_of(u) == () for u in before)
    assert sum(tenant.directory.writes_for(u) for u in before) == 2
    with pytest.raises(ChangeNotPending):  # a second click does nothing
        tenant.licensing.confirm(ConfirmChange(plan.change_set.id, ADMIN))

    undo = tenant.history.request_undo(UndoChange(done.id, ADMIN))
    tenant.licensing.confirm(ConfirmChange(undo.id, ADMIN))

    assert {u: tenant.directory.licenses_of(u) for u in before} == before


def test_a_failed_reclaim_is_retried_from_what_the_accounts_hold_now(tenant: Tenant) -> None:
    plan = tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN))
    tenant.directory.set_licenses("xena@contoso.com", license_of(SKU_E3))  # changed meanwhile

    done = tenant.licensing.confirm(ConfirmChange(plan.change_set.id, ADMIN))
    assert [i.status for i in done.items if i.change.user_principal_name.startswith("xena")] == [
        ItemStatus.CONFLICT
    ]

    retry = tenant.history.retry_failed(RetryFailed(done.id, ADMIN))
    assert retry.kind is ChangeKind.RECLAIM
    assert [i.change.before for i in retry.items] == [(license_of(SKU_E3),)]
    tenant.licensing.confirm(ConfirmChange(retry.id, ADMIN))
    assert tenant.directory.licenses_of("xena@contoso.com") == ()


def test_nothing_to_reclaim_says_so(tenant: Tenant) -> None:
    for who in ("victor@contoso.com", "xena@contoso.com"):
        tenant.directory.set_licenses(who)

    with pytest.raises(NothingToChange, match="No disabled account holds a license"):
        tenant.waste.plan_reclaim(ReclaimLicenses(ADMIN))


def test_an_admin_without_a_license_role_is_refused_and_audited(tenant: Tenant) -> None:
    with pytest.raises(NotAuthorized):
        tenant.waste.plan_reclaim(ReclaimLicenses(READER))

    refused = [e for e in tenant.uow.audit_entries if e.result is AuditResult.REFUSED]
    assert refused[-1].action == "reclaim licenses"
