"""Performance by measure and period: the figures, their ratings and direction of travel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.dates import LONDON
from domain.model import (
    ClosureDay,
    Deadline,
    Measure,
    MeasureKind,
    Milestone,
    Person,
    Return,
    ReturnAnswer,
    Target,
)
from domain.numbers import quantize
from domain.periods import Period
from domain.profiles import comparisons
from domain.questions import Question
from domain.ratings import (
    Assessment,
    Dated,
    Direction,
    KeyActionStatus,
    MeasureRule,
    RatingError,
    Scheme,
    assess,
    assess_key_action,
    direction,
    first_past_due,
    progress_word,
)
from domain.workdays import PublishedDeadline, WorkingCalendar

EXPORT_COLUMNS = (
    "code",
    "title",
    "service",
    "period",
    "target",
    "actual",
    "variance_pct",
    "rating",
    "direction",
)

# What `perfbot export --with ...` may add, and what each adds.
WITH_CHOICES = {
    "commentary": "each return's commentary, remedial action and action due date, and its "
    "answers to the review questions",
    "versions": "every version of each return, on a sheet (or CSV file) of its own",
    "portfolio": "each measure's Cabinet portfolio and Council Plan priorities, rows by portfolio",
}
# A restated figure (changed after its period was signed off) shows the figure it replaced.
RESTATED_COLUMNS = ("restated_from",)
COMMENTARY_COLUMNS = ("commentary", "remedial_action", "action_due")
# Beside the service, with --with portfolio (priorities separated by "; ", as import reads).
PORTFOLIO_COLUMNS = ("portfolio", "priorities")
# The review questions' answers (domain/questions.py), a column each, named as the question
# is; the actuals sheet reads the same columns, so an export imports as it was.
ANSWER_COLUMNS = tuple(q.value for q in Question)
VERSION_COLUMNS = (
    "code",
    "period",
    "version",
    "figure",
    "state",
    "submitted_by",
    "submitted_at",
    "source",
    "reviewed_by",
    "reviewed_at",
    "review_comment",
    "restated",
    "restated_from",
    "correction_reason",
)

# The deadlines sheet, as `perfbot export --deadlines` writes it and `perfbot import` reads it.
DEADLINE_COLUMNS = ("frequency", "code", "period", "due_date", "review_date", "review")


@dataclass(frozen=True)
class PerformanceRow:
    """One measure in one period, rated."""

    measure: Measure
    period: Period
    target: Decimal | None
    # The newest version: a Return, or (from ``performance``) a row of the returns table's
    # columns, read by the same attribute names.
    latest: Return | ReturnRow | None
    assessment: Assessment
    direction: Direction | None  # against the previous period (cumulative: last year's)
    direction_last_year: Direction | None
    answers: Mapping[str, str] = field(default_factory=dict)  # the newest return's, by question

    def export_values(self) -> tuple[Any, ...]:
        m = self.measure
        actual: Any = None
        if self.latest is not None:
            actual = (
                progress_word(self.latest.status, self.latest.exceeding_expectations)
                if m.is_key_action
                else self.latest.value
            )
        variance = self.assessment.variance
        return (
            m.code,
            m.title,
            m.service.name,
            self.period.label,
            None if self.target is None else _rounded(self.target, m.decimals),
            actual,
            None if variance is None else _rounded(variance * 100, 1),
            self.assessment.rating.word if self.assessment.rating else None,
            self.direction.value if self.direction else None,
        )

    def export_values_with(self, extras: frozenset[str]) -> tuple[Any, ...]:
        """The row for ``export_columns(extras)``: the earlier figure of a restatement beside
        the actual, then (with commentary) the return's own words."""
        values = list(self.export_values())
        latest = self.latest
        restated = latest.restated_from if latest is not None and latest.restated else None
        values.insert(EXPORT_COLUMNS.index("actual") + 1, restated)
        if "portfolio" in extras:
            at = EXPORT_COLUMNS.index("service") + 1
            values[at:at] = [self.measure.portfolio, "; ".join(self.measure.priorities) or None]
        if "commentary" in extras:
            values += [
                latest.commentary if latest else None,
                latest.remedial_action if latest else None,
                latest.action_due if latest else None,
                *(self.answers.get(name) for name in ANSWER_COLUMNS),
            ]
        return tuple(values)


