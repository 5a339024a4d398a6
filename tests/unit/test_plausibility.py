"""A figure far from a measure's history is queried, with the likely slip suggested."""

from decimal import Decimal as D

from domain.plausibility import check

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
