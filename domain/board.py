"""The council's formal reports (issue 15), as figures: the quarterly performance board, the
exception report and the annual report. Worked out here from the database, for one period
and what one person may see; reports/ draws them as HTML, xlsx and CSV, and the bot serves
the HTML to whoever holds a signed link (bot/web/).

- The **board** (a quarter): every active measure and key action, by Council Plan priority
  and service, each at its own period that ends the quarter (a monthly measure at the
  quarter's last month, a half-yearly one at the half-year ended by then): target, actual,
  rating and its sentence, direction of travel against the previous period and the same
  period last year, the last eight periods, benchmarks, the owner's commentary, the action
  plan, the sign-off state and any restatement. A first page of headline counts.
- The **exception report** (a quarter): only the off-track measures (Review or Action, Amber
  or Red) with the owner's why / impact / action / by-when, the escalation owner's
  decisions and the action plan; and the returns that are overdue.
- The **annual report** (a financial year): each measure's outturn (its last period of the
  year) against that period's target and against the year before.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import Person
from domain.periods import Frequency, Period, PeriodError
from domain.policy import Policy
from domain.ratings import Direction, Rating, Scheme

TREND_PERIODS = 8  # the small trend line: the period reported and the seven before it


class ReportKind(enum.StrEnum):
    BOARD = "board"
    EXCEPTIONS = "exceptions"
    ANNUAL = "annual"

    @property
    def heading(self) -> str:
        return {
            ReportKind.BOARD: "Performance board",
            ReportKind.EXCEPTIONS: "Exception report",
            ReportKind.ANNUAL: "Annual performance report",
        }[self]

    @classmethod
    def parse(cls, text: str) -> ReportKind:
        word = text.strip().lower()
        word = {"exception": "exceptions", "year": "annual", "annual-report": "annual"}.get(
            word, word
        )
        try:
            return cls(word)
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise ReportError(
                f"'{text.strip()}' is not a report: choose one of {choices}"
            ) from None


class ReportError(ValueError):
    """A report that cannot be made as asked; the message says what to write instead."""


def report_period(kind: ReportKind, text: str) -> Period:
    """The period a report is for: a quarter for the board and the exception report, a
    financial year for the annual report. A wrong one is refused, saying what to write."""
    try:
        period = Period.parse(text)
    except PeriodError as error:
        raise ReportError(str(error)) from None
    wanted = Frequency.ANNUAL if kind is ReportKind.ANNUAL else Frequency.QUARTERLY
    if period.frequency is not wanted:
        example = (
            "2025/26"
            if wanted is Frequency.ANNUAL
            else f"{period.year}/{(period.year + 1) % 100:02d} Q1"
        )
        raise ReportError(
            f"the {kind.heading.lower()} is for a "
            f"{'financial year' if wanted is Frequency.ANNUAL else 'quarter'}, not "
            f"'{period.label}': write for example {example}"
        )
    return period


def latest_period(kind: ReportKind, today: date) -> Period:
    """The period a report is for when none is asked for: the last quarter (or, for the
    annual report, the last financial year) that has ended by ``today``."""
    frequency = Frequency.ANNUAL if kind is ReportKind.ANNUAL else Frequency.QUARTERLY
    return Period.containing(today, frequency).previous()


def period_for(measure_frequency: Frequency, report: Period) -> Period | None:
    """A measure's own period that a report for ``report`` shows: the last of its frequency
    that ends on or before the report's end and within its financial year (None if the
    year has none yet, e.g. an annual measure on a Q1 board)."""
    own = Period.containing(report.end, measure_frequency)
    if own.end > report.end:
        own = own.previous()
    return own if own.year == report.year else None


# ---- who may see what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one person may see of a report: everything (the Leadership Team and the
    performance team), the services they are escalation owner in, or their own measures."""

    everything: bool = False
    services: frozenset[str] = frozenset()  # service names
    owner_id: int | None = None  # measures this person owns or is a delegate for
    words: str = ""  # for the page: "all services", "Revenues and Benefits", "your measures"


