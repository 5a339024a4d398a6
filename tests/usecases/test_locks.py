"""Signing a period off, on the sample council: where a period's returns stand, locking it
(refused while returns are unapproved, unless forced; refused twice, or before the period
ends, or by someone who is not an admin), reopening it with a reason; an import into a
signed-off period, refused without a reason and recorded as a restatement with one; and
a signed-off period is never asked for again (reminders, chasers, escalations, my measures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from domain import locks, overdue, views
from domain.importing import ImportRejected, import_workbook
from domain.model import (
    AuditEntry,
    Escalation,
    Measure,
    Notification,
    PeriodLock,
    Person,
    Return,
    ReturnState,
    Target,
)
from domain.outbox import CHASER_KINDS, REMINDER_KINDS, Timetable, still_wanted, sweep
from domain.policy import Policy
from domain.reporting import latest_returns
from domain.views import Refused
from domain.workbook import Sheet
from tests.conftest import NOW

ADMIN = "rachel.singh@kingsmere.gov.uk"
AMINA = "amina.hussain@kingsmere.gov.uk"
MARK = "mark.taylor@kingsmere.gov.uk"
RAVI = "ravi.chauhan@kingsmere.gov.uk"  # owner of EW-05, whose 2024/25 H2 never arrived
Q2 = "2026/27 Q2"  # the sample's quarterly returns for July to September are in
FRIDAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def review(uow, code: str, label: str, state: ReturnState, by: str, comment=None) -> None:
    """What the approve/return flow does to a return (the main session's use case)."""
    async with uow() as tx:
        measure = await views.measure_by_code(tx, code)
        reviewer = await tx.scalar(select(Person).where(Person.email == by))
        ret = (await latest_returns(tx, [measure.id], [label]))[(measure.id, label)]
        ret.state = state
        ret.reviewed_by_id = reviewer.id
        ret.reviewed_at = NOW - timedelta(days=1)
        ret.review_comment = comment


async def audit_count(uow) -> int:
    async with uow() as tx:
        return await tx.scalar(select(func.count()).select_from(AuditEntry))


async def test_status_groups_each_measure_of_the_period_by_where_its_return_stands(uow):
    await review(uow, "RB-05", Q2, ReturnState.APPROVED, MARK)
    await review(uow, "RB-06", Q2, ReturnState.RETURNED, MARK, "Check September's claims")
    async with uow() as tx:
        status = await locks.period_status(tx, "2026/27 q2", NOW)
        quarterly = await tx.scalar(
            select(func.count()).where(Measure.active, Measure.frequency == "quarterly")
        )
    assert status.period.label == Q2
    assert status.lock is None
    # Imported figures are approved (the performance team's own); RB-05 by Mark in chat.
    reviewed = [(line.code, line.reviewed_by) for line in status.approved if line.reviewed_by]
    assert reviewed == [("RB-05", "Mark Taylor")]
    assert "RB-04" not in {line.code for line in status.approved}  # monthly: not this period
    [returned] = status.returned
    assert (returned.code, returned.owner, returned.service) == (
        "RB-06",
        "Amina Hussain",
        "Revenues and Benefits",
    )
    assert (returned.shown, returned.comment) == ("90.3%", "Check September's claims")
    assert returned.reviewed_at == NOW - timedelta(days=1)
    assert len(status.approved) + len(status.unapproved) == quarterly
    assert "RB-05" not in {line.code for line in status.unapproved}
    assert status.restated == ()


async def test_a_return_never_sent_is_missing(uow):
    async with uow() as tx:
        status = await locks.period_status(tx, "2024/25 H2", NOW)
    assert [(line.code, line.shown) for line in status.missing] == [("EW-05", "—")]


async def test_lock_with_unapproved_returns_is_refused_listing_them_and_writes_nothing(uow):
    # OD-04's H2 figure was sent in chat and awaits approval; EW-05's never came.
    await review(uow, "OD-04", "2024/25 H2", ReturnState.SUBMITTED, MARK)
    before = await audit_count(uow)
    with pytest.raises(Refused) as refused:
        await uow.run(lambda tx: locks.lock(tx, "2024/25 H2", ADMIN, NOW, None, False))
    message = str(refused.value)
    assert "2024/25 H2 has 2 returns not yet approved" in message
    assert "missing: EW-05" in message
    assert "awaiting approval: " in message
    assert "approve them first, or lock it with --force" in message
    async with uow() as tx:
        assert await views.lock_of(tx, "2024/25 H2") is None
    assert await audit_count(uow) == before


async def test_a_forced_lock_signs_the_period_off_and_audits_what_was_unapproved(uow):
    status = await uow.run(
        lambda tx: locks.lock(tx, "2024/25 H2", ADMIN, NOW, " Committee 5 June ", True)
    )
    assert status.lock is not None
    assert status.lock.locked_by == ADMIN
    async with uow() as tx:
        lock = await views.lock_of(tx, "2024/25 H2")
        entry = await tx.scalar(select(AuditEntry).where(AuditEntry.action == "lock"))
    assert (lock.locked_at, lock.locked_by, lock.reason) == (NOW, ADMIN, "Committee 5 June")
    assert (entry.actor, entry.entity, entry.key) == (ADMIN, "period", "2024/25 H2")
    assert entry.changes["forced"] is True
    assert entry.changes["reason"] == "Committee 5 June"
    assert "EW-05" in entry.changes["unapproved"]


async def test_a_period_whose_returns_are_all_approved_locks_without_force(uow):
    async with uow() as tx:
        status = await locks.period_status(tx, "2025/26", NOW)
    for line in status.unapproved:
        await review(uow, line.code, "2025/26", ReturnState.APPROVED, ADMIN)
    status = await uow.run(lambda tx: locks.lock(tx, "2025/26", ADMIN, NOW, None, False))
    assert status.lock is not None
    assert status.unapproved == ()
    async with uow() as tx:
        entry = await tx.scalar(select(AuditEntry).where(AuditEntry.action == "lock"))
    assert entry.changes == {"reason": None, "unapproved": [], "forced": False}


async def test_locking_twice_says_who_signed_it_off_and_when(uow):
    await uow.run(lambda tx: locks.lock(tx, Q2, ADMIN, NOW, "For Cabinet", True))
    with pytest.raises(Refused, match=r"2026/27 Q2 is already signed off: locked by "):
        await uow.run(lambda tx: locks.lock(tx, Q2, MARK, NOW, None, True))
    with pytest.raises(Refused) as refused:
        await uow.run(lambda tx: locks.lock(tx, Q2, MARK, NOW, None, True))
    assert f"{ADMIN} on Monday 23 November 2026 at 10:00" in str(refused.value)
    assert '"For Cabinet"' in str(refused.value)


async def test_a_period_not_yet_ended_cannot_be_signed_off(uow):
    with pytest.raises(Refused, match="2026/27 Q3 runs until Thursday 31 December 2026"):
        await uow.run(lambda tx: locks.lock(tx, "2026/27 Q3", ADMIN, NOW, None, True))
    with pytest.raises(Refused, match=r"is not a period.*as in 2025/26 Q1"):
        await uow.run(lambda tx: locks.lock(tx, "2026/27 Q9", ADMIN, NOW, None, True))


async def test_only_an_admin_may_lock_or_unlock_from_a_card(uow, person):
    amina, admin = await person(AMINA), await person(ADMIN)
    with pytest.raises(Refused, match="Only the performance team can sign off a period"):
        await uow.run(lambda tx: locks.lock(tx, Q2, AMINA, NOW, None, True, person=amina))
    await uow.run(lambda tx: locks.lock(tx, Q2, ADMIN, NOW, None, True, person=admin))
    with pytest.raises(Refused, match="Only the performance team can reopen a period"):
        await uow.run(lambda tx: locks.unlock(tx, Q2, AMINA, NOW, "Wrong", person=amina))
    await uow.run(lambda tx: locks.unlock(tx, Q2, ADMIN, NOW, "Wrong", person=admin))


async def test_unlock_needs_a_reason_and_a_lock_and_is_audited(uow):
    await uow.run(lambda tx: locks.lock(tx, Q2, ADMIN, NOW, None, True))
    with pytest.raises(Refused, match="Give a reason for reopening 2026/27 Q2"):
        await uow.run(lambda tx: locks.unlock(tx, Q2, ADMIN, NOW, "  "))
    with pytest.raises(Refused, match="2026/27 Q1 is not signed off"):
        await uow.run(lambda tx: locks.unlock(tx, "2026/27 Q1", ADMIN, NOW, "Oops"))
    later = NOW + timedelta(hours=2)
    await uow.run(lambda tx: locks.unlock(tx, Q2, MARK, later, "RB-06 was keyed wrongly"))
    async with uow() as tx:
        assert await views.lock_of(tx, Q2) is None
        entry = await tx.scalar(select(AuditEntry).where(AuditEntry.action == "unlock"))
    assert (entry.actor, entry.key, entry.at) == (MARK, Q2, later)
    assert entry.changes == {"reason": "RB-06 was keyed wrongly"}


# Import into a signed-off period.


def sheets(actuals: list[dict[str, str]], targets: list[dict[str, str]] = ()) -> dict:
    found = {
        "actuals": Sheet("actuals", ["code", "period", "actual", "commentary"], []),
        "targets": Sheet("targets", ["code", "period", "target"], []),
    }
    for name, rows in (("actuals", actuals), ("targets", targets)):
        found[name].rows = [(number, row) for number, row in enumerate(rows, start=2)]
    return found


async def stored(uow, code: str, label: str) -> list[Return]:
    async with uow() as tx:
        measure = await views.measure_by_code(tx, code)
        return list(
            await tx.scalars(
                select(Return)
                .where(Return.measure_id == measure.id, Return.period == label)
                .order_by(Return.version)
            )
        )


RB06 = {
    "code": "RB-06",
    "period": Q2,
    "actual": "88.1",
    "commentary": "Corrected: the September extract was incomplete.",
}


async def test_an_import_into_a_signed_off_period_is_refused_row_by_row(uow):
    await uow.run(lambda tx: locks.lock(tx, Q2, ADMIN, NOW, None, True))
    [rb06] = await stored(uow, "RB-06", Q2)
    unchanged = {
        "code": "RB-05",
        "period": Q2,
        "actual": "",
        "commentary": "",
    }
    async with uow() as tx:
        measure = await views.measure_by_code(tx, "RB-05")
        rb05 = (await latest_returns(tx, [measure.id], [Q2]))[(measure.id, Q2)]
        target = await tx.scalar(
            select(Target.value).where(Target.measure_id == measure.id, Target.period == Q2)
        )
    unchanged.update(actual=str(rb05.value), commentary=rb05.commentary)
    before = await audit_count(uow)
    with pytest.raises(ImportRejected) as rejected:
        await uow.run(
            lambda tx: import_workbook(
                tx,
                sheets(
                    [RB06, unchanged],
                    [
                        {"code": "RB-05", "period": Q2, "target": str(target)},  # the same
                        {"code": "RB-06", "period": Q2, "target": "95"},
                    ],
                ),
                now=NOW,
            )
        )
    problems = [(p.sheet, p.row) for p in rejected.value.problems]
    assert problems == [("targets", 3), ("actuals", 2)]  # unchanged rows are fine
    message = rejected.value.problems[1].message
    assert message.startswith(f"2026/27 Q2 was signed off by {ADMIN} on Monday 23 November 2026")
    assert "RB-06 2026/27 Q2 can no longer be changed" in message
    assert 're-run the import with --reason "why it changed"' in message
    assert [r.id for r in await stored(uow, "RB-06", Q2)] == [rb06.id]
    assert await audit_count(uow) == before


async def test_an_import_with_a_reason_records_a_restatement(uow):
    await uow.run(lambda tx: locks.lock(tx, Q2, ADMIN, NOW, None, True))
    later = NOW + timedelta(days=1)
    summary = await uow.run(
        lambda tx: import_workbook(
            tx,
            sheets([RB06], [{"code": "RB-06", "period": Q2, "target": "95"}]),
            now=later,
            reason="The September extract was incomplete",
        )
    )
    assert summary.restated == [f"RB-06 {Q2} target", f"RB-06 {Q2} actual"]
    first, second = await stored(uow, "RB-06", Q2)
    assert (second.version, second.value, second.source) == (2, Decimal("88.1"), "import")
    assert (second.restated, second.restated_from) == (True, "90.3%")
    assert second.correction_reason == "The September extract was incomplete"
    assert not first.restated
    async with uow() as tx:
        entries = list(
            await tx.scalars(
                select(AuditEntry).where(AuditEntry.at == later).order_by(AuditEntry.id)
            )
        )
        status = await locks.period_status(tx, Q2, later)
    assert [(e.action, e.entity, e.key) for e in entries] == [
        ("update", "target", f"RB-06 {Q2}"),
        ("restate", "return", f"RB-06 {Q2}"),
    ]
    target, restate = entries
    assert target.changes["reason"] == "The September extract was incomplete"
    assert restate.changes["actual"] == ["90.3%", "88.1%"]
    assert restate.changes["version"] == 2
    assert restate.changes["source"] == "import"
    assert restate.changes["reason"] == "The September extract was incomplete"
    [line] = status.restated
    assert (line.code, line.shown, line.restated_from) == ("RB-06", "88.1%", "90.3%")


async def test_a_reason_with_nothing_signed_off_changes_nothing_else(uow):
    summary = await uow.run(
        lambda tx: import_workbook(tx, sheets([RB06]), now=NOW, reason="Just in case")
    )
    assert summary.restated == []
    _, second = await stored(uow, "RB-06", Q2)
    assert not second.restated
    async with uow() as tx:
        entry = await tx.scalar(
            select(AuditEntry)
            .where(AuditEntry.key == f"RB-06 {Q2}")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    assert entry.action == "update"


# A signed-off period is never asked for.


async def test_a_signed_off_period_is_not_chased_escalated_or_listed_as_open(uow, person):
    ravi = await person(RAVI)
    await uow.run(lambda tx: locks.lock(tx, "2024/25 H2", ADMIN, NOW, None, True))
    async with uow() as tx:
        queued = (await sweep(tx, FRIDAY, Timetable(), set(CHASER_KINDS))).queued
        escalated = list(await tx.scalars(select(Escalation.period)))
        mine = await views.my_returns(tx, ravi, FRIDAY.date(), Policy())
        measure = await views.measure_by_code(tx, "EW-05")
        waiting, _ = await views.still_open(tx, measure, FRIDAY.date())
    assert not [k for k in queued if "EW-05" in k]
    assert "2024/25 H2" not in escalated
    assert ("EW-05", "2024/25 H2") not in {(i.measure.code, i.period.label) for i in mine}
    assert "2024/25 H2" not in {p.label for p in waiting}


async def test_without_the_lock_the_missing_return_is_still_chased(uow, person):
    ravi = await person(RAVI)
    async with uow() as tx:
        await sweep(tx, FRIDAY, Timetable(), set(CHASER_KINDS))
        escalated = set(await tx.scalars(select(Escalation.period)))
        mine = await views.my_returns(tx, ravi, FRIDAY.date(), Policy())
    assert "2024/25 H2" in escalated
    assert ("EW-05", "2024/25 H2") in {(i.measure.code, i.period.label) for i in mine}


async def test_a_reminder_queued_before_the_period_was_signed_off_is_not_sent(uow):
    friday = datetime(2026, 11, 13, 9, 0, tzinfo=UTC)  # October's returns are due in a week
    async with uow() as tx:
        queued = (await sweep(tx, friday, Timetable(), set(REMINDER_KINDS))).queued
    assert any("2026/27 M7" in key for key in queued)
    async with uow() as tx:
        tx.add(PeriodLock(period="2026/27 M7", locked_at=friday, locked_by=ADMIN))
    async with uow() as tx:
        rows = list(
            await tx.scalars(select(Notification).where(Notification.reason_key.like("%M7%")))
        )
        why = {await still_wanted(tx, row, friday.date()) for row in rows}
    assert why == {"the period has been signed off"}


async def test_chase_for_me_is_refused_for_a_signed_off_period(uow, person):
    admin = await person(ADMIN)
    await uow.run(lambda tx: locks.lock(tx, "2024/25 H2", ADMIN, NOW, None, True))
    done = await uow.run(
        lambda tx: overdue.chase_for_me(tx, admin, "EW-05", "2024/25 H2", FRIDAY, Policy())
    )
    assert "2024/25 H2 has been signed off" in done.note
    assert "nothing to chase" in done.note


async def test_an_escalated_return_signed_off_drops_out_of_the_overdue_digest(uow, person):
    mark = await person(MARK)
    async with uow() as tx:
        await sweep(tx, FRIDAY, Timetable(), set(CHASER_KINDS))  # October's are escalated
        before = await overdue.digest(tx, mark.id, FRIDAY, Policy())
    assert [i.item.period.label for i in before.items] == ["2026/27 M7"] * 4
    await uow.run(lambda tx: locks.lock(tx, "2026/27 M7", ADMIN, NOW, None, True))
    async with uow() as tx:
        after = await overdue.digest(tx, mark.id, FRIDAY + timedelta(days=3), Policy())
        queued = (await sweep(tx, FRIDAY + timedelta(days=3), Timetable(), CHASER_KINDS)).queued
    assert after.items == []
    assert not [k for k in queued if "2026/27 M7" in k or k.startswith(f"overdue:{mark.id}:")]
