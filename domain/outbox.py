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
    Escalation,
    Measure,
    Notification,
    NotificationState,
    PeriodLock,
    Snooze,
)
from domain.notifications import Kind, insert_ignoring_duplicates, queue
from domain.periods import Period
from domain.policy import Policy
from domain.reminders import Cadence, SendWindow, Step, due_step, local_moment
from domain.reporting import latest_returns, load_calendar
from domain.views import (
    completed_in,
    deadline_of,
    has_figure,
    newest_by_period,
    open_periods,
    records,
)
from domain.weekly import SummarySchedule

REMINDER_KINDS = frozenset({Kind.REMINDER})
CHASER_KINDS = frozenset({Kind.CHASER, Kind.OVERDUE})
SWEEP_HOUR = 9  # reminders and chasers go at 09:00 London time (DESIGN.md "Cycle")


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
    theirs (domain/cover.py). Nothing is queued on a weekend or bank holiday."""
    result = SweepResult()
    calendar = await load_calendar(session)
    today = now.astimezone(timetable.window.zone).date()
    if not calendar.is_working_day(today):
        result.skip("not a working day")
        return result
    measures = (await session.scalars(select(Measure).where(Measure.active))).all()
    read = await records(session, measures)
    snoozes = {
        (s.measure_id, s.period, s.person_id): s.until
        for s in (await session.scalars(select(Snooze).where(Snooze.until > today))).all()
    }
    away = await cover.away_on(session, today)
    steps = {str(k) for k in kinds}
    nine = local_moment(today, time(SWEEP_HOUR), timetable.window.zone)
    send_at = timetable.window.next_allowed(max(now, nine), calendar)
    digests = overdue.Collected()
    for measure in measures:
        cadence = timetable.cadence.for_measure(measure.reminder_days)
        for period in open_periods(measure, read[measure.id], today, timetable.open_from):
            deadline = deadline_of(measure, period, calendar)
            # Past the escalation point a return is owed its escalation owner's digest every
            # working day while it is not acknowledged, however long ago that point was:
            # not through due_step, which lets a step lapse after a working week.
            escalation_day = calendar.add_working_days(deadline, cadence.escalate_after)
            if Kind.OVERDUE in steps and escalation_day <= today:
                await _escalate_overdue(session, measure, period, now, digests, result)
            step = due_step(deadline, today, calendar, cadence, steps)
            if step is not None and step.kind != Kind.OVERDUE:
                await _queue_step(
                    session, measure, period, deadline, step, snoozes, away, now, send_at, result
                )
    if digests.owners:
        result.queued += await overdue.queue_digests(session, digests.owners, today, now, send_at)
    if Kind.OVERDUE in steps:  # the chasers' sweep: milestones past their date, once each
        result.escalated += await milestones.escalate_past_due(session, now)
    return result


async def _escalate_overdue(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    now: datetime,
    digests: overdue.Collected,
    result: SweepResult,
) -> None:
    """A return overdue past the escalation point: its ``Escalation(reason="overdue")`` (which
    holds its acknowledgement) is raised once, and its escalation owner is owed today's digest
    (domain/overdue.py) while it is not acknowledged: one card a day for all their returns,
    never one per return."""
    if measure.escalation_owner_id is None:
        result.skip("no escalation owner")
        return
    raised = await session.execute(
        insert_ignoring_duplicates(
            session,
            Escalation,
            {
                "measure_id": measure.id,
                "period": period.label,
                "reason": overdue.REASON,
                "escalation_owner_id": measure.escalation_owner_id,
                "raised_at": now,
                "deep_dive_requested": False,
            },
        )
    )
    if cast(CursorResult[Any], raised).rowcount:
        result.escalated.append(f"{measure.code}:{period.label}")
    acknowledged = await session.scalar(
        select(Escalation.acknowledged_at).where(
            Escalation.measure_id == measure.id,
            Escalation.period == period.label,
            Escalation.reason == overdue.REASON,
        )
    )
    if acknowledged is not None:
        result.skip("acknowledged")
        return
    digests.add(measure.escalation_owner_id, f"{measure.code} {period.label}")


async def _queue_step(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    deadline: date,
    step: Step,
    snoozes: dict[tuple[int, str, int], date],
    away: cover.Away,
    now: datetime,
    send_at: datetime,
    result: SweepResult,
) -> None:
    """Queue the message an open return is owed today, to each of its recipients (an away
    owner's covers in their place: their message says whom they cover)."""
    if away.is_away(measure.owner_id):
        result.skip("owner away")
    for recipient in away.recipients(measure):
        person = recipient.person
        if (measure.id, period.label, person.id) in snoozes:
            result.skip("snoozed")
            continue
        payload: dict[str, Any] = {
            "code": measure.code,
            "period": period.label,
            "step": step.label,
            "deadline": deadline.isoformat(),
        }
        if recipient.covering is not None:
            payload["covering_id"] = recipient.covering.person_id
        key = await queue(
            session,
            Kind(step.kind),
            f"{measure.code}:{period.label}:{step.label}:{person.id}",
            person_id=person.id,
            payload=payload,
            not_before=send_at,
            now=now,
        )
        if key is not None:  # None when the same step was queued before
            result.queued.append(key)
        else:
            result.skip("queued before")


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
