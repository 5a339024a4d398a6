"""Overdue escalations (issue 12 "Overdue escalations"): one digest a working day to each
escalation owner listing every return of theirs still overdue past the escalation point,
and what they can do from it: **Chase for me** (a firmer chaser to the owner, naming them)
and **Acknowledge**.

"Overdue past the escalation point" is the open-returns view's state ``escalated``
(domain/views.py): the return has no figure, its deadline has passed and the sweep has
raised its ``Escalation(reason="overdue")``. Nothing here decides "overdue" another way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, cover, views
from domain.dates import LONDON, long_day
from domain.model import (
    Escalation,
    Measure,
    Notification,
    NotificationState,
    PeriodLock,
    Person,
    Role,
    Service,
)
from domain.notifications import Kind, queue
from domain.people import performance_team, why_unreachable
from domain.periods import Period, PeriodError
from domain.policy import Policy
from domain.reporting import load_calendar

MAX_ITEMS = 15  # returns listed on one card (the rest are counted): keeps it under 28 KB
REASON = "overdue"  # Escalation.reason of an overdue escalation
ASKED = "asked"  # the step label of a chaser an escalation owner asked for


@dataclass(frozen=True)
class Acknowledged:
    by: str
    at: datetime


@dataclass(frozen=True)
class OverdueItem:
    """One return on the digest, with what has been done about it."""

    item: views.OpenReturn
    owner: str  # the measure owner's name
    reminders: tuple[date, ...] = ()  # days reminders were sent (to anyone)
    chasers: tuple[date, ...] = ()  # days chasers were sent (to anyone)
    acknowledged: Acknowledged | None = None
    chased_today: datetime | None = None  # when "Chase for me" was pressed today
    chased_by: str = ""  # and by whom


@dataclass(frozen=True)
class Digest:
    """What an escalation owner's overdue card shows (or a copy of it, for someone else)."""

    escalation_owner_id: int
    escalation_owner: str
    items: list[OverdueItem]
    more: int = 0  # overdue returns not listed (over MAX_ITEMS)
    unreachable: str | None = None  # why PerfBot cannot reach the escalation owner (a copy)
    note: str = ""  # what the last button press did
    services: tuple[int, ...] | None = None  # a leadership contact's copy: their services only


@dataclass(frozen=True)
class Outcome:
    """What a button press did: the sentence to show, and whose digest to show it on."""

    note: str
    refused: bool = False
    not_theirs: tuple[str, str] | None = None  # refused: (escalation owner, measure code)


def _day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


async def overdue_returns(
    session: AsyncSession,
    escalation_owner_id: int,
    today: date,
    policy: Policy,
    services: Iterable[int] | None = None,
) -> list[views.OpenReturn]:
    """Every return of the measures ``escalation_owner_id`` is escalation owner for that is
    still overdue past the escalation point today, by measure code then period."""
    query = select(Measure).where(
        Measure.active, Measure.escalation_owner_id == escalation_owner_id
    )
    if services is not None:
        query = query.where(Measure.service_id.in_(list(services)))
    measures = (await session.scalars(query.order_by(Measure.code))).all()
    if not measures:
        return []
    calendar = await load_calendar(session)
    read = await views.records(session, measures)
    return [
        item
        for m in measures
        for item in views.returns_of(m, read[m.id], today, policy, calendar)
        # A measure with nothing open shows its latest period, which may be signed off.
        if item.state == "escalated" and item.period.label not in read[m.id].locked
    ]


def _prefix(kind: str, code: str, period: str) -> str:
    return f"{kind}:{code}:{period}:"


async def _sent_days(session: AsyncSession, item: views.OpenReturn) -> dict[str, list[date]]:
    """The days reminders and chasers about this return were sent, by kind."""
    code, label = item.measure.code, item.period.label
    out: dict[str, list[date]] = {Kind.REMINDER: [], Kind.CHASER: []}
    for kind in (Kind.REMINDER, Kind.CHASER):
        rows = await session.scalars(
            select(Notification.sent_at).where(
                Notification.kind == kind.value,
                Notification.state == NotificationState.SENT,
                Notification.reason_key.startswith(_prefix(kind, code, label), autoescape=True),
            )
        )
        out[kind] = sorted({_day(at) for at in rows if at is not None})
    return out


