"""The fakes keep the contracts of `domain/ports.py`, so tests that use them mean something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from domain.audit import AuditEntry, AuditResult
from domain.catalog import parse_product_table
from domain.changes import ChangeItem, ChangeKind, ChangeSet, ChangeState, OutcomeKind, UserChange
from domain.model import AdminRole, LicenseAssignment
from domain.ports import AuditLog, Clock, TenantDirectory, UnitOfWorkFactory
from domain.transactions import RemoteCallInTransaction
from tests.fakes import (
    SKU_E3,
    SKU_E5,
    SKU_F3,
    SKU_FILE_STORAGE,
    DirectoryWrite,
    FixedClock,
    InMemoryDirectory,
    InMemoryUnitOfWorkFactory,
    RecordingNotifier,
    SimulatedCrash,
    license_of,
    make_product,
    make_user,
)

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def directory(*, e5_seats: int = 5) -> InMemoryDirectory:
    return InMemoryDirectory(
        products=[
            make_product("ENTERPRISEPACK", seats=10),
            make_product("ENTERPRISEPREMIUM", seats=e5_seats),
            make_product("DESKLESSPACK", seats=5),
            make_product("SHAREPOINTSTORAGE", seats=5),
        ],
        users=[
            make_user("alice", SKU_E3),
            make_user("bob", SKU_E3),
            make_user("carol"),
            make_user("erin", usage_location=None),
        ],
        roles={"alice@contoso.com": [AdminRole.LICENSE]},
    )


def change(user: str, before: tuple[LicenseAssignment, ...], *after: LicenseAssignment) -> UserChange:
    return UserChange(f"id-{user}", f"{user}@contoso.com", user.title(), before, after)


def test_fakes_implement_the_ports() -> None:
    clock: Clock = FixedClock()
    tenant: TenantDirectory = directory()
    uow: UnitOfWorkFactory = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        log: AuditLog = unit.audit
    assert clock is not None
    assert tenant is not None
    assert log is not None


# -- FixedClock ------------------------------------------------------------------------------------


def test_fixed_clock_is_utc_and_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2025, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=1))))

    assert clock.now() == NOW
    assert clock.now().tzinfo is UTC
    assert clock.advance(timedelta(days=2)) == NOW + timedelta(days=2)
    clock.set(NOW)
    assert clock.now() == NOW


def test_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2025, 3, 3, 9, 0))


# -- products --------------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize(
    "part_number",
    ["STANDARDPACK", "ENTERPRISEPACK", "ENTERPRISEPREMIUM", "SPE_E5", "DESKLESSPACK", "SHAREPOINTSTORAGE"],
)
def test_a_test_product_is_microsofts_with_some_of_its_service_plans(
    reference_dir: Path, part_number: str
) -> None:
    with (reference_dir / "m365-product-service-plans.csv").open(encoding="utf-8") as lines:
        known = parse_product_table(lines)[part_number]
    product = make_product(part_number)

    assert (product.sku_id, product.display_name) == (known.sku_id, known.display_name)
    assert product.service_plans
    assert {(p.id, p.name) for p in product.service_plans} <= {(p.id, p.name) for p in known.service_plans}


# -- InMemoryDirectory -----------------------------------------------------------------------------


def test_directory_finds_users_by_id_principal_name_or_mail_case_insensitively() -> None:
    tenant = directory()

    assert tenant.user("id-alice") == tenant.user("ALICE@contoso.com") == tenant.user(" alice@Contoso.com ")
    assert tenant.user("alice") is None
    assert [u.id for u in tenant.users_with_product(SKU_E3)] == ["id-alice", "id-bob"]
    assert tenant.admin_roles("id-alice") == {AdminRole.LICENSE}
    assert tenant.admin_roles("id-bob") == frozenset()


def test_directory_counts_consumed_seats_from_the_holders() -> None:
    tenant = directory()

    seats = {p.part_number: (p.seats.enabled, p.seats.consumed) for p in tenant.products()}

    assert seats["ENTERPRISEPACK"] == (10, 2)
    assert seats["ENTERPRISEPREMIUM"] == (5, 0)
    tenant.set_licenses("carol@contoso.com", license_of(SKU_E3))
    assert next(p for p in tenant.products() if p.sku_id == SKU_E3).seats.available == 7


def test_directory_apply_writes_once_and_records_the_write() -> None:
    tenant = directory()
    replace_e3 = change("alice", (license_of(SKU_E3),), license_of(SKU_E5))

    (first,) = tenant.apply([replace_e3])
    (second,) = tenant.apply([replace_e3], verify=True)

    assert first.kind is OutcomeKind.APPLIED
    assert first.licenses == (license_of(SKU_E5),)
    assert second.kind is OutcomeKind.ALREADY_APPLIED
    assert tenant.writes == [DirectoryWrite("id-alice", (license_of(SKU_E3),), (license_of(SKU_E5),))]
    assert tenant.writes_for("alice@contoso.com") == 1
    assert [call.verify for call in tenant.calls] == [False, True]


def test_directory_apply_leaves_a_user_changed_by_someone_else_as_a_conflict() -> None:
    tenant = directory()

    (outcome,) = tenant.apply([change("carol", (license_of(SKU_E3),), license_of(SKU_E5))])

    assert outcome.kind is OutcomeKind.CONFLICT
    assert "changed since the preview" in outcome.reason
    assert tenant.writes == []


@pytest.mark.parametrize(
    ("user", "before", "after", "rule"),
    [
        ("carol", (), (license_of(SKU_FILE_STORAGE),), "R3"),
        ("erin", (), (license_of(SKU_E3),), "R4"),
        ("carol", (), (LicenseAssignment(SKU_E3, frozenset({"not-a-plan"})),), "R5"),
        ("alice", (license_of(SKU_E3),), (license_of(SKU_E3), license_of(SKU_F3)), "R6"),
        ("carol", (), (LicenseAssignment("no-such-sku"),), "R1"),
    ],
)
def test_directory_apply_refuses_with_the_domain_rules(
    user: str, before: tuple[LicenseAssignment, ...], after: tuple[LicenseAssignment, ...], rule: str
) -> None:
    tenant = directory()

    (outcome,) = tenant.apply([change(user, before, *after)])

    assert (outcome.kind, outcome.rule) == (OutcomeKind.FAILED, rule)
    assert outcome.reason
    assert tenant.writes == []


def test_directory_apply_runs_out_of_seats_part_way_one_outcome_per_change_in_order() -> None:
    tenant = directory(e5_seats=1)
    changes = [change(name, (), license_of(SKU_E5)) for name in ("carol",)] + [
        change(name, (license_of(SKU_E3),), license_of(SKU_E5)) for name in ("alice", "bob")
    ]

    outcomes = tenant.apply(changes)

    assert [(o.user_id, o.kind) for o in outcomes] == [
        ("id-carol", OutcomeKind.APPLIED),
        ("id-alice", OutcomeKind.FAILED),
        ("id-bob", OutcomeKind.FAILED),
    ]
    assert outcomes[1].rule == "R2"


def test_directory_turning_services_off_needs_no_new_seat_or_usage_location() -> None:
    tenant = directory(e5_seats=0)
    tenant.set_licenses("erin@contoso.com", license_of(SKU_E3))

    (outcome,) = tenant.apply([change("erin", (license_of(SKU_E3),), license_of(SKU_E3, "SWAY"))])

    assert outcome.kind is OutcomeKind.APPLIED


def test_directory_crash_once_after_dies_with_the_writes_done() -> None:
    tenant = directory()
    tenant.crash_once_after(1)
    changes = [change(name, (license_of(SKU_E3),), license_of(SKU_E5)) for name in ("alice", "bob")]

    with pytest.raises(SimulatedCrash):
        tenant.apply(changes)

    assert tenant.licenses_of("alice@contoso.com") == (license_of(SKU_E5),)
    assert tenant.licenses_of("bob@contoso.com") == (license_of(SKU_E3),)
    outcomes = tenant.apply(changes, verify=True)  # the crash happens once
    assert [o.kind for o in outcomes] == [OutcomeKind.ALREADY_APPLIED, OutcomeKind.APPLIED]


def test_directory_crash_once_after_zero_dies_before_writing() -> None:
    tenant = directory()
    tenant.crash_once_after(0)

    with pytest.raises(SimulatedCrash):
        tenant.apply([change("alice", (license_of(SKU_E3),), license_of(SKU_E5))])

    assert tenant.writes == []


# -- unit of work ----------------------------------------------------------------------------------


def a_change_set(change_set_id: str = "cs-1", *, minutes: int = 0) -> ChangeSet:
    return ChangeSet(
        id=change_set_id,
        kind=ChangeKind.REMOVE,
        requested_by="alice@contoso.com",
        product_sku=SKU_E3,
        product_label="Office 365 E3",
        items=[ChangeItem(change("bob", (license_of(SKU_E3),)))],
        created_at=NOW + timedelta(minutes=minutes),
        expires_at=NOW + timedelta(minutes=minutes + 15),
    )


def an_entry(actor: str = "alice@contoso.com") -> AuditEntry:
    return AuditEntry(at=NOW, actor=actor, action="remove E3", result=AuditResult.APPLIED)


def test_unit_of_work_commit_publishes_and_exit_discards_the_rest() -> None:
    uow = InMemoryUnitOfWorkFactory()

    with uow() as unit:
        unit.change_sets.add(a_change_set())
        unit.audit.record(an_entry())
        unit.commit()
        unit.audit.record(an_entry("bob@contoso.com"))
        assert unit.keys.claim("k", NOW)

    assert [e.actor for e in uow.audit_entries] == ["alice@contoso.com"]
    assert uow.change_set("cs-1") is not None
    assert uow.commits == 1
    with uow() as unit:
        assert unit.keys.claim("k", NOW)


def test_unit_of_work_rollback_discards_uncommitted_changes() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        unit.change_sets.add(a_change_set())
        unit.rollback()
        assert unit.change_sets.get("cs-1") is None
        unit.audit.record(an_entry())
        unit.commit()

    assert uow.change_set("cs-1") is None
    assert len(uow.audit_entries) == 1


def test_unit_of_work_sees_only_what_was_committed_when_it_began() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as reader, uow() as writer:
        writer.change_sets.add(a_change_set())
        writer.commit()
        assert reader.change_sets.get("cs-1") is None
    with uow() as later:
        assert later.change_sets.get("cs-1") is not None


def test_unit_of_work_commits_only_its_own_rows_over_what_others_committed() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as first, uow() as second:
        first.change_sets.add(a_change_set("cs-1"))
        first.audit.record(an_entry("a@contoso.com"))
        second.change_sets.add(a_change_set("cs-2"))
        second.audit.record(an_entry("b@contoso.com"))
        first.commit()
        second.commit()

    assert {cs.id for cs in uow.change_sets()} == {"cs-1", "cs-2"}
    assert [e.actor for e in uow.audit_entries] == ["a@contoso.com", "b@contoso.com"]


def test_the_directory_refuses_to_be_called_inside_a_unit_of_work() -> None:
    """The same rule as the real adapters (DESIGN.md §5): no remote call with a transaction open."""
    tenant = directory()
    uow = InMemoryUnitOfWorkFactory()

    with uow(), pytest.raises(RemoteCallInTransaction):
        tenant.apply([change("alice", (license_of(SKU_E3),), license_of(SKU_E5))])
    with uow(), pytest.raises(RemoteCallInTransaction):
        tenant.products()

    assert tenant.licenses_of("alice@contoso.com") == (license_of(SKU_E3),)
    tenant.apply([change("alice", (license_of(SKU_E3),), license_of(SKU_E5))])
    assert tenant.licenses_of("alice@contoso.com") == (license_of(SKU_E5),)


def test_the_notifier_refuses_to_be_called_inside_a_unit_of_work() -> None:
    uow = InMemoryUnitOfWorkFactory()
    notifier = RecordingNotifier()

    with uow(), pytest.raises(RemoteCallInTransaction):
        notifier.change_resumed(a_change_set())

    assert notifier.events == []
    notifier.change_resumed(a_change_set())
    assert [name for name, _, _ in notifier.events] == ["change_resumed"]


def test_change_set_repository_stores_only_what_is_added_or_saved() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        unit.change_sets.add(a_change_set())
        loaded = unit.change_sets.get("cs-1", for_update=True)
        assert loaded is not None
        loaded.cancel()
        assert unit.change_sets.get("cs-1").state is ChangeState.PREVIEWED  # type: ignore[union-attr]
        unit.change_sets.save(loaded)
        unit.commit()

    stored = uow.change_set("cs-1")
    assert stored is not None
    assert stored.state is ChangeState.CANCELLED
    assert uow.locks == ["cs-1"]


def test_change_set_repository_refuses_duplicates_and_saving_unknown_ones() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        unit.change_sets.add(a_change_set())
        with pytest.raises(ValueError, match="exists"):
            unit.change_sets.add(a_change_set())
        with pytest.raises(KeyError):
            unit.change_sets.save(a_change_set("cs-2"))


def test_change_set_repository_lists_recent_and_by_state() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        for n in range(3):
            unit.change_sets.add(a_change_set(f"cs-{n}", minutes=n))
        other = a_change_set("cs-bob", minutes=9)
        other.requested_by = "bob@contoso.com"
        other.cancel()
        unit.change_sets.add(other)
        unit.commit()

    with uow() as unit:
        assert [cs.id for cs in unit.change_sets.recent(limit=2)] == ["cs-bob", "cs-2"]
        assert [cs.id for cs in unit.change_sets.recent("ALICE@contoso.com")] == ["cs-2", "cs-1", "cs-0"]
        assert unit.change_sets.ids_in_state(ChangeState.CANCELLED) == ["cs-bob"]
        assert unit.change_sets.ids_in_state(ChangeState.APPLYING) == []


def test_audit_log_is_append_only_and_lists_newest_first() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        for actor in ("a@contoso.com", "b@contoso.com", "a@contoso.com"):
            unit.audit.record(an_entry(actor))
        unit.commit()
        assert len(unit.audit.recent(limit=2)) == 2
        assert len(unit.audit.recent(actor="a@contoso.com")) == 2
        assert not hasattr(unit.audit, "delete")
        assert not hasattr(unit.audit, "update")


def test_idempotency_key_is_claimed_once() -> None:
    uow = InMemoryUnitOfWorkFactory()
    with uow() as unit:
        assert unit.keys.claim("T1:click", NOW)
        assert not unit.keys.claim("T1:click", NOW)
        unit.commit()
    with uow() as unit:
        assert not unit.keys.claim("T1:click", NOW)
