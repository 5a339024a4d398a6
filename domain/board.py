"""The council's formal reports (issue 15), as figures: the quarterly performance board, the
exception report and the annual report. Worked out here from the database, for one period
and what one person may see; reports/ draws them as HTML, xlsx and CSV, and the bot serves
the HTML to whoever holds a signed link (bot/web/).

- The **board** (a quarter): every active measure and key action, by Council Plan priority
  and service (a measure with several priorities under each of them), with its Cabinet
  portfolio, each at its own period that ends the quarter (a monthly measure at the
  quarter's last month, a half-yearly one at the half-year ended by then): target, actual,
  rating and its sentence, direction of travel against the previous period and the same
  period last year (a cumulative measure's against the same period last year only), the
  last eight periods, benchmarks and where the figure stands against them, the owner's
  commentary, the action
  plan, the sign-off state and any restatement. A first page of headline counts.
- The **exception report** (a quarter): only the off-track measures (Review or Action, Amber
  or Red) with the owner's why / impact / action / by-when, the escalation owner's
  decisions and the action plan; and the returns that are overdue.
- The **annual report** (a financial year): each measure's outturn (its last period of the
  year) against that period's target and against the year before.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import benchmarks
from domain.benchmarks import Comparator, applying, standing
from domain.dates import LONDON, long_day
from domain.escalations import decision_lines
from domain.model import (
    ActionPlan,
    ActionPlanStatus,
    Delegate,
    Escalation,
    Measure,
    MeasureKind,
    MeasurePriority,
    Milestone,
    PeriodLock,
    Person,
    Return,
    ReturnAnswer,
    ReturnState,
    Role,
    Service,
    Target,
)
from domain.numbers import Unit, format_figure
from domain.periods import Frequency, Period, PeriodError, periods_back, periods_between
from domain.policy import Policy
from domain.profiles import Comparison, comparisons
from domain.questions import Question, answered
from domain.ratings import (
    Assessment,
    Direction,
    MeasureRule,
    Polarity,
    Rating,
    Scheme,
    direction,
    measure_rule,
)
from domain.reporting import load_calendar, milestones_of, rate
from domain.views import (
    OVERDUE,
    in_words,
    locked_periods,
    open_periods_of,
    shown_value,
    signed_off_by,
    state_of,
)

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


def period_for(measure_frequency: Frequency, report: Period) -> Period:
    """A measure's own period that the board for ``report`` shows: the last of its
    frequency that has ended by the report's end (a monthly measure on the Q1 board is at
    M3; an annual one, before the year ends, at the year before)."""
    own = Period.containing(report.end, measure_frequency)
    return own if own.end <= report.end else own.previous()


def outturn_period(measure_frequency: Frequency, year: Period) -> Period:
    """A measure's outturn for a financial year: its last period of that year."""
    return Period.of(year.year, measure_frequency, measure_frequency.periods_per_year)


# ---- who may see what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one person may see of a report: everything (the Leadership Team and the
    performance team), the services they are escalation owner in, or their own measures."""

    everything: bool = False
    services: frozenset[str] = frozenset()  # service names
    owner_id: int | None = None  # measures this person owns or is a delegate for
    escalation_owner_id: int | None = None  # measures this person is escalation owner of
    words: str = ""  # for the page: "all services", "Revenues and Benefits", "your measures"
    nothing: bool = False  # this person may see no measure at all

    def holds(self, service: str, owner_id: int, escalation_owner_id: int | None) -> bool:
        """Whether a measure (its service name, owner and escalation owner) is in scope;
        delegates are added to ``owner_id``'s measures by the builder."""
        return (
            self.everything
            or service in self.services
            or (self.owner_id is not None and owner_id == self.owner_id)
            or (
                self.escalation_owner_id is not None
                and escalation_owner_id == self.escalation_owner_id
            )
        )


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

    against: str  # "the previous period", "the same period last year", "April last year"
    period: str  # its label
    shown: str  # its figure as printed, "—" if none
    direction: Direction | None  # None: no figure to compare (or not compared: ``note``)
    value: Decimal | None = None  # its figure as a number (None: none, or a key action)
    # Why it is not compared at all (a cumulative measure and the period before); "" if it is.
    note: str = ""


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
    name: str  # the comparator group: "England", "CIPFA nearest neighbours"
    value: Decimal
    shown: str
    period: str = ""  # the period of the group's figure set beside this one ("" any)
    source: str = ""  # "LG Inform", "CIPFA"


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
    benchmarks: tuple[Benchmark, ...]  # those set beside the figure's period
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
    portfolio: str = "No portfolio set"  # its Cabinet portfolio (NO_PORTFOLIO if none)
    priorities: tuple[str, ...] = ()  # all its priorities; ``priority`` is the one shown under
    # Where the figure stands against ``benchmarks`` (or, with none, what they are).
    benchmark_words: str = ""
    # The owner's answers to the review questions (domain/questions.py), in the card's
    # order: (question, answer), only those answered.
    answers: tuple[tuple[Question, str], ...] = ()

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
    portfolio: str = "No portfolio set"
    priorities: tuple[str, ...] = ()


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
    portfolio: str = "No portfolio set"
    priorities: tuple[str, ...] = ()

    @property
    def rating_text(self) -> str:
        return f"{self.rating.symbol} {self.rating.word}" if self.rating else "Not rated"


