"""The reports as a workbook and as CSV files, opened as a performance officer opens them:
openpyxl reads the written workbook back, csv reads the written files."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from domain.board import Report, ReportKind
from domain.questions import Question
from reports import csvfiles, workbook
from tests.reports.conftest import HOSTILE, board_row, make_report, off_track_row


def on(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A date as a workbook gives it back: a datetime at midnight, of no time zone."""
    return datetime.combine(date(year, month, day), time(hour))


def written(report: Report, tmp_path: Path) -> Any:
    path = tmp_path / "report.xlsx"
    workbook.write(report, path)
    return load_workbook(path)


def table(sheet: Worksheet) -> list[dict[str, Any]]:
    """A sheet's rows as dictionaries by header."""
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def cell(sheet: Worksheet, code: str, column: str) -> Any:
    """The cell of the measure ``code`` under ``column``."""
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == code:
            return row[header.index(column)]
    raise AssertionError(f"{code} is not on {sheet.title}")


def test_the_board_has_a_sheet_per_section_each_a_table_to_filter(board, tmp_path):
    book = written(board, tmp_path)
    assert book.sheetnames == ["About", "Headlines", "Measures", "Action plans"]
    sizes = {"Headlines": 4, "Measures": 3, "Action plans": 2}
    for name, rows in sizes.items():
        sheet = book[name]
        assert sheet.max_row == rows + 1, name
        assert (
            sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{rows + 1}"
        )
        assert all(c.font.bold for c in sheet[1]), name
        assert sheet.freeze_panes in ("B2", "C2"), name
    assert book["Measures"].freeze_panes == "C2"  # the code and the measure stay in view
    assert book["Measures"].column_dimensions["B"].width >= 30
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row[0]}
    assert about["Performance board: 2025/26 Q1"] is None
    assert about["Period"] == "2025/26 Q1"
    assert about["Made at"] == on(2025, 7, 21, 10)  # London time
    assert about["Sign-off"] == "Not yet signed off: 1 return awaits approval."
    assert about["Rating scheme"].startswith("Strong / Good / Review / Action")


def test_figures_are_numbers_in_their_measures_format_and_the_rating_a_word(board, tmp_path):
    sheet = written(board, tmp_path)["Measures"]
    target = cell(sheet, "RB-01", "Target")
    assert (target.value, target.number_format) == (29.1, '0.0"%"')  # 29.1 meaning 29.1%
    actual = cell(sheet, "RB-01", "Actual")
    assert (actual.data_type, actual.value) == ("n", 29.2)
    assert cell(sheet, "RB-01", "Rating").value == "Good"
    assert cell(sheet, "RB-01", "Symbol").value == "✓"
    assert cell(sheet, "RB-01", "Variance %").value == 0.3
    households = cell(sheet, "HC-02", "Actual")
    assert (households.value, households.number_format) == (150, "#,##0")
    assert isinstance(households.value, int)
    assert cell(sheet, "HC-02", "Rating").value == "Action"
    assert cell(sheet, "HC-02", "Variance %").value == -25.0
    due = cell(sheet, "RB-01", "Due")
    assert (due.value, due.number_format) == (on(2025, 7, 22), "d mmm yyyy")
    assert cell(sheet, "HC-02", "Action due").value == on(2025, 9, 30)
    assert cell(sheet, "HC-02", "Restated").value == "Yes"
    assert cell(sheet, "HC-02", "Restated from").value == "140"
    assert cell(sheet, "HC-02", "Against previous period").value == "declining"
    assert cell(sheet, "HC-02", "Escalation").value == (
        "Escalated to Sarah Lindqvist at 10:04 on 18 July 2025. "
        "Sarah Lindqvist acknowledged it at 11:20 on 18 July 2025."
    )
    assert cell(sheet, "RB-01", "Benchmarks").value == (
        "better than the England average of 28.5% (LG Inform)"
    )
    # A key action reports a status, not a figure.
    assert cell(sheet, "KA-01", "Actual").value is None
    assert cell(sheet, "KA-01", "As reported").value == "Some risk"
    assert cell(sheet, "KA-01", "Kind").value == "Key action"
    assert cell(sheet, "KA-01", "Rating").value == "Review"


def test_the_headline_counts_each_service_and_the_whole_board(board, tmp_path):
    rows = table(written(board, tmp_path)["Headlines"])
    by_service = {r["Service"]: r for r in rows}
    assert list(by_service) == [
        "Environment and Waste",
        "Housing and Communities",
        "Revenues and Benefits",
        "All services",
    ]
    assert by_service["Housing and Communities"]["Action"] == 1
    assert by_service["Revenues and Benefits"]["Good"] == 1
    total = by_service["All services"]
    assert (total["Strong"], total["Good"], total["Review"], total["Action"]) == (0, 1, 1, 1)
    assert (total["Not rated"], total["Total"]) == (0, 3)


