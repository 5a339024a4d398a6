"""What people are shown about returns, read from the database: a measure's open return
with its recent history, what a person owns, a service's status, and the receipt of a
stored return. Reads only; the use cases that change things are in domain/returns.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.sql.selectable import CompoundSelect, Select

from domain import benchmarks, cover
from domain.action_plans import ActionItem, open_items
from domain.dates import LONDON, long_day
from domain.model import (
    AuditEntry,
    Benchmark,
    Delegate,
    Escalation,
    Measure,
    Milestone,
    PeriodLock,
    Person,
    Return,
    ReturnState,
    Role,
    Target,
)
from domain.numbers import Unit, format_figure
from domain.periods import Frequency, Period, PeriodError, periods_back, periods_between
from domain.policy import Policy
from domain.profiles import Comparison, comparisons
from domain.ratings import Assessment, Direction, KeyActionStatus, Rating, direction, progress_word
from domain.reminders import next_ask
from domain.reporting import Reported, latest_returns, load_calendar, milestones_of, rate
from domain.workdays import WorkingCalendar

HISTORY_PERIODS = 4

# The states of a return as people see them; "not available" is a return with a reason but
# no figure yet (PerfBot still asks again for it), "escalated" an overdue return that has gone
# to the escalation owner. These are still waiting for a figure: they are the open returns.
WAITING = ("due", "overdue", "escalated", "not available")
OVERDUE = ("overdue", "escalated")
COMPLETE = "complete"  # a key action reported complete: not asked for again until reopened


class Refused(Exception):
    """A request PerfBot will not carry out; the message says why, for the person."""


@dataclass(frozen=True)
class HistoryPoint:
    period: Period
    shown: str
    rating: Rating | None


@dataclass(frozen=True)
class OpenReturn:
    """A measure's return for its current period, as its owner sees it."""

    measure: Measure
    period: Period
    deadline: date
    state: str  # due, overdue, escalated, not available, submitted, approved, returned
    latest: Return | None
    target: Decimal | None
    assessment: Assessment
    history: list[HistoryPoint]
    next_ask: date | None
    overdue_days: int = 0  # working days past the deadline, while it is waiting for a figure
    actions: tuple[ActionItem, ...] = ()  # the measure's open action-plan items, most urgent first
    # Its period is signed off (an admin's card): the lock's sentence, and a reason is asked.
    locked: str = ""
    # Its benchmarks in a sentence (domain/benchmarks.py): where its figure stands, or with
    # none yet what the comparators are; "" when it has none.
    benchmarks: str = ""
    completed: str = ""  # a key action reported complete: the period it was (state "complete")
    milestones: tuple[Milestone, ...] = ()  # a key action's milestones, by date

    @property
    def followed_up(self) -> list[ActionItem]:
        """The items this card asks about: all the measure's open items but this period's own
        action (which the card itself holds)."""
        return [
            a for a in self.actions if not (a.source == "return" and a.period == self.period.label)
        ]

    @property
    def actions_late(self) -> int:
        return sum(1 for a in self.actions if a.late)

    @property
    def target_shown(self) -> str | None:
        m = self.measure
        return None if self.target is None else format_figure(self.target, m.unit, m.decimals)


@dataclass(frozen=True)
class Receipt:
    """What a stored return says back to the person who sent it."""

    measure: Measure
    period: Period
    shown: str
    assessment: Assessment
    since_last_period: Direction | None
    since_last_year: Direction | None
    version: int
    replaced: str | None
    next_steps: str
    duplicate: bool = False
    waiting: tuple[str, ...] = ()  # the measure's other periods still waiting for a figure
    action_plan: str = ""  # what became of its action in the action plan ("" if nothing)
    # A cumulative measure's direction is against the same period last year only, named
    # ("April last year"); "" for any other measure (since last period and last year).
    last_year_words: str = ""
    benchmarks: str = ""  # where the figure stands against its benchmarks, in a sentence

    # What the person wrote, as it was sent: (heading, text) for the commentary, each review
    # question answered, the action and its date.
    words: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Directions:
    """A figure's direction of travel, as the comparisons of its measure's profile give it."""

    since_last_period: Direction | None  # None: no figure to compare, or cumulative
    since_last_year: Direction | None
    last_year_words: str  # a cumulative measure's "April last year"; "" for any other


def directions(
    measure: Measure, period: Period, value: Decimal | None, figures: dict[str, Return]
) -> Directions:
    """Direction of travel of ``value`` for ``period``, from the newest returns by period
    label: against what domain/profiles.py says the measure is compared with."""
    against = comparisons(period, measure.cumulative)

    def earlier(comparison: Comparison | None) -> Decimal | None:
        found = figures.get(comparison.period.label) if comparison else None
        return found.value if found is not None else None

    if measure.is_key_action:
        return Directions(None, None, "")
    return Directions(
        direction(value, earlier(against.previous), measure.polarity) if against.previous else None,
        direction(value, earlier(against.last_year), measure.polarity),
        against.last_year.words if against.cumulative else "",
    )


