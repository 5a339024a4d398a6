"""A council's published deadline timetable against a real database (SQLite file and
PostgreSQL): imported as the deadlines sheet, used for every deadline, exported back."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.importing import ImportRejected, ImportSummary, import_workbook
from domain.model import AuditEntry, Deadline, Measure
from domain.periods import Period
from domain.reporting import DEADLINE_COLUMNS, deadline_values, load_calendar, published_deadlines
from domain.views import deadline_of
from domain.workbook import read_sheets, write_table

NOW = datetime(2023, 6, 1, 9, 0, tzinfo=UTC)
CMT = "Corporate Management Team"

PEOPLE = [
    ["email", "name", "service", "role"],
    ["ann@derbyshire.gov.uk", "Ann Lee", "Corporate", "owner"],
]
MEASURES = [
    ["code", "title", "service", "owner_email", "polarity", "frequency"],
    ["HS-04", "Repairs on time", "Corporate", "ann@derbyshire.gov.uk", "higher", "quarterly"],
    ["HS-05", "Homes let", "Corporate", "ann@derbyshire.gov.uk", "higher", "quarterly"],
    ["CS-01", "Residents satisfied", "Corporate", "ann@derbyshire.gov.uk", "higher", "annual"],
    ["TM-01", "Calls answered", "Corporate", "ann@derbyshire.gov.uk", "higher", "monthly"],
]
# Derbyshire County Council's Corporate Performance Management Timetable 2023/24 (seed 001):
# department returns by, and the Corporate Management Team's review. Its "Full Year" return
# is both the fourth quarter's (2023/24 Q4, quarterly) and the annual one (2023/24), due
# on the same day. HS-04 has a deadline of its own for Q2, typed the UK way.
DERBYSHIRE = [
    ["Frequency", "Code", "Period", "Due Date", "Review Date", "Review"],
    ["quarterly", None, "2023/24 Q1", date(2023, 7, 20), date(2023, 7, 25), CMT],
    ["quarterly", None, "2023/24 Q2", date(2023, 10, 19), date(2023, 10, 24), CMT],
    ["quarterly", None, "2023/24 Q3", date(2024, 1, 19), date(2024, 1, 30), CMT],
    ["quarterly", None, "2023/24 Q4", date(2024, 5, 9), date(2024, 5, 21), CMT],
    ["annual", None, "2023/24", date(2024, 5, 9), date(2024, 5, 21), CMT],
    [None, "hs-04", "2023/24 Q2", "12/10/2023", None, None],
]


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


async def load(sessions: async_sessionmaker[AsyncSession], path: Path) -> ImportSummary:
    async with sessions() as session, session.begin():
        return await import_workbook(session, read_sheets(path), now=NOW)


async def derbyshire(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> Path:
    """The council's people, measures and timetable in one workbook, imported."""
    path = workbook(
        tmp_path / "derbyshire.xlsx",
        {"people": PEOPLE, "measures": MEASURES, "deadlines": DERBYSHIRE},
    )
    summary = await load(sessions, path)
    assert summary.created["deadlines"] == 6
    return path


async def deadlines_by_code(
    sessions: async_sessionmaker[AsyncSession], *wanted: tuple[str, str]
) -> dict[tuple[str, str], date]:
    """deadline_of for each (code, period), with the calendar load_calendar gives."""
    async with sessions() as session:
        calendar = await load_calendar(session)
        measures = {m.code: m for m in (await session.scalars(select(Measure))).all()}
    return {
        (code, period): deadline_of(measures[code], Period.parse(period), calendar)
        for code, period in wanted
    }


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def exported(
    sessions: async_sessionmaker[AsyncSession], path: Path, file_format: str
) -> Path:
    async with sessions() as session:
        rows = [deadline_values(d) for d in await published_deadlines(session)]
    write_table(path, DEADLINE_COLUMNS, rows, file_format, sheet_name="deadlines")
    return path


