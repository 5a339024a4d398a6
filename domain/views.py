"""What people are shown about returns, read from the database: a measure's open return
with its recent history, what a person owns, a service's status, and the receipt of a
stored return. Reads only; the use cases that change things are in domain/returns.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dates import LONDON
from domain.model import Delegate, Measure, Person, Return, Role, Target
from domain.numbers import format_figure
from domain.periods import Period
from domain.policy import Policy
from domain.ratings import Assessment, Direction, Rating
from domain.reminders import next_ask
from domain.reporting import latest_returns, load_calendar, rate
from domain.workdays import WorkingCalendar

HISTORY_PERIODS = 4

# The states of a return as people see them; "not available" is a return with a reason but
# no figure yet. The first three are still waiting for a figure.
WAITING = ("due", "overdue", "not available")


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
    state: str  # due, overdue, submitted, approved, returned, not available
    latest: Return | None
    target: Decimal | None
    assessment: Assessment
    history: list[HistoryPoint]
    next_ask: date | None

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


def today_in_london(now: datetime) -> date:
    return now.astimezone(LONDON).date()


def current_period(measure: Measure, today: date) -> Period:
    """The period a measure is being asked for: the latest one that has ended."""
    return Period.containing(today, measure.frequency).previous()


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


def has_figure(ret: Return | None) -> bool:
    """A return that carries a figure (or a key action's status), not only a reason."""
    return ret is not None and (ret.value is not None or bool(ret.status))


def shown_value(measure: Measure, ret: Return | None) -> str:
    """A return's figure (or key action status) as the council prints it."""
    if ret is None:
        return "—"
    if measure.is_key_action:
        return ret.status or "not available"
    if ret.value is None:
        return "not available"
    return format_figure(ret.value, measure.unit, measure.decimals)


def history_labels(period: Period) -> list[str]:
    """The period shown on a return card and the four before it, newest first."""
    periods = [period]
    for _ in range(HISTORY_PERIODS):
        periods.append(periods[-1].previous())
    return [p.label for p in periods]


def build_open_return(
    measure: Measure,
    period: Period,
    today: date,
    policy: Policy,
    calendar: WorkingCalendar,
    returns: dict[str, Return],
    targets: dict[str, Decimal],
) -> OpenReturn:
    """The open return from what has been read: the newest return and the target of (at
    least) this period and the four before it, by period label."""
    history = []
    for label in reversed(history_labels(period)[1:]):
        ret = returns.get(label)
        p = Period.parse(label)
        history.append(
            HistoryPoint(
                p,
                shown_value(measure, ret),
                rate(measure, p, targets.get(label), ret, policy.scheme).rating,
            )
        )
    ret = returns.get(period.label)
    deadline = deadline_of(measure, period, calendar)
    if ret is not None and ret.not_available_reason and not has_figure(ret):
        state = "not available"
    elif ret is not None:
        state = ret.state.value
    else:
        state = "overdue" if today > deadline else "due"
    target = None if measure.data_only else targets.get(period.label)
    cadence = policy.cadence.for_measure(measure.reminder_days)
    return OpenReturn(
        measure,
        period,
        deadline,
        state,
        ret,
        target,
        rate(measure, period, target, ret, policy.scheme),
        history,
        next_ask(deadline, today, calendar, cadence) if state in WAITING else None,
    )


async def targets_of(
    session: AsyncSession, measure_id: int, labels: list[str]
) -> dict[str, Decimal]:
    """A measure's targets for these periods, by period label."""
    rows = await session.execute(
        select(Target.period, Target.value).where(
            Target.measure_id == measure_id, Target.period.in_(labels)
        )
    )
    return {label: value for label, value in rows}


async def newest_by_period(
    session: AsyncSession, measure_id: int, labels: list[str]
) -> dict[str, Return]:
    """The newest version of a measure's return for each of these periods that has one."""
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
    """The current (or given) period's return for ``measure``, with the last four periods."""
    period = period or current_period(measure, today)
    labels = history_labels(period)
    returns = await newest_by_period(session, measure.id, labels)
    targets = await targets_of(session, measure.id, labels)
    return build_open_return(measure, period, today, policy, calendar, returns, targets)


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
    if not can_submit(person, measure):
        raise Refused(
            f"{measure.code} belongs to {measure.owner.name}; only its owner, a delegate or the "
            "performance team can send its return."
        )
    calendar = await load_calendar(session)
    return await open_return(session, measure, today, policy, calendar, period)


async def my_returns(
    session: AsyncSession, person: Person, today: date, policy: Policy
) -> list[OpenReturn]:
    """Every active measure and key action ``person`` owns or deputises for."""
    delegated = select(Delegate.measure_id).where(Delegate.person_id == person.id)
    measures = (
        await session.scalars(
            select(Measure)
            .where(Measure.active, or_(Measure.owner_id == person.id, Measure.id.in_(delegated)))
            .order_by(Measure.code)
        )
    ).all()
    calendar = await load_calendar(session)
    return [await open_return(session, m, today, policy, calendar) for m in measures]


async def service_status(
    session: AsyncSession, person: Person, today: date, policy: Policy
) -> list[OpenReturn]:
    """For escalation owners: their measures and their service's; for leadership and admins:
    every measure."""
    query = select(Measure).where(Measure.active).order_by(Measure.code)
    if not (person.has_role(Role.LEADERSHIP) or person.has_role(Role.ADMIN)):
        if not person.has_role(Role.ESCALATION_OWNER):
            raise Refused(
                "status is for escalation owners and the Leadership Team. "
                "Type my measures to see your own returns."
            )
        query = query.where(
            or_(Measure.escalation_owner_id == person.id, Measure.service_id == person.service_id)
        )
    measures = (await session.scalars(query)).all()
    calendar = await load_calendar(session)
    return [await open_return(session, m, today, policy, calendar) for m in measures]
