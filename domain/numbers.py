"""Figures as people type them, and as the council prints them, in a measure's unit."""

from __future__ import annotations

import enum
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

# What a figure may be (issue 17): at most 15 significant digits (what a spreadsheet keeps
# exactly, and far more than any council figure needs) and less than a million million in
# size (£1,000,000,000,000; no council's budget is a thousandth of it). Both are checked on
# the number as typed, before it is rounded to the measure's decimal places.
MAX_DIGITS = 15
MAX_MAGNITUDE = Decimal(10) ** 12


class FigureError(ValueError):
    """A figure that cannot be read, or is outside what its unit allows."""


class Unit(enum.StrEnum):
    """What a measure counts in; the value is the word used in spreadsheets."""

    NUMBER = "number"
    PERCENT = "percent"
    CURRENCY = "currency"
    DAYS = "days"
    HOURS = "hours"

    @classmethod
    def parse(cls, text: str) -> Unit:
        word = text.strip().lower()
        word = _UNIT_SYNONYMS.get(word, word)
        try:
            return cls(word)
        except ValueError:
            choices = ", ".join(u.value for u in cls)
            raise FigureError(f"unit '{text.strip()}' is not one of {choices}") from None


_UNIT_SYNONYMS = {
    "%": "percent",
    "percentage": "percent",
    "£": "currency",
    "gbp": "currency",
    "pounds": "currency",
    "count": "number",
    "no.": "number",
    "day": "days",
    "hour": "hours",
}

# Digits with optional thousands separators and decimals, e.g. 1,234.50 or 85 or .5
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")
_PREFIX = re.compile(r"(?i)^(?:£|gbp)\s*")
_SUFFIX = re.compile(r"(?i)\s*(?:%|days?|hours?|hrs?)$")


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "\u2026"


def parse_figure(text: str) -> Decimal:
    """Read a figure the way people type it: ``85``, ``85.0``, ``85%``, ``1,234``, ``£1,234.50``.

    Refuses empty text, words, NaN and infinity, more than MAX_DIGITS significant digits and
    anything as large as MAX_MAGNITUDE, with a sentence saying what was wrong.
    """
    raw = text.strip()
    if not raw:
        raise FigureError("no figure was given")
    if len(raw) > 64:  # longer than any figure of 15 digits, with its separators and unit
        raise FigureError(f"'{_shown(raw)}' is too long for a figure: type digits only, such as 85")
    sign = ""
    cleaned = raw
    if cleaned[0] in "+-":
        sign, cleaned = cleaned[0], cleaned[1:].lstrip()
    cleaned = _SUFFIX.sub("", _PREFIX.sub("", cleaned))
    if cleaned.startswith("(") and cleaned.endswith(")"):  # accountants' negative: (1,234)
        sign, cleaned = "-", cleaned[1:-1]
    cleaned = sign + cleaned
    if not cleaned or not any(ch.isdigit() for ch in cleaned) or not _NUMBER.match(cleaned):
        raise FigureError(f"'{raw}' is not a number: type digits only, such as 85 or 1,234.5")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise FigureError(f"'{raw}' is not a number: type digits only, such as 85") from None
    if not value.is_finite():  # pragma: no cover - the pattern above admits no NaN or Infinity
        raise FigureError(f"'{raw}' is not a finite number")
    check_size(value, raw)
    return value


def check_size(value: Decimal, typed: str = "") -> None:
    """Refuse a figure beyond what PerfBot keeps: over MAX_DIGITS significant digits, or as
    large as MAX_MAGNITUDE (either way, said in a sentence)."""
    shown = _shown(typed or f"{value:f}")
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        raise FigureError(
            f"'{shown}' is too large: a figure must be less than 1,000,000,000,000 in size"
        )
    if value and len(value.normalize().as_tuple().digits) > MAX_DIGITS:
        raise FigureError(
            f"'{shown}' has more than {MAX_DIGITS} significant digits: round it to the "
            "measure's decimal places"
        )


def check_range(value: Decimal, unit: Unit, *, allow_negative: bool = False) -> None:
    """Refuse a figure its unit cannot hold: a percentage outside 0-100, a negative count."""
    if unit is Unit.PERCENT and not Decimal(0) <= value <= Decimal(100):
        raise FigureError(f"{value.normalize():f}% is not a percentage between 0 and 100")
    if value < 0 and not allow_negative and unit is not Unit.PERCENT:
        raise FigureError(
            f"{value.normalize():f} is negative, and this measure cannot be below zero"
        )


def quantize(value: Decimal, decimals: int) -> Decimal:
    """Round half up to the measure's decimal places, as councils publish figures. It never
    raises: it works in as many digits as the result needs (the default context's 28 would
    make a figure of 29 digits an InvalidOperation), and a value too large or too precise
    to round that way (none that parse_figure admits) is returned as it is."""
    if not value.is_finite():
        return value
    needed = max(value.adjusted(), 0) + max(decimals, 0) + 2
    if needed > 1_000:
        return value
    context = Context(prec=max(28, needed), rounding=ROUND_HALF_UP)
    try:
        return value.quantize(Decimal(1).scaleb(-decimals, context), context=context)
    except InvalidOperation:  # pragma: no cover - the precision above always suffices
        return value


def format_figure(value: Decimal, unit: Unit, decimals: int) -> str:
    """Print a figure in its unit: ``82%``, ``£1,234.50``, ``12.5 days``, ``1,234``."""
    number = f"{quantize(value, decimals):,.{decimals}f}"
    if unit is Unit.PERCENT:
        return f"{number}%"
    if unit is Unit.CURRENCY:
        return f"-£{number[1:]}" if number.startswith("-") else f"£{number}"
    if unit is Unit.DAYS:
        return f"{number} day" if quantize(value, decimals) == 1 else f"{number} days"
    if unit is Unit.HOURS:
        return f"{number} hour" if quantize(value, decimals) == 1 else f"{number} hours"
    return number


def format_exact(value: Decimal, unit: Unit, decimals: int) -> str:
    """Like format_figure, but never hiding digits the value has beyond ``decimals``."""
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return format_figure(value, unit, max(decimals, places))
