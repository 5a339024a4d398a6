"""A measure's Cabinet portfolio and Council Plan priorities, as import reads them: the
``portfolio`` column, ``priorities`` (several, separated by ``;``) and the older one-name
``priority``, which a workbook may still have."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.importing import ImportRejected, import_workbook
from domain.model import AuditEntry, Measure
from domain.workbook import read_sheets
from tests.conftest import SAMPLE

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def load(sessions, path: Path):
    async with sessions() as session, session.begin():
        return await import_workbook(session, read_sheets(path), now=NOW)


def measures_sheet(folder: Path, changes: dict[str, dict[str, str]], *, drop: str = "") -> None:
    """Rewrite the copy's measures.csv: ``changes`` by code (a column may be new), ``drop``
    a column left out altogether."""
    path = folder / "measures.csv"
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    fields = [f for f in rows[0] if f != drop]
    for new in {c for change in changes.values() for c in change}:
        if new not in fields:
            fields.append(new)
    for row in rows:
        row.update(changes.get(row["code"], {}))
        row.pop(drop, None)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


async def measure(sessions, code: str) -> Measure:
    async with sessions() as session:
        found = await session.scalar(select(Measure).where(Measure.code == code))
        assert found is not None
        return found


async def test_the_sample_imports_its_portfolios_and_second_priorities(sessions):
    await load(sessions, SAMPLE)
    ka01 = await measure(sessions, "KA-01")
    assert ka01.portfolio == "Planning and Economic Growth"
    assert ka01.priorities == ("Homes and thriving communities", "A prosperous economy")
    rb01 = await measure(sessions, "RB-01")
    assert (rb01.portfolio, rb01.priorities) == (
        "Finance and Resources",
        ("High performing, value for money services",),
    )


async def test_an_older_workbook_with_one_priority_still_imports(sessions, sample_copy):
    measures_sheet(
        sample_copy,
        {"RB-01": {"priority": "High performing, value for money services"}},
        drop="priorities",
    )
    measures_sheet(sample_copy, {}, drop="portfolio")
    await load(sessions, sample_copy)
    rb01 = await measure(sessions, "RB-01")
    assert (rb01.portfolio, rb01.priorities) == (
        None,
        ("High performing, value for money services",),
    )
    assert (await measure(sessions, "RB-02")).priorities == ()


async def test_priority_beside_priorities_must_be_one_of_them(sessions, sample_copy):
    measures_sheet(
        sample_copy,
        {
            # One of them: fine; the order is that of priorities.
            "PL-05": {"priority": "a prosperous economy"},
            # Not one of them: refused, saying how to mend it.
            "RB-01": {"priority": "Homes and thriving communities"},
            "RB-02": {"priorities": "Homes; A prosperous economy; homes"},
            "RB-03": {"portfolio": "F" * 256},
        },
    )
    with pytest.raises(ImportRejected) as refused:
        await load(sessions, sample_copy)
    problems = [str(p) for p in refused.value.problems if p.sheet == "measures"]
    assert problems == [
        "measures row 2: priority 'Homes and thriving communities' is not one of priorities "
        "(High performing, value for money services): put it in priorities, or leave "
        "priority empty",
        "measures row 3: priorities names 'homes' twice: list each priority once",
        f"measures row 4: portfolio '{'F' * 40}…' is 256 characters: keep it to 255 or fewer",
    ]
    async with sessions() as session:
        assert (await session.scalars(select(Measure))).all() == []


async def test_changed_priorities_are_updated_in_their_order_and_audited(sessions, sample_copy):
    await load(sessions, sample_copy)
    measures_sheet(
        sample_copy,
        {
            "KA-01": {"priorities": "A prosperous economy; Homes and thriving communities"},
            "RB-01": {"portfolio": "Leader of the Council"},
        },
    )
    summary = await load(sessions, sample_copy)
    assert summary.updated["measures"] == 2
    ka01 = await measure(sessions, "KA-01")
    assert ka01.priorities == ("A prosperous economy", "Homes and thriving communities")
    assert (await measure(sessions, "RB-01")).portfolio == "Leader of the Council"
    async with sessions() as session:
        entry = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.key == "KA-01", AuditEntry.action == "update")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None
    assert entry.changes == {
        "priorities": [
            ["Homes and thriving communities", "A prosperous economy"],
            ["A prosperous economy", "Homes and thriving communities"],
        ]
    }
    assert not (await load(sessions, sample_copy)).changed
