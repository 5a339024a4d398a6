"""The benchmarks sheet and the measures sheet's cumulative column (issue 18): read by import
with a problem for each bad cell, written by export so that importing the export changes
nothing, and the two old benchmark columns moved into rows by migration 0009 (and still read
from an old workbook's measures sheet)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import benchmarks, db
from domain.importing import ImportRejected, ImportSummary, import_workbook
from domain.model import AuditEntry, Benchmark, Measure, Target
from domain.workbook import read_sheets
from tests.conftest import SAMPLE

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def load(sessions: async_sessionmaker[AsyncSession], path: Path) -> ImportSummary:
    async with sessions() as session, session.begin():
        return await import_workbook(session, read_sheets(path), now=NOW)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, ...]]:
    async with sessions() as session:
        return await benchmarks.sheet_rows(session)


def write_csv(
    path: Path, columns: list[str], rows: list[list[str]] | list[tuple[str, ...]]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def test_the_sample_benchmarks_and_cumulative_measures_are_imported(sessions):
    summary = await load(sessions, SAMPLE)
    assert summary.created["benchmarks"] == 16
    assert "benchmarks: 16 new" in summary.lines()
    async with sessions() as session:
        cumulative = set(await session.scalars(select(Measure.code).where(Measure.cumulative)))
    assert cumulative == {"RB-01", "RB-02"}
    rows = await stored(sessions)
    assert (
        "RB-03",
        "2025/26",
        "Statistical nearest neighbours",
        "18.2",
        "15.9",
        "18.0",
        "20.4",
        "LG Inform",
    ) in rows


async def test_reimporting_and_importing_the_export_change_nothing(sessions, sample_copy):
    await load(sessions, SAMPLE)
    before = await stored(sessions)
    again = await load(sessions, SAMPLE)
    assert not again.changed
    assert again.unchanged["benchmarks"] == 16
    # The export, in import's columns, in place of the sheet: nothing changes either.
    write_csv(sample_copy / "benchmarks.csv", list(benchmarks.BENCHMARK_COLUMNS), before)
    exported = await load(sessions, sample_copy)
    assert not exported.changed
    assert await stored(sessions) == before
    assert [dict(zip(benchmarks.BENCHMARK_COLUMNS, r, strict=True)) for r in before] == read_csv(
        sample_copy / "benchmarks.csv"
    )


async def test_a_changed_benchmark_is_updated_and_audited(sessions, sample_copy):
    await load(sessions, SAMPLE)
    rows = read_csv(sample_copy / "benchmarks.csv")
    for row in rows:
        if row["code"] == "PL-01" and row["group"] == "England":
            row["value"] = "90"
    rows.append({**rows[0], "period": "2026/27 M6", "value": "57.9", "source": "CIPFA"})
    write_csv(sample_copy / "benchmarks.csv", list(rows[0]), [list(r.values()) for r in rows])
    summary = await load(sessions, sample_copy)
    assert (summary.updated["benchmarks"], summary.created["benchmarks"]) == (1, 1)
    async with sessions() as session:
        changed = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity == "benchmark",
                AuditEntry.action == "update",
                AuditEntry.key == "PL-01 England 2025/26",
            )
        )
        assert changed is not None
        assert changed.changes == {"value": ["89", "90"]}


BAD_ROWS = [
    (["HS-99", "2025/26", "England", "50", "", "", "", ""], "code 'HS-99' is not a known measure"),
    (["RB-03", "2025-26 Q9", "England", "19", "", "", "", ""], "'2025-26 Q9' is not a period"),
    (["RB-03", "2025/26", "", "19", "", "", "", ""], "group is empty"),
    (["RB-03", "2025/26", "England", "lots", "", "", "", ""], "'lots' is not a number"),
    (["PL-01", "2025/26", "Shire districts", "120", "", "", "", ""], "value: 120% is not a"),
    (["RB-03", "2025/26", "Shire districts", "19", "17", "", "21", ""], "all three quartile"),
    (["RB-03", "2025/26", "Shire districts", "19", "21", "19", "17", ""], "out of order"),
    (["KA-01", "2025/26", "England", "1", "", "", "", ""], "KA-01 is a key action"),
    (["RB-03", "2025/26", "england", "19.5", "", "", "", ""], "already on row 5"),
]


@pytest.mark.parametrize(("cells", "said"), BAD_ROWS, ids=[said for _, said in BAD_ROWS])
async def test_a_bad_cell_is_a_problem_of_its_row_and_nothing_is_written(
    sessions, sample_copy, cells, said
):
    await load(sessions, SAMPLE)
    before = await stored(sessions)
    with (sample_copy / "benchmarks.csv").open("a", newline="", encoding="utf-8") as file:
        csv.writer(file).writerow(cells)
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, sample_copy)
    [problem] = rejected.value.problems
    assert (problem.sheet, problem.row) == ("benchmarks", 18)
    assert said in problem.message
    assert await stored(sessions) == before


async def test_an_old_workbooks_benchmark_columns_are_read_as_undated_rows(sessions, sample_copy):
    rows = read_csv(sample_copy / "measures.csv")
    for row in rows:
        row["benchmark_england"] = "80" if row["code"] == "PL-02" else ""
        row["benchmark_neighbours"] = "82.5" if row["code"] == "PL-02" else ""
    write_csv(sample_copy / "measures.csv", list(rows[0]), [list(r.values()) for r in rows])
    await load(sessions, sample_copy)
    found = [r for r in await stored(sessions) if r[0] == "PL-02"]
    assert found == [
        ("PL-02", "", "England", "80", "", "", "", ""),
        ("PL-02", "", "Statistical nearest neighbours", "82.5", "", "", "", ""),
    ]
    assert not (await load(sessions, sample_copy)).changed
    # The same undated group in both places is one benchmark given twice: said where.
    with (sample_copy / "benchmarks.csv").open("a", newline="", encoding="utf-8") as file:
        csv.writer(file).writerow(["PL-02", "", "England", "81", "", "", "", ""])
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, sample_copy)
    assert "already on measures row" in str(rejected.value)
    assert "(benchmark_england)" in str(rejected.value)


async def test_migration_0009_moves_the_old_benchmark_columns_into_rows(database_url):
    engine: AsyncEngine = db.create_engine(database_url)
    try:
        await db.upgrade(engine, "0008")
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO services (id, name) VALUES (1, 'Housing')"))
            await connection.execute(
                text("INSERT INTO people (id, email, name) VALUES (1, 'a@council.gov.uk', 'A')")
            )
            await connection.execute(
                text(
                    "INSERT INTO measures (id, code, title, kind, service_id, owner_id, unit, "
                    "polarity, frequency, decimals, data_only, allow_negative, "
                    "deadline_working_days, active, benchmark_england, benchmark_neighbours) "
                    "VALUES (1, 'HS-04', 'Homes', 'measure', 1, 1, 'percent', 'higher', "
                    "'quarterly', 1, false, false, 15, true, '96.1', NULL)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO targets (measure_id, period, value) VALUES (1, '2026/27 Q1', '90')"
                )
            )
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            rows = (await session.scalars(select(Benchmark))).all()
            assert [(r.measure_id, r.period, r.comparator, r.value) for r in rows] == [
                (1, None, "England", Decimal("96.1"))
            ]
            measure = await session.get(Measure, 1)
            assert measure is not None
            assert measure.cumulative is False
            # The measure's other records stay (SQLite's batch copy of measures would have
            # dropped them with the old table).
            assert await session.scalar(select(func.count()).select_from(Target)) == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("code", "cell", "said"),
    [
        ("RB-03", "perhaps", "cumulative"),
        ("KA-01", "yes", "a key action reports a status, not a figure: set it to no"),
    ],
)
async def test_a_bad_cumulative_cell_is_a_problem_of_its_row(
    sessions, sample_copy, code, cell, said
):
    await load(sessions, SAMPLE)
    rows = read_csv(sample_copy / "measures.csv")
    number = next(i for i, row in enumerate(rows, start=2) if row["code"] == code)
    rows[number - 2]["cumulative"] = cell
    write_csv(sample_copy / "measures.csv", list(rows[0]), [list(r.values()) for r in rows])
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, sample_copy)
    [problem] = rejected.value.problems
    assert (problem.sheet, problem.row) == ("measures", number)
    assert said in problem.message
