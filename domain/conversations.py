"""Conversation references: where PerfBot can reach a person (or a team channel)
proactively. The one place they are stored, for the Teams handler and the dispatcher alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.model import ConversationRef
from domain.notifications import insert_ignoring_duplicates


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


async def forget(session: AsyncSession, conversation_id: str) -> None:
    """PerfBot was uninstalled there: it can no longer reach that conversation."""
    await session.execute(
        delete(ConversationRef).where(ConversationRef.conversation_id == conversation_id)
    )
