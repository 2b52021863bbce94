"""What revision 0003_slack_experience keeps with a change set, on SQLite and PostgreSQL: the product
snapshot, unchanged users, the services asked for, the undo deadline and the request key; and the
planning service end to end on the simulated tenant (no read of the tenant to render a reply)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from domain.application.history import ChangeHistory
from domain.application.licensing import Licensing
from domain.catalog import ProductCatalog
from domain.changes import ChangeItem, ChangeKind, ChangeSet, ProductSnapshot, UserChange
from domain.commands import ChangeLicenses, ConfirmChange, UndoChange
from domain.model import LicenseAssignment
from storage.simulated import SimulatedTenant, demo_user_id
from storage.simulated.products import DEMO_PRODUCTS, O365_E3, O365_E5
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedClock

E3 = DEMO_PRODUCTS[O365_E3].sku_id
E5 = DEMO_PRODUCTS[O365_E5].sku_id
SWAY = next(p.id for p in DEMO_PRODUCTS[O365_E5].service_plans if p.name == "SWAY")


def change_set(clock: FixedClock, **extra: object) -> ChangeSet:
    upn = "alice@contoso.com"
    return ChangeSet(
        id="cs-exp",
        kind=ChangeKind.UNDO,
        requested_by="lena@contoso.com",
        product_sku=E5,
        product_label="Office 365 E5",
        items=[
            ChangeItem(
                UserChange(
                    demo_user_id(upn), upn, "Alice Wu", (LicenseAssignment(E5),), (LicenseAssignment(E3),)
                )
            )
        ],
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=15),
        undo_of="cs-original",
        products={
            E5: ProductSnapshot(E5, "ENTERPRISEPREMIUM", "Office 365 E5", 3, 10, ((SWAY, "Sway"),)),
            E3: ProductSnapshot(E3, "ENTERPRISEPACK", "Office 365 E3", 14, 25),
        },
        unchanged=[("Grace Kim", "already had it")],
        turn_off=(SWAY,),
        turn_on=("plan-b",),
        undoable_until=clock.now() + timedelta(hours=1),
        request_key="undo:cs-original",
        **extra,  # type: ignore[arg-type]
    )


def test_everything_a_change_set_needs_to_render_itself_round_trips(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    original = change_set(clock)
    with uow_factory() as uow:
        uow.change_sets.add(original)
        uow.commit()

    with uow_factory() as uow:
        loaded = uow.change_sets.get("cs-exp")

    assert loaded == original
    assert loaded is not None
    assert loaded.undoable_until is not None
    assert loaded.undoable_until.tzinfo is not None


def test_a_request_key_belongs_to_one_change_set(
    uow_factory: SqlUnitOfWorkFactory, clock: FixedClock
) -> None:
    with uow_factory() as uow:
        uow.change_sets.add(change_set(clock))
        uow.commit()
    second = change_set(clock)
    second.id = "cs-other"
    with uow_factory() as uow, pytest.raises(sa.exc.IntegrityError):
        uow.change_sets.add(second)


def test_rows_from_before_the_revision_read_as_empty(
    engine: Engine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO change_sets (id, kind, state, requested_by, confirmed_by, product_sku, "
                "product_label, created_at, expires_at, refused, channel, message_ts, undo_of, seats_before, "
                "seats_total, products, unchanged, turn_off, turn_on) VALUES ('old', 'remove', 'done', "
                "'lena@contoso.com', '', :sku, 'Office 365 E3', :at, :at, '[]', '', '', '', 14, 25, "
                "'{}', '[]', '[]', '[]')"
            ),
            {"sku": E3, "at": "2025-03-03 09:00:00"},
        )
    with uow_factory() as uow:
        old = uow.change_sets.get("old")
    assert old is not None
    assert (old.products, old.unchanged, old.undoable_until, old.request_key) == ({}, [], None, "")
    assert old.label(E3) == "Office 365 E3"


def test_plan_confirm_and_undo_on_the_simulated_tenant(
    uow_factory: SqlUnitOfWorkFactory, tenant: SimulatedTenant, clock: FixedClock
) -> None:
    licensing = Licensing(uow_factory, tenant, clock, ProductCatalog())
    preview = licensing.plan_change(
        ChangeLicenses(
            ChangeKind.REPLACE, "lena@contoso.com", ("carol@contoso.com",), "E5", turn_off=("Sway",)
        )
    )
    assert preview.products[E3].plan_names(preview.items[0].change.before[0].disabled_plans) == [
        "Sway",
        "Yammer Enterprise",
    ]
    done = licensing.confirm(ConfirmChange(preview.id, "lena@contoso.com"))
    undo = ChangeHistory(uow_factory, tenant, clock, ProductCatalog()).request_undo(
        UndoChange(done.id, "lena@contoso.com")
    )
    licensing.confirm(ConfirmChange(undo.id, "lena@contoso.com"))

    carol = tenant.user("carol@contoso.com")
    assert carol is not None
    assert [lic.sku_id for lic in carol.licenses] == [E3]
    assert carol.licenses[0] == preview.items[0].change.before[0], "licenses and services as they were"
