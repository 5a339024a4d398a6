"""Figures as people type them, and as the council prints them."""

from decimal import Decimal as D

import pytest

from domain.numbers import FigureError, Unit, check_range, format_figure, parse_figure, quantize


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("85", D(85)),
        ("85.0", D("85.0")),
        ("85%", D(85)),
        ("1,234", D(1234)),
        ("£1,234.50", D("1234.50")),
        (" 7 ", D(7)),
        ("-3", D(-3)),
        ("-£5", D(-5)),
        ("(1,234)", D(-1234)),
        ("12.5 days", D("12.5")),
        (".5", D("0.5")),
    ],
)
def test_figures_are_read_as_people_type_them(typed, value):
    assert parse_figure(typed) == value


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "no figure was given"),
        ("   ", "no figure was given"),
        ("NaN", "is not a number"),
        ("nan", "is not a number"),
        ("Infinity", "is not a number"),
        ("-inf", "is not a number"),
        ("eighty", "is not a number"),
        ("1,23", "is not a number"),
        ("8%5", "is not a number"),
        ("85 86", "is not a number"),
        ("1e5", "is not a number"),
    ],
)
def test_anything_else_is_refused_with_a_reason(typed, message):
    with pytest.raises(FigureError, match=message):
        parse_figure(typed)


def test_range_checks_by_unit():
    check_range(D(0), Unit.PERCENT)
    check_range(D(100), Unit.PERCENT)
    with pytest.raises(FigureError, match="not a percentage between 0 and 100"):
        check_range(D("100.1"), Unit.PERCENT)
    with pytest.raises(FigureError, match="cannot be below zero"):
        check_range(D(-1), Unit.NUMBER)
    check_range(D(-1), Unit.NUMBER, allow_negative=True)


def test_figures_round_half_up_to_the_measures_decimals():
    assert quantize(D("2.25"), 1) == D("2.3")
    assert quantize(D("2.5"), 0) == D(3)


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "shown"),
    [
        (D("82"), Unit.PERCENT, 0, "82%"),
        (D("96.25"), Unit.PERCENT, 1, "96.3%"),
        (D("1234.5"), Unit.CURRENCY, 2, "£1,234.50"),
        (D("-5"), Unit.CURRENCY, 0, "-£5"),
        (D("12.5"), Unit.DAYS, 1, "12.5 days"),
        (D("1"), Unit.DAYS, 0, "1 day"),
        (D("1234"), Unit.NUMBER, 0, "1,234"),
        (D("3"), Unit.HOURS, 0, "3 hours"),
    ],
)
def test_figures_are_printed_in_their_unit(value, unit, decimals, shown):
    assert format_figure(value, unit, decimals) == shown


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1" * 29 + ".5", "too large"),
        ("1,000,000,000,000", "too large"),
        ("-1000000000000", "too large"),
        ("0." + "1" * 40, "more than 15 significant digits"),
        ("1234567890.123456", "more than 15 significant digits"),
        ("9" * 65, "too long for a figure"),
    ],
)
def test_a_figure_beyond_what_perfbot_keeps_is_refused_in_a_sentence(typed, message):
    with pytest.raises(FigureError, match=message):
        parse_figure(typed)


@pytest.mark.parametrize(
    "typed", ["999,999,999,999", "123456789012.5", "0.000000000000001", "66.5000000000000000000"]
)
def test_figures_up_to_the_limits_are_kept(typed):
    assert parse_figure(typed) == D(typed.replace(",", ""))


@pytest.mark.parametrize("value", [D("1" * 29 + ".5"), D("1e30"), D("1e999999"), D("NaN")])
def test_rounding_never_raises_whatever_it_is_given(value):
    rounded = quantize(value, 2)
    assert rounded == value or (rounded.is_nan() and value.is_nan()) or abs(rounded - value) < 1
