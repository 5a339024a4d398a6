"""Use cases for returns: what a person owns, submitting a figure or a key action's progress,
"not available yet", snoozing, delegating, and the status of a service. One transaction each;
no Teams here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from domain import plausibility
from domain.audit import record
from domain.dates import LONDON, parse_day
from domain.model import (
    Delegate,
    Escalation,
    Measure,
    Notification,
    NotificationState,
    PeriodLock,
    Person,
    Return,
    ReturnState,
    Role,
    Snooze,
    Target,
)
from domain.numbers import (
    FigureError,
    check_range,
    format_exact,
    format_figure,
    parse_figure,
    quantize,
)
from domain.periods import Period, PeriodError
from domain.ratings import (
    Assessment,
    Direction,
    KeyActionStatus,
    Rating,
    RatingError,
    Scheme,
    direction,
)
from domain.reporting import load_calendar, rate
from domain.workdays import WorkingCalendar

HISTORY_PERIODS = 4
REMINDER_OFFSETS = (-5, -1, 0)  # working days from the deadline (DESIGN.md "Cycle")
CHASER_OFFSETS = (1, 3)


class Refused(Exception):
    """A request PerfBot will not carry out; the message says why, for the person."""


# Input fields of a return, as the cards name them; errors are keyed by these.
ACTUAL, COMMENTARY, ACTION, ACTION_DUE, STATUS, REASON = (
    "actual",
    "commentary",
    "action",
    "action_due",
    "status",
    "reason",
)


@dataclass
class FormProblems(Exception):
    """What is wrong with a submitted card, field by field; nothing was stored."""

    errors: dict[str, str] = field(default_factory=dict)
    doubt: plausibility.Doubt | None = None
    summary: str = ""

    def __str__(self) -> str:
        return self.summary or "; ".join(self.errors.values())


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
    return calendar.deadline(period, measure.deadline_working_days)


def next_ask(deadline: date, today: date, calendar: WorkingCalendar) -> date | None:
    """The next working day PerfBot will remind or chase about a return, after today."""
    for offset in (*REMINDER_OFFSETS, *CHASER_OFFSETS):
        day = calendar.add_working_days(deadline, offset) if offset else deadline
        if day > today:
            return day
    return None


def can_submit(person: Person, measure: Measure) -> bool:
    """The owner, a delegate or an admin may send a measure's return."""
    return (
        measure.owner_id == person.id
        or any(d.id == person.id for d in measure.delegates)
        or person.has_role(Role.ADMIN)
    )


async def people_by_role(session: AsyncSession, role: Role) -> list[Person]:
    people = (await session.scalars(select(Person).order_by(Person.name))).all()
    return [p for p in people if p.has_role(role)]


async def find_person(
    session: AsyncSession, aad_object_id: str | None, email: str | None
) -> Person | None:
    """Match a Teams user: by Entra object id, else by email or UPN (remembering the id)."""
    if aad_object_id:
        person = await session.scalar(select(Person).where(Person.aad_object_id == aad_object_id))
        if person:
            return person
    if email:
        person = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
        if person and aad_object_id and person.aad_object_id != aad_object_id:
            person.aad_object_id = aad_object_id
        return person
    return None


async def measure_by_code(
    session: AsyncSession, code: str, people_roles: bool = True
) -> Measure | None:
    """The active measure with this code. Without ``people_roles`` the roles of its owner,
    escalation owner and delegates are not read (two queries fewer, for the submit path,
    which needs only who they are); touching them then raises rather than answer wrongly."""
    query = select(Measure).where(Measure.code == code.strip().upper(), Measure.active)
    if not people_roles:
        query = query.options(
            joinedload(Measure.owner).raiseload(Person.role_rows),
            joinedload(Measure.escalation_owner).raiseload(Person.role_rows),
            selectinload(Measure.delegates).raiseload(Person.role_rows),
        )
    return await session.scalar(query)


async def _latest(session: AsyncSession, measure_id: int, period: str) -> Return | None:
    return await session.scalar(
        select(Return)
        .where(Return.measure_id == measure_id, Return.period == period)
        .order_by(Return.version.desc())
        .limit(1)
    )


async def _newest_by_period(
    session: AsyncSession, measure_id: int, labels: list[str]
) -> dict[str, Return]:
    """The newest version of a measure's return for each of these periods that has one."""
    rows = (
        await session.scalars(
            select(Return)
            .where(Return.measure_id == measure_id, Return.period.in_(labels))
            .order_by(Return.version)
        )
    ).all()
    return {r.period: r for r in rows}