async def _chased_on(
    session: AsyncSession, code: str, label: str, day: date
) -> Notification | None:
    """The first "Chase for me" chaser queued about this return on ``day``."""
    return await session.scalar(
        select(Notification)
        .where(
            Notification.kind == Kind.CHASER.value,
            Notification.reason_key.startswith(
                f"{_prefix(Kind.CHASER, code, label)}{ASKED}:{day.isoformat()}:", autoescape=True
            ),
        )
        .order_by(Notification.created_at, Notification.id)
        .limit(1)
    )


async def _escalation(session: AsyncSession, measure_id: int, label: str) -> Escalation | None:
    return await session.scalar(
        select(Escalation).where(
            Escalation.measure_id == measure_id,
            Escalation.period == label,
            Escalation.reason == REASON,
        )
    )


async def digest(
    session: AsyncSession,
    escalation_owner_id: int,
    now: datetime,
    policy: Policy,
    services: Iterable[int] | None = None,
    note: str = "",
) -> Digest:
    """The escalation owner's overdue card as it stands now."""
    today = _day(now)
    owner = await session.get(Person, escalation_owner_id)
    scope = tuple(services) if services is not None else None
    found = await overdue_returns(session, escalation_owner_id, today, policy, scope)
    items = []
    for item in found[:MAX_ITEMS]:
        sent = await _sent_days(session, item)
        escalation = await _escalation(session, item.measure.id, item.period.label)
        acknowledged = None
        if escalation is not None and escalation.acknowledged_at is not None:
            by = (
                await session.get(Person, escalation.acknowledged_by_id)
                if escalation.acknowledged_by_id
                else None
            )
            acknowledged = Acknowledged(by.name if by else "someone", escalation.acknowledged_at)
        chased = await _chased_on(session, item.measure.code, item.period.label, today)
        items.append(
            OverdueItem(
                item,
                item.measure.owner.name,
                tuple(sent[Kind.REMINDER]),
                tuple(sent[Kind.CHASER]),
                acknowledged,
                chased.created_at if chased is not None else None,
                str((chased.payload or {}).get("asked_by", "")) if chased is not None else "",
            )
        )
    why = await why_unreachable(session, owner) if owner is not None else None
    return Digest(
        escalation_owner_id,
        owner.name if owner is not None else "the escalation owner",
        items,
        max(0, len(found) - MAX_ITEMS),
        why,
        note,
        scope,
    )


async def still_overdue(
    session: AsyncSession, payload: dict[str, Any], today: date, policy: Policy
) -> str | None:
    """Checked at send time for a digest row: why it should no longer go (None if it should)."""
    services = payload.get("services")
    found = await overdue_returns(session, int(payload["for_id"]), today, policy, services)
    if not found:
        return "nothing is overdue past the escalation point any more"
    if payload.get("for"):  # a copy, made because the escalation owner could not be reached
        owner = await session.get(Person, int(payload["for_id"]))
        if owner is not None and await why_unreachable(session, owner) is None:
            return f"{owner.name} can be reached now and is sent their own card"
    return None


# ---- queueing ------------------------------------------------------------------------------


async def queue_digests(
    session: AsyncSession,
    owners: dict[int, list[str]],
    today: date,
    now: datetime,
    send_at: datetime,
) -> list[str]:
    """Queue today's digest for each escalation owner (by id, with the returns that brought
    it): one row per owner per working day, rendered when it goes. An escalation owner
    PerfBot cannot reach is never a silent failure: each of the performance team gets a
    copy naming them and why, and so does the leadership contact of each service concerned
    (their services' returns only). Returns the reason keys queued."""
    queued: list[str] = []
    for owner_id, labels in owners.items():
        owner = await session.get(Person, owner_id)
        if owner is None:
            continue
        base = f"{owner.id}:{today.isoformat()}"
        payload: dict[str, Any] = {
            "for_id": owner.id,
            "day": today.isoformat(),
            "returns": sorted(labels),
        }
        key = await queue(
            session,
            Kind.OVERDUE,
            base,
            person_id=owner.id,
            payload=payload,
            not_before=send_at,
            now=now,
        )
        if key is not None:
            queued.append(key)
        why = await why_unreachable(session, owner)
        if why is None:
            continue
        copy = {**payload, "for": owner.name, "why": why}
        for admin in await performance_team(session):
            if admin.id == owner.id:
                continue
            key = await queue(
                session,
                Kind.OVERDUE,
                f"{base}:via:{admin.id}",
                person_id=admin.id,
                payload=copy,
                not_before=send_at,
                now=now,
            )
            if key is not None:
                queued.append(key)
        for contact_id, services in (await _leadership_contacts(session, owner.id)).items():
            if contact_id == owner.id:
                continue
            key = await queue(
                session,
                Kind.OVERDUE,
                f"{base}:via:{contact_id}",
                person_id=contact_id,
                payload={**copy, "services": services},
                not_before=send_at,
                now=now,
            )
            if key is not None:
                queued.append(key)
    return queued


