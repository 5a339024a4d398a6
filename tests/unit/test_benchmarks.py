"""Benchmarks: which comparator a figure is set beside, its quartile, and the one sentence
that says where it stands (seed 001's comparator groups, seed 004's sources)."""

from decimal import Decimal as D

from domain.benchmarks import Comparator, applying, quartile, standing
from domain.numbers import Unit
from domain.periods import Period
from domain.ratings import Polarity

Q2 = Period.parse("2026/27 Q2")


def comparator(group, period, value, quartiles=None, source=None):
    return Comparator(
        group,
        Period.parse(period) if period else None,
        D(value),
        tuple(D(q) for q in quartiles) if quartiles else None,
        source,
    )


def test_a_figure_is_set_beside_its_own_periods_row_else_the_latest_earlier_else_the_undated():
    rows = [
        comparator("England", "2024/25", "40"),
        comparator("England", "2025/26", "42"),
        comparator("England", "2026/27", "44"),  # ends after Q2: not yet
        comparator("CIPFA nearest neighbours", "2026/27 Q2", "47"),
        comparator("CIPFA nearest neighbours", "2026/27 Q1", "46"),
        comparator("APSE family group", None, "45"),
    ]
    chosen = applying(rows, Q2)
    assert [(c.group, c.value) for c in chosen] == [
        ("England", D(42)),
        ("CIPFA nearest neighbours", D(47)),
        ("APSE family group", D(45)),
    ]


def test_a_cumulative_figure_is_set_only_beside_the_same_point_in_the_year():
    rows = [
        comparator("CIPFA nearest neighbours", "2025/26 M6", "57.4"),
        comparator("England", "2025/26 M12", "95.9"),
        comparator("DLUHC", None, "96.0"),
    ]
    april = applying(rows, Period.parse("2026/27 M1"), cumulative=True)
    assert april == []  # never "worse than the England average of 95.9%" in April
    september = applying(rows, Period.parse("2026/27 M6"), cumulative=True)
    assert [c.group for c in september] == ["CIPFA nearest neighbours"]
    march = applying(rows, Period.parse("2026/27 M12"), cumulative=True)
    assert [c.group for c in march] == ["England", "DLUHC"]


def test_the_best_quartile_is_decided_by_polarity():
    boundaries = (D(20), D(30), D(40))
    assert [quartile(D(v), boundaries, Polarity.HIGHER) for v in (45, 40, 35, 25, 10)] == [
        1,
        1,
        2,
        3,
        4,
    ]
    assert [quartile(D(v), boundaries, Polarity.LOWER) for v in (10, 20, 25, 35, 45)] == [
        1,
        1,
        2,
        3,
        4,
    ]


def test_one_sentence_says_where_the_figure_stands():
    rows = [
        comparator("England", "2026/27 Q2", "96.1", source="LG Inform"),
        comparator(
            "CIPFA nearest neighbours", "2025/26", "96.0", ("95.0", "95.8", "96.5"), "CIPFA"
        ),
    ]
    said = standing(D("96.2"), rows, Polarity.HIGHER, Unit.PERCENT, 1, Q2)
    assert said == (
        "better than the England average of 96.1% (LG Inform); 2nd quartile of CIPFA nearest "
        "neighbours (median 95.8%; CIPFA, 2025/26)"
    )
    assert standing(D("96.1"), rows[:1], Polarity.HIGHER, Unit.PERCENT, 1, Q2).startswith(
        "level with the England average"
    )
    lower = standing(D("20.5"), rows[:1], Polarity.LOWER, Unit.DAYS, 1, Q2)
    assert lower == "better than the England average of 96.1 days (LG Inform)"


def test_with_no_figure_the_sentence_gives_the_comparators_for_context():
    rows = [
        comparator("England", None, "19"),
        comparator("Statistical nearest neighbours", "2025/26", "18.2", ("15.9", "18", "20.4")),
    ]
    said = standing(None, rows, Polarity.LOWER, Unit.DAYS, 1, Q2)
    assert said == (
        "England 19.0 days; Statistical nearest neighbours 18.2 days (quartiles 15.9 days, "
        "18.0 days, 20.4 days; 2025/26)"
    )
    assert standing(None, [], Polarity.LOWER, Unit.DAYS, 1, Q2) == ""