async def _target(session: AsyncSession, measure_id: int, period: str) -> Decimal | None:
    return await session.scalar(
        select(Target.value).where(Target.measure_id == measure_id, Target.period == period)
    )


def shown_value(measure: Measure, ret: Return | None) -> str:
    """A return's figure (or key action status) as the council prints it."""
    if ret is None:
        return "—"
    if measure.is_key_action:
        return ret.status or "not available"
    if ret.value is None:
        return "not available"
    return format_figure(ret.value, measure.unit, measure.decimals)


async def open_return(
    session: AsyncSession,
    measure: Measure,
    today: date,
    scheme: Scheme,
    calendar: WorkingCalendar,
    period: Period | None = None,
) -> OpenReturn:
    """The current (or given) period's return for ``measure``, with the last four periods."""
    period = period or current_period(measure, today)
    periods = [period]
    for _ in range(HISTORY_PERIODS):
        periods.append(periods[-1].previous())
    labels = [p.label for p in periods]
    latest = await _newest_by_period(session, measure.id, labels)
    targets = dict(
        (
            await session.execute(
                select(Target.period, Target.value).where(
                    Target.measure_id == measure.id, Target.period.in_(labels)
                )
            )
        ).all()
    )
    history = []
    for p in reversed(periods[1:]):
        ret = latest.get(p.label)
        assessment = rate(measure, p, targets.get(p.label), ret, scheme)
        history.append(HistoryPoint(p, shown_value(measure, ret), assessment.rating))
    ret = latest.get(period.label)
    deadline = deadline_of(measure, period, calendar)
    if ret is not None and ret.not_available_reason and ret.value is None and ret.status is None:
        state = "not available"
    elif ret is not None:
        state = ret.state.value
    else:
        state = "overdue" if today > deadline else "due"
    target = None if measure.data_only else targets.get(period.label)
    return OpenReturn(
        measure,
        period,
        deadline,
        state,
        ret,
        target,
        rate(measure, period, target, ret, scheme),
        history,
        next_ask(deadline, today, calendar)
        if state in ("due", "overdue", "not available")
        else None,
    )


