"""Plausibility: a figure far outside a measure's history is queried before it is stored.

The tools councils admire (DESIGN.md) ask the owner to confirm an unusual figure rather
than refuse it. The commonest slip is a misplaced decimal point or a dropped digit, so
when moving the decimal point brings the figure in line with history, that is suggested;
only ever a figure the measure can hold (never a percentage over 100, never below zero
unless the measure allows it), rounded to the measure's decimal places.

What "history" is depends on the measure's profile (domain/profiles.py): the periods before,
or for a cumulative measure the same period in earlier years and this period's target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from domain.numbers import FigureError, Unit, check_range, quantize

FAR = Decimal(3)  # more than three times, or less than a third of, the typical figure
MINIMUM_HISTORY = 3


@dataclass(frozen=True, slots=True)
class Doubt:
    """Why a figure looks wrong, and the figure it probably should have been."""

    message: str
    suggestion: Decimal | None
    suggestion_shown: str = ""


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _any(value: Decimal) -> Decimal | None:
    return value.normalize()


Fit = Callable[[Decimal], Decimal | None]


def fitting(unit: Unit, decimals: int, allow_negative: bool = False) -> Fit:
    """A suggestion as the measure can hold it: rounded to its decimal places, or None when
    its unit cannot (a percentage over 100, a negative count) or rounding leaves nothing."""

    def fit(value: Decimal) -> Decimal | None:
        rounded = quantize(value, decimals)
        try:
            check_range(rounded, unit, allow_negative=allow_negative)
        except FigureError:
            return None
        return rounded if rounded != 0 else None

    return fit


def check(
    value: Decimal,
    history: Sequence[Decimal],
    shown: str,
    show: Callable[[Decimal], str] = _plain,
    *,
    fit: Fit = _any,
    minimum: int = MINIMUM_HISTORY,
    against: str = "recent figures",
) -> Doubt | None:
    """None when ``value`` sits with ``history`` (or there are fewer than ``minimum``
    figures to judge by).

    ``shown`` is the value as the person typed it, for the message; ``show`` prints
    figures from history and the suggestion in the measure's unit; ``fit`` makes a
    suggestion one the measure can hold, or None (see ``fitting``); ``against`` names the
    history in the message ("recent figures", "April in earlier years").
    """
    past = [h for h in history if h is not None]
    if len(past) < max(minimum, 1):
        return None
    typical = Decimal(median(past))
    if typical <= 0 or value <= 0:
        return None  # ratios mean nothing around zero; counts of zero are ordinary
    ratio = value / typical
    if 1 / FAR <= ratio <= FAR:
        return None
    low, high = min(past), max(past)
    span = show(low) if low == high else f"{show(low)} to {show(high)}"
    were = "was" if low == high else "were"
    suggestion = _decimal_slip(value, typical, fit)
    if suggestion is not None:
        return Doubt(
            f"Did you mean {show(suggestion)}? You entered {shown}, and {against} {were} {span}.",
            suggestion,
            show(suggestion),
        )
    return Doubt(
        f"{shown} is far from {against} ({span}). Check it, then submit again to confirm.",
        None,
    )


def _decimal_slip(value: Decimal, typical: Decimal, fit: Fit) -> Decimal | None:
    """The value with its decimal point moved 1 to 3 places, if that lands near typical
    and is a figure the measure can hold."""
    best: tuple[Decimal, Decimal] | None = None
    for places in (-3, -2, -1, 1, 2, 3):
        candidate = fit(value.scaleb(places))
        if candidate is None or candidate == value:
            continue
        ratio = candidate / typical
        distance = max(ratio, 1 / ratio)
        if distance <= 2 and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None
