"""Leases on shared work (DESIGN.md §7, issue #6), on SQLite and PostgreSQL: named leases, workflows
claimed with `SELECT … FOR UPDATE SKIP LOCKED`, and SQLite's one scheduler.

On PostgreSQL a row another transaction is claiming must be skipped, not waited for: those tests
set a `lock_timeout`, so a wait would fail the test instead of hanging it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.scheduler import SQLITE_SCHEDULER_LEASE, OneSchedulerLock, SchedulerRefused
from domain.application.applier import change_set_lease
from domain.workflows import StepName, StepStatus, WaitFor, Workflow, WorkflowKind, fresh_steps
from domain.workflows.workflow import ProductRef
from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.fakes import FixedClock
from tests.integration.storage.test_repositories import make_change_set

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
E5 = ProductRef("c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM", "Office 365 E5")


def _workflow(workflow_id: str, minutes: int) -> Workflow:
    created = NOW + timedelta(minutes=minutes)
    return Workflow(
        id=workflow_id,
        kind=WorkflowKind.PURCHASE,
        requested_by="bill@contoso.com",
        created_at=created,
        product=E5,
        steps=fresh_steps(WorkflowKind.PURCHASE),
        updated_at=created,
    )


def _add(uow_factory: SqlUnitOfWorkFactory, *workflows: Workflow) -> None:
    with uow_factory() as uow:
        for workflow in workflows:
            uow.workflows.add(workflow)
        uow.commit()


def _no_waiting(uow: SqlUnitOfWork) -> None:
    """On PostgreSQL, fail within two seconds instead of waiting for another transaction's lock."""
    session = uow._active
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '2s'"))


# --- named leases -----------------------------------------------------------------------------


def test_a_lease_is_held_until_it_expires_renewed_by_its_owner_and_released_only_by_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        assert uow.leases.claim("poll", "a:1", NOW, TTL)
        uow.commit()
    with uow_factory() as uow:
        assert not uow.leases.claim("poll", "b:1", NOW + timedelta(minutes=4), TTL), "a holds it"
        assert uow.leases.claim("poll", "a:1", NOW + timedelta(minutes=4), TTL), "a renews it"
        uow.commit()
    with uow_factory() as uow:
        holder = uow.leases.holder("poll")
        assert holder is not None
        assert (holder.owner, holder.expires_at) == ("a:1", NOW + timedelta(minutes=9))
        assert not uow.leases.claim("poll", "b:1", NOW + timedelta(minutes=8), TTL)
        uow.leases.release("poll", "b:1")  # not b's: nothing happens
        uow.commit()
    with uow_factory() as uow:
        assert uow.leases.claim("poll", "b:1", NOW + timedelta(minutes=9), TTL), "expired: b takes it"
        uow.commit()
    with uow_factory() as uow:
        uow.leases.release("poll", "b:1")
        uow.commit()
    with uow_factory() as uow:
        assert uow.leases.holder("poll") is None


