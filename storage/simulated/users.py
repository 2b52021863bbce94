"""Users of the simulated tenant as the domain sees them: a user row with its direct licenses and the
licenses its groups give it (R21), merged as Graph's `assignedLicenses` and `licenseAssignmentStates`."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from domain.model import LicenseAssignment, LicenseState, User
from storage.orm import SimUserRow

__all__ = ["find_user_row", "user_from_row"]


def find_user_row(session: Session, key: str) -> SimUserRow | None:
    """A user by object id, user principal name or mail, case-insensitively (in that order)."""
    wanted = key.strip().lower()
    if not wanted:
        return None
    rows = session.scalars(
        select(SimUserRow).where(
            or_(
                func.lower(SimUserRow.id) == wanted,
                func.lower(SimUserRow.user_principal_name) == wanted,
                func.lower(SimUserRow.mail) == wanted,
            )
        )
    ).all()
    by_id = [row for row in rows if row.id.lower() == wanted]
    by_upn = [row for row in rows if row.user_principal_name.lower() == wanted]
    return next(iter(by_id + by_upn + list(rows)), None)


def user_from_row(row: SimUserRow, *, sign_ins: bool = False) -> User:
    """`licenses` is every working license, direct or from a group; a service is off only when
    every source turns it off. `states` lists each source, and is empty for a user no group gives
    anything (every license is then direct). With `sign_ins`, also when the account was created and
    last signed in (the latest of its interactive and non-interactive sign-ins, R22)."""
    last = None
    if sign_ins:
        moments = [m for m in (row.last_sign_in, row.last_non_interactive_sign_in) if m is not None]
        last = max(moments, default=None)
    direct = [LicenseAssignment(lic.sku_id, frozenset(lic.disabled_plans)) for lic in row.licenses]
    inherited = [
        LicenseState(state.sku_id, state.group_id, frozenset(state.disabled_plans), state.error)
        for state in row.inherited
    ]
    merged: dict[str, frozenset[str]] = {lic.sku_id: lic.disabled_plans for lic in direct}
    for state in inherited:
        if state.in_error:
            continue
        known = merged.get(state.sku_id)
        merged[state.sku_id] = state.disabled_plans if known is None else known & state.disabled_plans
    states: tuple[LicenseState, ...] = ()
    if inherited:
        states = tuple(LicenseState(lic.sku_id, None, lic.disabled_plans) for lic in direct) + tuple(
            inherited
        )
        states = tuple(sorted(states, key=lambda s: (s.sku_id, s.group_id or "")))
    return User(
        id=row.id,
        user_principal_name=row.user_principal_name,
        display_name=row.display_name,
        mail=row.mail,
        usage_location=row.usage_location,
        account_enabled=row.account_enabled,
        licenses=tuple(LicenseAssignment(sku, plans) for sku, plans in sorted(merged.items())),
        states=states,
        created=row.created if sign_ins else None,
        last_sign_in=last,
    )
