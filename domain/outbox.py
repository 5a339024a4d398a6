"""The outbox: sweeps that queue reminders, chasers and overdue escalations as notification
rows with unique reason keys, and the claims by which a dispatcher takes rows to send.

Sweeps only insert rows, so a sweep run twice, late, or on two servers sends nothing twice.
A claim is one UPDATE … RETURNING over a subquery (FOR UPDATE SKIP LOCKED on PostgreSQL), so
two dispatchers never take the same row; a claim is a lease, so rows taken by a process that
died are taken again when it runs out (only a message in flight at the kill may repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement

from domain import cover, escalations, milestones, overdue, signoff
from domain.model import (
    Delegate,
    Escalation,
    Measure,
    MeasureKind,
    Notification,
    NotificationState,
    PeriodLock,
    Person,
    Snooze,
)
from domain.notifications import Kind, insert_ignoring_duplicates
from domain.periods import Frequency, Period
from domain.policy import Policy
from domain.reminders import Cadence, SendWindow, Step, due_step, local_moment
from domain.reporting import latest_returns, load_calendar
from domain.views import completed_in, has_figure, newest_by_period, open_periods_of
from domain.weekly import SummarySchedule

REMINDER_KINDS = frozenset({Kind.REMINDER})
CHASER_KINDS = frozenset({Kind.CHASER, Kind.OVERDUE})
SWEEP_HOUR = 9  # reminders and chasers go at 09:00 London time (DESIGN.md "Cycle")
CHUNK = 1000  # rows a sweep's statement writes, or ids it reads, at most


@dataclass(frozen=True)
class Timetable:
    """The council's reminder settings."""

    cadence: Cadence = field(default_factory=Cadence)
    window: SendWindow = field(default_factory=SendWindow)
    open_from: date | None = None  # see Policy.open_from
    summary: SummarySchedule = field(default_factory=SummarySchedule)  # the weekly summary


@dataclass
class SweepResult:
    queued: list[str] = field(default_factory=list)  # reason keys of new rows
    skipped: dict[str, int] = field(default_factory=dict)  # why returns were passed over
    escalated: list[str] = field(default_factory=list)  # "code:period" newly escalated as overdue

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


async def sweep(
    session: AsyncSession, now: datetime, timetable: Timetable, kinds: frozenset[Kind] | set[Kind]
) -> SweepResult:
    """Queue today's step for every open return (every period of every measure still
    waiting for its figure, however many periods have followed): reminders to the owner and
    delegates before the deadline, chasers after it, and from +5 working days an overdue
    escalation to the escalation owner (in their daily digest, every working day until it
    is acknowledged or arrives). Submitted returns get nothing; snoozed people get
    nothing until the snooze ends; an owner away gets nothing, whoever covers for them gets
    theirs (domain/cover.py). Nothing is queued on a weekend or bank holiday.

    A council has thousands of measures, so the sweep reads set-wise (the measures and their
    delegates as rows, their open periods from period labels alone, the snoozes and absences
    once), works out each (deadline, cadence)'s step once, and writes its rows in a few
    multi-row INSERT … ON CONFLICT DO NOTHING RETURNING statements, whose returned keys say
    which rows are new: no statement per measure, return or message."""
    result = SweepResult()
    calendar = await load_calendar(session)
    today = now.astimezone(timetable.window.zone).date()
    if not calendar.is_working_day(today):
        result.skip("not a working day")
        return result
    measures = await _swept_measures(session)
    periods = await open_periods_of(session, measures, today, timetable.open_from)
    snoozes = {
        (measure_id, period, person_id)
        for measure_id, period, person_id in await session.execute(
            select(Snooze.measure_id, Snooze.period, Snooze.person_id).where(Snooze.until > today)
        )
    }
    away = await cover.away_on(session, today)
    whole = await _read_whole(session, [m.id for m in measures if away.is_away(m.owner_id)])
    steps = {str(k) for k in kinds}
    nine = local_moment(today, time(SWEEP_HOUR), timetable.window.zone)
    send_at = timetable.window.next_allowed(max(now, nine), calendar)
    cadences: dict[str | None, Cadence] = {}
    owed: dict[tuple[date, Cadence], Step | None] = {}
    escalating: list[tuple[_Swept, Period]] = []
    messages: list[_Message] = []
    for measure in measures:
        if measure.reminder_days not in cadences:
            cadences[measure.reminder_days] = timetable.cadence.for_measure(measure.reminder_days)
        cadence = cadences[measure.reminder_days]
        for period in periods[measure.id]:
            deadline = calendar.deadline(period, measure.deadline_working_days, measure.code)
            # Past the escalation point a return is owed its escalation owner's digest every
            # working day while it is not acknowledged, however long ago that point was:
            # not through due_step, which lets a step lapse after a working week.
            if Kind.OVERDUE in steps and (
                calendar.add_working_days(deadline, cadence.escalate_after) <= today
            ):
                escalating.append((measure, period))
            if (deadline, cadence) not in owed:  # the same for every measure due that day
                owed[(deadline, cadence)] = due_step(deadline, today, calendar, cadence, steps)
            step = owed[(deadline, cadence)]
            if step is not None and step.kind != Kind.OVERDUE:
                messages += _step_messages(
                    measure, period, deadline, step, snoozes, away, whole, result
                )
    digests = await _escalate_overdue(session, escalating, now, result)
    await _queue_messages(session, messages, now, send_at, result)
    if digests.owners:
        result.queued += await overdue.queue_digests(session, digests.owners, today, now, send_at)
    if Kind.OVERDUE in steps:  # the chasers' sweep: milestones past their date, once each
        result.escalated += await milestones.escalate_past_due(session, now)
    return result


