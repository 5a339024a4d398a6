"""The reporting cycle over months: an open return stays open until its figure arrives,
however many periods follow it; each unanswered return is chased on its chaser days and
escalated once; and the performance team hears each working day who cannot be reached."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from domain import db, people, views
from domain.dates import LONDON
from domain.importing import import_workbook
from domain.model import Measure, Notification, Person, Return, ReturnState
from domain.notifications import Kind
from domain.outbox import Timetable
from domain.periods import Frequency, Period, periods_between
from domain.policy import Policy
from domain.reminders import Cadence, steps
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.workbook import Sheet
from scheduler.jobs import JOBS, JobContext

SET_UP = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def council() -> dict[str, Sheet]:
    people_rows = [
        {"email": "nia@council.gov.uk", "name": "Nia Never", "service": "Housing", "role": "owner"},
        {
            "email": "ada@council.gov.uk",
            "name": "Ada Always",
            "service": "Housing",
            "role": "owner",
        },
        {
            "email": "esme@council.gov.uk",
            "name": "Esme Escalation",
            "service": "Housing",
            "role": "escalation_owner",
        },
        {
            "email": "pat@council.gov.uk",
            "name": "Pat Performance",
            "service": "Housing",
            "role": "admin",
        },
    ]
    base = {
        "service": "Housing",
        "escalation_owner_email": "esme@council.gov.uk",
        "polarity": "higher",
        "unit": "number",
    }
    measures = [
        # Due 25 working days after the month: its chasers fall after the next month has ended.
        {**base, "code": "NM-01", "title": "Never sent, monthly", "frequency": "monthly",
         "owner_email": "nia@council.gov.uk", "deadline_working_days": "25"},
        {**base, "code": "NQ-01", "title": "Never sent, quarterly", "frequency": "quarterly",
         "owner_email": "nia@council.gov.uk"},
        {**base, "code": "AM-01", "title": "Always sent on its deadline", "frequency": "monthly",
         "owner_email": "ada@council.gov.uk"},
    ]  # fmt: skip
    targets = [
        {"code": code, "period": p.label, "target": "10"}
        for code, frequency in (("NM-01", Frequency.MONTHLY), ("AM-01", Frequency.MONTHLY))
        for p in periods_between(Period.of(2026, frequency, 1), Period.of(2026, frequency, 12))
    ]
    return {
        "people": Sheet(
            "people", list(people_rows[0]), [(i + 2, p) for i, p in enumerate(people_rows)]
        ),
        "measures": Sheet(
            "measures", list(measures[0]), [(i + 2, m) for i, m in enumerate(measures)]
        ),
        "targets": Sheet("targets", list(targets[0]), [(i + 2, t) for i, t in enumerate(targets)]),
    }


async def test_every_unanswered_return_is_chased_on_its_days_and_escalated_once(sessions):
    uow = UnitOfWork(sessions)
    async with uow() as tx:
        await import_workbook(tx, council(), now=SET_UP)
        calendar = await load_calendar(tx)
        ids = {m.code: m for m in await tx.scalars(select(Measure))}
    context = JobContext(uow, Timetable(), Policy())
    queued: dict[str, dict[str, date]] = defaultdict(dict)  # "code period" -> step -> day
    counts: dict[str, int] = defaultdict(int)
    copies: dict[str, int] = defaultdict(int)
    digests: dict[str, int] = defaultdict(int)
    day, last = date(2026, 4, 1), date(2026, 12, 31)
    mid_july: list[views.OpenReturn] = []
    while day <= last:
        now = datetime.combine(day, time(9, 0), tzinfo=LONDON).astimezone(UTC)
        async with uow() as tx:  # Ada sends each month's figure early on its deadline day
            for period in periods_between(
                Period.of(2026, Frequency.MONTHLY, 1), Period.containing(day, Frequency.MONTHLY)
            ):
                if calendar.deadline(period, 15) == day:
                    tx.add(Return(measure_id=ids["AM-01"].id, period=period.label, value=Decimal(11),
                                  commentary="Sent.", state=ReturnState.SUBMITTED, submitted_at=now))  # fmt: skip
        for name in ("reminders", "chasers"):
            result = await JOBS[name].run(context, now)
            for key in result.queued:
                if ":via:" in key:  # Esme has no PerfBot: the performance team gets a copy
                    copies[key.split(":via:")[0]] += 1
                    continue
                if key.startswith("overdue:"):  # Esme's digest: one a day, for all her returns
                    digests[key] += 1
                    continue
                kind, code, period, step, _ = key.split(":")
                queued[f"{code} {period}"].setdefault(step, day)
                counts[f"{kind}:{code}:{period}:{step}"] += 1
            for escalated in result.escalated:  # "code:period", raised as overdue
                code, period = escalated.split(":")
                queued[f"{code} {period}"].setdefault("T+5", day)
                counts[f"overdue:{code}:{period}:T+5"] += 1
        if day == date(2026, 7, 15):
            async with uow() as tx:
                nia = await tx.scalar(select(Person).where(Person.email == "nia@council.gov.uk"))
                mid_july = await views.my_returns(tx, nia, day, Policy())
        day += timedelta(days=1)

    # Every step of every return Nia never sent, on its day, whatever followed it; Esme once.
    cadence = Cadence()
    for code, frequency, working_days in (
        ("NM-01", Frequency.MONTHLY, 25),
        ("NQ-01", Frequency.QUARTERLY, 15),
    ):
        for period in periods_between(
            Period.of(2026, frequency, 1), Period.containing(last, frequency)
        ):
            expected = {
                s.label: s.day
                for s in steps(calendar.deadline(period, working_days), calendar, cadence)
                if s.day <= last
            }
            assert queued.get(f"{code} {period.label}", {}) == expected, (code, period.label)
    escalations = {k: n for k, n in counts.items() if k.startswith("overdue:")}
    assert escalations
    assert set(escalations.values()) == {1}
    assert "overdue:NM-01:2026/27 M1:T+5" in escalations  # due 5 June, escalated after June ended
    # ... and each reached someone: Esme's digest of the day (one a day, never one per
    # return) is copied to Pat, the performance team, once, as Esme cannot be reached.
    assert digests
    assert set(digests.values()) == {1}
    assert set(copies) == set(digests)
    assert set(copies.values()) == {1}
    async with uow() as tx:
        rows = list(await tx.scalars(select(Notification).where(Notification.kind == Kind.OVERDUE)))
        pat = await tx.scalar(select(Person).where(Person.email == "pat@council.gov.uk"))
    assert {(r.payload["for"], r.payload["why"]) for r in rows if r.person_id == pat.id} == {
        ("Esme Escalation", people.NOT_INSTALLED)
    }
    listed = {label for r in rows for label in r.payload["returns"]}
    assert {f"{k.split(':')[1]} {k.split(':')[2]}" for k in escalations} <= listed

    # Ada is reminded and never chased.
    assert all(
        set(steps_of) <= {"T-5", "T-1"} for k, steps_of in queued.items() if k.startswith("AM-01")
    )
    assert queued["AM-01 2026/27 M1"]

    # In mid-July every month Nia has not sent is still open, the oldest first and escalated.
    july = date(2026, 7, 15)

    def state(period: Period) -> str:
        deadline = calendar.deadline(period, 25)
        if calendar.add_working_days(deadline, 5) <= july:
            return "escalated"
        return "overdue" if deadline < july else "due"

    expected = [
        (p.label, state(p))
        for p in periods_between(Period.of(2026, Frequency.MONTHLY, 1), Period.of(2026, Frequency.MONTHLY, 3))
    ]  # fmt: skip
    assert [(i.period.label, i.state) for i in mid_july if i.measure.code == "NM-01"] == expected
    assert [s for _, s in expected] == ["escalated", "escalated", "due"]  # April, May, June


async def test_the_performance_team_hears_each_working_day_who_cannot_be_reached(sessions):
    uow = UnitOfWork(sessions)
    async with uow() as tx:
        await import_workbook(tx, council(), now=SET_UP)
    context = JobContext(uow, Timetable(), Policy())
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert (await JOBS["unreachable"].run(context, monday)).queued == []  # everyone reachable
    async with uow() as tx:
        esme = await tx.scalar(select(Person).where(Person.email == "esme@council.gov.uk"))
        await people.mark_unreachable(tx, esme.id, people.NOT_INSTALLED, monday)
        tx.add(
            Notification(
                reason_key="overdue:NM-01:2026/27 M6:T+5:x", kind=Kind.OVERDUE, person_id=esme.id,
                payload={"code": "NM-01", "period": "2026/27 M6"}, not_before=monday,
                state="failed", last_error=people.NOT_INSTALLED, created_at=monday,
            )
        )  # fmt: skip
    early = await JOBS["unreachable"].run(context, monday - timedelta(hours=2))  # a 07:30 start
    assert early.queued == []
    assert "before 09:30" in next(iter(early.skipped))
    assert (await JOBS["unreachable"].run(context, monday)).queued
    assert (await JOBS["unreachable"].run(context, monday + timedelta(hours=2))).queued == []
    saturday = monday + timedelta(days=5)
    assert (await JOBS["unreachable"].run(context, saturday)).queued == []
    async with uow() as tx:
        [digest] = list(
            await tx.scalars(select(Notification).where(Notification.kind == Kind.UNREACHABLE))
        )
        pat = await tx.get(Person, digest.person_id)
    assert pat.email == "pat@council.gov.uk"
    [who] = digest.payload["people"]
    assert (who["name"], who["why"], who["waiting"]) == (
        "Esme Escalation",
        people.NOT_INSTALLED,
        ["overdue NM-01 2026/27 M6"],
    )


async def test_open_returns_start_at_the_councils_open_from(engine):
    uow = UnitOfWork(db.session_factory(engine))
    async with uow() as tx:
        await import_workbook(tx, council(), now=SET_UP)
        nia = await tx.scalar(select(Person).where(Person.email == "nia@council.gov.uk"))
        everything = await views.my_returns(tx, nia, date(2026, 12, 1), Policy())
        recent = await views.my_returns(
            tx, nia, date(2026, 12, 1), Policy(open_from=date(2026, 10, 1))
        )
    assert next(i.period.label for i in everything if i.measure.code == "NM-01") == "2026/27 M1"
    assert [i.period.label for i in recent if i.measure.code == "NM-01"] == [
        "2026/27 M7",
        "2026/27 M8",
    ]
