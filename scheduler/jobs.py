"""The scheduled jobs: one table, each job a callable with its trigger and description. The
scheduler (timetable.py), `perfbot jobs list` and `perfbot jobs run` all read this table.

Jobs call domain use cases and are idempotent: a sweep only queues notification rows with
unique reason keys, so running one twice, late, or on two servers sends nothing twice. The
dispatcher that sends the rows runs continuously beside the scheduler (bot/delivery/).
To add a job: a function here taking (JobContext, now) and one entry in JOBS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from domain import escalations, leadership, outbox, people
from domain.dates import LONDON
from domain.policy import Policy
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.workdays import WorkingCalendar


@dataclass(frozen=True)
class JobContext:
    """What a job may use: the unit of work and the council's settings."""

    uow: UnitOfWork
    timetable: outbox.Timetable
    policy: Policy
    # Run by hand (`perfbot jobs run`): the weekly summary goes for now's week, whatever
    # the day (see domain/leadership.weekly).
    on_demand: bool = False


# What a job reports: the reason keys it queued and why it passed others over.
JobResult = outbox.SweepResult
JobRun = Callable[[JobContext, datetime], Awaitable[JobResult]]


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    trigger: BaseTrigger
    run: JobRun
    # After a start-up the job runs once to catch up, this long after (the list of who
    # cannot be reached waits for the catch-up's own messages to have met them).
    catch_up_after: timedelta = timedelta(seconds=3)
    # A trigger drawn from the council's settings, in place of ``trigger``.
    trigger_of: Callable[[outbox.Timetable], BaseTrigger] | None = None
    # When it next does something, where that is not simply its trigger's next time.
    next_of: Callable[[outbox.Timetable, datetime], datetime] | None = None

    def trigger_for(self, timetable: outbox.Timetable) -> BaseTrigger:
        return self.trigger_of(timetable) if self.trigger_of else self.trigger

    def next_run(self, timetable: outbox.Timetable, now: datetime) -> datetime | None:
        if self.next_of is not None:
            return self.next_of(timetable, now)
        upcoming: datetime | None = self.trigger_for(timetable).get_next_fire_time(None, now)
        return upcoming


async def reminders(context: JobContext, now: datetime) -> JobResult:
    async with context.uow() as tx:
        return await outbox.sweep(tx, now, context.timetable, outbox.REMINDER_KINDS)


async def chasers(context: JobContext, now: datetime) -> JobResult:
    async with context.uow() as tx:
        return await outbox.sweep(tx, now, context.timetable, outbox.CHASER_KINDS)


UNREACHABLE_AT = time(9, 30)  # after the morning's reminders have met who cannot be reached


async def unreachable(context: JobContext, now: datetime) -> JobResult:
    result = JobResult()
    local = now.astimezone(LONDON)
    async with context.uow() as tx:
        calendar = await load_calendar(tx)
        if not calendar.is_working_day(local.date()):
            result.skip("not a working day")
            return result
        if local.time() < UNREACHABLE_AT:
            result.skip("before 09:30: the morning's messages have not gone yet")
            return result
        result.queued.extend(await people.unreachable_report(tx, now))
    if not result.queued:
        result.skip("everyone can be reached, or today's list has gone")
    return result


async def unacknowledged(context: JobContext, now: datetime) -> JobResult:
    result = JobResult()
    async with context.uow() as tx:
        result.queued.extend(await escalations.remind_unacknowledged(tx, now, context.policy))
    if not result.queued:
        result.skip("no escalation is waiting for its acknowledgement reminder")
    return result


async def weekly_summary(context: JobContext, now: datetime) -> JobResult:
    """The Leadership Team's weekly summary, queued when it is due (domain/leadership.py)."""
    async with context.uow() as tx:
        calendar = await load_calendar(tx)
        queued = await leadership.weekly(
            tx, now, context.timetable.summary, calendar, context.on_demand
        )
    return JobResult(queued=queued.queued, skipped=queued.skipped)


def _summary_trigger(timetable: outbox.Timetable) -> BaseTrigger:
    """Every working day at the summary's time: the run itself finds whether one is due (a
    bank holiday Monday's goes on the Tuesday)."""
    at, zone = timetable.summary.at, timetable.summary.zone
    return CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=zone)


def _next_summary(timetable: outbox.Timetable, now: datetime) -> datetime:
    # Bank holidays only: the council's closure days are in the database, not read here.
    return timetable.summary.next_moment(now, WorkingCalendar())


WORKING_DAYS_AT_NINE = CronTrigger(day_of_week="mon-fri", hour=9, minute=0, timezone=LONDON)

JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "reminders",
            "reminders before the deadline (PERFBOT_REMINDER_DAYS, or a measure's own), to owners and delegates",
            WORKING_DAYS_AT_NINE,
            reminders,
        ),
        Job(
            "chasers",
            "chasers after the deadline (PERFBOT_CHASER_DAYS); then the overdue escalation to the escalation owner (PERFBOT_ESCALATE_AFTER_DAYS)",
            WORKING_DAYS_AT_NINE,
            chasers,
        ),
        Job(
            "unreachable",
            "the performance team hears who PerfBot cannot reach (not installed, blocked), for what, and how to fix it",
            CronTrigger(day_of_week="mon-fri", hour=9, minute=30, timezone=LONDON),
            unreachable,
            catch_up_after=timedelta(minutes=10),
        ),
        Job(
            "unacknowledged",
            "one reminder to an escalation owner who has not acknowledged an escalation in PERFBOT_ACKNOWLEDGE_DAYS working days",
            WORKING_DAYS_AT_NINE,
            unacknowledged,
        ),
        Job(
            "weekly-summary",
            "the Leadership Team's weekly summary, to their channel (perfbot leadership) or each of them (PERFBOT_SUMMARY_DAY, _TIME, _EVERY_WEEKS)",
            WORKING_DAYS_AT_NINE,
            weekly_summary,
            trigger_of=_summary_trigger,
            next_of=_next_summary,
        ),
    )
}