async def _leadership_contacts(session: AsyncSession, owner_id: int) -> dict[int, list[int]]:
    """The leadership contacts of the services of an escalation owner's measures, each with
    the services they are the contact for."""
    rows = await session.execute(
        select(Service.leadership_contact_id, Service.id)
        .join(Measure, Measure.service_id == Service.id)
        .where(
            Measure.active,
            Measure.escalation_owner_id == owner_id,
            Service.leadership_contact_id.is_not(None),
        )
        .distinct()
    )
    out: dict[int, list[int]] = {}
    for contact_id, service_id in rows:
        if contact_id is not None:
            out.setdefault(contact_id, []).append(service_id)
    return {k: sorted(v) for k, v in out.items()}


# ---- buttons -------------------------------------------------------------------------------


def may_act(person: Person, measure: Measure) -> bool:
    """The escalation owner, the performance team, and the service's leadership contact (who
    is sent the card when the escalation owner cannot be reached) may act on the card."""
    return (
        measure.escalation_owner_id == person.id
        or person.has_role(Role.ADMIN)
        or (measure.service is not None and measure.service.leadership_contact_id == person.id)
    )


def scope_for(
    person: Person, escalation_owner_id: int, services: Sequence[int]
) -> list[int] | None:
    """Which services' returns a person's copy of the card shows: all (None) for the
    escalation owner and the performance team, else the services they lead."""
    if person.id == escalation_owner_id or person.has_role(Role.ADMIN):
        return None
    return list(services)


async def led_services(session: AsyncSession, person: Person) -> list[int]:
    return list(
        await session.scalars(select(Service.id).where(Service.leadership_contact_id == person.id))
    )


async def _find(
    session: AsyncSession, person: Person, code: str, label: str, what: str, now: datetime
) -> tuple[Measure, Period] | Outcome:
    measure = await views.measure_by_code(session, code) if code else None
    try:
        period = Period.parse(label)
    except PeriodError:
        period = None
    if measure is None or period is None:
        return Outcome(f"I can't find the return {code} {label}: nothing was done.", refused=True)
    if not may_act(person, measure):
        audit.record(
            session,
            person.email,
            f"refused {what}",
            "escalation",
            f"{measure.code} {period.label}",
            {"why": "not the escalation owner"},
            now,
        )
        owner = (
            measure.escalation_owner.name if measure.escalation_owner else "its escalation owner"
        )
        return Outcome(_not_theirs(owner, [measure.code]), True, (owner, measure.code))
    return measure, period


def _not_theirs(owner: str, codes: Sequence[str]) -> str:
    return (
        f"Only {owner} (the escalation owner for {views.in_words(codes)}) or the performance team "
        "can do that, so nothing was changed."
    )


def _at(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M}"


async def chase_for_me(
    session: AsyncSession,
    person: Person,
    code: str,
    label: str,
    now: datetime,
    policy: Policy,
) -> Outcome:
    """Queue a firmer chaser about an overdue return to its owner and delegates, naming who
    asked for it: once per return a day."""
    found = await _find(session, person, code, label, "chase", now)
    if isinstance(found, Outcome):
        return found
    measure, period = found
    today = _day(now)
    calendar = await load_calendar(session)
    item = await views.open_return(session, measure, today, policy, calendar, period)
    title = f"{measure.code} for {period.label}"
    if item.state not in views.WAITING:
        return Outcome(f"{title}: it has arrived since, so there is nothing to chase.")
    if await session.get(PeriodLock, period.label) is not None:
        return Outcome(
            f"{title}: {period.label} has been signed off, so its return is no longer asked "
            "for and there is nothing to chase."
        )
    if item.state not in views.OVERDUE:
        return Outcome(
            f"{title} is not due until {long_day(item.deadline)}, so there is nothing to chase."
        )
    before = await _chased_on(session, measure.code, period.label, today)
    if before is not None:
        who = (before.payload or {}).get("asked_by", "someone")
        return Outcome(
            f"{title} was already chased today at {_at(before.created_at)} (asked by {who}): "
            "one firmer chaser a day is enough. Nothing more was sent."
        )
    escalation_owner = measure.escalation_owner
    # The owner and delegates; an away owner's covers instead (domain/cover.py).
    sent_to = (await cover.away_on(session, today)).recipients(measure)
    recipients = {r.person.id: r.person for r in sent_to}
    payload: dict[str, Any] = {
        "code": measure.code,
        "period": period.label,
        "step": ASKED,
        "deadline": item.deadline.isoformat(),
        "asked_by": person.name,
        "asked_by_id": person.id,
        "for": escalation_owner.name if escalation_owner else "",
    }
    for recipient in sent_to:
        covering = recipient.covering
        await queue(
            session,
            Kind.CHASER,
            f"{measure.code}:{period.label}:{ASKED}:{today.isoformat()}:{recipient.person.id}",
            person_id=recipient.person.id,
            payload={**payload, "covering_id": covering.person_id} if covering else payload,
            now=now,
        )
    names = [r.name for r in recipients.values()]
    audit.record(
        session,
        person.email,
        "chase",
        "escalation",
        f"{measure.code} {period.label}",
        {"to": names},
        now,
    )
    return Outcome(
        f"Chased {title}: a firmer chaser naming you is queued for {views.in_words(names)}, "
        "asking for the return today or the reason it is not available."
    )


