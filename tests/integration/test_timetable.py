"""The reminder timetable run as the scheduler runs it, every day at 09:00 London time from
October to June: across both clock changes, Christmas, Easter and the late-May bank holiday (whose
effect on a chaser tests/unit/test_reminders.py shows),
checking exactly who is messaged when, and that a return sent stops the chasing."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from cards.render import return_card
from domain import views
from domain.dates import LONDON
from domain.importing import import_workbook
from domain.model import Measure, Notification, Person, Return, ReturnState
from domain.outbox import CHASER_KINDS, REMINDER_KINDS, Timetable, sweep
from domain.periods import Period
from domain.policy import Policy
from domain.reporting import load_calendar
from domain.workbook import Sheet


def council() -> dict[str, Sheet]:
    people = [
        {
            "email": "olivia@council.gov.uk",
            "name": "Olivia Owner",
            "service": "Housing",
            "role": "owner",
        },
        {"email": "dev@council.gov.uk", "name": "Dev Delegate", "service": "Housing", "role": ""},
        {
            "email": "esme@council.gov.uk",
            "name": "Esme Escalation",
            "service": "Housing",
            "role": "escalation_owner",
        },
    ]
    base = {
        "service": "Housing",
        "owner_email": "olivia@council.gov.uk",
        "delegate_emails": "dev@council.gov.uk",
        "escalation_owner_email": "esme@council.gov.uk",
        "polarity": "higher",
        "unit": "number",
    }
    measures = [
        {**base, "code": "TM-01", "title": "A monthly measure", "frequency": "monthly"},
        {**base, "code": "TQ-01", "title": "A quarterly measure", "frequency": "quarterly"},
    ]
    return {
        "people": Sheet("people", list(people[0]), [(i + 2, p) for i, p in enumerate(people)]),
        "measures": Sheet(
            "measures", list(measures[0]), [(i + 2, m) for i, m in enumerate(measures)]
        ),
    }


async def run_every_morning(
    sessions, first: date, last: date, on_day=None
) -> dict[date, list[tuple]]:
    """Both sweeps at 09:00 London on every calendar day; what was queued, by day. A return
    escalated as overdue is listed as its step ``overdue:code:period:T+5:escalated`` (the
    escalation owner is sent one digest a day for all their returns, keyed by person and
    day: see ``digests``)."""
    queued: dict[date, list[tuple]] = defaultdict(list)
    day = first
    while day <= last:
        now = datetime.combine(day, time(9, 0), tzinfo=LONDON).astimezone(UTC)
        if on_day:
            await on_day(day, now)
        for kinds in (REMINDER_KINDS, CHASER_KINDS):
            async with sessions() as session, session.begin():
                result = await sweep(session, now, Timetable(), set(kinds))
            for key in result.queued:
                if not key.startswith("overdue:"):
                    queued[day].append(key)
            for escalated in result.escalated:
                queued[day].append(f"overdue:{escalated}:T+5:escalated")
        day += timedelta(days=1)
    return queued


async def digests(sessions) -> dict[date, tuple[str, list[str]]]:
    """The overdue digests queued: by day, to whom and the returns that brought it."""
    async with sessions() as session:
        names = {p.id: p.name.split()[0] for p in (await session.scalars(select(Person))).all()}
        rows = (
            await session.scalars(select(Notification).where(Notification.kind == "overdue"))
        ).all()
    out: dict[date, tuple[str, list[str]]] = {}
    for row in rows:
        day = date.fromisoformat(row.payload["day"])
        assert day not in out, f"two digests on {day}"
        out[day] = (names[row.person_id], row.payload["returns"])
    return out


async def messages(sessions) -> dict[str, tuple[str, datetime]]:
    async with sessions() as session:
        names = {p.id: p.name.split()[0] for p in (await session.scalars(select(Person))).all()}
        rows = (await session.scalars(select(Notification))).all()
    return {
        r.reason_key.rsplit(":", 1)[0] + ":" + names[r.person_id]: (r.kind, r.not_before)
        for r in rows
    }


async def test_a_year_of_mornings_messages_exactly_the_right_people_on_the_right_days(sessions):
    async with sessions() as session, session.begin():
        await import_workbook(session, council(), now=datetime(2025, 9, 1, tzinfo=UTC))

    async def olivia_sends_april_on_its_deadline(day: date, now: datetime) -> None:
        if day == date(2026, 5, 22):
            async with sessions() as session, session.begin():
                measure = await session.scalar(select(Measure).where(Measure.code == "TM-01"))
                session.add(
                    Return(
                        measure_id=measure.id,
                        period="2026/27 M1",
                        version=1,
                        value=Decimal(5),
                        commentary="Sent.",
                        state=ReturnState.SUBMITTED,
                        submitted_at=now,
                    )
                )

    queued = await run_every_morning(
        sessions, date(2025, 10, 1), date(2026, 6, 30), olivia_sends_april_on_its_deadline
    )
    sent = {k: v for k, v in (await messages(sessions)).items() if v[0] != "overdue"}

    # Nothing on a weekend or a bank holiday.
    for day in queued:
        assert day.weekday() < 5, day
        assert day not in (
            date(2025, 12, 25),
            date(2025, 12, 26),
            date(2026, 4, 3),
            date(2026, 4, 6),
            date(2026, 5, 4),
            date(2026, 5, 25),
        ), day

    # Always 09:00 on the wall clock, in GMT and in BST.
    assert {nb.astimezone(LONDON).time() for _, nb in sent.values()} == {time(9, 0)}
    assert sent["chaser:TM-01:2025/26 M6:T+1:Olivia"][1] == datetime(
        2025, 10, 22, 8, 0, tzinfo=UTC
    )  # BST
    assert sent["reminder:TM-01:2025/26 M7:T-5:Olivia"][1] == datetime(
        2025, 11, 14, 9, 0, tzinfo=UTC
    )  # GMT

    def when(code: str, period: str) -> dict[str, date]:
        found = {}
        for day, keys in queued.items():
            for key in keys:
                _kind, c, p, step, _ = key.split(":")
                if (c, p) == (code, period):
                    found.setdefault(step, day)
        return found

    def who(code: str, period: str, step: str) -> set[str]:
        prefix = f":{code}:{period}:{step}:"
        return {k.rsplit(":", 1)[1] for k in sent if prefix in k}

    # The quarter ending in March, due after Easter: Good Friday and Easter Monday are skipped.
    assert when("TQ-01", "2025/26 Q4") == {
        "T-5": date(2026, 4, 16),
        "T-1": date(2026, 4, 22),
        "T": date(2026, 4, 23),
        "T+1": date(2026, 4, 24),
        "T+3": date(2026, 4, 28),
        "T+5": date(2026, 4, 30),
    }
    assert who("TQ-01", "2025/26 Q4", "T-1") == {"Olivia", "Dev"}
    assert who("TQ-01", "2025/26 Q4", "T+3") == {"Olivia", "Dev"}
    # The overdue escalation: Esme's digest that day lists it (with TM-01's March, escalated
    # the same day, and every earlier return still overdue and unacknowledged: one card, not
    # one per measure).
    daily = await digests(sessions)
    esme, brought = daily[date(2026, 4, 30)]
    assert esme == "Esme"
    assert {"TM-01 2025/26 M12", "TQ-01 2025/26 Q4", "TM-01 2025/26 M6"} <= set(brought)
    assert "TM-01 2026/27 M1" not in daily[date(2026, 6, 30)][1]  # sent on its deadline

    # November, due just before Christmas: the overdue escalation waits until 30 December.
    assert when("TM-01", "2025/26 M8") == {
        "T-5": date(2025, 12, 12),
        "T-1": date(2025, 12, 18),
        "T": date(2025, 12, 19),
        "T+1": date(2025, 12, 22),
        "T+3": date(2025, 12, 24),
        "T+5": date(2025, 12, 30),
    }

    # April 2026, sent early on its deadline day (22 May), before the 09:00 run: reminded
    # before, and neither reminded on the day nor chased after (25 May is a bank holiday).
    assert when("TM-01", "2026/27 M1") == {"T-5": date(2026, 5, 15), "T-1": date(2026, 5, 21)}
    # March was never sent: due 23 April (after Easter), chased on 24 and 28 April, escalated
    # on 30 April.
    assert when("TM-01", "2025/26 M12") == {
        "T-5": date(2026, 4, 16),
        "T-1": date(2026, 4, 22),
        "T": date(2026, 4, 23),
        "T+1": date(2026, 4, 24),
        "T+3": date(2026, 4, 28),
        "T+5": date(2026, 4, 30),
    }
    # May's return is due on 19 June, so its first reminder is on 12 June.
    assert when("TM-01", "2026/27 M2")["T-5"] == date(2026, 6, 12)

    # Each message once: 2 people for each reminder and chaser; Esme one digest every
    # working day from the first day a return is escalated, while any is unacknowledged and
    # still overdue (nobody acknowledges here, and the returns after April's are never
    # sent): not for a working week after each escalation, then lapsing.
    escalated = [k for keys in queued.values() for k in keys if k.startswith("overdue:")]
    assert len(sent) == sum(len(keys) for keys in queued.values()) - len(escalated)
    assert {who for who, _ in daily.values()} == {"Esme"}
    assert all(day.weekday() < 5 for day in daily)
    assert "TM-01 2025/26 M8" in daily[date(2025, 12, 30)][1]
    escalation_days = {
        day for day, keys in queued.items() for k in keys if k.startswith("overdue:")
    }
    assert escalation_days <= set(daily)
    async with sessions() as session:
        calendar = await load_calendar(session)
    every = []
    day = min(escalation_days)
    while day <= date(2026, 6, 30):
        if calendar.is_working_day(day):
            every.append(day)
        day += timedelta(days=1)
    assert sorted(daily) == every
    assert len(every) > 150  # months of mornings, not a week after each escalation
    # Late in June Esme's card is still brought by a return escalated the autumn before.
    assert "TQ-01 2025/26 Q2" in daily[date(2026, 6, 30)][1]


def queued_steps(queued: dict[date, list[tuple]], code: str, period: str) -> dict[str, date]:
    """The day each step of one return was first queued."""
    found: dict[str, date] = {}
    for day, keys in sorted(queued.items()):
        for key in keys:
            _kind, c, p, step, _ = key.split(":")
            if (c, p) == (code, period):
                found.setdefault(step, day)
    return found


async def test_reminders_chasers_and_the_return_card_follow_the_published_deadlines(sessions):
    # The timetable brings the quarter's returns forward to Thursday 9 October 2025, and
    # TM-01's September return to Tuesday 14 October; both would otherwise be due on
    # 21 October, 15 working days after 30 September.
    columns = ["frequency", "code", "period", "due_date", "review_date", "review"]
    rows = [
        ["quarterly", "", "2025/26 Q2", "2025-10-09", "2025-10-14", "Corporate Management Team"],
        ["", "TM-01", "2025/26 M6", "14/10/2025", "", ""],
    ]
    sheets = council()
    sheets["deadlines"] = Sheet(
        "deadlines",
        columns,
        [(i + 2, dict(zip(columns, r, strict=True))) for i, r in enumerate(rows)],
    )
    async with sessions() as session, session.begin():
        await import_workbook(session, sheets, now=datetime(2025, 9, 1, tzinfo=UTC))

    # The return card an owner sees says the same: due on the 9th, overdue after it (read
    # before the sweeps below escalate it).
    q2 = Period.parse("2025/26 Q2")
    async with sessions() as session:
        measure = await session.scalar(select(Measure).where(Measure.code == "TQ-01"))
        calendar = await load_calendar(session)
        before = await views.open_return(
            session, measure, date(2025, 10, 8), Policy(), calendar, q2
        )
        after = await views.open_return(
            session, measure, date(2025, 10, 13), Policy(), calendar, q2
        )
    assert (before.deadline, before.state, before.next_ask) == (
        date(2025, 10, 9),
        "due",
        date(2025, 10, 9),
    )
    assert "Thursday 9 October 2025" in str(return_card(before, date(2025, 10, 8)))
    assert (after.deadline, after.state) == (date(2025, 10, 9), "overdue")
    assert "Thursday 9 October 2025 (overdue by" in str(return_card(after, date(2025, 10, 13)))

    queued = await run_every_morning(sessions, date(2025, 9, 29), date(2025, 10, 31))

    assert queued_steps(queued, "TQ-01", "2025/26 Q2") == {
        "T-5": date(2025, 10, 2),
        "T-1": date(2025, 10, 8),
        "T": date(2025, 10, 9),
        "T+1": date(2025, 10, 10),
        "T+3": date(2025, 10, 14),
        "T+5": date(2025, 10, 16),
    }
    assert queued_steps(queued, "TM-01", "2025/26 M6") == {
        "T-5": date(2025, 10, 7),
        "T-1": date(2025, 10, 13),
        "T": date(2025, 10, 14),
        "T+1": date(2025, 10, 15),
        "T+3": date(2025, 10, 17),
        "T+5": date(2025, 10, 21),
    }
    async with sessions() as session:
        reminder = await session.scalar(
            select(Notification).where(Notification.reason_key.like("reminder:TQ-01:%:T-1:%"))
        )
    assert reminder is not None
    assert reminder.payload["deadline"] == "2025-10-09"
