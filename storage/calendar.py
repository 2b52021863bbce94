"""`domain.ports.BusinessCalendar` from the `holidays` package: a country's weekend and public holidays.

R10's credit check lasts up to two business days, counted in the organization's country: an invoice
purchase made in the US on the Wednesday before Thanksgiving is due the Monday after. A country the
package does not know counts Saturday and Sunday as its weekend and has no holidays (logged once).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from threading import Lock

import holidays

__all__ = ["HolidayCalendar"]

log = logging.getLogger(__name__)

_DEFAULT_WEEKEND = frozenset({5, 6})


class HolidayCalendar:
    """Business days per country (ISO 3166-1 alpha-2), with the holidays cached per country."""

    def __init__(self) -> None:
        self._countries: dict[str, holidays.HolidayBase | None] = {}
        self._lock = Lock()

    def is_business_day(self, day: date, country: str) -> bool:
        calendar = self._calendar(country)
        if calendar is None:
            return day.weekday() not in _DEFAULT_WEEKEND
        weekend = frozenset(getattr(calendar, "weekend", _DEFAULT_WEEKEND))
        return day.weekday() not in weekend and day not in calendar

    def add_business_days(self, start: date, days: int, country: str) -> date:
        if days < 0:
            raise ValueError(f"cannot count {days} business days")
        day, counted = start, 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_business_day(day, country):
                counted += 1
        return day

    def _calendar(self, country: str) -> holidays.HolidayBase | None:
        code = country.strip().upper()
        with self._lock:
            if code not in self._countries:
                try:
                    self._countries[code] = holidays.country_holidays(code)
                except NotImplementedError:
                    log.warning("no public holidays known for country %r: counting weekends only", code)
                    self._countries[code] = None
            return self._countries[code]
