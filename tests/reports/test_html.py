"""The report pages as a person (or a screen reader) reads them: the hand-made reports'
figures in the right rows, the words around them, and text written to break a page shown
as text. The HTML is parsed with the standard library's parser into a small tree."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from domain.board import Headline, Report, ReportKind
from domain.questions import Question
from domain.ratings import Rating
from reports.html import render
from tests.reports.conftest import (
    HOSTILE,
    LONG,
    annual_row,
    board_row,
    key_action_row,
    make_report,
    off_track_row,
)

BLOCK = {"p", "li", "ul", "div", "tr", "td", "th", "br", "dt", "dd", "h1", "h2", "h3", "caption"}
VOID = {"meta", "br", "col", "img", "input", "link", "hr", "wbr", "source", "area", "base"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = None

    @property
    def text(self) -> str:
        """The text as a reader gets it: blocks apart, inline elements run together."""
        return "".join(
            c if isinstance(c, str) else f" {c.text} " if c.tag in BLOCK else c.text
            for c in self.children
        )

    @property
    def words(self) -> str:
        return " ".join(self.text.split())

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and (cls is None or cls in child.classes):
                    found.append(child)
                found.extend(child.all(tag, cls))
        return found

    def one(self, tag: str, cls: str | None = None) -> Node:
        (found,) = self.all(tag, cls)
        return found

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def cells(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node) and c.tag in ("th", "td")]


class TreeBuilder(HTMLParser):
    """Elements as a tree; an end tag that does not match the open element is a broken page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.open = self.root
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), parent=self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.children.append(Node(tag, dict(attrs), parent=self.open))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if tag != self.open.tag:
            self.mismatched.append(f"</{tag}> closes <{self.open.tag}>")
            return
        assert self.open.parent is not None
        self.open = self.open.parent

    def handle_data(self, data: str) -> None:
        self.open.children.append(data)


def page(report: Report) -> Node:
    builder = TreeBuilder()
    builder.feed(render(report))
    builder.close()
    assert builder.mismatched == []
    assert builder.open is builder.root, f"<{builder.open.tag}> left open"
    return builder.root


def measure(doc: Node, code: str) -> Node:
    """The block (a tbody) of one measure, found by the code in its row header."""
    (block,) = [
        b for b in doc.all("tbody", "measure") if b.one("th").one("span", "code").words == code
    ]
    return block


def figures(block: Node) -> dict[str, str]:
    """A measure's figures row read against its table's column headers."""
    table = block.parent
    assert table is not None
    headers = [th.words for th in table.one("thead").all("th")]
    row = block.all("tr", "figures")[0]
    return dict(zip(headers, [c.words for c in row.cells()], strict=True))


def detail(block: Node) -> str:
    return block.one("tr", "detail").words


# ---- the board ------------------------------------------------------------------------------


def test_a_measure_row_shows_its_figures_rating_travel_and_words(board: Report) -> None:
    row = measure(page(board), "RB-01")
    shown = figures(row)
    assert shown["Target"] == "29.1%"
    assert shown["Actual"] == "29.2%"
    assert shown["Rating"] == "✓ Good"
    assert "Council tax collected in year" in shown["Measure or key action"]
    assert "Amina Hussain" in shown["Measure or key action"]
    assert "2025/26 M3" in shown["Measure or key action"]
    assert "Previous: ↑ improving from 19.8% (2025/26 M2)" in shown["Direction of travel"]
    assert "Last year: ↑ improving from 28.9% (2024/25 M3)" in shown["Direction of travel"]
    words = detail(row)
    assert "Rating: 0.3% above target (Good: from 2% below to 5% above)." in words
    assert "Benchmarks: better than the England average of 28.5% (LG Inform)" in words
    assert "Commentary: Better than last period thanks to the process changes." in words
    assert "Sign-off: Approved by Mark Taylor on 4 August 2025" in words
    assert "OFF TRACK" not in row.words


