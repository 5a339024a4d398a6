"""The council as `perfbot import` reads it: every import sheet, written back in import's own
column names (`perfbot export --workbook`), so that importing the file into the same database
changes nothing and importing it into an empty one gives the same council.

WORKBOOK is the table of sheet → export: one line per sheet. A new import sheet (a name in
domain/workbook.py's SHEETS) gets a line here, with its columns and an async function that
reads its rows; tests/integration/test_workbook_export.py fails for an import sheet without one.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import benchmarks, milestones
from domain.dates import LONDON
from domain.model import ClosureDay, Measure, MeasureKind, Person, Service, Target
from domain.periods import Period
from domain.ratings import progress_word
from domain.reporting import (
    ANSWER_COLUMNS,
    DEADLINE_COLUMNS,
    answers_of,
    deadline_values,
    latest_returns,
    published_deadlines,
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class SheetExport:
    """One import sheet as export writes it: its columns (import's names) and its rows."""

    columns: tuple[str, ...]
    rows: Callable[[AsyncSession], Awaitable[list[Row]]]


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell that import reads back as it was: yes/no for a flag, an
    enum's spreadsheet word, a moment as London's time with its offset (exact to the
    microsecond, which a spreadsheet's own date cell is not)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(LONDON).isoformat(sep=" ")
    if isinstance(value, Decimal | date | int | str) or value is None:
        return value
    raise TypeError(f"{value!r} is not a spreadsheet cell")


async def _measures(session: AsyncSession) -> list[Measure]:
    """The active measures, the ones the sheets speak of (a measure set inactive is not
    imported again: import would make it active)."""
    query = select(Measure).where(Measure.active).order_by(Measure.code)
    return list((await session.scalars(query)).all())


PEOPLE_COLUMNS = ("email", "name", "service", "role", "manager_email")


async def people_rows(session: AsyncSession) -> list[Row]:
    people = (await session.scalars(select(Person).order_by(Person.email))).all()
    emails = {p.id: p.email for p in people}
    services = dict((await session.execute(select(Service.id, Service.name))).all())
    return [
        (
            p.email,
            p.name,
            services.get(p.service_id) if p.service_id else None,
            "; ".join(sorted(p.roles)) or None,
            emails.get(p.manager_id) if p.manager_id else None,
        )
        for p in people
    ]


SERVICE_COLUMNS = ("name", "leadership_contact")


async def service_rows(session: AsyncSession) -> list[Row]:
    emails = dict((await session.execute(select(Person.id, Person.email))).all())
    services = (await session.scalars(select(Service).order_by(Service.name))).all()
    return [
        (s.name, emails.get(s.leadership_contact_id) if s.leadership_contact_id else None)
        for s in services
    ]


MEASURE_COLUMNS = (
    "code",
    "title",
    "kind",
    "service",
    "portfolio",
    "priorities",
    "owner_email",
    "delegate_emails",
    "escalation_owner_email",
    "unit",
    "polarity",
    "frequency",
    "decimals",
    "scheme",
    "tolerance",
    "data_only",
    "allow_negative",
    "deadline_working_days",
    "due_date",
    "cumulative",
)


async def measure_rows(session: AsyncSession) -> list[Row]:
    return [
        tuple(
            cell(value)
            for value in (
                m.code,
                m.title,
                m.kind,
                m.service.name,
                m.portfolio,
                "; ".join(m.priorities) or None,
                m.owner.email,
                "; ".join(p.email for p in m.delegates) or None,
                m.escalation_owner.email if m.escalation_owner else None,
                m.unit,
                m.polarity,
                m.frequency,
                m.decimals,
                m.scheme,
                m.tolerance,
                m.data_only,
                m.allow_negative,
                m.deadline_working_days,
                m.due_date,
                m.cumulative,
            )
        )
        for m in await _measures(session)
    ]


TARGET_COLUMNS = ("code", "period", "target")


def _in_order(rows: list[Row]) -> list[Row]:
    """Rows of (code, period label, ...) by code, then period in time order."""
    return sorted(rows, key=lambda r: (r[0], Period.parse(r[1])))


async def target_rows(session: AsyncSession) -> list[Row]:
    codes = {m.id: m.code for m in await _measures(session)}
    targets = (await session.scalars(select(Target))).all()
    return _in_order(
        [(codes[t.measure_id], t.period, t.value) for t in targets if t.measure_id in codes]
    )


# The review questions' answers after the commentary, a column each, as import reads them.
ACTUAL_COLUMNS = (
    "code",
    "period",
    "actual",
    "commentary",
    *ANSWER_COLUMNS,
    "submitted_by",
    "submitted_at",
)


async def actual_rows(session: AsyncSession) -> list[Row]:
    """The newest version of each return with a figure (or a key action's status): what
    import compares a row with. A return sent as "not available" has no figure to import."""
    measures = {m.id: m for m in await _measures(session)}
    emails = dict((await session.execute(select(Person.id, Person.email))).all())
    newest = await latest_returns(session, list(measures))
    said = await answers_of(session, [ret.id for ret in newest.values()])
    rows = []
    for (measure_id, label), ret in newest.items():
        measure = measures[measure_id]
        actual = (
            progress_word(ret.status, ret.exceeding_expectations)
            if measure.kind is MeasureKind.KEY_ACTION
            else ret.value
        )
        if actual is None:
            continue
        rows.append(
            (
                measure.code,
                label,
                actual,
                ret.commentary,
                *(said.get(ret.id, {}).get(column) for column in ANSWER_COLUMNS),
                emails.get(ret.submitted_by_id) if ret.submitted_by_id else None,
                cell(ret.submitted_at),
            )
        )
    return _in_order(rows)


CALENDAR_COLUMNS = ("date", "description")


async def calendar_rows(session: AsyncSession) -> list[Row]:
    days = (await session.scalars(select(ClosureDay).order_by(ClosureDay.day))).all()
    return [(d.day, d.description) for d in days]


async def deadline_rows(session: AsyncSession) -> list[Row]:
    codes = {m.code for m in await _measures(session)}
    return [
        deadline_values(d)
        for d in await published_deadlines(session)
        if d.code is None or d.code in codes
    ]


# Sheet → export, in import's order (people before the services and measures that name them).
async def benchmark_rows(session: AsyncSession) -> list[Row]:
    """The benchmarks of the active measures (the others are not on the measures sheet)."""
    active = {m.code for m in await _measures(session)}
    return [row for row in await benchmarks.sheet_rows(session) if row[0] in active]


WORKBOOK: dict[str, SheetExport] = {
    "people": SheetExport(PEOPLE_COLUMNS, people_rows),
    "services": SheetExport(SERVICE_COLUMNS, service_rows),
    "measures": SheetExport(MEASURE_COLUMNS, measure_rows),
    "targets": SheetExport(TARGET_COLUMNS, target_rows),
    "actuals": SheetExport(ACTUAL_COLUMNS, actual_rows),
    "calendar": SheetExport(CALENDAR_COLUMNS, calendar_rows),
    "deadlines": SheetExport(DEADLINE_COLUMNS, deadline_rows),
    "benchmarks": SheetExport(benchmarks.BENCHMARK_COLUMNS, benchmark_rows),
    "milestones": SheetExport(milestones.MILESTONE_COLUMNS, milestones.sheet_rows),
}


async def workbook_sheets(
    session: AsyncSession,
) -> list[tuple[str, Sequence[str], list[Row]]]:
    """Every sheet of WORKBOOK as (name, columns, rows), ready for workbook.write_workbook
    (one .xlsx) or workbook.write_table (a CSV file each)."""
    return [(name, sheet.columns, await sheet.rows(session)) for name, sheet in WORKBOOK.items()]
