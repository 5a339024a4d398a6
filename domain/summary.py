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

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import ClassVar

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.board import scope_of
from domain.dates import LONDON, long_day
from domain.deep_dives import HistoryLine, PlanItem, measure_record
from domain.model import (
    ActionPlan,
    ActionPlanStatus,
    DeepDive,
    Escalation,
    Measure,
    MeasureKind,
    Person,
    Return,
    Service,
    Target,
)
from domain.notifications import Kind, queue
from domain.numbers import Unit
from domain.people import why_unreachable
from domain.periods import Frequency, Period, periods_back
from domain.policy import Policy
from domain.questions import answered
from domain.ratings import MeasureRule, Polarity, Rating, Scheme, measure_rule
from domain.reporting import answers_of, load_calendar, milestones_of, rate
from domain.views import (
    Refused,
    can_submit,
    current_period,
    locked_periods,
    measure_by_code,
    shown_value,
    state_of,
)
from domain.workdays import WorkingCalendar


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
    # Every period a figure or rating it shows comes from (the open periods, and each
    # measure's latest rated ones): a later change to one of them is a restatement.
    shown: tuple[str, ...] = ()

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


# ---- building it ---------------------------------------------------------------------------

# How far back each frequency's open returns are looked for: a year and the period before.
WINDOW = {
    Frequency.MONTHLY: 13,
    Frequency.QUARTERLY: 5,
    Frequency.HALF_YEARLY: 3,
    Frequency.ANNUAL: 2,
}
TOP = (Rating.STRONG, Rating.GREEN)  # the ratings to celebrate
NEWEST = 3  # each frequency's newest periods, read for every measure


@dataclass
class _Figure:
    """The newest version of a return, as read (columns, not ORM objects: a council has
    thousands of measures)."""

    version: int
    value: Decimal | None
    status: str | None
    exceeding_expectations: bool = False

    @property
    def has_figure(self) -> bool:
        return self.value is not None or bool(self.status)


