"""When the Leadership Team's weekly summary goes (issue 14): on the council's summary day
(Monday by default) at its time (09:00 Europe/London), every N weeks counted from one summary
day (Derbyshire's dashboards are three-weekly, seed 001); a summary day that is a bank
holiday or a council closure day moves to the next working day.

Pure rules: days and times come in as arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.dates import LONDON
from domain.workdays import WorkingCalendar

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
# A summary missed on its day (the server was down) still goes later that week, no later.
CATCH_UP = timedelta(days=7)


class ScheduleError(ValueError):
    """A summary setting that cannot be used."""


@dataclass(frozen=True, slots=True)
class SummarySchedule:
    """Every ``every_weeks`` weeks on ``weekday`` (0 is Monday) at ``at`` in ``zone``,
    counted from ``start``, which is one of its summary days."""

    weekday: int = 0
    at: time = time(9, 0)
    every_weeks: int = 1
    start: date = date(2024, 4, 1)  # a Monday
    zone: ZoneInfo = LONDON

    def __post_init__(self) -> None:
        if self.start.weekday() != self.weekday:
            near = self.start + timedelta(days=self.weekday - self.start.weekday())
            raise ScheduleError(
                f"PERFBOT_SUMMARY_FROM {self.start.isoformat()} is a {self.start:%A}, not a "
                f"{DAYS[self.weekday].title()} (PERFBOT_SUMMARY_DAY): give the date of one "
                f"summary day, such as {near.isoformat()}"
            )

    @staticmethod
    def parse_day(text: str) -> int:
        """``monday`` (or ``mon``) -> 0; a summary goes on a weekday."""
        word = text.strip().lower()
        for number, day in enumerate(DAYS):
            if word and (word == day or (len(word) >= 3 and day.startswith(word))):
                return number
        raise ScheduleError(
            f"PERFBOT_SUMMARY_DAY '{text}' is not a weekday: write monday, tuesday, wednesday, "
            "thursday or friday"
        )

    @staticmethod
    def parse_time(text: str) -> time:
        """``09:00`` -> 09:00, a 24-hour time."""
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ScheduleError(
                f"PERFBOT_SUMMARY_TIME '{text}' is not a time of day: write it as HH:MM on the "
                "24-hour clock, such as 09:00 or 13:30"
            )
        return time(int(match[1]), int(match[2]))

    @property
    def period(self) -> timedelta:
        return timedelta(weeks=self.every_weeks)

    def summary_day(self, today: date) -> date:
        """The latest summary day on or before ``today`` (by the cadence, before any move)."""
        cycles = (today - self.start).days // self.period.days
        return self.start + cycles * self.period

    @staticmethod
    def goes_on(day: date, calendar: WorkingCalendar) -> date:
        """The day a summary for ``day`` goes: that day, or the next working day after a bank
        holiday or closure day."""
        return calendar.add_working_days(day, 0)

    def moment(self, day: date, calendar: WorkingCalendar) -> datetime:
        """When the summary for summary day ``day`` goes."""
        return datetime.combine(self.goes_on(day, calendar), self.at, tzinfo=self.zone)

    def due(self, now: datetime, calendar: WorkingCalendar) -> date | None:
        """The summary day whose summary is due at ``now``: its moment has come and its week
        has not passed (a server down on the day sends it when it starts again that week);
        None if none is due."""
        today = now.astimezone(self.zone).date()
        day = self.summary_day(today)
        moment = self.moment(day, calendar)
        if now < moment:
            return None
        if today < day + CATCH_UP or today == moment.date():
            return day
        return None

    def week_of(self, now: datetime) -> date:
        """On demand: the summary day of ``now``'s week (Monday to Sunday), whatever the
        cadence, so that an on-demand summary and the scheduled one of the same week share
        their reason key and only one goes."""
        today = now.astimezone(self.zone).date()
        return today - timedelta(days=today.weekday()) + timedelta(days=self.weekday)

    def next_day(self, now: datetime, calendar: WorkingCalendar) -> date:
        """The summary day of the next summary to go after ``now``."""
        day = self.summary_day(now.astimezone(self.zone).date())
        while self.moment(day, calendar) <= now:
            day += self.period
        return day

    def next_moment(self, now: datetime, calendar: WorkingCalendar) -> datetime:
        """When the next summary goes after ``now``."""
        return self.moment(self.next_day(now, calendar), calendar)

    def next_run(self, now: datetime) -> datetime:
        """The job's next run after ``now``: it runs every weekday at the summary's time."""
        local = now.astimezone(self.zone)
        day = local.date() if local.time() < self.at else local.date() + timedelta(days=1)
        while day.weekday() > 4:
            day += timedelta(days=1)
        return datetime.combine(day, self.at, tzinfo=self.zone)

    def describe(self) -> str:
        """As people read it: "every Monday at 09:00" or "every 3 weeks on Monday at 09:00"."""
        day = DAYS[self.weekday].title()
        when = (
            f"every {day}" if self.every_weeks == 1 else f"every {self.every_weeks} weeks on {day}"
        )
        return f"{when} at {self.at:%H:%M}"