@dataclass(frozen=True)
class Headline:
    """The first page's counts: by rating, for the whole report and each service."""

    ratings: tuple[Rating, ...]  # the scheme's ratings, best first
    total: dict[Rating | None, int]  # None: not rated
    by_service: dict[str, dict[Rating | None, int]]
    # By Cabinet portfolio (each measure once); empty when no measure shown has one.
    by_portfolio: dict[str, dict[Rating | None, int]] = field(default_factory=dict)

    @property
    def measures(self) -> int:
        return sum(self.total.values())


@dataclass(frozen=True)
class Report:
    """One report, as made at ``made_at`` for ``scope``; ``rows`` in the order they are
    printed (priority, then service, then code; a measure with several priorities once under
    each, the headline counting it once)."""

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
    portfolio: str | None = None  # the --portfolio filter, as asked

    @property
    def title(self) -> str:
        return f"{self.kind.heading}: {self.period.label}"

    @property
    def covers(self) -> str:
        """What it shows, in words: the service (portfolio, priority) asked for, else the
        scope."""
        asked = [
            self.service or "",
            f"portfolio {self.portfolio}" if self.portfolio else "",
            f"priority {self.priority}" if self.priority else "",
        ]
        chosen = "; ".join(a for a in asked if a)
        return chosen or self.scope.words or "what you may see"

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

NO_PRIORITY = "No priority set"
NO_PORTFOLIO = "No portfolio set"


async def scope_of(session: AsyncSession, person: Person) -> Scope:
    """What ``person`` may see of a report: everything for the Leadership Team and the
    performance team; an escalation owner the measures they oversee and their own
    service's (as ``status`` shows them); anyone else the measures they own or send
    returns for."""
    if person.has_role(Role.LEADERSHIP) or person.has_role(Role.ADMIN):
        return Scope(everything=True, words="all services")
    delegated = select(Delegate.measure_id).where(Delegate.person_id == person.id)
    own = (
        await session.scalar(
            select(func.count(Measure.id)).where(
                Measure.active, or_(Measure.owner_id == person.id, Measure.id.in_(delegated))
            )
        )
        or 0
    )
    if person.has_role(Role.ESCALATION_OWNER):
        service = await session.get(Service, person.service_id) if person.service_id else None
        overseen = (
            await session.scalar(
                select(func.count(Measure.id)).where(
                    Measure.active, Measure.escalation_owner_id == person.id
                )
            )
            or 0
        )
        parts = ["the measures you oversee"] if overseen else []
        if service is not None:
            parts.append(f"{service.name}")
        if own:
            parts.append("your own measures")
        return Scope(
            services=frozenset({service.name} if service else ()),
            owner_id=person.id,
            escalation_owner_id=person.id,
            words=in_words(parts) if parts else "nothing yet",
            nothing=not (parts),
        )
    return Scope(owner_id=person.id, words="your measures", nothing=own == 0)


