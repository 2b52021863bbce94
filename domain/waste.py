"""Waste (R22): licenses held by accounts that are disabled or nobody signs in to any more, and
seats paid for but unused, which can often be reduced only at renewal (`nextLifecycleDateTime`).

Pure rules: which account counts as inactive, what reclaiming takes from a user, and the words for
what a set of reclaimed licenses frees.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from domain.changes import UserChange
from domain.model import User

__all__ = [
    "RECLAIM_DISABLED",
    "RECLAIM_INACTIVE",
    "is_inactive",
    "reclaim_change",
    "reclaim_changes",
]

RECLAIM_DISABLED = "Licenses of disabled accounts"
RECLAIM_INACTIVE = "Licenses of disabled and inactive accounts"


def is_inactive(user: User, now: datetime, days: int) -> bool:
    """Nobody signed in to the account for `days` (R22): its latest sign-in, interactive or not, is
    older; or it never signed in and was created before that (a new account is not inactive)."""
    cutoff = now - timedelta(days=days)
    if user.last_sign_in is not None:
        return user.last_sign_in < cutoff
    return user.created is not None and user.created < cutoff


def reclaim_change(user: User) -> UserChange | None:
    """Every license the user holds goes, in one write (None: they hold none).

    The directory reports licenses assigned to the user; a license inherited from a group (R21) is
    the group's to change and is never written here: once licenses carry their source, those are
    left in `after` and named with their group instead.
    """
    if not user.licenses:
        return None
    return UserChange(
        user.id,
        user.user_principal_name,
        user.display_name,
        tuple(sorted(user.licenses, key=lambda lic: lic.sku_id)),
        (),
    )


def reclaim_changes(users: Iterable[User]) -> list[UserChange]:
    """One change per user holding licenses, each user once, in the order given."""
    seen: set[str] = set()
    changes: list[UserChange] = []
    for user in users:
        if user.id in seen:
            continue
        seen.add(user.id)
        change = reclaim_change(user)
        if change is not None:
            changes.append(change)
    return changes