@dataclass(frozen=True, slots=True)
class _Swept:
    """What the sweep reads of an active measure, as a row: who its messages go to (its
    delegates' ids in email order, as ``Measure.delegates``) and what its timetable is."""

    id: int
    code: str
    kind: MeasureKind
    frequency: Frequency
    owner_id: int
    escalation_owner_id: int | None
    reminder_days: str | None
    deadline_working_days: int
    delegate_ids: tuple[int, ...]

    @property
    def is_key_action(self) -> bool:
        return self.kind is MeasureKind.KEY_ACTION


async def _swept_measures(session: AsyncSession) -> list[_Swept]:
    """Every active measure, by id, with its delegates: two statements however many."""
    delegates: dict[int, list[int]] = {}
    for measure_id, person_id in await session.execute(
        select(Delegate.measure_id, Delegate.person_id)
        .join(Person, Person.id == Delegate.person_id)
        .order_by(Delegate.measure_id, Person.email)
    ):
        delegates.setdefault(measure_id, []).append(person_id)
    rows = await session.execute(
        select(
            Measure.id,
            Measure.code,
            Measure.kind,
            Measure.frequency,
            Measure.owner_id,
            Measure.escalation_owner_id,
            Measure.reminder_days,
            Measure.deadline_working_days,
        )
        .where(Measure.active)
        .order_by(Measure.id)
    )
    return [_Swept(*row, tuple(delegates.get(row[0], ()))) for row in rows]


async def _read_whole(session: AsyncSession, ids: list[int]) -> dict[int, Measure]:
    """These measures (those of owners away today, who are few) as ORM objects, for
    ``cover.Away.recipients``, which reads their delegates and their owners' covers."""
    found: dict[int, Measure] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = select(Measure).where(Measure.id.in_(ids[start : start + CHUNK]))
        found.update((m.id, m) for m in (await session.scalars(chunk)).all())
    return found


@dataclass(frozen=True, slots=True)
class _Message:
    """A reminder or chaser a sweep owes someone, before it is inserted."""

    kind: Kind
    reason_key: str
    person_id: int
    payload: dict[str, Any]


def _step_messages(
    measure: _Swept,
    period: Period,
    deadline: date,
    step: Step,
    snoozes: set[tuple[int, str, int]],
    away: cover.Away,
    whole: dict[int, Measure],
    result: SweepResult,
) -> list[_Message]:
    """The message an open return is owed today, to each of its recipients (an away owner's
    covers in their place: their message says whom they cover)."""
    if away.is_away(measure.owner_id):
        result.skip("owner away")
    kind = Kind(step.kind)
    out = []
    for person_id, covering_id in _recipients(measure, away, whole):
        if (measure.id, period.label, person_id) in snoozes:
            result.skip("snoozed")
            continue
        payload: dict[str, Any] = {
            "code": measure.code,
            "period": period.label,
            "step": step.label,
            "deadline": deadline.isoformat(),
        }
        if covering_id is not None:
            payload["covering_id"] = covering_id
        key = f"{kind.value}:{measure.code}:{period.label}:{step.label}:{person_id}"
        out.append(_Message(kind, key, person_id, payload))
    return out