def test_an_off_track_row_is_marked_in_words_with_its_plan_escalation_and_restatement(
    board: Report,
) -> None:
    row = measure(page(board), "HC-02")
    assert "off-track" in row.classes
    shown = figures(row)
    assert shown["Rating"] == "🚩 Action OFF TRACK"
    assert (shown["Target"], shown["Actual"]) == ("120", "150")
    assert "Previous: ↓ declining from 140 (2025/26 M2)" in shown["Direction of travel"]
    assert "Last year: No figure for 2024/25 M3 to compare" in shown["Direction of travel"]
    words = detail(row)
    assert "Action: Open the second hostel wing. (by Tuesday 30 September 2025)" in words
    items = [li.words for li in row.one("tr", "detail").all("li")]
    assert (
        "Open: Open the second hostel wing. (Priya Shah, by Tuesday 30 September 2025; "
        "from 2025/26 M3). Latest: Builders on site."
    ) in items
    assert (
        "LATE: Agree a lease on 20 flats. (Sarah Lindqvist, by Monday 30 June 2025; "
        "from 2025/26 M2)"
    ) in items
    assert "Escalated to Sarah Lindqvist at 10:04 on 18 July 2025." in items
    assert "Restated: was 140 — The April count double-counted families moved twice." in words
    assert "Sign-off: Awaiting sign-off" in words


def test_a_key_action_shows_its_status_and_no_line_of_numbers(board: Report) -> None:
    row = measure(page(board), "KA-01")
    shown = figures(row)
    assert shown["Actual"] == "Some risk"
    assert shown["Target"] == "No target"
    assert shown["Rating"] == "● Review OFF TRACK"
    assert shown["Last eight periods"] == "No earlier status"
    assert row.all("svg") == []
    assert "Key action · Tom Reid" in shown["Measure or key action"]


def test_a_key_actions_past_statuses_are_a_row_of_symbols_said_in_words() -> None:
    point = board_row().trend[0]
    points = (
        replace(point, period="2024/25 Q4", value=None, rating=Rating.GOOD, shown="On track"),
        replace(point, period="2025/26 Q1", value=None, rating=None, shown="—"),
        replace(point, period="2025/26 Q2", value=None, rating=Rating.REVIEW, shown="Some risk"),
    )
    doc = page(make_report(ReportKind.BOARD, [key_action_row(trend=points)]))
    row = measure(doc, "KA-01")
    items = row.one("ol", "statuses").all("li")
    assert [li.one("span", "sym").words for li in items] == ["✓", "—", "●"]
    assert all(li.one("span", "sym").attrs["aria-hidden"] == "true" for li in items)
    assert [li.one("span", "visually-hidden").words for li in items] == [
        "2024/25 Q4: On track",
        "2025/26 Q1: no return",
        "2025/26 Q2: Some risk",
    ]
    assert row.one("span", "span").words == "2024/25 Q4 to 2025/26 Q2"
    assert row.all("svg") == []


def test_the_trend_line_says_its_eight_figures_and_target_in_words(board: Report) -> None:
    svg = measure(page(board), "RB-01").one("svg")
    assert svg.attrs["role"] == "img"
    label = svg.attrs["aria-label"] or ""
    assert label.startswith("Last 8 periods, oldest first: 2024/25 M8 27.0%;")
    assert "2025/26 M2 19.8%; 2025/26 M3 29.2%. Target 29.1%." in label
    assert svg.one("title").words == label
    assert len(svg.all("circle")) == 8


def test_a_profiled_target_is_drawn_period_by_period_and_a_steady_one_as_a_line() -> None:
    row = board_row()
    profiled = tuple(replace(p, target=Decimal(27 + i % 3)) for i, p in enumerate(row.trend))
    doc = page(make_report(ReportKind.BOARD, [row, replace(row, code="RB-02", trend=profiled)]))
    steady = measure(doc, "RB-01").one("svg")
    assert len(steady.all("line")) == 1
    assert len(steady.all("polyline")) == 1  # the figures
    varying = measure(doc, "RB-02").one("svg")
    assert varying.all("line") == []
    target, figures = varying.all("polyline")
    assert target.attrs["stroke-dasharray"]
    assert len((target.attrs["points"] or "").split()) == 8
    assert "stroke-dasharray" not in figures.attrs
    assert "Target" not in (varying.attrs["aria-label"] or "")  # the row gives this period's


def test_a_period_without_a_figure_is_a_gap_in_the_line_and_said_as_such() -> None:
    row = board_row()
    trend = (*row.trend[:3], replace(row.trend[3], value=None, shown="—"), *row.trend[4:])
    svg = measure(page(make_report(ReportKind.BOARD, [replace(row, trend=trend)])), "RB-01").one(
        "svg"
    )
    assert "2024/25 M11 no figure;" in (svg.attrs["aria-label"] or "")
    assert len(svg.all("circle")) == 7
    assert len(svg.all("polyline")) == 2