def direction_facts(travel: Directions) -> list[tuple[str, str]]:
    """Direction of travel as a card's facts: ("Since last period", "↑ improving"), ("Since
    last year", "↓ declining"); a cumulative measure's, against the same period last year in
    words: ("Since last year", "↑ improving against April last year")."""
    facts = []
    if travel.since_last_period:
        since = travel.since_last_period
        facts.append(("Since last period", f"{since.arrow} {since.value}"))
    if travel.since_last_year:
        since = travel.since_last_year
        words = f" against {travel.last_year_words}" if travel.last_year_words else ""
        facts.append(("Since last year", f"{since.arrow} {since.value}{words}"))
    return facts


def in_words(names: Sequence[str]) -> str:
    """Names as a sentence lists them: "A", "A and B", "A, B and C"."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def today_in_london(now: datetime) -> date:
    return now.astimezone(LONDON).date()


class Periodic(Protocol):
    """What the open-returns rule reads of a measure."""

    @property
    def frequency(self) -> Frequency: ...


def current_period(measure: Periodic, today: date) -> Period:
    """The latest period of a measure that has ended: the newest it can be asked for."""
    return Period.containing(today, measure.frequency).previous()


@lru_cache(maxsize=4096)
def _period(label: str) -> Period | None:
    try:
        return Period.parse(label)
    except PeriodError:
        return None


@dataclass(frozen=True)
class Record:
    """What has been read of one measure: the newest return and the target of each period
    (by label), the periods escalated as overdue, the day it was set up, and the periods
    signed off (locked), which are never asked for again."""

    returns: dict[str, Return]
    targets: dict[str, Decimal]
    escalated: frozenset[str] = frozenset()
    created: date | None = None
    locked: frozenset[str] = frozenset()
    milestones: tuple[Milestone, ...] = ()  # a key action's, by date


class Progressed(Protocol):
    """What the rule for a completed key action reads of a return."""

    @property
    def status(self) -> str | None: ...


def completed_in(measure: Listed | Measure, returns: Mapping[str, Progressed]) -> str | None:
    """The period a key action was reported complete in, if it still stands: its latest
    period with a status says complete. A later status other than complete (a return, a
    correction or an import) reopens it. None for a measure."""
    if not measure.is_key_action:
        return None
    reported = [
        (p, ret.status)
        for label, ret in returns.items()
        if (p := _period(label)) is not None and ret.status
    ]
    if not reported:
        return None
    period, status = max(reported, key=lambda pair: pair[0])
    return period.label if status == KeyActionStatus.COMPLETE.value else None


def first_period(
    measure: Periodic,
    labels: Iterable[str],
    created: date | None,
    today: date,
    open_from: date | None = None,
) -> Period:
    """The first period a measure is asked for: that of its first target or return (their
    period ``labels``), else the one it was set up in; never one that ended before the
    council's ``open_from``."""
    periods = [
        p for p in map(_period, labels) if p is not None and p.frequency is measure.frequency
    ]
    if periods:
        first = min(periods)
    elif created is not None:
        first = Period.containing(created, measure.frequency)
    else:
        first = current_period(measure, today)
    if open_from is not None:
        first = max(first, Period.containing(open_from, measure.frequency))
    return first


def open_periods(
    measure: Measure, record: Record, today: date, open_from: date | None = None
) -> list[Period]:
    """The open returns of a measure (DESIGN.md "Open returns"): every period from its first
    up to the latest that has ended with no figure yet, oldest first, but those signed off
    (locked). An overdue return stays open however many periods follow it, until its figure
    arrives or its period is signed off without it."""
    if completed_in(measure, record.returns):
        return []  # complete: nothing more is asked for (DESIGN.md "Key action")
    figures = {label for label, ret in record.returns.items() if has_figure(ret)}
    labels = [*record.targets, *record.returns]
    return _open_between(measure, labels, figures | record.locked, record.created, today, open_from)


def _open_between(
    measure: Periodic,
    labels: Iterable[str],
    closed: set[str] | frozenset[str],
    created: date | None,
    today: date,
    open_from: date | None,
) -> list[Period]:
    """The periods from the first up to the latest that has ended, but the ``closed`` ones
    (with a figure, or signed off)."""
    last = current_period(measure, today)
    first = first_period(measure, labels, created, today, open_from)
    if first > last:
        return []
    return [p for p in periods_between(first, last) if p.label not in closed]


async def lock_of(session: AsyncSession, period: str) -> PeriodLock | None:
    """The lock on a period (by its label), if it is signed off."""
    return await session.get(PeriodLock, period)


def signed_off_by(lock: PeriodLock) -> str:
    """Who signed a period off, as people are told: an email as stored; the command line's
    ``cli:<login>`` and the sample's loader are the performance team."""
    return lock.locked_by if "@" in lock.locked_by else "the performance team"


def locked_sentence(lock: PeriodLock, code: str | None = None) -> str:
    """One sentence naming the lock, for a refusal: who signed the period off and when."""
    what = f"{code} {lock.period}" if code else lock.period
    why = f" ({lock.reason})" if lock.reason else ""
    return (
        f"{lock.period} was signed off by {signed_off_by(lock)} on "
        f"{long_day(lock.locked_at.astimezone(LONDON).date())}{why}, so {what} can no longer "
        "be changed; only the performance team can correct it, giving a reason."
    )