def test_action_plans_and_overdue_returns_have_sheets_of_their_own(board, exceptions, tmp_path):
    book = written(board, tmp_path)
    plans = table(book["Action plans"])
    assert [(p["Code"], p["Status"], p["Due"]) for p in plans] == [
        ("HC-02", "open", on(2025, 9, 30)),
        ("HC-02", "late", on(2025, 6, 30)),
    ]
    assert plans[0]["Progress"] == "Builders on site."
    (late,) = table(written(exceptions, tmp_path)["Overdue"])
    assert (late["Code"], late["Working days late"], late["Escalated"]) == ("PO-03", 6, "Yes")
    assert late["Due"] == on(2025, 7, 22)


def test_the_exception_report_answers_why_what_and_by_when(exceptions, tmp_path):
    book = written(exceptions, tmp_path)
    assert book.sheetnames == ["About", "Exceptions", "Action plans", "Overdue"]
    (row,) = table(book["Exceptions"])
    assert row["Commentary"] == "Demand rose after two large evictions."
    assert row["Action"] == "Open the second hostel wing."
    assert row["By when"] == on(2025, 9, 30)
    assert row["Escalation decisions"].startswith("Escalated to Sarah Lindqvist")
    assert (row["Rating"], row["Actual"], row["Target"]) == ("Action", 150, 120)


def test_the_annual_report_shows_the_outturn_against_last_year(annual, tmp_path):
    book = written(annual, tmp_path)
    assert book.sheetnames == ["About", "Headlines", "Outturn"]
    rows = table(book["Outturn"])
    assert [r["Code"] for r in rows] == ["RB-01", "RB-02"]
    first = rows[0]
    assert (first["Target"], first["Outturn"], first["Rating"]) == (97.0, 96.1, "Good")
    assert (first["Last year's outturn"], first["Last year's rating"]) == (95.8, "Review")
    assert first["Against last year"] == "improving"
    assert book["Outturn"]["J2"].number_format == '0.0"%"'


def test_hostile_text_is_stored_as_text_intact(hostile_board, tmp_path):
    sheet = written(hostile_board, tmp_path)["Measures"]
    (first, second) = table(sheet)
    assert first["Measure"] == HOSTILE + "title"
    assert first["Owner"] == HOSTILE
    assert first["Commentary"].startswith(HOSTILE)
    assert len(first["Commentary"]) > 5_000
    assert second["Code"] == "X<1>"
    assert second["Correction reason"] == HOSTILE


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    sneaky = board_row(
        commentary='=HYPERLINK("http://evil.example","click")',
        remedial_action="Ring\x07 the\x00 bell",
        title="x" * 40_000,
    )
    report = make_report(ReportKind.BOARD, [sneaky])
    sheet = written(report, tmp_path)["Measures"]
    commentary = cell(sheet, "RB-01", "Commentary")
    assert commentary.data_type == "s"
    assert commentary.value == '=HYPERLINK("http://evil.example","click")'
    assert cell(sheet, "RB-01", "Action").value == "Ring the bell"  # control characters dropped
    title = cell(sheet, "RB-01", "Measure").value
    assert len(title) == 32_767
    assert title.endswith("(cut: the full text is in PerfBot)")

    rows = list(csv.reader(io.StringIO(csvfiles.main_text(report))))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Commentary"] == '\'=HYPERLINK("http://evil.example","click")'
    assert line["Measure"] == "x" * 40_000  # a CSV cell has no limit


def same(in_csv: str, in_xlsx: Any) -> bool:
    """Whether a CSV cell holds what the workbook's cell does (a number as a number: the
    workbook gives back 25.0 as 25)."""
    if in_xlsx is None:
        return in_csv == ""
    if isinstance(in_xlsx, datetime):
        return in_csv == in_xlsx.date().isoformat()
    if isinstance(in_xlsx, int | float):
        return float(in_csv) == in_xlsx
    return in_csv == in_xlsx


@pytest.mark.parametrize("name", ["board", "exceptions", "annual", "hostile_board"])
def test_the_csv_files_hold_the_same_rows_as_the_workbook(name, request, tmp_path):
    report: Report = request.getfixturevalue(name)
    book = written(report, tmp_path)
    placed = csvfiles.files(report, tmp_path / "pack.csv")
    assert sorted(s.name for _, s in placed) == sorted(book.sheetnames[1:])
    for path, section in placed:
        path.write_text(csvfiles.section_text(section), encoding=csvfiles.ENCODING)
        in_csv = list(csv.reader(io.StringIO(path.read_text(encoding=csvfiles.ENCODING))))
        in_xlsx = list(book[section.name].iter_rows(values_only=True))
        assert len(in_csv) == len(in_xlsx) == len(section.rows) + 1, section.name
        for line, row in zip(in_csv, in_xlsx, strict=True):
            assert len(line) == len(row) == len(section.columns)
            differ = [(a, b) for a, b in zip(line, row, strict=True) if not same(a, b)]
            assert not differ, (section.name, differ)
    assert {p.name for p, _ in placed} == {
        "board": {"pack.csv", "pack-headlines.csv", "pack-action-plans.csv"},
        "hostile_board": {"pack.csv", "pack-headlines.csv", "pack-action-plans.csv"},
        "exceptions": {"pack.csv", "pack-action-plans.csv", "pack-overdue.csv"},
        "annual": {"pack.csv", "pack-headlines.csv"},
    }[name]
    main = {"board": "Measures", "hostile_board": "Measures", "exceptions": "Exceptions"}
    assert placed[0][1].name == main.get(name, "Outturn")