@dataclass(frozen=True, slots=True)
class _Measure:
    """A measure's columns as the reports read them (thousands of measures: no ORM objects);
    rated and shown as a Measure is."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "id", "code", "title", "kind", "service_id", "portfolio", "owner_id",
        "escalation_owner_id", "unit", "polarity", "frequency", "decimals", "scheme",
        "tolerance", "data_only", "deadline_working_days", "due_date", "cumulative",
    )  # fmt: skip

    id: int
    code: str
    title: str
    kind: MeasureKind
    service_id: int
    portfolio: str | None
    owner_id: int
    escalation_owner_id: int | None
    unit: Unit
    polarity: Polarity
    frequency: Frequency
    decimals: int
    scheme: Scheme | None
    tolerance: str | None
    data_only: bool
    deadline_working_days: int
    due_date: date | None
    cumulative: bool
    priorities: tuple[str, ...] = ()  # from measure_priorities, in the council's order

    @property
    def is_key_action(self) -> bool:
        return self.kind is MeasureKind.KEY_ACTION

    @property
    def shown_under(self) -> tuple[str, ...]:
        """The priorities a report shows it under: each of its own, or NO_PRIORITY."""
        return self.priorities or (NO_PRIORITY,)

    def rule(self, default_scheme: Scheme) -> MeasureRule:
        return measure_rule(
            self.polarity, self.scheme, self.unit, self.decimals, self.tolerance, default_scheme
        )


@dataclass(frozen=True, slots=True)
class _Newest:
    """The newest version of a return of the period a report shows, as its columns."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "measure_id", "period", "version", "value", "status", "exceeding_expectations",
        "commentary", "remedial_action", "action_due", "not_available_reason", "state",
        "reviewed_by_id", "reviewed_at", "review_comment", "restated", "restated_from",
        "correction_reason", "id",
    )  # fmt: skip

    measure_id: int
    period: str
    version: int
    value: Decimal | None
    status: str | None
    exceeding_expectations: bool
    commentary: str | None
    remedial_action: str | None
    action_due: date | None
    not_available_reason: str | None
    state: ReturnState
    reviewed_by_id: int | None
    reviewed_at: datetime | None
    review_comment: str | None
    restated: bool
    restated_from: str | None
    correction_reason: str | None
    id: int


@dataclass(frozen=True, slots=True)
class _Figure:
    """An older version's figure, as read for trends and direction of travel."""

    version: int
    value: Decimal | None
    status: str | None
    exceeding_expectations: bool


def _choose(asked: str | None, choices: set[str], what: str, plural: str, flag: str) -> str | None:
    """The filter's own spelling of ``asked`` (any case), or a ReportError naming them."""
    if asked is None or not asked.strip():
        return None
    by_word = {c.casefold(): c for c in choices}
    found = by_word.get(asked.strip().casefold())
    if found is None:
        listed = "; ".join(sorted(choices)) or "none"
        raise ReportError(
            f"{flag}: no {what} is called '{asked.strip()}'; the {plural} are: {listed}"
        )
    return found


