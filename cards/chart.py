"""The weekly summary's chart: each service's measures by rating, as horizontal stacked bars
that a Leadership Team reads at a glance, drawn into a small PNG the summary card embeds.

Each bar is one service's rated measures, split by rating in the scheme's order, best first,
as shares of the service (so a small service reads as clearly as a large one), each segment
with its count where it fits; the service's name and total on a line above it. It is drawn
at about the width Teams shows it (440 pixels), so its text is read at 10 points. Colour is never the only
carrier of meaning: every rating also has its own hatch pattern, and the legend gives its
symbol and word; ``alt`` says every figure in a sentence for those who cannot see the image.

matplotlib draws it with the Agg canvas (no display, no pyplot and none of its global state,
so any thread may draw), with the DejaVu Sans that ships inside matplotlib; the PNG carries
no metadata and is reduced to a palette, so the same summary always gives the same bytes.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, get_font
from matplotlib.patches import Patch
from PIL import Image

from domain.ratings import Rating, Scheme
from domain.summary import Summary

# Drawn at about the width Teams shows an image in a card (about 420 pixels on a desktop,
# a phone's full width), so that its text is read at the size it is drawn.
WIDTH = 440  # pixels
MARGIN = 12
TITLE = 32  # the title
LEGEND_ROW = 24  # one row of the legend (a second when both schemes' ratings are shown)
FOOT = 28  # the note under the bars
ROW = 40  # one service: its name and total on a line, its bar below
DPI = 100
GREYS = (0x00, 0x40, 0x80, 0xBF, 0xFF)  # with the ratings' colours, the PNG's palette

ORDER = {
    Scheme.STRONG_GOOD_REVIEW_ACTION: (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION),
    Scheme.RAG: (Rating.GREEN, Rating.AMBER, Rating.RED),
}


@dataclass(frozen=True)
class Style:
    fill: str
    edge: str  # the hatch is drawn in this colour too
    hatch: str
    glyph: str  # the rating's symbol, as DejaVu Sans can draw it


# Greens, amber and red as the cards colour them (Good, Warning, Attention), each with a
# pattern of its own. The emoji among Rating.symbol are not in DejaVu Sans, so the chart
# draws the nearest glyph it has: a flag for Action, a tick, warning sign and cross for RAG.
STYLES = {
    Rating.STRONG: Style("#1b7a3a", "#0f4d23", "", "★"),
    Rating.GOOD: Style("#8fd19e", "#2f7a45", "///", "✓"),
    Rating.REVIEW: Style("#f5c342", "#8a6400", "---", "●"),
    Rating.ACTION: Style("#c8372d", "#6e1510", "xx", "⚑"),
    Rating.GREEN: Style("#2e8b4a", "#17502a", "\\\\", "✓"),  # not solid: Strong is
    Rating.AMBER: Style("#f5a623", "#8a5a00", "///", "⚠"),
    Rating.RED: Style("#c8372d", "#6e1510", "xx", "✗"),
}

TOTAL_WIDTH = 70  # pixels kept for a service's total at the end of its name's line
NAME_WIDTH = WIDTH - 2 * MARGIN - TOTAL_WIDTH  # pixels for a service's name: one line
NAME_LINES = 1
TEXT = 10  # points: names, totals and the legend (14 pixels)
SMALL = 9  # points: the counts on the bars and the note
BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Chart:
    png: bytes
    alt: str
    width: int
    height: int


def ratings_chart(summary: Summary) -> Chart | None:
    """The chart of ``summary.by_service``; None when no service has a rated measure."""
    services = [
        (name, counts) for name, counts in summary.by_service.items() if sum(counts.values()) > 0
    ]
    if not services:
        return None
    legend = _ratings(summary.scheme, [counts for _, counts in services])
    ratings = tuple(r for row in legend for r in row)
    title = f"Ratings by service, week of {summary.week_of.day} {summary.week_of:%B %Y}"
    height = TITLE + LEGEND_ROW * len(legend) + ROW * len(services) + FOOT
    png = _draw(title, services, legend, height)
    return Chart(png=png, alt=_alt(title, services, ratings), width=WIDTH, height=height)


def _ratings(scheme: Scheme, counts: list[dict[Rating, int]]) -> tuple[tuple[Rating, ...], ...]:
    """The legend's rows: the scheme's ratings best first, then any of the other scheme's
    that a measure with a scheme of its own was given."""
    other = next(s for s in ORDER if s is not scheme)
    extra = tuple(r for r in ORDER[other] if any(c.get(r, 0) for c in counts))
    return (ORDER[scheme], extra) if extra else (ORDER[scheme],)


def _alt(
    title: str, services: list[tuple[str, dict[Rating, int]]], ratings: tuple[Rating, ...]
) -> str:
    def figures(counts: dict[Rating, int]) -> str:
        return ", ".join(f"{counts[r]} {r.word}" for r in ratings if counts.get(r, 0))

    council = {r: sum(c.get(r, 0) for _, c in services) for r in ratings}
    rows = "; ".join(f"{_plain(name)}: {figures(counts)}" for name, counts in services)
    return f"{title}. Whole council: {figures(council)}. By service: {rows}."


def _draw(
    title: str,
    services: list[tuple[str, dict[Rating, int]]],
    legend: tuple[tuple[Rating, ...], ...],
    height: int,
) -> bytes:
    """Each service as its name (and total) on a line with its bar below, across the whole
    width: a phone shows the image at about this size, so nothing is drawn smaller than 9
    points (12 pixels)."""
    ratings = tuple(r for row in legend for r in row)
    regular, bold = _fonts()
    small = regular.copy()
    small.set_size(SMALL)
    figure = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, facecolor="#ffffff")
    canvas = FigureCanvasAgg(figure)
    plot_width = WIDTH - 2 * MARGIN
    axes = figure.add_axes(
        (MARGIN / WIDTH, FOOT / height, plot_width / WIDTH, ROW * len(services) / height)
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(len(services), 0)  # service n from n (its name) to n + 1 (under its bar)
    axes.set_axis_off()
    totals = [sum(counts.get(r, 0) for r in ratings) for _, counts in services]
    bars = [row + 0.66 for row in range(len(services))]
    lefts = [0.0] * len(services)
    for rating in ratings:  # one set of bars a rating: far quicker than one bar a segment
        style = STYLES[rating]
        counts = [c.get(rating, 0) for _, c in services]
        shares = [count / total for count, total in zip(counts, totals, strict=True)]
        axes.barh(
            bars,
            shares,
            left=lefts,
            height=0.42,
            color=style.fill,
            edgecolor=style.edge,
            hatch=style.hatch,
            linewidth=0.6,
            antialiased=False,  # crisp hatching: fewer colours, a far smaller PNG
        )
        for row, (count, share) in enumerate(zip(counts, shares, strict=True)):
            label = f"{count:,}"
            if count and share * plot_width >= 8 * len(label) + 8:  # room for it and its box
                axes.text(
                    lefts[row] + share / 2,
                    bars[row],
                    label,
                    ha="center",
                    va="center",
                    color="#000000",
                    fontproperties=small,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "#ffffff", "linewidth": 0},
                )
        lefts = [left + share for left, share in zip(lefts, shares, strict=True)]
    for row, ((name, _), total) in enumerate(zip(services, totals, strict=True)):
        axes.text(
            1.0,
            row + 0.2,
            f"{total:,} rated",
            ha="right",
            va="center",
            color="#404040",
            fontproperties=regular,
        )
        axes.text(
            0.0,
            row + 0.2,
            _name(name),
            ha="left",
            va="center",
            color="#000000",
            fontproperties=regular,
        )
    figure.text(
        MARGIN / WIDTH, 1 - 8 / height, _escape(title), ha="left", va="top", fontproperties=bold
    )
    for line, row_ratings in enumerate(legend):
        figure.legend(
            handles=[
                Patch(
                    facecolor=STYLES[r].fill,
                    edgecolor=STYLES[r].edge,
                    hatch=STYLES[r].hatch,
                    linewidth=0.6,
                    label=f"{STYLES[r].glyph} {r.word}",
                )
                for r in row_ratings
            ],
            loc="upper left",
            bbox_to_anchor=((MARGIN - 4) / WIDTH, 1 - (TITLE + LEGEND_ROW * line - 2) / height),
            ncol=len(row_ratings),
            frameon=False,
            prop=regular,
            handlelength=1.8,
            handleheight=1.0,
            handletextpad=0.4,
            columnspacing=1.0,
            borderpad=0.2,
        )
    figure.text(
        MARGIN / WIDTH,
        8 / height,
        "Each bar is one service, by share; the numbers are counts.",
        ha="left",
        va="bottom",
        color="#404040",
        fontproperties=small,
    )
    canvas.draw()
    return _palette(Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()))


def _palette(image: Image.Image) -> bytes:
    """The image in the chart's own palette (each nearest colour, no dithering), as a PNG
    without metadata: a few kilobytes a service, a tenth of the full-colour image."""
    reduced = image.convert("RGB").quantize(palette=_palette_image(), dither=Image.Dither.NONE)
    out = io.BytesIO()
    reduced.save(out, format="PNG", optimize=True)
    return out.getvalue()


@cache
def _palette_image() -> Image.Image:
    """The ratings' fills and edges, and five greys from black to white for the text's edges."""
    colours = [c for style in STYLES.values() for c in (style.fill, style.edge)]
    colours += [f"#{v:02x}{v:02x}{v:02x}" for v in GREYS]
    image = Image.new("P", (1, 1))
    image.putpalette([int(c[i : i + 2], 16) for c in dict.fromkeys(colours) for i in (1, 3, 5)])
    return image


@cache
def _fonts() -> tuple[FontProperties, FontProperties]:
    """DejaVu Sans from matplotlib's own data, whatever fonts the machine has."""
    folder = Path(_regular_path()).parent
    regular = FontProperties(fname=folder / "DejaVuSans.ttf", size=TEXT)
    bold = FontProperties(fname=folder / "DejaVuSans-Bold.ttf", size=11)
    return regular, bold


