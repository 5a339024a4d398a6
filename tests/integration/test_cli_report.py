"""`perfbot report` as the performance team runs it: the real command in its own process,
over the sample council loaded into a real SQLite file, writing real files that are opened
again here as a person would open them (openpyxl for the workbook, csv for the CSV)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database
from tests.integration.test_cli import fails_clearly, run

NOW = "2026-11-23T10:00"  # the sample council's day: its last quarter is 2026/27 Q2
OFF_TRACK = {"Review", "Action", "Amber", "Red"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prepared")
    assert run(folder, "db", "upgrade").returncode == 0
    loaded = run(folder, "sample", "load", "--as-of", "2026-11-23")
    assert loaded.returncode == 0, loaded.stderr
    return folder / "perfbot.db"


@pytest.fixture
def council(prepared: Path, tmp_path: Path) -> Path:
    shutil.copy(prepared, tmp_path / "perfbot.db")
    return tmp_path


def report(council: Path, *args: str) -> tuple[str, str]:
    """Run `perfbot report ARGS --now NOW`; its standard output and its one line."""
    result = run(council, "report", *args, "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout, result.stderr


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_board_for_the_last_quarter_is_a_page_named_for_it_by_default(council):
    _, said = report(council, "board")
    page = council / "board-2026-27-Q2.html"
    assert page.exists()
    assert said.startswith("Wrote board-2026-27-Q2.html: 41 measures, ")
    assert said.rstrip().endswith("; open it in a browser.")
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "2026/27 Q2" in html
    # The line's figures are the board's: counted again from its CSV.
    _, said_csv = report(council, "board", "--format", "csv")
    rows = csv_rows((council / "board-2026-27-Q2.csv").read_text(encoding="utf-8-sig"))
    off = len({r["Code"] for r in rows if r["Rating"] in OFF_TRACK})
    late = len({r["Code"] for r in rows if r["Overdue"] == "Yes"})
    # Each measure once under each of its priorities: four of the sample's are under two.
    assert len(rows) == 45
    assert len({r["Code"] for r in rows}) == 41
    assert off > 0
    counted = f"41 measures, {off} off track, {late} overdue return{'' if late == 1 else 's'}"
    assert f": {counted};" in said
    assert said_csv.startswith(f"Wrote board-2026-27-Q2.csv: {counted}; beside it ")


def test_the_workbook_has_a_filterable_sheet_per_section(council):
    _, said = report(council, "board", "--period", "2026/27 q2", "-o", "pack.xlsx")
    assert said.startswith("Wrote pack.xlsx: 41 measures, ")
    assert "(sheets About, Headlines, Portfolios, Measures and Action plans)" in said
    book = load_workbook(council / "pack.xlsx")
    assert book.sheetnames == ["About", "Headlines", "Portfolios", "Measures", "Action plans"]
    measures = book["Measures"]
    assert measures.max_row == 46  # 41 measures, four of them under a second priority too
    assert measures.freeze_panes == "C2"
    assert measures.auto_filter.ref == f"A1:{measures.cell(1, measures.max_column).column_letter}46"
    header = [c.value for c in measures[1]]
    rows = list(measures.iter_rows(min_row=2))
    percent = next(r for r in rows if r[header.index("Unit")].value == "percent")
    target = percent[header.index("Target")]
    assert isinstance(target.value, int | float)
    assert target.number_format.endswith('"%"')
    due = percent[header.index("Due")]
    assert due.is_date
    assert due.number_format == "d mmm yyyy"
    ratings = {r[header.index("Rating")].value for r in rows}
    assert ratings <= {"Strong", "Good", "Review", "Action", "Green", "Amber", "Red", "Not rated"}
    headline = {r[0]: r for r in book["Headlines"].iter_rows(min_row=2, values_only=True)}
    assert headline["All services"][-1] == 41
    portfolios = {r[0]: r[-1] for r in book["Portfolios"].iter_rows(min_row=2, values_only=True)}
    assert len(portfolios) == 7
    assert sum(portfolios.values()) == 41  # each measure counted once
    assert portfolios["Finance and Resources"] == 8


def test_csv_files_sit_side_by_side_and_hold_the_workbooks_rows(council):
    _, said = report(council, "exceptions", "--period", "2026/27 Q2", "-o", "ex.csv")
    assert said.startswith("Wrote ex.csv: ")
    assert "beside it ex-action-plans.csv and ex-overdue.csv." in said
    rows = csv_rows((council / "ex.csv").read_text(encoding="utf-8-sig"))
    assert rows
    assert {r["Rating"] for r in rows} <= OFF_TRACK
    overdue = csv_rows((council / "ex-overdue.csv").read_text(encoding="utf-8-sig"))
    off = len({r["Code"] for r in rows})  # a measure under two priorities has two rows
    assert f"{off} measure{'' if off == 1 else 's'} off track, {len(overdue)}" in said
    report(council, "exceptions", "--period", "2026/27 Q2", "-o", "ex.xlsx")
    sheet = load_workbook(council / "ex.xlsx")["Exceptions"]
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [r["Code"] for r in rows]
    # Standard output holds the same main table; the line says the rest needs files.
    out, said = report(
        council, "exceptions", "--period", "2026/27 Q2", "--format", "csv", "-o", "-"
    )
    assert csv_rows(out) == rows
    assert "need files: add -o exceptions.csv" in said


def test_one_service_and_the_annual_report(council):
    out, said = report(
        council, "board", "--service", "revenues AND benefits", "--format", "csv", "-o", "-"
    )
    rows = csv_rows(out)
    assert rows
    assert {r["Service"] for r in rows} == {"Revenues and Benefits"}
    assert said.startswith(
        "Wrote the performance board for 2026/27 Q2 (measures) to standard output: "
        f"{len(rows)} measures in Revenues and Benefits, "
    )
    _, said = report(council, "annual", "--format", "xlsx")
    assert said.startswith("Wrote annual-2025-26.xlsx: 41 measures, ")
    outturn = load_workbook(council / "annual-2025-26.xlsx")["Outturn"]
    assert outturn.max_row == 46  # 41 measures, four under a second priority too


def test_one_portfolio_and_a_measure_under_each_of_its_priorities(council):
    """Seed 002: an activity entered once, reported under each priority it serves; seed 001:
    a Cabinet member's portfolio report."""
    out, said = report(council, "board", "--portfolio", "housing", "--format", "csv", "-o", "-")
    rows = csv_rows(out)
    assert {r["Portfolio"] for r in rows} == {"Housing"}
    codes = [r["Code"] for r in rows]
    assert sorted(set(codes)) == ["HC-01", "HC-03", "HC-04", "HC-05", "KA-05", "PL-04", "PL-05"]
    # PL-05 (affordable homes) is under its own priority and under the economy's too.
    assert [r["Priority"] for r in rows if r["Code"] == "PL-05"] == [
        "A prosperous economy",
        "Homes and thriving communities",
    ]
    assert said.startswith(
        "Wrote the performance board for 2026/27 Q2 (measures) to standard output: "
        "7 measures of the Housing portfolio, "
    )
    out, said = report(
        council, "board", "--priority", "a prosperous economy", "--format", "csv", "-o", "-"
    )
    rows = csv_rows(out)
    assert {r["Priority"] for r in rows} == {"A prosperous economy"}
    assert {"PL-05", "KA-01", "OD-04", "PL-01"} <= {r["Code"] for r in rows}
    page, _ = report(council, "board", "-o", "-")
    assert page.count('<span class="code"><bdi>PL-05</bdi></span>') == 2
    # Each of its rows names the other priority it is under, and its portfolio.
    assert "Portfolio: <bdi>Housing</bdi> · Also under: <bdi>A prosperous economy</bdi>" in page
    assert (
        "Portfolio: <bdi>Housing</bdi> · Also under: <bdi>Homes and thriving communities</bdi>"
        in page
    )
    assert "Measures and key actions by rating and Cabinet portfolio" in page