class _Reader:
    """What a report reads of the database, once for all its measures."""

    def __init__(self, session: AsyncSession, policy: Policy) -> None:
        self.session = session
        self.policy = policy
        self.names: dict[int, str] = {}
        self.figures: dict[tuple[int, str], _Figure] = {}
        self.returns: dict[tuple[int, str], _Newest] = {}
        self.answers: dict[int, dict[str, str]] = {}  # by return (version) id
        self.targets: dict[tuple[int, str], Decimal] = {}
        self.benchmarks: dict[int, list[Comparator]] = {}
        self.service: str | None = None
        self.priority: str | None = None
        self.portfolio: str | None = None
        self.milestones: dict[int, list[Milestone]] = {}  # key actions', by measure id

    async def measures(
        self, scope: Scope, service: str | None, priority: str | None, portfolio: str | None
    ) -> tuple[list[_Measure], dict[int, str]]:
        session = self.session
        self.names = dict((await session.execute(select(Person.id, Person.name))).all())
        services = dict((await session.execute(select(Service.id, Service.name))).all())
        priorities: dict[int, list[str]] = {}
        for measure_id, name in await session.execute(
            select(MeasurePriority.measure_id, MeasurePriority.name).order_by(
                MeasurePriority.measure_id, MeasurePriority.position
            )
        ):
            priorities.setdefault(measure_id, []).append(name)
        measures = [
            replace(m, priorities=tuple(priorities[m.id])) if m.id in priorities else m
            for m in (
                _Measure(*row)
                for row in await session.execute(
                    select(*(getattr(Measure, name) for name in _Measure.COLUMNS)).where(
                        Measure.active
                    )
                )
            )
        ]
        delegated: set[int] = set()
        if scope.owner_id is not None:
            delegated = set(
                await session.scalars(
                    select(Delegate.measure_id).where(Delegate.person_id == scope.owner_id)
                )
            )
        seen = [
            m
            for m in measures
            if m.id in delegated
            or scope.holds(services.get(m.service_id, ""), m.owner_id, m.escalation_owner_id)
        ]
        wanted_service = _choose(
            service, {services[m.service_id] for m in seen}, "service", "services", "--service"
        )
        wanted_priority = _choose(
            priority,
            {p for m in seen for p in m.shown_under},
            "priority",
            "priorities",
            "--priority",
        )
        wanted_portfolio = _choose(
            portfolio,
            {m.portfolio or NO_PORTFOLIO for m in seen},
            "portfolio",
            "portfolios",
            "--portfolio",
        )
        seen = [
            m
            for m in seen
            if (wanted_service is None or services[m.service_id] == wanted_service)
            and (wanted_priority is None or wanted_priority in m.shown_under)
            and (wanted_portfolio is None or (m.portfolio or NO_PORTFOLIO) == wanted_portfolio)
        ]
        # As the council spells them.
        self.service, self.priority, self.portfolio = (
            wanted_service,
            wanted_priority,
            wanted_portfolio,
        )
        return seen, services

    async def read(self, own: set[str], others: set[str], ids: set[int]) -> None:
        """The newest return of each ``own`` period in full; of the ``others`` only their
        figures; the targets of both."""
        session = self.session
        for row in await session.execute(
            select(*(getattr(Return, name) for name in _Newest.COLUMNS))
            .where(Return.period.in_(own))
            .order_by(Return.version)
        ):
            if row[0] in ids:
                self.returns[(row[0], row[1])] = _Newest(*row)
        newest = {ret.id for ret in self.returns.values()}
        for return_id, question, answer in await session.execute(
            select(ReturnAnswer.return_id, ReturnAnswer.question, ReturnAnswer.answer)
            .join(Return, Return.id == ReturnAnswer.return_id)
            .where(Return.period.in_(own))
        ):
            if return_id in newest:
                self.answers.setdefault(return_id, {})[question] = answer
        figures = self.figures
        others -= own
        if others:
            for measure_id, label, version, value, status, exceeding in await session.execute(
                select(
                    Return.measure_id,
                    Return.period,
                    Return.version,
                    Return.value,
                    Return.status,
                    Return.exceeding_expectations,
                ).where(Return.period.in_(others))
            ):
                key = (measure_id, label)
                if measure_id in ids and (key not in figures or figures[key].version < version):
                    figures[key] = _Figure(version, value, status, bool(exceeding))
        for measure_id, label, value in await session.execute(
            select(Target.measure_id, Target.period, Target.value).where(
                Target.period.in_(own | others)
            )
        ):
            if measure_id in ids:
                self.targets[(measure_id, label)] = value
        for measure_id, rows in (await benchmarks.rows_of(session, None)).items():
            if measure_id in ids:
                self.benchmarks[measure_id] = [Comparator.of(r) for r in rows]
        found = await milestones_of(session)  # few: read whole, as ids may be thousands
        self.milestones = {k: v for k, v in found.items() if k in ids}

    def rate(self, m: _Measure, period: Period, target: Decimal | None, ret: Any) -> Assessment:
        """A measure's rating for a period, a key action's with its milestones."""
        return rate(m, period, target, ret, self.policy.scheme, self.milestones.get(m.id, ()))

    def figure(self, measure_id: int, label: str) -> _Newest | _Figure | None:
        key = (measure_id, label)
        return self.returns.get(key) or self.figures.get(key)

    def name(self, person_id: int | None) -> str:
        return self.names.get(person_id or 0, "someone")

    def point(self, m: _Measure, period: Period) -> TrendPoint:
        ret = self.figure(m.id, period.label)
        target = self.targets.get((m.id, period.label))
        rating = self.rate(m, period, target, ret).rating
        value = None if m.is_key_action or ret is None else ret.value
        return TrendPoint(
            period.label, value, None if m.data_only else target, rating, shown_value(m, ret)
        )

    def travel(self, m: _Measure, own: Period, value: Decimal | None) -> tuple[Travel, Travel]:
        """Against the previous period and the same period last year, as the measure's
        profile compares them (domain/profiles.py): a cumulative measure's only the latter."""
        against = comparisons(own, m.cumulative)

        def one(comparison: Comparison, note: str = "") -> Travel:
            ret = self.figure(m.id, comparison.period.label)
            earlier = None if m.is_key_action or ret is None else ret.value
            return Travel(
                comparison.words,
                comparison.period.label,
                shown_value(m, ret),
                None if note else direction(value, earlier, m.polarity),
                earlier,
                note,
            )

        previous = against.previous or Comparison(own.previous(), "the previous period")
        return one(previous, against.not_compared), one(against.last_year)

    def standing(
        self, m: _Measure, own: Period, value: Decimal | None
    ) -> tuple[tuple[Benchmark, ...], str]:
        """The benchmarks set beside the figure of ``own``, and where it stands against them."""
        if m.is_key_action:
            return (), ""
        chosen = applying(self.benchmarks.get(m.id, ()), own, m.cumulative)
        shown = tuple(
            Benchmark(
                c.group,
                c.value,
                format_figure(c.value, m.unit, m.decimals),
                c.period.label if c.period else "",
                c.source or "",
            )
            for c in chosen
        )
        return shown, standing(value, chosen, m.polarity, m.unit, m.decimals, own)


