"""The unit of work and its repositories on SQLite and PostgreSQL: change sets, audit (R20), keys."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from domain.audit import AuditEntry, AuditResult
from domain.changes import (
    ChangeItem,
    ChangeKind,
    ChangeOutcome,
    ChangeSet,
    ChangeState,
    ItemStatus,
    OutcomeKind,
    UserChange,
)
from domain.model import LicenseAssignment, licenses_to_json
from storage.simulated import demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
SWAY = next(p.id for p in DEMO_PRODUCTS[O365_E5].service_plans if p.name == "SWAY")


def replace_change(alias: str, name: str) -> UserChange:
    upn = f"{alias}@contoso.com"
    return UserChange(
        demo_user_id(upn), upn, name, (LicenseAssignment(E3),), (LicenseAssignment(E5, frozenset({SWAY})),)
    )


def make_change_set(clock: FixedClock, change_set_id: str = "cs-1") -> ChangeSet:
    return ChangeSet(
        id=change_set_id,
        kind=ChangeKind.REPLACE,
        requested_by="lena@contoso.com",
        product_sku=E5,
        product_label="Office 365 E5",
        items=[
            ChangeItem(replace_change("alice", "Alice Wu")),
            ChangeItem(replace_change("bob", "Bob Smith")),
        ],
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=15),
        refused=[("Nora Lee", "Nora Lee has no usage location ...")],
        channel="C123",
        message_ts="1700000000.000100",
        seats_before=3,
        seats_total=10,
    )


def test_a_change_set_round_trips_with_its_items_in_order(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    original = make_change_set(clock)
    with uow_factory() as uow:
        uow.change_sets.add(original)
        uow.commit()

    with uow_factory() as uow:
        loaded = uow.change_sets.get("cs-1")

    assert loaded == original
    assert loaded is not None
    assert [i.change.user_principal_name for i in loaded.items] == ["alice@contoso.com", "bob@contoso.com"]
    assert loaded.created_at.tzinfo is not None
    assert loaded.items[0].change.after == (LicenseAssignment(E5, frozenset({SWAY})),)


def test_save_keeps_the_state_and_the_outcomes(uow_factory: SqlUnitOfWorkFactory, clock: FixedClock) -> None:
    with uow_factory() as uow:
        uow.change_sets.add(make_change_set(clock))
        uow.commit()

    with uow_factory() as uow:
        change_set = uow.change_sets.get("cs-1", for_update=True)
        assert change_set is not None
        change_set.confirm("lena@contoso.com", clock.now())
        change_set.mark_sending(change_set.next_batch(1))
        change_set.record(
            ChangeOutcome(demo_user_id("bob@contoso.com"), OutcomeKind.FAILED, "no seats", "R2")
        )
        uow.change_sets.save(change_set)
        uow.commit()

    with uow_factory() as uow:
        loaded = uow.change_sets.get("cs-1")
    assert loaded == change_set
    assert loaded is not None
    assert loaded.state is ChangeState.APPLYING
    assert loaded.confirmed_by == "lena@contoso.com"
    assert [(i.status, i.rule) for i in loaded.items] == [(ItemStatus.SENDING, ""), (ItemStatus.FAILED, "R2")]


def test_recent_and_ids_in_state(uow_factory: SqlUnitOfWorkFactory, clock: FixedClock) -> None:
    with uow_factory() as uow:
        for n in range(3):
            change_set = make_change_set(clock, f"cs-{n}")
            if n == 1:
                change_set.requested_by = "Grace@Contoso.com"
                change_set.cancel()
            uow.change_sets.add(change_set)
            clock.advance(timedelta(minutes=1))
        uow.commit()

    with uow_factory() as uow:
        assert [cs.id for cs in uow.change_sets.recent()] == ["cs-2", "cs-1", "cs-0"]
        assert [cs.id for cs in uow.change_sets.recent(limit=1)] == ["cs-2"]
        assert [cs.id for cs in uow.change_sets.recent(requested_by="grace@contoso.com")] == ["cs-1"]
        assert uow.change_sets.ids_in_state(ChangeState.PREVIEWED) == ["cs-0", "cs-2"]
        assert uow.change_sets.ids_in_state(ChangeState.CANCELLED) == ["cs-1"]
        assert uow.change_sets.get("unknown") is None


def test_change_sets_are_found_by_the_start_of_their_id(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    ids = ["e54d51b4" + "0" * 24, "e54d51b4" + "1" * 24, "e54d51c0" + "0" * 24, "e5_d%1b4" + "0" * 24]
    with uow_factory() as uow:
        for change_set_id in ids:
            uow.change_sets.add(make_change_set(clock, change_set_id))
        uow.commit()

    with uow_factory() as uow:
        assert uow.change_sets.ids_starting_with("e54d51b4") == ids[:2]
        assert uow.change_sets.ids_starting_with("e54d51b4", limit=1) == ids[:1]
        assert uow.change_sets.ids_starting_with("e54d51c") == [ids[2]]
        assert uow.change_sets.ids_starting_with("e5_d%") == [ids[3]], "LIKE wildcards are escaped"
        assert uow.change_sets.ids_starting_with("ffffff") == []


def test_leaving_the_unit_of_work_without_commit_rolls_back(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    with uow_factory() as uow:
        uow.change_sets.add(make_change_set(clock))
        assert uow.change_sets.get("cs-1") is not None

    with uow_factory() as uow:
        assert uow.change_sets.get("cs-1") is None


def test_rollback_discards_what_came_after_the_last_commit(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    with uow_factory() as uow:
        uow.change_sets.add(make_change_set(clock, "kept"))
        uow.commit()
        uow.change_sets.add(make_change_set(clock, "dropped"))
        uow.rollback()
        uow.audit.record(AuditEntry(clock.now(), "dave@contoso.com", "assign E5", AuditResult.REFUSED))
        uow.commit()

    with uow_factory() as uow:
        assert [cs.id for cs in uow.change_sets.recent()] == ["kept"]
        assert [e.actor for e in uow.audit.recent()] == ["dave@contoso.com"]


def test_get_for_update_locks_the_row_until_the_unit_of_work_ends(
    uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: FixedClock
) -> None:
    with uow_factory() as uow:
        uow.change_sets.add(make_change_set(clock))
        uow.commit()

    with uow_factory() as uow:
        assert uow.change_sets.get("cs-1", for_update=True) is not None
        refusal = _lock_elsewhere(engine, "cs-1")
        assert "could not obtain lock" in refusal or "database is locked" in refusal
        uow.commit()
        assert _lock_elsewhere(engine, "cs-1") == ""


def _lock_elsewhere(engine: Engine, change_set_id: str) -> str:
    """Take the same lock from another connection without waiting: "" when it got it, else why not."""
    if engine.dialect.name == "postgresql":
        try:
            with engine.begin() as connection:
                connection.execute(
                    sa.text("SELECT id FROM change_sets WHERE id = :id FOR UPDATE NOWAIT"),
                    {"id": change_set_id},
                )
        except sa.exc.OperationalError as exc:
            return str(exc)
        return ""
    # SQLite locks the whole database: every transaction begins IMMEDIATE, so no second one can
    # begin while the first holds its read.
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute("PRAGMA busy_timeout = 0")
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        driver.execute("ROLLBACK")
        return ""
    finally:
        raw.invalidate()  # not back into the pool with busy_timeout = 0


def test_an_idempotency_key_is_claimed_once(uow_factory: SqlUnitOfWorkFactory, clock: FixedClock) -> None:
    with uow_factory() as uow:
        assert uow.keys.claim("T1:confirm:cs-1", clock.now()) is True
        assert uow.keys.claim("T1:confirm:cs-1", clock.now()) is False
        # The duplicate did not break the transaction: it can still write and commit.
        uow.change_sets.add(make_change_set(clock))
        uow.commit()

    with uow_factory() as uow:
        assert uow.keys.claim("T1:confirm:cs-1", clock.now()) is False
        assert uow.keys.claim("T1:confirm:cs-2", clock.now()) is True
        assert uow.change_sets.get("cs-1") is not None


def test_an_unclaimed_key_is_free_again_after_a_rollback(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    with uow_factory() as uow:
        assert uow.keys.claim("retry", clock.now()) is True
    with uow_factory() as uow:
        assert uow.keys.claim("retry", clock.now()) is True


def test_audit_entries_round_trip_newest_first(uow_factory: SqlUnitOfWorkFactory, clock: FixedClock) -> None:
    change = replace_change("alice", "Alice Wu")
    entry = AuditEntry(
        at=clock.now(),
        actor="lena@contoso.com",
        approver="bill@contoso.com",
        action="replace Office 365 E5",
        result=AuditResult.APPLIED,
        target="alice@contoso.com",
        before=licenses_to_json(change.before),
        after=licenses_to_json(change.after),
        reason="applied",
        correlation_id="corr-1",
        change_set_id="cs-1",
        details={"users": 1, "refused": 0},
    )
    refusal = AuditEntry(
        clock.now(), "dave@contoso.com", "assign licenses", AuditResult.REFUSED, reason="R16"
    )
    with uow_factory() as uow:
        uow.audit.record(entry)
        uow.audit.record(refusal)
        uow.commit()

    with uow_factory() as uow:
        assert uow.audit.recent() == [refusal, entry]
        assert uow.audit.recent(limit=1) == [refusal]
        assert uow.audit.recent(actor="LENA@contoso.com") == [entry]
