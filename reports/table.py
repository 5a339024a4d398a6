"""A report as tables: its sections, each a header row and rows of plain values, shared by
the xlsx workbook (reports/workbook.py) and the CSV files (reports/csvfiles.py) so that the
two cannot disagree.

Numbers stay numbers (a Decimal becomes an int for a measure of 0 decimal places, else a
float), dates stay dates, yes/no is written "Yes"/"No", and the rating is its word. A number
carries the format a spreadsheet shows it in (``0.0"%"`` for a percentage of 1 decimal place:
the council stores 29.2 meaning 29.2%, so it is not scaled by 100)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.board import (
    AnnualRow,
    BoardRow,
    Headline,
    OverdueRow,
    PlanEntry,
    Report,
    ReportKind,
    Travel,
)
from domain.questions import Question
from domain.ratings import Direction, Rating

Value = str | int | float | date | None

DATE_FORMAT = "d mmm yyyy"
COUNT_FORMAT = "#,##0"
VARIANCE_FORMAT = '0.0"%"'


@dataclass(frozen=True)
class Figure:
    """A number and how a spreadsheet shows it (``0.0"%"``, ``"£"#,##0.00``)."""

    value: int | float
    number_format: str
    places: int | None = None  # decimal places to write it with in a CSV (as export does)


Cell = Value | Figure


@dataclass(frozen=True)
class Column:
    name: str
    width: int  # in characters, for the workbook


@dataclass(frozen=True)
class Section:
    """One table: a sheet of the workbook, a CSV file."""

    name: str  # the sheet's name, e.g. "Measures"
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]]

    @property
    def slug(self) -> str:
        """Its name in a file name: "action-plans"."""
        return self.name.lower().replace(" ", "-")

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


def plain(cell: Cell) -> Value:
    """The value without its format."""
    return cell.value if isinstance(cell, Figure) else cell


def number_format(unit: str, decimals: int) -> str:
    """How a spreadsheet shows a measure's figure: ``0.0"%"``, ``"£"#,##0.00``, ``#,##0``."""
    places = f".{'0' * decimals}" if decimals > 0 else ""
    if unit == "percent":
        return f'0{places}"%"'
    if unit == "currency":
        return f'"£"#,##0{places}'
    return f"#,##0{places}"


def figure(value: Decimal | None, unit: str, decimals: int) -> Cell:
    if value is None:
        return None
    number: int | float = (
        int(value) if decimals <= 0 and value == value.to_integral_value() else float(value)
    )
    return Figure(number, number_format(unit, decimals), decimals if decimals > 0 else None)


def variance_percent(variance: Decimal | None) -> Cell:
    """The variance as a percentage of target, 1 decimal place, as the export prints it."""
    if variance is None:
        return None
    return Figure(float(round(variance * 100, 1)), VARIANCE_FORMAT, 1)


def count(number: int) -> Figure:
    return Figure(number, COUNT_FORMAT)


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def rating_word(rating: Rating | None) -> str:
    return rating.word if rating else "Not rated"


def rating_symbol(rating: Rating | None) -> str:
    return rating.symbol if rating else ""


def direction_word(direction: Direction | None) -> str:
    return direction.value if direction else ""


def kind_word(is_key_action: bool) -> str:
    return "Key action" if is_key_action else "Measure"


def _columns(*spec: tuple[str, int]) -> tuple[Column, ...]:
    return tuple(Column(name, width) for name, width in spec)


# ---- the sections --------------------------------------------------------------------------

_IDENTITY = (
    ("Code", 10),
    ("Measure", 40),
    ("Kind", 11),
    ("Priority", 30),
    ("Portfolio", 30),
    ("Service", 26),
    ("Owner", 20),
    ("Period", 12),
    ("Unit", 9),
)


def _identity(row: BoardRow | AnnualRow) -> tuple[Cell, ...]:
    return (
        row.code,
        row.title,
        kind_word(row.is_key_action),
        row.priority,
        row.portfolio,
        row.service,
        row.owner,
        row.period,
        row.unit,
    )


def _travel(travel: Travel, unit: str, decimals: int) -> tuple[Cell, ...]:
    """The earlier period, its figure (a number where it is one; a key action's status as
    its word) and the direction since."""
    earlier: Cell = figure(travel.value, unit, decimals)
    if earlier is None and travel.shown != "—":
        earlier = travel.shown
    return (travel.period, earlier, direction_word(travel.direction))


# A column a review question (domain/questions.py), headed as the board shows its answers.
ANSWER_COLUMNS = tuple((q.heading, 40) for q in Question)


