"""The apply protocol (`domain.application.applier`): intent, write with no transaction open,
outcome; and what a resume concludes from the recorded intent (issue: Undo left out users written
before a kill)."""

from __future__ import annotations

import pytest

from domain.changes import ChangeKind, ChangeState, ItemStatus
from domain.commands import ConfirmChange, UndoChange
from domain.transactions import RemoteCallInTransaction, forbid_remote_call, open_transactions
from tests.fakes import SimulatedCrash, license_of
from tests.unit.domain.application.test_licensing import (
    LICENSE,
    SKU_E3,
    SKU_M365_E5,
    Tenant,
    add_e3_holders,
    ask,
    tenant,  # noqa: F401 - the fixture
)


@pytest.mark.parametrize("crash_after_writes", [1, 7, 20, 23])
def test_users_written_before_a_kill_count_as_applied_and_undo_covers_every_one(
    tenant: Tenant,  # noqa: F811 - the fixture
    crash_after_writes: int,
) -> None:
    staff = add_e3_holders(tenant, 25)
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", *staff))
    tenant.directory.crash_once_after(crash_after_writes)
    with pytest.raises(SimulatedCrash):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.licensing.resume_unfinished() == [preview.id]

    done = tenant.stored(preview)
    assert done.counts()[ItemStatus.APPLIED] == 25, "written by this change, not 'already so'"
    assert done.counts()[ItemStatus.ALREADY_APPLIED] == 0
    undo = tenant.history.request_undo(UndoChange(preview.id, LICENSE))
    assert len(undo.items) == 25, "Undo covers everyone the change wrote"
    tenant.licensing.confirm(ConfirmChange(undo.id, LICENSE))
    for email in staff:
        assert tenant.directory.licenses_of(email) == (license_of(SKU_E3),)
        assert tenant.directory.writes_for(email) == 2, "once by the change, once by its undo"


def test_a_user_already_on_the_target_before_the_first_write_is_already_so_and_not_undone(
    tenant: Tenant,  # noqa: F811 - the fixture
) -> None:
    staff = add_e3_holders(tenant, 3)
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", *staff))
    tenant.directory.set_licenses(staff[0], license_of(SKU_M365_E5))  # done by hand before Confirm

    done = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert (done.counts()[ItemStatus.APPLIED], done.counts()[ItemStatus.ALREADY_APPLIED]) == (2, 1)
    undo = tenant.history.request_undo(UndoChange(preview.id, LICENSE))
    assert sorted(i.change.user_principal_name for i in undo.items) == sorted(staff[1:])


def test_nothing_remote_happens_while_a_unit_of_work_is_open(
    tenant: Tenant,  # noqa: F811 - the fixture
) -> None:
    """The rule of DESIGN.md §5, as the fakes enforce it for every service test: a whole change,
    planned, confirmed, crashed and resumed, never touches the directory inside a transaction."""
    staff = add_e3_holders(tenant, 22)
    preview = tenant.licensing.request_change(ask(ChangeKind.REPLACE, "SPE_E5", *staff))
    tenant.directory.crash_once_after(5)
    with pytest.raises(SimulatedCrash):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    tenant.licensing.resume_unfinished()
    tenant.history.request_undo(UndoChange(preview.id, LICENSE))

    assert tenant.stored(preview).state is ChangeState.DONE
    assert open_transactions() == 0
    with tenant.uow(), pytest.raises(RemoteCallInTransaction):
        tenant.directory.products()


def test_the_guard_names_the_call_and_the_rule() -> None:
    from domain import transactions

    transactions.opened()
    try:
        with pytest.raises(RemoteCallInTransaction, match=r"Microsoft Graph \(GET /users\).*DESIGN.md §5"):
            forbid_remote_call("Microsoft Graph (GET /users)")
    finally:
        transactions.closed()
    forbid_remote_call("Microsoft Graph (GET /users)")  # closed: allowed