def _about(
    m: _Measure, own: Period, target: Decimal | None, services: dict[int, str], reader: _Reader
) -> dict[str, Any]:
    """What a board row and an annual row both say of a measure at its period."""
    return {
        "code": m.code,
        "title": m.title,
        "is_key_action": m.is_key_action,
        "service": services[m.service_id],
        "priority": m.shown_under[0],
        "portfolio": m.portfolio or NO_PORTFOLIO,
        "priorities": m.priorities,
        "owner": reader.name(m.owner_id),
        "period": own.label,
        "unit": m.unit.value,
        "decimals": m.decimals,
        "higher_is_better": m.polarity is Polarity.HIGHER,
        "target": None if m.data_only or m.is_key_action else target,
        "target_shown": _target_shown(m, target),
    }


def _answers(said: dict[str, str]) -> tuple[tuple[Question, str], ...]:
    return tuple(answered(said))


def _target_shown(m: _Measure, target: Decimal | None) -> str:
    if target is None or m.data_only or m.is_key_action:
        return "none"
    return format_figure(target, m.unit, m.decimals)


def _approval(
    ret: _Newest | None,
    state: str,
    deadline: date,
    names: Callable[[int | None], str],
) -> tuple[str, str]:
    """A return's sign-off state, as a word for filtering and as a sentence."""
    if (
        ret is not None
        and state in ("approved", "signed off")
        and ret.state is ReturnState.APPROVED
    ):
        if ret.reviewed_by_id and ret.reviewed_at:
            day = long_day(ret.reviewed_at.astimezone(LONDON).date())
            return "approved", f"Approved by {names(ret.reviewed_by_id)} on {day}"
        return "approved", "Approved on import (the performance team's figures)"
    if state == "signed off":
        return "approved", "Signed off with its period"
    if state == "signed off without a figure":
        return "not returned", "Signed off without a figure"
    if state == "submitted":
        return "submitted", "Awaiting sign-off"
    if state == "returned":
        comment = f": {ret.review_comment}" if ret and ret.review_comment else ""
        return "returned", f"Returned to the owner for revision{comment}"
    if state in ("overdue", "escalated"):
        gone = ", escalated" if state == "escalated" else ""
        return "overdue", f"Overdue: due {long_day(deadline)}{gone}"
    if state == "not available":
        return "not returned", f"Not available yet: {ret.not_available_reason if ret else ''}"
    return "not returned", f"Not yet due: due {long_day(deadline)}"


def _plan_entries(
    items: list[ActionPlan], today: date, name: Callable[[int | None], str]
) -> tuple[PlanEntry, ...]:
    def status(item: ActionPlan) -> str:
        if item.status == ActionPlanStatus.OPEN.value:
            return "late" if item.due_date is not None and item.due_date < today else "open"
        return item.status

    order = {"late": 0, "open": 1, "done": 2, "dropped": 3}
    entries = [
        PlanEntry(
            i.description,
            name(i.owner_id) if i.owner_id else None,
            i.due_date,
            status(i),
            i.progress,
            i.period,
        )
        for i in items
    ]
    entries.sort(key=lambda e: (order.get(e.status, 4), e.due or date.max))
    return tuple(entries)


def _schemes(measures: Sequence[_Measure], policy: Policy) -> list[Scheme]:
    """The rating schemes a report's measures are rated under, the council's own first."""
    used = {m.scheme or policy.scheme for m in measures}
    return [policy.scheme, *(s for s in Scheme if s in used and s is not policy.scheme)]


def _from_first(points: Iterable[TrendPoint]) -> tuple[TrendPoint, ...]:
    """A trend from its first period with a figure or a target: a later one with neither
    stays, as a gap in the line."""
    kept: list[TrendPoint] = []
    for point in points:
        if kept or point.value is not None or point.shown != "—" or point.target is not None:
            kept.append(point)
    return tuple(kept)


class _Counted(Protocol):
    @property
    def service(self) -> str: ...

    @property
    def portfolio(self) -> str: ...

    @property
    def rating(self) -> Rating | None: ...


def _headline(schemes: Sequence[Scheme], rows: Sequence[_Counted]) -> Headline:
    """The counts by rating, in all, by service and by Cabinet portfolio (each measure once,
    before it is shown under each of its priorities), with every rating of each scheme used
    (a rating nobody has is shown as none)."""
    total: Counter[Rating | None] = Counter(r.rating for r in rows)
    by_service: dict[str, Counter[Rating | None]] = {}
    by_portfolio: dict[str, Counter[Rating | None]] = {}
    for row in rows:
        by_service.setdefault(row.service, Counter())[row.rating] += 1
        by_portfolio.setdefault(row.portfolio, Counter())[row.rating] += 1
    wanted = {r for scheme in schemes for r in SCHEME_RATINGS[scheme]}
    shown = [r for r in Rating if r in wanted or r in total]
    if set(by_portfolio) == {NO_PORTFOLIO}:
        by_portfolio = {}  # a council that has not set portfolios is not told of them
    return Headline(
        tuple(shown),
        dict(total),
        {service: dict(counts) for service, counts in sorted(by_service.items())},
        {
            name: dict(by_portfolio[name])
            for name in sorted(by_portfolio, key=lambda n: (n == NO_PORTFOLIO, n))
        },
    )


