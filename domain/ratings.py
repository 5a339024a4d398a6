"""Ratings against target, as the councils' frameworks define them (DESIGN.md "Ratings").

Two schemes ship. Derbyshire County Council's Strong / Good / Review / Action (seed 001) and
the Red / Amber / Green scheme of South Derbyshire, Chesterfield and many others. Every
rating explains itself in one plain sentence. Arithmetic is Decimal so boundaries are exact.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from domain.numbers import Unit, format_figure

HUNDRED = Decimal(100)
STRONG_ABOVE = Decimal("0.05")  # Strong: more than 5% better than target
STRONG_ABOVE_HIGH_PERCENT = Decimal("0.02")  # ... or 2% where a percentage target exceeds 95
HIGH_PERCENT_TARGET = Decimal(95)
GOOD_DOWN_TO = Decimal("-0.02")  # Good: down to 2% worse than target
REVIEW_DOWN_TO = Decimal("-0.10")  # Review: down to 10% worse; Action beyond
DEFAULT_RAG_TOLERANCE = Decimal("0.05")


class RatingError(ValueError):
    """A measure whose figures cannot be rated as configured (a zero target, say)."""


class Polarity(enum.StrEnum):
    HIGHER = "higher"
    LOWER = "lower"

    @classmethod
    def parse(cls, text: str) -> Polarity:
        word = text.strip().lower()
        word = {"higher is better": "higher", "lower is better": "lower"}.get(word, word)
        try:
            return cls(word)
        except ValueError:
            raise RatingError(f"polarity '{text.strip()}' is not higher or lower") from None


class Scheme(enum.StrEnum):
    STRONG_GOOD_REVIEW_ACTION = "strong-good-review-action"
    RAG = "rag"

    @classmethod
    def parse(cls, text: str) -> Scheme:
        word = text.strip().lower().replace(" ", "-").replace("/", "-")
        word = {"sgra": "strong-good-review-action", "red-amber-green": "rag"}.get(word, word)
        try:
            return cls(word)
        except ValueError:
            raise RatingError(
                f"scheme '{text.strip()}' is not strong-good-review-action or rag"
            ) from None


class Rating(enum.Enum):
    STRONG = ("Strong", "★", False)
    GOOD = ("Good", "✓", False)
    REVIEW = ("Review", "●", True)
    ACTION = ("Action", "🚩", True)
    GREEN = ("Green", "🟢", False)
    AMBER = ("Amber", "🟠", True)
    RED = ("Red", "🔴", True)

    def __init__(self, word: str, symbol: str, off_track: bool) -> None:
        self.word = word
        self.symbol = symbol
        self.off_track = off_track

    @property
    def is_worst(self) -> bool:
        """Action and Red go to the escalation owner at once."""
        return self in (Rating.ACTION, Rating.RED)


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far worse than target still counts as Amber: a share of |target| or an amount."""

    amount: Decimal
    relative: bool

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """``5%`` is 5% of target; ``3`` is three of the measure's own units."""
        raw = text.strip()
        relative = raw.endswith("%")
        try:
            amount = Decimal(raw.rstrip("%").strip())
        except InvalidOperation:
            raise RatingError(
                f"tolerance '{raw}' is not a number: write 5% for a share of target or 3 "
                "for an amount in the measure's unit"
            ) from None
        if not amount.is_finite() or amount < 0:
            raise RatingError(f"tolerance '{raw}' must be zero or more")
        return cls(amount / HUNDRED if relative else amount, relative)

    def __str__(self) -> str:
        if self.relative:
            return f"{_plain(self.amount * HUNDRED)}%"
        return _plain(self.amount)


@dataclass(frozen=True, slots=True)
class MeasureRule:
    """What rating a measure needs besides its figures."""

    polarity: Polarity = Polarity.HIGHER
    scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION
    unit: Unit = Unit.NUMBER
    decimals: int = 0
    tolerance: Tolerance | None = None