async def locked_periods(session: AsyncSession) -> frozenset[str]:
    """The labels of every signed-off period (a council has tens of them, not thousands):
    read once per use case, never per measure."""
    return frozenset(await session.scalars(select(PeriodLock.period)))


async def still_open(
    session: AsyncSession, measure: Measure, today: date, open_from: date | None = None
) -> tuple[list[Period], dict[str, Decimal]]:
    """A measure's open periods, read as period labels only (cheaper than ``records`` where
    nothing else of them is needed: the receipt's "still waiting"), and all its targets, by
    period label, read in the same statement; a signed-off period is never open."""
    rows: Sequence[Any] = (await session.execute(_STILL_OPEN, {"measure_id": measure.id})).all()
    if measure.is_key_action and completed_in(measure, await newest_by_period(session, measure.id)):
        return [], {label: value for label, value, kind in rows if not kind}
    figures = {label for label, _, kind in rows if kind == 1}
    closed = {label for label, _, kind in rows if kind}
    targets = {label: value for label, value, kind in rows if not kind}
    periods = _open_between(measure, [*figures, *targets], closed, None, today, open_from)
    return periods, targets


# still_open's one statement, built once (every submission reads it): the periods with a
# target (and its value), those with a figure, and those signed off.
_STILL_OPEN: CompoundSelect[Any] = union_all(
    select(Target.period, Target.value, literal(0)).where(
        Target.measure_id == bindparam("measure_id")
    ),
    select(Return.period, null(), literal(1)).where(
        Return.measure_id == bindparam("measure_id"),
        or_(Return.value.is_not(None), Return.status.is_not(None)),
    ),
    select(PeriodLock.period, null(), literal(2)),
)


async def records(session: AsyncSession, measures: Sequence[Measure]) -> dict[int, Record]:
    """What ``open_periods`` and the cards need of these measures, in five queries."""
    ids = [m.id for m in measures]
    if not ids:
        return {}
    locked = await locked_periods(session)
    newest = await latest_returns(session, ids)
    targets: dict[int, dict[str, Decimal]] = {i: {} for i in ids}
    for measure_id, label, value in await session.execute(
        select(Target.measure_id, Target.period, Target.value).where(Target.measure_id.in_(ids))
    ):
        targets[measure_id][label] = value
    escalated: dict[int, set[str]] = {i: set() for i in ids}
    for measure_id, label in await session.execute(
        select(Escalation.measure_id, Escalation.period).where(
            Escalation.measure_id.in_(ids), Escalation.reason == "overdue"
        )
    ):
        escalated[measure_id].add(label)
    codes = {m.code: m.id for m in measures}
    created: dict[int, date] = {}
    for code, at in await session.execute(
        select(AuditEntry.key, func.min(AuditEntry.at))
        .where(
            AuditEntry.entity == "measure",
            AuditEntry.action == "create",
            AuditEntry.key.in_(codes),
        )
        .group_by(AuditEntry.key)
    ):
        created[codes[code]] = today_in_london(at) if isinstance(at, datetime) else at
    by_measure: dict[int, dict[str, Return]] = {i: {} for i in ids}
    for (measure_id, label), ret in newest.items():
        by_measure[measure_id][label] = ret
    key_actions = [m.id for m in measures if m.is_key_action]
    milestones = await milestones_of(session, key_actions) if key_actions else {}
    return {
        i: Record(
            by_measure[i],
            targets[i],
            frozenset(escalated[i]),
            created.get(i),
            locked,
            tuple(milestones.get(i, ())),
        )
        for i in ids
    }


class Listed(Periodic, Protocol):
    """A measure as ``open_periods_of`` reads it."""

    @property
    def id(self) -> int: ...

    @property
    def code(self) -> str: ...

    @property
    def is_key_action(self) -> bool: ...


async def open_periods_of(
    session: AsyncSession, measures: Sequence[Listed], today: date, open_from: date | None = None
) -> dict[int, list[Period]]:
    """``open_periods`` for many measures at once (thousands, for the reminder sweep and the
    exception report), by measure id, from period labels alone: the same rule, without
    reading any return whole.

    A council's returns and targets are hundreds of thousands of rows, so they are not read
    row by row: the database gives each measure's first period (of targets and returns)
    and the span of its periods with a figure as aggregates (``_spans``), and only the
    measures whose periods with a figure have a gap in that span (rare: a return still
    waiting while later ones have come) have those periods read one by one."""
    ids = {m.id for m in measures}
    if not ids:
        return {}
    spans = await _spans(session, ids)
    if spans is None:  # a period label not as PerfBot writes it: row by row, as ever
        return await _open_periods_by_rows(session, measures, today, open_from)
    firsts, closed, gaps = spans
    key_actions = [m.id for m in measures if m.is_key_action]
    statuses = await _newest_statuses(session, key_actions) if key_actions else {}
    locked = await locked_periods(session)
    letters = {f: _letter(f) for f in Frequency}
    undated = [m for m in measures if (m.id, letters[m.frequency]) not in firsts]
    created = await _created(session, undated) if undated else {}
    between: dict[tuple[Period, Period], list[Period]] = {}
    out: dict[int, list[Period]] = {}
    for m in measures:
        if m.is_key_action and completed_in(m, statuses.get(m.id, {})):
            out[m.id] = []
            continue
        letter = letters[m.frequency]
        first_label = firsts.get((m.id, letter))
        last = current_period(m, today)
        first = first_period(
            m, [first_label] if first_label else [], created.get(m.id), today, open_from
        )
        if first > last:
            out[m.id] = []
            continue
        if (first, last) not in between:
            between[(first, last)] = periods_between(first, last)
        low, high = closed.get((m.id, letter), (0, -1))
        shut = gaps.get(m.id)
        out[m.id] = [
            p
            for p in between[(first, last)]
            if p.label not in locked
            and (p.label not in shut if shut is not None else not low <= _ordinal(p) <= high)
        ]
    return out