def test_the_first_page_counts_by_service_and_rating_in_a_table_and_a_chart(
    board: Report,
) -> None:
    doc = page(board)
    glance = doc.one("section", "headline")
    assert glance.one("h2").words == "At a glance"
    assert "3 measures and key actions: 1 Good, 1 Review, 1 Action; 2 off track." in glance.words
    assert "1 of the returns shown is overdue" in glance.words
    assert glance.one("p", "key").words == (
        "Ratings: ★ Strong, ✓ Good, ● Review and 🚩 Action; Review and Action are off track. "
        "An off-track row says OFF TRACK and has a thick bar at its left."
    )
    table = glance.one("table", "counts")
    assert table.one("caption").words == "Measures and key actions by rating and service"
    head = [th.words for th in table.one("thead").all("th")]
    assert head == ["Service", "★ Strong", "✓ Good", "● Review", "🚩 Action", "Not rated", "Total"]
    assert all(th.attrs.get("scope") == "col" for th in table.one("thead").all("th"))
    rows = {
        tr.one("th").words: [td.words for td in tr.all("td")] for tr in table.one("tbody").all("tr")
    }
    assert rows == {
        "Revenues and Benefits": ["0", "1", "0", "0", "0", "1"],
        "Environment and Waste": ["0", "0", "1", "0", "0", "1"],
        "Housing and Communities": ["0", "0", "0", "1", "0", "1"],
    }
    assert all(tr.one("th").attrs.get("scope") == "row" for tr in table.all("tr")[1:])
    assert [td.words for td in table.one("tfoot").all("td")] == ["0", "1", "1", "1", "0", "3"]
    chart = glance.one("svg")
    assert chart.attrs["role"] == "img"
    assert (chart.attrs["aria-label"] or "").endswith(
        "by rating: ★ Strong 0, ✓ Good 1, ● Review 1, 🚩 Action 1."
    )
    assert [t.words for t in chart.all("text")] == [
        "★ Strong", "0", "✓ Good", "1", "● Review", "1", "🚩 Action", "1",
    ]  # fmt: skip


def test_the_top_says_who_it_covers_when_it_was_made_and_its_sign_off(board: Report) -> None:
    noted = replace(
        board,
        made_at=board.made_at.replace(month=12),  # GMT in December: 09:00 UTC is 09:00
        notes=("No measure matches --service Parks; showing all services.",),
    )
    header = page(noted).one("header")
    assert header.one("h1").words == "Performance board: 2025/26 Q1"
    terms, values = header.all("dt"), header.all("dd")
    facts = dict(zip([d.words for d in terms], [d.words for d in values], strict=True))
    assert facts == {
        "Covers": "all services",
        "Made": "at 09:00 on Sunday 21 December 2025 (UK time)",
        "Sign-off": "Not yet signed off: 1 return awaits approval.",
    }
    assert header.one("p", "note").words == (
        "No measure matches --service Parks; showing all services."
    )
    made = page(board).one("header").all("dd")[1].words
    assert made == "at 10:00 on Monday 21 July 2025 (UK time)"  # British Summer Time


def test_the_page_has_a_language_a_title_landmarks_and_headings_in_order(board: Report) -> None:
    doc = page(board)
    html = doc.one("html")
    assert html.attrs["lang"] == "en-GB"
    assert (
        doc.one("head").one("title").words
        == "Performance board: 2025/26 Q1 (all services) - PerfBot"
    )
    assert doc.one("a", "skip").attrs["href"] == "#content"
    assert doc.one("main").attrs["id"] == "content"
    headings = [(int(n.tag[1]), n.words) for n in walk(doc) if n.tag in ("h1", "h2", "h3", "h4")]
    assert [level for level, _ in headings].count(1) == 1
    assert all(b - a <= 1 for (a, _), (b, _) in itertools.pairwise(headings))
    assert headings == [
        (1, "Performance board: 2025/26 Q1"),
        (2, "At a glance"),
        (2, "High performing, value for money services"),
        (3, "Revenues and Benefits"),
        (2, "Thriving, safe communities"),
        (3, "Environment and Waste"),
        (3, "Housing and Communities"),
    ]
    for table in doc.all("table"):
        assert table.one("caption").words
        assert all(th.attrs.get("scope") in ("col", "row") for th in table.all("th"))


def walk(node: Node) -> list[Node]:
    out = []
    for child in node.children:
        if isinstance(child, Node):
            out.append(child)
            out.extend(walk(child))
    return out


def test_a_measure_not_rated_or_overdue_says_so_in_words(board: Report) -> None:
    late = board_row(
        code="RB-09",
        actual=None,
        actual_shown="—",
        rating=None,
        rating_sentence="No return yet.",
        overdue=True,
        due=date(2025, 7, 22),
        commentary=None,
    )
    row = measure(page(make_report(ReportKind.BOARD, [late])), "RB-09")
    assert figures(row)["Rating"] == "Not rated"
    assert "OVERDUE: the return was due on Tuesday 22 July 2025." in detail(row)
    assert "Commentary: none given" in detail(row)