def _answers(row: BoardRow) -> tuple[Cell, ...]:
    said = dict(row.answers)
    return tuple(said.get(q) for q in Question)


MEASURE_COLUMNS = _columns(
    *_IDENTITY,
    ("Target", 10),
    ("Actual", 10),
    ("As reported", 14),
    ("Rating", 10),
    ("Symbol", 7),
    ("Rating explained", 44),
    ("Variance %", 11),
    ("Previous period", 14),
    ("Previous figure", 14),
    ("Against previous period", 14),
    ("Same period last year", 14),
    ("Last year's figure", 14),
    ("Against last year", 14),
    ("Benchmarks", 30),
    ("Commentary", 60),
    *ANSWER_COLUMNS,
    ("Why no figure", 30),
    ("Action", 40),
    ("Action due", 12),
    ("Action plan items", 10),
    ("Due", 12),
    ("Overdue", 9),
    ("Approval", 12),
    ("Sign-off", 36),
    ("Restated", 9),
    ("Restated from", 12),
    ("Correction reason", 40),
    ("Escalation", 60),
)


def _measure(row: BoardRow) -> tuple[Cell, ...]:
    return (
        *_identity(row),
        figure(row.target, row.unit, row.decimals),
        figure(row.actual, row.unit, row.decimals),
        row.actual_shown,
        rating_word(row.rating),
        rating_symbol(row.rating),
        row.rating_sentence,
        variance_percent(row.variance),
        *_travel(row.previous, row.unit, row.decimals),
        *_travel(row.last_year, row.unit, row.decimals),
        row.benchmark_words or None,
        row.commentary,
        *_answers(row),
        row.not_available_reason,
        row.remedial_action,
        row.action_due,
        count(len(row.plan)),
        row.due,
        yes_no(row.overdue),
        row.approval,
        row.approval_words,
        yes_no(row.restated),
        row.restated_from,
        row.correction_reason,
        " ".join(row.escalation) or None,
    )


EXCEPTION_COLUMNS = _columns(
    *_IDENTITY,
    ("Target", 10),
    ("Actual", 10),
    ("As reported", 14),
    ("Rating", 10),
    ("Symbol", 7),
    ("Rating explained", 44),
    ("Variance %", 11),
    ("Previous period", 14),
    ("Previous figure", 14),
    ("Against previous period", 14),
    ("Commentary", 60),
    *ANSWER_COLUMNS,
    ("Action", 40),
    ("By when", 12),
    ("Action plan items", 10),
    ("Escalation decisions", 60),
    ("Approval", 12),
    ("Sign-off", 36),
    ("Restated", 9),
    ("Restated from", 12),
    ("Correction reason", 40),
)


def _exception(row: BoardRow) -> tuple[Cell, ...]:
    return (
        *_identity(row),
        figure(row.target, row.unit, row.decimals),
        figure(row.actual, row.unit, row.decimals),
        row.actual_shown,
        rating_word(row.rating),
        rating_symbol(row.rating),
        row.rating_sentence,
        variance_percent(row.variance),
        *_travel(row.previous, row.unit, row.decimals),
        row.commentary,
        *_answers(row),
        row.remedial_action,
        row.action_due,
        count(len(row.plan)),
        " ".join(row.escalation) or None,
        row.approval,
        row.approval_words,
        yes_no(row.restated),
        row.restated_from,
        row.correction_reason,
    )


PLAN_COLUMNS = _columns(
    ("Code", 10),
    ("Measure", 40),
    ("Priority", 30),
    ("Portfolio", 30),
    ("Service", 26),
    ("Action", 50),
    ("Action owner", 20),
    ("Due", 12),
    ("Status", 9),
    ("Progress", 50),
    ("From period", 12),
)


def _plan(row: BoardRow, entry: PlanEntry) -> tuple[Cell, ...]:
    return (
        row.code,
        row.title,
        row.priority,
        row.portfolio,
        row.service,
        entry.description,
        entry.owner,
        entry.due,
        entry.status,
        entry.progress,
        entry.period,
    )


OVERDUE_COLUMNS = _columns(
    ("Code", 10),
    ("Measure", 40),
    ("Priority", 30),
    ("Portfolio", 30),
    ("Service", 26),
    ("Owner", 20),
    ("Period", 12),
    ("Due", 12),
    ("Working days late", 10),
    ("Escalated", 10),
    ("Acknowledged", 13),
)


def _overdue(row: OverdueRow) -> tuple[Cell, ...]:
    return (
        row.code,
        row.title,
        row.priority,
        row.portfolio,
        row.service,
        row.owner,
        row.period,
        row.due,
        count(row.working_days_late),
        yes_no(row.escalated),
        yes_no(row.acknowledged),
    )