def _letter(frequency: Frequency) -> str:
    """The letter a period label of this frequency has after its year ("" for annual)."""
    return Period.containing(date(2000, 4, 1), frequency).label[8:9]


def _ordinal(period: Period) -> int:
    """A period's place in its frequency's order, as ``_ordinal_of`` works it out in SQL."""
    return period.year * period.frequency.periods_per_year + period.index - 1


def _ordinal_of(label: Any) -> tuple[Any, Any]:
    """SQL for a canonical period label's letter (M, Q, H, or "" for annual) and its place
    in its frequency's order (year * periods a year + index - 1): consecutive periods of a
    frequency have consecutive places, and the order of places is the order of periods."""
    year = cast(func.substr(label, 1, 4), Integer)
    letter = func.substr(label, 9, 1)
    index = case((func.length(label) == 7, 1), else_=cast(func.substr(label, 10), Integer))
    per_year = case((letter == "M", 12), (letter == "Q", 4), (letter == "H", 2), else_=1)
    return letter, year * per_year + index - 1


def _label_at(letter: str, ordinal: int) -> str:
    per_year = {"M": 12, "Q": 4, "H": 2}.get(letter, 1)
    year, index = divmod(ordinal, per_year)
    words = f"{year}/{(year + 1) % 100:02d}"
    return f"{words} {letter}{index + 1}" if letter else words


def _newest_version() -> Any:
    """Whether a return row is its period's newest version (a correlated subquery on the
    unique (measure, period, version) index)."""
    newer = aliased(Return)
    return Return.version == (
        select(func.max(newer.version))
        .where(newer.measure_id == Return.measure_id, newer.period == Return.period)
        .scalar_subquery()
    )


FEW = 500  # measures few enough to name in a statement (a person's, a service's)
_FIGURE = or_(Return.value.is_not(None), and_(Return.status.is_not(None), Return.status != ""))


async def _spans(
    session: AsyncSession, ids: set[int]
) -> (
    tuple[dict[tuple[int, str], str], dict[tuple[int, str], tuple[int, int]], dict[int, set[str]]]
    | None
):
    """By (measure id, letter): the first period label of its targets and returns, and the
    (first, last) places of the periods whose newest return has a figure; by measure id,
    the labels of those periods for the measures where they are not consecutive. None if
    any stored label is not canonical (the SQL reads labels by position)."""
    few = sorted(ids) if len(ids) <= FEW else None  # else all: cheaper than a long IN list
    statements = _span_statements(few is not None)
    named = {"ids": few} if few is not None else {}
    for (label,) in await session.execute(statements.labels, named):
        if _period(label) is None or _period(label).label != label:  # type: ignore[union-attr]
            return None
    # Each table's own aggregate over its (measure, period) index, the lesser taken here:
    # cheaper than one aggregate over both tables' rows put together (a temporary table).
    lowest: dict[tuple[int, str], int] = {}
    for firsts_of_table in statements.firsts:
        for measure_id, found, first in await session.execute(firsts_of_table, named):
            if measure_id in ids and first < lowest.get((measure_id, found), first + 1):
                lowest[(measure_id, found)] = first
    firsts = {key: _label_at(key[1], first) for key, first in lowest.items()}
    closed: dict[tuple[int, str], tuple[int, int]] = {}
    gappy: set[int] = set()
    for measure_id, found, low, high, count in await session.execute(statements.closed, named):
        if measure_id in ids:
            closed[(measure_id, found)] = (low, high)
            if count != high - low + 1:
                gappy.add(measure_id)
    gaps: dict[int, set[str]] = {i: set() for i in gappy}
    wanted = sorted(gappy)
    for start in range(0, len(wanted), 500):
        chunk = {"ids": wanted[start : start + 500]}
        for measure_id, label in await session.execute(_FIGURES_OF, chunk):
            gaps[measure_id].add(label)
    return firsts, closed, gaps


@dataclass(frozen=True)
class _SpanStatements:
    labels: Select[Any]
    firsts: tuple[Select[Any], Select[Any]]
    closed: Select[Any]