def test_a_claim_not_committed_is_not_kept(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.leases.claim("change-set:1", "a:1", NOW, TTL)
    with uow_factory() as uow:
        assert uow.leases.holder("change-set:1") is None


def test_a_process_stopping_releases_every_lease_of_its_threads_and_no_one_elses(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        uow.leases.claim("poll", "host:7:abc:1", NOW, TTL)
        uow.leases.claim("change-set:1", "host:7:abc:2", NOW, TTL)
        uow.leases.claim("change-set:2", "host:7:abcd:1", NOW, TTL)  # another process, same prefix start
        uow.commit()
    with uow_factory() as uow:
        assert uow.leases.release_owned("host:7:abc:") == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.leases.holder("poll") is None
        assert uow.leases.holder("change-set:1") is None
        assert uow.leases.holder("change-set:2") is not None


# --- workflows claimed for running ------------------------------------------------------------


def test_replicas_claiming_workflows_split_them_and_a_lease_expires(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    _add(uow_factory, _workflow("wf-1", 0), _workflow("wf-2", 1), _workflow("wf-3", 2))
    with uow_factory() as uow:
        assert uow.workflows.claim_ready("a:1", NOW, TTL, limit=2) == ["wf-1", "wf-2"]
        uow.commit()
    with uow_factory() as uow:
        assert uow.workflows.claim_ready("b:1", NOW, TTL) == ["wf-3"], "a's are leased"
        uow.commit()
    with uow_factory() as uow:
        assert uow.workflows.claim_ready("c:1", NOW + TTL, TTL) == ["wf-1", "wf-2", "wf-3"], "all expired"
        uow.commit()
    with uow_factory() as uow:
        assert uow.workflows.claim_ready("a:1", NOW + TTL, TTL) == [], "c holds them now"
        assert uow.workflows.claim_ready("a:1", NOW + TTL, TTL, force=True) == ["wf-1", "wf-2", "wf-3"]
        uow.commit()
    with uow_factory() as uow:
        assert uow.workflows.release_owned("a:") == 3
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.workflows.get("wf-1")
    assert loaded is not None
    assert (loaded.lease_owner, loaded.lease_expires_at) == ("", None)


def test_a_workflow_waiting_or_finished_is_not_claimed_and_a_running_step_keeps_its_lease(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    waiting, running = _workflow("wf-wait", 0), _workflow("wf-run", 1)
    waiting.start(StepName.BUY, NOW)
    waiting.complete(StepName.BUY, NOW, "ordered")
    waiting.wait(StepName.AWAIT_ACTIVE, WaitFor.ACTIVATION, NOW, "Pending")  # the poll's, not a claim's
    running.start(StepName.BUY, NOW)
    running.claim("dead:1", NOW, TTL)
    _add(uow_factory, waiting, running)
    with uow_factory() as uow:
        assert uow.workflows.claim_ready("a:1", NOW, TTL) == []
        assert uow.workflows.claim_ready("a:1", NOW + TTL, TTL) == ["wf-run"], "its lease ran out"
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.workflows.get("wf-run")
    assert loaded is not None
    assert loaded.step(StepName.BUY).status is StepStatus.RUNNING
    assert loaded.lease_owner == "dead:1", "taken over when the step is resumed, under its row lock"


@POSTGRESQL_ONLY
def test_on_postgresql_a_workflow_another_replica_is_claiming_is_skipped_not_waited_for(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    _add(uow_factory, _workflow("wf-1", 0), _workflow("wf-2", 1))
    with uow_factory() as first, uow_factory() as second:
        assert first.workflows.claim_ready("a:1", NOW, TTL, limit=1) == ["wf-1"]  # not committed yet
        _no_waiting(second)
        assert second.workflows.claim_ready("b:1", NOW, TTL) == ["wf-2"], "wf-1 is locked: skipped"
        second.commit()
        first.commit()


@POSTGRESQL_ONLY
def test_on_postgresql_a_lease_another_replica_is_claiming_is_refused_not_waited_for(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        uow.leases.claim("poll", "a:1", NOW - TTL, TTL)  # expired: anyone may take it
        uow.commit()
    with uow_factory() as first, uow_factory() as second:
        assert first.leases.claim("poll", "a:2", NOW, TTL)  # row locked until `first` ends
        _no_waiting(second)
        assert not second.leases.claim("poll", "b:1", NOW, TTL)
        first.commit()
    with uow_factory() as uow:
        holder = uow.leases.holder("poll")
    assert holder is not None
    assert holder.owner == "a:2"


# --- SQLite's one scheduler -------------------------------------------------------------------


def _owner(pid: int) -> str:
    return f"{socket.gethostname()[:24]}:{pid}:n0nce1"


@SQLITE_ONLY
def test_a_second_scheduler_on_one_sqlite_database_is_refused_with_what_to_do(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    clock = FixedClock(NOW)
    first = OneSchedulerLock(uow_factory, clock, _owner(os.getpid()), TTL)
    second = OneSchedulerLock(uow_factory, clock, _owner(os.getpid()).replace("n0nce1", "other2"), TTL)
    first.acquire()
    with pytest.raises(SchedulerRefused) as refused:
        second.acquire()
    message = str(refused.value)
    assert f"process {os.getpid()} on {socket.gethostname()[:24]}" in message
    assert "SQLite serves one process" in message
    assert "PostgreSQL" in message
    with pytest.raises(SchedulerRefused):
        second.check()

    first.release()
    second.acquire()
    with uow_factory() as uow:
        holder = uow.leases.holder(SQLITE_SCHEDULER_LEASE)
    assert holder is not None
    assert holder.owner.endswith("other2")


def _dead_pid() -> int:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True
    )
    return int(gone.stdout)


@SQLITE_ONLY
@pytest.mark.parametrize(
    "left_by",
    [
        pytest.param(lambda: _owner(_dead_pid()), id="a-killed-process"),
        # `docker restart` keeps the host name and reuses the pid: the lease names "us", but no
        # scheduler of this process holds it.
        pytest.param(lambda: _owner(os.getpid()).replace("n0nce1", "before"), id="this-pids-previous-life"),
    ],
)
def test_a_scheduler_lease_left_by_a_dead_process_does_not_block_the_restart(
    uow_factory: SqlUnitOfWorkFactory, left_by: Callable[[], str]
) -> None:
    with uow_factory() as uow:
        uow.leases.claim(SQLITE_SCHEDULER_LEASE, left_by(), NOW, TTL)
        uow.commit()
    restarted = OneSchedulerLock(uow_factory, FixedClock(NOW), _owner(os.getpid()), TTL)
    restarted.check()
    restarted.acquire()
    with uow_factory() as uow:
        holder = uow.leases.holder(SQLITE_SCHEDULER_LEASE)
    assert holder is not None
    assert holder.owner == _owner(os.getpid())
    restarted.release()


@SQLITE_ONLY
def test_a_restart_alone_on_sqlite_takes_over_what_the_killed_process_held_and_keeps_its_own(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Before serving, the restarted process frees the claims and change-set leases its killed
    predecessor held (its first tick resumes them in the background); a lease that is not a change
    still applying stays, and so does the scheduler's own."""
    killed = _owner(_dead_pid())
    clock = FixedClock(NOW)
    applying, previewed = make_change_set(clock, "cs-applying"), make_change_set(clock, "cs-previewed")
    applying.confirm("lena@contoso.com", NOW)
    _add(uow_factory, _workflow("wf-1", 0))
    with uow_factory() as uow:
        uow.change_sets.add(applying)
        uow.change_sets.add(previewed)
        assert uow.workflows.claim_ready(killed, NOW, TTL) == ["wf-1"]
        uow.leases.claim(change_set_lease("cs-applying"), f"{killed}:1", NOW, TTL)
        uow.leases.claim("poll", f"{killed}:poll", NOW, TTL)
        uow.commit()
    restarted = OneSchedulerLock(uow_factory, clock, _owner(os.getpid()), TTL)
    restarted.acquire()

    assert restarted.take_over() == 2

    with uow_factory() as uow:
        workflow = uow.workflows.get("wf-1")
        assert workflow is not None
        assert not workflow.lease_owner
        assert uow.leases.holder(change_set_lease("cs-applying")) is None
        assert uow.leases.holder("poll") is not None, "the poll lease runs out by itself"
        scheduler = uow.leases.holder(SQLITE_SCHEDULER_LEASE)
        assert scheduler is not None
        assert scheduler.owner == _owner(os.getpid())
        assert uow.workflows.claim_ready(_owner(os.getpid()), NOW, TTL) == ["wf-1"]
    restarted.release()
