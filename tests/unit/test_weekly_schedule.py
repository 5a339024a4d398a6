"""When the weekly summary goes: its day and time, a bank holiday moving it, the cadence."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from domain.dates import LONDON
from domain.weekly import ScheduleError, SummarySchedule
from domain.workdays import WorkingCalendar

CALENDAR = WorkingCalendar()
WEEKLY = SummarySchedule()


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON)


def test_an_ordinary_monday_is_due_from_nine():
    monday = date(2026, 11, 30)
    assert WEEKLY.due(at(monday, 8, 59), CALENDAR) is None
    assert WEEKLY.due(at(monday), CALENDAR) == monday
    assert WEEKLY.due(at(monday, 15), CALENDAR) == monday


def test_a_bank_holiday_monday_moves_it_to_tuesday():
    holiday = date(2026, 8, 31)  # the summer bank holiday
    assert WEEKLY.due(at(holiday, 10), CALENDAR) is None
    assert WEEKLY.due(at(date(2026, 9, 1)), CALENDAR) == holiday  # for Monday's summary day
    assert WEEKLY.next_moment(at(date(2026, 8, 28)), CALENDAR) == at(date(2026, 9, 1))


def test_a_council_closure_day_moves_it_too():
    closed = WorkingCalendar([date(2026, 11, 30)])
    assert closed.is_working_day(date(2026, 11, 30)) is False
    assert WEEKLY.due(at(date(2026, 11, 30), 10), closed) is None
    assert WEEKLY.due(at(date(2026, 12, 1), 10), closed) == date(2026, 11, 30)


def test_a_summary_missed_on_its_day_still_goes_that_week_but_not_the_next():
    monday = date(2026, 11, 30)
    assert WEEKLY.due(at(date(2026, 12, 3), 14), CALENDAR) == monday  # the server was down
    assert WEEKLY.due(at(date(2026, 12, 7), 8), CALENDAR) is None  # next Monday, before nine


def test_three_weekly_counts_from_its_first_summary_day():
    every3 = SummarySchedule(every_weeks=3, start=date(2026, 11, 9))
    assert every3.due(at(date(2026, 11, 9)), CALENDAR) == date(2026, 11, 9)
    assert every3.due(at(date(2026, 11, 16)), CALENDAR) is None
    assert every3.due(at(date(2026, 11, 23)), CALENDAR) is None
    assert every3.due(at(date(2026, 11, 30)), CALENDAR) == date(2026, 11, 30)
    assert every3.next_moment(at(date(2026, 11, 10)), CALENDAR) == at(date(2026, 11, 30))
    assert every3.describe() == "every 3 weeks on Monday at 09:00"


def test_on_demand_it_is_the_summary_of_that_week():
    assert WEEKLY.week_of(at(date(2026, 12, 2), 7)) == date(2026, 11, 30)  # a Wednesday
    assert WEEKLY.week_of(at(date(2026, 12, 6), 23)) == date(2026, 11, 30)  # the Sunday


def test_its_time_is_london_time_in_summer_too():
    summer = date(2026, 6, 1)
    assert (
        WEEKLY.due(datetime(2026, 6, 1, 7, 59, tzinfo=LONDON).astimezone(LONDON), CALENDAR) is None
    )
    assert WEEKLY.moment(summer, CALENDAR).utcoffset().total_seconds() == 3600


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: SummarySchedule.parse_day("sunday"), "is not a weekday: write monday"),
        (lambda: SummarySchedule.parse_time("9am"), "write it as HH:MM on the 24-hour clock"),
        (lambda: SummarySchedule.parse_time("25:00"), "is not a time of day"),
        (lambda: SummarySchedule(start=date(2024, 4, 2)), "is a Tuesday, not a Monday"),
    ],
)
def test_bad_settings_say_what_is_wrong_and_how_to_write_them(make, says):
    with pytest.raises(ScheduleError, match=says):
        make()


def test_days_may_be_shortened():
    assert SummarySchedule.parse_day("Wed") == 2
    assert SummarySchedule.parse_day("friday") == 4