def export_columns(extras: frozenset[str]) -> tuple[str, ...]:
    """The performance export's columns: EXPORT_COLUMNS with a restatement's earlier figure
    beside the actual (and with portfolio, the portfolio and priorities beside the service),
    then what ``extras`` add."""
    at = EXPORT_COLUMNS.index("actual") + 1
    columns = EXPORT_COLUMNS[:at] + RESTATED_COLUMNS + EXPORT_COLUMNS[at:]
    if "portfolio" in extras:
        at = columns.index("service") + 1
        columns = columns[:at] + PORTFOLIO_COLUMNS + columns[at:]
    if "commentary" in extras:
        columns += COMMENTARY_COLUMNS + ANSWER_COLUMNS
    return columns


def by_portfolio(rows: list[PerformanceRow]) -> list[PerformanceRow]:
    """The export's rows grouped by Cabinet portfolio (those without one last), then as
    before: by code and period."""
    return sorted(rows, key=lambda r: (r.measure.portfolio is None, r.measure.portfolio or ""))


def parse_extras(text: str) -> frozenset[str]:
    """``commentary,versions`` -> the extras; an unknown word is refused, naming the choices."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    choices = ", ".join(WITH_CHOICES)
    unknown = [w for w in words if w not in WITH_CHOICES]
    if unknown:
        raise ValueError(
            f"--with: '{unknown[0]}' is not one of {choices}; write for example "
            f"--with {','.join(WITH_CHOICES)}"
        )
    if not words:
        raise ValueError(f"--with needs one or more of {choices}, separated by commas")
    return frozenset(words)


def _in_london(moment: datetime | None) -> datetime | None:
    """A moment as London's wall clock shows it, without a zone (a spreadsheet keeps none)."""
    return None if moment is None else moment.astimezone(LONDON).replace(tzinfo=None)


async def return_versions(
    session: AsyncSession, period: Period | None = None
) -> list[tuple[Any, ...]]:
    """Every version of every return of the active measures (of one period), oldest version
    first, as rows of VERSION_COLUMNS: who sent it, how, who reviewed it, and any restatement."""
    emails = dict((await session.execute(select(Person.id, Person.email))).all())
    query = (
        select(Measure.code, Measure.kind, Return)
        .join(Measure, Return.measure_id == Measure.id)
        .where(Measure.active)
    )
    if period is not None:
        query = query.where(Return.period == period.label)
    rows = []
    for code, kind, ret in (await session.execute(query)).all():
        figure = (
            progress_word(ret.status, ret.exceeding_expectations)
            if kind is MeasureKind.KEY_ACTION
            else ret.value
        )
        rows.append(
            (
                code,
                ret.period,
                ret.version,
                figure,
                ret.state.value,
                emails.get(ret.submitted_by_id or 0),
                _in_london(ret.submitted_at),
                ret.source,
                emails.get(ret.reviewed_by_id or 0),
                _in_london(ret.reviewed_at),
                ret.review_comment,
                "yes" if ret.restated else "no",
                ret.restated_from,
                ret.correction_reason,
            )
        )
    rows.sort(key=lambda r: (r[0], Period.parse(r[1]), r[2]))
    return rows


async def load_calendar(session: AsyncSession) -> WorkingCalendar:
    """The working calendar with the council's own closure days and published deadlines."""
    days = (await session.scalars(select(ClosureDay.day))).all()
    return WorkingCalendar(days, await published_deadlines(session))


async def published_deadlines(session: AsyncSession) -> list[PublishedDeadline]:
    """Every deadline of the council's timetable, in period order, each period's frequency
    row before its measures' own rows."""
    rows = await session.execute(
        select(
            Deadline.period,
            Deadline.due_date,
            Measure.code,
            Deadline.review_date,
            Deadline.review,
        ).outerjoin(Measure, Deadline.measure_id == Measure.id)
    )
    deadlines = [
        PublishedDeadline(Period.parse(period), due, code, review_date, review)
        for period, due, code, review_date, review in rows
    ]
    return sorted(deadlines, key=lambda d: (d.period, d.code or ""))


def deadline_values(deadline: PublishedDeadline) -> tuple[str | date | None, ...]:
    """One deadline as a row of the deadlines sheet (DEADLINE_COLUMNS)."""
    return (
        None if deadline.code else deadline.period.frequency.value,
        deadline.code,
        deadline.period.label,
        deadline.due,
        deadline.review_date,
        deadline.review,
    )