def _regular_path() -> str:
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


@cache
def _glyphs() -> frozenset[int]:
    return frozenset(get_font(_regular_path()).get_charmap())


@cache
def _advance(character: str) -> float:
    """How far a character moves the pen in a name, in pixels, hinted as Agg draws it (kerning
    and a last glyph's overhang aside: the names have room to spare for those)."""
    font = get_font(_regular_path())  # matplotlib's own, one a thread
    font.set_size(TEXT, DPI)
    return float(font.load_char(ord(character), flags=get_hinting_flag()).horiAdvance / 64)


def _plain(text: str) -> str:
    """A name as one line of plain text: control characters and the marks that reorder text
    made spaces, runs of space one (emoji sequences, joined by U+200D, kept whole)."""
    spaced = "".join(" " if _control(c) else c for c in text)
    return re.sub(r"\s+", " ", spaced).strip()


def _control(character: str) -> bool:
    return unicodedata.category(character) in ("Cc", "Zl", "Zp") or character in BIDI


def _name(text: str) -> str:
    """A service's name as the chart can draw it: characters the font lacks (emoji) left
    out, in at most NAME_LINES lines that fit above its bar, cut with an ellipsis when
    longer."""
    known = _glyphs()
    words = _plain("".join(c for c in _plain(text) if ord(c) in known)).split(" ")

    def fits(line: str) -> bool:
        return sum(map(_advance, line)) <= NAME_WIDTH

    def longest(text: str, tail: str = "") -> str:
        """The longest start of ``text`` that fits with ``tail`` after it (one character at
        least): a binary search, as a longer start is never narrower."""
        low, high = 1, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(text[:middle].rstrip() + tail):
                low = middle
            else:
                high = middle - 1
        return text[:low].rstrip() + tail

    lines: list[str] = []
    rest = " ".join(filter(None, words))
    while rest and len(lines) < NAME_LINES:
        if fits(rest):
            lines.append(rest)
            rest = ""
            break
        line = longest(rest)
        if " " in rest[: len(line) + 1]:  # break at the last space that fits
            line = rest[: rest.rindex(" ", 0, len(line) + 1)]
        lines.append(line)
        rest = rest[len(line) :].lstrip()
    if rest:
        lines[-1] = longest(f"{lines[-1]} {rest}", "…")
    return _escape("\n".join(lines) or "?")


def _escape(text: str) -> str:
    """Dollar signs as text, never as the start of mathematics."""
    return text.replace("$", r"\$")
