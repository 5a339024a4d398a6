"""Performance by measure and period: the figures, their ratings and direction of travel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import ClosureDay, Deadline, Measure, Return, Target
from domain.numbers import quantize
from domain.periods import Period
from domain.ratings import (
    Assessment,
    Direction,
    KeyActionStatus,
    RatingError,
    Scheme,
    assess,
    assess_key_action,
    direction,
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

# The deadlines sheet, as `perfbot export --deadlines` writes it and `perfbot import` reads it.
DEADLINE_COLUMNS = ("frequency", "code", "period", "due_date", "review_date", "review")


@dataclass(frozen=True)
class PerformanceRow:
    """One measure in one period, rated."""

    measure: Measure
    period: Period
    target: Decimal | None
    latest: Return | None
    assessment: Assessment
    direction: Direction | None
    direction_last_year: Direction | None

    def export_values(self) -> tuple[Any, ...]:
        m = self.measure
        actual: Any = None
        if self.latest is not None:
            actual = self.latest.status if m.is_key_action else self.latest.value
        variance = self.assessment.variance
        return (
            m.code,
            m.title,
            m.service.name,
            self.period.label,
            None if self.target is None else quantize(self.target, m.decimals),
            actual,
            None if variance is None else quantize(variance * 100, 1),
            self.assessment.rating.word if self.assessment.rating else None,
            self.direction.value if self.direction else None,
        )


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


async def latest_returns(
    session: AsyncSession,
    measure_ids: list[int] | None = None,
    periods: list[str] | None = None,
) -> dict[tuple[int, str], Return]:
    """The newest version of every return (of these measures, for these periods), by
    (measure id, period label). The one place "the newest return" is worked out."""
    query = select(Return).order_by(Return.measure_id, Return.period, Return.version)
    if measure_ids is not None:
        query = query.where(Return.measure_id.in_(measure_ids))
    if periods is not None:
        query = query.where(Return.period.in_(periods))
    latest: dict[tuple[int, str], Return] = {}
    for ret in (await session.scalars(query)).all():
        latest[(ret.measure_id, ret.period)] = ret
    return latest


def rate(
    measure: Measure,
    period: Period,
    target: Decimal | None,
    latest: Return | None,
    default_scheme: Scheme,
) -> Assessment:
    """A measure's rating for a period from its target and newest return."""
    scheme = measure.scheme or default_scheme
    if measure.is_key_action:
        status = KeyActionStatus.parse(latest.status) if latest and latest.status else None
        return assess_key_action(
            status,
            scheme,
            exceeding_expectations=bool(latest and latest.exceeding_expectations),
            due=measure.due_date,
            today=period.end,  # as it stood at the end of the period reported on
        )
    actual = latest.value if latest else None
    if measure.data_only:
        target = None
    try:
        return assess(actual, target, measure.rule(scheme))
    except RatingError as error:
        return Assessment(None, None, f"Cannot be rated: {error}.")


async def performance(
    session: AsyncSession, default_scheme: Scheme, period: Period | None = None
) -> list[PerformanceRow]:
    """Every measure and period that has a target or an actual, rated; or, for one period,
    every active measure of that period's frequency, whether or not it has been returned."""
    measures = (
        await session.scalars(select(Measure).where(Measure.active).order_by(Measure.code))
    ).all()
    targets = {
        (t.measure_id, t.period): t.value for t in (await session.scalars(select(Target))).all()
    }
    latest = await latest_returns(session)
    rows = []
    for measure in measures:
        if period is not None:
            if measure.frequency is not period.frequency:
                continue
            periods = [period]
        else:
            labels = {p for (mid, p) in targets if mid == measure.id}
            labels |= {p for (mid, p) in latest if mid == measure.id}
            periods = sorted(Period.parse(label) for label in labels)
        for each in periods:
            ret = latest.get((measure.id, each.label))
            target = targets.get((measure.id, each.label))
            previous = latest.get((measure.id, each.previous().label))
            last_year = latest.get((measure.id, each.same_period_last_year().label))
            value = ret.value if ret else None
            rows.append(
                PerformanceRow(
                    measure,
                    each,
                    target,
                    ret,
                    rate(measure, each, target, ret, default_scheme),
                    direction(value, previous.value if previous else None, measure.polarity),
                    direction(value, last_year.value if last_year else None, measure.polarity),
                )
            )
    return rows
