"""Cover as use cases (issue 18) on the sample council: who the sweeps send an away owner's
reminders and chasers to, what is cancelled at send time when cover starts or ends, the
escalation owner's Chase for me, and the absences PerfBot refuses (nobody to cover, a cover
away too), each with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from domain import cover, overdue, returns, views
from domain.model import Absence, Notification, NotificationState, Person
from domain.outbox import CHASER_KINDS, Timetable, still_wanted, sweep
from domain.policy import Policy

AMINA = "amina.hussain@kingsmere.gov.uk"  # owns RB-01 (Lucy is its delegate), RB-02, RB-06
LUCY = "lucy.price@kingsmere.gov.uk"  # delegate for RB-01 and RB-03
MARK = "mark.taylor@kingsmere.gov.uk"  # Amina's manager; escalation owner for RB-01 to RB-06
GARETH = "gareth.jones@kingsmere.gov.uk"
# Monday 23 November 2026, 09:00: October's returns (due Friday 20) are owed their first
# chaser; Wednesday 25 the second.
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEDNESDAY = MONDAY + timedelta(days=2)


async def chasers(uow, now: datetime) -> list[str]:
    async with uow() as tx:
        return (await sweep(tx, now, Timetable(), set(CHASER_KINDS))).queued


async def chasers_to(uow, email: str, code: str) -> list[Notification]:
    async with uow() as tx:
        who = await tx.scalar(select(Person.id).where(Person.email == email))
        return list(
            await tx.scalars(
                select(Notification).where(
                    Notification.kind == "chaser",
                    Notification.person_id == who,
                    Notification.reason_key.like(f"chaser:{code}:%"),
                )
            )
        )


async def test_the_sweeps_send_an_away_owners_chasers_to_the_covers_and_none_to_them(uow, person):
    amina = await person(AMINA)
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    await chasers(uow, MONDAY)
    assert await chasers_to(uow, AMINA, "RB-0") == []
    [lucy] = await chasers_to(uow, LUCY, "RB-01")
    [mark] = await chasers_to(uow, MARK, "RB-02")  # no delegate: her manager
    assert lucy.payload["covering_id"] == mark.payload["covering_id"] == amina.id
    assert await chasers_to(uow, MARK, "RB-01") == []  # RB-01 has a delegate to cover it
    # Lucy's own delegate's chaser (Gareth's RB-03) is as ever.
    [rb03] = await chasers_to(uow, LUCY, "RB-03")
    assert "covering_id" not in rb03.payload
    # Back on the day given: on Wednesday the second chaser is Amina's own.
    async with uow() as tx:
        await tx.execute(update(Absence).values(until=WEDNESDAY.date()))
    await chasers(uow, WEDNESDAY)
    assert [n.reason_key for n in await chasers_to(uow, AMINA, "RB-01")] == [
        f"chaser:RB-01:2026/27 M7:T+3:{amina.id}"
    ]


async def test_a_chaser_queued_before_the_owner_went_away_is_cancelled_at_send_time(uow, person):
    amina = await person(AMINA)
    await chasers(uow, MONDAY)
    [queued] = await chasers_to(uow, AMINA, "RB-01")
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    async with uow() as tx:
        assert await still_wanted(tx, queued, MONDAY.date(), Policy()) == "away until 2026-12-11"


async def test_a_covers_chaser_is_cancelled_once_the_owner_is_back(uow, person):
    amina = await person(AMINA)
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    await chasers(uow, MONDAY)
    [queued] = await chasers_to(uow, LUCY, "RB-01")
    async with uow() as tx:
        assert await still_wanted(tx, queued, MONDAY.date(), Policy()) is None
        notice = (
            await tx.scalars(select(Notification).where(Notification.kind == "cover"))
        ).first()
        # The notices of cover went (the dispatcher's mark).
        await tx.execute(
            update(Notification)
            .where(Notification.kind == "cover")
            .values(state=NotificationState.SENT)
        )
    came = await uow.run(lambda tx: returns.back(tx, amina, MONDAY + timedelta(hours=1)))
    assert came.was_away
    assert came.ended == ("Lucy Price", "Mark Taylor")
    async with uow() as tx:
        assert await still_wanted(tx, queued, MONDAY.date(), Policy()) == "the owner is back"
        # The notice of cover, had it not gone yet, would not go now either.
        assert await still_wanted(tx, notice, MONDAY.date(), Policy()) == "Amina Hussain is back"
        ended = await tx.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "cover-ended")
        )
    assert ended == 2


async def test_back_before_the_notices_of_cover_went_withdraws_them_and_sends_nothing(uow, person):
    amina = await person(AMINA)
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    came = await uow.run(lambda tx: returns.back(tx, amina, MONDAY + timedelta(minutes=1)))
    assert (came.was_away, came.ended) == (True, ())
    async with uow() as tx:
        rows = list(await tx.scalars(select(Notification).order_by(Notification.id)))
    assert [(n.kind, n.state) for n in rows] == [("cover", NotificationState.CANCELLED)] * 2
    assert rows[0].last_error == "the cover ended before this went"


async def test_chase_for_me_reaches_the_cover_not_the_away_owner(uow, person):
    amina, mark = await person(AMINA), await person(MARK)
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", GARETH, MONDAY))
    done = await uow.run(
        lambda tx: overdue.chase_for_me(tx, mark, "RB-01", "2026/27 M7", MONDAY, Policy())
    )
    assert "queued for Gareth Jones and Lucy Price" in done.note
    async with uow() as tx:
        rows = list(
            await tx.scalars(
                select(Notification).where(Notification.reason_key.like("chaser:RB-01:%:asked:%"))
            )
        )
    assert {r.person_id for r in rows} == {(await person(GARETH)).id, (await person(LUCY)).id}
    assert all(r.payload["covering_id"] == amina.id for r in rows)


async def test_the_named_cover_and_a_manager_covering_may_send_the_return(uow, person):
    amina, gareth, mark = await person(AMINA), await person(GARETH), await person(MARK)
    today = MONDAY.date()
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", GARETH, MONDAY))
    async with uow() as tx:
        rb02 = await views.measure_by_code(tx, "RB-02")
        assert await cover.is_covering(tx, gareth, rb02, today)
        assert not await cover.is_covering(tx, mark, rb02, today)  # Gareth covers: not Mark
    await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    async with uow() as tx:
        rb02 = await views.measure_by_code(tx, "RB-02")
        assert await cover.is_covering(tx, mark, rb02, today)
        assert not await cover.is_covering(tx, gareth, rb02, today)
        assert not await cover.is_covering(tx, mark, rb02, today + timedelta(days=18))


async def test_an_away_delegate_gets_nothing_and_the_owner_gets_it_all(uow, person):
    lucy = await person(LUCY)
    await uow.run(lambda tx: returns.away(tx, lucy, "2026-12-11", "", MONDAY))
    await chasers(uow, MONDAY)
    assert await chasers_to(uow, LUCY, "RB-0") == []
    assert len(await chasers_to(uow, AMINA, "RB-01")) == 1


async def absences(uow) -> int:
    async with uow() as tx:
        return await tx.scalar(select(func.count()).select_from(Absence)) or 0


async def notices(uow) -> int:
    async with uow() as tx:
        return (
            await tx.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.kind.in_(["cover", "cover-ended"]))
            )
            or 0
        )


async def test_nobody_to_cover_is_refused_with_what_to_type(uow, person):
    amina, mark = await person(AMINA), await person(MARK)
    await uow.run(lambda tx: returns.away(tx, mark, "2026-12-04", "", MONDAY))
    told = await notices(uow)
    with pytest.raises(views.Refused) as refused:
        await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    assert str(refused.value) == (
        "Nobody would get the reminders for RB-02 and RB-06: they have no delegate and your "
        "manager, Mark Taylor, is away too. Name who covers, as in away until 2026-12-11 "
        "delegate name@council.gov.uk."
    )
    with pytest.raises(views.Refused) as refused:
        await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", MARK, MONDAY))
    assert str(refused.value) == (
        "Mark Taylor is away too, until Friday 4 December 2026: name someone else."
    )
    async with uow() as tx:
        await tx.execute(update(Person).where(Person.id == amina.id).values(manager_id=None))
    assert await notices(uow) == told
    amina = await person(AMINA)
    await uow.run(lambda tx: returns.back(tx, mark, MONDAY))
    with pytest.raises(views.Refused, match="the people sheet names no manager for you"):
        await uow.run(lambda tx: returns.away(tx, amina, "2026-12-11", "", MONDAY))
    assert await absences(uow) == 0
