"""The timetable: every scheduled job, its time, and what it runs. All of it is here.

Jobs call domain use cases and are idempotent: a sweep only queues notification rows with
unique reason keys, so running one twice, late, or on two servers sends nothing twice. The
dispatcher that sends the rows runs continuously beside the scheduler (bot/delivery.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import outbox
from domain.dates import LONDON

log = logging.getLogger("perfbot.scheduler")
STARTUP_DELAY = timedelta(seconds=3)


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    trigger: CronTrigger
    kinds: frozenset[str]


JOBS = {
    job.name: job
    for job in (
        Job(
            "reminders",
            "reminders 5 and 1 working days before the deadline and on the day, to owners and delegates",
            CronTrigger(day_of_week="mon-fri", hour=9, minute=0, timezone=LONDON),
            frozenset(outbox.REMINDER_KINDS),
        ),
        Job(
            "chasers",
            "chasers 1 and 3 working days overdue; at 5, the overdue escalation to the escalation owner",
            CronTrigger(day_of_week="mon-fri", hour=9, minute=0, timezone=LONDON),
            frozenset(outbox.CHASER_KINDS),
        ),
    )
}


async def run_job(
    name: str,
    sessions: async_sessionmaker[AsyncSession],
    timetable: outbox.Timetable,
    now: datetime,
) -> outbox.SweepResult:
    """Run one job now (or as if at ``now``), in one transaction."""
    job = JOBS[name]
    async with sessions() as session, session.begin():
        result = await outbox.sweep(session, now, timetable, set(job.kinds))
    log.info(
        "%s at %s: %d queued, skipped %s", name, now.isoformat(), len(result.queued), result.skipped
    )
    return result


def build_scheduler(
    sessions: async_sessionmaker[AsyncSession],
    timetable: outbox.Timetable,
    clock: Callable[[], datetime],
    queued: Callable[[], Awaitable[None]],
) -> AsyncIOScheduler:
    """The scheduler for `perfbot serve`. Weekend and bank-holiday runs queue nothing (the
    sweep checks the council's calendar). A run missed while the server was down is run once
    when it starts again (coalesced), not once per missed day."""
    scheduler = AsyncIOScheduler(timezone=LONDON)

    async def run(name: str) -> None:
        try:
            result = await run_job(name, sessions, timetable, clock())
        except asyncio.CancelledError:
            log.info("the %s job was stopped by the server shutting down", name)
            return
        except Exception:
            log.exception("the %s job failed; it will run again at its next time", name)
            return
        if result.queued:
            await queued()

    for job in JOBS.values():
        scheduler.add_job(
            run,
            job.trigger,
            args=[job.name],
            id=job.name,
            name=job.description,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=6 * 3600,
        )
        # Catch up once, just after start-up: the sweep queues only the latest step a return
        # is owed, so a server that was down for days sends one message per return, not many.
        scheduler.add_job(
            run,
            args=[job.name],
            id=f"{job.name}-on-start",
            next_run_time=datetime.now(UTC) + STARTUP_DELAY,
        )
    return scheduler