G = TypeVar("G", BoardRow, AnnualRow, OverdueRow)


def _under_each(rows: Iterable[G], wanted: str | None) -> list[G]:
    """Rows in printing order, a measure with several priorities once under each of them
    (under the one asked for alone, with --priority): priority, service, then code."""
    out = [
        replace(row, priority=priority)
        for row in rows
        for priority in (row.priorities or (NO_PRIORITY,))
        if wanted is None or priority == wanted
    ]
    # Stable: a measure's overdue periods stay oldest first.
    out.sort(key=lambda r: (r.priority == NO_PRIORITY, r.priority, r.service, r.code))
    return out


SCHEME_RATINGS = {
    Scheme.STRONG_GOOD_REVIEW_ACTION: (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION),
    Scheme.RAG: (Rating.GREEN, Rating.AMBER, Rating.RED),
}


def _order(m: _Measure, services: dict[int, str]) -> tuple[bool, str, str, str]:
    first = m.shown_under[0]
    return (first == NO_PRIORITY, first, services[m.service_id], m.code)


async def _sign_off(session: AsyncSession, labels: list[str], awaiting: int) -> str:
    """Whether the periods shown are signed off, in one sentence."""
    locks = {
        lock.period: lock
        for lock in await session.scalars(select(PeriodLock).where(PeriodLock.period.in_(labels)))
    }
    done = [
        f"{label} by {signed_off_by(locks[label])} on "
        f"{long_day(locks[label].locked_at.astimezone(LONDON).date())}"
        for label in labels
        if label in locks
    ]
    left = [label for label in labels if label not in locks]
    parts = []
    if done:
        parts.append(f"Signed off: {'; '.join(done)}.")
    if left:
        waiting = (
            f" ({awaiting} {'return awaits' if awaiting == 1 else 'returns await'} approval)"
            if awaiting
            else ""
        )
        parts.append(f"Not yet signed off: {in_words(left)}{waiting}.")
    return " ".join(parts) or "Nothing to sign off."


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
    portfolio: str | None = None,
) -> Report:
    """The report of ``kind`` for ``period`` as the database stands ``now``, of what
    ``scope`` may see, optionally for one service, one Cabinet portfolio and one Council
    Plan priority (names as typed, any case; an unknown one is refused with a ReportError
    naming the choices)."""
    report_period(kind, period.label)  # a quarter (or a year): refused in a sentence if not
    today = now.astimezone(LONDON).date()
    reader = _Reader(session, policy)
    measures, services = await reader.measures(scope, service, priority, portfolio)
    measures.sort(key=lambda m: _order(m, services))
    ids = {m.id for m in measures}
    if kind is ReportKind.ANNUAL:
        return await _annual(reader, period, now, policy, scope, measures, services)

    own_of = {m.id: period_for(m.frequency, period) for m in measures}
    own_labels = {p.label for p in own_of.values()}
    others: set[str] = set()
    for frequency in {m.frequency for m in measures}:
        last = period_for(frequency, period)
        others.update(p.label for p in periods_back(last, TREND_PERIODS)[1:])
        others.add(last.same_period_last_year().label)
    await reader.read(own_labels, others, ids)
    calendar = await load_calendar(session)
    locked = await locked_periods(session)
    escalations: dict[tuple[int, str], list[Escalation]] = {}
    for esc in await session.scalars(
        select(Escalation).where(Escalation.period.in_(own_labels)).order_by(Escalation.id)
    ):
        if esc.measure_id in ids:
            escalations.setdefault((esc.measure_id, esc.period), []).append(esc)
    plans: dict[int, list[ActionPlan]] = {}
    start = datetime.combine(period.start, time(), LONDON)
    for item in await session.scalars(
        select(ActionPlan)
        .where(
            or_(
                ActionPlan.status == ActionPlanStatus.OPEN.value,
                ActionPlan.closed_at >= start,
            )
        )
        .order_by(ActionPlan.id)
    ):
        if item.measure_id in ids:
            plans.setdefault(item.measure_id, []).append(item)

    def board_row(m: _Measure) -> BoardRow:
        own = own_of[m.id]
        ret = reader.returns.get((m.id, own.label))
        target = reader.targets.get((m.id, own.label))
        assessment = reader.rate(m, own, target, ret)
        value = None if m.is_key_action or ret is None else ret.value
        deadline = calendar.deadline(own, m.deadline_working_days, m.code)
        listed = escalations.get((m.id, own.label), [])
        state = state_of(
            ret,
            deadline,
            today,
            escalated=any(e.reason == "overdue" for e in listed),
            signed_off=own.label in locked,
        )
        approval, approval_words = _approval(ret, state, deadline, reader.name)
        trend = periods_back(own, TREND_PERIODS)
        escalated_to = reader.name(m.escalation_owner_id) if m.escalation_owner_id else "nobody"
        previous, last_year = reader.travel(m, own, value)
        compared, benchmark_words = reader.standing(m, own, value)
        return BoardRow(
            **_about(m, own, target, services, reader),
            actual=value,
            actual_shown=shown_value(m, ret),
            rating=assessment.rating,
            rating_sentence=assessment.explanation,
            variance=assessment.variance,
            previous=previous,
            last_year=last_year,
            trend=_from_first(reader.point(m, p) for p in reversed(trend)),
            benchmarks=compared,
            benchmark_words=benchmark_words,
            commentary=ret.commentary if ret else None,
            answers=_answers(reader.answers.get(ret.id, {}) if ret else {}),
            remedial_action=ret.remedial_action if ret else None,
            action_due=ret.action_due if ret else None,
            not_available_reason=ret.not_available_reason if ret else None,
            plan=_plan_entries(plans.get(m.id, []), today, reader.name),
            approval=approval,
            approval_words=approval_words,
            restated=bool(ret and ret.restated),
            restated_from=ret.restated_from if ret and ret.restated else None,
            correction_reason=ret.correction_reason if ret and ret.restated else None,
            escalation=tuple(
                line for esc in listed for line in decision_lines(esc, escalated_to, reader.name)
            ),
            due=deadline,
            overdue=state in OVERDUE,
        )

    # Thousands of rows are pure work on what was read: done in a thread, so that the server
    # goes on answering Teams meanwhile.
    rows = await asyncio.to_thread(lambda: [board_row(m) for m in measures])
    awaiting = sum(1 for r in rows if r.approval == "submitted")
    sign_off = await _sign_off(session, sorted(own_labels, key=Period.parse), awaiting)
    overdue: tuple[OverdueRow, ...] = ()
    if kind is ReportKind.EXCEPTIONS:
        rows = [r for r in rows if r.off_track]  # and the headline counts only these
        overdue = await _overdue(session, measures, services, reader.name, period, today, policy)
    headline = _headline(_schemes(measures, policy), rows)
    notes = _notes(kind, period, rows, scope, reader, today)
    return Report(
        kind=kind,
        period=period,
        made_at=now,
        scheme=policy.scheme,
        scope=scope,
        sign_off=sign_off,
        headline=headline,
        rows=tuple(_under_each(rows, reader.priority)),
        overdue=tuple(_under_each(overdue, reader.priority)),
        service=reader.service,
        priority=reader.priority,
        notes=notes,
        portfolio=reader.portfolio,
    )


