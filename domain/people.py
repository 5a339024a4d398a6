"""People: matching a Teams user to the staff list, whom to contact, and someone reachable
again once they install or talk to PerfBot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import Person, Role
from domain.notifications import Kind, queue


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


async def people_by_role(session: AsyncSession, role: Role) -> list[Person]:
    people = (await session.scalars(select(Person).order_by(Person.name))).all()
    return [p for p in people if p.has_role(role)]


async def performance_team(session: AsyncSession) -> list[Person]:
    """The admins, whom people are told to contact."""
    return await people_by_role(session, Role.ADMIN)


async def unknown_person_tried(
    session: AsyncSession, user_key: str, name: str, email: str | None, now: datetime
) -> list[Person]:
    """Someone not in the staff list wrote to PerfBot: tell the performance team, once per
    person. Returns the performance team (whom the person is told to contact)."""
    admins = await performance_team(session)
    for admin in admins:
        await queue(
            session,
            Kind.UNKNOWN_USER,
            f"{user_key}:{admin.id}",
            person_id=admin.id,
            payload={"name": name, "email": email},
            now=now,
        )
    return admins


async def reachable_again(session: AsyncSession, person_id: int, teams_user_id: str | None) -> None:
    """Someone who installs PerfBot or talks to it can be messaged (again)."""
    person = await session.get(Person, person_id)
    if person is None:
        return
    if teams_user_id and person.teams_user_id != teams_user_id:
        person.teams_user_id = teams_user_id
    person.unreachable_reason = None
    person.unreachable_since = None


async def mark_unreachable(
    session: AsyncSession, person_id: int | None, reason: str, now: datetime
) -> None:
    """Teams will not let PerfBot reach this person (not installed, blocked): until they
    install or talk to PerfBot again, nothing more is tried."""
    person = await session.get(Person, person_id) if person_id is not None else None
    if person is not None:
        person.unreachable_reason = reason
        person.unreachable_since = now
