"""The reminder timetable and the send window, through bank holidays and clock changes."""

import itertools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.periods import Period
from domain.reminders import Cadence, SendWindow, TimetableError, due_step, steps
from domain.workdays import WorkingCalendar

CALENDAR = WorkingCalendar()
LONDON = ZoneInfo("Europe/London")
EVERYTHING = {"reminder", "chaser", "overdue"}


def timetable(deadline: date, calendar: WorkingCalendar = CALENDAR) -> dict[str, date]:
    return {s.label: s.day for s in steps(deadline, calendar, Cadence())}


def test_a_q4_return_due_after_easter_is_reminded_and_chased_on_working_days_only():
    deadline = CALENDAR.deadline(
        Period.parse("2025/26 Q4")
    )  # Good Friday and Easter Monday fall between
    assert deadline == date(2026, 4, 23)
    assert timetable(deadline) == {
        "T-5": date(2026, 4, 16),
        "T-1": date(2026, 4, 22),
        "T": date(2026, 4, 23),
        "T+1": date(2026, 4, 24),
        "T+3": date(2026, 4, 28),
        "T+5": date(2026, 4, 30),
    }


def test_the_late_may_bank_holiday_moves_the_first_chaser_to_tuesday():
    deadline = CALENDAR.deadline(Period.parse("2026/27 M1"))
    assert deadline == date(2026, 5, 22)
    assert timetable(deadline)["T+1"] == date(2026, 5, 26)  # Monday 25 May is a bank holiday


def test_christmas_and_a_councils_closure_days_push_the_overdue_escalation_into_january():
    closures = WorkingCalendar([date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)])
    deadline = closures.deadline(Period.parse("2025/26 M8"))
    assert deadline == date(2025, 12, 19)
    assert timetable(deadline, closures) == {
        "T-5": date(2025, 12, 12),
        "T-1": date(2025, 12, 18),
        "T": date(2025, 12, 19),
        "T+1": date(2025, 12, 22),
        "T+3": date(2025, 12, 24),
        "T+5": date(2026, 1, 5),
    }


def test_the_step_owed_today_is_the_latest_so_downtime_is_caught_up_once():
    deadline = date(2026, 4, 23)
    assert due_step(deadline, date(2026, 4, 15), CALENDAR, Cadence(), EVERYTHING) is None
    assert due_step(deadline, date(2026, 4, 16), CALENDAR, Cadence(), EVERYTHING).label == "T-5"
    assert due_step(deadline, date(2026, 4, 17), CALENDAR, Cadence(), EVERYTHING).label == "T-5"
    # down from the 20th to the 27th: on the 27th only T+1 is owed, not T-1, T and T+1
    assert due_step(deadline, date(2026, 4, 27), CALENDAR, Cadence(), EVERYTHING).label == "T+1"
    assert due_step(deadline, date(2026, 4, 30), CALENDAR, Cadence(), {"overdue"}).label == "T+5"
    assert (
        due_step(deadline, date(2026, 4, 30), CALENDAR, Cadence(), {"reminder"}) is None
    )  # too old


def test_cadence_days_are_read_from_settings():
    assert Cadence.days("5, 1,0", "reminders") == (5, 1, 0)
    with pytest.raises(TimetableError, match="not a list of working days"):
        Cadence.days("five", "PERFBOT_REMINDER_DAYS")
    with pytest.raises(TimetableError, match="from 0 to 60"):
        Cadence.days("90", "PERFBOT_REMINDER_DAYS")


WINDOW = SendWindow.parse("08:00-18:00")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("at", "goes"),
    [
        (london(2026, 3, 25, 9, 0), london(2026, 3, 25, 9, 0)),  # a working morning: now
        (london(2026, 3, 25, 7, 59), london(2026, 3, 25, 8, 0)),  # before eight: at eight
        (london(2026, 3, 25, 18, 0), london(2026, 3, 26, 8, 0)),  # six o'clock: tomorrow
        (london(2026, 3, 25, 2, 0), london(2026, 3, 25, 8, 0)),  # 2 a.m.: at eight
        (
            london(2026, 3, 27, 19, 0),
            london(2026, 3, 30, 8, 0),
        ),  # Friday night, over the clocks going forward
        (london(2026, 10, 23, 19, 0), london(2026, 10, 26, 8, 0)),  # and back
        (london(2026, 4, 3, 10, 0), london(2026, 4, 7, 8, 0)),  # Good Friday: after Easter Monday
        (london(2025, 12, 24, 17, 30), london(2025, 12, 24, 17, 30)),
        (london(2025, 12, 24, 18, 30), london(2025, 12, 29, 8, 0)),  # Christmas and Boxing Day
    ],
)
def test_nothing_goes_out_at_night_at_weekends_or_on_bank_holidays(at, goes):
    assert WINDOW.next_allowed(at.astimezone(UTC), CALENDAR) == goes.astimezone(UTC)


