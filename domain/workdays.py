"""Working days: weekends and bank holidays of England and Wales, plus a council's closure
days; and when a return is due, by the council's published timetable or N working days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class PublishedDeadline:
    """A day the council's timetable sets for the returns of one period: for every measure
    of the period's frequency, or, with a code, for that one measure. Derbyshire CC, 2023/24:
    "department returns by 20 July 2023" for Q1, reviewed by the Corporate Management Team on
    25 July."""

    period: Period
    due: date
    code: str | None = None
    review_date: date | None = None
    review: str | None = None


class WorkingCalendar:
    """Which days are working days for a council, and when its returns are due.

    Weekends and the bank holidays of England and Wales are never working days; a council
    adds its own closure days (the days between Christmas and New Year, say). A council that
    publishes a timetable of deadlines gives them too; they win over the working-days rule.
    """

    def __init__(
        self, closures: Iterable[date] = (), deadlines: Iterable[PublishedDeadline] = ()
    ) -> None:
        self.closures = frozenset(closures)
        self.deadlines = {(d.code, d.period): d for d in deadlines}
        self._due: dict[tuple[date, int], date] = {}  # thousands of measures share a period
        # The same for the counts between days: a status of thousands of returns overdue
        # since the same few deadlines counts each span once, not once per return.
        self._between: dict[tuple[date, date], int] = {}
        self._added: dict[tuple[date, int], date] = {}

    def is_bank_holiday(self, day: date) -> bool:
        return day in _bank_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_bank_holiday(day) and day not in self.closures

    def add_working_days(self, day: date, count: int) -> date:
        """The date ``count`` working days after ``day`` (before it, when negative).

        Counting starts from the next day, so one working day after Friday is Monday.
        Zero gives ``day`` itself if it is a working day, else the next working day.
        """
        key = (day, count)
        found = self._added.get(key)
        if found is not None:
            return found
        if count == 0:
            found = day if self.is_working_day(day) else self.add_working_days(day, 1)
        else:
            step = timedelta(days=1 if count > 0 else -1)
            remaining = abs(count)
            found = day
            while remaining:
                found += step
                if self.is_working_day(found):
                    remaining -= 1
        self._added[key] = found
        return found

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        found = self._between.get((start, end))
        if found is not None:
            return found
        days = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                days += 1
        self._between[(start, end)] = days
        return days

    def published(self, period: Period, code: str | None = None) -> PublishedDeadline | None:
        """The timetable's deadline for a period's returns: the measure's own (by ``code``),
        else the one for every measure of the period's frequency; None if it sets none."""
        own = self.deadlines.get((code, period)) if code is not None else None
        return own or self.deadlines.get((None, period))

    def deadline(
        self,
        period: Period,
        working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
        code: str | None = None,
    ) -> date:
        """A return is due on the day the council's timetable sets (the measure's own row,
        else its frequency's); without one, ``working_days`` working days after its period
        ends."""
        published = self.published(period, code)
        if published:
            return published.due
        key = (period.end, working_days)
        if key not in self._due:
            self._due[key] = self.add_working_days(period.end, working_days)
        return self._due[key]
