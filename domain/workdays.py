"""Working days: weekends and bank holidays of England and Wales, plus a council's closure days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

from domain.periods import Period

DEFAULT_DEADLINE_WORKING_DAYS = 15


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # The `holidays` package keeps the statutory list, including one-off days such as
    # coronations and moved May Days, so the calendar is right without a council typing it in.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


class WorkingCalendar:
    """Which days are working days for a council.

    Weekends and the bank holidays of England and Wales are never working days; a council
    adds its own closure days (the days between Christmas and New Year, say).
    """

    def __init__(self, closures: Iterable[date] = ()) -> None:
        self.closures = frozenset(closures)

    def is_bank_holiday(self, day: date) -> bool:
        return day in _bank_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_bank_holiday(day) and day not in self.closures

    def add_working_days(self, day: date, count: int) -> date:
        """The date ``count`` working days after ``day`` (before it, when negative).

        Counting starts from the next day, so one working day after Friday is Monday.
        Zero gives ``day`` itself if it is a working day, else the next working day.
        """
        if count == 0:
            return day if self.is_working_day(day) else self.add_working_days(day, 1)
        step = timedelta(days=1 if count > 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        days = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                days += 1
        return days

    def deadline(self, period: Period, working_days: int = DEFAULT_DEADLINE_WORKING_DAYS) -> date:
        """A return is due ``working_days`` working days after its period ends."""
        return self.add_working_days(period.end, working_days)
