"""The Leadership Team's weekly summary (issue 14): exceptions, not noise. What it says is
worked out here from the database, as it stands when it goes; bot/delivery draws the card
and its chart, scheduler/jobs.py queues it.

The figures of a summary:
- ``returns``: for each service, the returns expected for the open periods (each active
  measure's latest ended period, and any older one still open) against those received,
  and the overdue ones named (measure and service, never the owner).
- ``ratings``: each active measure's latest rated period (its position now), counted by
  rating; the same a week ago (as the returns stood at ``since``) and a period ago (each
  measure's rating for the period before its latest).
- movements since the last summary: new off-track measures and recoveries; escalations
  raised and whether acknowledged; deep-dive candidates flagged; action-plan items past
  their date; restatements; Strong (or Green) performers; people PerfBot cannot reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from domain.ratings import Rating, Scheme


@dataclass(frozen=True)
class MeasureLine:
    """A measure named on the summary, with its figure and rating for ``period``."""

    code: str
    title: str
    service: str
    period: str
    shown: str  # the figure (or status) as the council prints it; "—" if none
    rating: Rating | None
    was: Rating | None = None  # its rating before (a week ago, or the period before)
    note: str = ""  # e.g. "due Friday 20 November, 3 working days late"


@dataclass(frozen=True)
class ServiceReturns:
    service: str
    expected: int
    received: int
    overdue: tuple[MeasureLine, ...] = ()


@dataclass(frozen=True)
class RatingCount:
    rating: Rating
    now: int
    last_week: int
    last_period: int


@dataclass(frozen=True)
class EscalationLine:
    code: str
    title: str
    service: str
    period: str
    raised_at: datetime
    acknowledged: bool
    acknowledged_by: str | None = None  # a name


@dataclass(frozen=True)
class ActionLine:
    code: str
    service: str
    description: str
    due: date
    owner: str | None = None  # a name, for the personal copy only


@dataclass(frozen=True)
class RestatementLine:
    code: str
    title: str
    service: str
    period: str
    was: str | None
    now: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Summary:
    """One weekly summary, for ``week_of`` (the day it is for), covering what changed since
    ``since`` (the last summary that went, or None for the first)."""

    week_of: date
    since: datetime | None
    scheme: Scheme
    periods: tuple[str, ...]  # the open periods it covers, newest first
    returns: tuple[ServiceReturns, ...]
    ratings: tuple[RatingCount, ...]  # in the scheme's order, best first
    by_service: dict[str, dict[Rating, int]]  # each service's measures now, by rating
    new_off_track: tuple[MeasureLine, ...] = ()
    recoveries: tuple[MeasureLine, ...] = ()
    escalations: tuple[EscalationLine, ...] = ()
    deep_dives: tuple[MeasureLine, ...] = ()
    actions_late: tuple[ActionLine, ...] = ()
    restatements: tuple[RestatementLine, ...] = ()
    strong: tuple[MeasureLine, ...] = ()
    unreachable: dict[str, int] = field(default_factory=dict)  # by service: how many people

    @property
    def expected(self) -> int:
        return sum(s.expected for s in self.returns)

    @property
    def received(self) -> int:
        return sum(s.received for s in self.returns)

    @property
    def quiet(self) -> bool:
        """Nothing to report beyond the counts: said in one line."""
        return not (
            any(s.overdue for s in self.returns)
            or self.new_off_track
            or self.recoveries
            or self.escalations
            or self.deep_dives
            or self.actions_late
            or self.restatements
            or self.unreachable
        )
