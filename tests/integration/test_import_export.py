"""Spreadsheets in and out against a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from domain.importing import ImportRejected, ImportSummary, import_workbook
from domain.locks import mark_restated
from domain.model import AuditEntry, Measure, Person, Return, ReturnAnswer, ReturnState, Target
from domain.periods import Period
from domain.ratings import Scheme
from domain.reporting import EXPORT_COLUMNS, VERSION_COLUMNS, export_columns, performance
from domain.workbook import read_sheets, write_table
from tests.conftest import SAMPLE

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def load(sessions: async_sessionmaker[AsyncSession], path: Path) -> ImportSummary:
    async with sessions() as session, session.begin():
        return await import_workbook(session, read_sheets(path), now=NOW)


async def export(
    sessions: async_sessionmaker[AsyncSession], period: str | None = None
) -> dict[tuple[str, str], dict[str, str]]:
    async with sessions() as session:
        rows = await performance(
            session, Scheme.STRONG_GOOD_REVIEW_ACTION, Period.parse(period) if period else None
        )
    data = write_table(None, EXPORT_COLUMNS, [r.export_values() for r in rows], "csv")
    assert data is not None
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return {(row["code"], row["period"]): row for row in reader}


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Person, Measure, Target, Return, AuditEntry)
        }


# Worked by hand from sample/council: (code, period) -> target, actual, variance %, rating.
HAND_WORKED = {
    # 93 against 95, higher is better: -2/95 = -2.105%, below -2%: Review.
    ("OD-03", "2025/26 Q3"): ("95", "93", "-2.1", "Review"),
    # Lower is better, RAG with 10% tolerance: (28-30)/28 = -7.14%: Amber.
    ("PL-06", "2025/26 Q2"): ("28", "30", "-7.1", "Amber"),
    # (28-32)/28 = -14.3%, beyond 10%: Red.
    ("PL-06", "2025/26 Q1"): ("28", "32", "-14.3", "Red"),
    # RAG, default 5% tolerance: (79-80)/80 = -1.25%: Amber.
    ("CS-02", "2025/26 M1"): ("80", "79", "-1.3", "Amber"),
    # Lower is better: (18-22.5)/18 = -25%: Action.
    ("RB-03", "2025/26 M9"): ("18.0", "22.5", "-25.0", "Action"),
    # Percentage target of 100: -1.8% is within Good's 2%.
    ("EW-06", "2024/25 Q1"): ("100.0", "98.2", "-1.8", "Good"),
    # Target 0 with an absolute tolerance of 2: 2 worse is within it: Review; 0 is Good.
    ("HC-06", "2025/26 Q3"): ("0", "2", "", "Review"),
    ("HC-06", "2025/26 Q1"): ("0", "0", "", "Good"),
    # Data-only: no target, no rating.
    ("CS-06", "2025/26 Q3"): ("", "173", "", ""),
    # A key action reported unlikely: Action.
    ("KA-04", "2026/27 Q2"): ("", "unlikely", "", "Action"),
    # A missing return is not a zero: unrated.
    ("EW-05", "2024/25 H2"): ("92", "", "", ""),
    # Cumulative collection, target above 95%: -0.1% is Good.
    ("RB-01", "2025/26 M12"): ("97.3", "97.2", "-0.1", "Good"),
}


def assert_worked_by_hand(exported: dict[tuple[str, str], dict[str, str]]) -> None:
    for key, (target, actual, variance, rating) in HAND_WORKED.items():
        row = exported[key]
        assert (row["target"], row["actual"], row["variance_pct"], row["rating"]) == (
            target,
            actual,
            variance,
            rating,
        ), key


async def test_importing_the_sample_then_exporting_gives_the_ratings_worked_by_hand(sessions):
    summary = await load(sessions, SAMPLE)
    assert summary.created["measures"] == 41
    assert summary.created["people"] == 28
    exported = await export(sessions)
    assert_worked_by_hand(exported)


async def test_an_export_for_one_period_lists_every_measure_of_that_frequency(sessions):
    await load(sessions, SAMPLE)
    rows = await export(sessions, "2026/27 M7")  # October 2026: nothing returned yet
    assert {code for code, _ in rows} >= {"RB-01", "RB-03", "CS-01", "HC-01"}
    assert all(row["actual"] == "" and row["rating"] == "" for row in rows.values())
    assert rows[("RB-03", "2026/27 M7")]["target"] == "18.0"


async def test_direction_of_travel_compares_with_the_previous_period(sessions):
    await load(sessions, SAMPLE)
    rows = await export(sessions)
    # PL-06 is lower-is-better: 30 after 32 is improving; 37 after 23 is declining.
    assert rows[("PL-06", "2025/26 Q2")]["direction"] == "improving"
    assert rows[("PL-06", "2025/26 Q4")]["direction"] == "declining"


async def test_reimporting_the_same_file_changes_nothing(sessions):
    await load(sessions, SAMPLE)
    before = await counts(sessions)
    summary = await load(sessions, SAMPLE)
    assert not summary.changed
    assert summary.unchanged["actuals"] == before["returns"]
    assert await counts(sessions) == before


def _edit_csv(path: Path, match: dict[str, str], changes: dict[str, str]) -> None:
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    fields = list(rows[0])
    hits = 0
    for row in rows:
        if all(row[k] == v for k, v in match.items()):
            row.update(changes)
            hits += 1
    assert hits == 1, f"{match} matched {hits} rows"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        writer.writerows(rows)


async def test_a_changed_file_updates_by_code_and_email_and_audits_what_changed(
    sessions, sample_copy
):
    await load(sessions, SAMPLE)
    _edit_csv(sample_copy / "measures.csv", {"code": "OD-03"}, {"title": "Mandatory training done"})
    _edit_csv(
        sample_copy / "targets.csv", {"code": "OD-03", "period": "2025/26 Q3"}, {"target": "93"}
    )
    _edit_csv(
        sample_copy / "actuals.csv", {"code": "PL-06", "period": "2025/26 Q2"}, {"actual": "27"}
    )
    _edit_csv(
        sample_copy / "people.csv", {"email": "lucy.price@kingsmere.gov.uk"}, {"role": "owner"}
    )

    summary = await load(sessions, sample_copy)
    assert summary.updated == {"measures": 1, "targets": 1, "actuals": 1, "people": 1}
    assert not summary.created

    async with sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "update").order_by(AuditEntry.id)
            )
        ).all()
        versions = (
            await session.scalars(
                select(Return.version, Return.value)
                .join(Measure)
                .where(Measure.code == "PL-06", Return.period == "2025/26 Q2")
                .order_by(Return.version)
            )
        ).all()
    changes = {(a.entity, a.key): a.changes for a in audit}
    assert changes[("measure", "OD-03")] == {
        "title": ["Mandatory training completed", "Mandatory training done"]
    }
    assert changes[("target", "OD-03 2025/26 Q3")] == {"target": ["95", "93"]}
    assert changes[("return", "PL-06 2025/26 Q2")]["actual"] == ["30", "27"]
    assert changes[("person", "lucy.price@kingsmere.gov.uk")] == {"roles": [[], ["owner"]]}
    # A correction adds a version; the first figure is kept.
    assert len(versions) == 2

    exported = await export(sessions)
    assert exported[("OD-03", "2025/26 Q3")]["rating"] == "Good"  # 93 against 93
    assert exported[("PL-06", "2025/26 Q2")]["rating"] == "Green"  # 27 against 28, lower


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


BROKEN = {
    "People": [
        ["Email", "Name", "Service", "Role", "Manager_Email"],
        ["ann@council.gov.uk", "Ann Lee", "Housing", "owner", ""],
        ["not-an-email", "Bob", "Housing", "owner", ""],
        ["ANN@council.gov.uk", "Ann again", "Housing", "", ""],
        ["cy@council.gov.uk", "Cy", "Housing", "boss", ""],
        ["di@council.gov.uk", "Di", "Housing", "owner", "nobody@council.gov.uk"],
    ],
    "measures": [
        ["code", "title", "service", "owner_email", "unit", "polarity", "frequency"],
        [
            "HS-01",
            "Rent collected",
            "Housing",
            "ann@council.gov.uk",
            "percent",
            "higher",
            "quarterly",
        ],
        ["HS-02", "Voids", "Housing", "ann@council.gov.uk", "number", "up", "quarterly"],
        ["HS-03", "Arrears", "Housing", "nobody@council.gov.uk", "currency", "lower", "monthly"],
        ["HS-04", "Repairs", "Housing", "ann@council.gov.uk", "days", "lower", "fortnightly"],
    ],
    "targets": [
        ["code", "period", "target"],
        ["HS-01", "2025/26 Q5", "98"],
        ["HS-99", "2025/26 Q1", "98"],
        ["HS-01", "2025/26 M3", "98"],
        ["HS-01", "2025/26 Q1", "lots"],
        ["HS-01", "2025/26 Q2", "0"],
    ],
    "actuals": [
        ["code", "period", "actual", "commentary"],
        ["HS-01", "2025/26 Q1", "", "no figure"],
        ["HS-01", "2025/26 Q2", "101%", ""],
    ],
}

BROKEN_PROBLEMS = [
    "people row 3: email: 'not-an-email' is not an email address",
    "people row 4: 'ann@council.gov.uk' is already on row 2",
    "people row 5: role 'boss' is not one of owner, escalation_owner, leadership, admin",
    "people row 6: manager_email 'nobody@council.gov.uk' is not a known person: add them to people",
    "measures row 3: polarity 'up' is not higher or lower",
    "measures row 4: owner_email 'nobody@council.gov.uk' is not a known person: add them to people",
    "measures row 5: frequency 'fortnightly' is not one of monthly, quarterly, half-yearly, annual",
    "targets row 2: period: '2025/26 Q5' is not a period: Q runs from 1 to 4",
    "targets row 3: code 'HS-99' is not a known measure: add it to measures",
    "targets row 4: period '2025/26 M3' is monthly, but HS-01 is reported quarterly",
    "targets row 5: target: 'lots' is not a number: type digits only, such as 85 or 1,234.5",
    "targets row 6: a target of 0 for HS-01 cannot be compared as a percentage: give the measure "
    "an absolute tolerance (such as 2) in its own unit",
    "actuals row 2: actual is empty: leave the row out if there is no figure yet",
    "actuals row 3: actual: 101% is not a percentage between 0 and 100",
]


@pytest.mark.parametrize("preloaded", [False, True], ids=["empty", "with-sample"])
async def test_a_broken_workbook_lists_every_problem_and_leaves_the_database_as_it_was(
    sessions, tmp_path, preloaded
):
    if preloaded:
        await load(sessions, SAMPLE)
    before = await counts(sessions)
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, _workbook(tmp_path / "broken.xlsx", BROKEN))
    assert [str(p) for p in rejected.value.problems] == BROKEN_PROBLEMS
    assert str(rejected.value).startswith("14 problems found; nothing was imported:")
    assert await counts(sessions) == before


async def test_a_sheet_without_a_required_column_is_refused_by_name(sessions, tmp_path):
    path = _workbook(tmp_path / "x.xlsx", {"targets": [["code", "target"], ["HS-01", "5"]]})
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, path)
    assert [str(p) for p in rejected.value.problems] == [
        "targets: the column 'period' is missing (columns found: code, target)"
    ]


async def test_an_xlsx_workbook_imports_like_the_csv_folder(sessions, tmp_path):
    sheets: dict[str, list[list[object]]] = {}
    for file in sorted(SAMPLE.glob("*.csv")):
        with file.open(newline="", encoding="utf-8") as handle:
            sheets[file.stem] = [list(row) for row in csv.reader(handle)]
    # Excel keeps numbers as numbers; a percentage-formatted cell holds 0.93 for 93%.
    for row in sheets["targets"][1:]:
        row[2] = float(row[2])
    path = _workbook(tmp_path / "council.xlsx", sheets)
    workbook = load_workbook(path)
    actuals = workbook["actuals"]
    for cells in actuals.iter_rows(min_row=2):
        if cells[0].value == "OD-03" and cells[1].value == "2025/26 Q3":
            cells[2].value = 0.93
            cells[2].number_format = "0%"
    workbook.save(path)

    await load(sessions, path)
    exported = await export(sessions)
    assert_worked_by_hand(exported)
    assert (await load(sessions, SAMPLE)).changed is False  # the same data by either route


async def test_windows_excel_csv_with_a_pound_sign_is_read(sessions, tmp_path):
    folder = tmp_path / "cp1252"
    folder.mkdir()
    (folder / "people.csv").write_bytes(
        "email,name,service,role\r\nann@council.gov.uk,Ann,Finance,owner\r\n".encode("cp1252")
    )
    (folder / "measures.csv").write_bytes(
        (
            "code,title,service,owner_email,unit,polarity,frequency\r\n"
            "FI-01,Savings delivered (£),Finance,ann@council.gov.uk,currency,higher,annual\r\n"
        ).encode("cp1252")
    )
    (folder / "targets.csv").write_bytes(b"code,period,target\r\nFI-01,2025/26,\xa31,250,000\r\n")
    with pytest.raises(ImportRejected) as rejected:  # an unquoted comma splits the figure
        await load(sessions, folder)
    assert [str(p) for p in rejected.value.problems] == [
        "targets row 2: has 5 cells but only 3 columns are named: a figure with a comma "
        "(such as 1,250) needs quotes in a CSV file"
    ]
    (folder / "targets.csv").write_bytes(b'code,period,target\r\nFI-01,2025/26,"\xa31,250,000"\r\n')
    await load(sessions, folder)
    rows = await export(sessions)
    assert rows[("FI-01", "2025/26")]["title"] == "Savings delivered (£)"
    assert rows[("FI-01", "2025/26")]["target"] == "1250000"


async def test_the_xlsx_export_opens_in_excel_with_numbers_as_numbers(sessions, tmp_path):
    await load(sessions, SAMPLE)
    async with sessions() as session:
        rows = await performance(session, Scheme.RAG, Period.parse("2025/26 Q3"))
    path = tmp_path / "out.xlsx"
    write_table(path, EXPORT_COLUMNS, [r.export_values() for r in rows], "xlsx")
    sheet = load_workbook(path).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == list(EXPORT_COLUMNS)
    od03 = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "OD-03")
    assert od03[4:8] == (95, 93, -2.1, "Amber")  # the council default here is RAG


def test_a_sheet_wider_than_the_alphabet_keeps_each_value_in_its_own_column(tmp_path):
    """Columns past Z (AA, AB, ... as Excel names them) hold what was written there: the
    writer names every cell itself, without openpyxl's help."""
    columns = [f"c{n}" for n in range(1, 60)]
    path = tmp_path / "wide.xlsx"
    write_table(path, columns, [[f"r{n}" for n in range(1, 60)]], "xlsx")
    sheet = load_workbook(path).active
    assert [sheet["Z1"].value, sheet["AA1"].value, sheet["AZ1"].value, sheet["BG2"].value] == [
        "c26",
        "c27",
        "c52",
        "r59",
    ]


