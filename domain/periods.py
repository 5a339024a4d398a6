"""Reporting periods of the UK financial year (1 April to 31 March) and their labels."""

from __future__ import annotations

import calendar
import enum
import functools
import re
from dataclasses import dataclass
from datetime import date


class PeriodError(ValueError):
    """A period label or date that does not name a reporting period."""


# The financial years PerfBot keeps: 2000/01 to 2099/00. Nothing a council reports on lies
# outside them, and within them every label reads back as the period it names (the
# century's last year is 2099/00, read as 2099 to 2100).
FIRST_YEAR = 2000
LAST_YEAR = 2099


def _quoted(text: str) -> str:
    """Text as a message quotes it: at most 40 characters of it."""
    text = text.strip()
    return text if len(text) <= 40 else text[:39] + "…"


def _in_range(year: int, text: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(
            f"'{text}' is outside the financial years PerfBot keeps: write a period from "
            f"{FIRST_YEAR}/{(FIRST_YEAR + 1) % 100:02d} to {LAST_YEAR}/{(LAST_YEAR + 1) % 100:02d}"
        )


class Frequency(enum.StrEnum):
    """How often a measure is reported; the value is the word used in spreadsheets."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half-yearly"
    ANNUAL = "annual"

    @property
    def periods_per_year(self) -> int:
        return _PER_YEAR[self]

    @property
    def months(self) -> int:
        """How many months one period of this frequency spans."""
        return 12 // _PER_YEAR[self]

    @classmethod
    def parse(cls, text: str) -> Frequency:
        word = text.strip().lower().replace(" ", "-").replace("_", "-")
        word = _FREQUENCY_SYNONYMS.get(word, word)
        try:
            return cls(word)
        except ValueError:
            choices = ", ".join(f.value for f in cls)
            raise PeriodError(f"frequency '{_quoted(text)}' is not one of {choices}") from None


_PER_YEAR = {
    Frequency.MONTHLY: 12,
    Frequency.QUARTERLY: 4,
    Frequency.HALF_YEARLY: 2,
    Frequency.ANNUAL: 1,
}
_ORDER = tuple(Frequency)  # a Period keeps its frequency as an index into this
_INDEX = {frequency: index for index, frequency in enumerate(_ORDER)}
_LETTER = {Frequency.MONTHLY: "M", Frequency.QUARTERLY: "Q", Frequency.HALF_YEARLY: "H"}
_BY_LETTER = {letter: frequency for frequency, letter in _LETTER.items()}
_FREQUENCY_SYNONYMS = {
    "month": "monthly",
    "quarter": "quarterly",
    "halfyearly": "half-yearly",
    "half-year": "half-yearly",
    "six-monthly": "half-yearly",
    "annually": "annual",
    "yearly": "annual",
    "year": "annual",
}

# "2025/26 Q2", "2025/26", "2025-26 M3", "2025/2026 h1", "2025/26-Q2" (the reason-key form).
_LABEL = re.compile(
    r"^\s*(?:fy\s*)?(\d{4})\s*[/-]\s*(\d{2}|\d{4})(?:\s*[-\s]\s*([mqh])\s*(\d{1,2}))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """One reporting period: the financial year starting in April of ``year``.

    ``index`` counts from 1 within the year: M1 is April, Q1 is April to June, H1 is
    April to September; an annual period has index 1.
    """

    year: int
    frequency_order: int
    index: int

    @classmethod
    def of(cls, year: int, frequency: Frequency, index: int = 1) -> Period:
        """A period of a financial year PerfBot keeps (FIRST_YEAR to LAST_YEAR)."""
        _in_range(year, f"{year}/{(year + 1) % 100:02d}")
        if not 1 <= index <= frequency.periods_per_year:
            raise PeriodError(
                f"a {frequency.value} period is numbered 1 to {frequency.periods_per_year}, "
                f"not {index}"
            )
        return cls(year, _INDEX[frequency], index)

    @property
    def frequency(self) -> Frequency:
        return _ORDER[self.frequency_order]

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read a label such as ``2025/26 Q2``; the canonical form is what ``label`` prints."""
        match = _LABEL.match(text) if len(text) <= 64 else None
        if not match:
            raise PeriodError(
                f"'{_quoted(text)}' is not a period: write it like 2025/26 M3, 2025/26 Q2, "
                "2025/26 H1 or 2025/26"
            )
        start, end, letter, number = match.groups()
        year = int(start)
        _in_range(year, _quoted(text))
        consecutive = int(end) == year + 1 if len(end) == 4 else int(end) == (year + 1) % 100
        if not consecutive:
            raise PeriodError(
                f"'{_quoted(text)}' is not a period: a financial year runs from one year to the "
                f"next, as in {year}/{(year + 1) % 100:02d}"
            )
        if letter is None:
            return cls.of(year, Frequency.ANNUAL)
        frequency = _BY_LETTER[letter.upper()]
        index = int(number)
        if not 1 <= index <= frequency.periods_per_year:
            raise PeriodError(
                f"'{_quoted(text)}' is not a period: {letter.upper()} runs from 1 to "
                f"{frequency.periods_per_year}"
            )
        return cls.of(year, frequency, index)

    @classmethod
    def containing(cls, day: date, frequency: Frequency) -> Period:
        """The period of ``frequency`` that ``day`` falls in."""
        year = day.year if day.month >= 4 else day.year - 1
        month_of_year = (day.month - 4) % 12  # 0 for April
        return cls.of(year, frequency, month_of_year // frequency.months + 1)

    @property
    def label(self) -> str:
        return _label(self.year, self.frequency_order, self.index)

    def __str__(self) -> str:
        return self.label

    @property
    def start(self) -> date:
        month0 = 3 + (self.index - 1) * self.frequency.months  # months since January of `year`
        return date(self.year + month0 // 12, month0 % 12 + 1, 1)

    @property
    def end(self) -> date:
        month0 = 3 + self.index * self.frequency.months - 1
        year, month = self.year + month0 // 12, month0 % 12 + 1
        return date(year, month, calendar.monthrange(year, month)[1])

    def previous(self) -> Period:
        if self.index > 1:
            return Period(self.year, self.frequency_order, self.index - 1)
        return Period(self.year - 1, self.frequency_order, self.frequency.periods_per_year)

    def next(self) -> Period:
        if self.index < self.frequency.periods_per_year:
            return Period(self.year, self.frequency_order, self.index + 1)
        return Period(self.year + 1, self.frequency_order, 1)

    def same_period_last_year(self) -> Period:
        return Period(self.year - 1, self.frequency_order, self.index)


@functools.cache
def _label(year: int, frequency_order: int, index: int) -> str:
    """A period's label, worked out once (reports print hundreds of thousands of them)."""
    text = f"{year:04d}/{(year + 1) % 100:02d}"
    frequency = _ORDER[frequency_order]
    if frequency is Frequency.ANNUAL:
        return text
    return f"{text} {_LETTER[frequency]}{index}"


def periods_back(period: Period, count: int) -> list[Period]:
    """``period`` and the ``count - 1`` periods before it, newest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive (both of one frequency)."""
    if first.frequency is not last.frequency:
        raise PeriodError(f"{first} and {last} are of different frequencies")
    periods = []
    current = first
    while current <= last:
        periods.append(current)
        current = current.next()
    return periods
