"""A report as one self-contained HTML page: Jinja2 templates in reports/templates (a base
and one per kind), autoescaped, with the drawings inline (reports/svg.py) and the print
styles in the page; no script, no font, no image or style from anywhere else.

The page is made to be read by anyone (WCAG 2.2 AA: landmarks, headings in order, table
headers with scope, every symbol and colour said in words) and printed on A4 as the
Leadership Team's pack (the headline page alone first, a page per priority, table headers
repeated, rows kept whole)."""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from domain.board import Headline, PlanEntry, Report, ReportKind, Travel
from domain.dates import LONDON, long_day
from domain.ratings import Direction, Rating
from domain.views import in_words
from reports.svg import bar_chart, trend_line, trend_words

TEMPLATES: dict[ReportKind, str] = {
    ReportKind.BOARD: "board.html.j2",
    ReportKind.EXCEPTIONS: "exceptions.html.j2",
    ReportKind.ANNUAL: "annual.html.j2",
}

PLAN_STATUS = {"open": "Open", "late": "LATE", "done": "Done", "dropped": "Dropped"}


def made_at_words(moment: datetime) -> str:
    """When the report was made, in London: "10:00 on Monday 21 July 2025"."""
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M} on {long_day(local.date())}"


def day_words(day: date | None) -> str:
    return long_day(day) if day else "no date given"


def travel_words(travel: Travel) -> str:
    """Direction of travel as arrow and word: "↑ improving from 19.8% (2025/26 M2)"."""
    if travel.note:
        return travel.note[:1].upper() + travel.note[1:]
    if travel.direction is not None:
        return f"{travel.direction.arrow} {travel.direction.value} from {travel.shown} ({travel.period})"
    if travel.shown in ("", "—"):
        return f"No figure for {travel.period} to compare"
    return f"Was {travel.shown} ({travel.period})"


def direction_words(direction: Direction | None, shown: str, period: str) -> str:
    return travel_words(Travel("last year", period, shown, direction))


def rating_class(rating: Rating | None) -> str:
    return rating.name.lower() if rating else "unrated"


def plan_words(entry: PlanEntry) -> str:
    """An action-plan item's who and when: "Priya Shah, by Tuesday 30 September 2025"."""
    who = entry.owner or "no owner named"
    when = f"by {long_day(entry.due)}" if entry.due else "no date set"
    return f"{who}, {when}"


def counts_words(report: Report) -> str:
    """The headline in one sentence: "3 measures and key actions: 1 Good, ... 2 off track."."""
    headline = report.headline
    total = headline.measures
    if not total:
        return "There is nothing to show for this period."
    parts = [f"{headline.total[r]} {r.word}" for r in headline.ratings if headline.total.get(r)]
    if headline.total.get(None):
        parts.append(f"{headline.total[None]} not rated")
    off = sum(n for r, n in headline.total.items() if r is not None and r.off_track)
    noun = "measure or key action" if total == 1 else "measures and key actions"
    return f"{total} {noun}: {', '.join(parts)}; {off} off track."


def rating_key(headline: Headline) -> str:
    """How to read the ratings: "Ratings: ★ Strong, ✓ Good, ● Review and 🚩 Action; Review
    and Action are off track." (a council's default scheme and any other its measures use)."""

    if not headline.ratings:
        return ""
    shown = in_words([f"{r.symbol} {r.word}" for r in headline.ratings])
    off = [r.word for r in headline.ratings if r.off_track]
    verb = "is" if len(off) == 1 else "are"
    return f"Ratings: {shown}; {in_words(off)} {verb} off track." if off else f"Ratings: {shown}."


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string for the print footer: letters, digits, spaces and
    a few marks as they are, anything else as a CSS escape, so that nothing can end the
    string or the style sheet."""
    safe = "".join(
        # The space after an escape ends it (and is consumed), so a space after it stays.
        ch if ch.isascii() and (ch.isalnum() or ch in " :/.,-()") else f"\\{ord(ch):06x} "
        for ch in text
    )
    return Markup(f'"{safe}"')


_env = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code
)
_env.globals.update(
    bar_chart=bar_chart,
    trend_line=trend_line,
    trend_words=trend_words,
    made_at_words=made_at_words,
    day_words=day_words,
    travel_words=travel_words,
    direction_words=direction_words,
    rating_class=rating_class,
    plan_words=plan_words,
    counts_words=counts_words,
    rating_key=rating_key,
    css_string=css_string,
    PLAN_STATUS=PLAN_STATUS,
)


def render(report: Report) -> str:
    """The report as a whole HTML document, every text escaped."""
    return _env.get_template(TEMPLATES[report.kind]).render(report=report)
