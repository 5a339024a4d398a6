"""Key actions and their milestones as use cases, on the sample council (Janet O'Brien owns
KA-05, "Build 100 new council homes"; Sarah Lindqvist is its escalation owner): a key action
can be Strong and, once complete, is asked for no more until a later status reopens it; a
milestone past its date counts as unlikely and is escalated once; the milestone card's
update; and the milestones sheet, read and written back unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain import escalations, milestones, returns, views
from domain.importing import ImportRejected, import_workbook
from domain.model import AuditEntry, Escalation, Measure, Milestone, Notification, Person
from domain.notifications import Kind
from domain.outbox import CHASER_KINDS, REMINDER_KINDS, Timetable, sweep
from domain.policy import Policy
from domain.ratings import Rating
from domain.reporting import EXPORT_COLUMNS, performance
from domain.returns import SubmitReturn
from domain.views import Receipt, Refused
from domain.workbook import Sheet
from tests.conftest import NOW

JANET = "janet.obrien@kingsmere.gov.uk"
SARAH = "sarah.lindqvist@kingsmere.gov.uk"
AMINA = "amina.hussain@kingsmere.gov.uk"
POLICY = Policy()
LATE = "Appoint the contractor for Elm Road"  # the sample's milestone due 2 November, not done
# KA-05's 2026/27 Q3 return (October to December) is due in January: every working morning
# of January 2027 at 09:00 (GMT).
JANUARY = [
    datetime(2027, 1, d, 9, 0, tzinfo=UTC) for d in range(4, 30) if date(2027, 1, d).weekday() < 5
]


def submit(who: Person, status: str, period: str = "2026/27 Q2", **typed: str) -> SubmitReturn:
    return SubmitReturn(
        person_id=who.id,
        code="KA-05",
        period=period,
        status=status,
        commentary=typed.pop("commentary", "Progress as planned."),
        card_id=f"card-{status}-{period}",
        **typed,
    )


async def run_submit(uow, command: SubmitReturn, now: datetime = NOW):
    async with uow() as tx:
        who = await tx.get(Person, command.person_id)
    return await uow.run(
        lambda tx: returns.submit_return(tx, command, who, now, POLICY, 4_000),
        attempts=returns.SUBMIT_ATTEMPTS,
    )


async def waiting(uow, who: Person, now: datetime) -> list[str]:
    async with uow() as tx:
        items = await views.my_returns(tx, who, views.today_in_london(now), POLICY)
    return [
        f"{i.measure.code} {i.period.label} {i.state}" for i in items if i.measure.code == "KA-05"
    ]


async def ka05_messages(uow) -> list[str]:
    async with uow() as tx:
        return list(
            await tx.scalars(
                select(Notification.reason_key).where(
                    Notification.reason_key.like("%:KA-05:2026/27 Q3:%")
                )
            )
        )


async def test_a_key_action_exceeding_expectations_is_strong_and_round_trips(uow, person):
    janet = await person(JANET)
    receipt = await run_submit(uow, submit(janet, "On track, exceeding expectations"))
    assert isinstance(receipt, Receipt)
    assert receipt.assessment.rating is Rating.STRONG
    assert receipt.shown == "on track, exceeding expectations"
    assert "exceeding expectations: Strong" in receipt.assessment.explanation
    async with uow() as tx:
        stored = await views.newest_by_period(
            tx, (await views.measure_by_code(tx, "KA-05")).id, ["2026/27 Q2"]
        )
    assert stored["2026/27 Q2"].exceeding_expectations
    # Only complete or on track can exceed expectations: said on the card, nothing stored.
    rejected = await run_submit(uow, submit(janet, "some risk, exceeding expectations"))
    assert isinstance(rejected, returns.Rejected)
    assert "only complete or on track" in rejected.problems.errors["status"]


async def test_a_complete_key_action_is_asked_for_no_more_until_a_later_status_reopens_it(
    uow, person
):
    janet = await person(JANET)
    receipt = await run_submit(uow, submit(janet, "complete, outcomes exceeding expectations"))
    assert isinstance(receipt, Receipt)
    assert receipt.assessment.rating is Rating.STRONG
    assert "PerfBot will not ask for KA-05 again" in receipt.next_steps
    assert "type submit KA-05" in receipt.next_steps
    # January: Q3 has ended, yet it is not waiting, and no reminder or chaser is queued.
    assert await waiting(uow, janet, JANUARY[-1]) == ["KA-05 2026/27 Q3 complete"]
    for morning in JANUARY:
        for kinds in (REMINDER_KINDS, CHASER_KINDS):
            async with uow() as tx:
                await sweep(tx, morning, Timetable(), set(kinds))
    assert await ka05_messages(uow) == []
    async with uow() as tx:
        assert not await tx.scalar(
            select(func.count())
            .select_from(Escalation)
            .join(Measure)
            .where(Measure.code == "KA-05", Escalation.reason == "overdue")
        )
    # `submit KA-05` still opens its card, saying it is complete and how to reopen it.
    async with uow() as tx:
        card = await views.return_card_for(
            tx, janet, "KA-05", None, views.today_in_london(JANUARY[0]), POLICY
        )
    assert (card.state, card.completed, card.period.label) == (
        "complete",
        "2026/27 Q2",
        "2026/27 Q3",
    )
    # Reopened: a later status other than complete, and Q3 is asked for again.
    reopened = await run_submit(
        uow, submit(janet, "on track", "2026/27 Q2", commentary="Reopened."), JANUARY[0]
    )
    assert isinstance(reopened, Receipt)
    assert await waiting(uow, janet, JANUARY[-1]) == ["KA-05 2026/27 Q3 overdue"]


async def test_an_import_with_a_status_other_than_complete_reopens_a_complete_key_action(
    uow, person
):
    # KA-06 was reported complete for its last quarters: nothing of it is waiting.
    mark = await person("mark.taylor@kingsmere.gov.uk")
    later = datetime(2027, 2, 1, 10, tzinfo=UTC)
    async with uow() as tx:
        items = await views.my_returns(tx, mark, views.today_in_london(later), POLICY)
    [ka06] = [i for i in items if i.measure.code == "KA-06"]
    assert ka06.state == "complete"
    actuals = Sheet("actuals", ["code", "period", "actual"], [(2, {"code": "KA-06", "period": "2026/27 Q2", "actual": "some risk"})])  # fmt: skip
    async with uow() as tx:
        await import_workbook(tx, {"actuals": actuals}, now=NOW)
    async with uow() as tx:
        items = await views.my_returns(tx, mark, views.today_in_london(later), POLICY)
    assert [i.state for i in items if i.measure.code == "KA-06"] == ["overdue"]


async def test_a_milestone_past_its_date_escalates_once_to_the_escalation_owner(uow, person):
    sarah = await person(SARAH)
    async with uow() as tx:
        result = await sweep(tx, NOW, Timetable(), set(CHASER_KINDS))
    async with uow() as tx:
        [escalation] = await tx.scalars(
            select(Escalation).where(Escalation.reason.like("milestone:%"))
        )
        milestone = await tx.get(Milestone, escalation.milestone_id)
        keys = list(
            await tx.scalars(
                select(Notification.reason_key).where(
                    Notification.reason_key.like("escalation:KA-05:milestone:%")
                )
            )
        )
        card = await escalations.view(tx, escalation, NOW, POLICY)
    assert milestone.title == LATE
    assert escalation.escalation_owner_id == sarah.id
    assert f"KA-05:{milestone.id}" in result.escalated
    # To Sarah, and (she has no PerfBot yet) a copy to each of the performance team.
    assert f"escalation:KA-05:milestone:{milestone.id}" in keys
    assert card.milestone[:3] == [
        ("Milestone", LATE),
        ("Milestone owner", "Janet O'Brien"),
        ("Due", "Monday 2 November 2026"),
    ]
    assert card.rating == "🚩 Action"
    assert f"Its milestone '{LATE}' was due on 02 November 2026 and is not complete" in (
        card.explanation
    )
    # Once: the next mornings raise nothing more.
    for days in (1, 2, 3):
        async with uow() as tx:
            again = await sweep(tx, NOW + timedelta(days=days), Timetable(), set(CHASER_KINDS))
        assert not [e for e in again.escalated if e.startswith("KA-05:")]
    async with uow() as tx:
        assert await tx.scalar(select(func.count()).select_from(Escalation).where(
            Escalation.reason.like("milestone:%"))) == 1  # fmt: skip


async def test_a_return_rated_action_only_for_an_escalated_milestone_is_not_escalated_again(
    uow, person
):
    janet = await person(JANET)
    async with uow() as tx:
        await sweep(tx, NOW, Timetable(), set(CHASER_KINDS))  # the milestone's escalation
    january = datetime(2027, 1, 5, 10, tzinfo=UTC)
    receipt = await run_submit(
        uow, submit(janet, "on track", "2026/27 Q3", action_due="2027-02-01"), january
    )
    assert receipt.assessment.rating is Rating.ACTION  # the late milestone counts
    async with uow() as tx:
        reasons = list(
            await tx.scalars(select(Escalation.reason).where(Escalation.period == "2026/27 Q3"))
        )
        cards = list(
            await tx.scalars(
                select(Notification.reason_key).where(
                    Notification.kind == Kind.ESCALATION,
                    Notification.reason_key.like("escalation:KA-05:%"),
                    Notification.person_id == (await person(SARAH)).id,
                )
            )
        )
    assert [r.split(":")[0] for r in reasons] == ["milestone"]
    assert len(cards) == 1  # Sarah hears of it once


async def test_a_milestone_past_its_date_makes_the_key_actions_rating_unlikely(uow, person):
    janet = await person(JANET)
    january = datetime(2027, 1, 5, 10, tzinfo=UTC)
    receipt = await run_submit(
        uow, submit(janet, "on track", "2026/27 Q3", action_due="2027-02-01"), january
    )
    assert isinstance(receipt, Receipt)
    assert receipt.assessment.rating is Rating.ACTION
    assert f"Its milestone '{LATE}' was due on 02 November 2026" in receipt.assessment.explanation
    # Once those due in Q3 are complete (this one, and "Start on site" of 3 December), the
    # same status rates Good.
    for title in (LATE, "Start on site at Elm Road"):
        async with uow() as tx:
            found = await tx.scalar(select(Milestone).where(Milestone.title == title))
            command = milestones.UpdateMilestone(found.id, "complete", "")
            await milestones.update(tx, janet, command, NOW)
    receipt = await run_submit(
        uow, submit(janet, "on track", "2026/27 Q3", commentary="All on track now."), january
    )
    assert receipt.assessment.rating is Rating.GOOD


async def update(uow, who: Person, title: str, status: str, revised: str = "", now=NOW):
    async with uow() as tx:
        found = await tx.scalar(select(Milestone).where(Milestone.title == title))
    return await uow.run(
        lambda tx: milestones.update(
            tx, who, milestones.UpdateMilestone(found.id, status, revised), now
        )
    )


async def test_the_milestone_card_asks_a_revised_date_when_slipping_and_refuses_one_past(
    uow, person
):
    janet = await person(JANET)
    with pytest.raises(milestones.MilestoneProblems) as slipping:
        await update(uow, janet, LATE, "some risk")
    assert slipping.value.errors == {
        "revised_date": "It is slipping: give the revised date it is now expected by."
    }
    with pytest.raises(milestones.MilestoneProblems) as past:
        await update(uow, janet, LATE, "some risk", "2026-11-20")
    assert past.value.errors["revised_date"].startswith("Friday 20 November 2026 has passed")
    with pytest.raises(milestones.MilestoneProblems) as bad:
        await update(uow, janet, LATE, "nearly", "soon")
    assert set(bad.value.errors) == {"milestone_status", "revised_date"}
    done = await update(uow, janet, LATE, "some risk", "2026-12-14")
    assert done.note == f"Saved: '{LATE}' is some risk, now expected by Monday 14 December 2026."
    async with uow() as tx:
        stored = await tx.scalar(select(Milestone).where(Milestone.title == LATE))
        audit = await tx.scalar(
            select(AuditEntry)
            .where(AuditEntry.entity == "milestone")
            .order_by(AuditEntry.id.desc())
        )
    assert (stored.revised_date, stored.updated_by_id) == (date(2026, 12, 14), janet.id)
    assert audit.changes == {"revised_date": [None, "2026-12-14"]}
    # Someone else's milestone is not theirs to update.
    amina = await person(AMINA)
    with pytest.raises(Refused, match="Janet O'Brien's to update"):
        await update(uow, amina, LATE, "complete")


async def test_a_milestone_whose_revised_date_has_gone_can_still_be_marked_complete(uow, person):
    # The card comes back filled with the stored revised date; once that day has gone, the
    # owner who picks Complete and presses Save is not asked to clear it first.
    janet = await person(JANET)
    await update(uow, janet, LATE, "some risk", "2026-12-14")
    later = NOW + timedelta(days=30)
    with pytest.raises(milestones.MilestoneProblems) as still_slipping:
        await update(uow, janet, LATE, "some risk", "2026-12-14", now=later)
    assert "Monday 14 December 2026 has passed" in still_slipping.value.errors["revised_date"]
    done = await update(uow, janet, LATE, "complete", "2026-12-14", now=later)
    assert "is complete" in done.note
    async with uow() as tx:
        stored = await tx.scalar(select(Milestone).where(Milestone.title == LATE))
    assert stored.completed_on == date(2026, 12, 23)


async def test_completing_a_milestone_closes_its_escalation(uow, person):
    janet = await person(JANET)
    async with uow() as tx:
        await sweep(tx, NOW, Timetable(), set(CHASER_KINDS))
    done = await update(uow, janet, LATE, "complete")
    assert done.note == (
        f"Saved: '{LATE}' is complete (completed Monday 23 November 2026); its escalation "
        "is closed."
    )
    async with uow() as tx:
        escalation = await tx.scalar(
            select(Escalation).where(Escalation.reason.like("milestone:%"))
        )
    assert escalation.closed_reason == "recovered"


async def test_a_persons_milestones_are_theirs_and_their_key_actions(uow, person):
    async with uow() as tx:
        janet = await tx.scalar(select(Person).where(Person.email == JANET))
        mine = milestones.lines(await milestones.of_person(tx, janet), date(2026, 11, 23))
    assert [(m.milestone.title, m.past_due, m.due_soon) for m in mine] == [
        ("Planning consent for the Elm Road site", False, False),
        (LATE, True, False),
        ("Start on site at Elm Road", False, True),
    ]
    assert mine[1].line == "due Monday 2 November 2026 · PAST DUE: counts as unlikely"


MILESTONE_COLUMNS = list(milestones.MILESTONE_COLUMNS)


def sheet(*rows: dict[str, str]) -> dict[str, Sheet]:
    return {
        "milestones": Sheet(
            "milestones", MILESTONE_COLUMNS, [(n + 2, row) for n, row in enumerate(rows)]
        )
    }


async def test_the_milestones_sheet_round_trips_and_a_reimport_changes_nothing(uow):
    async with uow() as tx:
        exported = await milestones.sheet_rows(tx)
    assert len(exported) == 5
    assert exported[0][:2] == ("KA-01", "Submit the plan to the Planning Inspectorate")
    rows = [
        {c: "" if v is None else str(v) for c, v in zip(MILESTONE_COLUMNS, row, strict=True)}
        for row in exported
    ]
    async with uow() as tx:
        before = await tx.scalar(select(func.count()).select_from(AuditEntry))
        summary = await import_workbook(tx, sheet(*rows), now=NOW)
    assert summary.unchanged["milestones"] == 5
    assert not summary.changed
    async with uow() as tx:
        assert await tx.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert await milestones.sheet_rows(tx) == exported


async def test_a_milestones_sheet_without_the_optional_columns_keeps_what_the_card_saved(
    uow, person
):
    """status, revised_date, completed_on and owner_email are optional columns: a sheet
    without them changes none of them (what an owner saved on the milestone card stays)."""
    janet = await person(JANET)
    await update(uow, janet, LATE, "complete")
    planning = "Planning consent for the Elm Road site"  # the sample gives its owner
    async with uow() as tx:
        before = {
            m.title: (m.status, m.revised_date, m.completed_on, m.owner_id)
            for m in await tx.scalars(
                select(Milestone).where(Milestone.title.in_([LATE, planning]))
            )
        }
    assert before[LATE][0] == "complete"
    assert before[LATE][2] is not None
    assert before[planning][3] is not None
    columns = ["code", "milestone", "due_date"]
    rows = [
        {"code": "KA-05", "milestone": LATE, "due_date": "2026-11-02"},
        {"code": "KA-05", "milestone": planning, "due_date": "2026-09-14"},
    ]
    async with uow() as tx:
        summary = await import_workbook(
            tx,
            {"milestones": Sheet("milestones", columns, [(n + 2, r) for n, r in enumerate(rows)])},
            now=NOW,
        )
    assert summary.unchanged["milestones"] == 2
    assert not summary.changed
    async with uow() as tx:
        after = {
            m.title: (m.status, m.revised_date, m.completed_on, m.owner_id)
            for m in await tx.scalars(
                select(Milestone).where(Milestone.title.in_([LATE, planning]))
            )
        }
    assert after == before


async def test_bad_milestone_rows_are_refused_one_problem_a_cell(uow):
    rows = [
        {"code": "KA-99", "milestone": "A", "due_date": "2026-12-01"},
        {"code": "RB-01", "milestone": "B", "due_date": "2026-12-01"},
        {
            "code": "KA-05",
            "milestone": "C",
            "owner_email": "nobody@kingsmere.gov.uk",
            "due_date": "2026-12-01",
        },
        {"code": "KA-05", "milestone": "D", "due_date": "tomorrow"},
        {"code": "KA-05", "milestone": "E", "due_date": "2026-12-01", "status": "nearly"},
        {"code": "KA-05", "milestone": "", "due_date": "2026-12-01"},
    ]
    with pytest.raises(ImportRejected) as rejected:
        async with uow() as tx:
            await import_workbook(tx, sheet(*rows), now=NOW)
    problems = [(p.row, p.message) for p in rejected.value.problems]
    assert [row for row, _ in problems] == [2, 3, 4, 5, 6, 7]
    assert "code 'KA-99' is not a known key action" in problems[0][1]
    assert "RB-01 is a measure, not a key action" in problems[1][1]
    assert "owner_email 'nobody@kingsmere.gov.uk' is not a known person" in problems[2][1]
    assert problems[3][1].startswith("due_date")
    assert problems[4][1].startswith("status")
    assert problems[5][1] == "milestone is empty: say what the milestone is"
    async with uow() as tx:
        assert await tx.scalar(select(func.count()).select_from(Milestone)) == 5


def actuals(actual: str) -> dict[str, Sheet]:
    row = {"code": "KA-05", "period": "2026/27 Q2", "actual": actual, "commentary": "Done."}
    return {"actuals": Sheet("actuals", list(row), [(2, row)])}


async def test_the_actuals_sheet_takes_exceeding_expectations_and_export_writes_it_back(uow):
    async with uow() as tx:
        summary = await import_workbook(tx, actuals("complete, exceeding expectations"), now=NOW)
    assert summary.updated["actuals"] == 1
    async with uow() as tx:
        rows = await performance(tx, POLICY.scheme)
    [row] = [r for r in rows if r.measure.code == "KA-05" and r.period.label == "2026/27 Q2"]
    exported = dict(zip(EXPORT_COLUMNS, row.export_values(), strict=True))
    assert (exported["actual"], exported["rating"]) == (
        "complete, exceeding expectations",
        "Strong",
    )
    # Importing what export wrote (or the card's words for it) changes nothing.
    for words in (exported["actual"], "Complete, outcomes exceeding expectations"):
        async with uow() as tx:
            again = await import_workbook(tx, actuals(words), now=NOW)
        assert not again.changed
    with pytest.raises(ImportRejected) as rejected:
        async with uow() as tx:
            await import_workbook(tx, actuals("unlikely, exceeding expectations"), now=NOW)
    [problem] = rejected.value.problems
    assert "only complete or on track can have outcomes exceeding expectations" in problem.message
