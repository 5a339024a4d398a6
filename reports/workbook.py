"""A report as an xlsx workbook a performance officer can filter: an "About" sheet, then one
sheet per section (reports/table.py), each table's header on row 1, bold and frozen (with
the code and measure columns where there are), an autofilter over the table, sensible
column widths, figures in their measure's number format, dates as dates and the rating as
its word.

The workbook is written here as the Office Open XML parts themselves, streamed row by row
into the zip: openpyxl (even in write-only mode, even with lxml) spends about 6 µs on each
cell, 1.3-1.7 s for a board of 5,000 measures, where this takes a fraction of that
(bench/report.py measures it). openpyxl stays the reader: the tests open what is written
here with it. Text is always stored as text (a commentary that begins with "=" is not a
formula); characters a workbook cannot hold (control characters) are dropped, and a text
longer than a cell holds (32,767 characters) is cut, saying so."""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from domain.board import Report
from domain.dates import LONDON
from reports.table import DATE_FORMAT, Cell, Column, Figure, Section, sections

MAX_CELL = 32_767  # the most characters a cell holds
CUT = " … (cut: the full text is in PerfBot)"
DATETIME_FORMAT = "d mmm yyyy hh:mm"
EPOCH = date(1899, 12, 30)  # day 0 of Excel's (1900) date system, leap-year bug included
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")  # what Excel reads as an escaped character
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class _Styles:
    """The cell formats used, each an index into styles.xml's cellXfs."""

    NORMAL, HEADER, TITLE, LABEL = 0, 1, 2, 3
    _FIXED = 4  # number formats are added after these

    def __init__(self) -> None:
        self.formats: dict[str, int] = {}  # number format -> its xf index

    def number(self, code: str) -> int:
        index = self.formats.get(code)
        if index is None:
            index = self.formats[code] = self._FIXED + len(self.formats)
        return index

    def xml(self) -> str:
        numbers = "".join(
            f"<numFmt numFmtId={quoteattr(str(164 + n))} formatCode={quoteattr(code)}/>"
            for n, code in enumerate(self.formats)
        )
        listed = f'<numFmts count="{len(self.formats)}">{numbers}</numFmts>' if numbers else ""
        font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
        fixed = (
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
            'applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>'
            '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
            'applyAlignment="1"><alignment vertical="top"/></xf>'
        )
        formatted = "".join(
            f'<xf numFmtId="{164 + n}" fontId="0" fillId="0" borderId="0" xfId="0" '
            'applyNumberFormat="1"/>'
            for n in range(len(self.formats))
        )
        return (
            f'{XML_HEAD}<styleSheet xmlns="{MAIN}">'
            f"{listed}"
            f'<fonts count="3"><font>{font}</font><font><b/>{font}</font>'
            '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{self._FIXED + len(self.formats)}">{fixed}{formatted}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
            "</cellStyles></styleSheet>"
        )


