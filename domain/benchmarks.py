"""Benchmarks: where a measure's figure stands against other councils'.

Seed 001: "Where data is available all measures should be compared against other
authorities' performance ... the all England average, English County Councils' average
and/or comparison with a group of like authorities, such as the Ofsted Statistical
Neighbours Group or the CIPFA Nearest Neighbours." Seed 004 names the sources (LG Inform,
SOCITM, APSE, Housemark, CIPFA). A council gives any number of comparator groups a measure,
a row per period, with the group's quartile boundaries where the source publishes them.

A figure is set beside each group's row of its own period, else the group's latest earlier
one (by the day the row's period ends, so an annual benchmark serves a monthly measure);
a row without a period stands for any period that has none. A cumulative measure's
year-to-date figure is set only beside rows of the same point in the year (an April figure
is never compared with a year's outturn), and its undated rows are taken as the outturn's.

One sentence says where a figure stands ("better than the England average of 96.1%; 2nd
quartile of CIPFA nearest neighbours (median 95.8%)"), or with no figure what the
comparators are: the return card, the receipt, ``status``, the board and the escalation card
all show it (``standing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import Benchmark, Measure
from domain.numbers import Unit, format_exact
from domain.periods import Period
from domain.ratings import Polarity

# The benchmarks sheet, as `perfbot import` reads it and ``sheet_rows`` writes it.
BENCHMARK_COLUMNS = (
    "code",
    "period",
    "group",
    "value",
    "lower_quartile",
    "median",
    "upper_quartile",
    "source",
)
# The measures sheet's columns of old workbooks, read as undated rows of these groups.
OLD_MEASURE_COLUMNS = {
    "benchmark_england": "England",
    "benchmark_neighbours": "Statistical nearest neighbours",
}
QUARTILE_WORDS = {1: "top quartile", 2: "2nd quartile", 3: "3rd quartile", 4: "bottom quartile"}


@dataclass(frozen=True, slots=True)
class Comparator:
    """One comparator group's figure, as a sentence uses it."""

    group: str
    period: Period | None  # None: for any period without a row of its own
    value: Decimal
    quartiles: tuple[Decimal, Decimal, Decimal] | None  # lower, median, upper
    source: str | None

    @classmethod
    def of(cls, row: Benchmark) -> Comparator:
        quartiles = None
        if (
            row.lower_quartile is not None
            and row.median is not None
            and row.upper_quartile is not None
        ):
            quartiles = (row.lower_quartile, row.median, row.upper_quartile)
        period = Period.parse(row.period) if row.period else None
        return cls(row.comparator, period, row.value, quartiles, row.source)


def applying(
    comparators: Iterable[Comparator], period: Period, cumulative: bool = False
) -> list[Comparator]:
    """Each group's comparator for a figure of ``period``, in the order first given: its
    row of that period, else its latest earlier one, else its undated row. A cumulative
    measure's only of the same point in the year (the month its period ends in), its
    undated rows only for the year's last period."""
    chosen: dict[str, Comparator] = {}
    undated: dict[str, Comparator] = {}
    order: list[str] = []
    for c in comparators:
        if c.group not in order:
            order.append(c.group)
        if c.period is None:
            if not cumulative or period.index == period.frequency.periods_per_year:
                undated.setdefault(c.group, c)
            continue
        if c.period.end > period.end:
            continue
        if cumulative and c.period.end.month != period.end.month:
            continue
        best = chosen.get(c.group)
        if best is None or _rank(c, period) > _rank(best, period):
            chosen[c.group] = c
    return [chosen.get(g) or undated[g] for g in order if g in chosen or g in undated]


def _rank(c: Comparator, period: Period) -> tuple[object, bool]:
    assert c.period is not None
    return (c.period.end, c.period.frequency is period.frequency)


def quartile(
    figure: Decimal, quartiles: tuple[Decimal, Decimal, Decimal], polarity: Polarity
) -> int:
    """Which quartile of the group ``figure`` is in, 1 the best: with higher is better, at
    or above the upper boundary is the top; with lower is better, at or below the lower."""
    lower, median, upper = quartiles
    if polarity is Polarity.HIGHER:
        return 1 if figure >= upper else 2 if figure >= median else 3 if figure >= lower else 4
    return 1 if figure <= lower else 2 if figure <= median else 3 if figure <= upper else 4