@dataclass(frozen=True, slots=True)
class _Measure:
    """A measure's columns as the summary reads them; rated and shown as a Measure is."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "id", "code", "title", "service_id", "frequency", "kind", "unit", "polarity",
        "decimals", "scheme", "tolerance", "data_only", "deadline_working_days", "due_date",
    )  # fmt: skip

    id: int
    code: str
    title: str
    service_id: int
    frequency: Frequency
    kind: MeasureKind
    unit: Unit
    polarity: Polarity
    decimals: int
    scheme: Scheme | None
    tolerance: str | None
    data_only: bool
    deadline_working_days: int
    due_date: date | None

    @property
    def is_key_action(self) -> bool:
        return self.kind is MeasureKind.KEY_ACTION

    def rule(self, default_scheme: Scheme) -> MeasureRule:
        return measure_rule(
            self.polarity, self.scheme, self.unit, self.decimals, self.tolerance, default_scheme
        )


def _labels(frequency: Frequency, today: date) -> list[str]:
    """The periods of a frequency the summary reads, newest first."""
    period = Period.containing(today, frequency).previous()
    labels = []
    for _ in range(WINDOW.get(frequency, 5)):
        labels.append(period.label)
        period = period.previous()
    return labels


def _day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


async def build(
    session: AsyncSession,
    now: datetime,
    policy: Policy,
    since: datetime | None,
    week_of: date | None = None,
) -> Summary:
    """The weekly summary as the database stands ``now``, for the summary day ``week_of``
    (the day it is built, if not given); movements are since ``since`` (the last summary
    that went; a week before ``now`` for the first)."""
    today = _day(now)
    since_at = since or now - timedelta(days=7)
    calendar = await load_calendar(session)
    locked = await locked_periods(session)
    # The measures' columns alone (thousands of them; their people are not needed).
    measures = [
        _Measure(*row)
        for row in await session.execute(
            select(*(getattr(Measure, name) for name in _Measure.COLUMNS))
            .where(Measure.active)
            .order_by(Measure.code)
        )
    ]
    service_names: dict[int, str] = {
        service_id: name
        for service_id, name in await session.execute(select(Service.id, Service.name))
    }
    frequencies = {m.frequency for m in measures}
    labels_of = {f: _labels(f, today) for f in frequencies}
    every_label = sorted({label for labels in labels_of.values() for label in labels})
    # Most measures have every period of their window in: only their newest periods are
    # read in full; the older ones only for measures with one missing (open, perhaps
    # overdue), or too few rated lately, which a count per measure finds first.
    newest = sorted({label for labels in labels_of.values() for label in labels[:NEWEST]})
    older = sorted(set(every_label) - set(newest))
    with_figure = or_(Return.value.is_not(None), Return.status.is_not(None))
    older_in: dict[int, int] = {}
    if older:
        older_in = {
            measure_id: count
            for measure_id, count in await session.execute(
                select(Return.measure_id, func.count(distinct(Return.period)))
                .where(Return.period.in_(older), with_figure)
                .group_by(Return.measure_id)
            )
        }
    now_figures: dict[tuple[int, str], _Figure] = {}
    then_figures: dict[tuple[int, str], _Figure] = {}
    targets: dict[tuple[int, str], Decimal] = {}

    async def read(labels: list[str], measure_ids: list[int] | None) -> None:
        returns = select(
            Return.measure_id,
            Return.period,
            Return.version,
            Return.value,
            Return.status,
            Return.exceeding_expectations,
            (Return.submitted_at <= since_at).label("by_then"),  # compared in SQL: no datetimes
        ).where(Return.period.in_(labels))
        goals = select(Target.measure_id, Target.period, Target.value).where(
            Target.period.in_(labels)
        )
        if measure_ids is not None:
            returns = returns.where(Return.measure_id.in_(measure_ids))
            goals = goals.where(Target.measure_id.in_(measure_ids))
        for (
            measure_id,
            label,
            version,
            value,
            status,
            exceeding,
            by_then,
        ) in await session.execute(returns):
            key = (measure_id, label)
            figure = _Figure(version, value, status, bool(exceeding))
            if key not in now_figures or now_figures[key].version < version:
                now_figures[key] = figure
            if by_then and (key not in then_figures or then_figures[key].version < version):
                then_figures[key] = figure
        for measure_id, label, value in await session.execute(goals):
            targets[(measure_id, label)] = value

    await read(newest, None)
    if older:

        def rated_in(figures: dict[tuple[int, str], _Figure], measure: _Measure) -> int:
            return sum(
                1
                for label in labels_of[measure.frequency][:NEWEST]
                if (f := figures.get((measure.id, label))) is not None and f.has_figure
            )

        more = [
            m.id
            for m in measures
            if older_in.get(m.id, 0) < len(labels_of[m.frequency][NEWEST:])
            or rated_in(now_figures, m) < 2
            or rated_in(then_figures, m) < 1
        ]
        if more:
            await read(older, more)
    # Each measure's first period in the window with a target or a return: nothing before it
    # is expected (as views.first_period: a measure set up this year was never asked for
    # last year); with neither, only its latest period is.
    parse = cache(Period.parse)  # a few dozen labels among 130,000 rows
    starts = {label: parse(label).start for label in every_label}
    first_seen: dict[int, date] = {}
    for measure_id, label in [*targets, *now_figures]:
        start = starts[label]
        if measure_id not in first_seen or start < first_seen[measure_id]:
            first_seen[measure_id] = start

    # A week ago most measures stood where they stand now: each version is rated once.
    lines_of: dict[tuple[int, str, int], MeasureLine] = {}
    milestones = await milestones_of(session)  # key actions': a milestone past its date

    def rated(
        measure: _Measure,
        measure_id: int,
        labels: list[str],
        figures: dict[tuple[int, str], _Figure],
        limit: int,
    ) -> list[MeasureLine]:
        """The measure's newest ``limit`` rated periods in the window, newest first."""
        lines: list[MeasureLine] = []
        for label in labels:
            if len(lines) == limit:
                break
            figure = figures.get((measure_id, label))
            if figure is None or not figure.has_figure:
                continue
            key = (measure_id, label, figure.version)
            line = lines_of.get(key)
            if line is None:
                target = None if measure.data_only else targets.get((measure_id, label))
                assessment = rate(
                    measure,
                    parse(label),
                    target,
                    figure,
                    policy.scheme,
                    milestones.get(measure_id, ()),
                )
                line = lines_of[key] = MeasureLine(
                    measure.code,
                    measure.title,
                    service_names[measure.service_id],
                    label,
                    shown_value(measure, figure),
                    assessment.rating,
                )
            lines.append(line)
        return lines

    services: dict[str, ServiceReturns] = {}
    counts_now: Counter[Rating] = Counter()
    counts_then: Counter[Rating] = Counter()
    counts_before: Counter[Rating] = Counter()
    by_service: dict[str, Counter[Rating]] = {}
    new_off_track, recoveries, strong = [], [], []
    periods_covered: set[str] = set()
    periods_shown: set[str] = set()  # every period a rating counted comes from
    for measure in measures:
        service = service_names[measure.service_id]
        measure_id = measure.id
        labels = labels_of[measure.frequency]
        first = first_seen.get(measure_id)
        if first is not None and policy.open_from is not None:  # never asked for before it
            first = max(first, Period.containing(policy.open_from, measure.frequency).start)
        expected = received = 0
        overdue = []
        for index, label in enumerate(labels):
            if label in locked:
                continue
            period = parse(label)
            if index > 0 and (first is None or period.start < first):
                continue  # before the measure's first target or return: never asked for
            found = now_figures.get((measure_id, label))
            has = found is not None and found.has_figure
            if index > 0 and has:
                continue  # an older period counts only while it is still open
            periods_covered.add(label)
            expected += 1
            if has:
                received += 1
                continue
            deadline = calendar.deadline(period, measure.deadline_working_days, measure.code)
            if deadline < today:
                late = calendar.working_days_between(deadline, today)
                overdue.append(
                    MeasureLine(
                        measure.code,
                        measure.title,
                        service,
                        label,
                        "—",
                        None,
                        note=f"due {long_day(deadline)}, {late} working day"
                        f"{'s' if late != 1 else ''} late",
                    )
                )
        entry = services.get(service) or ServiceReturns(service, 0, 0)
        services[service] = ServiceReturns(
            service,
            entry.expected + expected,
            entry.received + received,
            entry.overdue + tuple(overdue),
        )
        history = rated(measure, measure_id, labels, now_figures, 2)
        then = rated(measure, measure_id, labels, then_figures, 1)
        latest = history[0] if history else None
        latest_then = then[0] if then else None
        periods_shown.update(line.period for line in history)
        if latest is not None and latest.rating is not None:
            counts_now[latest.rating] += 1
            by_service.setdefault(service, Counter())[latest.rating] += 1
        if latest_then is not None and latest_then.rating is not None:
            counts_then[latest_then.rating] += 1
        if len(history) > 1 and history[1].rating is not None:
            counts_before[history[1].rating] += 1
        now_rating = latest.rating if latest else None
        then_rating = latest_then.rating if latest_then else None
        if latest is None or now_rating is None:
            continue
        moved = replace(latest, was=then_rating)
        if now_rating.off_track and not (then_rating and then_rating.off_track):
            new_off_track.append(moved)
        elif then_rating is not None and then_rating.off_track and not now_rating.off_track:
            recoveries.append(moved)
        if now_rating in TOP and then_rating not in TOP:
            strong.append(moved)

    order = [r for r in Rating if r in _scheme_ratings(policy.scheme)]
    order += [r for r in Rating if r not in order and (counts_now[r] or counts_then[r])]
    return Summary(
        week_of=week_of or today,
        since=since,
        scheme=policy.scheme,
        periods=tuple(sorted(periods_covered, key=_newest_first)),
        returns=tuple(sorted(services.values(), key=lambda s: s.service)),
        ratings=tuple(
            RatingCount(r, counts_now[r], counts_then[r], counts_before[r]) for r in order
        ),
        by_service={name: dict(counts) for name, counts in sorted(by_service.items())},
        new_off_track=tuple(new_off_track),
        recoveries=tuple(recoveries),
        escalations=tuple(await _escalations(session, since_at)),
        deep_dives=tuple(await _deep_dives(session, since_at)),
        actions_late=tuple(await _actions_late(session, today)),
        restatements=tuple(await _restatements(session, since_at)),
        strong=tuple(strong),
        unreachable=await _unreachable(session),
        shown=tuple(sorted(periods_covered | periods_shown, key=_newest_first)),
    )