# ---- what the reports show ------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    period: str
    value: Decimal | None  # None: no figure (or a key action)
    target: Decimal | None
    rating: Rating | None
    shown: str  # the figure as the council prints it, "—" if none


@dataclass(frozen=True)
class Travel:
    """Direction of travel against one earlier period."""

    against: str  # "the previous period" or "the same period last year"
    period: str  # its label
    shown: str  # its figure as printed, "—" if none
    direction: Direction | None  # None: no figure to compare


@dataclass(frozen=True)
class PlanEntry:
    """An action-plan item as a report lists it."""

    description: str
    owner: str | None  # a name
    due: date | None
    status: str  # "open", "late", "done" or "dropped" (late: open and past its date)
    progress: str | None  # the owner's latest word on it
    period: str  # the period whose return (or escalation) it came from


@dataclass(frozen=True)
class Benchmark:
    name: str  # "England average", "Statistical neighbours"
    value: Decimal
    shown: str


@dataclass(frozen=True)
class BoardRow:
    """One measure or key action on the board, at its own ``period``."""

    code: str
    title: str
    is_key_action: bool
    service: str
    priority: str  # its Council Plan priority; "No priority set" if none
    owner: str  # a name
    period: str  # its own period, e.g. "2025/26 M3" on the Q1 board
    unit: str  # the Unit's word, e.g. "percent"
    decimals: int
    higher_is_better: bool
    target: Decimal | None  # None: no target (data only, or none set)
    target_shown: str  # "90.0%", or "none"
    actual: Decimal | None  # None: no figure (a key action reports a status)
    actual_shown: str  # "88.2%", "On track", "not available", or "—" (no return)
    rating: Rating | None  # None: not rated (no return, no target, data only)
    rating_sentence: str  # the rating's explanation, or why it is not rated
    variance: Decimal | None  # as a fraction of target (0.05 is 5% better), None if none
    previous: Travel
    last_year: Travel
    trend: tuple[TrendPoint, ...]  # oldest first; up to TREND_PERIODS
    benchmarks: tuple[Benchmark, ...]
    commentary: str | None
    remedial_action: str | None  # the owner's "action" answer (off-track returns)
    action_due: date | None  # the owner's "by when" answer
    not_available_reason: str | None
    plan: tuple[PlanEntry, ...]  # open and late items first, then done and dropped
    approval: str  # "approved", "submitted", "returned", "not returned", "overdue"
    approval_words: str  # "Approved by Mark Taylor on 3 August 2025", "Awaiting sign-off", ...
    restated: bool
    restated_from: str | None  # the figure first signed off (or published), as printed
    correction_reason: str | None
    escalation: tuple[str, ...] = ()  # the escalation owner's decisions, one sentence each
    due: date | None = None  # when the return was (or is) due
    overdue: bool = False

    @property
    def off_track(self) -> bool:
        return self.rating is not None and self.rating.off_track

    @property
    def rating_text(self) -> str:
        """The rating as a word with its symbol, or "Not rated": never colour alone."""
        return f"{self.rating.symbol} {self.rating.word}" if self.rating else "Not rated"


@dataclass(frozen=True)
class OverdueRow:
    """A return still awaited after its deadline (the exception report lists them)."""

    code: str
    title: str
    service: str
    priority: str
    owner: str
    period: str
    due: date
    working_days_late: int
    escalated: bool  # gone to the escalation owner as overdue
    acknowledged: bool


