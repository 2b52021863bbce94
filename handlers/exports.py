"""The full list of a bulk change as CSV, for when it does not fit in a Slack message.

A cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return
first) gets a leading apostrophe: display names come from the tenant and must not run as formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from domain.changes import ChangeSet
from handlers.blocks.changes import describe_change

__all__ = ["member_errors_csv", "preview_csv", "result_csv"]

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
