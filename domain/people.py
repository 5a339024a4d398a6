"""People: matching a Teams user to the staff list, whom to contact, and someone reachable
again once they install or talk to PerfBot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain.audit import record
from domain.dates import LONDON
from domain.model import (
    ConversationRef,
    Notification,
    NotificationState,
    Person,
    PersonRole,
    Role,
)
from domain.notifications import Kind, cancel, queue

# Why a message could not reach someone (Notification.last_error), as the dispatcher records
# it; a message that failed for one of these is queued again when they can be reached.
NOT_INSTALLED = "PerfBot has not been installed for them in Teams"
UNREACHABLE = "unreachable: "  # they were already known to be unreachable
REFUSED = "Teams answered"  # a 403 or 404: blocked, uninstalled, or the chat is gone


@dataclass(frozen=True)
class OtherAccount:
    """A Teams account that names a person already linked to another Entra account, or
    that Teams itself gives another Entra id for: refused (and audited), since a stored
    Entra id is never replaced from an activity."""

    who: str  # the email (or Teams id) it claimed


async def find_person(
    session: AsyncSession,
    aad_object_id: str | None,
    email: str | None,
    now: datetime,
) -> Person | OtherAccount | None:
    """Match a Teams user: by Entra object id, else by email or UPN. A person with no
    Entra id stored yet is linked to this one (audited, claimed only if still unclaimed as
    it is written); a person linked to another id is not this user: refused and audited."""
    if aad_object_id:
        person = await by_entra_id(session, aad_object_id)
        if person:
            return person
    if not email or not email.strip():
        return None
    person = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None or not aad_object_id:
        return person
    if person.aad_object_id is None and await _claim(session, person, aad_object_id, "email", now):
        return person
    if person.aad_object_id == aad_object_id:
        return person  # claimed by the same account a moment ago
    await other_account(
        session, person.email, aad_object_id, "the email of a person linked already", now
    )
    return OtherAccount(person.email)


# Built once: every message asks it, and building a statement with its loader options
# cost more than running it (issue 19). Its cache key is worked out once with it.
_BY_ENTRA_ID = (
    select(Person)
    .where(Person.aad_object_id == bindparam("aad_object_id"))
    .options(joinedload(Person.role_rows))
)


async def by_entra_id(session: AsyncSession, aad_object_id: str) -> Person | None:
    """The person linked to this Entra object id, roles loaded: a read, and every message
    asks it (run it with ``uow.read``). The roles come in the same statement (a join), not a
    second one as the relationship's own selectin load would."""
    found = await session.execute(_BY_ENTRA_ID, {"aad_object_id": aad_object_id})
    return found.unique().scalar_one_or_none()


async def other_account(
    session: AsyncSession, email: str, aad_object_id: str, why: str, now: datetime
) -> None:
    """The audit entry of a Teams account refused as someone it is not."""
    record(
        session,
        email,
        "refused other account",
        "person",
        email,
        {"aad_object_id": aad_object_id[:64], "reason": why},
        now,
    )


async def _claim(
    session: AsyncSession, person: Person, aad_object_id: str, matched_by: str, now: datetime
) -> bool:
    """Link an unclaimed person to an Entra id, if still unclaimed when written: two
    sign-ins at once with different ids for one email cannot both take it."""
    claimed = await session.execute(
        update(Person)
        .where(Person.id == person.id, Person.aad_object_id.is_(None))
        .values(aad_object_id=aad_object_id)
        .execution_options(synchronize_session=False)
    )
    won = getattr(claimed, "rowcount", 0) == 1
    if won:
        _linked(session, person, aad_object_id, matched_by, now)  # from None to this id
    await session.refresh(person, ["aad_object_id"])
    return won


