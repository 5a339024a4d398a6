"""Financial-year periods, their labels, and the working-day calendar of England and Wales."""

from datetime import date

import pytest

from domain.periods import Frequency, Period, PeriodError, periods_between
from domain.workdays import PublishedDeadline, WorkingCalendar


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2025/26 M1", date(2025, 4, 1), date(2025, 4, 30)),
        ("2025/26 M3", date(2025, 6, 1), date(2025, 6, 30)),
        ("2025/26 M12", date(2026, 3, 1), date(2026, 3, 31)),
        ("2025/26 Q1", date(2025, 4, 1), date(2025, 6, 30)),
        ("2025/26 Q2", date(2025, 7, 1), date(2025, 9, 30)),
        ("2025/26 Q4", date(2026, 1, 1), date(2026, 3, 31)),
        ("2025/26 H1", date(2025, 4, 1), date(2025, 9, 30)),
        ("2025/26 H2", date(2025, 10, 1), date(2026, 3, 31)),
        ("2025/26", date(2025, 4, 1), date(2026, 3, 31)),
        ("2023/24 M11", date(2024, 2, 1), date(2024, 2, 29)),  # a leap February
    ],
)
def test_periods_run_on_the_uk_financial_year(label, start, end):
    period = Period.parse(label)
    assert (period.start, period.end) == (start, end)
    assert period.label == label


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("2025/26 q2", "2025/26 Q2"),
        ("  2025-26   M3 ", "2025/26 M3"),
        ("2025/2026 H1", "2025/26 H1"),
        ("2025/26-Q2", "2025/26 Q2"),
        ("FY2025/26", "2025/26"),
        ("2099/00 Q1", "2099/00 Q1"),
    ],
)
def test_labels_are_read_leniently_and_printed_one_way(typed, canonical):
    assert Period.parse(typed).label == canonical


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Q2 2025", "write it like 2025/26 M3"),
        ("2025/27 Q2", "as in 2025/26"),
        ("2025/26 Q5", "Q runs from 1 to 4"),
        ("2025/26 M13", "M runs from 1 to 12"),
        ("", "is not a period"),
    ],
)
def test_a_bad_label_says_what_is_wrong(typed, message):
    with pytest.raises(PeriodError, match=message):
        Period.parse(typed)


def test_previous_and_same_period_last_year():
    assert Period.parse("2025/26 M1").previous().label == "2024/25 M12"
    assert Period.parse("2025/26 Q3").previous().label == "2025/26 Q2"
    assert Period.parse("2025/26 H1").previous().label == "2024/25 H2"
    assert Period.parse("2025/26").previous().label == "2024/25"
    assert Period.parse("2025/26 Q2").same_period_last_year().label == "2024/25 Q2"
    assert Period.parse("2024/25 M12").next().label == "2025/26 M1"


def test_the_period_containing_a_day():
    assert Period.containing(date(2026, 3, 31), Frequency.QUARTERLY).label == "2025/26 Q4"
    assert Period.containing(date(2026, 4, 1), Frequency.MONTHLY).label == "2026/27 M1"
    assert Period.containing(date(2025, 11, 5), Frequency.HALF_YEARLY).label == "2025/26 H2"
    assert Period.containing(date(2025, 11, 5), Frequency.ANNUAL).label == "2025/26"


def test_periods_between_spans_years():
    labels = [
        p.label for p in periods_between(Period.parse("2024/25 Q3"), Period.parse("2025/26 Q2"))
    ]
    assert labels == ["2024/25 Q3", "2024/25 Q4", "2025/26 Q1", "2025/26 Q2"]


def test_frequency_words():
    assert Frequency.parse("Half Yearly") is Frequency.HALF_YEARLY
    with pytest.raises(PeriodError, match="not one of monthly"):
        Frequency.parse("fortnightly")


CALENDAR = WorkingCalendar()


def test_weekends_and_bank_holidays_are_not_working_days():
    assert not CALENDAR.is_working_day(date(2025, 7, 12))  # Saturday
    assert not CALENDAR.is_working_day(date(2025, 4, 18))  # Good Friday
    assert not CALENDAR.is_working_day(date(2025, 4, 21))  # Easter Monday
    assert not CALENDAR.is_working_day(date(2025, 5, 26))  # Spring bank holiday
    assert not CALENDAR.is_working_day(date(2025, 12, 25))
    assert CALENDAR.is_working_day(date(2025, 7, 14))  # a Monday


def test_a_q1_return_is_due_15_working_days_after_30_june():
    # July 2025 has no bank holiday in England: 15 working days after Monday 30 June.
    assert CALENDAR.deadline(Period.parse("2025/26 Q1")) == date(2025, 7, 21)


