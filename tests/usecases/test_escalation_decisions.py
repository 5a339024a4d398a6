"""The escalation use cases on a real database: which ratings escalate (a council setting),
stopping a key action, a spent remedial action, and a recovery's receipt when the
escalation owner cannot be reached."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select, update

from domain import deep_dives, escalations
from domain.model import (
    ActionPlan,
    AuditEntry,
    Escalation,
    Measure,
    MeasureKind,
    Notification,
    Person,
)
from domain.notifications import Kind
from domain.policy import Policy
from domain.ratings import Rating
from tests.conftest import NOW
from tests.usecases.test_returns import ACTION, AMINA, reachable, run_submit, submit

MARK = "mark.taylor@kingsmere.gov.uk"
GARETH = "gareth.jones@kingsmere.gov.uk"
POLICY = Policy()


async def count(uow, model, *where) -> int:
    async with uow() as tx:
        return await tx.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def raised(uow, person) -> Escalation:
    """Amina's Action return for RB-01 October: its escalation."""
    amina = await person(AMINA)
    await run_submit(uow, submit(amina, **ACTION))
    async with uow() as tx:
        found = await tx.scalar(select(Escalation))
    assert found is not None
    return found


async def test_review_escalates_only_where_the_council_says_it_does(uow, person):
    amina = await person(AMINA)
    review = {"actual": "62.5", "action": "Letters.", "action_due": "2027-01-31"}
    receipt = await run_submit(uow, submit(amina, **review))
    assert receipt.assessment.rating is Rating.REVIEW
    assert await count(uow, Escalation) == 0
    strict = Policy(escalate=frozenset({Rating.ACTION, Rating.RED, Rating.REVIEW, Rating.AMBER}))
    async with uow() as tx:
        who = await tx.get(Person, amina.id)
    from domain import returns

    command = replace(submit(amina, **{**review, "actual": "62.4"}), card_id="2")
    receipt = await uow.run(lambda tx: returns.submit_return(tx, command, who, NOW, strict, 4_000))
    assert await count(uow, Escalation) == 1
    assert "Because it is rated Review, it is escalated to Mark Taylor" in receipt.next_steps
    async with uow() as tx:
        escalation = await tx.scalar(select(Escalation))
    assert escalation.return_id is not None


async def test_a_key_action_can_be_stopped_with_a_reason_and_its_owner_is_told(uow, person):
    escalation = await raised(uow, person)
    mark = await person(MARK)
    async with uow() as tx:
        await tx.execute(
            update(Measure).where(Measure.code == "RB-01").values(kind=MeasureKind.KEY_ACTION)
        )

    async def stop(reason: str):
        return await uow.run(
            lambda tx: escalations.stop_activity(tx, mark, escalation.id, reason, NOW, POLICY)
        )

    empty = await stop("  ")
    assert empty.errors == {"stop_reason": "Say why the activity is to stop."}
    assert (await count(uow, Escalation, Escalation.stopped_at.is_not(None))) == 0
    done = await stop("Superseded by the new debt strategy.")
    assert done.view.note == "Stopped. Amina Hussain is being told, with your reason."
    assert "Mark Taylor stopped the activity at 10:00 on Monday 23 November" in " ".join(
        done.view.state
    )
    assert not (done.view.can_stop)
    assert not (done.view.can_acknowledge)
    assert not (done.view.can_ask)
    async with uow() as tx:
        stored = await tx.get(Escalation, escalation.id)
        told = await tx.scalar(select(Notification).where(Notification.kind == Kind.STOPPED))
        measure = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
        audit = list(await tx.scalars(select(AuditEntry.action)))
    assert (stored.closed_reason, stored.stop_reason) == (
        "stopped",
        "Superseded by the new debt strategy.",
    )
    assert told.person_id == measure.owner_id
    assert told.payload["reason"] == "Superseded by the new debt strategy."
    assert measure.active  # the performance team retires it; PerfBot does not
    assert "stop the activity" in audit
    again = await stop("Again.")
    assert again.view.note == (
        "Mark Taylor stopped this activity at 10:00 on Monday 23 November. Nothing was changed."
    )


async def test_a_measure_is_not_stopped(uow, person):
    escalation = await raised(uow, person)
    mark = await person(MARK)
    shown = await uow.run(
        lambda tx: escalations.stop_activity(tx, mark, escalation.id, "Stop.", NOW, POLICY)
    )
    assert "is a measure, not a key action or project" in shown.view.note
    assert not shown.view.can_stop
    async with uow() as tx:
        assert (await tx.get(Escalation, escalation.id)).stopped_at is None


async def test_a_remedial_action_agreed_twice_is_stored_once(uow, person):
    escalation = await raised(uow, person)
    mark = await person(MARK)
    form = escalations.RemedialForm("Agency staff.", AMINA, "", "2027-01-15")
    for _ in range(2):
        shown = await uow.run(
            lambda tx: escalations.agree_remedial(tx, mark, escalation.id, form, NOW, POLICY)
        )
    assert shown.view.note == (
        "Mark Taylor agreed the remedial action at 10:00 on Monday 23 November. Nothing was "
        "changed."
    )
    assert await count(uow, ActionPlan, ActionPlan.source == "agreed") == 1


async def test_a_recovery_is_told_truthfully_when_the_escalation_owner_cannot_be_reached(
    uow, person
):
    await raised(uow, person)  # Mark has not installed PerfBot
    amina = await person(AMINA)
    receipt = await run_submit(uow, replace(submit(amina, actual="70"), card_id="back"))
    assert receipt.next_steps.startswith(
        "It is back on track, so the escalation to Mark Taylor is closed. PerfBot cannot reach "
        "Mark Taylor yet"
    )
    async with uow() as tx:
        escalation = await tx.scalar(select(Escalation))
        told = await tx.scalar(select(Notification).where(Notification.kind == Kind.RECOVERED))
    assert escalation.closed_reason == "recovered"
    assert told is not None  # waits for Mark
    assert told.payload["shown"] == "70.0%"