@dataclass(frozen=True)
class AnnualRow:
    """A measure's outturn for the year: its last period of the year."""

    code: str
    title: str
    is_key_action: bool
    service: str
    priority: str
    owner: str
    period: str  # the period the outturn is, e.g. "2025/26 M12" or "2025/26"
    unit: str
    decimals: int
    higher_is_better: bool
    target: Decimal | None
    target_shown: str
    outturn: Decimal | None
    outturn_shown: str
    rating: Rating | None
    rating_sentence: str
    last_year_period: str
    last_year: Decimal | None
    last_year_shown: str
    last_year_rating: Rating | None
    direction: Direction | None  # against last year's outturn
    commentary: str | None
    trend: tuple[TrendPoint, ...] = ()  # the year's periods, oldest first
    restated: bool = False
    restated_from: str | None = None
    approval: str = "not returned"
    approval_words: str = ""

    @property
    def rating_text(self) -> str:
        return f"{self.rating.symbol} {self.rating.word}" if self.rating else "Not rated"


@dataclass(frozen=True)
class Headline:
    """The first page's counts: by rating, for the whole report and each service."""

    ratings: tuple[Rating, ...]  # the scheme's ratings, best first
    total: dict[Rating | None, int]  # None: not rated
    by_service: dict[str, dict[Rating | None, int]]

    @property
    def measures(self) -> int:
        return sum(self.total.values())


@dataclass(frozen=True)
class Report:
    """One report, as made at ``made_at`` for ``scope``; ``rows`` in the order they are
    printed (priority, then service, then code)."""

    kind: ReportKind
    period: Period  # the quarter, or the financial year
    made_at: datetime
    scheme: Scheme
    scope: Scope
    sign_off: str  # "Signed off by ... on ...", or "Not yet signed off: 3 returns await ..."
    headline: Headline
    rows: tuple[BoardRow, ...] = ()  # board and exceptions
    overdue: tuple[OverdueRow, ...] = ()  # exceptions (and the board's count)
    annual: tuple[AnnualRow, ...] = ()  # annual
    service: str | None = None  # the --service filter, as asked
    priority: str | None = None  # the --priority filter, as asked
    notes: tuple[str, ...] = field(default=())  # e.g. "No measure matches --service X"

    @property
    def title(self) -> str:
        return f"{self.kind.heading}: {self.period.label}"

    def sections(self) -> list[tuple[str, list[tuple[str, list[BoardRow]]]]]:
        """The board's (or exception report's) rows by priority, then service."""
        return grouped(self.rows)

    def annual_sections(self) -> list[tuple[str, list[tuple[str, list[AnnualRow]]]]]:
        """The annual report's rows by priority, then service."""
        return grouped(self.annual)


class _Grouped(Protocol):
    @property
    def priority(self) -> str: ...

    @property
    def service(self) -> str: ...


R = TypeVar("R", bound=_Grouped)


def grouped(rows: Sequence[R]) -> list[tuple[str, list[tuple[str, list[R]]]]]:
    """Rows (already in printing order) by priority, then by service within it."""
    out: list[tuple[str, list[tuple[str, list[R]]]]] = []
    for row in rows:
        if not out or out[-1][0] != row.priority:
            out.append((row.priority, []))
        services = out[-1][1]
        if not services or services[-1][0] != row.service:
            services.append((row.service, []))
        services[-1][1].append(row)
    return out


# ---- building them --------------------------------------------------------------------------


async def scope_of(session: AsyncSession, person: Person) -> Scope:
    """What ``person`` may see of a report: everything for the Leadership Team and the
    performance team; an escalation owner the services of the measures they oversee (and
    their own service); anyone else the measures they own or send returns for."""
    raise NotImplementedError  # lands with the builder


async def build(
    session: AsyncSession,
    kind: ReportKind,
    period: Period,
    now: datetime,
    policy: Policy,
    scope: Scope,
    *,
    service: str | None = None,
    priority: str | None = None,
) -> Report:
    """The report of ``kind`` for ``period`` as the database stands ``now``, of what
    ``scope`` may see, optionally for one service and one Council Plan priority (names as
    typed, any case; an unknown one is refused with a ReportError naming the choices)."""
    raise NotImplementedError  # lands with the builder
