"""Keeping and loading change sets in a unit of work, with the audited request (R20)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.audit import AuditEntry, AuditResult
from domain.changes import ChangeItem, ChangeSet
from domain.errors import ChangeNotPending
from domain.ports import UnitOfWork

__all__ = ["FollowUp", "keep_change_set", "load_change_set", "touched_skus"]


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The id and request key a follow-up change set (a retry or an undo) is kept under."""

    change_set_id: str
    key: str


def keep_change_set(uow: UnitOfWork, change_set: ChangeSet, product: str, correlation_id: str) -> None:
    """Add a planned change set and audit its request (`product`: its part number or label); the
    caller commits."""
    uow.change_sets.add(change_set)
    items = change_set.items
    uow.audit.record(
        AuditEntry(
            at=change_set.created_at,
            actor=change_set.requested_by,
            action=f"{change_set.kind} {product}",
            result=AuditResult.REQUESTED,
            target=", ".join(i.change.user_principal_name for i in items[:50]),
            correlation_id=correlation_id,
            change_set_id=change_set.id,
            details={
                "users": len(items),
                "refused": len(change_set.refused),
                **({"undo_of": change_set.undo_of} if change_set.undo_of else {}),
            },
        )
    )


def load_change_set(uow: UnitOfWork, change_set_id: str, *, for_update: bool = False) -> ChangeSet:
    change_set = uow.change_sets.get(change_set_id, for_update=for_update)
    if change_set is None:
        raise ChangeNotPending("gone (unknown change)")
    return change_set


def touched_skus(items: Iterable[ChangeItem], product_sku: str) -> set[str]:
    """The products a change's snapshot keeps: its own and every one its users held or get."""
    skus = {product_sku}
    for item in items:
        skus.update(lic.sku_id for lic in item.change.before)
        skus.update(lic.sku_id for lic in item.change.after)
    return skus