async def acknowledge(
    session: AsyncSession,
    person: Person,
    returns: Sequence[tuple[str, str]],
    now: datetime,
    policy: Policy,
) -> Outcome:
    """Acknowledge the overdue escalations of these returns (code, period): who and when is
    recorded once; a second press says who acknowledged when. A return that has arrived
    since needs no acknowledging and is left as it is."""
    done: list[str] = []
    before: list[str] = []
    problems: list[str] = []
    arrived: list[str] = []
    not_theirs: dict[str, list[str]] = {}  # escalation owner -> codes
    calendar = await load_calendar(session)
    for code, label in returns:
        found = await _find(session, person, code, label, "acknowledge", now)
        if isinstance(found, Outcome):
            if found.refused and len(returns) == 1:
                return found
            if found.not_theirs:
                not_theirs.setdefault(found.not_theirs[0], []).append(found.not_theirs[1])
            else:
                problems.append(found.note)
            continue
        measure, period = found
        escalation = await _escalation(session, measure.id, period.label)
        title = f"{measure.code} for {period.label}"
        if escalation is None:
            problems.append(f"{title} has not been escalated, so there is nothing to acknowledge.")
            continue
        item = await views.open_return(session, measure, _day(now), policy, calendar, period)
        if item.state not in views.WAITING:
            arrived.append(title)
            continue
        if escalation.acknowledged_at is None and await _claim(session, escalation, person, now):
            audit.record(
                session,
                person.email,
                "acknowledge",
                "escalation",
                f"{measure.code} {period.label}",
                {"acknowledged_by": [None, person.email]},
                now,
            )
            done.append(title)
            continue
        # Acknowledged before, or by someone else a moment ago (their press was stored first).
        by = (
            await session.get(Person, escalation.acknowledged_by_id)
            if escalation.acknowledged_by_id
            else None
        )
        at = escalation.acknowledged_at or now
        before.append(
            f"{title} was already acknowledged by {by.name if by else 'someone'} at "
            f"{_at(at)} on {long_day(_day(at))}."
        )
    lines = []
    if done:
        lines.append(f"Acknowledged {views.in_words(done)} at {_at(now)}.")
    if arrived:
        verb = "has" if len(arrived) == 1 else "have"
        lines.append(f"{views.in_words(arrived)} {verb} arrived since: nothing to acknowledge.")
    lines += before + problems
    lines += [_not_theirs(owner, codes) for owner, codes in not_theirs.items()]
    if not lines:
        lines.append("There was nothing to acknowledge.")
    refused = bool(problems or not_theirs) and not (done or before or arrived)
    return Outcome(" ".join(lines), refused=refused)


async def _claim(
    session: AsyncSession, escalation: Escalation, person: Person, now: datetime
) -> bool:
    """Record the acknowledgement only while none is recorded, in one statement: of two
    presses at the same moment one is stored, the other finds it acknowledged."""
    done = await session.execute(
        update(Escalation)
        .where(Escalation.id == escalation.id, Escalation.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=person.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(escalation)
    return bool(cast(CursorResult[Any], done).rowcount)


@dataclass
class Collected:
    """The escalation owners owed a digest by a sweep, with the returns that brought it."""

    owners: dict[int, list[str]] = field(default_factory=dict)

    def add(self, owner_id: int, label: str) -> None:
        self.owners.setdefault(owner_id, []).append(label)