def _notes(
    kind: ReportKind,
    period: Period,
    rows: Sequence[object],
    scope: Scope,
    reader: _Reader,
    today: date,
) -> tuple[str, ...]:
    """What the report says before its figures: a period not yet ended, or nothing to show."""
    notes = []
    if period.end >= today:
        notes.append(
            f"{period.label} has not ended yet: its figures are those returned so far, and "
            "each measure is shown at its last period ended by then."
        )
    if rows:
        return tuple(notes)
    if scope.nothing:
        notes.append("You have no measures to report on.")
    elif kind is ReportKind.EXCEPTIONS:
        notes.append(f"No measure is off track for {period.label}.")
    else:
        asked = [
            f"service {reader.service}" if reader.service else "",
            f"portfolio {reader.portfolio}" if reader.portfolio else "",
            f"priority {reader.priority}" if reader.priority else "",
        ]
        filters = in_words([a for a in asked if a])
        notes.append(
            f"No active measure{' matches ' + filters if filters else ''} for {period.label}."
        )
    return tuple(notes)


async def _overdue(
    session: AsyncSession,
    measures: list[_Measure],
    services: dict[int, str],
    names: Callable[[int | None], str],
    period: Period,
    today: date,
    policy: Policy,
) -> tuple[OverdueRow, ...]:
    """The returns still awaited after their deadline, of periods ended by ``period``'s end:
    the shared rule of open returns (`status` and the chasers read the same), from period
    labels alone, for thousands of measures."""
    if not measures:
        return ()
    open_of = await open_periods_of(session, measures, today, policy.open_from)
    calendar = await load_calendar(session)
    ids = {m.id for m in measures}
    escalated: dict[tuple[int, str], bool] = {}  # overdue escalations: acknowledged or not
    for measure_id, label, acknowledged_at in await session.execute(
        select(Escalation.measure_id, Escalation.period, Escalation.acknowledged_at).where(
            Escalation.reason == "overdue"
        )
    ):
        if measure_id in ids:
            escalated[(measure_id, label)] = acknowledged_at is not None
    rows = []
    for m in measures:
        for own in open_of[m.id]:
            if own.end > period.end:
                continue
            due = calendar.deadline(own, m.deadline_working_days, m.code)
            if due >= today:
                continue  # not due yet
            rows.append(
                OverdueRow(
                    code=m.code,
                    title=m.title,
                    service=services[m.service_id],
                    priority=m.shown_under[0],
                    owner=names(m.owner_id),
                    period=own.label,
                    due=due,
                    working_days_late=calendar.working_days_between(due, today),
                    escalated=(m.id, own.label) in escalated,
                    acknowledged=escalated.get((m.id, own.label), False),
                    portfolio=m.portfolio or NO_PORTFOLIO,
                    priorities=m.priorities,
                )
            )
    return tuple(rows)  # measures in printing order, each one's periods oldest first


