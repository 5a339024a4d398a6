"""A figure far from a measure's history is queried, with the likely slip suggested."""

from decimal import Decimal as D

from domain.numbers import Unit
from domain.plausibility import check, fitting

HISTORY = [D("8.1"), D("8.6"), D("9.0"), D("8.4")]


def test_a_misplaced_decimal_point_is_suggested():
    doubt = check(D(85), HISTORY, "85")
    assert doubt is not None
    assert doubt.suggestion == D("8.5")
    assert doubt.message == "Did you mean 8.5? You entered 85, and recent figures were 8.1 to 9."


def test_a_figure_in_line_with_history_passes():
    assert check(D("9.4"), HISTORY, "9.4") is None
    assert check(D("20"), HISTORY, "20") is None  # over twice as high, under three times


def test_a_far_figure_with_no_simple_slip_asks_for_confirmation():
    doubt = check(D(40), HISTORY, "40")
    assert doubt is not None
    assert doubt.suggestion is None
    assert "Check it, then submit again to confirm" in doubt.message


def test_too_little_history_or_zeros_are_not_judged():
    assert check(D(85), HISTORY[:2], "85") is None
    assert check(D(5), [D(0), D(0), D(0)], "5") is None
    assert check(D(0), HISTORY, "0") is None


def test_a_suggestion_is_always_a_figure_the_unit_can_hold():
    percent = fitting(Unit.PERCENT, 1)
    # 10.7 against figures near 80%: 107 would be nearest, but no percentage is over 100.
    doubt = check(D("10.7"), [D("76.3"), D("84.8"), D("93.6")], "10.7", fit=percent)
    assert doubt is not None
    assert doubt.suggestion is None
    assert "Did you mean" not in doubt.message


def test_a_suggestion_is_rounded_to_the_measures_decimal_places():
    days = fitting(Unit.DAYS, 1)
    doubt = check(D("1834"), [D("18.1"), D("18.6"), D("19.0")], "1834", fit=days)
    assert doubt is not None
    assert str(doubt.suggestion) == "18.3"  # 18.34 rounded, as the figure would be stored
    whole = fitting(Unit.NUMBER, 0)
    assert whole(D("0.4")) is None  # rounds to nothing: never suggested
    assert whole(D("-5")) is None  # a count below zero
    assert fitting(Unit.NUMBER, 0, allow_negative=True)(D("-5")) == D(-5)


def test_one_reference_is_enough_when_the_caller_says_so_and_the_message_names_it():
    doubt = check(
        D(107), [D("10.7"), D("10.9")], "107", minimum=1, against="April in earlier years"
    )
    assert doubt is not None
    assert doubt.message.startswith("Did you mean 10.7? You entered 107, and April in earlier")
    assert check(D("10.7"), [D("10.9")], "10.7", minimum=1) is None