def test_a_deadline_skips_christmas_and_a_councils_own_closure_days():
    period = Period.parse("2025/26 M8")  # November, ends Sunday 30 November 2025
    assert CALENDAR.deadline(period, 20) == date(2025, 12, 30)
    closures = WorkingCalendar([date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)])
    assert closures.deadline(period, 20) == date(2026, 1, 5)


def test_working_days_count_both_ways():
    friday = date(2025, 7, 11)
    assert CALENDAR.add_working_days(friday, 1) == date(2025, 7, 14)
    assert CALENDAR.add_working_days(date(2025, 7, 14), -1) == friday
    assert CALENDAR.add_working_days(date(2025, 7, 12), 0) == date(2025, 7, 14)
    assert CALENDAR.working_days_between(friday, date(2025, 7, 18)) == 5
    assert CALENDAR.working_days_between(date(2025, 7, 18), friday) == -5


# Derbyshire CC's 2023/24 timetable: "department returns by" 20 July, 19 October, 19 January
# and, for the full year, 9 May (seed 001).
DERBYSHIRE = WorkingCalendar(
    deadlines=[
        PublishedDeadline(Period.parse("2023/24 Q1"), date(2023, 7, 20)),
        PublishedDeadline(Period.parse("2023/24 Q2"), date(2023, 10, 19)),
        PublishedDeadline(Period.parse("2023/24 Q3"), date(2024, 1, 19)),
        PublishedDeadline(Period.parse("2023/24 Q4"), date(2024, 5, 9)),
        PublishedDeadline(Period.parse("2023/24"), date(2024, 5, 9)),
        PublishedDeadline(Period.parse("2023/24 Q2"), date(2023, 10, 12), code="HS-04"),
    ]
)


def test_a_published_deadline_wins_over_the_working_days_rule():
    # Without the timetable Q1 would be due 15 working days after 30 June: 21 July 2023.
    assert CALENDAR.deadline(Period.parse("2023/24 Q1"), 15) == date(2023, 7, 21)
    assert DERBYSHIRE.deadline(Period.parse("2023/24 Q1"), 15) == date(2023, 7, 20)
    assert DERBYSHIRE.deadline(Period.parse("2023/24"), 15, "CS-01") == date(2024, 5, 9)


def test_a_measures_own_deadline_wins_over_its_frequencys_and_only_for_that_measure():
    q2 = Period.parse("2023/24 Q2")
    assert DERBYSHIRE.deadline(q2, 15, "HS-04") == date(2023, 10, 12)
    assert DERBYSHIRE.deadline(q2, 15, "HS-05") == date(2023, 10, 19)
    # HS-04's own row is for Q2 only; its Q3 follows the quarterly row.
    assert DERBYSHIRE.deadline(Period.parse("2023/24 Q3"), 15, "HS-04") == date(2024, 1, 19)


def test_periods_and_frequencies_the_timetable_does_not_name_keep_the_working_days_rule():
    # 2024/25 Q1 is not in the 2023/24 timetable: 15 working days after Sunday 30 June 2024.
    assert DERBYSHIRE.deadline(Period.parse("2024/25 Q1"), 15) == date(2024, 7, 19)
    # June 2023 (M3) is monthly and the first half-year half-yearly: no row names them.
    assert DERBYSHIRE.deadline(Period.parse("2023/24 M3"), 10) == date(2023, 7, 14)
    assert DERBYSHIRE.deadline(Period.parse("2023/24 H1"), 15) == date(2023, 10, 20)


@pytest.mark.parametrize(
    "typed", ["0000/01 M1", "0001/02 M1", "1999/00", "1900/01 M1", "2100/01 Q1", "9999/00 M1"]
)
def test_a_period_outside_2000_01_to_2099_00_is_refused_in_a_sentence(typed):
    with pytest.raises(PeriodError, match=r"write a period from 2000/01 to 2099/00"):
        Period.parse(typed)
    with pytest.raises(PeriodError, match="2000/01 to 2099/00"):
        Period.of(int(typed[:4]), Frequency.MONTHLY, 1)


def test_every_label_in_the_range_reads_back_as_its_period():
    for year in range(2000, 2100):
        for frequency in Frequency:
            for index in range(1, frequency.periods_per_year + 1):
                period = Period.of(year, frequency, index)
                assert Period.parse(period.label) == period


def test_a_long_label_is_quoted_short():
    with pytest.raises(PeriodError) as refused:
        Period.parse("2025/26 Q" + "9" * 10_000)
    assert len(str(refused.value)) < 200
