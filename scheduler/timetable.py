"""The scheduler for `perfbot serve`: every job of scheduler/jobs.py at its time, and once
just after start-up to catch up on what was missed while the server was down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.dates import LONDON
from scheduler.jobs import JOBS, JobContext, JobResult

log = logging.getLogger("perfbot.scheduler")


async def run_job(name: str, context: JobContext, now: datetime) -> JobResult:
    """Run one job now (or as if at ``now``)."""
    result = await JOBS[name].run(context, now)
    log.info(
        "%s at %s: %d queued, skipped %s", name, now.isoformat(), len(result.queued), result.skipped
    )
    return result


def build_scheduler(
    context: JobContext,
    clock: Callable[[], datetime],
    queued: Callable[[], Awaitable[None]],
    running: set[asyncio.Task[None]] | None = None,
) -> AsyncIOScheduler:
    """Weekend and bank-holiday runs queue nothing (the sweeps check the council's calendar).
    A run missed while the server was down is run once when it starts again (coalesced), not
    once per missed day. Each run in progress is kept in ``running`` while it lasts."""
    scheduler = AsyncIOScheduler(timezone=LONDON)

    async def run(name: str) -> None:
        task = asyncio.current_task()
        if running is not None and task is not None:
            running.add(task)  # so that a server stopping lets it finish (bot/app.py)
            task.add_done_callback(running.discard)
        try:
            result = await run_job(name, context, clock())
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
            job.trigger_for(context.timetable),
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
            next_run_time=datetime.now(UTC) + job.catch_up_after,
        )
    return scheduler
