"""The rating rules of DESIGN.md "Ratings", boundary by boundary, as specifications."""

from datetime import date
from decimal import Decimal as D

import pytest

from domain.numbers import Unit
from domain.ratings import (
    Direction,
    KeyActionStatus,
    MeasureRule,
    Polarity,
    Rating,
    RatingError,
    Scheme,
    Tolerance,
    assess,
    assess_key_action,
    direction,
)

HIGHER = MeasureRule(polarity=Polarity.HIGHER)
LOWER = MeasureRule(polarity=Polarity.LOWER)
PERCENT = MeasureRule(polarity=Polarity.HIGHER, unit=Unit.PERCENT, decimals=1)
PERCENT_LOWER = MeasureRule(polarity=Polarity.LOWER, unit=Unit.PERCENT, decimals=1)
RAG = MeasureRule(scheme=Scheme.RAG)
RAG_LOWER = MeasureRule(scheme=Scheme.RAG, polarity=Polarity.LOWER)


def rating(actual: str, target: str, rule: MeasureRule) -> Rating | None:
    return assess(D(actual), D(target), rule).rating


# Strong / Good / Review / Action, higher is better, target 100 so v is the percentage.
@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("105.01", Rating.STRONG),  # just above +5%
        ("105", Rating.GOOD),  # exactly +5% is Good, not Strong
        ("100", Rating.GOOD),
        ("98", Rating.GOOD),  # exactly -2% is Good
        ("97.99", Rating.REVIEW),  # just below -2%
        ("90", Rating.REVIEW),  # exactly -10% is Review
        ("89.99", Rating.ACTION),  # just below -10%
        ("0", Rating.ACTION),
    ],
)
def test_strong_good_review_action_boundaries_when_higher_is_better(actual, expected):
    assert rating(actual, "100", HIGHER) is expected


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("18.99", Rating.STRONG),  # more than 5% below a target of 20 days
        ("19", Rating.GOOD),  # exactly 5% better
        ("20.4", Rating.GOOD),  # exactly 2% worse
        ("20.41", Rating.REVIEW),
        ("22", Rating.REVIEW),  # exactly 10% worse
        ("22.01", Rating.ACTION),
    ],
)
def test_strong_good_review_action_boundaries_when_lower_is_better(actual, expected):
    assert rating(actual, "20", LOWER) is expected


def test_the_issue_example_explains_itself():
    outcome = assess(D(82), D(85), HIGHER)
    assert outcome.rating is Rating.REVIEW
    assert outcome.explanation == "82 against a target of 85 is 3.5% worse than target: Review."


def test_a_value_11_percent_below_target_is_action():
    assert rating("89", "100", HIGHER) is Rating.ACTION


def test_100_percent_performance_is_strong_even_on_target():
    outcome = assess(D(100), D(100), PERCENT)
    assert outcome.rating is Rating.STRONG
    assert "100% performance" in outcome.explanation


def test_zero_percent_is_100_percent_performance_when_lower_is_better():
    assert rating("0", "2", PERCENT_LOWER) is Rating.STRONG


def test_a_percentage_target_above_95_needs_only_2_percent_better_for_strong():
    # target 96%: 2% better is 97.92; a hair above is Strong, exactly 2% is Good.
    assert rating("97.93", "96", PERCENT) is Rating.STRONG
    assert rating("97.92", "96", PERCENT) is Rating.GOOD


def test_a_percentage_target_of_exactly_95_keeps_the_5_percent_threshold():
    assert rating("98", "95", PERCENT) is Rating.GOOD  # 3.2% better
    assert rating("99.76", "95", PERCENT) is Rating.STRONG  # 5.01% better


def test_the_2_percent_threshold_applies_only_to_percentage_measures():
    assert rating("97.93", "96", HIGHER) is Rating.GOOD


def test_a_negative_target_compares_against_its_size():
    # target -10 (e.g. net change), actual -9: 1 better on a size of 10 is +10%.
    assert rating("-9", "-10", HIGHER) is Rating.STRONG


# RAG
@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("101", Rating.GREEN),
        ("100", Rating.GREEN),  # on target is Green
        ("99.99", Rating.AMBER),
        ("95", Rating.AMBER),  # exactly the 5% default tolerance is still Amber
        ("94.99", Rating.RED),
    ],
)
def test_rag_with_the_default_tolerance_of_5_percent(actual, expected):
    assert rating(actual, "100", RAG) is expected


def test_rag_when_lower_is_better():
    assert rating("20", "20", RAG_LOWER) is Rating.GREEN
    assert rating("21", "20", RAG_LOWER) is Rating.AMBER  # exactly 5% worse
    assert rating("21.01", "20", RAG_LOWER) is Rating.RED


def test_rag_with_a_tolerance_of_10_percent():
    rule = MeasureRule(scheme=Scheme.RAG, tolerance=Tolerance.parse("10%"))
    assert rating("90", "100", rule) is Rating.AMBER
    assert rating("89.9", "100", rule) is Rating.RED


def test_rag_with_an_absolute_tolerance_in_the_measures_unit():
    rule = MeasureRule(
        scheme=Scheme.RAG, polarity=Polarity.LOWER, unit=Unit.DAYS, tolerance=Tolerance.parse("3")
    )
    assert rating("20", "20", rule) is Rating.GREEN
    assert rating("23", "20", rule) is Rating.AMBER
    outcome = assess(D(24), D(20), rule)
    assert outcome.rating is Rating.RED
    assert outcome.explanation == (
        "24 days against a target of 20 days is 4 days worse than target, "
        "beyond the tolerance of 3 days: Red."
    )


