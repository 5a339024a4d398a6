"""Plausibility: a figure far outside a measure's history is queried before it is stored.

The tools councils admire (DESIGN.md) ask the owner to confirm an unusual figure rather
than refuse it. The commonest slip is a misplaced decimal point or a dropped digit, so
when moving the decimal point brings the figure in line with history, that is suggested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

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


def check(
    value: Decimal,
    history: Sequence[Decimal],
    shown: str,
    show: Callable[[Decimal], str] = _plain,
) -> Doubt | None:
    """None when ``value`` sits with ``history`` (or there is too little history to judge).

    ``shown`` is the value as the person typed it, for the message; ``show`` prints
    figures from history and the suggestion in the measure's unit.
    """
    past = [h for h in history if h is not None]
    if len(past) < MINIMUM_HISTORY:
        return None
    typical = Decimal(median(past))
    if typical <= 0 or value <= 0:
        return None  # ratios mean nothing around zero; counts of zero are ordinary
    ratio = value / typical
    if 1 / FAR <= ratio <= FAR:
        return None
    low, high = min(past), max(past)
    suggestion = _decimal_slip(value, typical)
    if suggestion is not None:
        return Doubt(
            f"Did you mean {show(suggestion)}? You entered {shown}, and recent figures "
            f"were {show(low)} to {show(high)}.",
            suggestion,
            show(suggestion),
        )
    return Doubt(
        f"{shown} is far from recent figures ({show(low)} to {show(high)}). "
        "Check it, then submit again to confirm.",
        None,
    )


def _decimal_slip(value: Decimal, typical: Decimal) -> Decimal | None:
    """The value with its decimal point moved 1 to 3 places, if that lands near typical."""
    best: tuple[Decimal, Decimal] | None = None
    for places in (-3, -2, -1, 1, 2, 3):
        candidate = value.scaleb(places)
        ratio = candidate / typical
        distance = max(ratio, 1 / ratio)
        if distance <= 2 and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1].normalize() if best else None
