"""Waste (R22): what a reclaim preview leaves out and why, and the license report's message."""

from __future__ import annotations

from domain.waste_service import ReclaimPlan
from handlers.blocks.message import Message, context, message, section
from handlers.blocks.text import escape, plural

__all__ = ["reclaim_notice", "report_attached", "report_comment"]


def reclaim_notice(plan: ReclaimPlan) -> Message | None:
    """Said next to a reclaim preview: who it covers, and why inactive accounts are left out when
    sign-ins could not be read (None: nothing to add)."""
    unavailable = plan.sign_ins_unavailable
    if unavailable is None:
        return None
    text = (
        f":information_source: Only disabled accounts are in this preview "
        f"({plural(plan.disabled, 'account')}): {escape(unavailable.problem)} {escape(unavailable.fix)}"
    )
    return message(text, [section(text)])


def report_comment(scope: str, users: int) -> str:
    """The comment of the report's CSV file."""
    return f"License report: {plural(users, 'user')} ({scope})."


def report_attached(scope: str, users: int, products: int) -> Message:
    """The message the report's CSV is attached under, in its thread."""
    text = f"License report of {escape(scope)}: {plural(users, 'user')}, {plural(products, 'product')}."
    return message(
        text,
        [
            section(f":page_facing_up: *License report* of {escape(scope)}: {plural(users, 'user')}."),
            context(
                "One row per user: name, user principal name, enabled, usage location, then a column per "
                "product (direct when assigned to the user) with the services turned off."
            ),
        ],
    )