# ---- perfbot export --with commentary,versions ------------------------------------------------

RESTATED_AT = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


async def perfbot(engine, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`perfbot ARGS` in this process (on a thread: it runs its own event loop)."""
    monkeypatch.setenv("PERFBOT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def corrected_and_restated(sessions, tmp_path: Path) -> None:
    """The sample council, with RB-01's June 2025 figure (29.3, version 1) corrected by an
    import (29.5, version 2, which Mark Taylor then approved) and restated by an admin after
    sign-off (29.6, version 3)."""
    await load(sessions, SAMPLE)
    folder = tmp_path / "correction"
    folder.mkdir()
    (folder / "actuals.csv").write_text(
        "code,period,actual,commentary\nRB-01,2025/26 M3,29.5,Late direct debits counted.\n"
    )
    await load(sessions, folder)
    async with sessions() as session, session.begin():
        measure = await session.scalar(select(Measure).where(Measure.code == "RB-01"))
        mark = await session.scalar(
            select(Person).where(Person.email == "mark.taylor@kingsmere.gov.uk")
        )
        second = await session.scalar(
            select(Return).where(Return.measure_id == measure.id, Return.period == "2025/26 M3")
            .where(Return.version == 2)
        )  # fmt: skip
        second.state = ReturnState.APPROVED
        second.reviewed_by_id = mark.id
        second.reviewed_at = RESTATED_AT - timedelta(days=2)
        second.review_comment = "Agreed."
        third = Return(
            measure_id=measure.id,
            period="2025/26 M3",
            version=3,
            value=Decimal("29.6"),
            commentary="Late direct debits counted.",
            remedial_action="Reconcile with the bank weekly.",
            action_due=date(2026, 12, 18),
            submitted_by_id=mark.id,
            submitted_at=RESTATED_AT,
            source="admin",
        )
        mark_restated(third, "29.5%", "The bank's late file")
        session.add(third)


async def test_the_default_export_has_a_restatements_earlier_figure_beside_the_actual(
    engine, sessions, monkeypatch, capsys, tmp_path
):
    await corrected_and_restated(sessions, tmp_path)
    status, out, _ = await perfbot(engine, monkeypatch, capsys, "export", "--period", "2025/26 M3")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == (
        "code,title,service,period,target,actual,restated_from,variance_pct,rating,direction"
    )
    assert export_columns(frozenset())[:6] == EXPORT_COLUMNS[:6]
    [rb01] = [line for line in lines[1:] if line.startswith("RB-01,")]
    assert ",29.6,29.5%," in rb01  # the actual, then the figure it replaced


async def test_export_with_commentary_and_versions_writes_two_sheets(
    engine, sessions, monkeypatch, capsys, tmp_path
):
    await corrected_and_restated(sessions, tmp_path)
    path = tmp_path / "performance.xlsx"
    status, _, err = await perfbot(
        engine, monkeypatch, capsys, "export", "--with", "Commentary, versions", "-o", str(path)
    )
    assert status == 0, err
    assert "versions to" in err
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["performance", "versions"]
    main_rows = list(workbook["performance"].iter_rows(values_only=True))
    assert main_rows[0] == (
        "code", "title", "service", "period", "target", "actual", "restated_from",
        "variance_pct", "rating", "direction", "commentary", "remedial_action", "action_due",
        "why", "implications", "impact", "risks", "effective", "forecast",
    )  # fmt: skip
    rb01 = next(r for r in main_rows if r[0] == "RB-01" and r[3] == "2025/26 M3")
    assert rb01[5:7] == (29.6, "29.5%")  # the restated figure beside the one it replaced
    assert rb01[10:12] == ("Late direct debits counted.", "Reconcile with the bank weekly.")
    assert rb01[12].date() == date(2026, 12, 18)
    unrestated = next(r for r in main_rows if r[0] == "RB-01" and r[3] == "2025/26 M2")
    assert unrestated[6] is None
    versions = list(workbook["versions"].iter_rows(values_only=True))
    assert versions[0] == VERSION_COLUMNS
    m3 = [r for r in versions if r[:2] == ("RB-01", "2025/26 M3")]
    by_column = [dict(zip(VERSION_COLUMNS, r, strict=True)) for r in m3]
    assert [(v["version"], v["figure"], v["source"], v["state"]) for v in by_column] == [
        (1, 29.3, "import", "approved"),  # imported figures are stored approved
        (2, 29.5, "import", "approved"),
        (3, 29.6, "admin", "submitted"),
    ]
    first, second, third = by_column
    assert (first["submitted_by"], str(first["submitted_at"])) == (
        "lucy.price@kingsmere.gov.uk",
        "2025-07-18 12:34:00",  # London's clock, as the sample's spreadsheet says it
    )
    assert (second["reviewed_by"], second["review_comment"]) == (
        "mark.taylor@kingsmere.gov.uk",
        "Agreed.",
    )
    assert (third["restated"], third["restated_from"], third["correction_reason"]) == (
        "yes",
        "29.5%",
        "The bank's late file",
    )
    assert first["restated"] == "no"


async def test_export_with_versions_as_csv_writes_a_second_file_beside(
    engine, sessions, monkeypatch, capsys, tmp_path
):
    await corrected_and_restated(sessions, tmp_path)
    path = tmp_path / "perf.csv"
    status, _, err = await perfbot(
        engine, monkeypatch, capsys, "export", "--period", "2025/26 M3", "--with", "versions",
        "-o", str(path),
    )  # fmt: skip
    assert status == 0, err
    beside = tmp_path / "perf-versions.csv"
    assert f"to {beside}" in err
    main_rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert "commentary" not in main_rows[0]
    rb01 = next(r for r in main_rows if r["code"] == "RB-01")
    assert (rb01["actual"], rb01["restated_from"]) == ("29.6", "29.5%")
    versions = list(csv.DictReader(io.StringIO(beside.read_text(encoding="utf-8-sig"))))
    assert {r["period"] for r in versions} == {"2025/26 M3"}
    assert [r["version"] for r in versions if r["code"] == "RB-01"] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--with", "comments"],
            "--with: 'comments' is not one of commentary, versions, portfolio; write for "
            "example --with commentary,versions,portfolio",
        ),
        (["--with", " , "], "--with needs one or more of commentary, versions, portfolio"),
        (["--with", "versions"], "--with versions writes a second table, so it needs a file"),
        (["--deadlines", "--with", "commentary"], "--with is for the performance export"),
    ],
)
async def test_export_with_something_unknown_says_what_it_can_be(
    engine, monkeypatch, capsys, args, says
):
    status, out, err = await perfbot(engine, monkeypatch, capsys, "export", *args)
    assert (status, out) == (1, "")
    assert says in err
    assert len(err.strip().splitlines()) == 1


HOSTILE = {
    "targets": [
        ["code", "period", "target"],
        ["RB-01", "0001/02 M1", "66"],
        ["RB-01", "1999/00 M1", "66"],
        ["RB-01", "2026/27 M1", "1" * 29 + ".5"],
    ],
    "actuals": [
        ["code", "period", "actual", "commentary"],
        ["RB-01", "0001/02 M1", "66", "Year one."],
        ["RB-01", "2100/01 M1", "66", "Next century."],
        ["RB-01", "2025/26 M1", "0." + "1" * 40, "Too precise."],
        ["RB-01", "2025/26 M2", "66", "Fine\x00."],
    ],
}


async def test_an_import_stores_no_period_outside_the_range_no_figure_beyond_its_digits_and_no_bad_text(
    sessions, tmp_path
):
    await load(sessions, SAMPLE)
    before = await counts(sessions)
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name, rows in HOSTILE.items():  # CSV: a spreadsheet cannot even hold the NUL
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, folder)
    problems = [str(p) for p in rejected.value.problems]
    assert len([p for p in problems if "2000/01 to 2099/00" in p]) == 4
    assert any("target: '111" in p and "too large" in p for p in problems)
    assert any("more than 15 significant digits" in p for p in problems)
    assert any("commentary has a control character (U+0000)" in p for p in problems)
    assert await counts(sessions) == before
    assert len(await export(sessions)) > 0  # the export still works for the whole council


def _add_answers(path: Path, code: str, period: str, answers: dict[str, str]) -> None:
    """The actuals sheet with the review questions' columns, answered on one row."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    fields = [*rows[0], *answers]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fields, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, **(answers if (row["code"], row["period"]) == (code, period) else {})}
            )