def test_a_board_with_nothing_to_show_says_so() -> None:
    empty = make_report(ReportKind.BOARD, [], notes=("No measure matches --priority Parks.",))
    doc = page(empty)
    assert "There is nothing to show for this period." in doc.one("section", "headline").words
    assert "There is no measure or key action to show for 2025/26 Q1." in doc.one("main").words
    assert doc.all("table") == []


# ---- the exception report and the annual report ---------------------------------------------


def test_the_exception_report_gives_why_action_by_when_decisions_and_overdue_returns(
    exceptions: Report,
) -> None:
    doc = page(exceptions)
    assert doc.one("h1").words == "Exception report: 2025/26 Q1"
    words = detail(measure(doc, "HC-02"))
    assert "Commentary: Demand rose after two large evictions." in words
    assert "Action: Open the second hostel wing." in words
    assert "By when: Tuesday 30 September 2025" in words
    assert (
        "The escalation owner's decisions: Escalated to Sarah Lindqvist at 10:04 on "
        "18 July 2025. Sarah Lindqvist acknowledged it at 11:20 on 18 July 2025."
    ) in words
    assert "LATE: Agree a lease on 20 flats." in words
    overdue = doc.one("section", "overdue")
    table = overdue.one("table")
    head = [th.words for th in table.one("thead").all("th")]
    (row,) = table.one("tbody").all("tr")
    assert dict(zip(head, [c.words for c in row.cells()], strict=True)) == {
        "Measure": "PO-03 Staff sickness days per FTE",
        "Service": "People and Organisational Development",
        "Owner": "Lee Carter",
        "Period": "2025/26 Q1",
        "Was due": "Tuesday 22 July 2025",
        "Working days late": "6",
        "Escalated?": "Yes",
        "Acknowledged?": "No",
    }


def test_an_exception_report_with_nothing_off_track_or_overdue_says_so() -> None:
    doc = page(make_report(ReportKind.EXCEPTIONS, []))
    main = doc.one("main").words
    assert "No measure or key action is off track in 2025/26 Q1." in main
    assert (
        doc.one("section", "overdue").words
        == "Overdue returns No return for 2025/26 Q1 or earlier is overdue."
    )


def annual_report() -> Report:
    rows = [
        annual_row(),
        annual_row(
            code="HC-07",
            title="Homes built",
            service="Housing and Communities",
            unit="number",
            decimals=0,
            target_shown="400",
            outturn_shown="310",
            rating=Rating.ACTION,
            rating_sentence="22.5% worse than target (Action: more than 10% worse).",
            last_year_shown="—",
            last_year=None,
            last_year_rating=None,
            direction=None,
            commentary=None,
            restated=True,
            restated_from="300",
        ),
    ]
    report = make_report(ReportKind.ANNUAL, [])
    total: dict[Rating | None, int] = {Rating.GOOD: 1, Rating.ACTION: 1}
    by_service: dict[str, dict[Rating | None, int]] = {
        "Revenues and Benefits": {Rating.GOOD: 1},
        "Housing and Communities": {Rating.ACTION: 1},
    }
    return replace(
        report,
        period=report.period.__class__.parse("2024/25"),
        annual=tuple(rows),
        headline=Headline(report.headline.ratings, total, by_service),
    )


def test_the_annual_report_gives_outturn_against_target_and_last_year() -> None:
    doc = page(annual_report())
    assert doc.one("h1").words == "Annual performance report: 2024/25"
    good = measure(doc, "RB-01")
    shown = figures(good)
    assert (shown["Target"], shown["Outturn"], shown["Rating"]) == ("97.0%", "96.1%", "✓ Good")
    assert shown["Against last year"] == (
        "↑ improving from 95.8% (2023/24 M12) Last year's rating: ● Review"
    )
    assert "Commentary: The best year since 2019." in detail(good)
    poor = measure(doc, "HC-07")
    assert figures(poor)["Rating"] == "🚩 Action OFF TRACK"
    assert figures(poor)["Against last year"] == "No figure for 2023/24 M12 to compare"
    assert "Restated: was 300" in detail(poor)
    assert "2 measures and key actions: 1 Good, 1 Action; 1 off track." in doc.words


# ---- text written to break the page ---------------------------------------------------------