@pytest.mark.parametrize(
    ("args", "phrases"),
    [
        (["boards"], ["'boards' is not a report: choose one of board, exceptions, annual"]),
        (["board", "--period", "2025/26"], ["is for a quarter, not '2025/26'", "2025/26 Q1"]),
        (["annual", "--period", "2025/26 Q1"], ["for a financial year", "write for example"]),
        (["board", "--period", "2025/26 Q9"], ["'2025/26 Q9' is not a period"]),
        (["board", "--service", "Parks"], ["--service: no service is called 'Parks'", "Revenues"]),
        (["board", "--priority", "Joy"], ["--priority: no priority is called 'Joy'"]),
        (
            ["board", "--portfolio", "Leisure"],
            ["--portfolio: no portfolio is called 'Leisure'", "Finance and Resources; Housing"],
        ),
        (["board", "--format", "pdf"], ["--format pdf", "choose html, xlsx, csv"]),
        (["board", "-o", "x.csv", "--format", "xlsx"], ["ends in .csv but --format is xlsx"]),
        (["board", "--format", "xlsx", "-o", "-"], ["cannot go to standard output", "-o board"]),
        (["board", "-o", "missing/b.html"], ["the folder missing does not exist"]),
        (["board", "-o", "perfbot.db/b.html"], ["perfbot.db is a file, not a folder"]),
        (["board", "-o", "."], ["is a folder: give a file name"]),
        (["board", "-o", "/proc/board.html"], ["cannot write /proc/board.html", "nothing was"]),
        (["board", "-o", "/proc/board.csv"], ["cannot write /proc/board", "nothing was"]),
        (["board", "--now", "soon"], ["--now: 'soon' is not a date"]),
        (["board", "-o", "board.pdf"], ["writes .html, .xlsx or .csv files", "print the page"]),
        (["board", "-o", "/dev/null"], ["/dev/null is not an ordinary file"]),
    ],
)
def test_bad_input_is_refused_in_a_sentence_and_writes_nothing(council, args, phrases):
    (council / "kept.html").write_text("an earlier page", encoding="utf-8")
    before = sorted(p.name for p in council.iterdir())
    now = [] if "--now" in args else ["--now", NOW]
    result = run(council, "report", *args, *now)
    fails_clearly(result, *phrases)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in council.iterdir()) == before
    assert (council / "kept.html").read_text(encoding="utf-8") == "an earlier page"


