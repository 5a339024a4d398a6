"""The reminder sweep over many measures at once (it reads them set-wise and writes its rows
in chunks): each reminder owed goes once, to the owner and the delegate, none to a measure
already returned, none on a second run; and the open returns it works from are the same as
each measure's own rule gives, gaps and newer versions without a figure included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import select

from domain import db, outbox, views
from domain.importing import import_workbook
from domain.model import Measure, Notification, Person, Return, ReturnState
from domain.outbox import Timetable
from domain.periods import Frequency, Period, periods_between
from domain.policy import Policy
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.workbook import Sheet

SET_UP = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # 2026/27 M7's deadline: day T
MEASURES = 1000  # their reminders are more than a chunk of the sweep's inserts (outbox.CHUNK)
MONTHS = periods_between(
    Period.of(2026, Frequency.MONTHLY, 1), Period.of(2026, Frequency.MONTHLY, 7)
)


def returned(n: int) -> bool:
    """Measures whose October (M7) figure is in already: owed nothing."""
    return n % 5 == 0


def gap(n: int) -> bool:
    """Measures whose June (M3) figure never came: open, but long past any reminder."""
    return n % 7 == 1


def council(count: int = MEASURES) -> dict[str, Sheet]:
    people = [
        {"email": f"owner{i}@council.gov.uk", "name": f"Owner {i}", "service": "Housing",
         "role": "owner"}
        for i in range(4)
    ] + [
        {"email": f"staff{i}@council.gov.uk", "name": f"Staff {i}", "service": "Housing",
         "role": ""}
        for i in range(10)
    ]  # fmt: skip
    measures = [
        {
            "code": f"SW-{n:04d}",
            "title": f"Swept {n}",
            "service": "Housing",
            "owner_email": f"owner{n % 4}@council.gov.uk",
            "delegate_emails": f"staff{n % 10}@council.gov.uk" if n % 3 == 0 else "",
            "frequency": "monthly",
            "unit": "number",
            "polarity": "higher",
        }
        for n in range(count)
    ]
    targets = [
        {"code": m["code"], "period": p.label, "target": "10"} for m in measures for p in MONTHS
    ]
    actuals = [
        {"code": m["code"], "period": p.label, "actual": "11", "commentary": "Fine."}
        for n, m in enumerate(measures)
        for p in MONTHS
        if not (p.index == 7 and not returned(n)) and not (p.index == 3 and gap(n))
    ]

    def sheet(name: str, rows: list[dict[str, str]]) -> Sheet:
        return Sheet(name, list(rows[0]), [(i + 2, r) for i, r in enumerate(rows)])

    return {
        "people": sheet("people", people),
        "measures": sheet("measures", measures),
        "targets": sheet("targets", targets),
        "actuals": sheet("actuals", actuals),
    }


async def test_a_sweep_over_many_measures_reminds_each_once_and_no_returned_measure(engine):
    uow = UnitOfWork(db.session_factory(engine))
    async with uow() as tx:
        await import_workbook(tx, council(), now=SET_UP)
    async with uow() as tx:
        ids = {p.email: p.id for p in (await tx.scalars(select(Person))).all()}
        first = await outbox.sweep(tx, NOW, Timetable(), outbox.REMINDER_KINDS)
    expected = []
    for n in range(MEASURES):
        if returned(n):
            continue
        who = [f"owner{n % 4}@council.gov.uk"] + ([f"staff{n % 10}@council.gov.uk"] * (n % 3 == 0))
        expected += [f"reminder:SW-{n:04d}:2026/27 M7:T:{ids[email]}" for email in who]
    assert first.queued == expected
    assert first.skipped == {}
    async with uow() as tx:
        rows = (await tx.scalars(select(Notification))).all()
        again = await outbox.sweep(tx, NOW, Timetable(), outbox.REMINDER_KINDS)
    assert sorted(r.reason_key for r in rows) == sorted(expected)
    assert {r.payload["deadline"] for r in rows} == {"2026-11-20"}
    assert again.queued == []
    assert again.skipped == {"queued before": len(expected)}


async def test_open_periods_read_set_wise_are_each_measures_own(engine):
    """open_periods_of (aggregates) against open_periods (each measure's returns read
    whole): the same, for measures with a gap, and with a newer version that has no
    figure (its period open again)."""
    uow = UnitOfWork(db.session_factory(engine))
    async with uow() as tx:
        await import_workbook(tx, council(30), now=SET_UP)
    async with uow() as tx:
        reopened = await tx.scalar(select(Measure).where(Measure.code == "SW-0002"))
        assert reopened is not None
        tx.add(
            Return(
                measure_id=reopened.id,
                period="2026/27 M5",
                version=2,
                value=None,
                not_available_reason="The system is down.",
                state=ReturnState.SUBMITTED,
                submitted_at=NOW,
            )
        )
    today = date(2026, 11, 20)
    async with uow() as tx:
        measures = (await tx.scalars(select(Measure).order_by(Measure.id))).all()
        read = await views.records(tx, measures)
        each = {m.id: views.open_periods(m, read[m.id], today) for m in measures}
        together = await views.open_periods_of(tx, measures, today)
    assert together == each
    labels = {m.code: [p.label for p in each[m.id]] for m in measures}
    assert labels["SW-0000"] == []  # returned
    assert labels["SW-0001"] == ["2026/27 M3", "2026/27 M7"]  # the gap stays open
    assert labels["SW-0002"] == ["2026/27 M5", "2026/27 M7"]  # its newest version has none
    assert labels["SW-0003"] == ["2026/27 M7"]


async def test_my_measures_for_fifty_measures_lists_them_all_as_each_measures_own_rule_does(
    engine,
):
    """my_returns reads only the periods its card shows; its items are the ones each
    measure's own rule gives from all it has (returns_of on records), all 50 measures."""
    uow = UnitOfWork(db.session_factory(engine))
    async with uow() as tx:
        await import_workbook(tx, council(200), now=SET_UP)
    today = date(2026, 11, 20)
    policy = Policy()
    async with uow() as tx:
        owner = await tx.scalar(select(Person).where(Person.email == "owner0@council.gov.uk"))
        assert owner is not None
        items = await views.my_returns(tx, owner, today, policy)
        measures = (
            await tx.scalars(
                select(Measure).where(Measure.owner_id == owner.id).order_by(Measure.code)
            )
        ).all()
        read = await views.records(tx, measures)
        calendar = await load_calendar(tx)
        each = [
            item
            for m in measures
            for item in views.returns_of(m, read[m.id], today, policy, calendar)
        ]
    assert len(measures) == 50
    assert [(i.measure.code, i.period.label, i.state) for i in items] == [
        (i.measure.code, i.period.label, i.state) for i in each
    ]
    assert [replace(i, actions=(), benchmarks="") for i in items] == each
    assert {i.measure.code for i in items} == {m.code for m in measures}
    gap = next(i for i in items if i.measure.code == "SW-0008" and i.period.label == "2026/27 M3")
    assert gap.state == "overdue"
