"""The council's own choices that the use cases apply: its default rating scheme, its
reminder cadence, what an off-track return must answer (every number in DESIGN.md "Cycle and rules" is configurable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.questions import ACTION, DEFAULT_REQUIRED
from domain.ratings import Rating, Scheme
from domain.reminders import Cadence


@dataclass(frozen=True)
class Policy:
    scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION
    cadence: Cadence = field(default_factory=Cadence)
    # Periods that ended before this day are never asked for (None: from each measure's
    # first target or return), for a council whose history has gaps it will not fill.
    open_from: date | None = None
    # The ratings that go to the escalation owner at once (Review and Amber may be added).
    escalate: frozenset[Rating] = frozenset({Rating.ACTION, Rating.RED})
    # Working days an escalation may wait unacknowledged before its one reminder.
    acknowledge_within: int = 3
    # Periods off track running before a measure is put to the Leadership Team for a deep dive.
    deep_dive_after: int = 2
    # What an off-track figure must have besides its commentary: review questions answered
    # (domain/questions.py) and "action", the action with its date.
    required: frozenset[str] = DEFAULT_REQUIRED

    @property
    def action_required(self) -> bool:
        return ACTION in self.required

    def escalates(self, rating: Rating | None) -> bool:
        return rating is not None and rating in self.escalate
