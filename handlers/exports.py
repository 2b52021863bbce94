"""The full list of a bulk change as CSV, for when it does not fit in a Slack message; and the
license report (R22), written a page of users at a time.

A cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return
first) gets a leading apostrophe: display names come from the tenant and must not run as formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TextIO

from domain.changes import ChangeSet
from domain.model import LicenseAssignment, Product, User
from handlers.blocks.changes import describe_change

__all__ = ["member_errors_csv", "preview_csv", "result_csv", "write_report"]

DIRECT = "direct"
"""How a license assigned to the user is shown (a license inherited from a group will name it)."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def preview_csv(change_set: ChangeSet) -> str:
    """One row per user named: what the change does to them, or why it leaves them out."""
    rows: list[Sequence[str]] = [
        (
            item.change.display_name,
            item.change.user_principal_name,
            "planned",
            describe_change(item.change, change_set),
            "",
        )
        for item in change_set.items
    ]
    rows += [(name, "", "refused", "", reason) for name, reason in change_set.refused]
    rows += [(name, "", "unchanged", "", reason) for name, reason in change_set.unchanged]
    return _csv(("user", "email", "status", "change", "reason"), rows)


def result_csv(change_set: ChangeSet) -> str:
    """One row per user of the change: the outcome, the change, and the reason and rule of a failure."""
    rows = [
        (
            item.change.display_name,
            item.change.user_principal_name,
            item.status.value,
            describe_change(item.change, change_set),
            item.reason,
            item.rule,
        )
        for item in change_set.items
    ]
    return _csv(("user", "email", "result", "change", "reason", "rule"), rows)


def member_errors_csv(errors: Iterable[tuple[str, str, str, str]]) -> str:
    """One row per member a group's license left in an error state (R21): the reason and the fix."""
    return _csv(("member", "product", "problem", "fix"), errors)


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def write_report(
    out: TextIO,
    products: Mapping[str, Product],
    pages: Iterable[Sequence[User]],
    group_names: Mapping[str, str] | None = None,
) -> int:
    """The license report as CSV into `out`, one row per user, written as each page of users
    arrives (memory holds one page); returns the number of users.

    Columns: user, user principal name, enabled, usage location, then per product (the tenant's
    products that apply to users, by name) how the user holds it — `direct`, `group NAME`, or both
    (R21; `group_names` by object id) — and the services turned off.
    """
    names = group_names or {}
    shown = sorted(
        (p for p in products.values() if p.assignable_to_users), key=lambda p: (p.display_name, p.sku_id)
    )
    header = ["user", "user principal name", "enabled", "usage location"]
    for product in shown:
        header += [product.display_name, f"{product.display_name}: services off"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    users = 0
    for page in pages:
        for user in page:
            held = {lic.sku_id: lic for lic in user.licenses}
            row = [
                user.display_name,
                user.user_principal_name,
                "yes" if user.account_enabled else "no",
                user.usage_location or "",
            ]
            for product in shown:
                lic = held.get(product.sku_id)
                row += (
                    [_source(user, product.sku_id, names), _services_off(product, lic)] if lic else ["", ""]
                )
            writer.writerow([_cell(value) for value in row])
        users += len(page)
    return users


def _source(user: User, sku_id: str, group_names: Mapping[str, str]) -> str:
    """How the user holds the product: directly, from groups (by name), or both (R21)."""
    sources = [DIRECT] if user.has_direct(sku_id) else []
    sources += [f"group {group_names.get(group_id, group_id)}" for group_id in user.groups_of(sku_id)]
    return " and ".join(sources) or DIRECT


def _services_off(product: Product, lic: LicenseAssignment) -> str:
    return "; ".join(
        plan.display_name or plan.name for plan in product.service_plans if plan.id in lic.disabled_plans
    )