_RETURNS_IN_ORDER = select(Return).order_by(Return.measure_id, Return.period, Return.version)
# Built once (each submission reads its measure's returns of the periods around it).
_RETURNS_OF_PERIODS = _RETURNS_IN_ORDER.where(
    Return.measure_id.in_(bindparam("ids", expanding=True)),
    Return.period.in_(bindparam("periods", expanding=True)),
)


async def latest_returns(
    session: AsyncSession,
    measure_ids: list[int] | None = None,
    periods: list[str] | None = None,
) -> dict[tuple[int, str], Return]:
    """The newest version of every return (of these measures, for these periods), by
    (measure id, period label). The one place "the newest return" is worked out."""
    query, values = _RETURNS_IN_ORDER, {}
    if measure_ids is not None and periods is not None:  # a submission's: built once, above
        query, values = _RETURNS_OF_PERIODS, {"ids": list(measure_ids), "periods": list(periods)}
    elif measure_ids is not None:
        query = query.where(Return.measure_id.in_(measure_ids))
    elif periods is not None:
        query = query.where(Return.period.in_(periods))
    latest: dict[tuple[int, str], Return] = {}
    for ret in (await session.scalars(query, values)).all():
        latest[(ret.measure_id, ret.period)] = ret
    return latest


async def milestones_of(
    session: AsyncSession, measure_ids: Iterable[int] | None = None
) -> dict[int, list[Milestone]]:
    """The milestones of these key actions (or of all), by measure id, in date order: what a
    key action's rating reads besides its return (a milestone past its date counts as
    unlikely)."""
    query = select(Milestone).order_by(Milestone.due_date, Milestone.id)
    if measure_ids is not None:
        query = query.where(Milestone.measure_id.in_(list(measure_ids)))
    found: dict[int, list[Milestone]] = {}
    for milestone in (await session.scalars(query)).all():
        found.setdefault(milestone.measure_id, []).append(milestone)
    return found


async def answers_of(
    session: AsyncSession, return_ids: Iterable[int | None]
) -> dict[int, dict[str, str]]:
    """The review questions' answers (domain/questions.py) of these return versions: by
    return id, each a dict from question to answer (a version that answered none is absent)."""
    wanted = sorted({i for i in return_ids if i is not None})
    found: dict[int, dict[str, str]] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists, whatever the database
        for return_id, question, answer in await session.execute(
            select(ReturnAnswer.return_id, ReturnAnswer.question, ReturnAnswer.answer).where(
                ReturnAnswer.return_id.in_(wanted[start : start + 500])
            )
        ):
            found.setdefault(return_id, {})[question] = answer
    return found


class Reported(Protocol):
    """What a rating reads of a return: a stored version, or its columns as read."""

    @property
    def value(self) -> Decimal | None: ...

    @property
    def status(self) -> str | None: ...

    @property
    def exceeding_expectations(self) -> bool: ...


class RatedMeasure(Protocol):
    """What a rating reads of a measure: a stored one, or its columns as read."""

    @property
    def scheme(self) -> Scheme | None: ...

    @property
    def is_key_action(self) -> bool: ...

    @property
    def due_date(self) -> date | None: ...

    @property
    def data_only(self) -> bool: ...

    def rule(self, default_scheme: Scheme) -> MeasureRule: ...


def is_newest_version() -> ColumnElement[bool]:
    """``latest_returns`` as an SQL condition on Return, for a query that filters by it: no
    newer version of the same return exists."""
    newer = aliased(Return)
    return ~(
        select(newer.id)
        .where(
            newer.measure_id == Return.measure_id,
            newer.period == Return.period,
            newer.version > Return.version,
        )
        .exists()
    )


def rate(
    measure: RatedMeasure,
    period: Period,
    target: Decimal | None,
    latest: Reported | None,
    default_scheme: Scheme,
    milestones: Iterable[Dated] = (),
    rule: MeasureRule | None = None,
) -> Assessment:
    """A measure's rating for a period from its target and newest return (a key action's
    from its status, its due date and its ``milestones``); ``rule``, the measure's own
    (``measure.rule(default_scheme)``) when the caller rates many periods of it."""
    scheme = measure.scheme or default_scheme
    if measure.is_key_action:
        status = KeyActionStatus.parse(latest.status) if latest and latest.status else None
        return assess_key_action(
            status,
            scheme,
            exceeding_expectations=bool(latest and latest.exceeding_expectations),
            due=measure.due_date,
            today=period.end,  # as it stood at the end of the period reported on
            milestone=first_past_due(milestones, period.end),
        )
    actual = latest.value if latest else None
    if measure.data_only:
        target = None
    try:
        return _assessed(
            None if actual is None else str(actual),
            None if target is None else str(target),
            rule or measure.rule(scheme),
        )
    except RatingError as error:
        return Assessment(None, None, f"Cannot be rated: {error}.")


