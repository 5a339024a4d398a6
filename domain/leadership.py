"""Where the Leadership Team's weekly summary goes, and queueing it (issue 14): the team
channel an admin chose (the ``LeadershipChannel`` row), or with none each of the Leadership
Team in their personal chat, the admins being told that no channel is set. One summary per
target per summary day (its outbox reason key), so a run twice, late, or after a restart
queues nothing twice; a summary counts as published only once it has actually been sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain import audit, conversations
from domain.dates import long_day
from domain.model import (
    ConversationRef,
    LeadershipChannel,
    Notification,
    NotificationState,
    Person,
    Publication,
    Role,
)
from domain.notifications import Kind, queue
from domain.people import people_by_role
from domain.views import Refused
from domain.weekly import SummarySchedule
from domain.workdays import WorkingCalendar

PUBLICATION_KIND = "summary"
GENERAL = "General"  # the name Teams gives a team's first channel, whose id is the team's


# ---- channels PerfBot knows ----------------------------------------------------------------


@dataclass(frozen=True)
class KnownChannel:
    """A team channel PerfBot has a conversation reference for (installed there, or typed in)."""

    conversation_id: str
    team_id: str | None
    team_name: str | None
    channel_name: str | None

    @property
    def team_label(self) -> str:
        return f"{self.team_name} ({self.team_id})" if self.team_name else str(self.team_id)

    @property
    def channel_label(self) -> str:
        name = self.channel_name or (GENERAL if self.conversation_id == self.team_id else None)
        return f"{name} ({self.conversation_id})" if name else self.conversation_id


def names_of(reference: dict[str, Any]) -> tuple[str | None, str | None]:
    """The team and channel names stored with a channel's reference (bot/references.py)."""
    names = reference.get("names") or {}
    return names.get("team"), names.get("channel")


def _known(ref: ConversationRef) -> KnownChannel:
    team_name, channel_name = names_of(ref.reference or {})
    if channel_name is None and ref.conversation_id == ref.team_id:
        channel_name = GENERAL
    return KnownChannel(ref.conversation_id, ref.team_id, team_name, channel_name)


async def known_channels(session: AsyncSession) -> list[KnownChannel]:
    refs = await session.scalars(
        select(ConversationRef)
        .where(ConversationRef.scope == "channel")
        .order_by(ConversationRef.updated_at)
    )
    return [_known(ref) for ref in refs]


# ---- choosing the channel --------------------------------------------------------------------


async def set_channel(
    session: AsyncSession,
    conversation_id: str,
    values: dict[str, Any],
    by: str,
    now: datetime,
) -> LeadershipChannel:
    """The summary goes to this channel from now on (in place of any chosen before); its
    conversation reference (``values``, as bot/references.py builds them) is stored so that
    the dispatcher can post there."""
    await conversations.store(session, conversation_id, values, now)
    team_name, channel_name = names_of(values.get("reference") or {})
    return await _choose(
        session,
        KnownChannel(conversation_id, values.get("team_id"), team_name, channel_name),
        by,
        now,
    )


def _matches(text: str, ident: str | None, name: str | None) -> bool:
    wanted = text.strip().lower()
    return bool(wanted) and wanted in {(ident or "").lower(), (name or "").strip().lower()}


async def set_channel_named(
    session: AsyncSession, team: str, channel: str, by: str, now: datetime
) -> LeadershipChannel:
    """``perfbot leadership set-channel``: a team and channel by id or by name, as PerfBot
    stored them from Teams; one it has never seen is refused, listing those it knows."""
    known = await known_channels(session)
    teams: dict[str, KnownChannel] = {}
    for ch in known:
        teams.setdefault(ch.team_id or "", ch)
    in_team = [ch for ch in known if _matches(team, ch.team_id, ch.team_name)]
    if not in_team:
        if not teams:
            raise Refused(
                "PerfBot has not been installed in any team yet: add PerfBot to the Leadership "
                "Team's team in Teams, then run this again (or type set leadership channel in "
                "the channel)."
            )
        listed = "; ".join(ch.team_label for ch in teams.values())
        raise Refused(
            f"PerfBot was never installed in a team '{team}'. The teams it knows: {listed}."
        )
    found = [ch for ch in in_team if _matches(channel, ch.conversation_id, ch.channel_name)]
    if not found:
        listed = "; ".join(ch.channel_label for ch in in_team)
        raise Refused(
            f"PerfBot knows no channel '{channel}' in {in_team[0].team_label}. The channels it "
            f"knows there: {listed}. It learns a channel when it is installed in the team or "
            "someone types to it there: type set leadership channel in that channel instead."
        )
    return await _choose(session, found[0], by, now)