def _recipients(
    measure: _Swept, away: cover.Away, whole: dict[int, Measure]
) -> list[tuple[int, int | None]]:
    """``cover.Away.recipients`` from ids: (person id, id of the away owner they cover, or
    None), the owner first, then the delegates who are not away. An away owner's measure
    (rare) goes through ``Away.recipients`` itself, on the measure read ``whole``."""
    if away.is_away(measure.owner_id):
        return [
            (r.person.id, r.covering.person_id if r.covering is not None else None)
            for r in away.recipients(whole[measure.id])
        ]
    people = dict.fromkeys([measure.owner_id])
    people.update(dict.fromkeys(d for d in measure.delegate_ids if not away.is_away(d)))
    return [(person_id, None) for person_id in people]


async def _queue_messages(
    session: AsyncSession,
    messages: list[_Message],
    now: datetime,
    send_at: datetime,
    result: SweepResult,
) -> None:
    """Insert the messages' rows, a chunk per statement; each new row's reason key goes to
    ``result.queued`` (in the sweep's order), each already queued is counted as such."""
    new: set[str] = set()
    seen: set[str] = set()
    rows = []
    for message in messages:
        if message.reason_key in seen:
            continue
        seen.add(message.reason_key)
        rows.append(
            {
                "reason_key": message.reason_key,
                "kind": message.kind.value,
                "person_id": message.person_id,
                "conversation_id": None,
                "payload": message.payload,
                "not_before": send_at,
                "state": NotificationState.PENDING.value,
                "attempts": 0,
                "created_at": now,
            }
        )
    table = Notification.__table__
    for start in range(0, len(rows), CHUNK):
        inserted = await session.execute(
            insert_ignoring_duplicates(session, table).returning(table.c.reason_key),
            rows[start : start + CHUNK],
        )
        new.update(inserted.scalars())
    for message in messages:
        if message.reason_key in new:
            new.discard(message.reason_key)  # a key twice in one sweep: the second is a repeat
            result.queued.append(message.reason_key)
        else:
            result.skip("queued before")


async def _escalate_overdue(
    session: AsyncSession,
    returns: list[tuple[_Swept, Period]],
    now: datetime,
    result: SweepResult,
) -> overdue.Collected:
    """Returns overdue past the escalation point: each one's ``Escalation(reason="overdue")``
    (which holds its acknowledgement) is raised once, and its escalation owner is owed
    today's digest (domain/overdue.py) while it is not acknowledged: one card a day for all
    their returns, never one per return."""
    digests = overdue.Collected()
    owned = []
    for measure, period in returns:
        if measure.escalation_owner_id is None:
            result.skip("no escalation owner")
        else:
            owned.append((measure, period))
    if not owned:
        return digests
    table = Escalation.__table__
    raised: set[tuple[int, str]] = set()
    rows = [
        {
            "measure_id": measure.id,
            "period": period.label,
            "reason": overdue.REASON,
            "escalation_owner_id": measure.escalation_owner_id,
            "raised_at": now,
            "deep_dive_requested": False,
        }
        for measure, period in owned
    ]
    for start in range(0, len(rows), CHUNK):
        inserted = await session.execute(
            insert_ignoring_duplicates(session, table).returning(
                table.c.measure_id, table.c.period
            ),
            rows[start : start + CHUNK],
        )
        raised.update((measure_id, period) for measure_id, period in inserted)
    ids = sorted({measure.id for measure, _ in owned})
    acknowledged: set[tuple[int, str]] = set()
    for start in range(0, len(ids), CHUNK):
        acknowledged.update(
            (measure_id, period)
            for measure_id, period in await session.execute(
                select(Escalation.measure_id, Escalation.period).where(
                    Escalation.measure_id.in_(ids[start : start + CHUNK]),
                    Escalation.reason == overdue.REASON,
                    Escalation.acknowledged_at.is_not(None),
                )
            )
        )
    for measure, period in owned:
        if (measure.id, period.label) in raised:
            result.escalated.append(f"{measure.code}:{period.label}")
        if (measure.id, period.label) in acknowledged:
            result.skip("acknowledged")
            continue
        assert measure.escalation_owner_id is not None
        digests.add(measure.escalation_owner_id, f"{measure.code} {period.label}")
    return digests


def shard_of(shards: int) -> ColumnElement[int]:
    """Which of ``shards`` dispatchers a row belongs to: a person's messages always to the
    same one (so each conversation's rate is counted in one place), messages to a channel
    (and to nobody in particular) to the first."""
    return case(
        (Notification.conversation_id.is_(None), func.coalesce(Notification.person_id, 0) % shards),
        else_=0,
    )


