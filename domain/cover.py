"""Cover: an owner away until a day, and who gets their reminders and chasers meanwhile (the
person they named and their measures' delegates; for a measure with neither, their manager),
who may send those returns until they are back (DESIGN.md "Cover").

An absence is current while its day (the day they are back) is still to come; on that day
the reminders go to the owner again. Nobody away is sent reminders or chasers themselves."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dates import long_day
from domain.model import Absence, Measure, Notification, Person
from domain.notifications import Kind

KINDS = frozenset({Kind.COVER.value})  # checked at send time here (still_wanted)


@dataclass(frozen=True)
class Recipient:
    """Someone a measure's reminder or chaser goes to; ``covering`` the absence of the owner
    they stand in for (None: they get it as owner or delegate, as ever)."""

    person: Person
    covering: Absence | None = None


@dataclass(frozen=True)
class Covering:
    """One person's share of an away owner's measures."""

    person: Person
    codes: tuple[str, ...]
    as_delegate: tuple[str, ...] = ()  # of those, the measures they are a delegate for anyway


@dataclass(frozen=True)
class Plan:
    """Who covers which of an away owner's measures, and those nobody would cover."""

    covers: tuple[Covering, ...]
    uncovered: tuple[str, ...] = ()

    def of(self, person_id: int) -> Covering | None:
        return next((c for c in self.covers if c.person.id == person_id), None)


def covers_of(
    measure: Measure, named: Person | None, manager: Person | None, away: Collection[int]
) -> list[Person]:
    """Who covers a measure while its owner is away: the person named and its delegates
    (who get its reminders as ever); with neither, the owner's manager. Anyone away
    themselves is passed over."""
    people: dict[int, Person] = {}
    if named is not None and named.id not in away and named.id != measure.owner_id:
        people[named.id] = named
    for delegate in measure.delegates:
        if delegate.id not in away and delegate.id != measure.owner_id:
            people.setdefault(delegate.id, delegate)
    if (
        not people
        and manager is not None
        and manager.id not in away
        and manager.id != measure.owner_id
    ):
        people[manager.id] = manager
    return list(people.values())


def plan(
    measures: Sequence[Measure],
    named: Person | None,
    manager: Person | None,
    away: Collection[int],
) -> Plan:
    """``covers_of`` for each of an owner's measures, gathered by person."""
    shares: dict[int, tuple[Person, list[str], list[str]]] = {}
    uncovered = []
    for measure in measures:
        people = covers_of(measure, named, manager, away)
        if not people:
            uncovered.append(measure.code)
        delegates = {d.id for d in measure.delegates}
        for person in people:
            _, codes, as_delegate = shares.setdefault(person.id, (person, [], []))
            codes.append(measure.code)
            if person.id in delegates:
                as_delegate.append(measure.code)
    return Plan(
        tuple(Covering(p, tuple(c), tuple(d)) for p, c, d in shares.values()),
        tuple(uncovered),
    )


@dataclass(frozen=True)
class Away:
    """Who is away on a day, with the managers of those who are: read once by a sweep."""

    absences: dict[int, Absence] = field(default_factory=dict)  # by the away person's id
    managers: dict[int, Person] = field(default_factory=dict)  # by the away person's id

    def is_away(self, person_id: int) -> bool:
        return person_id in self.absences

    def recipients(self, measure: Measure) -> list[Recipient]:
        """Whom a measure's reminders and chasers go to today: its owner and delegates, but
        anyone away; an away owner's covers instead of the owner (the owner after all if
        nobody can cover, so that nothing is lost)."""
        absence = self.absences.get(measure.owner_id)
        if absence is None:
            people = {measure.owner.id: measure.owner}
            people.update({d.id: d for d in measure.delegates if not self.is_away(d.id)})
            return [Recipient(p) for p in people.values()]
        covers = covers_of(
            measure, absence.cover, self.managers.get(measure.owner_id), self.absences
        )
        if not covers:
            return [Recipient(measure.owner)]
        return [Recipient(p, absence) for p in covers]


async def away_on(session: AsyncSession, today: date) -> Away:
    """Everyone away on ``today``, and their managers."""
    absences = {
        a.person_id: a
        for a in (await session.scalars(select(Absence).where(Absence.until > today))).all()
    }
    managers: dict[int, Person] = {}
    for person_id, absence in absences.items():
        if absence.person.manager_id is not None:
            manager = await session.get(Person, absence.person.manager_id)
            if manager is not None:
                managers[person_id] = manager
    return Away(absences, managers)


async def absence_of(session: AsyncSession, person_id: int, today: date) -> Absence | None:
    """A person's current absence, if they are away on ``today``."""
    return await session.scalar(
        select(Absence).where(Absence.person_id == person_id, Absence.until > today)
    )


async def is_covering(session: AsyncSession, person: Person, measure: Measure, today: date) -> bool:
    """Whether ``person`` covers ``measure`` today for its away owner (and so may send it)."""
    if await absence_of(session, measure.owner_id, today) is None:
        return False
    away = await away_on(session, today)
    return any(r.covering and r.person.id == person.id for r in away.recipients(measure))


async def owned(session: AsyncSession, person_id: int) -> list[Measure]:
    """The active measures a person owns, by code."""
    return list(
        (
            await session.scalars(
                select(Measure)
                .where(Measure.active, Measure.owner_id == person_id)
                .order_by(Measure.code)
            )
        ).all()
    )


@dataclass(frozen=True)
class Stand:
    """A person's cover as ``my measures`` shows it: their own absence and who covers it,
    and whom they cover (each away owner's absence with the codes)."""

    absence: Absence | None = None
    plan: Plan | None = None
    covering: tuple[tuple[Absence, tuple[str, ...]], ...] = ()
    measures: tuple[Measure, ...] = ()  # the measures they cover, for their returns


async def stand_of(session: AsyncSession, person: Person, today: date) -> Stand:
    away = await away_on(session, today)
    own = away.absences.get(person.id)
    own_plan = None
    if own is not None:
        own_plan = plan(
            await owned(session, person.id), own.cover, away.managers.get(person.id), away.absences
        )
    covering = []
    measures: list[Measure] = []
    for owner_id, absence in away.absences.items():
        if owner_id == person.id:
            continue
        codes = []
        for measure in await owned(session, owner_id):
            if any(r.covering and r.person.id == person.id for r in away.recipients(measure)):
                codes.append(measure.code)
                measures.append(measure)
        if codes:
            covering.append((absence, tuple(codes)))
    covering.sort(key=lambda c: (c[0].until, c[0].person.name))
    return Stand(own, own_plan, tuple(covering), tuple(measures))


async def still_wanted(
    session: AsyncSession, notification: Notification, today: date
) -> str | None:
    """A cover notice no longer to go: its owner is back, or their absence has changed (a
    newer notice says so)."""
    payload = notification.payload or {}
    absence = await absence_of(session, int(payload.get("for_id", 0)), today)
    if absence is None:
        return f"{payload.get('for', 'the owner')} is back"
    if absence.until.isoformat() != payload.get("until"):
        return "the absence has changed since"
    return None


async def covering_notice(
    session: AsyncSession, payload: dict[str, object], today: date
) -> str | None:
    """What a reminder or chaser to a cover says of it (read when it goes), None if the
    owner is back: "Amina Hussain is away until Friday 11 December; you are covering RB-01"."""
    owner_id = payload.get("covering_id")
    if not owner_id:
        return None
    absence = await absence_of(session, int(str(owner_id)), today)
    if absence is None:
        return None
    return (
        f"{absence.person.name} is away until {long_day(absence.until, year=False)}; you are "
        f"covering {payload.get('code', '')}."
    )
