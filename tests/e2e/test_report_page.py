"""The report pages in a real browser: Debian's Chromium, driven by playwright-core through
tests/e2e/report_page.mjs (started once for the module), runs axe-core's WCAG 2.2 AA rules
on the board, the exception report, the annual report and a board of hostile text, on screen
and in print; prints the board to an A4 PDF; and saves pictures of its first page and of a
page of measures in tests/e2e/output/ for a person to look at."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain import db
from domain.board import Report, ReportKind, Scope, build, latest_period
from domain.policy import Policy
from reports.html import render
from tests.reports.conftest import (
    HOSTILE,
    LONG,
    OVERDUE,
    board_row,
    key_action_row,
    make_report,
    off_track_row,
)
from tests.reports.test_html import annual_report

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "output"  # git-ignored: what the run made, for a person to look at
SCRIPT = HERE / "report_page.mjs"
CHROMIUM = "/usr/bin/chromium"
A4 = (595.28, 841.89)  # points
PERFBOT = str(Path(sys.executable).parent / "perfbot")
SAMPLE_DAY = "2026-11-23"  # the sample council's history runs up to this day
SAMPLE_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # its last quarter: 2026/27 Q2
LONG_ROWS = 24  # one service's measures, more than two printed pages of them


def reports() -> dict[str, Report]:
    board = make_report(
        ReportKind.BOARD, [board_row(), off_track_row(), key_action_row()], overdue=(OVERDUE,)
    )
    words = {
        "title": HOSTILE + "title",
        "owner": HOSTILE,
        "commentary": HOSTILE + LONG,
        "remedial_action": HOSTILE,
        "correction_reason": HOSTILE,
        "service": HOSTILE + "service",
        "priority": HOSTILE + "priority",
    }
    hostile = make_report(
        ReportKind.BOARD,
        [board_row(**words), off_track_row(**{**words, "code": "X<1>"})],
        notes=(HOSTILE,),
    )
    return {
        "board": board,
        "exceptions": make_report(ReportKind.EXCEPTIONS, [off_track_row()], overdue=(OVERDUE,)),
        "annual": annual_report(),
        "hostile-board": hostile,
        "empty-exceptions": make_report(ReportKind.EXCEPTIONS, []),
        "long-board": make_report(
            ReportKind.BOARD,
            [
                board_row(
                    code=f"RB-{n:02d}",
                    commentary=f"Row {n:02d} says why at length. " + "More words here. " * 12,
                )
                for n in range(1, LONG_ROWS + 1)
            ],
        ),
    }


def sample_reports(folder: Path) -> dict[str, Report]:
    """The sample council's three reports for its last quarter and year, as `perfbot sample
    load` leaves it and domain.board.build works them out: real names, real lengths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
    for args in (["db", "upgrade"], ["sample", "load", "--as-of", SAMPLE_DAY]):
        subprocess.run([PERFBOT, *args], cwd=folder, env=env, check=True, capture_output=True)

    async def made() -> dict[str, Report]:
        engine = db.create_engine(f"sqlite+aiosqlite:///{folder / 'perfbot.db'}")
        try:
            out = {}
            for kind in ReportKind:
                period = latest_period(kind, SAMPLE_NOW.date())
                async with db.session_factory(engine)() as session:
                    out[f"sample-{kind.value}"] = await build(
                        session,
                        kind,
                        period,
                        SAMPLE_NOW,
                        Policy(),
                        Scope(True, words="all services"),
                    )
            return out
        finally:
            await engine.dispose()

    return asyncio.run(made())


# A page written to fail: axe must say so, or its silence on ours would mean nothing.
BROKEN = (
    "<!doctype html><html><head><meta charset='utf-8'></head><body>"
    "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
    "<p style='color:#bbbbbb'>pale text</p></body></html>"
)


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every page written to tests/e2e/output/ and put through Chromium once."""
    node = shutil.which("node")
    for need, what in ((node, "Node.js"), (Path(CHROMIUM).exists() or None, CHROMIUM)):
        if not need:
            pytest.fail(f"{what} is missing: `make test` installs it")
    if not (HERE / "node_modules" / "axe-core").is_dir():
        pytest.fail("axe-core is missing: run `npm ci --prefix tests/e2e` (or `make test`)")
    OUTPUT.mkdir(exist_ok=True)
    pages = {}
    made = {**reports(), **sample_reports(tmp_path_factory.mktemp("sample"))}
    for name, report in made.items():
        pages[name] = OUTPUT / f"{name}.html"
        pages[name].write_text(render(report), encoding="utf-8")
    pages["broken"] = OUTPUT / "broken.html"
    pages["broken"].write_text(BROKEN, encoding="utf-8")
    job = {
        "chromium": CHROMIUM,
        # the long board is the board's markup again, and the sample's exception report the
        # fixture's: both are printed or drawn, not checked twice
        "axe": [str(p) for n, p in pages.items() if n not in ("long-board", "sample-exceptions")],
        "pdf": [
            {"page": str(pages[name]), "out": str(OUTPUT / f"{name}.pdf")}
            for name in ("board", "hostile-board", "long-board", "sample-board")
        ],
        "shots": [
            {
                # the first printed page: what comes before its page break
                "page": str(pages["board"]),
                "out": str(OUTPUT / "board-first-page.png"),
                "from": None,
                "css": "main > section.headline ~ *, footer { display: none !important; }",
            },
            {
                "page": str(pages["board"]),
                "out": str(OUTPUT / "board-measures.png"),
                # the second priority's page: each priority starts a printed page
                "from": None,
                "css": "header, footer, main > :not(section:nth-of-type(3)) { display: none; }",
            },
        ],
    }
    (OUTPUT / "job.json").write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [node or "node", str(SCRIPT), str(OUTPUT / "job.json")],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    result["pages"] = pages
    for shot in result["shots"]:
        print(f"screenshot: {shot}")  # for a person to open
    return result


def readable(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(f"    at {n['target']}: {n['summary']}" for n in v["nodes"][:5])
        for v in violations
    )


@pytest.mark.parametrize(
    "name",
    [
        "board",
        "exceptions",
        "annual",
        "hostile-board",
        "empty-exceptions",
        "sample-board",
        "sample-annual",
    ],
)
@pytest.mark.parametrize("media", ["screen", "print"])
def test_axe_finds_no_wcag_22_aa_violation(
    browser_run: dict[str, Any], name: str, media: str
) -> None:
    violations = browser_run["axe"][str(browser_run["pages"][name])][media]
    assert violations == [], f"{name} ({media}):\n{readable(violations)}"


def test_axe_does_find_what_is_wrong_on_a_broken_page(browser_run: dict[str, Any]) -> None:
    found = browser_run["axe"][str(browser_run["pages"]["broken"])]["screen"]
    assert {"html-has-lang", "image-alt", "color-contrast"} <= {v["id"] for v in found}


def test_the_pages_ask_for_nothing_and_nothing_sticks_out_of_the_a4_width(
    browser_run: dict[str, Any],
) -> None:
    assert browser_run["requests"] == []
    for path, overflow in browser_run["overflow"].items():
        if not path.endswith("broken.html"):
            assert overflow == [], path


# ---- the PDF --------------------------------------------------------------------------------


def pdf_objects(data: bytes) -> dict[int, bytes]:
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)\s*endobj", data, re.DOTALL)
    }


def pdf_text(raw: bytes) -> str:
    """A PDF string, (literal) or <hex> (UTF-16 with a byte-order mark, or bytes)."""
    if raw.startswith(b"<"):
        body = bytes.fromhex(raw[1:-1].decode())
    else:
        body = re.sub(rb"\\([()\\])", rb"\1", raw[1:-1])
    return body[2:].decode("utf-16-be") if body.startswith(b"\xfe\xff") else body.decode("latin-1")


def pdf_pages(data: bytes) -> tuple[list[int], dict[str, int]]:
    """The page objects in order, and the page (from 1) each bookmark (a heading) goes to."""
    objects = pdf_objects(data)
    # Chromium (Skia) writes plain objects; were they packed in object streams, say so here
    assert b"/ObjStm" not in data, "the PDF packs its objects: read its object streams too"
    (root,) = [
        o for o in objects.values() if re.search(rb"/Type\s*/Pages\b", o) and b"/Parent" not in o
    ]
    order: list[int] = []

    def kids(body: bytes) -> list[int]:
        inner = re.search(rb"/Kids\s*\[(.*?)\]", body, re.DOTALL)
        assert inner is not None
        return [int(k) for k in re.findall(rb"(\d+) 0 R", inner.group(1))]

    def flatten(ids: list[int]) -> None:
        for i in ids:
            if re.search(rb"/Type\s*/Pages\b", objects[i]):
                flatten(kids(objects[i]))
            else:
                order.append(i)

    flatten(kids(root))
    marks = {}
    for body in objects.values():
        title = re.search(rb"/Title\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", body)
        dest = re.search(rb"/Dest\s*\[\s*(\d+) 0 R", body)
        if title and dest:
            marks[pdf_text(title.group(1))] = order.index(int(dest.group(1))) + 1
    return order, marks


def pdf_stream(body: bytes) -> bytes:
    found = re.search(rb"stream\r?\n(.*)endstream", body, re.DOTALL)
    assert found is not None
    raw = found.group(1)
    return zlib.decompress(raw) if b"/FlateDecode" in body[: found.start()] else raw


def to_unicode(cmap: bytes) -> dict[int, str]:
    """A font's glyph-to-text table (its ToUnicode CMap: bfchar and bfrange lines)."""
    table: dict[int, str] = {}

    def text(hex_: bytes) -> str:
        return bytes.fromhex(hex_.decode()).decode("utf-16-be")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = text(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for lo, hi, dst in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", block
        ):
            if dst.startswith(b"["):
                for i, one in enumerate(re.findall(rb"<([0-9A-Fa-f]+)>", dst)):
                    table[int(lo, 16) + i] = text(one)
            else:
                first = text(dst[1:-1])
                for i in range(int(hi, 16) - int(lo, 16) + 1):
                    table[int(lo, 16) + i] = first[:-1] + chr(ord(first[-1]) + i)
    return table


def pdf_page_texts(data: bytes) -> list[str]:
    """Each page's text, its runs of glyphs (Chromium writes two-byte glyph ids, Identity-H)
    read through their fonts' ToUnicode tables and joined by spaces."""
    objects = pdf_objects(data)
    order, _ = pdf_pages(data)
    pages = []
    for page in order:
        body = objects[page]
        fonts_at = re.search(rb"/Font\s*<<(.*?)>>", body, re.DOTALL)
        fonts = {}
        for name, ref in re.findall(rb"/(\w+)\s+(\d+) 0 R", fonts_at.group(1) if fonts_at else b""):
            unicode_ref = re.search(rb"/ToUnicode\s+(\d+) 0 R", objects[int(ref)])
            fonts[name] = (
                to_unicode(pdf_stream(objects[int(unicode_ref.group(1))])) if unicode_ref else {}
            )
        contents = re.search(rb"/Contents\s+(\d+) 0 R", body)
        assert contents is not None
        stream = pdf_stream(objects[int(contents.group(1))])
        runs: list[str] = []
        font: dict[int, str] = {}
        run = ""
        for token in re.finditer(rb"/(\w+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]*)>\s*Tj|\bET\b", stream):
            if token.group(1):
                font = fonts.get(token.group(1), {})
            elif token.group(2) is not None:
                glyphs = token.group(2)
                run += "".join(
                    font.get(int(glyphs[i : i + 4], 16), "?") for i in range(0, len(glyphs), 4)
                )
            else:
                runs.append(run)
                run = ""
        text = " ".join(" ".join(runs).split())
        pages.append(re.sub("[\ufb00-\ufb06]", lambda m: unicodedata.normalize("NFKC", m[0]), text))
    return pages  # ligatures (ﬁ, ﬀ) as their letters


def test_the_board_prints_on_a4_with_the_headline_page_first_and_a_page_per_priority(
    browser_run: dict[str, Any],
) -> None:
    data = (OUTPUT / "board.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    order, marks = pdf_pages(data)
    objects = pdf_objects(data)
    for page in order:
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", objects[page])
        assert box is not None
        assert abs(float(box.group(1)) - A4[0]) < 1
        assert abs(float(box.group(2)) - A4[1]) < 1
    assert len(order) == 3  # the headline page, then one page for each of two priorities
    assert marks["Performance board: 2025/26 Q1"] == 1
    assert marks["At a glance"] == 1
    assert marks["High performing, value for money services"] == 2
    assert marks["Revenues and Benefits"] == 2
    assert marks["Thriving, safe communities"] == 3
    assert marks["Housing and Communities"] == 3
    assert b"/Lang (en-GB)" in data  # the language and the headings go with the PDF too
    assert b"/StructTreeRoot" in data
    texts = pdf_page_texts(data)
    for number, text in enumerate(texts, start=1):  # the page's footer comes first
        assert text.startswith(f"Page {number} of 3 Performance board: 2025/26 Q1 "), text[:80]
    first, second, third = (text.split(" Q1 ", 1)[1] for text in texts)
    assert first.startswith("PerfBot: performance board Performance board: 2025/26 Q1")
    assert (
        "At a glance 3 measures and key actions: 1 Good, 1 Review, 1 Action; 2 off track." in first
    )
    assert "All services shown 0 1 1 1 0 3" in first
    assert "Council tax" not in first  # the headline page stands alone
    assert "RB-01 Council tax collected in year" in second
    assert "HC-02 Households in temporary accommodation" in third


def test_a_long_service_repeats_its_table_headings_and_keeps_each_measure_whole_in_print(
    browser_run: dict[str, Any],
) -> None:
    pages = pdf_page_texts((OUTPUT / "long-board.pdf").read_bytes())
    assert len(pages) >= 4
    heads = "Measure or key action Target Actual Rating Direction of travel Last eight periods"
    assert pages[1].startswith(
        f"Page 2 of {len(pages)} Performance board: 2025/26 Q1 High performing, value for money "
        f"services Revenues and Benefits {heads} RB-01"
    ), pages[1][:200]
    for number, text in enumerate(pages[2:], start=3):  # the table goes on under its headings
        assert text.startswith(
            f"Page {number} of {len(pages)} Performance board: 2025/26 Q1 {heads} RB-"
        ), text[:200]
    for n in range(1, LONG_ROWS + 1):
        code, words = f"RB-{n:02d}", f"Commentary: Row {n:02d} says why at length."
        (page,) = [i for i, text in enumerate(pages) if code in text]
        assert words in pages[page], f"{code} was split across pages"


def test_the_sample_councils_board_prints_its_headline_page_then_its_measures(
    browser_run: dict[str, Any],
) -> None:
    texts = pdf_page_texts((OUTPUT / "sample-board.pdf").read_bytes())
    assert len(texts) > 5
    assert "Performance board: 2026/27 Q2" in texts[0]
    assert "At a glance 41 measures and key actions:" in texts[0]
    assert "Measure or key action Target Actual" not in texts[0]
    # The counts by Cabinet portfolio are a headline page of their own, before the measures.
    assert "by rating and Cabinet portfolio" not in texts[0]
    assert "by rating and Cabinet portfolio" in texts[1]
    assert "Finance and Resources" in texts[1]
    assert "Measure or key action Target Actual" not in texts[1]
    for text in texts[2:]:
        assert "Measure or key action Target Actual Rating Direction of travel" in text


def test_the_hostile_board_prints_on_a4_with_its_headings_as_written(
    browser_run: dict[str, Any],
) -> None:
    order, marks = pdf_pages((OUTPUT / "hostile-board.pdf").read_bytes())
    assert len(order) >= 2
    assert marks[" ".join((HOSTILE + "priority").split())] == 2


def test_the_pictures_for_a_person_are_a4_wide(browser_run: dict[str, Any]) -> None:
    for shot in browser_run["shots"]:
        png = Path(shot).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert (width, height) == (794, 1123), shot
