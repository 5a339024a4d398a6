"""A report as CSV: the same rows as the workbook's sheets (reports/table.py), one file per
section. The main section (the measures, the exceptions, the outturn) goes in the file asked
for, e.g. ``board.csv``, and each other section beside it as ``board-<section>.csv``
(``board-headlines.csv``, ``board-action-plans.csv``, ``board-overdue.csv``), as
``perfbot export --with versions`` writes its versions file.

Numbers are written plainly (29.2 for 29.2%: the workbook's number formats are not in a CSV),
dates as 2025-07-22, and the file starts with a byte-order mark so that Excel reads £ and ★
right. A text that begins with =, +, - or @ (other than a figure such as -£1,200) is written
with a leading apostrophe, so that a spreadsheet opening the file never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from domain.board import Report
from reports.table import Cell, Figure, Section, main_section, plain, sections

ENCODING = "utf-8-sig"  # the BOM makes Excel read £ and ★ right
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_FIGURE = re.compile(r"^-£?[\d,]*\.?\d+(?:%| days?| hours?)?$")


def value_text(cell: Cell) -> str:
    """One cell as the CSV holds it."""
    if isinstance(cell, Figure) and cell.places is not None:
        return f"{cell.value:.{cell.places}f}"  # 2.00, as the measure prints it
    value = plain(cell)
    if value is None:
        return ""
    if isinstance(value, str):
        if value.startswith(_FORMULA) and not _FIGURE.match(value):
            return "'" + value
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)  # int; a date as 2025-07-22


def section_text(section: Section) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(section.header)
    for row in section.rows:
        writer.writerow([value_text(v) for v in row])
    return buffer.getvalue()


def files(report: Report, output: Path) -> list[tuple[Path, Section]]:
    """Where each section goes for ``-o output``: the main section in ``output`` itself,
    each other one beside it, named ``<stem>-<section>.csv``; the main one first."""
    tables = sections(report)
    main = main_section(report)
    suffix = output.suffix or ".csv"
    placed = [(output, s) for s in tables if s.name == main]
    placed += [
        (output.with_name(f"{output.stem}-{s.slug}{suffix}"), s) for s in tables if s.name != main
    ]
    return placed


def main_text(report: Report) -> str:
    """The main section alone (for standard output)."""
    main = main_section(report)
    return next(section_text(s) for s in sections(report) if s.name == main)