async def stored_answers(sessions, code: str, period: str) -> dict[int, dict[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Return.version, ReturnAnswer.question, ReturnAnswer.answer)
            .join(ReturnAnswer, ReturnAnswer.return_id == Return.id)
            .join(Measure)
            .where(Measure.code == code, Return.period == period)
        )
        found: dict[int, dict[str, str]] = {}
        for version, question, answer in rows:
            found.setdefault(version, {})[question] = answer
        return found


async def test_the_review_answers_import_with_the_actuals_and_their_export_imports_unchanged(
    sessions, sample_copy, tmp_path
):
    await load(sessions, SAMPLE)
    answers = {"why": "Two large applications were called in.", "forecast": "About 29 days."}
    _add_answers(sample_copy / "actuals.csv", "PL-06", "2025/26 Q2", answers)
    summary = await load(sessions, sample_copy)
    assert summary.updated == {"actuals": 1}  # the one row answered; the blank cells say so
    assert await stored_answers(sessions, "PL-06", "2025/26 Q2") == {2: answers}
    async with sessions() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.entity == "return")
        )
    assert entry is not None
    assert entry.changes["answers"] == {
        "why": [None, answers["why"]],
        "forecast": [None, answers["forecast"]],
    }

    # The export with commentary, as an actuals sheet again (the rows with a figure): nothing
    # changes, the answers included.
    extras = frozenset({"commentary"})
    async with sessions() as session:
        rows = await performance(session, Scheme.STRONG_GOOD_REVIEW_ACTION)
    values = [
        r.export_values_with(extras)
        for r in rows
        if r.latest is not None and (r.latest.value is not None or r.latest.status)
    ]
    folder = tmp_path / "again"
    folder.mkdir()
    write_table(folder / "actuals.csv", export_columns(extras), values, "csv")
    again = await load(sessions, folder)
    assert not again.changed
    assert await stored_answers(sessions, "PL-06", "2025/26 Q2") == {2: answers}


async def test_an_answer_over_the_cards_limit_is_a_problem_of_its_row(sessions, sample_copy):
    await load(sessions, SAMPLE)
    _add_answers(sample_copy / "actuals.csv", "PL-06", "2025/26 Q2", {"impact": "x" * 501})
    with pytest.raises(ImportRejected) as rejected:
        await load(sessions, sample_copy)
    [problem] = [str(p) for p in rejected.value.problems]
    assert problem.endswith(
        "impact is 501 characters: keep it to 500 or fewer (as the return card does)"
    )
    assert await stored_answers(sessions, "PL-06", "2025/26 Q2") == {}