@lru_cache(maxsize=2)
def _span_statements(few: bool) -> _SpanStatements:
    """``_spans``' statements, built once: for the measures named (``few``: an expanding
    ``ids`` parameter) or for every measure. Built afresh, they cost more than a person's
    ``my measures`` or ``status`` spent in the database (issue 19)."""
    ids: Any = bindparam("ids", expanding=True)
    of_target = Target.measure_id.in_(ids) if few else true()
    of_return = Return.measure_id.in_(ids) if few else true()
    labels = union(
        select(Target.period.label("period")).where(of_target),
        select(Return.period).where(of_return),
    ).subquery()

    def firsts(table: Any, of_table: Any) -> Select[Any]:
        letter, place = _ordinal_of(table.c.period)
        return (
            select(table.c.measure_id, letter, func.min(place))
            .where(of_table)
            .group_by(table.c.measure_id, letter)
        )

    letter, place = _ordinal_of(Return.period)
    return _SpanStatements(
        select(labels.c.period),
        (firsts(Target.__table__, of_target), firsts(Return.__table__, of_return)),
        select(Return.measure_id, letter, func.min(place), func.max(place), func.count())
        .where(_FIGURE, _newest_version(), of_return)
        .group_by(Return.measure_id, letter),
    )


_FIGURES_OF = select(Return.measure_id, Return.period).where(
    Return.measure_id.in_(bindparam("ids", expanding=True)), _FIGURE, _newest_version()
)
_STATUSES_OF = select(Return.measure_id, Return.period, Return.status).where(
    Return.measure_id.in_(bindparam("ids", expanding=True)), _newest_version()
)


async def _newest_statuses(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, _Status]]:
    """The status of each period's newest return of these key actions: what completed_in
    reads."""
    found: dict[int, dict[str, _Status]] = {}
    for start in range(0, len(ids), 500):
        chunk = {"ids": ids[start : start + 500]}
        for measure_id, label, status in await session.execute(_STATUSES_OF, chunk):
            found.setdefault(measure_id, {})[label] = _Status(status)
    return found


async def _created(session: AsyncSession, measures: Sequence[Listed]) -> dict[int, date]:
    """The day each of these measures was set up (its first audit entry of creation)."""
    codes = {m.code: m.id for m in measures}
    created: dict[int, date] = {}
    wanted = sorted(codes)
    for start in range(0, len(wanted), 500):
        for code, at in await session.execute(
            select(AuditEntry.key, func.min(AuditEntry.at))
            .where(
                AuditEntry.entity == "measure",
                AuditEntry.action == "create",
                AuditEntry.key.in_(wanted[start : start + 500]),
            )
            .group_by(AuditEntry.key)
        ):
            created[codes[code]] = today_in_london(at) if isinstance(at, datetime) else at
    return created


async def _open_periods_by_rows(
    session: AsyncSession, measures: Sequence[Listed], today: date, open_from: date | None = None
) -> dict[int, list[Period]]:
    """``open_periods_of`` reading every return's and target's period label, row by row:
    for a database holding a label not in PerfBot's own form, which ``_spans`` cannot read."""
    ids = {m.id for m in measures}
    if not ids:
        return {}
    labels: dict[int, set[str]] = {i: set() for i in ids}
    closed: dict[int, set[str]] = {i: set() for i in ids}
    figure = or_(Return.value.is_not(None), and_(Return.status.is_not(None), Return.status != ""))
    # As latest_returns: the newest version, whether it has a figure, and its status.
    newest: dict[tuple[int, str], tuple[int, bool, str | None]] = {}
    for measure_id, label, version, has, status in await session.execute(
        select(Return.measure_id, Return.period, Return.version, figure, Return.status)
    ):
        if measure_id in ids and newest.get((measure_id, label), (0, False, None))[0] < version:
            newest[(measure_id, label)] = (version, bool(has), status)
    key_actions = {m.id for m in measures if m.is_key_action}
    statuses: dict[int, dict[str, _Status]] = {i: {} for i in ids}
    for (measure_id, label), (_, has, status) in newest.items():
        labels[measure_id].add(label)
        if measure_id in key_actions:  # what completed_in reads (key actions are few)
            statuses[measure_id][label] = _Status(status)
        if has:
            closed[measure_id].add(label)
    for measure_id, label in await session.execute(select(Target.measure_id, Target.period)):
        if measure_id in ids:
            labels[measure_id].add(label)
    locked = await locked_periods(session)
    codes = {m.code: m.id for m in measures}
    created: dict[int, date] = {}
    for code, at in await session.execute(
        select(AuditEntry.key, func.min(AuditEntry.at))
        .where(AuditEntry.entity == "measure", AuditEntry.action == "create")
        .group_by(AuditEntry.key)
    ):
        if code in codes:
            created[codes[code]] = today_in_london(at) if isinstance(at, datetime) else at
    return {
        m.id: []
        if completed_in(m, statuses[m.id])
        else _open_between(
            m, labels[m.id], closed[m.id] | locked, created.get(m.id), today, open_from
        )
        for m in measures
    }


@dataclass(frozen=True, slots=True)
class _Status:
    status: str | None