def _average(group: str) -> str:
    return group if group.lower().endswith("average") else f"{group} average"


def _whence(c: Comparator, period: Period | None, *before: str) -> str:
    """What follows a comparator in brackets: ``before`` (its median, its quartiles), its
    source, and its period when not the figure's own."""
    when = c.period.label if c.period is not None and c.period != period else ""
    said = ", ".join(p for p in (c.source, when) if p)
    inside = "; ".join(p for p in (*before, said) if p)
    return f" ({inside})" if inside else ""


def standing(
    figure: Decimal | None,
    comparators: Sequence[Comparator],
    polarity: Polarity,
    unit: Unit,
    decimals: int,
    period: Period | None = None,
) -> str:
    """Where ``figure`` stands against ``comparators`` (those ``applying`` to its period), a
    clause a group: "better than the England average of 96.1%; 2nd quartile of CIPFA
    nearest neighbours (median 95.8%)". With no figure, what the comparators are, for
    context: "England average 96.1%; CIPFA nearest neighbours 95.9% (quartiles 94.9%, 95.8%,
    96.5%)". A comparator's source, and its period when not ``period``, follow it in
    brackets: "(median 95.8%; CIPFA, 2025/26)". "" when there are none."""

    def shown(value: Decimal) -> str:
        return format_exact(value, unit, decimals)

    clauses = []
    for c in comparators:
        if figure is None:
            spread = f"quartiles {', '.join(shown(q) for q in c.quartiles)}" if c.quartiles else ""
            clauses.append(f"{c.group} {shown(c.value)}{_whence(c, period, spread)}")
        elif c.quartiles:
            place = QUARTILE_WORDS[quartile(figure, c.quartiles, polarity)]
            median = f"median {shown(c.quartiles[1])}"
            clauses.append(f"{place} of {c.group}{_whence(c, period, median)}")
        else:
            whence = _whence(c, period)
            if figure == c.value:
                how = "level with"
            else:
                better = figure > c.value if polarity is Polarity.HIGHER else figure < c.value
                how = "better than" if better else "worse than"
            clauses.append(f"{how} the {_average(c.group)} of {shown(c.value)}{whence}")
    return "; ".join(clauses)


def standing_of(
    measure: Measure, period: Period, figure: Decimal | None, rows: Iterable[Benchmark]
) -> str:
    """``standing`` for a measure's figure of ``period`` (or its comparators, with none)
    from its benchmark rows as stored; "" for a key action."""
    if measure.is_key_action:
        return ""
    comparators = applying((Comparator.of(r) for r in rows), period, measure.cumulative)
    return standing(figure, comparators, measure.polarity, measure.unit, measure.decimals, period)


_IN_ORDER = select(Benchmark).order_by(Benchmark.id)
_OF_MEASURES = _IN_ORDER.where(Benchmark.measure_id.in_(bindparam("ids", expanding=True)))  # once


async def rows_of(
    session: AsyncSession, measure_ids: Iterable[int] | None
) -> dict[int, list[Benchmark]]:
    """Each measure's benchmark rows, in the order they were given, in one query; with
    ``measure_ids`` None, every measure's (a report of thousands: no list of ids to send)."""
    query, values = _IN_ORDER, {}
    found: dict[int, list[Benchmark]] = {}
    if measure_ids is not None:
        ids = sorted(set(measure_ids))
        found = {i: [] for i in ids}
        if not ids:
            return found
        query, values = _OF_MEASURES, {"ids": ids}
    for row in await session.scalars(query, values):
        found.setdefault(row.measure_id, []).append(row)
    return found


async def sheet_rows(session: AsyncSession) -> list[tuple[str, ...]]:
    """The benchmarks sheet in BENCHMARK_COLUMNS, as import reads it: importing it back
    changes nothing. By measure code, then as given."""
    codes = dict((await session.execute(select(Measure.id, Measure.code))).all())
    rows = (await session.scalars(select(Benchmark).order_by(Benchmark.id))).all()

    def text(value: Decimal | None) -> str:
        return "" if value is None else f"{value:f}"

    out = [
        (
            codes[r.measure_id],
            r.period or "",
            r.comparator,
            text(r.value),
            text(r.lower_quartile),
            text(r.median),
            text(r.upper_quartile),
            r.source or "",
        )
        for r in rows
    ]
    return sorted(out, key=lambda row: row[0])  # stable: each measure's rows as given
