"""The license services over the real unit of work and the simulated tenant (SQLite and PostgreSQL).

The tenant keeps its own sessions, as a remote system would: its writes never share a transaction
with the bot's state, and it refuses to be called while a unit of work is open (DESIGN.md §5)."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.application.history import ChangeHistory
from domain.application.licensing import Licensing
from domain.audit import AuditEntry, AuditResult
from domain.catalog import ProductCatalog
from domain.changes import ChangeKind, ChangeSet, ChangeState, ItemStatus, UserChange
from domain.commands import CancelChange, ChangeLicenses, ConfirmChange, UndoChange
from domain.errors import ChangeNotPending
from domain.model import LicenseAssignment
from domain.transactions import RemoteCallInTransaction
from storage.orm import SimLicenseEventRow
from storage.simulated import SimulatedDirectory, SimulatedTenant, demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id


def alice_to_e5() -> UserChange:
    return UserChange(
        demo_user_id("alice@contoso.com"),
        "alice@contoso.com",
        "Alice Wu",
        (LicenseAssignment(E3),),
        (LicenseAssignment(E5),),
    )


def licenses_of(
    sessions: sessionmaker[Session], clock: FixedClock, key: str
) -> tuple[LicenseAssignment, ...]:
    with sessions() as session:
        user = SimulatedDirectory(session, clock).user(key)
        assert user is not None
        return user.licenses


def license_events(sessions: sessionmaker[Session]) -> list[SimLicenseEventRow]:
    with sessions() as session:
        return list(session.scalars(select(SimLicenseEventRow).order_by(SimLicenseEventRow.seq)))


def test_the_simulated_tenant_commits_its_writes_on_its_own_like_graph(
    uow_factory: SqlUnitOfWorkFactory,
    tenant: SimulatedTenant,
    seeded: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    """The tenant is a remote system, even simulated: a write commits by itself, and a unit of work
    rolled back afterwards (a crash before the outcome is recorded) does not undo it — the applier's
    recorded intent is what tells a resume about it (DESIGN.md §5)."""
    [outcome] = tenant.apply([alice_to_e5()])
    with uow_factory() as uow:
        uow.audit.record(
            AuditEntry(at=clock.now(), actor="lena@contoso.com", action="replace", result=AuditResult.APPLIED)
        )  # never committed

    assert outcome.succeeded
    assert licenses_of(seeded, clock, "alice@contoso.com") == (LicenseAssignment(E5),)
    assert len(license_events(seeded)) == 1
    with uow_factory() as uow:
        assert uow.audit.recent() == []


def test_the_simulated_tenant_refuses_to_be_called_inside_a_unit_of_work(
    uow_factory: SqlUnitOfWorkFactory,
    tenant: SimulatedTenant,
    seeded: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    with uow_factory() as uow:
        uow.audit.recent()
        with pytest.raises(RemoteCallInTransaction):
            tenant.apply([alice_to_e5()])
    with uow_factory(), pytest.raises(RemoteCallInTransaction):
        tenant.user("alice@contoso.com")

    assert licenses_of(seeded, clock, "alice@contoso.com") == (LicenseAssignment(E3),)
    assert tenant.user("alice@contoso.com") is not None, "fine once the unit of work is closed"


def test_replace_alice_with_e5_through_the_services(
    uow_factory: SqlUnitOfWorkFactory,
    tenant: SimulatedTenant,
    seeded: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    """`/license replace @alice E5` as Lena: preview, confirm, applied and audited."""
    licensing = Licensing(uow_factory, tenant, clock, ProductCatalog())
    preview = licensing.request_change(
        ChangeLicenses(ChangeKind.REPLACE, "lena@contoso.com", ("alice@contoso.com",), "E5")
    )
    assert preview.state is ChangeState.PREVIEWED

    done = licensing.confirm(ConfirmChange(preview.id, "lena@contoso.com"))

    assert done.state is ChangeState.DONE
    assert [item.status for item in done.items] == [ItemStatus.APPLIED]
    assert licenses_of(seeded, clock, "alice@contoso.com") == (LicenseAssignment(E5),)
    with uow_factory() as uow:
        results = [(e.result, e.target) for e in uow.audit.recent()]
    assert (AuditResult.APPLIED, "alice@contoso.com") in results
    assert (AuditResult.REQUESTED, "alice@contoso.com") in results


def test_a_bulk_move_never_leaves_anyone_without_a_license_and_writes_each_user_once(
    uow_factory: SqlUnitOfWorkFactory,
    tenant: SimulatedTenant,
    seeded: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    """Every E3 holder to E5 in batches of 3, with enough seats bought first (R2, R7, R17). The
    three who get E3 only from the group All Staff E3 are left out (R21): 11 are moved."""
    with seeded.begin() as session:
        SimulatedDirectory(session, clock).add_subscription(O365_E5, 10)
    licensing = Licensing(uow_factory, tenant, clock, ProductCatalog(), batch_size=3)
    preview = licensing.request_change(
        ChangeLicenses(ChangeKind.REPLACE, "lena@contoso.com", ("has:E3",), "E5")
    )

    done = licensing.confirm(ConfirmChange(preview.id, "lena@contoso.com"))

    assert done.counts()[ItemStatus.APPLIED] == 11
    assert sorted(name for name, _ in preview.refused) == ["Ivan Petrov", "Yara Haddad", "Zoe Clark"]
    writes: defaultdict[str, int] = defaultdict(int)
    for event in license_events(seeded):
        assert event.before, "nobody is ever without a license"
        assert event.after, "nobody is ever without a license"
        writes[event.user_id] += 1
    assert set(writes.values()) == {1}
    assert len(writes) == 11


def test_two_replicas_asked_to_undo_at_once_preview_one_undo_and_a_cancelled_one_can_be_asked_again(
    uow_factory: SqlUnitOfWorkFactory,
    tenant: SimulatedTenant,
    seeded: sessionmaker[Session],
    clock: FixedClock,
) -> None:
    """A double click on Undo reaching two replicas: the original change set's row lock makes them
    take turns, and the second finds the first one's undo; cancelling that undo frees the button."""
    lena, bob = "lena@contoso.com", "bob@contoso.com"
    replicas = [Licensing(uow_factory, tenant, clock, ProductCatalog()) for _ in range(2)]
    done = replicas[0].request_change(ChangeLicenses(ChangeKind.ASSIGN, lena, (bob,), "E5"))
    start = threading.Barrier(2)
    outcomes: list[ChangeSet | Exception] = []

    histories = [ChangeHistory(uow_factory, tenant, clock, ProductCatalog()) for _ in range(2)]

    def undo(history: ChangeHistory) -> None:
        start.wait()
        try:
            outcomes.append(history.request_undo(UndoChange(done.id, lena)))
        except Exception as error:
            outcomes.append(error)

    threads = [threading.Thread(target=undo, args=(history,)) for history in histories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    previews = [o for o in outcomes if isinstance(o, ChangeSet)]
    refused = [o for o in outcomes if isinstance(o, ChangeNotPending)]
    assert (len(previews), len(refused)) == (1, 1), outcomes
    assert "being undone" in refused[0].message
    replicas[1].cancel(CancelChange(previews[0].id, lena))

    again = histories[1].request_undo(UndoChange(done.id, lena))

    assert again.id != previews[0].id
    assert replicas[0].confirm(ConfirmChange(again.id, lena)).state is ChangeState.DONE
    assert licenses_of(seeded, clock, bob) == (LicenseAssignment(E3),)
    with pytest.raises(ChangeNotPending, match="already undone"):
        histories[0].request_undo(UndoChange(done.id, lena))
