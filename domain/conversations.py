"""Conversation references: where PerfBot can reach a person (or a team channel)
proactively. The one place they are stored, for the Teams handler and the dispatcher alike;
and a reply queued for one when Teams would not take it during the turn."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.model import ConversationRef, LeadershipChannel
from domain.notifications import Kind, insert_ignoring_duplicates, queue
from domain.people import mark_unreachable


async def store(
    session: AsyncSession,
    conversation_id: str,
    values: dict[str, Any],
    now: datetime,
    *,
    refresh: bool = True,
) -> bool:
    """Store where ``conversation_id`` can be reached; True if it was not stored before. With
    ``refresh`` a stored one takes any changed values (Teams moved it, a new service URL).
    Two servers storing the same conversation at once store it once."""
    existing = await session.scalar(
        select(ConversationRef).where(ConversationRef.conversation_id == conversation_id)
    )
    if existing is not None:
        values = _keeping_names(existing.reference or {}, values)
        changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
        if refresh and changed:
            for key, value in changed.items():
                setattr(existing, key, value)
            existing.updated_at = now
        return False
    inserted = await session.execute(
        insert_ignoring_duplicates(
            session,
            ConversationRef,
            {"conversation_id": conversation_id, "updated_at": now, **values},
        )
    )
    return bool(cast(CursorResult[Any], inserted).rowcount)


def _keeping_names(stored: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A channel's team and channel names, once Teams gave them, are kept when a later
    activity from there comes without them (Teams sends names only on some)."""
    known = stored.get("names") or {}
    reference = values.get("reference")
    if not known or not isinstance(reference, dict):
        return values
    names = {**known, **(reference.get("names") or {})}
    return {**values, "reference": {**reference, "names": names}}


UNINSTALLED = "they removed PerfBot in Teams"
UNINSTALLED_TEAM = "PerfBot was removed from the team in Teams"


async def forget(session: AsyncSession, conversation_id: str, now: datetime) -> None:
    """PerfBot was uninstalled there: it can no longer reach that conversation, and whoever
    it was the personal chat of cannot be reached until they add PerfBot again."""
    ref = await session.scalar(
        select(ConversationRef).where(ConversationRef.conversation_id == conversation_id)
    )
    if ref is None:
        return
    if ref.scope == "personal" and ref.person_id is not None:
        await mark_unreachable(session, ref.person_id, UNINSTALLED, now)
    if ref.scope == "channel" and ref.team_id is not None and ref.conversation_id == ref.team_id:
        await _team_removed(session, ref.team_id, now)
    await session.delete(ref)


async def _team_removed(session: AsyncSession, team_id: str, now: datetime) -> None:
    """PerfBot was removed from a team: none of its channels can be posted to any more, and
    a leadership channel there is cleared (the summary then goes to each of the Leadership
    Team, and the admins are told that no channel is set)."""
    for channel in await session.scalars(
        select(ConversationRef).where(
            ConversationRef.team_id == team_id, ConversationRef.conversation_id != team_id
        )
    ):
        await session.delete(channel)
    chosen = await session.get(LeadershipChannel, 1)
    if chosen is not None and chosen.team_id == team_id:
        record(
            session,
            "system",
            "cleared leadership channel",
            "leadership_channel",
            "1",
            {"conversation_id": [chosen.conversation_id, None], "why": UNINSTALLED_TEAM},
            now,
        )
        await session.delete(chosen)


async def reply_later(
    session: AsyncSession,
    conversation_id: str,
    values: dict[str, Any],
    reason: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
) -> str | None:
    """A reply Teams would not take while the person waited: queued for the dispatcher, to
    the same conversation (stored first if it was not: someone PerfBot does not know yet)
    and to its person if known. ``reason`` names the incoming activity and the reply, so
    an activity Teams posts twice queues it once. The reason key if new, else None."""
    await store(session, conversation_id, values, now, refresh=False)
    person_id = await session.scalar(
        select(ConversationRef.person_id).where(ConversationRef.conversation_id == conversation_id)
    )
    return await queue(
        session,
        Kind.REPLY,
        reason,
        payload=payload,
        now=now,
        person_id=person_id,
        conversation_id=conversation_id,
        not_before=not_before,
    )