async def test_derbyshires_timetable_sets_every_quarterly_and_annual_deadline(sessions, tmp_path):
    await derbyshire(sessions, tmp_path)
    due = await deadlines_by_code(
        sessions,
        ("HS-05", "2023/24 Q1"),
        ("HS-05", "2023/24 Q2"),
        ("HS-05", "2023/24 Q3"),
        ("HS-05", "2023/24 Q4"),
        ("CS-01", "2023/24"),
        ("HS-04", "2023/24 Q1"),
        ("HS-04", "2023/24 Q2"),
        ("TM-01", "2023/24 M3"),
        ("HS-05", "2024/25 Q1"),
    )
    assert due == {
        ("HS-05", "2023/24 Q1"): date(2023, 7, 20),
        ("HS-05", "2023/24 Q2"): date(2023, 10, 19),
        ("HS-05", "2023/24 Q3"): date(2024, 1, 19),
        ("HS-05", "2023/24 Q4"): date(2024, 5, 9),  # the full-year return
        ("CS-01", "2023/24"): date(2024, 5, 9),
        # HS-04 follows the quarterly row except where it has its own.
        ("HS-04", "2023/24 Q1"): date(2023, 7, 20),
        ("HS-04", "2023/24 Q2"): date(2023, 10, 12),
        # Nothing published for monthly returns, or for 2024/25: 15 working days.
        ("TM-01", "2023/24 M3"): date(2023, 7, 21),
        ("HS-05", "2024/25 Q1"): date(2024, 7, 19),
    }
    async with sessions() as session:
        calendar = await load_calendar(session)
    q1 = calendar.published(Period.parse("2023/24 Q1"), "HS-05")
    assert q1 is not None
    assert (q1.review_date, q1.review) == (date(2023, 7, 25), CMT)


async def test_importing_the_timetable_again_changes_nothing(sessions, tmp_path):
    path = await derbyshire(sessions, tmp_path)
    audited = await count(sessions, AuditEntry)
    summary = await load(sessions, path)
    assert not summary.changed
    assert summary.unchanged["deadlines"] == 6
    assert await count(sessions, Deadline) == 6
    assert await count(sessions, AuditEntry) == audited