def test_hostile_text_is_shown_as_text_and_breaks_nothing(hostile_board: Report) -> None:
    text = render(hostile_board)
    doc = page(hostile_board)
    assert "<script" not in text
    assert doc.all("script") == []
    for node in walk(doc):  # no attribute was made out of someone's words
        assert set(node.attrs) <= {
            "lang", "charset", "name", "content", "class", "href", "id", "scope", "role",
            "aria-label", "aria-labelledby", "aria-hidden", "width", "height", "viewbox",
            "colspan", "headers", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "fill",
            "stroke", "stroke-width", "stroke-dasharray", "stroke-linejoin", "points",
            "text-anchor", "font-size", "font-weight", "tabindex",
        }, node.attrs  # fmt: skip
    hostile = " ".join(HOSTILE.split())
    block = measure(doc, "X<1>")
    assert hostile in figures(block)["Measure or key action"]
    assert f"Action: {hostile}" in detail(block)
    # right-to-left words are isolated, so the period after the owner's name stays in place
    who = block.one("span", "who")
    assert [b.text for b in who.all("bdi")] == [HOSTILE]
    assert who.words.endswith(f"{hostile} · 2025/26 M3")
    assert f"Restated: was 140 — {hostile}" in detail(block)
    commentary = block.one("tr", "detail").all("bdi", "commentary")[0]
    assert commentary.text == HOSTILE + LONG  # whole, to the last character
    assert len(LONG) >= 5000
    assert [h.words for h in doc.all("h2")][1] == " ".join((HOSTILE + "priority").split())
    for table in doc.all("table"):
        widths = {
            sum(int(c.attrs.get("colspan") or 1) for c in tr.cells()) for tr in table.all("tr")
        }
        assert len(widths) == 1, widths  # every row as wide as the table
    svg = measure(doc, "RB-01").one("svg")
    assert (svg.attrs["aria-label"] or "").startswith("Last 8 periods")


@pytest.mark.parametrize("kind", ["board", "exceptions", "annual"])
def test_the_page_asks_for_nothing_from_anywhere(
    kind: str, board: Report, exceptions: Report, hostile_board: Report
) -> None:
    report = {"board": board, "exceptions": exceptions, "annual": annual_report()}[kind]
    for one in (report, hostile_board):
        text = render(one)
        doc = page(one)
        for tag in ("script", "link", "img", "iframe", "object", "embed"):
            assert doc.all(tag) == [], tag
        for node in walk(doc):
            for name in ("src", "href", "srcset", "action", "xlink:href", "data"):
                value = node.attrs.get(name)
                assert value is None or value.startswith("#"), (node.tag, name, value)
        for asks in ("url(", "@import", "@font-face", "http:", "https:"):  # not in the words
            assert asks not in text, asks


def test_a_measures_table_scrolls_sideways_on_a_phone_rather_than_squeezing(board: Report) -> None:
    """Each measures table sits in a region of its own, named by its service's heading and
    reachable from the keyboard, which scrolls sideways on a narrow screen (WCAG 1.4.10
    allows a data table to) so that no figure is pressed into the next."""
    text = render(board)
    doc = page(board)
    regions = [n for n in walk(doc) if n.attrs.get("class") == "wide"]
    assert len(regions) == len(doc.all("table", "measures"))
    for region in regions:
        assert (region.attrs["role"], region.attrs["tabindex"]) == ("region", "0")
        [heading] = [
            h for h in doc.all("h3") if h.attrs.get("id") == region.attrs["aria-labelledby"]
        ]
        assert heading.words
    assert ".wide { overflow-x: auto; }" in text
    assert ".wide > table.measures { min-width: 44rem; }" in text


def test_a_report_for_one_service_says_it_covers_that_service(board: Report) -> None:
    one = replace(board, service="Housing and Communities")
    text = render(one)
    assert (
        "<title>Performance board: 2025/26 Q1 (Housing and Communities) - PerfBot</title>" in text
    )
    facts = page(one).all("dl", "facts")[0].words
    assert "Covers Housing and Communities (of all services)" in facts


def test_the_review_questions_answers_are_shown_after_the_commentary_on_both_reports() -> None:
    answers = (
        (Question.WHY, "Two large evictions in May."),
        (Question.FORECAST, "About 170 households by September."),
    )
    row = off_track_row(answers=answers)
    for kind in (ReportKind.BOARD, ReportKind.EXCEPTIONS):
        words = detail(measure(page(make_report(kind, [row])), "HC-02"))
        assert (
            "Commentary: Demand rose after two large evictions. Why: Two large evictions in "
            "May. Predicted without more action: About 170 households by September."
        ) in words, kind
        assert "Impact on service users" not in words  # not answered: not shown