OUTTURN_COLUMNS = _columns(
    *_IDENTITY,
    ("Target", 10),
    ("Outturn", 10),
    ("As reported", 14),
    ("Rating", 10),
    ("Symbol", 7),
    ("Rating explained", 44),
    ("Last year's period", 14),
    ("Last year's outturn", 12),
    ("Last year's as reported", 14),
    ("Last year's rating", 12),
    ("Against last year", 14),
    ("Commentary", 60),
    ("Approval", 12),
    ("Sign-off", 36),
    ("Restated", 9),
    ("Restated from", 12),
)


def _outturn(row: AnnualRow) -> tuple[Cell, ...]:
    return (
        *_identity(row),
        figure(row.target, row.unit, row.decimals),
        figure(row.outturn, row.unit, row.decimals),
        row.outturn_shown,
        rating_word(row.rating),
        rating_symbol(row.rating),
        row.rating_sentence,
        row.last_year_period,
        figure(row.last_year, row.unit, row.decimals),
        row.last_year_shown,
        rating_word(row.last_year_rating) if row.last_year_rating or row.last_year else "",
        direction_word(row.direction),
        row.commentary,
        row.approval,
        row.approval_words,
        yes_no(row.restated),
        row.restated_from,
    )


ALL_SERVICES = "All services"


def headlines(headline: Headline) -> Section:
    """Counts by rating for each service, then the whole report."""
    ratings: list[Rating | None] = [*headline.ratings, None]
    columns = _columns(("Service", 34), *((rating_word(r), 11) for r in ratings), ("Total", 9))

    def line(name: str, counts: dict[Rating | None, int]) -> tuple[Cell, ...]:
        return (
            name,
            *(count(counts.get(r, 0)) for r in ratings),
            count(sum(counts.values())),
        )

    rows = [line(name, counts) for name, counts in sorted(headline.by_service.items())]
    rows.append(line(ALL_SERVICES, headline.total))
    return Section("Headlines", columns, rows)


def portfolios(headline: Headline) -> list[Section]:
    """Counts by rating for each Cabinet portfolio (none if no measure has one)."""
    if not headline.by_portfolio:
        return []
    ratings: list[Rating | None] = [*headline.ratings, None]
    columns = _columns(("Portfolio", 34), *((rating_word(r), 11) for r in ratings), ("Total", 9))
    rows: list[tuple[Cell, ...]] = [
        (name, *(count(counts.get(r, 0)) for r in ratings), count(sum(counts.values())))
        for name, counts in headline.by_portfolio.items()
    ]
    return [Section("Portfolios", columns, rows)]


def _section(
    name: str,
    columns: tuple[Column, ...],
    make: Callable[[BoardRow], tuple[Cell, ...]],
    rows: Sequence[BoardRow],
) -> Section:
    return Section(name, columns, [make(r) for r in rows])


def plans(report: Report) -> Section:
    return Section("Action plans", PLAN_COLUMNS, [_plan(r, e) for r in report.rows for e in r.plan])


def overdue(report: Report) -> Section:
    return Section("Overdue", OVERDUE_COLUMNS, [_overdue(r) for r in report.overdue])


def sections(report: Report) -> list[Section]:
    """The report's tables, the main one first after the headline counts: the board's
    Headlines, Measures, Action plans (and Overdue, if the report lists overdue returns);
    the exception report's Exceptions, Action plans, Overdue; the annual report's Headlines
    and Outturn."""
    if report.kind is ReportKind.BOARD:
        board = [
            headlines(report.headline),
            *portfolios(report.headline),
            _section("Measures", MEASURE_COLUMNS, _measure, report.rows),
            plans(report),
        ]
        # The board's own overdue returns are its rows' "Overdue" column; a list of them
        # (with how late) is the exception report's, and the board's only if it has one.
        return [*board, overdue(report)] if report.overdue else board
    if report.kind is ReportKind.EXCEPTIONS:
        return [
            _section("Exceptions", EXCEPTION_COLUMNS, _exception, report.rows),
            plans(report),
            overdue(report),
        ]
    return [
        headlines(report.headline),
        *portfolios(report.headline),
        Section("Outturn", OUTTURN_COLUMNS, [_outturn(r) for r in report.annual]),
    ]


MAIN_SECTION = {
    ReportKind.BOARD: "Measures",
    ReportKind.EXCEPTIONS: "Exceptions",
    ReportKind.ANNUAL: "Outturn",
}


def main_section(report: Report) -> str:
    """The table a single CSV file holds: the measures, the exceptions, the outturn."""
    return MAIN_SECTION[report.kind]
