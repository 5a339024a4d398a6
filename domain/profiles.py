"""Measure profiles: what a figure is compared with, for direction of travel and plausibility.

Most figures stand on their own each period, so they are compared with the period before and
with the same period last year (DESIGN.md). A **cumulative** measure reports a year-to-date
figure (council tax collected in year rises from about 10% in April to about 97% in March,
then starts again): against the period before, every April looks like a collapse and every
other month an improvement. So a cumulative figure is compared only with the same period of
earlier years, and with its profiled target (seed 001: "targets should be profiled over the
year"), never with the period before across the year boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.periods import Frequency, Period

PREVIOUS_PERIODS = 8  # how far back an ordinary figure's plausibility looks
EARLIER_YEARS = 3  # how many years back a cumulative figure's plausibility looks


@dataclass(frozen=True, slots=True)
class Comparison:
    """One earlier period a figure's direction of travel is judged against."""

    period: Period
    words: str  # "the previous period", "the same period last year", "April last year"


@dataclass(frozen=True, slots=True)
class Comparisons:
    """What a figure is compared with: ``previous`` is None for a cumulative measure."""

    previous: Comparison | None
    last_year: Comparison
    cumulative: bool

    @property
    def headline(self) -> Comparison:
        """The one comparison a single direction column or word uses."""
        return self.previous or self.last_year

    @property
    def not_compared(self) -> str:
        """Why there is no comparison with the period before ("" when there is one)."""
        if self.previous is not None:
            return ""
        return f"not compared: a year-to-date figure is compared with {self.last_year.words}"


def period_words(period: Period) -> str:
    """A period as a sentence names it within its year: "April", "Q2", "H1", "the year"."""
    if period.frequency is Frequency.MONTHLY:
        return f"{period.start:%B}"
    if period.frequency is Frequency.ANNUAL:
        return "the year"
    return period.label.split()[-1]


def same_period_words(period: Period) -> str:
    """The same period a year earlier, as a sentence names it: "April last year", "Q2 last
    year", "last year" (an annual period)."""
    if period.frequency is Frequency.ANNUAL:
        return "last year"
    return f"{period_words(period)} last year"


def comparisons(period: Period, cumulative: bool) -> Comparisons:
    """The comparisons for a figure of ``period``: a measure's with the previous period and
    the same period last year; a cumulative measure's with the same period last year only,
    named in words ("April last year")."""
    last_year = period.same_period_last_year()
    if cumulative:
        return Comparisons(None, Comparison(last_year, same_period_words(period)), True)
    return Comparisons(
        Comparison(period.previous(), "the previous period"),
        Comparison(last_year, "the same period last year"),
        False,
    )


def plausibility_periods(period: Period, cumulative: bool) -> list[Period]:
    """The earlier periods a new figure for ``period`` is checked against, newest first: the
    eight before it; for a cumulative measure the same period of the three years before (a
    year-to-date figure is like only itself a year earlier)."""
    if cumulative:
        earlier = [period.same_period_last_year()]
        while len(earlier) < EARLIER_YEARS:
            earlier.append(earlier[-1].same_period_last_year())
        return earlier
    earlier = [period.previous()]
    while len(earlier) < PREVIOUS_PERIODS:
        earlier.append(earlier[-1].previous())
    return earlier