def test_a_negative_figure_in_the_csv_is_not_mistaken_for_a_formula():
    report = make_report(
        ReportKind.BOARD,
        [board_row(unit="currency", actual_shown="-£1,200.50", commentary="-fewer staff")],
    )
    rows = list(csv.reader(io.StringIO(csvfiles.main_text(report))))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["As reported"] == "-£1,200.50"
    assert line["Commentary"] == "'-fewer staff"
    assert line["Target"] == "29.1"
    assert line["Due"] == date(2025, 7, 22).isoformat()


def test_an_empty_section_is_still_a_table_with_its_header(exceptions, tmp_path):
    report = replace(exceptions, overdue=())
    sheet = written(report, tmp_path)["Overdue"]
    assert sheet.max_row == 1
    assert sheet.auto_filter.ref == "A1:K1"  # Code, Measure, Priority, Portfolio, ...
    assert [c.value for c in sheet[1]][:2] == ["Code", "Measure"]


def test_a_board_without_a_list_of_overdue_returns_has_no_overdue_sheet(board, tmp_path):
    book = written(replace(board, overdue=()), tmp_path)
    assert book.sheetnames == ["About", "Headlines", "Measures", "Action plans"]
    assert cell(book["Measures"], "RB-01", "Overdue").value == "No"
    assert cell(book["Measures"], "KA-01", "Overdue").value == "Yes"  # the row says so


def test_text_excel_would_read_as_an_escape_is_kept_as_written_and_blanks_are_blank(tmp_path):
    """Excel reads ``_x0041_`` in a cell as "A": the ``_`` is escaped (``_x005F_``), so a
    commentary about such a code shows as typed. A measure with no escalation or benchmark
    has empty cells there, which "(Blanks)" in a filter finds."""
    report = make_report(ReportKind.BOARD, [board_row(commentary="code _x0041_ here")])
    path = tmp_path / "escape.xlsx"
    workbook.write(report, path)
    with zipfile.ZipFile(path) as z:
        xml = next(
            z.read(name).decode() for name in z.namelist() if "code _x" in z.read(name).decode()
        )
    assert "code _x005F_x0041_ here" in xml
    measures = load_workbook(path)["Measures"]
    assert cell(measures, "RB-01", "Escalation").value is None


def test_a_cell_is_cut_at_excels_limit_counting_as_excel_does():
    text = workbook.clean("🚩" * 20_000)  # 40,000 UTF-16 units: over 32,767
    assert len(text.encode("utf-16-le")) // 2 <= workbook.MAX_CELL
    assert text.endswith(workbook.CUT)


def test_the_earlier_figures_are_numbers_and_the_csv_keeps_the_measures_places(tmp_path):
    report = make_report(ReportKind.BOARD, [board_row()])
    measures = written(report, tmp_path)["Measures"]
    previous = cell(measures, "RB-01", "Previous figure")
    assert (previous.value, previous.number_format) == (19.8, '0.0"%"')
    assert cell(measures, "RB-01", "Last year's figure").value == 28.9
    rows = list(csv.reader(io.StringIO(csvfiles.main_text(report))))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["Target"], line["Previous figure"]) == ("29.1", "19.8")
    two = make_report(ReportKind.BOARD, [board_row(decimals=2, target=Decimal("2.0"))])
    rows = list(csv.reader(io.StringIO(csvfiles.main_text(two))))
    assert dict(zip(rows[0], rows[1], strict=True))["Target"] == "2.00"


def test_each_review_question_has_a_column_beside_the_commentary(tmp_path):
    row = off_track_row(answers=((Question.IMPACT, "Families wait longer for a home."),))
    for kind, sheet in ((ReportKind.BOARD, "Measures"), (ReportKind.EXCEPTIONS, "Exceptions")):
        (found,) = table(written(make_report(kind, [row]), tmp_path)[sheet])
        assert found["Impact on service users"] == "Families wait longer for a home.", kind
        assert found["Why"] is None
        columns = list(found)
        assert columns.index("Why") == columns.index("Commentary") + 1