def test_a_refused_report_leaves_the_file_it_would_have_replaced(council):
    (council / "board.csv").write_text("last quarter's", encoding="utf-8")
    result = run(council, "report", "board", "-o", "board.csv", "--service", "Parks", "--now", NOW)
    fails_clearly(result, "no service is called 'Parks'")
    assert (council / "board.csv").read_text(encoding="utf-8") == "last quarter's"
    assert sorted(p.name for p in council.iterdir()) == ["board.csv", "perfbot.db"]


def test_a_csv_beside_which_a_folder_is_in_the_way_writes_none_of_its_files(council):
    (council / "board-headlines.csv").mkdir()
    result = run(council, "report", "board", "-o", "board.csv", "--now", NOW)
    fails_clearly(result, "board-headlines.csv is where the headline counts go", "a folder")
    assert sorted(p.name for p in council.iterdir()) == ["board-headlines.csv", "perfbot.db"]


def test_a_link_in_the_way_is_refused_and_left_as_it_was(council):
    (council / "real.html").write_text("the real one", encoding="utf-8")
    (council / "board.html").symlink_to(council / "real.html")
    result = run(council, "report", "board", "-o", "board.html", "--now", NOW)
    fails_clearly(result, "board.html is not an ordinary file")
    assert (council / "board.html").is_symlink()
    assert (council / "real.html").read_text(encoding="utf-8") == "the real one"


def test_the_period_may_be_written_without_quotes(council):
    _, said = report(council, "board", "--period", "2026/27", "Q1")
    assert said.startswith("Wrote board-2026-27-Q1.html: 41 measures, ")


def test_a_database_never_prepared_is_named_with_the_fix(tmp_path):
    fails_clearly(run(tmp_path, "report", "board"), "perfbot db upgrade")
    assert not list(tmp_path.glob("board*"))


@pytest.mark.postgres
@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL test is skipped",
)
async def test_the_same_board_comes_out_of_postgresql(council, tmp_path):
    url, name = await fresh_postgres_database()
    on_postgres = {"PERFBOT_DATABASE_URL": url}
    folder = tmp_path / "postgres"
    folder.mkdir()
    try:
        assert run(folder, "db", "upgrade", env=on_postgres).returncode == 0
        loaded = run(folder, "sample", "load", "--as-of", "2026-11-23", env=on_postgres)
        assert loaded.returncode == 0, loaded.stderr
        for where, env in ((folder, on_postgres), (council, {})):
            result = run(where, "report", "board", "-o", "board.csv", "--now", NOW, env=env)
            assert result.returncode == 0, result.stderr
    finally:
        await drop_postgres_database(name)
    for made in ("board.csv", "board-headlines.csv", "board-action-plans.csv"):
        assert (folder / made).read_bytes() == (council / made).read_bytes(), made
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in council.iterdir() if p.suffix == ".csv"
    )