async def signed_in(
    session: AsyncSession, aad_object_id: str, email: str | None, now: datetime
) -> Person | None:
    """The person a Teams sign-in names (the board tab): by Entra object id; else, for a
    person with no Entra id stored yet, by email or UPN, remembering the id (audited). A
    stored id is never replaced: a sign-in whose email names someone with another id is
    no one."""
    if not aad_object_id:
        return None
    person = await session.scalar(select(Person).where(Person.aad_object_id == aad_object_id))
    if person is not None:
        return person
    if not email or not email.strip():
        return None
    person = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None or person.aad_object_id is not None:
        return None
    if not await _claim(session, person, aad_object_id, "email, signing in to the board tab", now):
        return None
    return person


def _linked(
    session: AsyncSession, person: Person, aad_object_id: str, matched_by: str, now: datetime
) -> None:
    """The audit entry of a person's Teams account linked to them (before it is stored)."""
    record(
        session,
        person.email,
        "link identity",
        "person",
        person.email,
        {"aad_object_id": [person.aad_object_id, aad_object_id], "matched_by": matched_by},
        now,
    )


async def people_by_role(session: AsyncSession, role: Role) -> list[Person]:
    """The people with this role, by name: only they are read (not the whole staff list,
    which every submission asked for when it looked for the performance team)."""
    return list(await session.scalars(_BY_ROLE, {"role": role}))


_BY_ROLE = (
    select(Person)
    .where(Person.id.in_(select(PersonRole.person_id).where(PersonRole.role == bindparam("role"))))
    .order_by(Person.name)
)


async def performance_team(session: AsyncSession) -> list[Person]:
    """The admins, whom people are told to contact."""
    return await people_by_role(session, Role.ADMIN)


async def other_tenant(session: AsyncSession, tenant: str, now: datetime) -> None:
    """Teams brought PerfBot something from another organisation's tenant than the
    council's: refused, and kept in the audit log (the tenant named, nothing of the rest)."""
    record(
        session,
        "system",
        "refused other tenant",
        "tenant",
        tenant[:64] or "(none given)",
        {},
        now,
    )


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


async def reachable_again(
    session: AsyncSession, person_id: int, teams_user_id: str | None, now: datetime
) -> list[str]:
    """Someone who installs PerfBot or talks to it can be messaged (again): every message
    still wanted that failed because they could not be reached is queued again, once (the
    same row, so nothing can go twice). Returns the reason keys queued again."""
    person = await session.get(Person, person_id)
    if person is None:
        return []
    if teams_user_id and person.teams_user_id != teams_user_id:
        record(
            session,
            person.email,
            "link identity",
            "person",
            person.email,
            {"teams_user_id": [person.teams_user_id, teams_user_id]},
            now,
        )
        person.teams_user_id = teams_user_id
    if person.unreachable_reason is None:
        # Every message given up because someone could not be reached marked them
        # unreachable (mark_unreachable), so someone who is not has nothing to queue again.
        return []
    record(
        session,
        person.email,
        "mark reachable",
        "person",
        person.email,
        {"unreachable": [person.unreachable_reason, None]},
        now,
    )
    person.unreachable_reason = None
    person.unreachable_since = None
    failed = await session.scalars(
        select(Notification).where(
            Notification.person_id == person_id,
            Notification.state == NotificationState.FAILED,
            or_(
                Notification.last_error == NOT_INSTALLED,
                Notification.last_error.startswith(UNREACHABLE),
                Notification.last_error.startswith(REFUSED),
            ),
        )
    )
    today = now.astimezone(LONDON).date()
    again: list[str] = []
    newest: dict[tuple[str, str], Notification] = {}
    for notification in sorted(failed, key=lambda n: n.created_at):
        payload = notification.payload or {}
        if notification.kind in (Kind.REMINDER, Kind.CHASER):
            deadline = payload.get("deadline")
            if notification.kind == Kind.REMINDER and deadline and deadline < today.isoformat():
                continue  # a reminder of a deadline now past: the chasers speak for it
            # Only the latest of a return's reminders and chasers: one message, not a burst.
            key = (str(payload.get("code")), str(payload.get("period")))
            if key in newest:
                cancel(newest[key], "superseded by a later message about the same return")
                again.remove(newest[key].reason_key)
            newest[key] = notification
        elif notification.kind == Kind.OVERDUE and payload.get("for_id"):
            # Overdue digests are drawn afresh when they go: only the newest is worth sending.
            key = (f"overdue digest for {payload['for_id']}", str(payload.get("services")))
            if key in newest:
                cancel(newest[key], "superseded by a later overdue digest")
                again.remove(newest[key].reason_key)
            newest[key] = notification
        elif notification.kind in (Kind.REPLY, Kind.UNREACHABLE) and (
            notification.created_at.astimezone(LONDON).date() < today
        ):
            continue  # an answer, or a daily list, from an earlier day: no longer news
        notification.state = NotificationState.PENDING
        notification.not_before = now
        notification.claimed_until = None
        notification.attempts = 0
        notification.last_error = None
        again.append(notification.reason_key)
    return again