async def test_a_recovery_is_told_when_he_can_be_reached(uow, person):
    await reachable(uow, MARK)
    await raised(uow, person)
    amina = await person(AMINA)
    receipt = await run_submit(uow, replace(submit(amina, actual="70"), card_id="back"))
    assert receipt.next_steps == (
        "It is back on track, so the escalation to Mark Taylor is closed and Mark Taylor is "
        "being told it recovered. It goes to Mark Taylor (the escalation owner) to approve."
    )


async def test_off_track_again_after_a_recovery_opens_the_escalation_again_and_sends_it(
    uow, person
):
    await reachable(uow, MARK)
    await raised(uow, person)
    amina = await person(AMINA)
    await run_submit(uow, replace(submit(amina, actual="70"), card_id="back"))
    receipt = await run_submit(
        uow, replace(submit(amina, **{**ACTION, "actual": "50"}), card_id="again")
    )
    assert receipt.next_steps == (
        "Because it is rated Action, Mark Taylor is being sent an escalation with your "
        "commentary and action. It goes to Mark Taylor (the escalation owner) to approve."
    )
    async with uow() as tx:
        escalation = await tx.scalar(select(Escalation))
        keys = [
            n.reason_key
            for n in await tx.scalars(select(Notification).order_by(Notification.id))
            if n.kind != "review"  # each version's review card: tests/usecases/test_signoff.py
        ]
    assert escalation.closed_at is None
    assert keys == [
        "escalation:RB-01:2026/27 M7:off-track",
        "recovered:RB-01:2026/27 M7:off-track:2",
        "escalation:RB-01:2026/27 M7:off-track:again:3",
    ]


async def test_an_escalation_still_open_stays_on_status_when_the_next_period_is_due(uow, person):
    from datetime import UTC, datetime

    from domain import views

    await raised(uow, person)  # RB-01 October, escalated
    mark = await person(MARK)
    december = datetime(2026, 12, 14, 10, 0, tzinfo=UTC)  # November is now the open return
    async with uow() as tx:
        items = await views.service_status(tx, mark, views.today_in_london(december), POLICY)
        assert ("RB-01", "2026/27 M7") not in {(i.measure.code, i.period.label) for i in items}
        found = await escalations.watched(tx, mark, items, december, POLICY)
    [rb01] = [w for w in found if w.code == "RB-01"]
    assert rb01.period == "2026/27 M7"
    assert rb01.commentary == "On profile."
    assert rb01.state == "Escalated at 10:00 on Monday 23 November: NOT acknowledged."
    assert rb01.escalation_id is not None


async def test_the_unacknowledged_job_reminds_once_on_the_third_working_day(uow, person):
    from datetime import timedelta

    from domain.outbox import Timetable
    from scheduler.jobs import JOBS, JobContext

    escalation = await raised(uow, person)  # Monday 23 November
    job = JOBS["unacknowledged"]
    context = JobContext(uow, Timetable(), POLICY)
    wednesday = await job.run(context, NOW + timedelta(days=2))
    assert wednesday.queued == []
    thursday = await job.run(context, NOW + timedelta(days=3))
    assert thursday.queued == [f"escalation-reminder:{escalation.id}"]
    assert (await job.run(context, NOW + timedelta(days=4))).queued == []
    mark = await person(MARK)
    await uow.run(lambda tx: escalations.acknowledge(tx, mark, escalation.id, NOW, POLICY))
    async with uow() as tx:
        [row] = list(
            await tx.scalars(
                select(Notification).where(Notification.kind == Kind.ESCALATION_REMINDER)
            )
        )
        assert await escalations.still_wanted(tx, row) == (
            "the escalation has been acknowledged or closed"
        )


async def test_two_presses_at_the_same_moment_agree_one_remedial_action(uow, person):
    import asyncio

    escalation = await raised(uow, person)
    mark = await person(MARK)

    async def agree(text: str):
        form = escalations.RemedialForm(text, AMINA, "", "2027-01-15")
        return await uow.run(
            lambda tx: escalations.agree_remedial(tx, mark, escalation.id, form, NOW, POLICY)
        )

    first, second = await asyncio.gather(agree("Agency staff."), agree("Overtime."))
    notes = sorted([first.view.note, second.view.note])
    assert notes[0].startswith("Mark Taylor agreed the remedial action at 10:00")
    assert notes[1].startswith("Remedial action agreed: Amina Hussain")
    assert await count(uow, ActionPlan, ActionPlan.source == "agreed") == 1


async def test_a_deep_dive_already_declined_is_said_when_one_is_requested(uow, person):
    escalation = await raised(uow, person)
    helen = await person("helen.ashworth@kingsmere.gov.uk")  # the Leadership Team
    mark = await person(MARK)
    async with uow() as tx:
        measure = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
        dive = await deep_dives.flag(tx, measure, escalation.period, "persistent", NOW)
        assert dive is not None
    await uow.run(
        lambda tx: deep_dives.decline(
            tx, helen, dive.id, "The recovery plan is working.", NOW, POLICY, 4000
        )
    )
    shown = await uow.run(
        lambda tx: escalations.request_deep_dive(tx, mark, escalation.id, NOW, POLICY)
    )
    note = shown.view.note
    assert "already decided" in note
    assert "nothing was sent to them" in note
    assert "Declined by Helen Ashworth" in note
    assert "The recovery plan is working." in note
    assert "is flagged for the Leadership Team" not in note
