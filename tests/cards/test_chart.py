"""The weekly summary's chart: a PNG that decodes at the size it says, the same bytes for the
same figures, small enough to travel inside the card, and a text alternative that names
every figure it shows."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from PIL import Image

from cards.chart import Chart, ratings_chart
from domain.ratings import Rating, Scheme
from domain.summary import Summary

HEAD = 32 + 24 + 28  # the title, one row of legend and the note; then 40 pixels a service
SGRA = (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION)
RAG = (Rating.GREEN, Rating.AMBER, Rating.RED)
HOSTILE = [
    "Housing 🏠 and 👩🏽‍💼 Homes",
    'Children\'s "Services" & <b>Families</b>',
    "Costs $x$ and $\\frac{1}{2}$ of $5",
    "Adult Social Care, Health and Wellbeing, Public Protection and Community Safety "
    "(including Trading Standards, Registration and Coroners) " * 4,
    "x" * 500,
    "new\nline\ttab \u202e reversed \u0000 nul",
    "🚩🟢🔴",
]


def summary(
    by_service: dict[str, dict[Rating, int]],
    scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION,
) -> Summary:
    return Summary(
        week_of=date(2026, 12, 7),
        since=None,
        scheme=scheme,
        periods=("2026/27 M8",),
        returns=(),
        ratings=(),
        by_service=by_service,
    )


def council(services: int, names: list[str] | None = None) -> dict[str, dict[Rating, int]]:
    """Services of 10 to 400 measures each, in every rating, some of them in none."""
    named = names or [f"Service {n}" for n in range(services)]
    return {
        f"{named[n % len(named)]} {n}": {
            rating: (n * 37 + k * 101) % 400 if (n + k) % 5 else 0 for k, rating in enumerate(SGRA)
        }
        | {Rating.GOOD: 10 + n}
        for n in range(services)
    }


def data_uri(chart: Chart) -> str:
    return "data:image/png;base64," + base64.b64encode(chart.png).decode()


def chunks(png: bytes) -> list[bytes]:
    """The types of a PNG's chunks, in order."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        found.append(png[at + 4 : at + 8])
        at += 12 + length
    return found


def decoded(chart: Chart) -> Image.Image:
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    return image


def test_the_chart_is_a_png_of_the_size_it_says() -> None:
    chart = ratings_chart(summary(council(12)))

    assert chart is not None
    image = decoded(chart)
    assert image.format == "PNG"
    assert image.size == (chart.width, chart.height) == (440, HEAD + 40 * 12)


def test_the_same_figures_give_the_same_bytes_in_any_thread() -> None:
    figures = summary(council(12, HOSTILE))
    first = ratings_chart(figures)
    with ThreadPoolExecutor(4) as pool:
        others = list(pool.map(lambda _: ratings_chart(figures), range(4)))

    assert first is not None
    assert all(other == first for other in others)


def test_the_png_carries_no_metadata() -> None:
    chart = ratings_chart(summary(council(3)))

    assert chart is not None
    assert set(chunks(chart.png)) <= {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


def test_a_dozen_services_fit_well_inside_the_card() -> None:
    chart = ratings_chart(summary(council(12, HOSTILE)))

    assert chart is not None
    assert len(data_uri(chart)) < 30_000  # the card and its image stay under 80 KB


def test_thirty_services_with_hostile_names_stay_small() -> None:
    chart = ratings_chart(summary(council(30, HOSTILE)))

    assert chart is not None
    assert decoded(chart).size == (440, HEAD + 40 * 30)
    assert len(data_uri(chart)) < 52_000  # with a 28 KB card, under 80 KB together


def test_the_alt_text_gives_the_whole_council_first_then_every_service() -> None:
    chart = ratings_chart(
        summary(
            {
                "Housing": {Rating.ACTION: 1, Rating.STRONG: 3, Rating.GOOD: 2},
                "Adult Social Care": {Rating.REVIEW: 4, Rating.GOOD: 1, Rating.STRONG: 0},
                "Waste 🗑": {Rating.STRONG: 5},
            }
        )
    )

    assert chart is not None
    assert chart.alt == (
        "Ratings by service, week of 7 December 2026. "
        "Whole council: 8 Strong, 3 Good, 4 Review, 1 Action. "
        "By service: Housing: 3 Strong, 2 Good, 1 Action; "
        "Adult Social Care: 1 Good, 4 Review; Waste 🗑: 5 Strong."
    )


def test_the_alt_text_names_every_services_counts_however_its_name_is_written() -> None:
    by_service = council(30, HOSTILE)
    chart = ratings_chart(summary(by_service))

    assert chart is not None
    for name, counts in by_service.items():
        plain = " ".join(name.replace("\x00", " ").split()).replace("\u202e", "")
        plain = " ".join(plain.split())
        figures = ", ".join(f"{counts[r]} {r.word}" for r in SGRA if counts.get(r))
        assert f"{plain}: {figures}" in chart.alt


def test_a_rag_council_is_counted_in_green_amber_and_red() -> None:
    chart = ratings_chart(
        summary({"Place": {Rating.RED: 2, Rating.GREEN: 7, Rating.AMBER: 1}}, Scheme.RAG)
    )

    assert chart is not None
    assert "Whole council: 7 Green, 1 Amber, 2 Red." in chart.alt
    assert decoded(chart).size == (440, HEAD + 40)


def test_a_measure_on_the_other_scheme_is_shown_after_the_councils_own() -> None:
    chart = ratings_chart(
        summary({"Place": {Rating.RED: 2, Rating.GOOD: 7}, "Economy": {Rating.STRONG: 1}})
    )

    assert chart is not None
    assert "Whole council: 1 Strong, 7 Good, 2 Red." in chart.alt
    assert decoded(chart).size == (440, HEAD + 24 + 40 * 2)  # a second row of the legend


@pytest.mark.parametrize(
    "by_service",
    [{}, {"Housing": {}}, {"Housing": {Rating.GOOD: 0}, "Waste": {}}],
    ids=["no services", "no ratings", "only zeros"],
)
def test_a_council_with_no_rated_measures_has_no_chart(
    by_service: dict[str, dict[Rating, int]],
) -> None:
    assert ratings_chart(summary(by_service)) is None


def test_a_service_with_nothing_rated_is_left_off_the_chart() -> None:
    chart = ratings_chart(summary({"Housing": {Rating.GOOD: 2}, "Waste": {}}))

    assert chart is not None
    assert chart.height == HEAD + 40
    assert "Waste" not in chart.alt


def test_each_rating_has_its_own_pattern_and_a_symbol_the_font_draws() -> None:
    from cards.chart import STYLES, _glyphs

    for scheme in (SGRA, RAG):
        assert len({STYLES[r].hatch for r in scheme}) == len(scheme)
        assert len({STYLES[r].glyph for r in scheme}) == len(scheme)
        assert all(ord(STYLES[r].glyph) in _glyphs() for r in scheme)