def deadline_of(measure: Measure, period: Period, calendar: WorkingCalendar) -> date:
    """When a measure's return for a period is due: the council's published deadline for
    the measure, else for its frequency, else its ``deadline_working_days`` after the period
    ends."""
    return calendar.deadline(period, measure.deadline_working_days, measure.code)


def can_submit(person: Person, measure: Measure) -> bool:
    """The owner, a delegate or an admin may send a measure's return."""
    return (
        measure.owner_id == person.id
        or any(d.id == person.id for d in measure.delegates)
        or person.has_role(Role.ADMIN)
    )


async def may_send(session: AsyncSession, person: Person, measure: Measure, today: date) -> bool:
    """``can_submit``, or ``person`` covers the measure today for its away owner."""
    return can_submit(person, measure) or await cover.is_covering(session, person, measure, today)


def has_figure(ret: Return | None) -> bool:
    """A return that carries a figure (or a key action's status), not only a reason."""
    return ret is not None and (ret.value is not None or bool(ret.status))


class ShownMeasure(Protocol):
    """What a figure's wording reads of its measure."""

    @property
    def is_key_action(self) -> bool: ...

    @property
    def unit(self) -> Unit: ...

    @property
    def decimals(self) -> int: ...


def shown_value(measure: ShownMeasure, ret: Reported | None) -> str:
    """A return's figure (or key action status) as the council prints it."""
    if ret is None:
        return "—"
    if measure.is_key_action:
        return progress_word(ret.status, ret.exceeding_expectations) or "not available"
    if ret.value is None:
        return "not available"
    return format_figure(ret.value, measure.unit, measure.decimals)


def history_labels(period: Period) -> list[str]:
    """The period shown on a return card and the four before it, newest first."""
    return [p.label for p in periods_back(period, HISTORY_PERIODS + 1)]


class Stated(Protocol):
    """What a return's state as people see it reads of the return."""

    @property
    def value(self) -> Decimal | None: ...

    @property
    def status(self) -> str | None: ...

    @property
    def not_available_reason(self) -> str | None: ...

    @property
    def state(self) -> ReturnState: ...


def state_of(
    ret: Stated | None,
    deadline: date,
    today: date,
    *,
    escalated: bool = False,
    signed_off: bool = False,
) -> str:
    """A return's state as people see it (one of OpenReturn.state's words), from its newest
    version (None: nothing returned), its deadline and whether its period is signed off."""
    figure = ret is not None and (ret.value is not None or bool(ret.status))
    if signed_off:  # nothing more is asked, nor can be sent, but by the performance team
        return "signed off" if figure else "signed off without a figure"
    if ret is not None and ret.not_available_reason and not figure and today <= deadline:
        return "not available"  # past the deadline it is overdue like any other (still asked)
    if ret is not None and figure:
        return ret.state.value
    if today > deadline:
        return "escalated" if escalated else "overdue"
    return "due"


def build_open_return(
    measure: Measure,
    period: Period,
    today: date,
    policy: Policy,
    calendar: WorkingCalendar,
    returns: dict[str, Return],
    targets: dict[str, Decimal],
    escalated: bool = False,
    signed_off: bool = False,
    milestones: Sequence[Milestone] = (),
    completed: str = "",
) -> OpenReturn:
    """A period's return from what has been read: the newest return and the target of (at
    least) this period and the four before it, by period label; a key action's milestones
    (rated with it), and the period it was reported complete in, if it stands complete."""
    history = []
    for label in reversed(history_labels(period)[1:]):
        ret = returns.get(label)
        p = Period.parse(label)
        history.append(
            HistoryPoint(
                p,
                shown_value(measure, ret),
                rate(measure, p, targets.get(label), ret, policy.scheme, milestones).rating,
            )
        )
    ret = returns.get(period.label)
    deadline = deadline_of(measure, period, calendar)
    state = state_of(ret, deadline, today, escalated=escalated, signed_off=signed_off)
    if completed and not signed_off:
        state = COMPLETE
    target = None if measure.data_only else targets.get(period.label)
    cadence = policy.cadence.for_measure(measure.reminder_days)
    waiting = state in WAITING
    return OpenReturn(
        measure,
        period,
        deadline,
        state,
        ret,
        target,
        rate(measure, period, target, ret, policy.scheme, milestones),
        history,
        next_ask(deadline, today, calendar, cadence) if waiting else None,
        calendar.working_days_between(deadline, today) if waiting and today > deadline else 0,
        completed=completed,
        milestones=tuple(milestones),
    )


def returns_of(
    measure: Measure,
    record: Record,
    today: date,
    policy: Policy,
    calendar: WorkingCalendar,
    shown: tuple[list[Period], str] | None = None,
) -> list[OpenReturn]:
    """A measure's open returns, oldest first; when none is open, its latest period's (a key
    action reported complete: its latest period's, as complete). ``shown``: those periods
    and the period it was completed in ("" if not), as ``_card_records`` works them out
    (its ``record`` then holds only what their cards show)."""
    if shown is None:
        completed = completed_in(measure, record.returns) or ""
        periods = open_periods(measure, record, today, policy.open_from)
        periods = periods or [current_period(measure, today)]
    else:
        periods, completed = shown
    return [
        build_open_return(
            measure,
            p,
            today,
            policy,
            calendar,
            record.returns,
            record.targets,
            p.label in record.escalated,
            p.label in record.locked,
            record.milestones,
            completed,
        )
        for p in periods
    ]