async def test_a_changed_due_date_updates_the_deadline_and_is_audited(sessions, tmp_path):
    await derbyshire(sessions, tmp_path)
    moved = [row[:] for row in DERBYSHIRE]
    moved[1][3] = date(2023, 7, 21)  # Q1 returns a day later
    moved[6][5] = "Cabinet"  # HS-04's Q2 return gets a reviewer
    summary = await load(sessions, workbook(tmp_path / "moved.xlsx", {"deadlines": moved}))
    assert summary.updated == {"deadlines": 2}
    assert summary.unchanged["deadlines"] == 4
    async with sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "deadline", AuditEntry.action == "update"
                )
            )
        ).all()
    assert {a.key: a.changes for a in audit} == {
        "quarterly 2023/24 Q1": {"due_date": ["2023-07-20", "2023-07-21"]},
        "HS-04 2023/24 Q2": {"review": [None, "Cabinet"]},
    }
    due = await deadlines_by_code(sessions, ("HS-05", "2023/24 Q1"), ("HS-04", "2023/24 Q2"))
    assert due == {
        ("HS-05", "2023/24 Q1"): date(2023, 7, 21),
        ("HS-04", "2023/24 Q2"): date(2023, 10, 12),
    }


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
async def test_the_exported_deadlines_sheet_imports_back_to_no_change(
    sessions, tmp_path, file_format
):
    await derbyshire(sessions, tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "deadlines.csv" if file_format == "csv" else folder / "deadlines.xlsx"
    await exported(sessions, path, file_format)
    audited = await count(sessions, AuditEntry)

    summary = await load(sessions, folder if file_format == "csv" else path)
    assert not summary.changed
    assert summary.unchanged["deadlines"] == 6
    assert await count(sessions, AuditEntry) == audited
    if file_format == "csv":
        # Exactly the import's columns, in period order, each period's frequency row first.
        with path.open(newline="", encoding="utf-8-sig") as file:
            assert list(csv.reader(file)) == [
                list(DEADLINE_COLUMNS),
                ["quarterly", "", "2023/24 Q1", "2023-07-20", "2023-07-25", CMT],
                ["quarterly", "", "2023/24 Q2", "2023-10-19", "2023-10-24", CMT],
                ["", "HS-04", "2023/24 Q2", "2023-10-12", "", ""],
                ["quarterly", "", "2023/24 Q3", "2024-01-19", "2024-01-30", CMT],
                ["quarterly", "", "2023/24 Q4", "2024-05-09", "2024-05-21", CMT],
                ["annual", "", "2023/24", "2024-05-09", "2024-05-21", CMT],
            ]


async def test_the_exported_sheet_sets_up_another_database_the_same(sessions, tmp_path):
    await derbyshire(sessions, tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    await exported(sessions, folder / "deadlines.csv", "csv")
    async with sessions() as session, session.begin():
        await session.execute(Deadline.__table__.delete())
    assert await count(sessions, Deadline) == 0

    summary = await load(sessions, folder)
    assert summary.created["deadlines"] == 6
    due = await deadlines_by_code(sessions, ("HS-04", "2023/24 Q2"), ("CS-01", "2023/24"))
    assert due == {
        ("HS-04", "2023/24 Q2"): date(2023, 10, 12),
        ("CS-01", "2023/24"): date(2024, 5, 9),
    }


BROKEN = [
    ["frequency", "code", "period", "due_date", "review_date", "review"],
    ["fortnightly", "", "2023/24 Q1", "2023-07-20", "", ""],
    ["", "HS-99", "2023/24 Q1", "2023-07-20", "", ""],
    ["quarterly", "", "2023/24 M3", "2023-07-20", "", ""],
    ["", "HS-04", "2023/24", "2024-05-09", "", ""],
    ["quarterly", "", "2023/24 Q1", "2023-06-15", "", ""],
    ["quarterly", "", "2023/24 Q1", "31/02/2024", "", ""],
    ["quarterly", "HS-04", "2023/24 Q1", "2023-07-20", "", ""],
    ["", "", "2023/24 Q1", "2023-07-20", "", ""],
    ["quarterly", "", "2023/24 Q1", "2023-07-20", "soon", CMT],
    ["quarterly", "", "2023/24 Q1", "2023-07-20", "2023-07-18", CMT],
    ["quarterly", "", "2023/24 Q2", "2023-10-18", "", ""],
    ["quarterly", "", "2023/24 Q2", "2023-10-20", "", ""],
    ["quarterly", "", "2023/24 Q3", "", "", ""],
    ["quarterly", "", "2023/24 Q5", "2024-05-09", "", ""],
    ["annual", "", "2023/24", "2024-03-31", "", ""],
]

BROKEN_PROBLEMS = [
    "deadlines row 2: frequency 'fortnightly' is not one of monthly, quarterly, half-yearly, "
    "annual",
    "deadlines row 3: code 'HS-99' is not a known measure: add it to measures",
    "deadlines row 4: period '2023/24 M3' is monthly, but frequency is quarterly: write a "
    "quarterly period, such as 2023/24 Q1",
    "deadlines row 5: period '2023/24' is annual, but HS-04 is reported quarterly",
    "deadlines row 6: due_date 2023-06-15 is not after 2023/24 Q1, which ends on 2023-06-30: "
    "a return can only be due once its period is over",
    "deadlines row 7: due_date: '31/02/2024' is not a date: write it as 2025-07-18 or 18/07/2025",
    "deadlines row 8: frequency and code are both filled in: give a frequency for every measure "
    "reported at it, or a code for one measure, not both",
    "deadlines row 9: frequency and code are both empty: give a frequency (such as quarterly) "
    "for every measure reported at it, or a measure's code (such as HS-04)",
    "deadlines row 10: review_date: 'soon' is not a date: write it as 2025-07-18 or 18/07/2025",
    "deadlines row 11: review_date 2023-07-18 is before due_date 2023-07-20: the returns are "
    "reviewed after they are due",
    "deadlines row 13: a deadline for quarterly 2023/24 Q2 is already on row 12",
    "deadlines row 14: due_date is empty: give the day the period's returns are due",
    "deadlines row 15: period: '2023/24 Q5' is not a period: Q runs from 1 to 4",
    # The last day of the year is not after it: the annual return cannot be due then.
    "deadlines row 16: due_date 2024-03-31 is not after 2023/24, which ends on 2024-03-31: "
    "a return can only be due once its period is over",
]


async def test_every_bad_deadline_row_is_listed_and_nothing_is_written(sessions, tmp_path):
    await derbyshire(sessions, tmp_path)
    before = (await count(sessions, Deadline), await count(sessions, AuditEntry))
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, workbook(tmp_path / "broken.xlsx", {"deadlines": BROKEN}))
    assert [str(p) for p in rejected.value.problems] == BROKEN_PROBLEMS
    assert str(rejected.value).startswith("14 problems found; nothing was imported:")
    assert (await count(sessions, Deadline), await count(sessions, AuditEntry)) == before
    # Row 12 alone would move Q2 to 18 October, but nothing is written while any row is bad.
    due = await deadlines_by_code(sessions, ("HS-05", "2023/24 Q2"))
    assert due == {("HS-05", "2023/24 Q2"): date(2023, 10, 19)}


async def test_a_deadlines_sheet_needs_a_frequency_or_a_code_column(sessions, tmp_path):
    path = workbook(
        tmp_path / "x.xlsx", {"deadlines": [["period", "due"], ["2023/24 Q1", "2023-07-20"]]}
    )
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, path)
    assert [str(p) for p in rejected.value.problems] == [
        "deadlines: the column 'due_date' is missing (columns found: period, due)",
        "deadlines: the column 'frequency' or 'code' is missing (columns found: period, due)",
    ]
    assert await count(sessions, Deadline) == 0