async def mark_unreachable(
    session: AsyncSession, person_id: int | None, reason: str, now: datetime
) -> None:
    """Teams will not let PerfBot reach this person (not installed, blocked): until they
    install or talk to PerfBot again, nothing more is tried."""
    person = await session.get(Person, person_id) if person_id is not None else None
    if person is not None:
        if person.unreachable_reason != reason:
            record(
                session,
                "system",
                "mark unreachable",
                "person",
                person.email,
                {"unreachable": [person.unreachable_reason, reason]},
                now,
            )
        person.unreachable_reason = reason
        person.unreachable_since = now


async def why_unreachable(session: AsyncSession, person: Person) -> str | None:
    """Why PerfBot cannot message this person now (None if it can): Teams refused it, or
    they have no chat with PerfBot and it cannot open one (they have never been seen in
    Teams: PerfBot is not installed for them)."""
    if person.unreachable_reason:
        return person.unreachable_reason
    if person.teams_user_id:
        return None  # a 1:1 chat can be opened for someone Teams has shown PerfBot
    chat = await session.scalar(
        select(ConversationRef.id)
        .where(ConversationRef.person_id == person.id, ConversationRef.scope == "personal")
        .limit(1)
    )
    return None if chat is not None else NOT_INSTALLED


async def unreachable_report(session: AsyncSession, now: datetime) -> list[str]:
    """Tell the performance team, once a day, who PerfBot cannot reach and for what: the
    messages that are waiting for them. Returns the reason keys queued (none when everyone
    can be reached, or the day's list was queued before)."""
    unreachable = list(
        await session.scalars(
            select(Person).where(Person.unreachable_reason.is_not(None)).order_by(Person.name)
        )
    )
    if not unreachable:
        return []
    waiting: dict[int, list[str]] = {p.id: [] for p in unreachable}
    for person_id, kind, payload in await session.execute(
        select(Notification.person_id, Notification.kind, Notification.payload)
        .where(
            Notification.person_id.in_(waiting),
            Notification.state == NotificationState.FAILED,
        )
        .order_by(Notification.created_at)
    ):
        what = " ".join(str(x) for x in (kind, payload.get("code"), payload.get("period")) if x)
        if payload.get("returns"):  # an overdue digest: the returns that brought it
            what = f"{kind} {', '.join(str(r) for r in payload['returns'])}"
        if what not in waiting[person_id]:
            waiting[person_id].append(what)
    report = [
        {
            "name": p.name,
            "email": p.email,
            "why": p.unreachable_reason,
            "since": p.unreachable_since.date().isoformat() if p.unreachable_since else "",
            "waiting": waiting[p.id][:10],
            "more": max(0, len(waiting[p.id]) - 10),
        }
        for p in unreachable
    ]
    queued = []
    for admin in await performance_team(session):
        key = await queue(
            session,
            Kind.UNREACHABLE,
            f"{now.astimezone(LONDON).date().isoformat()}:{admin.id}",
            person_id=admin.id,
            payload={"people": report},
            now=now,
        )
        if key is not None:
            queued.append(key)
    return queued