async def _choose(
    session: AsyncSession, channel: KnownChannel, by: str, now: datetime
) -> LeadershipChannel:
    row = await session.get(LeadershipChannel, 1)
    was = row.conversation_id if row is not None else None
    if row is None:
        row = LeadershipChannel(
            id=1, conversation_id=channel.conversation_id, set_by=by, set_at=now
        )
        session.add(row)
    row.conversation_id = channel.conversation_id
    row.team_id = channel.team_id
    row.team_name = channel.team_name
    row.channel_name = channel.channel_name
    row.set_by = by
    row.set_at = now
    audit.record(
        session,
        by,
        "set leadership channel",
        "leadership_channel",
        "1",
        {
            "conversation_id": [was, channel.conversation_id],
            "team": channel.team_name or channel.team_id,
            "channel": channel.channel_name,
        },
        now,
    )
    await session.flush()
    return row


async def clear_channel(session: AsyncSession, by: str, now: datetime) -> LeadershipChannel | None:
    """No channel: the summary goes to each of the Leadership Team in person. The channel
    that was set, or None if none was."""
    row = await session.get(LeadershipChannel, 1)
    if row is None:
        return None
    audit.record(
        session,
        by,
        "cleared leadership channel",
        "leadership_channel",
        "1",
        {"conversation_id": [row.conversation_id, None], "channel": row.channel_name},
        now,
    )
    await session.delete(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Destination:
    """Where the summary goes now: the channel, or with none each of ``people``."""

    channel: LeadershipChannel | None
    people: list[Person] = field(default_factory=list)  # the Leadership Team
    admins: list[Person] = field(default_factory=list)


async def destination(session: AsyncSession) -> Destination:
    channel = await session.get(LeadershipChannel, 1)
    if channel is not None:
        return Destination(channel)
    return Destination(
        None,
        await people_by_role(session, Role.LEADERSHIP),
        await people_by_role(session, Role.ADMIN),
    )


# ---- queueing it -----------------------------------------------------------------------------


@dataclass
class Queued:
    queued: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def _suffix(day: date) -> str:
    return f":{day.isoformat()}"


async def next_summary(
    session: AsyncSession, now: datetime, schedule: SummarySchedule, calendar: WorkingCalendar
) -> tuple[date, datetime]:
    """The summary day whose summary goes next to where it goes now, and when: this week's
    at the job's next run if it is still due and that place has not had it (a channel
    chosen later in the week), else the next summary day's at its moment."""
    day = schedule.due(now, calendar)
    if day is not None:
        run = schedule.next_run(now)
        where = await destination(session)
        keys = (
            [f"{where.channel.conversation_id}{_suffix(day)}"]
            if where.channel is not None
            else [f"person:{p.id}{_suffix(day)}" for p in where.people]
        )
        queued = set(
            await session.scalars(
                select(Notification.reason_key).where(
                    Notification.reason_key.in_([f"{Kind.WEEKLY_SUMMARY}:{k}" for k in keys])
                )
            )
        )
        if len(queued) < len(keys) and schedule.due(run, calendar) == day:
            return day, run
    return schedule.next_day(now, calendar), schedule.next_moment(now, calendar)


def next_words(
    day: date, when: datetime, schedule: SummarySchedule, calendar: WorkingCalendar
) -> str:
    """``next_summary``'s answer as people read it: "Monday 7 December 2026 at 09:00", and
    which week's it is when it is not that day's own."""
    local = when.astimezone(schedule.zone)
    at = f"{long_day(local.date())} at {local:%H:%M}"
    if when == schedule.moment(day, calendar):
        return at
    return f"{at}: this week's, for the week of {long_day(day)}, with the next daily run"


async def queue_summary(
    session: AsyncSession,
    day: date,
    now: datetime,
    schedule: SummarySchedule,
    refused: str | None = None,
) -> Queued:
    """Queue the summary for summary day ``day``: one to the channel, or with none one to
    each of the Leadership Team and a notice to each admin. Built when it goes, from the
    database as it then stands. One summary a week to each: a target that had this week's
    summary already is given nothing more (a channel chosen later in the week is given the
    week's summary, once). ``refused``: why the channel it went to refused it, for the
    admins' notice."""
    result = Queued()
    where = await destination(session)
    payload = {"day": day.isoformat()}
    if where.channel is not None:
        key = await queue(
            session,
            Kind.WEEKLY_SUMMARY,
            f"{where.channel.conversation_id}{_suffix(day)}",
            payload=payload,
            now=now,
            conversation_id=where.channel.conversation_id,
        )
        if key is None:
            result.skip("this week's summary was queued before")
        result.queued += [key] if key else []
        return result
    for person in where.people:
        key = await queue(
            session,
            Kind.WEEKLY_SUMMARY,
            f"person:{person.id}{_suffix(day)}",
            payload=payload,
            now=now,
            person_id=person.id,
        )
        result.queued += [key] if key else []
    if not where.people:
        result.skip("no leadership channel is set and nobody has the leadership role")
    elif not result.queued:
        result.skip("this week's summary was queued before")
    names = [p.name for p in where.people]
    for admin in where.admins:
        key = await queue(
            session,
            Kind.NO_CHANNEL,
            f"person:{admin.id}{_suffix(day)}",
            payload={
                **payload,
                "people": names,
                "every": schedule.describe(),
                **({"refused": refused} if refused else {}),
            },
            now=now,
            person_id=admin.id,
        )
        result.queued += [key] if key else []
    return result


async def channel_refused(
    session: AsyncSession,
    notification: Notification,
    why: str,
    now: datetime,
    schedule: SummarySchedule,
) -> None:
    """Teams refused a summary posted to a channel for good (PerfBot removed from the team,
    the channel deleted): the channel is cleared if it is still the one set, and that
    week's summary goes where it goes with no channel, each of the Leadership Team in
    person, with a notice to each admin saying what happened: never lost in silence."""
    if notification.conversation_id is None:
        return  # a personal copy: its person is marked unreachable like anyone else
    channel = await session.get(LeadershipChannel, 1)
    where = "the leadership channel"
    if channel is not None and channel.conversation_id == notification.conversation_id:
        names = " of ".join(n for n in (channel.channel_name, channel.team_name) if n)
        where = f"the channel {names}" if names else where
        await clear_channel(session, "system", now)
    day = date.fromisoformat(
        str((notification.payload or {}).get("day", ""))
        or now.astimezone(schedule.zone).date().isoformat()
    )
    await queue_summary(
        session, day, now, schedule, refused=f"Teams refused the post in {where}: {why}"
    )


async def weekly(
    session: AsyncSession,
    now: datetime,
    schedule: SummarySchedule,
    calendar: WorkingCalendar,
    on_demand: bool = False,
) -> Queued:
    """The weekly-summary job: queue the summary due at ``now``, if one is (on its day, or
    the next working day after a bank holiday or closure day; later that week if the server
    was down). ``on_demand`` (``perfbot jobs run``) queues the summary of ``now``'s week at
    once, whatever the day, time or cadence; the same week's scheduled one does not go too."""
    day = schedule.week_of(now) if on_demand else schedule.due(now, calendar)
    if day is None:
        result = Queued()
        result.skip("no summary is due now")
        return result
    return await queue_summary(session, day, now, schedule)


# ---- what went, and since when ------------------------------------------------------------------


async def since(session: AsyncSession, day: date | None = None) -> datetime | None:
    """When the previous summary was sent: the newest sent weekly summary's time, or the
    newest published summary's, leaving out those for summary day ``day`` (the one being
    built, whose copies to the Leadership Team go one by one)."""
    sent = select(func.max(Notification.sent_at)).where(
        Notification.kind == Kind.WEEKLY_SUMMARY.value,
        Notification.state == NotificationState.SENT,
    )
    published = select(func.max(Publication.published_at)).where(
        Publication.kind == PUBLICATION_KIND
    )
    if day is not None:
        sent = sent.where(Notification.reason_key.not_like(f"%{_suffix(day)}"))
        published = published.where(Publication.reason_key.not_like(f"%{_suffix(day)}"))
    moments = [m for m in (await session.scalar(sent), await session.scalar(published)) if m]
    return max(moments) if moments else None


async def published(
    connection: AsyncConnection, reason_key: str, periods: list[str], at: datetime
) -> None:
    """A summary was sent (written with its row's sent mark, in the same transaction): it
    is published, with the periods it showed. Once per row (its reason key is unique)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await connection.execute(
        insert(Publication)
        .values(
            kind=PUBLICATION_KIND,
            reason_key=reason_key,
            periods={"periods": periods},
            published_at=at,
        )
        .on_conflict_do_nothing()
    )
