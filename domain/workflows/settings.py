"""The knobs of the subscription workflows, set once from the bot's `Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

__all__ = ["CREDIT_CHECK_BUSINESS_DAYS", "WorkflowSettings", "business_days"]

CREDIT_CHECK_BUSINESS_DAYS = 2
"""R10: up to two business days, unless the settings say otherwise (`CREDIT_CHECK_BUSINESS_DAYS`)."""


def business_days(count: int) -> str:
    """A number of business days as the messages say it: "1 business day", "2 business days"."""
    return f"{count} business day{'' if count == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    approval_ttl: timedelta = timedelta(hours=24)
    """How long an approval request stays open (R13)."""
    credit_check_business_days: int = CREDIT_CHECK_BUSINESS_DAYS
    """R10: an invoice purchase may wait this many business days for a credit check."""
    activation_grace: timedelta = timedelta(hours=24)
    """A card purchase not active after this long is overdue: the bot says to contact support."""
    reminder_every: timedelta = timedelta(hours=24)
    """Nudges to task owners, to requesters who must choose, and about overdue purchases
    (`TASK_REMINDER_HOURS`)."""
    approval_reminder_every: timedelta = timedelta(hours=4)
    """Nudges about an approval still waiting (`APPROVAL_REMINDER_HOURS`)."""
    digest_time_utc: time = time(9, 0)
    """The daily digest is due from this time of day (UTC) on, once a day (`DIGEST_TIME_UTC`)."""
    lease_ttl: timedelta = timedelta(minutes=5)
    """How long a running step is held before another process may take it over (after a crash)."""
    poll_interval: timedelta = timedelta(minutes=5)
    """How often the scheduler ticks: one replica reads the tenant per interval (a lease)."""