def test_a_zero_target_without_an_absolute_tolerance_is_an_error():
    with pytest.raises(RatingError, match="absolute tolerance"):
        assess(D(1), D(0), LOWER)
    with pytest.raises(RatingError, match="absolute tolerance"):
        assess(D(1), D(0), MeasureRule(tolerance=Tolerance.parse("5%")))


def test_a_zero_target_with_an_absolute_tolerance_is_rated_by_difference():
    rule = MeasureRule(polarity=Polarity.LOWER, tolerance=Tolerance.parse("2"))
    assert rating("0", "0", rule) is Rating.GOOD
    assert rating("2", "0", rule) is Rating.REVIEW  # within the tolerance
    assert rating("3", "0", rule) is Rating.ACTION
    rag = MeasureRule(polarity=Polarity.LOWER, scheme=Scheme.RAG, tolerance=Tolerance.parse("2"))
    assert rating("0", "0", rag) is Rating.GREEN
    assert rating("2", "0", rag) is Rating.AMBER
    assert rating("3", "0", rag) is Rating.RED


def test_no_target_means_unrated_not_off_track():
    outcome = assess(D(50), None, HIGHER)
    assert outcome.rating is None
    assert not outcome.off_track
    assert "no target" in outcome.explanation


def test_a_missing_actual_is_not_a_zero():
    outcome = assess(None, D(50), HIGHER)
    assert outcome.rating is None
    assert outcome.variance is None
    assert "No actual" in outcome.explanation


def test_off_track_means_review_action_amber_or_red():
    assert {r for r in Rating if r.off_track} == {
        Rating.REVIEW,
        Rating.ACTION,
        Rating.AMBER,
        Rating.RED,
    }


def test_an_explanation_never_shows_a_boundary_the_figure_does_not_sit_on():
    # 2.04% worse rounds to "2.0%", which would read as Good; the sentence shows more places.
    outcome = assess(D("97.96"), D(100), HIGHER)
    assert outcome.rating is Rating.REVIEW
    assert "2.04% worse" in outcome.explanation


def test_explanations_use_the_measures_unit():
    rule = MeasureRule(unit=Unit.CURRENCY, decimals=2)
    assert assess(D("1234.5"), D(1000), rule).explanation.startswith(
        "£1,234.50 against a target of £1,000.00 is 23.5% better than target"
    )


def test_tolerance_reads_a_share_or_an_amount():
    assert Tolerance.parse("5%") == Tolerance(D("0.05"), relative=True)
    assert Tolerance.parse(" 3 ") == Tolerance(D(3), relative=False)
    with pytest.raises(RatingError, match="not a number"):
        Tolerance.parse("five")


def test_polarity_words():
    assert Polarity.parse("Higher") is Polarity.HIGHER
    with pytest.raises(RatingError, match="polarity 'up' is not higher or lower"):
        Polarity.parse("up")


# Key actions
@pytest.mark.parametrize(
    ("status", "sgra", "rag"),
    [
        (KeyActionStatus.COMPLETE, Rating.GOOD, Rating.GREEN),
        (KeyActionStatus.ON_TRACK, Rating.GOOD, Rating.GREEN),
        (KeyActionStatus.SOME_RISK, Rating.REVIEW, Rating.AMBER),
        (KeyActionStatus.UNLIKELY, Rating.ACTION, Rating.RED),
    ],
)
def test_key_actions_are_rated_from_their_status(status, sgra, rag):
    assert assess_key_action(status, Scheme.STRONG_GOOD_REVIEW_ACTION).rating is sgra
    assert assess_key_action(status, Scheme.RAG).rating is rag


def test_a_key_action_exceeding_expectations_is_strong():
    outcome = assess_key_action(
        KeyActionStatus.ON_TRACK, Scheme.STRONG_GOOD_REVIEW_ACTION, exceeding_expectations=True
    )
    assert outcome.rating is Rating.STRONG


def test_a_past_due_milestone_that_is_not_complete_counts_as_unlikely():
    outcome = assess_key_action(
        KeyActionStatus.ON_TRACK,
        Scheme.STRONG_GOOD_REVIEW_ACTION,
        due=date(2025, 6, 30),
        today=date(2025, 7, 1),
    )
    assert outcome.rating is Rating.ACTION
    assert "Past its due date of 30 June 2025" in outcome.explanation
    done = assess_key_action(
        KeyActionStatus.COMPLETE, Scheme.RAG, due=date(2025, 6, 30), today=date(2025, 7, 1)
    )
    assert done.rating is Rating.GREEN


def test_key_action_status_words():
    assert KeyActionStatus.parse("On Track") is KeyActionStatus.ON_TRACK
    assert KeyActionStatus.parse("unlikely to achieve") is KeyActionStatus.UNLIKELY
    with pytest.raises(RatingError, match="not a key action status"):
        KeyActionStatus.parse("fine")


# Direction of travel
def test_direction_of_travel_takes_polarity_into_account():
    assert direction(D(90), D(85), Polarity.HIGHER) is Direction.IMPROVING
    assert direction(D(90), D(85), Polarity.LOWER) is Direction.DECLINING
    assert direction(D(85), D(85), Polarity.LOWER) is Direction.UNCHANGED
    assert direction(D(85), None, Polarity.LOWER) is None
