"""R20: the audit log alone tells every user's licenses. Replaying it — each applied change's
`after` on top of the one before — rebuilds exactly what the tenant holds."""

from __future__ import annotations

from sqlalchemy import select

from domain.audit import AuditResult
from domain.changes import ChangeKind
from domain.commands import ChangeLicenses, ConfirmChange, UndoChange
from storage.orm import AuditRow
from tests.slack.conftest import Tenant, licenses_on

LENA = "lena@contoso.com"
Licenses = frozenset[tuple[str, frozenset[str]]]


def _as_set(licenses: object) -> Licenses:
    assert isinstance(licenses, list)
    return frozenset((lic["skuId"], frozenset(lic["disabledPlans"])) for lic in licenses)


def test_replaying_the_audit_rebuilds_every_users_licenses(tenant: Tenant) -> None:
    use_cases = licenses_on(tenant.uow, tenant.directory)
    licensing = use_cases.changes

    def change(kind: ChangeKind, users: tuple[str, ...], product: str, **extra: tuple[str, ...]) -> str:
        change_set = licensing.request_change(ChangeLicenses(kind, LENA, users, product, **extra))
        if kind.removes_access:
            change_set = licensing.confirm(ConfirmChange(change_set.id, LENA))
        return change_set.id

    change(ChangeKind.ASSIGN, ("dave@contoso.com", "erin@contoso.com"), "E5", turn_off=("Sway",))
    replaced = change(ChangeKind.REPLACE, ("alice@contoso.com", "bob@contoso.com"), "E5")
    change(ChangeKind.REMOVE, ("carol@contoso.com",), "E3")
    change(ChangeKind.SERVICES, ("dave@contoso.com",), "E5", turn_off=("Teams",), turn_on=("Sway",))
    undo = use_cases.history.request_undo(UndoChange(replaced, LENA))
    licensing.confirm(ConfirmChange(undo.id, LENA))

    replayed: dict[str, Licenses] = {}
    with tenant.sessions() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()
    for row in rows:
        if row.result != AuditResult.APPLIED or not row.target:
            continue
        before = _as_set(row.before)
        if row.target in replayed:
            assert replayed[row.target] == before, f"{row.target}: the audit has a gap before {row.action}"
        replayed[row.target] = _as_set(row.after)

    touched = {"dave", "erin", "alice", "bob", "carol"}
    assert {target.partition("@")[0] for target in replayed} == touched
    for upn, licenses in replayed.items():
        user = tenant.directory.user(upn)
        assert user is not None
        actual = frozenset((lic.sku_id, lic.disabled_plans) for lic in user.licenses)
        assert actual == licenses, f"{upn}: the audit says {licenses}, the tenant has {actual}"