def _scheme_ratings(scheme: Scheme) -> tuple[Rating, ...]:
    if scheme is Scheme.RAG:
        return (Rating.GREEN, Rating.AMBER, Rating.RED)
    return (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION)


def _newest_first(label: str) -> tuple[int, int]:
    period = Period.parse(label)
    return (-period.end.toordinal(), period.frequency.months)


async def _escalations(session: AsyncSession, since: datetime) -> list[EscalationLine]:
    """Escalations raised since the last summary, and whether they were acknowledged."""
    acknowledger = aliased(Person)
    rows = await session.execute(
        select(Escalation, Measure.code, Measure.title, Service.name, acknowledger.name)
        .join(Measure, Measure.id == Escalation.measure_id)
        .join(Service, Service.id == Measure.service_id)
        .outerjoin(acknowledger, acknowledger.id == Escalation.acknowledged_by_id)
        .where(Escalation.raised_at > since, Measure.active)
        .order_by(Escalation.raised_at, Measure.code)
    )
    return [
        EscalationLine(
            code,
            title,
            service,
            escalation.period,
            escalation.raised_at,
            escalation.acknowledged_at is not None,
            by,
        )
        for escalation, code, title, service, by in rows
    ]


async def _deep_dives(session: AsyncSession, since: datetime) -> list[MeasureLine]:
    """Deep-dive candidates put to the Leadership Team since the last summary, and those
    still waiting for their decision."""
    rows = await session.execute(
        select(DeepDive, Measure.code, Measure.title, Service.name)
        .join(Measure, Measure.id == DeepDive.measure_id)
        .join(Service, Service.id == Measure.service_id)
        .where(or_(DeepDive.flagged_at > since, DeepDive.decision.is_(None)), Measure.active)
        .order_by(DeepDive.flagged_at, Measure.code)
    )
    lines = []
    for dive, code, title, service in rows:
        why = (
            "asked for by its escalation owner"
            if dive.reason == "requested"
            else ("off track for periods running")
        )
        state = {"accepted": "accepted", "declined": "declined"}.get(
            dive.decision or "", "waiting for your decision"
        )
        lines.append(
            MeasureLine(code, title, service, dive.period, "", None, note=f"{why}; {state}")
        )
    return lines


