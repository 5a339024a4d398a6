"""Spreadsheets in and out: an .xlsx workbook of named sheets, or a folder of CSV files."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

SHEETS = (
    "people",
    "services",
    "measures",
    "targets",
    "actuals",
    "calendar",
    "deadlines",
    "benchmarks",
    "milestones",
)


class WorkbookError(ValueError):
    """A file or folder that cannot be read as PerfBot's spreadsheets."""


@dataclass
class Sheet:
    """One sheet: its column names (lower case) and its rows by spreadsheet row number."""

    name: str
    columns: list[str]
    rows: list[tuple[int, Mapping[str, str]]] = field(default_factory=list)
    # Rows with filled cells beyond the last named column, by row number: their cell count.
    overflowing: dict[int, int] = field(default_factory=dict)


class _Cells(Mapping[str, str]):
    """One row's cells by column name: the cells as a tuple, and the sheet's one index of
    its columns (a dict a row costs some 150 bytes more: 60 MB on a large council's sheets)."""

    __slots__ = ("_cells", "_index")

    def __init__(self, index: dict[str, int], cells: tuple[str, ...]) -> None:
        self._index = index
        self._cells = cells

    def __getitem__(self, column: str) -> str:
        return self._cells[self._index[column]]

    def get(self, column: str, default: Any = None) -> Any:
        at = self._index.get(column)
        return default if at is None else self._cells[at]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))


def read_sheets(path: Path) -> dict[str, Sheet]:
    """Read the sheets PerfBot knows from ``path``: an .xlsx workbook or a folder of CSVs.

    Row numbers are those a person sees in Excel: the header is row 1. Blank rows are
    skipped. Every cell comes back as trimmed text.
    """
    if not path.exists():
        raise WorkbookError(
            f"{path} does not exist: give an .xlsx workbook or a folder of CSV files"
        )
    if path.is_dir():
        sheets = _read_csv_folder(path)
        expected = ", ".join(f"{name}.csv" for name in SHEETS)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = _read_xlsx(path)
        expected = "sheets named " + ", ".join(SHEETS)
    elif path.suffix.lower() == ".csv":
        raise WorkbookError(
            f"{path} is a single CSV file: put people.csv, measures.csv, targets.csv and "
            "actuals.csv in one folder and import the folder"
        )
    else:
        raise WorkbookError(f"{path} is not an .xlsx workbook or a folder of CSV files")
    if not sheets:
        raise WorkbookError(f"{path} has none of the expected {expected}")
    return sheets


def _read_csv_folder(folder: Path) -> dict[str, Sheet]:
    sheets = {}
    for file in sorted(folder.iterdir()):
        name = file.stem.strip().lower()
        if file.suffix.lower() != ".csv" or name not in SHEETS:
            continue
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Excel on Windows saves "CSV" in Windows-1252, where £ is one byte.
            text = raw.decode("cp1252")
        del raw
        sheets[name] = _sheet(name, csv.reader(io.StringIO(text, newline="")))
    return sheets


def _read_xlsx(path: Path) -> dict[str, Sheet]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise WorkbookError(f"{path} cannot be opened as an Excel workbook ({error})") from None
    sheets = {}
    try:
        for worksheet in workbook.worksheets:
            name = worksheet.title.strip().lower()
            if name not in SHEETS:
                continue
            table = [[_cell_text(cell) for cell in row] for row in worksheet.iter_rows()]
            sheets[name] = _sheet(name, table)
    finally:
        workbook.close()
    return sheets


def _cell_text(cell: Any) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | int):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if "%" in (getattr(cell, "number_format", "") or ""):
            # A cell formatted as a percentage holds 0.85 for 85%; people mean 85.
            return f"{(number * 100).normalize():f}%"
        return f"{number.normalize():f}" if isinstance(value, float) else str(value)
    return str(value).strip()


def _sheet(name: str, table: Iterable[list[str]]) -> Sheet:
    """The sheet of ``table``'s rows, read as they come (a CSV file's are not all held as
    lists first): the header is the first row with a filled cell."""
    rows = iter(table)
    header_number = 0
    for header in rows:
        header_number += 1
        if any(c.strip() for c in header):
            break
    else:
        return Sheet(name, [])
    columns = [c.strip().lower().replace(" ", "_") for c in header]
    sheet = Sheet(name, columns)
    width = len(columns)
    every_named = all(columns) and len(set(columns)) == width
    index = {column: at for at, column in enumerate(columns)}
    # The same code, period or word fills thousands of cells: each kept once, not per cell.
    known: dict[str, str] = {}
    once = known.setdefault
    for offset, row in enumerate(rows, start=header_number + 1):
        stripped = list(map(str.strip, row))
        cells = tuple(map(once, stripped, stripped))
        if not any(cells):
            continue
        values: Mapping[str, str]
        if every_named and len(cells) == width:  # the usual row: a cell under each column
            values = _Cells(index, cells)
        else:
            values = {
                col: (cells[i] if i < len(cells) else "") for i, col in enumerate(columns) if col
            }
        if any(cells[width:]):
            sheet.overflowing[offset] = len(cells) - next(
                i for i, c in enumerate(reversed(cells)) if c
            )
        sheet.rows.append((offset, values))
    return sheet


def write_table(
    path: Path | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    file_format: str,
    sheet_name: str = "performance",
) -> bytes | None:
    """Write rows as CSV or a one-sheet .xlsx to ``path``, or return the bytes if no path."""
    if file_format == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
        data = buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read £ and ★ right
    elif file_format == "xlsx":
        data = _xlsx([(sheet_name, columns, rows)])
    else:
        raise WorkbookError(f"format '{file_format}' is not csv or xlsx")
    if path is None:
        return data
    path.write_bytes(data)
    return None