def measure_rule(
    polarity: Polarity,
    scheme: Scheme | None,
    unit: Unit,
    decimals: int,
    tolerance: str | None,
    default_scheme: Scheme,
) -> MeasureRule:
    """A measure's rule from its settings as stored (its own scheme, else the council's)."""
    return MeasureRule(
        polarity=polarity,
        scheme=scheme or default_scheme,
        unit=unit,
        decimals=decimals,
        tolerance=Tolerance.parse(tolerance) if tolerance else None,
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    """A rating (None when unrated), the variance behind it, and the sentence that explains it."""

    rating: Rating | None
    variance: Decimal | None
    explanation: str

    @property
    def off_track(self) -> bool:
        return self.rating is not None and self.rating.off_track


def variance(actual: Decimal, target: Decimal, polarity: Polarity) -> Decimal:
    """How much better than target the actual is, as a fraction of |target|; positive is better."""
    if target == 0:
        raise RatingError("a target of 0 has no relative variance")
    better_by = actual - target if polarity is Polarity.HIGHER else target - actual
    return better_by / abs(target)


def assess(actual: Decimal | None, target: Decimal | None, rule: MeasureRule) -> Assessment:
    """Rate ``actual`` against ``target`` under ``rule`` and say why in one sentence."""
    if actual is None:
        return Assessment(None, None, "No actual has been reported yet, so there is no rating.")
    shown = format_figure(actual, rule.unit, rule.decimals)
    if target is None:
        return Assessment(None, None, f"{shown} has no target for this period, so it is unrated.")
    against = f"{shown} against a target of {format_figure(target, rule.unit, rule.decimals)}"
    if target == 0 or (rule.tolerance is not None and not rule.tolerance.relative):
        return _assess_absolute(actual, target, rule, against)
    if rule.scheme is Scheme.RAG:
        return _assess_rag(actual, target, rule, against)
    return _assess_strong_good(actual, target, rule, against)


def _assess_strong_good(
    actual: Decimal, target: Decimal, rule: MeasureRule, against: str
) -> Assessment:
    """Derbyshire CC: Strong above 5% better than target (2% if a percentage target exceeds 95)
    or at 100% performance; Good down to 2% worse; Review down to 10% worse; Action beyond."""
    v = variance(actual, target, rule.polarity)
    high_target = rule.unit is Unit.PERCENT and target > HIGH_PERCENT_TARGET
    strong_above = STRONG_ABOVE_HIGH_PERCENT if high_target else STRONG_ABOVE
    perfect = HUNDRED if rule.polarity is Polarity.HIGHER else Decimal(0)
    if rule.unit is Unit.PERCENT and actual == perfect:
        rating = Rating.STRONG
        why = f"{against} is 100% performance"
        return Assessment(rating, v, f"{why}: {rating.word}.")
    if v > strong_above:
        rating = Rating.STRONG
    elif v >= GOOD_DOWN_TO:
        rating = Rating.GOOD
    elif v >= REVIEW_DOWN_TO:
        rating = Rating.REVIEW
    else:
        rating = Rating.ACTION
    thresholds = (strong_above, GOOD_DOWN_TO, REVIEW_DOWN_TO)
    why = f"{against} is {_describe_variance(v, thresholds)}"
    if high_target and rating is Rating.GOOD and v > 0:
        why += " (a target above 95% needs more than 2% better for Strong)"
    return Assessment(rating, v, f"{why}: {rating.word}.")


def _assess_rag(actual: Decimal, target: Decimal, rule: MeasureRule, against: str) -> Assessment:
    """Green on or better than target; Amber worse but within tolerance; Red beyond it."""
    v = variance(actual, target, rule.polarity)
    tolerance = rule.tolerance.amount if rule.tolerance else DEFAULT_RAG_TOLERANCE
    if v >= 0:
        rating = Rating.GREEN
    elif v >= -tolerance:
        rating = Rating.AMBER
    else:
        rating = Rating.RED
    why = f"{against} is {_describe_variance(v, (-tolerance,))}"
    if rating is not Rating.GREEN:
        within = "within" if rating is Rating.AMBER else "beyond"
        why += f", {within} the tolerance of {_plain(tolerance * HUNDRED)}%"
    return Assessment(rating, v, f"{why}: {rating.word}.")


def _assess_absolute(
    actual: Decimal, target: Decimal, rule: MeasureRule, against: str
) -> Assessment:
    """With an absolute tolerance t (required for a target of 0), d = how much better than
    target: RAG is Green d >= 0, Amber -t <= d < 0, Red beyond. Strong / Good / Review /
    Action use the same bands, with Strong for more than t better than target."""
    if rule.tolerance is None or rule.tolerance.relative:
        raise RatingError(
            "a target of 0 cannot be compared as a percentage: give the measure an absolute "
            "tolerance (such as 2) in its own unit"
        )
    t = rule.tolerance.amount
    d = actual - target if rule.polarity is Polarity.HIGHER else target - actual
    perfect = HUNDRED if rule.polarity is Polarity.HIGHER else Decimal(0)
    if rule.scheme is Scheme.RAG:
        rating = Rating.GREEN if d >= 0 else Rating.AMBER if d >= -t else Rating.RED
    elif rule.unit is Unit.PERCENT and actual == perfect:
        return Assessment(Rating.STRONG, None, f"{against} is 100% performance: Strong.")
    else:
        rating = (
            Rating.STRONG
            if d > t
            else Rating.GOOD
            if d >= 0
            else Rating.REVIEW
            if d >= -t
            else Rating.ACTION
        )
    size = format_figure(abs(d), rule.unit, rule.decimals)
    how = "on target" if d == 0 else f"{size} {'better' if d > 0 else 'worse'} than target"
    tolerance = format_figure(t, rule.unit, rule.decimals)
    if d < 0:
        how += f", {'within' if d >= -t else 'beyond'} the tolerance of {tolerance}"
    elif rating is Rating.STRONG:
        how += f", more than the tolerance of {tolerance}"
    relative = variance(actual, target, rule.polarity) if target != 0 else None
    return Assessment(rating, relative, f"{against} is {how}: {rating.word}.")


def _describe_variance(v: Decimal, thresholds: tuple[Decimal, ...]) -> str:
    if v == 0:
        return "on target"
    word = "better" if v > 0 else "worse"
    return f"{_percent(abs(v), [abs(t) for t in thresholds])} {word} than target"


def _percent(fraction: Decimal, thresholds: list[Decimal]) -> str:
    """A share as a percentage to one decimal place, or more where one place would show a
    value that sits just off a boundary as the boundary itself ("2.0% worse" for 2.04%)."""
    for places in range(1, 5):
        shown = (fraction * HUNDRED).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        if not any(shown == t * HUNDRED and fraction != t for t in thresholds):
            return f"{shown:.{places}f}%"
    return f"{fraction * HUNDRED:f}%"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


class KeyActionStatus(enum.StrEnum):
    """The progress an owner reports for a key action, project or milestone."""

    COMPLETE = "complete"
    ON_TRACK = "on track"
    SOME_RISK = "some risk"
    UNLIKELY = "unlikely"

    @property
    def description(self) -> str:
        return _STATUS_DESCRIPTIONS[self]

    @classmethod
    def parse(cls, text: str) -> KeyActionStatus:
        word = re.sub(r"[\s_-]+", " ", text.strip().lower())
        word = {"unlikely to achieve": "unlikely", "completed": "complete", "done": "complete"}.get(
            word, word
        )
        try:
            return cls(word)
        except ValueError:
            raise RatingError(
                f"'{text.strip()}' is not a key action status: use complete, on track, "
                "some risk or unlikely"
            ) from None


EXCEEDING = "exceeding expectations"
_EXCEEDING = re.compile(
    r"^(?P<status>.*?)[\s,;:(-]*(?:with\s+)?(?:outcomes\s+)?exceeding(?:\s+expectations)?\)?$"
)


def progress_word(status: str | None, exceeding: bool) -> str | None:
    """A key action's progress as the spreadsheets and cards write it: "complete", or
    "complete, exceeding expectations" (Derbyshire CC's Strong)."""
    if not status:
        return status
    return f"{status}, {EXCEEDING}" if exceeding else status


def parse_progress(text: str) -> tuple[KeyActionStatus, bool]:
    """A key action's progress as typed: its status, and whether its outcomes exceed
    expectations ("complete, exceeding expectations", "on track - outcomes exceeding
    expectations"); only complete or on track can exceed them."""
    found = _EXCEEDING.match(re.sub(r"\s+", " ", text.strip().lower()))
    if found is None:
        return KeyActionStatus.parse(text), False
    status = KeyActionStatus.parse(found.group("status"))
    if status not in (KeyActionStatus.COMPLETE, KeyActionStatus.ON_TRACK):
        raise RatingError(
            f"'{text.strip()}': only complete or on track can have outcomes exceeding expectations"
        )
    return status, True


# The choices a key action's card offers, in order: (value, title).
PROGRESS_CHOICES = (
    (progress_word("complete", True), "Complete, outcomes exceeding expectations"),
    ("complete", "Complete, outcomes in line with expectations"),
    (progress_word("on track", True), "On track, exceeding expectations"),
    ("on track", "On track, in line with expectations"),
    ("some risk", "Some risk to timetable or outcomes"),
    ("unlikely", "Unlikely to achieve timetable or outcomes"),
)


_STATUS_DESCRIPTIONS = {
    KeyActionStatus.COMPLETE: "complete",
    KeyActionStatus.ON_TRACK: "on track",
    KeyActionStatus.SOME_RISK: "some risk to timetable or outcomes",
    KeyActionStatus.UNLIKELY: "unlikely to achieve timetable or outcomes",
}


class Dated(Protocol):
    """What the rule for a milestone past its date reads of a milestone."""

    @property
    def title(self) -> str: ...

    @property
    def expected(self) -> date: ...

    @property
    def status(self) -> str | None: ...

    @property
    def completed_on(self) -> date | None: ...


def done_by(milestone: Dated, day: date) -> bool:
    """A milestone is done by a day when it was completed on or before it (one marked
    complete without a date counts as done)."""
    if milestone.completed_on is not None:
        return milestone.completed_on <= day
    return milestone.status == KeyActionStatus.COMPLETE.value


def first_past_due(milestones: Iterable[Dated], day: date) -> Dated | None:
    """The earliest milestone past its date (its revised date, if it has one) and not done by
    ``day``: seed 002's "project milestones significantly off-track"."""
    late = [m for m in milestones if m.expected < day and not done_by(m, day)]
    return min(late, key=lambda m: (m.expected, m.title)) if late else None


def assess_key_action(
    status: KeyActionStatus | None,
    scheme: Scheme,
    *,
    exceeding_expectations: bool = False,
    due: date | None = None,
    today: date | None = None,
    milestone: Dated | None = None,
) -> Assessment:
    """Derbyshire CC: Strong when complete or on track with outcomes exceeding expectations;
    Good when on track as expected; Review at some risk; Action when unlikely to achieve.
    RAG: Green, Amber, Red likewise. A key action past its due date, or with a ``milestone``
    past its date, and not complete counts as unlikely."""
    if status is None:
        return Assessment(None, None, "No progress has been reported yet, so there is no rating.")
    overdue = (
        due is not None
        and today is not None
        and today > due
        and status is not KeyActionStatus.COMPLETE
    )
    late = milestone is not None and status is not KeyActionStatus.COMPLETE and not overdue
    if overdue or late:
        status = KeyActionStatus.UNLIKELY
    if scheme is Scheme.RAG:
        rating = {
            KeyActionStatus.COMPLETE: Rating.GREEN,
            KeyActionStatus.ON_TRACK: Rating.GREEN,
            KeyActionStatus.SOME_RISK: Rating.AMBER,
            KeyActionStatus.UNLIKELY: Rating.RED,
        }[status]
    else:
        rating = {
            KeyActionStatus.COMPLETE: Rating.GOOD,
            KeyActionStatus.ON_TRACK: Rating.GOOD,
            KeyActionStatus.SOME_RISK: Rating.REVIEW,
            KeyActionStatus.UNLIKELY: Rating.ACTION,
        }[status]
        if exceeding_expectations and status in (
            KeyActionStatus.COMPLETE,
            KeyActionStatus.ON_TRACK,
        ):
            rating = Rating.STRONG
    if overdue:
        why = f"Past its due date of {due:%d %B %Y} and not complete, so it counts as unlikely"
    elif late and milestone is not None:
        why = (
            f"Its milestone '{milestone.title}' was due on {milestone.expected:%d %B %Y} and is "
            "not complete, so it counts as unlikely"
        )
    else:
        why = f"Reported as {status.description}"
        if rating is Rating.STRONG:
            why += " with outcomes exceeding expectations"
    return Assessment(rating, None, f"{why}: {rating.word}.")


class Direction(enum.StrEnum):
    IMPROVING = "improving"
    DECLINING = "declining"
    UNCHANGED = "unchanged"

    @property
    def arrow(self) -> str:
        return {"improving": "↑", "declining": "↓", "unchanged": "→"}[self.value]


def direction(
    current: Decimal | None, earlier: Decimal | None, polarity: Polarity
) -> Direction | None:
    """Direction of travel from ``earlier`` to ``current``, taking polarity into account;
    None when either figure is missing."""
    if current is None or earlier is None:
        return None
    if current == earlier:
        return Direction.UNCHANGED
    better = current > earlier if polarity is Polarity.HIGHER else current < earlier
    return Direction.IMPROVING if better else Direction.DECLINING