async def claim(
    session: AsyncSession,
    now: datetime,
    worker: str,
    limit: int,
    lease: timedelta,
    shard: tuple[int, int] = (0, 1),
) -> list[int]:
    """Take up to ``limit`` due rows for ``worker`` until ``now + lease``; their ids. With
    ``shard`` (k, n), only the rows of the k-th of n dispatchers (counted from 0)."""
    due = (
        select(Notification.id)
        .where(
            Notification.state == NotificationState.PENDING,
            Notification.not_before <= now,
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .order_by(Notification.not_before, Notification.id)
        .limit(limit)
    )
    which, shards = shard
    if shards > 1:
        due = due.where(shard_of(shards) == which)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = await session.execute(
        update(Notification)
        .where(
            Notification.id.in_(due.scalar_subquery()),
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
        )
        .values(claimed_by=worker, claimed_until=now + lease)
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars().all())


async def renew(
    session: AsyncSession, notification_id: int, worker: str, now: datetime, lease: timedelta
) -> bool:
    """Extend ``worker``'s claim on a row just before sending it; False if the row is no
    longer pending or is no longer its own (its lease ran out and another dispatcher took
    it). A batch can take longer than a lease; checking row by row keeps each send single."""
    renewed = await session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.claimed_by == worker,
            Notification.state == NotificationState.PENDING,
        )
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], renewed).rowcount)


async def release(session: AsyncSession, ids: list[int], worker: str) -> None:
    """Give back ``worker``'s claim on rows it will not send after all (it is stopping)."""
    await session.execute(
        update(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.claimed_by == worker,
            Notification.state == NotificationState.PENDING,
        )
        .values(claimed_until=None)
        .execution_options(synchronize_session=False)
    )


async def still_wanted(
    session: AsyncSession, notification: Notification, today: date, policy: Policy | None = None
) -> str | None:
    """Checked again at send time, for the kinds whose message depends on data that can
    change while they wait: why a queued message about a return should no longer go (None if
    it should). A return submitted, a snooze set or its period signed off after the row was
    queued cancels it; an overdue digest is cancelled when none of its escalation owner's
    returns is still overdue."""
    if notification.kind in escalations.KINDS:
        return await escalations.still_wanted(session, notification)
    if notification.kind in signoff.KINDS:
        return await signoff.still_wanted(session, notification, policy or Policy())
    if notification.kind in cover.KINDS:
        return await cover.still_wanted(session, notification, today)
    payload = notification.payload or {}
    if notification.kind == Kind.OVERDUE and payload.get("for_id"):
        return await overdue.still_overdue(session, payload, today, policy or Policy())
    code, period = payload.get("code"), payload.get("period")
    if not code or not period:
        return None
    measure = await session.scalar(select(Measure).where(Measure.code == code))
    if measure is None or not measure.active:
        return "the measure is no longer active"
    if await session.get(PeriodLock, period) is not None:
        return "the period has been signed off"
    ret = (await latest_returns(session, [measure.id], [period])).get((measure.id, period))
    if has_figure(ret):
        return "the return has been submitted"
    if measure.is_key_action and completed_in(measure, await newest_by_period(session, measure.id)):
        return "the key action has been reported complete"
    asked = payload.get("step") == overdue.ASKED  # the escalation owner asked: no snooze holds it
    if notification.kind != Kind.OVERDUE and notification.person_id is not None and not asked:
        snoozed = await session.scalar(
            select(Snooze.until).where(
                and_(
                    Snooze.measure_id == measure.id,
                    Snooze.period == period,
                    Snooze.person_id == notification.person_id,
                    Snooze.until > today,
                )
            )
        )
        if snoozed is not None:
            return f"snoozed until {snoozed.isoformat()}"
    if notification.kind != Kind.OVERDUE and notification.person_id is not None:
        return await _cover_changed(session, notification, measure, today)
    return None


async def _cover_changed(
    session: AsyncSession, notification: Notification, measure: Measure, today: date
) -> str | None:
    """A reminder or chaser whose recipient is away now, or that was for a cover whose owner
    is back (the next sweep sends the owner's own)."""
    away = await cover.absence_of(session, notification.person_id or 0, today)
    if away is not None:
        return f"away until {away.until.isoformat()}"
    covering = (notification.payload or {}).get("covering_id")
    if covering and await cover.absence_of(session, int(covering), today) is None:
        return "the owner is back"
    return None