def write_workbook(
    path: Path, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]
) -> None:
    """Write several named sheets, each (name, columns, rows), to one .xlsx workbook."""
    path.write_bytes(_xlsx(sheets))


def write_folder(
    folder: Path, sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]
) -> list[Path]:
    """Write each sheet, (name, columns, rows), as ``name.csv`` in ``folder`` (made if it
    is not there): a folder of CSV files that import reads as it reads a workbook."""
    folder.mkdir(exist_ok=True)
    written = []
    for name, columns, rows in sheets:
        path = folder / f"{name}.csv"
        write_table(path, columns, rows, "csv")
        written.append(path)
    return written


def _xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """The sheets as one workbook, as openpyxl writes it. openpyxl spends about 11 µs on a
    cell even in write-only mode (27 s for a large council's 240,000 rows of ten): a sheet
    whose cells are all text, whole numbers, Decimals or empty has its rows written here
    instead, in the very XML openpyxl writes for them, into the workbook openpyxl made with
    the header rows alone. A sheet with any other cell (a date, a formula-like text, ...) is
    written by openpyxl whole, so every file is what openpyxl alone would write."""
    tables = [(name, columns, list(rows)) for name, columns, rows in sheets]
    fast = [all(_plain_row(row) for row in rows) for _, _, rows in tables]
    skeleton = _openpyxl_xlsx(
        [
            (name, columns, [] if quick else rows)
            for (name, columns, rows), quick in zip(tables, fast, strict=True)
        ],
        [len(rows) for _, _, rows in tables],
        [max([len(columns), *map(len, rows)]) for _, columns, rows in tables],
    )
    if not any(fast):
        return skeleton
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(skeleton)) as made, zipfile.ZipFile(out, "w") as written:
        for info in made.infolist():
            data = made.read(info)
            number = _sheet_number(info.filename)
            if number is None or not fast[number - 1]:
                written.writestr(info, data)
                continue
            head, tail = data.decode("utf-8").split("</row>", 1)
            with written.open(info, "w") as part:
                part.write(f"{head}</row>".encode())
                rows = tables[number - 1][2]
                for start in range(0, len(rows), 1000):
                    part.write(
                        "".join(
                            _row_xml(index, row)
                            for index, row in enumerate(rows[start : start + 1000], start=start + 2)
                        ).encode()
                    )
                part.write(tail.encode())
    return out.getvalue()


def _openpyxl_xlsx(
    sheets: Sequence[tuple[str, Sequence[str], list[Sequence[Any]]]],
    heights: Sequence[int],
    widths: Sequence[int],
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    # Write-only: each row goes straight to the sheet's XML, not into a cell object each.
    workbook = Workbook(write_only=True)
    for (name, columns, rows), height, width in zip(sheets, heights, widths, strict=True):
        sheet = workbook.create_sheet(name)
        # The sheet's extent, as the ordinary writer puts it in each sheet (a write-only one
        # cannot know it before the rows): readers such as openpyxl's read-only mode use it.
        extent = f"A1:{get_column_letter(max(width, 1))}{height + 1}"
        sheet.calculate_dimension = lambda extent=extent: extent
        sheet.freeze_panes = "A2"
        sheet.append(list(columns))
        for row in rows:
            sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


_SHEET_PART = re.compile(r"^xl/worksheets/sheet(\d+)\.xml$")
# What openpyxl refuses in a cell (it raises), or writes as other than text: a formula, an
# error code; and what it cuts (over 32,767 characters). Such a sheet is left to openpyxl.
_NOT_PLAIN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))


def _sheet_number(name: str) -> int | None:
    match = _SHEET_PART.match(name)
    return int(match.group(1)) if match else None


def _plain(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is int:
        return True
    if kind is Decimal:
        return bool(value.is_finite())
    if kind is str:
        return (
            len(value) <= 32_767
            and not (len(value) > 1 and value[0] == "=")
            and value not in _ERROR_CODES
            and not _NOT_PLAIN.search(value)
        )
    return False


def _plain_row(row: Sequence[Any]) -> bool:
    return len(row) <= len(_LETTERS) and all(map(_plain, row))


def _column_letters(count: int) -> list[str]:
    """A, B, ... Z, AA, AB, ...: openpyxl's get_column_letter, worked out here so that
    importing this module does not import openpyxl (and numpy with it), a fifth of every
    command's start-up, in commands that never touch a workbook."""

    def letter(number: int) -> str:
        text = ""
        while number:
            number, rest = divmod(number - 1, 26)
            text = chr(ord("A") + rest) + text
        return text

    return [letter(n) for n in range(1, count + 1)]


_LETTERS = _column_letters(200)


def _row_xml(index: int, row: Sequence[Any]) -> str:
    """One row as openpyxl's write-only writer puts it (ElementTree's escaping and spacing)."""
    cells = []
    for letter, value in zip(_LETTERS, row, strict=False):
        if value is None:
            continue
        if type(value) is str:
            if not value:
                cells.append(f'<c r="{letter}{index}" t="inlineStr" />')
                continue
            text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            stripped = value.strip()
            space = ' xml:space="preserve"' if stripped and stripped != value else ""
            cells.append(f'<c r="{letter}{index}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
        else:
            # As openpyxl formats a number: through a float (a Decimal's digits to 16 places).
            number = "%.16g" % value  # noqa: UP031 - not str.format, which keeps a Decimal's own
            cells.append(f'<c r="{letter}{index}" t="n"><v>{number}</v></c>')
    return f'<row r="{index}">{"".join(cells)}</row>'
