"""Change sets are applied under a lease (issue #6): a change another live process applies is left
to it, one whose process died is finished once the lease runs out (or at once by a process alone),
and a process that stops gives its change back after the current batch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.application.applier import LEASE_TTL, change_set_lease
from domain.application.licensing import Licensing
from domain.changes import ChangeKind, ChangeSet, ChangeState, ItemStatus
from domain.commands import ChangeLicenses, ConfirmChange
from tests.fakes import SKU_M365_E5, SimulatedCrash, license_of
from tests.unit.domain.application.test_licensing import LICENSE, Tenant, add_e3_holders, tenant

__all__ = ["tenant"]


def _plan(tenant: Tenant, users: list[str]) -> ChangeSet:
    return tenant.licensing.request_change(
        ChangeLicenses(kind=ChangeKind.REPLACE, requester=LICENSE, users=tuple(users), product="SPE_E5")
    )


def _replica(tenant: Tenant, name: str) -> Licensing:
    return Licensing(tenant.uow, tenant.directory, tenant.clock, tenant.licensing.catalog, owner=name)


def _hold(tenant: Tenant, change_set_id: str, owner: str) -> None:
    with tenant.uow() as uow:
        assert uow.leases.claim(change_set_lease(change_set_id), owner, tenant.clock.now(), LEASE_TTL)
        uow.commit()


def test_a_change_another_live_process_applies_is_left_to_it(tenant: Tenant) -> None:
    staff = add_e3_holders(tenant, 5)
    preview = _plan(tenant, staff)
    _hold(tenant, preview.id, "replica-a:1")

    done = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert done.state is ChangeState.APPLYING
    assert tenant.directory.writes == [], "nothing written while replica A holds it"
    assert tenant.licensing.resume_unfinished() == []
    tenant.clock.advance(LEASE_TTL)
    assert tenant.licensing.resume_unfinished() == [preview.id], "A died: its lease ran out"
    assert all(tenant.directory.writes_for(email) == 1 for email in staff)


def test_a_tick_leaves_a_change_another_process_applies_without_locking_it(tenant: Tenant) -> None:
    """A scheduler tick during a long change: the change is not read, nor its row locked (on SQLite
    the whole database's write lock), only its lease looked at."""
    preview = _plan(tenant, add_e3_holders(tenant, 5))
    _hold(tenant, preview.id, "replica-a:1")
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    tenant.uow.locks.clear()

    assert _replica(tenant, "replica-b").resume_unfinished() == []

    assert tenant.uow.locks == [], "the change set's row was not locked"
    assert tenant.stored(preview).state is ChangeState.APPLYING


def test_a_process_alone_takes_a_dead_processs_change_over_at_once(tenant: Tenant) -> None:
    staff = add_e3_holders(tenant, 3)
    preview = _plan(tenant, staff)
    _hold(tenant, preview.id, "dead-process:1")
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))

    assert tenant.licensing.resume_unfinished(force=True) == [preview.id]
    assert tenant.stored(preview).state is ChangeState.DONE


def test_a_stopping_process_gives_the_change_back_after_its_batch_and_another_finishes_it(
    tenant: Tenant,
) -> None:
    staff = add_e3_holders(tenant, 45)  # three batches of at most 20
    preview = _plan(tenant, staff)
    seen: list[int] = []

    def progress(change_set: ChangeSet) -> None:
        seen.append(sum(1 for item in change_set.items if item.status.final))
        tenant.licensing.stop()  # SIGTERM arrives during the first batch

    stopped = tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE), progress)

    assert stopped.state is ChangeState.APPLYING
    assert seen == [20], "the batch in flight finished; no new one started"
    with tenant.uow() as uow:
        assert uow.leases.holder(change_set_lease(preview.id)) is None, "given back at once"
    assert tenant.licensing.resume_unfinished() == [], "a stopped process takes nothing new"

    other = _replica(tenant, "replica-b")
    assert other.resume_unfinished() == [preview.id], "no need to wait for a lease to run out"
    assert tenant.stored(preview).state is ChangeState.DONE
    for email in staff:
        assert tenant.directory.writes_for(email) == 1
        assert tenant.directory.licenses_of(email) == (license_of(SKU_M365_E5),)


def test_a_failing_apply_gives_its_lease_back_so_the_next_tick_retries_at_once(tenant: Tenant) -> None:
    staff = add_e3_holders(tenant, 3)
    preview = _plan(tenant, staff)
    tenant.directory.crash_once_after(1)
    with pytest.raises(SimulatedCrash):
        tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    with tenant.uow() as uow:
        assert uow.leases.holder(change_set_lease(preview.id)) is None

    assert _replica(tenant, "replica-b").resume_unfinished() == [preview.id]
    counts = tenant.stored(preview).counts()
    # The user written before the crash had its intent recorded: written by this change, not "already so".
    assert (counts[ItemStatus.APPLIED], counts[ItemStatus.ALREADY_APPLIED]) == (3, 0)
    assert all(tenant.directory.writes_for(email) == 1 for email in staff)


def test_a_finished_change_holds_no_lease(tenant: Tenant) -> None:
    preview = _plan(tenant, add_e3_holders(tenant, 2))
    tenant.licensing.confirm(ConfirmChange(preview.id, LICENSE))
    with tenant.uow() as uow:
        assert uow.leases.holder(change_set_lease(preview.id)) is None
    tenant.clock.advance(timedelta(seconds=1))
    assert tenant.stored(preview).state is ChangeState.DONE