def test_eight_oclock_is_eight_oclock_in_winter_and_summer():
    winter = WINDOW.next_allowed(london(2026, 3, 27, 20, 0).astimezone(UTC), CALENDAR)
    summer = WINDOW.next_allowed(london(2026, 3, 30, 20, 0).astimezone(UTC), CALENDAR)
    assert winter.astimezone(LONDON).time() == summer.astimezone(LONDON).time() == time(8, 0)
    assert (winter.hour, summer.hour) == (7, 7)  # 08:00 BST is 07:00 UTC after 29 March


def test_always_sends_at_once_and_bad_windows_are_explained():
    assert SendWindow.parse("always").next_allowed(london(2026, 3, 28, 3, 0), CALENDAR) == london(
        2026, 3, 28, 3, 0
    )
    with pytest.raises(TimetableError, match="write 08:00-18:00, or always"):
        SendWindow.parse("9 to 5")
    with pytest.raises(TimetableError, match="must start before it ends"):
        SendWindow.parse("18:00-08:00")
    with pytest.raises(TimetableError, match="is not a time zone"):
        SendWindow.parse("08:00-18:00", "Mars/Olympus")


class FakeTime:
    """A clock that moves only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def sends(limiter, clock: FakeTime, conversations: list[str]) -> list[float]:
    import asyncio

    async def go() -> list[float]:
        times = []
        for conversation in conversations:
            await limiter.acquire("tenant", conversation)
            times.append(clock.now)
        return times

    return asyncio.run(go())


def most_in(times: list[float], seconds: float) -> int:
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def test_one_conversation_gets_at_most_7_a_second_and_8_in_two_seconds():
    from bot.delivery import RateLimiter

    clock = FakeTime()
    limiter = RateLimiter(
        [(50, 1.0)], [(7, 1.0), (8, 2.0)], clock=clock, sleep=clock.sleep, margin=1.0
    )
    times = sends(limiter, clock, ["a:1"] * 24)
    assert most_in(times, 1.0) <= 7
    assert most_in(times, 2.0) <= 8


def test_the_tenant_gets_50_a_second_evenly_spaced():
    from bot.delivery import RateLimiter

    clock = FakeTime()
    limiter = RateLimiter([(50, 1.0)], [(7, 1.0)], clock=clock, sleep=clock.sleep, margin=1.0)
    times = sends(limiter, clock, [f"a:{n}" for n in range(200)])
    assert most_in(times, 1.0) <= 50
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.02 - 1e-9
    assert times[-1] == pytest.approx(199 * 0.02)  # and no slower than that


def test_three_dispatchers_each_keep_to_a_whole_third_of_the_tenant_rate():
    from bot.delivery import RateLimiter

    clock = FakeTime()
    # What each of three dispatchers is given: a third of Teams' 50 a second.
    limiter = RateLimiter([(50 / 3, 1.0)], [(7, 1.0)], clock=clock, sleep=clock.sleep, margin=1.0)
    times = sends(limiter, clock, [f"a:{n}" for n in range(100)])
    assert most_in(times, 1.0) == 16  # three of them: 48, never over 50


def test_the_last_working_morning_is_todays_nine_once_it_has_come_else_the_working_day_before():
    from datetime import UTC, datetime

    from domain.reminders import last_working_morning

    calendar = WorkingCalendar()
    tuesday_ten = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert last_working_morning(tuesday_ten, calendar) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    tuesday_eight = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert last_working_morning(tuesday_eight, calendar) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    boxing_day = datetime(2026, 12, 28, 12, 0, tzinfo=UTC)  # the bank holiday for Boxing Day
    assert last_working_morning(boxing_day, calendar) == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
