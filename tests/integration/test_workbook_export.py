"""`perfbot export --workbook`: every sheet `perfbot import` reads, so that importing the file
into the same database changes nothing and importing it into an empty one gives the same
council (SQLite and PostgreSQL; one .xlsx workbook, or a folder of CSV files)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from domain import db
from domain.exporting import MEASURE_COLUMNS, WORKBOOK, workbook_sheets
from domain.importing import import_workbook
from domain.model import AuditEntry, Measure, MeasurePriority, Person, Return, ReturnState, Service
from domain.ratings import Scheme
from domain.reporting import performance
from domain.views import has_figure
from domain.workbook import SHEETS, read_sheets, write_table
from tests.conftest import drop_postgres_database, fresh_postgres_database

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def perfbot(engine: AsyncEngine, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`perfbot ARGS` in this process (on a thread: it runs its own event loop)."""
    monkeypatch.setenv("PERFBOT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
async def empty_engine(council_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database at the current schema, on the same backend as ``council_engine``."""
    name = None
    if council_engine.dialect.name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    else:
        url, name = await fresh_postgres_database()
    engine = db.create_engine(url)
    await db.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
        if name:
            await drop_postgres_database(name)


async def _enrich(engine: AsyncEngine, tmp_path: Path) -> None:
    """The sample council with what its CSVs lack: a deadlines sheet (a frequency's row and
    a measure's own), a service's leadership contact, a return sent in Teams (to the
    microsecond, awaiting sign-off), and one sent as not available (no figure to export)."""
    folder = tmp_path / "extra"
    folder.mkdir()
    write_table(
        folder / "deadlines.csv",
        ("frequency", "code", "period", "due_date", "review_date", "review"),
        [
            ("quarterly", None, "2026/27 Q3", date(2027, 1, 22), date(2027, 2, 3), "Cabinet"),
            (None, "RB-01", "2026/27 M8", date(2026, 12, 18), None, None),
        ],
        "csv",
    )
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(session, read_sheets(folder), now=NOW)
        rb03 = await session.scalar(select(Measure).where(Measure.code == "RB-03"))
        cs01 = await session.scalar(select(Measure).where(Measure.code == "CS-01"))
        assert rb03 is not None
        assert cs01 is not None
        rb03.portfolio = None  # a measure without a portfolio, beside those with one
        session.add(
            Return(
                measure_id=cs01.id,
                period="2026/27 M10",
                version=1,
                value=Decimal("91"),  # CS-01 has no decimals
                commentary="Two new starters in the team.\nBack on target in January.",
                state=ReturnState.SUBMITTED,
                submitted_by_id=cs01.owner_id,
                submitted_at=datetime(2026, 11, 20, 16, 45, 12, 345678, tzinfo=UTC),
                source="teams",
            )
        )
        session.add(
            Return(
                measure_id=rb03.id,
                period="2026/27 Q3",
                version=1,
                not_available_reason="The DWP extract is late",
                state=ReturnState.SUBMITTED,
                submitted_at=NOW,
                source="teams",
            )
        )
        service = await session.scalar(
            select(Service).where(Service.name == "Housing and Communities")
        )
        director = await session.scalar(select(Person).order_by(Person.email))
        assert service is not None
        assert director is not None
        service.leadership_contact_id = director.id


async def _council(engine: AsyncEngine) -> tuple[Any, ...]:
    """Everything the sheets say of a council, and its ratings: two databases that give the
    same are the same council as far as import and export can tell."""
    async with db.session_factory(engine)() as session:
        sheets = await workbook_sheets(session)
        rated = [
            r.export_values_with(frozenset({"commentary", "portfolio"}))
            for r in await performance(session, Scheme.STRONG_GOOD_REVIEW_ACTION)
            # A return sent as "not available" has no figure, so no row on the actuals sheet.
            if r.target is not None or has_figure(r.latest)
        ]
    return tuple((name, tuple(rows)) for name, _, rows in sheets), tuple(rated)


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with db.session_factory(engine)() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Person, Service, Measure, MeasurePriority, Return, AuditEntry)
        }


def test_every_sheet_import_reads_has_an_export():
    assert tuple(WORKBOOK) == SHEETS


@pytest.mark.parametrize("target", ["council.xlsx", "council"], ids=["xlsx", "csv-folder"])
async def test_the_workbook_imported_into_the_same_database_changes_nothing(
    council_engine, monkeypatch, capsys, tmp_path, target
):
    await _enrich(council_engine, tmp_path)
    before, counted = await _council(council_engine), await _counts(council_engine)
    out = tmp_path / target
    status, _, err = await perfbot(
        council_engine, monkeypatch, capsys, "export", "--workbook", "-o", str(out)
    )
    assert status == 0, err
    assert "measures 41; targets 872; actuals 902; calendar 15; deadlines 2" in err
    assert f"{out}" in err

    status, said, err = await perfbot(council_engine, monkeypatch, capsys, "import", str(out))
    assert status == 0, err
    assert "nothing to change, the database already matches" in said
    assert "measures: 41 unchanged" in said
    assert await _council(council_engine) == before
    # Nothing new but the record of the import run itself.
    assert await _counts(council_engine) == {**counted, "audit_log": counted["audit_log"] + 1}


@pytest.mark.parametrize("target", ["council.xlsx", "council"], ids=["xlsx", "csv-folder"])
async def test_the_workbook_imported_into_an_empty_database_gives_the_same_council(
    council_engine, empty_engine, monkeypatch, capsys, tmp_path, target
):
    await _enrich(council_engine, tmp_path)
    out = tmp_path / target
    status, _, err = await perfbot(
        council_engine, monkeypatch, capsys, "export", "--workbook", "-o", str(out)
    )
    assert status == 0, err
    status, said, err = await perfbot(empty_engine, monkeypatch, capsys, "import", str(out))
    assert status == 0, err
    assert "measures: 41 new" in said

    assert await _council(empty_engine) == await _council(council_engine)
    async with db.session_factory(empty_engine)() as session:
        pl05 = await session.scalar(select(Measure).where(Measure.code == "PL-05"))
        cs01 = await session.scalar(
            select(Return)
            .join(Measure, Return.measure_id == Measure.id)
            .where(Measure.code == "CS-01", Return.period == "2026/27 M10")
        )
    assert pl05 is not None
    assert cs01 is not None
    assert (pl05.portfolio, pl05.priorities) == (
        "Housing",
        ("Homes and thriving communities", "A prosperous economy"),
    )
    assert cs01.submitted_at == datetime(2026, 11, 20, 16, 45, 12, 345678, tzinfo=UTC)
    assert cs01.commentary == "Two new starters in the team.\nBack on target in January."


async def test_the_workbook_has_every_import_sheet_in_imports_column_names(
    council_engine, monkeypatch, capsys, tmp_path
):
    await _enrich(council_engine, tmp_path)
    status, _, err = await perfbot(
        council_engine, monkeypatch, capsys, "export", "--workbook", "-o", str(tmp_path / "c.xlsx")
    )
    assert status == 0, err
    book = load_workbook(tmp_path / "c.xlsx", read_only=True)
    assert book.sheetnames == list(SHEETS)
    header = next(book["measures"].iter_rows(max_row=1, values_only=True))
    assert header == MEASURE_COLUMNS
    measures = {
        row[0]: dict(zip(header, row, strict=True))
        for row in book["measures"].iter_rows(min_row=2, values_only=True)
    }
    assert measures["KA-01"]["priorities"] == "Homes and thriving communities; A prosperous economy"
    assert measures["RB-01"]["portfolio"] == "Finance and Resources"
    assert measures["RB-01"]["data_only"] == "no"
    book.close()
    status, _, err = await perfbot(
        council_engine, monkeypatch, capsys, "export", "--workbook", "-o", str(tmp_path / "folder")
    )
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == sorted(
        f"{s}.csv" for s in SHEETS
    )
    with (tmp_path / "folder" / "actuals.csv").open(encoding="utf-8-sig", newline="") as file:
        actuals = list(csv.DictReader(file))
    assert not [a for a in actuals if a["code"] == "RB-03" and a["period"] == "2026/27 Q3"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "--workbook writes several sheets, so it needs a place: add -o council.xlsx"),
        (["--period", "2025/26 Q1", "-o", "c.xlsx"], "--period is for the performance export"),
        (["--with", "commentary", "-o", "c.xlsx"], "--with is for the performance export"),
        (["--deadlines", "-o", "c.xlsx"], "--workbook has the deadlines sheet already"),
        (["--format", "csv", "-o", "c.xlsx"], "--format csv writes a folder of CSV files"),
        (["--format", "xlsx", "-o", "c"], "--format xlsx needs a workbook file: give -o c.xlsx"),
        (["-o", "nowhere/c.xlsx"], "the folder nowhere does not exist"),
        (["-o", "notes.txt"], "notes.txt is a file: give -o a workbook ending .xlsx"),
    ],
)
async def test_a_workbook_export_asked_for_wrongly_says_what_to_write(
    engine, monkeypatch, capsys, tmp_path, args, says
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    status, out, err = await perfbot(engine, monkeypatch, capsys, "export", "--workbook", *args)
    assert (status, out) == (1, "")
    assert says in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "notes.txt").read_text() == "mine"


async def test_the_performance_export_with_portfolio_groups_its_rows_by_portfolio(
    council_engine, monkeypatch, capsys
):
    """Without --with the columns never change (README); --with portfolio adds the
    portfolio and priorities beside the service, the rows by portfolio."""
    status, out, err = await perfbot(
        council_engine, monkeypatch, capsys, "export", "--period", "2026/27 Q2"
    )
    assert status == 0, err
    assert out.removeprefix("\ufeff").splitlines()[0] == (
        "code,title,service,period,target,actual,restated_from,variance_pct,rating,direction"
    )
    status, out, err = await perfbot(
        council_engine,
        monkeypatch,
        capsys,
        "export",
        "--period",
        "2026/27 Q2",
        "--with",
        "portfolio",
    )
    assert status == 0, err
    rows = list(csv.DictReader(out.removeprefix("\ufeff").splitlines()))
    assert list(rows[0])[:5] == ["code", "title", "service", "portfolio", "priorities"]
    portfolios = [r["portfolio"] for r in rows]
    assert portfolios == sorted(portfolios)
    ka01 = next(r for r in rows if r["code"] == "KA-01")
    assert ka01["priorities"] == "Homes and thriving communities; A prosperous economy"
    housing = [r["code"] for r in rows if r["portfolio"] == "Housing"]
    assert housing == sorted(housing)
