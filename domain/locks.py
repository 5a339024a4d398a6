"""Signed-off periods: a locked period takes no change from Teams or from an import, except
an admin's correction with a reason, which is recorded as a restatement."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.dates import long_day
from domain.model import PeriodLock, Return
from domain.views import today_in_london


async def lock_of(session: AsyncSession, period: str) -> PeriodLock | None:
    """The lock on a period (by its label), if it is signed off."""
    return await session.get(PeriodLock, period)


async def locked_labels(session: AsyncSession) -> frozenset[str]:
    """The labels of every signed-off period (a council has tens of them, not thousands)."""
    return frozenset(await session.scalars(select(PeriodLock.period)))


def locked_sentence(lock: PeriodLock, code: str | None = None) -> str:
    """One sentence naming the lock, for a refusal: who signed the period off and when."""
    what = f"{code} {lock.period}" if code else lock.period
    why = f" ({lock.reason})" if lock.reason else ""
    return (
        f"{lock.period} was signed off by {lock.locked_by} on "
        f"{long_day(today_in_london(lock.locked_at))}{why}, so {what} can no longer be changed; "
        "only the performance team can correct it, giving a reason."
    )


def mark_restated(ret: Return, earlier: str | None, reason: str) -> None:
    """Mark a new version as a restatement of a signed-off figure: ``earlier`` is the figure
    it replaces as people saw it (None if there was none), ``reason`` the corrector's."""
    ret.restated = True
    ret.restated_from = earlier
    ret.correction_reason = reason
