"""Figures as people type them, and as the council prints them, in a measure's unit."""

from __future__ import annotations

import enum
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


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


def parse_figure(text: str) -> Decimal:
    """Read a figure the way people type it: ``85``, ``85.0``, ``85%``, ``1,234``, ``£1,234.50``.

    Refuses empty text, words, NaN and infinity with a sentence saying what was wrong.
    """
    raw = text.strip()
    if not raw:
        raise FigureError("no figure was given")
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
    return value


def check_range(value: Decimal, unit: Unit, *, allow_negative: bool = False) -> None:
    """Refuse a figure its unit cannot hold: a percentage outside 0-100, a negative count."""
    if unit is Unit.PERCENT and not Decimal(0) <= value <= Decimal(100):
        raise FigureError(f"{value.normalize():f}% is not a percentage between 0 and 100")
    if value < 0 and not allow_negative and unit is not Unit.PERCENT:
        raise FigureError(
            f"{value.normalize():f} is negative, and this measure cannot be below zero"
        )


def quantize(value: Decimal, decimals: int) -> Decimal:
    """Round half up to the measure's decimal places, as councils publish figures."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


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
