"""Measure profiles: a cumulative (year-to-date) figure is compared with the same period of
earlier years, never with the period before across the year boundary."""

from domain.periods import Period
from domain.profiles import comparisons, period_words, plausibility_periods, same_period_words

APRIL = Period.parse("2026/27 M1")


def test_an_ordinary_figure_is_compared_with_the_period_before_and_last_year():
    against = comparisons(APRIL, cumulative=False)
    assert against.previous is not None
    assert against.previous.period.label == "2025/26 M12"
    assert against.last_year.period.label == "2025/26 M1"
    assert against.headline == against.previous
    assert against.not_compared == ""


def test_a_cumulative_figure_is_compared_with_the_same_period_last_year_only_in_words():
    against = comparisons(APRIL, cumulative=True)
    assert against.previous is None
    assert against.headline.period.label == "2025/26 M1"
    assert against.headline.words == "April last year"
    assert against.not_compared == (
        "not compared: a year-to-date figure is compared with April last year"
    )


def test_the_same_period_is_named_as_people_say_it():
    assert same_period_words(Period.parse("2026/27 M7")) == "October last year"
    assert same_period_words(Period.parse("2026/27 Q2")) == "Q2 last year"
    assert same_period_words(Period.parse("2026/27 H1")) == "H1 last year"
    assert same_period_words(Period.parse("2026/27")) == "last year"
    assert period_words(Period.parse("2026/27 M1")) == "April"
    assert period_words(Period.parse("2026/27")) == "the year"


def test_plausibility_looks_at_the_eight_periods_before_or_the_same_period_of_three_years():
    ordinary = [p.label for p in plausibility_periods(APRIL, cumulative=False)]
    assert ordinary[:2] == ["2025/26 M12", "2025/26 M11"]
    assert len(ordinary) == 8
    cumulative = [p.label for p in plausibility_periods(APRIL, cumulative=True)]
    assert cumulative == ["2025/26 M1", "2024/25 M1", "2023/24 M1"]
