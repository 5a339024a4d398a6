"""Deep dives: a measure put to the Leadership Team for a deep-dive review, because it has
been off track for several periods running or because its escalation owner asked
(DESIGN.md "Deep dive"); and the Leadership Team's decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.model import DeepDive, Measure, Person


async def flag(
    session: AsyncSession,
    measure: Measure,
    period: str,
    reason: str,
    now: datetime,
    *,
    requested_by: Person | None = None,
    escalation_id: int | None = None,
) -> DeepDive | None:
    """Flag ``measure`` for a deep dive as of ``period`` (``reason``: "persistent" or
    "requested"), once: None if it is already flagged for that period."""
    existing = await session.scalar(
        select(DeepDive).where(DeepDive.measure_id == measure.id, DeepDive.period == period)
    )
    if existing is not None:
        return None
    dive = DeepDive(
        measure_id=measure.id,
        period=period,
        reason=reason,
        escalation_id=escalation_id,
        requested_by_id=requested_by.id if requested_by else None,
        flagged_at=now,
    )
    session.add(dive)
    await session.flush()
    record(
        session,
        requested_by.email if requested_by else "perfbot",
        "flag deep dive",
        "deep_dive",
        f"{measure.code} {period}",
        {"reason": reason},
        now,
    )
    return dive