async def _annual(
    reader: _Reader,
    year: Period,
    now: datetime,
    policy: Policy,
    scope: Scope,
    measures: list[_Measure],
    services: dict[int, str],
) -> Report:
    """Each measure's outturn for ``year`` against its target and the year before."""
    session = reader.session
    ids = {m.id for m in measures}
    own_of = {m.id: outturn_period(m.frequency, year) for m in measures}
    own_labels = {p.label for p in own_of.values()}
    others: set[str] = set()
    for frequency in {m.frequency for m in measures}:
        last = outturn_period(frequency, year)
        others |= {p.label for p in periods_between(Period.of(year.year, frequency, 1), last)}
        others.add(last.same_period_last_year().label)
    await reader.read(own_labels, others, ids)
    locked = await locked_periods(session)
    calendar = await load_calendar(session)
    today = now.astimezone(LONDON).date()

    def annual_row(m: _Measure) -> AnnualRow:
        own = own_of[m.id]
        ret = reader.returns.get((m.id, own.label))
        target = reader.targets.get((m.id, own.label))
        assessment = reader.rate(m, own, target, ret)
        value = None if m.is_key_action or ret is None else ret.value
        before = own.same_period_last_year()
        earlier = reader.figure(m.id, before.label)
        deadline = calendar.deadline(own, m.deadline_working_days, m.code)
        state = state_of(ret, deadline, today, signed_off=own.label in locked)
        approval, approval_words = _approval(ret, state, deadline, reader.name)
        return AnnualRow(
            **_about(m, own, target, services, reader),
            outturn=value,
            outturn_shown=shown_value(m, ret),
            rating=assessment.rating,
            rating_sentence=assessment.explanation,
            last_year_period=before.label,
            last_year=None if m.is_key_action or earlier is None else earlier.value,
            last_year_shown=shown_value(m, earlier),
            last_year_rating=reader.rate(
                m, before, reader.targets.get((m.id, before.label)), earlier
            ).rating,
            direction=direction(
                value,
                None if m.is_key_action or earlier is None else earlier.value,
                m.polarity,
            ),
            commentary=ret.commentary if ret else None,
            trend=tuple(
                reader.point(m, p)
                for p in periods_between(Period.of(year.year, m.frequency, 1), own)
            ),
            restated=bool(ret and ret.restated),
            restated_from=ret.restated_from if ret and ret.restated else None,
            approval=approval,
            approval_words=approval_words,
        )

    rows = await asyncio.to_thread(lambda: [annual_row(m) for m in measures])  # as the board's
    headline = _headline(_schemes(measures, policy), rows)
    awaiting = sum(1 for r in rows if r.approval == "submitted")
    return Report(
        kind=ReportKind.ANNUAL,
        period=year,
        made_at=now,
        scheme=policy.scheme,
        scope=scope,
        sign_off=await _sign_off(session, sorted(own_labels, key=Period.parse), awaiting),
        headline=headline,
        annual=tuple(_under_each(rows, reader.priority)),
        service=reader.service,
        priority=reader.priority,
        notes=_notes(ReportKind.ANNUAL, year, rows, scope, reader, today),
        portfolio=reader.portfolio,
    )
