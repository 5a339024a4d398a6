"""Small drawings for the report pages as inline SVG, drawn here so that the page needs no
script, no image file and no request: a measure's trend line and the headline bar chart.

Each drawing says in words what it shows (role="img" with an aria-label and a <title>), and
the page beside it gives the same figures as text, so nothing is told by colour or shape
alone. Every text is escaped; a drawing is Markup that the templates put in as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from domain.board import Headline, TrendPoint
from domain.ratings import Rating

# Colours with at least 4.5:1 against white (and 3:1 for the bars, WCAG 1.4.11); the words
# beside them carry the meaning.
COLOURS: dict[Rating | None, str] = {
    Rating.STRONG: "#005a30",
    Rating.GOOD: "#00703c",
    Rating.REVIEW: "#8a4a00",
    Rating.ACTION: "#aa2a16",
    Rating.GREEN: "#00703c",
    Rating.AMBER: "#8a4a00",
    Rating.RED: "#aa2a16",
    None: "#505a5f",
}
INK = "#0b0c0c"
GREY = "#505a5f"

TREND_WIDTH = 120
TREND_HEIGHT = 36
_PAD = 4


def trend_words(points: Sequence[TrendPoint], target_shown: str | None = None) -> str:
    """What the trend line shows, in words: every period's figure, oldest first, and the
    target when it was the same throughout."""
    figures = "; ".join(
        f"{p.period} {p.shown if p.value is not None else 'no figure'}" for p in points
    )
    steady = len({p.target for p in points}) == 1 and points[0].target is not None
    target = f". Target {target_shown}" if steady and target_shown else ""
    return f"Last {len(points)} periods, oldest first: {figures}{target}."


def trend_line(points: Sequence[TrendPoint], target_shown: str | None = None) -> Markup:
    """A measure's last periods as a small line (gaps where a period has no figure), its
    target as a dashed line, the latest figure as a larger dot. Empty when fewer than two
    periods have a figure: there is no line to draw, and the page says so in words."""
    values = [p.value for p in points]
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return Markup("")
    targets = [p.target for p in points if p.target is not None]
    low = min([*known, *targets])
    high = max([*known, *targets])
    span = high - low or Decimal(1)
    step = (TREND_WIDTH - 2 * _PAD) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return _PAD + i * step

    def y(v: Decimal) -> float:
        return _PAD + float((high - v) / span) * (TREND_HEIGHT - 2 * _PAD)

    parts: list[str] = []
    if targets and len(set(targets)) == 1:
        ty = y(targets[0])
        parts.append(
            f'<line x1="{_PAD}" y1="{ty:.1f}" x2="{TREND_WIDTH - _PAD}" y2="{ty:.1f}" '
            f'stroke="{GREY}" stroke-width="1" stroke-dasharray="3 2"/>'
        )
    elif len(targets) > 1:  # a profiled target: its own dashed line, period by period
        steps = " ".join(
            f"{x(i):.1f},{y(p.target):.1f}" for i, p in enumerate(points) if p.target is not None
        )
        parts.append(
            f'<polyline points="{steps}" fill="none" stroke="{GREY}" stroke-width="1" '
            'stroke-dasharray="3 2"/>'
        )
    run: list[str] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{INK}" '
                    'stroke-width="1.5" stroke-linejoin="round"/>'
                )
            run = []
        else:
            run.append(f"{x(i):.1f},{y(v):.1f}")
    for i, v in enumerate(values):
        if v is not None:
            last = i == len(values) - 1
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{3 if last else 1.6}" fill="{INK}"/>'
            )
    words = escape(trend_words(points, target_shown))
    return Markup(
        f'<svg class="trend" role="img" aria-label="{words}" width="{TREND_WIDTH}" '
        f'height="{TREND_HEIGHT}" viewBox="0 0 {TREND_WIDTH} {TREND_HEIGHT}">'
        f"<title>{words}</title>{''.join(parts)}</svg>"
    )


BAR_WIDTH = 640
_LABEL = 150
_ROW = 24


def bar_chart(headline: Headline, words: str) -> Markup:
    """The headline counts by rating as horizontal bars, each labelled with its symbol, its
    word and its count (the table beside it holds the same counts). ``words`` names it."""
    rows: list[tuple[str, int, str]] = [
        (f"{r.symbol} {r.word}", headline.total.get(r, 0), COLOURS[r]) for r in headline.ratings
    ]
    if headline.total.get(None, 0):
        rows.append(("Not rated", headline.total[None], COLOURS[None]))
    most = max([count for _, count, _ in rows] + [1])
    room = BAR_WIDTH - _LABEL - 50
    height = _ROW * len(rows) + 8
    parts: list[str] = []
    for i, (label, count, colour) in enumerate(rows):
        top = 4 + i * _ROW
        width = room * count / most
        parts.append(
            f'<text x="{_LABEL - 8}" y="{top + 16}" text-anchor="end" fill="{INK}" '
            f'font-size="14">{escape(label)}</text>'
            f'<rect x="{_LABEL}" y="{top + 3}" width="{width:.1f}" height="{_ROW - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{_LABEL + width + 6:.1f}" y="{top + 16}" fill="{INK}" '
            f'font-size="14" font-weight="bold">{count}</text>'
        )
    said = ", ".join(f"{label} {count}" for label, count, _ in rows)
    name = escape(f"{words}: {said}.")
    return Markup(
        f'<svg class="chart" role="img" aria-label="{name}" width="{BAR_WIDTH}" '
        f'height="{height}" viewBox="0 0 {BAR_WIDTH} {height}">'
        f"<title>{name}</title>"
        f'<line x1="{_LABEL}" y1="0" x2="{_LABEL}" y2="{height}" stroke="{INK}"/>'
        f"{''.join(parts)}</svg>"
    )