async def my_returns(
    session: AsyncSession, person: Person, today: date, scheme: Scheme
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
    return [await open_return(session, m, today, scheme, calendar) for m in measures]


async def service_status(
    session: AsyncSession, person: Person, today: date, scheme: Scheme
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
    return [await open_return(session, m, today, scheme, calendar) for m in measures]


async def _is_locked(session: AsyncSession, period: Period) -> bool:
    return await session.get(PeriodLock, period.label) is not None


async def _checked_target(
    session: AsyncSession,
    person: Person,
    code: str,
    period_label: str,
    now: datetime,
    action: str,
) -> tuple[Measure, Period]:
    """The measure and period a card names, re-checked on the server: the card's hidden data
    is never trusted. A mismatch is refused and audited."""

    async def refuse(reason: str, message: str) -> Refused:
        # The caller commits this audit record and nothing else: a refusal stores no return.
        record(
            session,
            person.email,
            "refused",
            "return",
            f"{code} {period_label}",
            {"action": action, "reason": reason},
            now,
        )
        return Refused(message)

    measure = await measure_by_code(session, code, people_roles=False) if code else None
    if measure is None:
        raise await refuse("unknown measure", f"There is no measure {code!r}. Nothing was saved.")
    try:
        period = Period.parse(period_label)
    except PeriodError:
        raise await refuse(
            "bad period", "That card names no valid period. Nothing was saved."
        ) from None
    today = today_in_london(now)
    if period.frequency is not measure.frequency or period.end >= today:
        raise await refuse(
            "period not reportable",
            f"{measure.code} cannot take a return for {period.label}. Nothing was saved.",
        )
    if not can_submit(person, measure):
        raise await refuse(
            "not owner or delegate",
            f"Only the owner of {measure.code} ({measure.owner.name}), a delegate or the performance "
            "team can send its return. Nothing was saved.",
        )
    if await _is_locked(session, period):
        raise Refused(
            f"{period.label} has been signed off, so {measure.code} can no longer be changed here. "
            "Ask the performance team if the figure needs correcting."
        )
    return measure, period


@dataclass(frozen=True)
class SubmitReturn:
    """A return as typed on the card: every field a string, all re-checked here."""

    person_id: int
    code: str
    period: str
    actual: str = ""
    commentary: str = ""
    action: str = ""
    action_due: str = ""
    status: str = ""
    confirmed: str = ""
    card_id: str = ""  # the card's activity id: a double-click or retry sends the same one

    def idempotency_key(self) -> str:
        fields = [
            self.person_id,
            self.code,
            self.period,
            self.actual,
            self.commentary,
            self.action,
            self.action_due,
            self.status,
            self.card_id,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:40]


async def submit_return(
    session: AsyncSession, cmd: SubmitReturn, now: datetime, scheme: Scheme
) -> Receipt:
    """Validate, store, rate. Raises Refused or FormProblems, storing nothing (but the audit
    record of a refusal)."""
    person = await session.get(Person, cmd.person_id)
    assert person is not None
    measure, period = await _checked_target(session, person, cmd.code, cmd.period, now, "submit")
    key = cmd.idempotency_key()
    target = None if measure.data_only else await _target(session, measure.id, period.label)
    earlier = await session.scalar(select(Return).where(Return.idempotency_key == key))
    history = await _newest_by_period(session, measure.id, _labels_around(period))
    if earlier is not None:
        return _receipt(measure, period, earlier, None, scheme, target, history, duplicate=True)

    if measure.is_key_action:
        value, status, assessment = None, *_key_action_fields(cmd, measure, period, scheme)
    else:
        value = _figure(cmd, measure)
        status = None
        probe = Return(value=value)
        assessment = rate(measure, period, target, probe, scheme)
        _plausible(cmd, measure, period, value, history)
    _required_fields(cmd, measure, assessment)

    previous = history.get(period.label)
    version = previous.version + 1 if previous else 1
    ret = Return(
        measure_id=measure.id,
        period=period.label,
        version=version,
        value=value,
        status=status.value if status else None,
        commentary=cmd.commentary.strip(),
        remedial_action=cmd.action.strip() or None,
        action_due=parse_day(cmd.action_due) if cmd.action_due.strip() else None,
        state=ReturnState.SUBMITTED,
        submitted_by_id=person.id,
        submitted_at=now,
        source="teams",
        idempotency_key=key,
    )
    session.add(ret)
    record(
        session,
        person.email,
        "submit" if version == 1 else "correct",
        "return",
        f"{measure.code} {period.label}",
        {
            "actual": [
                shown_value(measure, previous) if previous else None,
                shown_value(measure, ret),
            ],
            "version": version,
        },
        now,
    )
    await _escalate_if_worst(session, measure, period, assessment, now)
    await session.flush()
    replaced = (
        shown_value(measure, previous) if previous and (previous.value or previous.status) else None
    )
    return _receipt(measure, period, ret, replaced, scheme, target, history)


def _figure(cmd: SubmitReturn, measure: Measure) -> Decimal:
    try:
        value = parse_figure(cmd.actual)
        check_range(value, measure.unit, allow_negative=measure.allow_negative)
    except FigureError as error:
        message = str(error)
        if message == "no figure was given":
            message = "Enter the figure for this period (or choose Not available yet)."
        raise FormProblems({ACTUAL: message[0].upper() + message[1:]}) from None
    return quantize(value, measure.decimals)


def _key_action_fields(
    cmd: SubmitReturn, measure: Measure, period: Period, scheme: Scheme
) -> tuple[KeyActionStatus, Assessment]:
    if not cmd.status.strip():
        raise FormProblems({STATUS: "Choose a status: complete, on track, some risk or unlikely."})
    try:
        status = KeyActionStatus.parse(cmd.status)
    except RatingError as error:
        raise FormProblems({STATUS: str(error)[0].upper() + str(error)[1:]}) from None
    probe = Return(status=status.value)
    return status, rate(measure, period, None, probe, scheme)


def _required_fields(cmd: SubmitReturn, measure: Measure, assessment: Assessment) -> None:
    errors = {}
    if not cmd.commentary.strip():
        errors[COMMENTARY] = "Add a short commentary: what the figure shows and why."
    slipping = measure.is_key_action and cmd.status.strip().lower() in ("some risk", "unlikely")
    if assessment.off_track and not measure.is_key_action:
        if not cmd.action.strip():
            errors[ACTION] = "It is off track: say what action will bring it back on track."
        if not cmd.action_due.strip():
            errors[ACTION_DUE] = "It is off track: say by when it should be back on track."
    if slipping and not cmd.action_due.strip():
        errors[ACTION_DUE] = "It is slipping: give the revised date."
    if cmd.action_due.strip():
        try:
            parse_day(cmd.action_due)
        except ValueError as error:
            errors[ACTION_DUE] = str(error)[0].upper() + str(error)[1:]
    if errors:
        summary = None
        if assessment.off_track and not measure.is_key_action:
            summary = f"{assessment.explanation} Off-track figures need an action and a date."
        raise FormProblems(errors, summary=summary or "Please complete the fields marked below.")


PLAUSIBILITY_PERIODS = 8  # how far back a new figure is compared with


def _labels_around(period: Period) -> list[str]:
    """The periods a submission reads: this one, the eight before it (plausibility and
    direction of travel) and the same period last year."""
    labels = [period.label]
    current = period
    for _ in range(PLAUSIBILITY_PERIODS):
        current = current.previous()
        labels.append(current.label)
    last_year = period.same_period_last_year().label
    if last_year not in labels:
        labels.append(last_year)
    return labels


def _plausible(
    cmd: SubmitReturn,
    measure: Measure,
    period: Period,
    value: Decimal,
    history: dict[str, Return],
) -> None:
    if cmd.confirmed.strip() and cmd.confirmed.strip() == cmd.actual.strip():
        return  # the person has already seen the query and confirmed this figure
    earlier = [history.get(p) for p in _labels_around(period)[1 : PLAUSIBILITY_PERIODS + 1]]
    values = [r.value for r in earlier if r is not None and r.value is not None]
    doubt = plausibility.check(
        value,
        values,
        cmd.actual.strip(),
        lambda d: format_exact(d, measure.unit, measure.decimals),
    )
    if doubt is not None:
        raise FormProblems({ACTUAL: doubt.message}, doubt=doubt, summary=doubt.message)


async def _escalate_if_worst(
    session: AsyncSession, measure: Measure, period: Period, assessment: Assessment, now: datetime
) -> None:
    """Action (or Red) goes to the escalation owner at once (DESIGN.md "Cycle")."""
    rating = assessment.rating
    if rating is None or not rating.is_worst or measure.escalation_owner_id is None:
        return
    existing = await session.scalar(
        select(Escalation).where(
            Escalation.measure_id == measure.id,
            Escalation.period == period.label,
            Escalation.reason == "off-track",
        )
    )
    if existing is not None:
        return
    session.add(
        Escalation(
            measure_id=measure.id,
            period=period.label,
            reason="off-track",
            escalation_owner_id=measure.escalation_owner_id,
            raised_at=now,
        )
    )
    session.add(
        Notification(
            reason_key=f"escalation:{measure.code}:{period.label}:off-track",
            kind="escalation",
            person_id=measure.escalation_owner_id,
            payload={
                "code": measure.code,
                "period": period.label,
                "rating": rating.word,
                "explanation": assessment.explanation,
            },
            not_before=now,
            state=NotificationState.PENDING,
            created_at=now,
        )
    )


def _receipt(
    measure: Measure,
    period: Period,
    ret: Return,
    replaced: str | None,
    scheme: Scheme,
    target: Decimal | None,
    history: dict[str, Return],
    duplicate: bool = False,
) -> Receipt:
    assessment = rate(measure, period, target, ret, scheme)
    before = history.get(period.previous().label)
    last_year = history.get(period.same_period_last_year().label)
    value = ret.value
    rating = assessment.rating
    if rating is not None and rating.is_worst and measure.escalation_owner:
        steps = (
            f"Because it is rated {rating.word}, {measure.escalation_owner.name} has been sent an "
            "escalation with your commentary and action."
        )
    elif assessment.off_track:
        steps = "It is off track: your action and date are recorded and will be followed up next period."
    else:
        steps = "Nothing more is needed for this period. Thank you."
    return Receipt(
        measure,
        period,
        shown_value(measure, ret),
        assessment,
        None
        if measure.is_key_action
        else direction(value, before.value if before else None, measure.polarity),
        None
        if measure.is_key_action
        else direction(value, last_year.value if last_year else None, measure.polarity),
        ret.version,
        replaced,
        steps,
        duplicate,
    )


async def not_available(
    session: AsyncSession, person: Person, code: str, period_label: str, reason: str, now: datetime
) -> tuple[Measure, Period, date | None]:
    """Record why a figure is not available yet; returns when PerfBot will ask again."""
    measure, period = await _checked_target(
        session, person, code, period_label, now, "not available"
    )
    if not reason.strip():
        raise FormProblems({REASON: "Say why the figure is not available yet."})
    previous = await _latest(session, measure.id, period.label)
    if previous is not None and (previous.value is not None or previous.status):
        raise Refused(
            f"{measure.code} {period.label} already has a figure ({shown_value(measure, previous)}). "
            "Send a correction instead."
        )
    if previous is None or previous.not_available_reason != reason.strip():
        session.add(
            Return(
                measure_id=measure.id,
                period=period.label,
                version=previous.version + 1 if previous else 1,
                not_available_reason=reason.strip(),
                state=ReturnState.DUE,
                submitted_by_id=person.id,
                submitted_at=now,
                source="teams",
            )
        )
        record(
            session,
            person.email,
            "not available",
            "return",
            f"{measure.code} {period.label}",
            {"reason": reason.strip()},
            now,
        )
    calendar = await load_calendar(session)
    today = today_in_london(now)
    return measure, period, next_ask(deadline_of(measure, period, calendar), today, calendar)


async def snooze(
    session: AsyncSession, person: Person, code: str, until_text: str, now: datetime
) -> tuple[Measure, Period, date, bool]:
    """No reminders for a return until a day; never past its deadline. Returns the measure,
    period, the day kept and whether it was brought forward to the deadline."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(
            f"There is no measure {code.strip().upper()!r}. Type my measures to see yours."
        )
    if not can_submit(person, measure):
        raise Refused(
            f"You are not the owner or a delegate of {measure.code}, so there is nothing to snooze."
        )
    try:
        until = parse_day(until_text)
    except ValueError as error:
        raise Refused(f"{error}, as in snooze {measure.code} until 2025-07-18.") from None
    today = today_in_london(now)
    if until <= today:
        raise Refused(f"{until:%d %B %Y} is not in the future: choose a later day.")
    calendar = await load_calendar(session)
    period = current_period(measure, today)
    deadline = deadline_of(measure, period, calendar)
    if deadline < today:
        raise Refused(
            f"{measure.code}'s return for {period.label} was due on {deadline:%A} {deadline.day} "
            f"{deadline:%B %Y}, so it can't be snoozed now. Send it with submit {measure.code}."
        )
    capped = until > deadline
    if capped:
        until = deadline
    existing = await session.scalar(
        select(Snooze).where(
            Snooze.measure_id == measure.id,
            Snooze.period == period.label,
            Snooze.person_id == person.id,
        )
    )
    if existing is None:
        session.add(
            Snooze(
                measure_id=measure.id,
                period=period.label,
                person_id=person.id,
                until=until,
                created_at=now,
            )
        )
    else:
        existing.until = until
    record(
        session,
        person.email,
        "snooze",
        "return",
        f"{measure.code} {period.label}",
        {"until": until.isoformat()},
        now,
    )
    return measure, period, until, capped


async def delegate(
    session: AsyncSession, person: Person, code: str, email: str, now: datetime
) -> tuple[Measure, Person, bool]:
    """The owner (or an admin) adds a delegate; returns whether they were new."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(
            f"There is no measure {code.strip().upper()!r}. Type my measures to see yours."
        )
    if measure.owner_id != person.id and not person.has_role(Role.ADMIN):
        raise Refused(
            f"Only the owner of {measure.code} ({measure.owner.name}) or the performance team can "
            "add a delegate."
        )
    target = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if target is None:
        raise Refused(
            f"{email.strip()} is not someone PerfBot knows. Ask the performance team to add them first."
        )
    if target.id == measure.owner_id:
        raise Refused(f"{target.name} already owns {measure.code}.")
    if any(d.id == target.id for d in measure.delegates):
        return measure, target, False
    session.add(Delegate(measure_id=measure.id, person_id=target.id))
    record(
        session,
        person.email,
        "add delegate",
        "measure",
        measure.code,
        {"delegates": [None, target.email]},
        now,
    )
    session.add(
        Notification(
            reason_key=f"delegated:{measure.code}:{target.email}:{now.date().isoformat()}",
            kind="delegated",
            person_id=target.id,
            payload={"code": measure.code, "by": person.name},
            not_before=now,
            state=NotificationState.PENDING,
            created_at=now,
        )
    )
    await session.flush()
    await session.refresh(measure, ["delegates"])
    return measure, target, True


def unknown_person_notification(
    admins: Sequence[Person], user_key: str, name: str, email: str | None, now: datetime
) -> list[Notification]:
    """Tell the performance team, once per person, that someone unknown tried PerfBot."""
    return [
        Notification(
            reason_key=f"unknown-user:{user_key}:{admin.id}",
            kind="unknown-user",
            person_id=admin.id,
            payload={"name": name, "email": email},
            not_before=now,
            state=NotificationState.PENDING,
            created_at=now,
        )
        for admin in admins
    ]