async def _actions_late(session: AsyncSession, today: date) -> list[ActionLine]:
    """Open action-plan items past their date, the most overdue first."""
    owner = aliased(Person)
    rows = await session.execute(
        select(ActionPlan, Measure.code, Service.name, owner.name)
        .join(Measure, Measure.id == ActionPlan.measure_id)
        .join(Service, Service.id == Measure.service_id)
        .outerjoin(owner, owner.id == ActionPlan.owner_id)
        .where(
            Measure.active,
            ActionPlan.status == ActionPlanStatus.OPEN.value,
            ActionPlan.due_date < today,
        )
        .order_by(ActionPlan.due_date, Measure.code)
    )
    return [
        ActionLine(code, service, item.description, item.due_date, name)
        for item, code, service, name in rows
        if item.due_date is not None
    ]


async def _restatements(session: AsyncSession, since: datetime) -> list[RestatementLine]:
    """Figures changed after their period was signed off (or published), since the last
    summary."""
    rows = await session.execute(
        select(Return, Measure, Service.name)
        .join(Measure, Measure.id == Return.measure_id)
        .join(Service, Service.id == Measure.service_id)
        .where(Return.restated, Return.submitted_at > since, Measure.active)
        .order_by(Return.submitted_at, Measure.code)
    )
    return [
        RestatementLine(
            measure.code,
            measure.title,
            service,
            ret.period,
            ret.restated_from,
            shown_value(measure, ret),
            ret.correction_reason,
            ret.submitted_at,
        )
        for ret, measure, service in rows
    ]