# ReturnRow: a row of the returns table's columns (``performance`` reads them so, not as ORM
# objects: a large council has 180,000 newest versions).
ReturnRow = Row[*tuple[Any, ...]]

# An export of a large council rates and rounds the same figures against the same targets
# many thousand times: each is worked out once. The keys are the figures' text, so that
# 82.5 and 82.50 (equal as Decimals) each keep their own digits.


@lru_cache(maxsize=65536)
def _assessed(actual: str | None, target: str | None, rule: MeasureRule) -> Assessment:
    return assess(
        None if actual is None else Decimal(actual),
        None if target is None else Decimal(target),
        rule,
    )


@lru_cache(maxsize=65536)
def _rounded_text(value: str, decimals: int) -> Decimal:
    return quantize(Decimal(value), decimals)


def _rounded(value: Decimal, decimals: int) -> Decimal:
    return _rounded_text(str(value), decimals)


@lru_cache(maxsize=4096)
def _comparisons(period: Period, cumulative: bool) -> tuple[str, str]:
    """The labels of the headline comparison's period and of the same period last year."""
    against = comparisons(period, cumulative)
    return against.headline.period.label, against.last_year.period.label


async def _newest_rows(session: AsyncSession) -> dict[tuple[int, str], ReturnRow]:
    """As latest_returns, as rows of every column of the returns table."""
    table = Return.__table__
    query = select(*table.c).order_by(table.c.measure_id, table.c.period, table.c.version)
    latest: dict[tuple[int, str], ReturnRow] = {}
    for ret in await session.execute(query):
        latest[(ret.measure_id, ret.period)] = ret
    return latest


async def performance(
    session: AsyncSession, default_scheme: Scheme, period: Period | None = None
) -> list[PerformanceRow]:
    """Every measure and period that has a target or an actual, rated; or, for one period,
    every active measure of that period's frequency, whether or not it has been returned."""
    measures = (
        await session.scalars(select(Measure).where(Measure.active).order_by(Measure.code))
    ).all()
    targets: dict[tuple[int, str], Decimal] = {
        (measure_id, label): value
        for measure_id, label, value in await session.execute(
            select(Target.measure_id, Target.period, Target.value)
        )
    }
    latest = await _newest_rows(session)
    milestones = await milestones_of(session)
    newest = {ret.id for ret in latest.values()}
    said: dict[int, dict[str, str]] = {}
    for return_id, question, answer in await session.execute(
        select(ReturnAnswer.return_id, ReturnAnswer.question, ReturnAnswer.answer)
    ):
        if return_id in newest:
            said.setdefault(return_id, {})[question] = answer
    # Each measure's periods, gathered in one pass over the targets and returns (not a scan
    # of them all for every measure: a large council has 5,000 measures and 400,000 rows).
    labels_of: dict[int, set[str]] = {}
    for measure_id, label in chain(targets, latest):
        labels_of.setdefault(measure_id, set()).add(label)
    parsed: dict[str, Period] = {}
    rows = []
    for measure in measures:
        rule = measure.rule(default_scheme)
        if period is not None:
            if measure.frequency is not period.frequency:
                continue
            periods = [period]
        else:
            periods = sorted(
                parsed.get(label) or parsed.setdefault(label, Period.parse(label))
                for label in labels_of.get(measure.id, ())
            )
        for each in periods:
            ret = latest.get((measure.id, each.label))
            target = targets.get((measure.id, each.label))
            # The direction column is the headline comparison: against the previous period,
            # a cumulative measure's against the same period last year (domain/profiles.py).
            headline, same_last_year = _comparisons(each, measure.cumulative)
            previous = latest.get((measure.id, headline))
            last_year = latest.get((measure.id, same_last_year))
            value = ret.value if ret else None
            rows.append(
                PerformanceRow(
                    measure,
                    each,
                    target,
                    ret,
                    rate(
                        measure,
                        each,
                        target,
                        ret,
                        default_scheme,
                        milestones.get(measure.id, ()),
                        rule,
                    ),
                    direction(value, previous.value if previous else None, measure.polarity),
                    direction(value, last_year.value if last_year else None, measure.polarity),
                    said.get(ret.id, {}) if ret else {},
                )
            )
    return rows