def column_letter(number: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def clean(value: str) -> str:
    """Text as a cell can hold it: no control characters, at most 32,767 characters (as
    Excel counts them, in UTF-16 units: an emoji is two), and a run like ``_x0041_``, which
    Excel would read as the character it codes, kept as written (its ``_`` escaped)."""
    text = _ESCAPE_LIKE.sub(r"_x005F\g<0>", _NOT_XML.sub("", value))
    if _units(text) > MAX_CELL:
        room = MAX_CELL - _units(CUT)
        cut = len(text)
        while _units(text[:cut]) > room:
            cut -= max(1, (_units(text[:cut]) - room) // 2)
        text = text[:cut] + CUT
    return text


def _units(text: str) -> int:
    """How long Excel counts a text: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _text(ref: str, value: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    return (
        f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">'
        f"{escape(clean(value))}</t></is></c>"
    )


def _cell(ref: str, value: Cell, styles: _Styles) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(ref, value)
    if isinstance(value, Figure):
        number = value.value
        if isinstance(number, float) and not math.isfinite(number):
            return _text(ref, str(number))
        return f'<c r="{ref}" s="{styles.number(value.number_format)}"><v>{number!r}</v></c>'
    if isinstance(value, datetime):
        serial = (value.date() - EPOCH).days + (
            value.hour * 3600 + value.minute * 60 + value.second
        ) / 86400
        return f'<c r="{ref}" s="{styles.number(DATETIME_FORMAT)}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{styles.number(DATE_FORMAT)}"><v>{(value - EPOCH).days}</v></c>'
    if isinstance(value, bool):
        return _text(ref, "Yes" if value else "No")
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return _text(ref, str(value))


def _sheet_head(columns: Sequence[Column], rows: int, freeze: int, selected: bool) -> str:
    """Everything before the rows: the dimension, the frozen panes, the column widths."""
    last = f"{column_letter(max(len(columns), 1))}{rows}"
    if freeze:
        corner = f"{column_letter(freeze + 1)}2"
        pane = (
            f'<pane xSplit="{freeze}" ySplit="1" topLeftCell="{corner}" '
            'activePane="bottomRight" state="frozen"/>'
            '<selection pane="topRight"/><selection pane="bottomLeft"/>'
            f'<selection pane="bottomRight" activeCell="{corner}" sqref="{corner}"/>'
        )
    else:
        pane = ""
    widths = "".join(
        f'<col min="{n}" max="{n}" width="{c.width}" customWidth="1"/>'
        for n, c in enumerate(columns, 1)
    )
    return (
        f'{XML_HEAD}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
        f'<dimension ref="A1:{last}"/>'
        f"<sheetViews><sheetView{TAB_SELECTED if selected else ''}"
        f' workbookViewId="0">{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"{'<cols>' + widths + '</cols>' if widths else ''}<sheetData>"
    )


SCHEME_WORDS = {
    "strong-good-review-action": "Strong / Good / Review / Action (the council's default)",
    "rag": "Red / Amber / Green (the council's default)",
}
TAB_SELECTED = ' tabSelected="1"'
_TAIL = (
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    "</worksheet>"
)


def _table(section: Section, styles: _Styles) -> Iterator[str]:
    columns = section.columns
    refs = [column_letter(n) for n in range(1, len(columns) + 1)]
    freeze = 2 if len(columns) > 1 and columns[1].name == "Measure" else 1
    yield _sheet_head(columns, len(section.rows) + 1, freeze, selected=False)
    header = "".join(
        _text(f"{ref}1", c.name, _Styles.HEADER) for ref, c in zip(refs, columns, strict=True)
    )
    yield f'<row r="1">{header}</row>'
    seen: dict[str, str] = {}  # a text as XML: services, owners, words repeat on every row
    for number, row in enumerate(section.rows, 2):
        cells = []
        for ref, value in zip(refs, row, strict=True):
            if value is None:
                continue
            if type(value) is str:
                text = seen.get(value)
                if text is None:
                    text = escape(clean(value))
                    if len(value) < 200:
                        seen[value] = text
                cells.append(
                    f'<c r="{ref}{number}" t="inlineStr"><is><t xml:space="preserve">{text}'
                    "</t></is></c>"
                )
            else:
                cells.append(_cell(f"{ref}{number}", value, styles))
        yield f'<row r="{number}">{"".join(cells)}</row>'
    yield f'</sheetData><autoFilter ref="{_table_range(section)}"/>{_TAIL}'


def _table_range(section: Section) -> str:
    return f"A1:{column_letter(len(section.columns))}{len(section.rows) + 1}"


def _about(report: Report, tables: Sequence[Section], styles: _Styles) -> Iterator[str]:
    made = report.made_at.astimezone(LONDON).replace(tzinfo=None)  # London time
    facts: list[tuple[str, Cell]] = [
        ("Period", report.period.label),
        ("Made at", made),
        ("Covers", report.scope.words or "all services"),
        ("Service", report.service or "all"),
        ("Portfolio", report.portfolio or "all"),
        ("Priority", report.priority or "all"),
        ("Rating scheme", SCHEME_WORDS.get(report.scheme.value, report.scheme.value)),
        ("Sign-off", report.sign_off),
    ]
    facts += [("Note", note) for note in report.notes]
    facts += [("Sheet", f"{t.name}: {len(t.rows):,} rows") for t in tables]
    yield _sheet_head((Column("", 22), Column("", 90)), len(facts) + 1, 0, selected=True)
    yield f'<row r="1">{_text("A1", report.title, _Styles.TITLE)}</row>'
    for number, (name, value) in enumerate(facts, 2):
        label = _text(f"A{number}", name, _Styles.LABEL)
        yield f'<row r="{number}">{label}{_cell(f"B{number}", value, styles)}</row>'
    yield f"</sheetData>{_TAIL}"


def _sheet_name(name: str) -> str:
    """A sheet's name as Excel allows it: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31]


def write(report: Report, target: Path | IO[bytes]) -> None:
    """Write ``report`` as a workbook to a file name or a binary stream."""
    tables = sections(report)
    styles = _Styles()
    names = ["About", *(_sheet_name(t.name) for t in tables)]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _content_types(len(names)))
        archive.writestr("_rels/.rels", _package_rels())
        archive.writestr("docProps/core.xml", _core(report))
        archive.writestr("xl/workbook.xml", _workbook_xml(names, tables))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(names)))
        parts: list[Iterator[str]] = [_about(report, tables, styles)]
        parts += [_table(t, styles) for t in tables]
        for number, chunks in enumerate(parts, 1):
            with archive.open(f"xl/worksheets/sheet{number}.xml", "w") as part:
                buffer: list[str] = []
                for chunk in chunks:
                    buffer.append(chunk)
                    if len(buffer) >= 500:
                        part.write("".join(buffer).encode("utf-8"))
                        buffer.clear()
                part.write("".join(buffer).encode("utf-8"))
        archive.writestr("xl/styles.xml", styles.xml())  # last: once every format is known


def _workbook_xml(names: Sequence[str], tables: Sequence[Section]) -> str:
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, 1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        + escape("'" + name.replace("'", "''") + "'!" + _absolute(_table_range(t)))
        + "</definedName>"
        for n, (name, t) in enumerate(zip(names[1:], tables, strict=True), 1)
    )
    return (
        f'{XML_HEAD}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheets}</sheets><definedNames>{filters}</definedNames></workbook>"
    )


def _absolute(ref: str) -> str:
    """A1:J5 -> $A$1:$J$5."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in ref.split(":"))


def _workbook_rels(sheets: int) -> str:
    kinds = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    links = "".join(
        f'<Relationship Id="rId{n}" Type="{kinds}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    links += f'<Relationship Id="rId{sheets + 1}" Type="{kinds}/styles" Target="styles.xml"/>'
    return f'{XML_HEAD}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{links}</Relationships>'


def _package_rels() -> str:
    return (
        f'{XML_HEAD}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>"
    )


def _core(report: Report) -> str:
    made = report.made_at.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S%z")
    made = f"{made[:-2]}:{made[-2:]}"  # W3CDTF wants +01:00
    return (
        f"{XML_HEAD}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(clean(report.title))}</dc:title><dc:creator>PerfBot</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{made}</dcterms:created>'
        "</cp:coreProperties>"
    )


def _content_types(sheets: int) -> str:
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{office}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{office}.sheet.main+xml"/>'
        f"{overrides}"
        f'<Override PartName="/xl/styles.xml" ContentType="{office}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/></Types>'
    )