async def _unreachable(session: AsyncSession) -> dict[str, int]:
    """How many people PerfBot cannot reach (Teams refused them), by service: the channel
    card names no one; the performance team has the names each morning."""
    rows = await session.execute(
        select(Service.name, func.count(Person.id))
        .join(Service, Service.id == Person.service_id, isouter=True)
        .where(Person.unreachable_reason.is_not(None))
        .group_by(Service.name)
    )
    return {name or "No service": count for name, count in rows}


# ---- a measure's detail, from a summary line -----------------------------------------------

DETAIL_PERIODS = 8  # periods of history the detail card shows
DETAIL_ITEMS = 5  # open action-plan items it lists


@dataclass(frozen=True)
class MeasureDetail:
    """A measure's history and commentary, as the summary's buttons show it."""

    measure: Measure
    history: list[HistoryLine]  # oldest first
    commentary: str | None
    action: str | None
    action_due: date | None
    commentary_period: str | None
    plan: list[PlanItem]
    more_items: int
    answers: tuple[tuple[str, str], ...] = ()  # the review questions': (heading, answer)


def _awaited(
    measure: Measure,
    line: HistoryLine,
    today: date,
    calendar: WorkingCalendar,
    locked: frozenset[str],
) -> str:
    """A period with no return yet, in words: overdue, or not yet due, with its deadline."""
    period = Period.parse(line.period)
    due = calendar.deadline(period, measure.deadline_working_days, measure.code)
    state = state_of(None, due, today, signed_off=line.period in locked)
    if state == "overdue":
        return f"overdue (due {long_day(due, year=False)})"
    if state == "due":
        return f"not due yet (due {long_day(due, year=False)})"
    return state  # signed off without a figure


async def detail(session: AsyncSession, code: str, today: date, policy: Policy) -> MeasureDetail:
    """The measure's last eight periods with figure, target and rating, the owner's latest
    words and its open action-plan items; Refused if there is no such active measure."""
    measure = await measure_by_code(session, code) if code else None
    if measure is None:
        raise Refused(f"There is no measure {code.strip().upper()!r} now, so there is no detail.")
    window = periods_back(current_period(measure, today), DETAIL_PERIODS)
    record = await measure_record(session, measure, window, today, policy, DETAIL_ITEMS)
    latest = record.latest
    calendar = await load_calendar(session)
    locked = await locked_periods(session)
    said = (await answers_of(session, [latest.id])).get(latest.id, {}) if latest else {}
    history = [
        line
        if line.shown != "—"
        else replace(line, shown=_awaited(measure, line, today, calendar, locked))
        for line in record.history
    ]
    return MeasureDetail(
        measure,
        history,
        latest.commentary if latest else None,
        latest.remedial_action if latest else None,
        latest.action_due if latest else None,
        latest.period if latest else None,
        record.plan,
        max(0, record.open_items - DETAIL_ITEMS),
        tuple((q.heading, text) for q, text in answered(said)),
    )


async def send_detail(
    session: AsyncSession, person: Person, code: str, pressed: str, now: datetime
) -> str | None:
    """A summary button pressed in a channel: queue the measure's detail to the presser's
    personal chat. What to say in the channel (None: nothing, it is on its way)."""
    measure = await measure_by_code(session, code) if code else None
    if measure is None:
        return f"There is no measure {code.strip().upper()!r} now, so there is no detail to send."
    why = await why_unreachable(session, person)
    if why is not None:
        return (
            f"{person.name}, I can't send {measure.code}'s detail to your chat with PerfBot "
            f"({why}). Open PerfBot in Teams, then press the button again."
        )
    await queue(
        session,
        Kind.MEASURE_DETAIL,
        f"{measure.code}:{person.id}:{pressed or now.isoformat()}",
        person_id=person.id,
        payload={"code": measure.code},
        now=now,
    )
    return None


async def may_see_detail(session: AsyncSession, person: Person, code: str) -> bool:
    """Whether ``person`` may see the measure ``code``'s detail: what the board would show
    them (board.scope_of), or a measure they send returns for. True for no such measure
    (``detail`` then says there is none)."""
    measure = await measure_by_code(session, code) if code else None
    if measure is None:
        return True
    scope = await scope_of(session, person)
    service = measure.service.name
    return scope.holds(service, measure.owner_id, measure.escalation_owner_id) or can_submit(
        person, measure
    )