async def targets_of(
    session: AsyncSession, measure_id: int, labels: list[str] | None = None
) -> dict[str, Decimal]:
    """A measure's targets for these periods (or all of them), by period label."""
    query = select(Target.period, Target.value).where(Target.measure_id == measure_id)
    if labels is not None:
        query = query.where(Target.period.in_(labels))
    return {label: value for label, value in await session.execute(query)}


async def newest_by_period(
    session: AsyncSession, measure_id: int, labels: list[str] | None = None
) -> dict[str, Return]:
    """The newest version of a measure's return for each of these periods (or every
    period) that has one."""
    newest = await latest_returns(session, [measure_id], labels)
    return {label: ret for (_, label), ret in newest.items()}


async def open_return(
    session: AsyncSession,
    measure: Measure,
    today: date,
    policy: Policy,
    calendar: WorkingCalendar,
    period: Period | None = None,
) -> OpenReturn:
    """A period's return for ``measure`` with the four periods before it; without a period,
    its oldest open return (an overdue one first), or its latest if none is open."""
    if period is None:
        [record] = (await records(session, [measure])).values()
        first = returns_of(measure, record, today, policy, calendar)[0]
        return await with_action_plan(session, first, today)
    labels = history_labels(period)
    returns = await newest_by_period(session, measure.id, labels)
    targets = await targets_of(session, measure.id, labels)
    escalated = None
    if today > deadline_of(measure, period, calendar):  # never so for a reminder's card
        escalated = await session.scalar(
            select(Escalation.id).where(
                Escalation.measure_id == measure.id,
                Escalation.period == period.label,
                Escalation.reason == "overdue",
            )
        )
    milestones = (await milestones_of(session, [measure.id])).get(measure.id, [])
    item = build_open_return(
        measure,
        period,
        today,
        policy,
        calendar,
        returns,
        targets,
        escalated is not None,
        milestones=milestones,
    )
    return await with_action_plan(session, item, today)


async def with_action_plan(session: AsyncSession, item: OpenReturn, today: date) -> OpenReturn:
    """The open return with its measure's open action-plan items, for its card, and its
    benchmarks for context."""
    found = await open_items(session, [item.measure.id], today)
    compared = await benchmarks.rows_of(session, [item.measure.id])
    return replace(
        item,
        actions=tuple(found[item.measure.id]),
        benchmarks=_benchmarks(item, compared[item.measure.id]),
    )


def _benchmarks(item: OpenReturn, rows: Sequence[Benchmark]) -> str:
    """Where the return's figure stands (a figure sent), or the comparators (none yet)."""
    figure = item.latest.value if item.latest is not None and item.state not in WAITING else None
    return benchmarks.standing_of(item.measure, item.period, figure, rows)


async def measure_by_code(session: AsyncSession, code: str) -> Measure | None:
    """The active measure with this code."""
    return await session.scalar(
        select(Measure).where(Measure.code == code.strip().upper(), Measure.active)
    )


async def return_card_for(
    session: AsyncSession,
    person: Person,
    code: str,
    period: Period | None,
    today: date,
    policy: Policy,
) -> OpenReturn:
    """The open return a person asked for by code (the current period unless given);
    Refused if there is no such measure or it is not theirs to send."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(f"There is no measure {code.upper()!r}. Type my measures to see yours.")
    if not await may_send(session, person, measure, today):
        raise Refused(
            f"{measure.code} belongs to {measure.owner.name}; only its owner, a delegate, whoever "
            "covers while its owner is away, or the performance team can send its return."
        )
    calendar = await load_calendar(session)
    item = await open_return(session, measure, today, policy, calendar, period)
    lock = await lock_of(session, item.period.label)
    if lock is None:
        return item
    if not person.has_role(Role.ADMIN):
        raise Refused(locked_sentence(lock, measure.code))
    return replace(item, locked=locked_sentence(lock, measure.code))


async def example_code(
    session: AsyncSession, person: Person, fallback: str = "HS-04"
) -> tuple[str, Frequency]:
    """A measure code for the help card's examples, with its frequency (so an example
    period is one it takes): the first the person owns, else the first they deputise for,
    else the council's first (``fallback``, quarterly, if it has none)."""
    delegated = select(Delegate.measure_id).where(Delegate.person_id == person.id)
    for mine in (Measure.owner_id == person.id, Measure.id.in_(delegated), true()):
        found = (
            await session.execute(
                select(Measure.code, Measure.frequency)
                .where(Measure.active, mine)
                .order_by(Measure.code)
                .limit(1)
            )
        ).first()
        if found is not None:
            return found[0], found[1]
    return fallback, Frequency.QUARTERLY


