"""The council's own choices that the use cases apply: its default rating scheme and its
reminder cadence (every number in DESIGN.md "Cycle and rules" is configurable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.ratings import Scheme
from domain.reminders import Cadence


@dataclass(frozen=True)
class Policy:
    scheme: Scheme = Scheme.STRONG_GOOD_REVIEW_ACTION
    cadence: Cadence = field(default_factory=Cadence)
    # Periods that ended before this day are never asked for (None: from each measure's
    # first target or return), for a council whose history has gaps it will not fill.
    open_from: date | None = None
