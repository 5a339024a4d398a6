"""An import of thousands of targets and actuals (more than one bulk chunk of each): every row
stored and audited once, a re-import changing exactly what changed, a bad row anywhere
storing nothing. SQLite file and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.importing import CHUNK, ImportRejected, ImportSummary, import_workbook
from domain.model import AuditEntry, Measure, Return, Target
from domain.workbook import read_sheets

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
MEASURES = 150  # 7,200 targets and 5,400 actuals: more than CHUNK of each
YEARS = ("2023/24", "2024/25", "2025/26", "2026/27")


def _write(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(columns)
        out.writerows(rows)


def council(folder: Path) -> Path:
    """MEASURES monthly measures, a target for every month of four years, an actual for each
    of the first three years."""
    folder.mkdir()
    owners = [f"owner{n}@big.gov.uk" for n in range(10)]
    _write(folder / "people.csv", ["email", "name"], [[e, e.split("@")[0]] for e in owners])
    _write(
        folder / "measures.csv",
        ["code", "title", "service", "owner_email", "unit", "polarity", "frequency", "decimals"],
        [
            [
                f"BG-{n:03d}",
                f"Measure {n}",
                "Big",
                owners[n % 10],
                "percent",
                "higher",
                "monthly",
                "1",
            ]
            for n in range(MEASURES)
        ],
    )
    targets, actuals = [], []
    for n in range(MEASURES):
        for year in YEARS:
            for month in range(1, 13):
                period = f"{year} M{month}"
                targets.append([f"BG-{n:03d}", period, f"{80 + n % 7}.5"])
                if year != YEARS[-1]:
                    actuals.append(
                        [
                            f"BG-{n:03d}",
                            period,
                            f"{78 + (n + month) % 9}.{month % 10}",
                            "As planned.",
                        ]
                    )
    _write(folder / "targets.csv", ["code", "period", "target"], targets)
    _write(folder / "actuals.csv", ["code", "period", "actual", "commentary"], actuals)
    assert len(targets) > CHUNK
    assert len(actuals) > CHUNK
    return folder


def edit(path: Path, row_number: int, column: str, value: str) -> None:
    """Set one cell: ``row_number`` as a spreadsheet counts (the header is row 1)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[row_number - 1][rows[0].index(column)] = value
    _write(path, rows[0], rows[1:])


async def load(sessions: async_sessionmaker[AsyncSession], path: Path) -> ImportSummary:
    async with sessions() as session, session.begin():
        return await import_workbook(session, read_sheets(path), now=NOW)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple]]:
    async with sessions() as session:
        targets = await session.execute(
            select(Measure.code, Target.period, Target.value)
            .join(Measure, Target.measure_id == Measure.id)
            .order_by(Measure.code, Target.period)
        )
        returns = await session.execute(
            select(Measure.code, Return.period, Return.version, Return.value, Return.commentary)
            .join(Measure, Return.measure_id == Measure.id)
            .order_by(Measure.code, Return.period, Return.version)
        )
        audit = await session.execute(
            select(
                AuditEntry.action, AuditEntry.entity, AuditEntry.key, AuditEntry.changes
            ).order_by(AuditEntry.id)
        )
        return {
            "targets": [tuple(r) for r in targets],
            "returns": [tuple(r) for r in returns],
            "audit": [tuple(r) for r in audit],
        }


async def test_every_target_and_actual_is_stored_and_audited_once_in_the_sheets_order(
    sessions, tmp_path
):
    folder = council(tmp_path / "big")
    summary = await load(sessions, folder)
    assert summary.created["targets"] == MEASURES * 48
    assert summary.created["actuals"] == MEASURES * 36
    data = await stored(sessions)
    assert len(data["targets"]) == MEASURES * 48
    assert ("BG-007", "2024/25 M3", Decimal("80.5")) in data["targets"]
    assert ("BG-007", "2024/25 M3", 1, Decimal("79.3"), "As planned.") in data["returns"]
    audited = [(action, key) for action, entity, key, _ in data["audit"] if entity == "target"]
    with (folder / "targets.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert audited == [("create", f"{r['code']} {r['period']}") for r in rows]
    returns = [(key, changes) for _, entity, key, changes in data["audit"] if entity == "return"]
    assert len(returns) == MEASURES * 36
    assert returns[0] == ("BG-000 2023/24 M1", {"actual": [None, "79.1"]})


async def test_a_reimport_with_nothing_changed_says_so_and_writes_nothing(sessions, tmp_path):
    folder = council(tmp_path / "big")
    await load(sessions, folder)
    before = await stored(sessions)
    summary = await load(sessions, folder)
    assert not summary.changed
    assert summary.unchanged["targets"] == MEASURES * 48
    assert summary.unchanged["actuals"] == MEASURES * 36
    assert await stored(sessions) == before


async def test_a_reimport_changing_one_target_and_one_actual_of_thousands_changes_exactly_those(
    sessions, tmp_path
):
    folder = council(tmp_path / "big")
    await load(sessions, folder)
    before = await stored(sessions)
    edit(folder / "targets.csv", 5000, "target", "91.25")  # past the first bulk chunk
    edit(folder / "actuals.csv", 4000, "actual", "12.5")
    with (folder / "targets.csv").open(newline="", encoding="utf-8") as handle:
        code, period, _ = list(csv.reader(handle))[4999]
    with (folder / "actuals.csv").open(newline="", encoding="utf-8") as handle:
        a_code, a_period, _, _ = list(csv.reader(handle))[3999]

    summary = await load(sessions, folder)
    assert summary.updated == {"targets": 1, "actuals": 1}
    assert not summary.created
    after = await stored(sessions)
    changed = [t for t in after["targets"] if t not in before["targets"]]
    assert changed == [(code, period, Decimal("91.25"))]
    assert len(after["targets"]) == len(before["targets"])
    added = [r for r in after["returns"] if r not in before["returns"]]
    assert added == [(a_code, a_period, 2, Decimal("12.5"), "As planned.")]
    new_audit = after["audit"][len(before["audit"]) :]
    old_target = next(v for c, p, v in before["targets"] if (c, p) == (code, period))
    old_actual = next(v for c, p, _, v, _ in before["returns"] if (c, p) == (a_code, a_period))
    assert new_audit == [
        ("update", "target", f"{code} {period}", {"target": [str(old_target), "91.25"]}),
        (
            "update",
            "return",
            f"{a_code} {a_period}",
            {"actual": [str(old_actual), "12.5"], "version": [1, 2]},
        ),
    ]


@pytest.mark.parametrize("preloaded", [False, True])
async def test_a_bad_row_among_thousands_stores_nothing_and_says_which_row(
    sessions, tmp_path, preloaded
):
    folder = council(tmp_path / "big")
    if preloaded:
        await load(sessions, folder)
        edit(folder / "targets.csv", 100, "target", "79.5")  # a change that must not land
    before = await stored(sessions)
    edit(folder / "targets.csv", 7100, "target", "lots")
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, folder)
    assert [str(p) for p in rejected.value.problems] == [
        "targets row 7100: target: 'lots' is not a number: type digits only, such as 85 or 1,234.5"
    ]
    assert await stored(sessions) == before
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Target)) == (
            MEASURES * 48 if preloaded else 0
        )
