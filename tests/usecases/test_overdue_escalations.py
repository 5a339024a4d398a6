"""Overdue escalations as use cases, on the sample council: the sweep raises each return's
escalation once and queues one digest per escalation owner per working day; the digest
lists every return still overdue past the escalation point; Chase for me and Acknowledge,
and who may press them; and each service's leadership contact, set from the spreadsheet."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cards.render import overdue_card
from domain import overdue
from domain.importing import ImportRejected, import_workbook
from domain.model import AuditEntry, Escalation, Measure, Notification, Person, Service
from domain.outbox import CHASER_KINDS, Timetable, still_wanted, sweep
from domain.policy import Policy
from domain.reporting import load_calendar
from domain.workbook import Sheet

FRIDAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # RB-01..04's October returns: T+5
MARK, AMINA = "mark.taylor@kingsmere.gov.uk", "amina.hussain@kingsmere.gov.uk"
ADMIN, DAVID = "rachel.singh@kingsmere.gov.uk", "david.okafor@kingsmere.gov.uk"
CLAIRE = "claire.whitfield@kingsmere.gov.uk"  # escalation owner of another service


async def chasers(uow, now: datetime) -> list[str]:
    async with uow() as tx:
        return (await sweep(tx, now, Timetable(), set(CHASER_KINDS))).queued


async def test_one_digest_per_escalation_owner_per_day_listing_every_late_return(uow, person):
    mark = await person(MARK)
    queued = await chasers(uow, FRIDAY)
    mine = [k for k in queued if k.startswith(f"overdue:{mark.id}:")]
    # One for Mark, and (as he has no PerfBot yet) a copy for each of the performance team
    # and for David Okafor, the leadership contact of Revenues and Benefits.
    assert f"overdue:{mark.id}:2026-11-27" in mine
    assert await chasers(uow, FRIDAY + timedelta(hours=1)) == []  # a second run: nothing
    async with uow() as tx:
        row = await tx.scalar(
            select(Notification).where(Notification.reason_key == f"overdue:{mark.id}:2026-11-27")
        )
        escalations = list(
            await tx.scalars(select(Escalation).where(Escalation.reason == "overdue"))
        )
        found = await overdue.digest(tx, mark.id, FRIDAY, Policy())
    assert row.payload["returns"] == [f"RB-0{n} 2026/27 M7" for n in (1, 2, 3, 4)]
    # One per return, holding its ack: October's, and the sample's EW-05 2024/25 H2, never
    # sent and long past its escalation point (still overdue, so it never drops out).
    assert {e.period for e in escalations} == {"2026/27 M7", "2024/25 H2"}
    assert [(i.item.measure.code, i.owner, i.item.overdue_days) for i in found.items] == [
        ("RB-01", "Amina Hussain", 5),
        ("RB-02", "Amina Hussain", 5),
        ("RB-03", "Gareth Jones", 5),
        ("RB-04", "Gareth Jones", 5),
    ]
    assert found.unreachable  # nobody has installed PerfBot in this database


async def test_copies_go_to_the_performance_team_and_the_services_leadership_contact(uow, person):
    mark, david, admin = await person(MARK), await person(DAVID), await person(ADMIN)
    queued = await chasers(uow, FRIDAY)
    assert f"overdue:{mark.id}:2026-11-27:via:{admin.id}" in queued
    assert f"overdue:{mark.id}:2026-11-27:via:{david.id}" in queued
    async with uow() as tx:
        copy = await tx.scalar(
            select(Notification).where(
                Notification.reason_key == f"overdue:{mark.id}:2026-11-27:via:{david.id}"
            )
        )
        rb = await tx.scalar(select(Service).where(Service.name == "Revenues and Benefits"))
    assert copy.payload["for"] == "Mark Taylor"
    assert copy.payload["services"] == [rb.id]  # David's copy: the services he leads


async def test_chase_for_me_once_a_day_by_the_escalation_owner_or_an_admin(uow, person):
    mark, amina, admin, claire = [await person(e) for e in (MARK, AMINA, ADMIN, CLAIRE)]
    await chasers(uow, FRIDAY)
    now = FRIDAY + timedelta(hours=1)
    refused = await uow.run(
        lambda tx: overdue.chase_for_me(tx, claire, "RB-02", "2026/27 M7", now, Policy())
    )
    assert refused.refused
    assert "Only Mark Taylor (the escalation owner for RB-02)" in refused.note
    done = await uow.run(
        lambda tx: overdue.chase_for_me(tx, admin, "RB-02", "2026/27 M7", now, Policy())
    )
    assert "queued for Amina Hussain" in done.note
    again = await uow.run(
        lambda tx: overdue.chase_for_me(tx, mark, "RB-02", "2026/27 M7", now, Policy())
    )
    assert "already chased today at 10:00 (asked by Rachel Singh)" in again.note
    tomorrow = now + timedelta(days=3)  # Monday: another chase may go
    later = await uow.run(
        lambda tx: overdue.chase_for_me(tx, mark, "RB-02", "2026/27 M7", tomorrow, Policy())
    )
    assert "queued for Amina Hussain" in later.note
    missing = await uow.run(
        lambda tx: overdue.chase_for_me(tx, mark, "ZZ-99", "2026/27 M7", now, Policy())
    )
    assert missing.refused
    async with uow() as tx:
        rows = list(
            await tx.scalars(
                select(Notification).where(Notification.reason_key.like("chaser:RB-02:%:asked:%"))
            )
        )
        audits = list(await tx.scalars(select(AuditEntry).where(AuditEntry.entity == "escalation")))
    assert sorted((r.payload["asked_by"], r.person_id) for r in rows) == [
        ("Mark Taylor", amina.id),
        ("Rachel Singh", amina.id),
    ]
    # The same mornings' sweep also escalated the sample's milestone past its date (KA-05).
    assert sorted(a.action for a in audits if a.key.startswith("RB-")) == [
        "chase",
        "chase",
        "refused chase",
    ]


async def test_acknowledged_returns_bring_no_more_digests(uow, person):
    mark = await person(MARK)
    await chasers(uow, FRIDAY)
    codes = [(f"RB-0{n}", "2026/27 M7") for n in (1, 2, 3, 4)]
    result = await uow.run(lambda tx: overdue.acknowledge(tx, mark, codes, FRIDAY, Policy()))
    assert result.note.startswith("Acknowledged RB-01 for 2026/27 M7, RB-02 for 2026/27 M7,")
    monday = FRIDAY + timedelta(days=3)
    assert not [k for k in await chasers(uow, monday) if k.startswith(f"overdue:{mark.id}:")]
    async with uow() as tx:  # still listed (they are still late), marked as acknowledged
        found = await overdue.digest(tx, mark.id, monday, Policy())
    assert [i.acknowledged.by for i in found.items] == ["Mark Taylor"] * 4
    assert found.items[0].item.overdue_days == 6


async def test_the_digest_goes_every_working_day_for_weeks_until_all_are_acknowledged(uow, person):
    """Past the escalation point a return brings its escalation owner's card every working
    day while it is unacknowledged, not just for the working week after that point (as when
    the sweep went by the reminder steps, which lapse). An acknowledged return is still
    listed, but alone brings no card."""
    mark = await person(MARK)
    codes = [(f"RB-0{n}", "2026/27 M7") for n in (1, 2, 3)]  # RB-04's is left
    days = []
    day = FRIDAY
    while day < FRIDAY + timedelta(weeks=4):
        async with uow() as tx:
            calendar = await load_calendar(tx)
        if calendar.is_working_day(day.date()):
            days.append(day)
        day += timedelta(days=1)
    for n, now in enumerate(days):
        if n == 2:
            await uow.run(lambda tx, at=now: overdue.acknowledge(tx, mark, codes, at, Policy()))
        queued = await chasers(uow, now)
        assert f"overdue:{mark.id}:{now.date().isoformat()}" in queued, now
    async with uow() as tx:
        row = await tx.scalar(
            select(Notification).where(
                Notification.reason_key == f"overdue:{mark.id}:{days[-1].date().isoformat()}"
            )
        )
        found = await overdue.digest(tx, mark.id, days[-1], Policy())
    assert len(days) >= 19  # four weeks of working days, past the old five-day lapse
    assert row.payload["returns"] == ["RB-04 2026/27 M7"]  # what brought it
    # The card lists all four (and later months escalated since), RB-01..03 as acknowledged.
    listed = {(i.item.measure.code, i.item.period.label): i for i in found.items}
    assert all(listed[c].acknowledged for c in codes)
    assert listed[("RB-04", "2026/27 M7")].acknowledged is None
    # Once RB-04's is acknowledged too, and nothing else of Mark's is unacknowledged, no card.
    async with uow() as tx:
        rest = [
            (i.item.measure.code, i.item.period.label)
            for i in (await overdue.digest(tx, mark.id, days[-1], Policy())).items
            if i.acknowledged is None
        ]
    await uow.run(lambda tx: overdue.acknowledge(tx, mark, rest, days[-1], Policy()))
    after = days[-1] + timedelta(days=1 if days[-1].weekday() < 4 else 3)
    assert not [k for k in await chasers(uow, after) if k.startswith(f"overdue:{mark.id}:")]


def services_sheet(*rows: tuple[str, str]) -> dict[str, Sheet]:
    columns = ["name", "leadership_contact"]
    return {
        "services": Sheet(
            "services",
            columns,
            [(i + 2, dict(zip(columns, r, strict=True))) for i, r in enumerate(rows)],
        )
    }


async def test_the_services_sheet_sets_a_leadership_contact_and_refuses_an_unknown_one(uow, person):
    claire = await person(CLAIRE)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with pytest.raises(ImportRejected) as rejected:
        async with uow() as tx:
            await import_workbook(
                tx,
                services_sheet(
                    ("Revenues and Benefits", CLAIRE),
                    ("Planning and Regeneration", "nobody@kingsmere.gov.uk"),
                ),
                now=now,
            )
    assert (
        "services row 3: leadership_contact 'nobody@kingsmere.gov.uk' is not a known person: "
        "add them to people" in str(rejected.value)
    )
    async with uow() as tx:  # nothing was written
        rb = await tx.scalar(select(Service).where(Service.name == "Revenues and Benefits"))
        assert rb.leadership_contact_id != claire.id
    async with uow() as tx:
        summary = await import_workbook(
            tx, services_sheet(("revenues and benefits", CLAIRE)), now=now
        )
    assert summary.updated["services"] == 1
    async with uow() as tx:
        rb = await tx.scalar(select(Service).where(Service.name == "Revenues and Benefits"))
        audit = await tx.scalar(
            select(AuditEntry).where(AuditEntry.entity == "service", AuditEntry.at == now)
        )
    assert rb.leadership_contact_id == claire.id
    assert audit.changes["leadership_contact"] == [DAVID, CLAIRE]
    async with uow() as tx:  # the same again changes nothing
        again = await import_workbook(
            tx, services_sheet(("Revenues and Benefits", CLAIRE)), now=now
        )
    assert not again.changed


async def test_a_copy_not_yet_sent_when_the_escalation_owner_becomes_reachable_is_dropped(
    uow, person
):
    mark, admin = await person(MARK), await person(ADMIN)
    await chasers(uow, FRIDAY)
    key = f"overdue:{mark.id}:2026-11-27:via:{admin.id}"
    async with uow() as tx:
        copy = await tx.scalar(select(Notification).where(Notification.reason_key == key))
        assert await still_wanted(tx, copy, FRIDAY.date(), Policy()) is None
        (await tx.get(Person, mark.id)).teams_user_id = "29:mark"  # seen in Teams since
    async with uow() as tx:
        copy = await tx.scalar(select(Notification).where(Notification.reason_key == key))
        why = await still_wanted(tx, copy, FRIDAY.date(), Policy())
    assert why == "Mark Taylor can be reached now and is sent their own card"


async def test_someone_else_pressing_acknowledge_all_is_refused_once_and_audited(uow, person):
    amina = await person(AMINA)
    await chasers(uow, FRIDAY)
    codes = [(f"RB-0{n}", "2026/27 M7") for n in (1, 2, 3, 4)]
    result = await uow.run(lambda tx: overdue.acknowledge(tx, amina, codes, FRIDAY, Policy()))
    assert result.refused
    assert result.note == (
        "Only Mark Taylor (the escalation owner for RB-01, RB-02, RB-03 and RB-04) or the "
        "performance team can do that, so nothing was changed."
    )
    async with uow() as tx:
        acknowledged = list(
            await tx.scalars(select(Escalation).where(Escalation.acknowledged_at.is_not(None)))
        )
        refusals = list(
            await tx.scalars(select(AuditEntry).where(AuditEntry.action == "refused acknowledge"))
        )
    assert acknowledged == []
    assert len(refusals) == 4


async def rb01_escalation(tx) -> Escalation:
    return await tx.scalar(
        select(Escalation)
        .join(Measure, Measure.id == Escalation.measure_id)
        .where(
            Measure.code == "RB-01",
            Escalation.reason == "overdue",
            Escalation.period == "2026/27 M7",
        )
    )


async def test_two_acknowledgements_at_the_same_moment_store_one(uow, person):
    mark, admin = await person(MARK), await person(ADMIN)
    await chasers(uow, FRIDAY)
    now = FRIDAY + timedelta(hours=1)

    async def press(who):
        return await uow.run(
            lambda tx: overdue.acknowledge(tx, who, [("RB-01", "2026/27 M7")], now, Policy())
        )

    first, second = await asyncio.gather(press(mark), press(admin))
    notes = sorted([first.note, second.note])
    assert notes[0] == "Acknowledged RB-01 for 2026/27 M7 at 10:00."
    winner = mark if first.note.startswith("Acknowledged") else admin
    assert notes[1] == (
        f"RB-01 for 2026/27 M7 was already acknowledged by {winner.name} at 10:00 on "
        "Friday 27 November 2026."
    )
    async with uow() as tx:
        escalation = await rb01_escalation(tx)
        audits = list(
            await tx.scalars(select(AuditEntry).where(AuditEntry.action == "acknowledge"))
        )
    assert escalation.acknowledged_by_id == winner.id
    assert [a.actor for a in audits] == [winner.email]


async def test_an_acknowledgement_at_half_past_midnight_in_july_is_on_the_london_day(uow, person):
    """00:30 in London on 15 July is 23:30 UTC on the 14th: the day said is the 15th."""
    mark = await person(MARK)
    await chasers(uow, FRIDAY)
    async with uow() as tx:
        escalation = await rb01_escalation(tx)
        escalation.acknowledged_at = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
        escalation.acknowledged_by_id = mark.id
    again = await uow.run(
        lambda tx: overdue.acknowledge(tx, mark, [("RB-01", "2026/27 M7")], FRIDAY, Policy())
    )
    assert again.note == (
        "RB-01 for 2026/27 M7 was already acknowledged by Mark Taylor at 00:30 on "
        "Wednesday 15 July 2026."
    )
    async with uow() as tx:
        found = await overdue.digest(tx, mark.id, FRIDAY, Policy())
    assert "by Mark Taylor, 00:30 Wednesday 15 July 2026" in str(overdue_card(found, FRIDAY.date()))