# A card's measures: the people named on them, but not those people's roles, which the
# cards do not show (three statements fewer; touching them raises rather than answer wrongly).
_PEOPLE_NOT_ROLES = (
    joinedload(Measure.owner).raiseload(Person.role_rows),
    joinedload(Measure.escalation_owner).raiseload(Person.role_rows),
    selectinload(Measure.delegates).raiseload(Person.role_rows),
)
# The measures a person owns or deputises for, built once (every "my measures" asks it).
_MINE = (
    select(Measure)
    .where(
        Measure.active,
        or_(
            Measure.owner_id == bindparam("person_id"),
            Measure.id.in_(
                select(Delegate.measure_id).where(Delegate.person_id == bindparam("person_id"))
            ),
        ),
    )
    .order_by(Measure.code)
    .options(*_PEOPLE_NOT_ROLES)
)


async def my_returns(
    session: AsyncSession,
    person: Person,
    today: date,
    policy: Policy,
    covered: Sequence[Measure] = (),
) -> list[OpenReturn]:
    """Every open return of the measures and key actions ``person`` owns or deputises for,
    or covers while their owner is away (``covered``: read by the caller with
    ``cover.stand_of``), and the latest return of those with none open; by measure, oldest
    first."""
    measures = list((await session.scalars(_MINE, {"person_id": person.id})).all())
    known = {m.id for m in measures}
    measures += [m for m in covered if m.id not in known]
    measures.sort(key=lambda m: m.code)
    return await _returns_of_all(session, measures, today, policy)


async def _returns_of_all(
    session: AsyncSession, measures: Sequence[Measure], today: date, policy: Policy
) -> list[OpenReturn]:
    calendar = await load_calendar(session)
    read, shown = await _card_records(session, measures, today, policy.open_from)
    plans = await open_items(session, [m.id for m in measures], today)
    compared = await benchmarks.rows_of(session, [m.id for m in measures])
    return [
        replace(item, actions=tuple(plans[m.id]), benchmarks=_benchmarks(item, compared[m.id]))
        for m in measures
        for item in returns_of(m, read[m.id], today, policy, calendar, shown[m.id])
    ]


async def _card_records(
    session: AsyncSession, measures: Sequence[Measure], today: date, open_from: date | None
) -> tuple[dict[int, Record], dict[int, tuple[list[Period], str]]]:
    """What ``returns_of`` shows of many measures (a person's, or a council's for status),
    read for the periods shown only: each measure's open periods (``open_periods_of``, from
    period labels alone) or its latest, with the period a key action was completed in; and
    the newest returns and targets of those periods and the four before each, not of every
    period the measure has had."""
    ids = [m.id for m in measures]
    if not ids:
        return {}, {}
    periods = await open_periods_of(session, measures, today, open_from)
    key_actions = [m.id for m in measures if m.is_key_action]
    statuses = await _newest_statuses(session, key_actions) if key_actions else {}
    shown = {
        m.id: (
            periods[m.id] or [current_period(m, today)],
            completed_in(m, statuses.get(m.id, {})) or "" if m.is_key_action else "",
        )
        for m in measures
    }
    labels = sorted({label for ps, _ in shown.values() for p in ps for label in history_labels(p)})
    few = ids if len(ids) <= FEW else None
    newest = await latest_returns(session, few, labels)
    returns: dict[int, dict[str, Return]] = {i: {} for i in ids}
    for (measure_id, label), ret in newest.items():
        if measure_id in returns:
            returns[measure_id][label] = ret
    targets: dict[int, dict[str, Decimal]] = {i: {} for i in ids}
    of_target = Target.measure_id.in_(few) if few is not None else true()
    for measure_id, label, value in await session.execute(
        select(Target.measure_id, Target.period, Target.value).where(
            of_target, Target.period.in_(labels)
        )
    ):
        if measure_id in targets:
            targets[measure_id][label] = value
    escalated: dict[int, set[str]] = {i: set() for i in ids}
    of_escalation = Escalation.measure_id.in_(few) if few is not None else true()
    for measure_id, label in await session.execute(
        select(Escalation.measure_id, Escalation.period).where(
            of_escalation, Escalation.reason == "overdue"
        )
    ):
        if measure_id in escalated:
            escalated[measure_id].add(label)
    locked = await locked_periods(session)
    milestones = await milestones_of(session, key_actions) if key_actions else {}
    read = {
        i: Record(
            returns[i],
            targets[i],
            frozenset(escalated[i]),
            None,
            locked,
            tuple(milestones.get(i, ())),
        )
        for i in ids
    }
    return read, shown


async def service_status(
    session: AsyncSession, person: Person, today: date, policy: Policy
) -> list[OpenReturn]:
    """Every open return (and the latest of each measure with none open): for escalation
    owners, of their measures and their service's; for leadership and admins, of all."""
    query = select(Measure).where(Measure.active).order_by(Measure.code).options(*_PEOPLE_NOT_ROLES)
    if not (person.has_role(Role.LEADERSHIP) or person.has_role(Role.ADMIN)):
        if not person.has_role(Role.ESCALATION_OWNER):
            raise Refused(
                "status is for escalation owners and the Leadership Team. "
                "Type my measures to see your own returns."
            )
        query = query.where(
            or_(Measure.escalation_owner_id == person.id, Measure.service_id == person.service_id)
        )
    return await _returns_of_all(session, (await session.scalars(query)).all(), today, policy)
