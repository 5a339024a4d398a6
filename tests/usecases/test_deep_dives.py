"""Deep dives as use cases: a measure off track for several periods running is put to the
Leadership Team once per run, a deep dive asked for from an escalation likewise, and the
Leadership Team's decision is recorded (or refused, or sent back with what is wrong)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from domain import deep_dives, returns
from domain.model import AuditEntry, DeepDive, Measure, Notification, Person
from domain.notifications import Kind
from domain.policy import Policy
from domain.returns import SubmitReturn
from domain.views import Receipt
from tests.conftest import NOW

AMINA = "amina.hussain@kingsmere.gov.uk"
MARK = "mark.taylor@kingsmere.gov.uk"
HELEN = "helen.ashworth@kingsmere.gov.uk"
DAVID = "david.okafor@kingsmere.gov.uk"
SARAH = "sarah.lindqvist@kingsmere.gov.uk"
LEADERSHIP = {HELEN, DAVID, SARAH}
ADMINS = {"performance.team@kingsmere.gov.uk", "rachel.singh@kingsmere.gov.uk"}
# RB-01's targets: M5 47.8%, M6 57.0%, M7 66.3%; the sample's M5 and M6 are on track.
POLICY = Policy()
OFF_TRACK = {"2026/27 M5": "40", "2026/27 M6": "50", "2026/27 M7": "55", "2026/27 M8": "60"}
JANUARY = datetime(2027, 1, 20, 10, 0, tzinfo=UTC)  # November's return (M8) can be sent


async def off_track(
    uow, person, period: str, policy: Policy = POLICY, now: datetime = NOW
) -> Receipt:
    amina = await person(AMINA)
    figure = OFF_TRACK[period]
    command = SubmitReturn(
        person_id=amina.id,
        code="RB-01",
        period=period,
        actual=figure,
        confirmed=figure,  # past the plausibility query: this figure is meant
        commentary="Staff shortages.",
        action="Agency staff.",
        action_due="2027-01-29",
        card_id=f"card-{period}",
    )
    receipt = await uow.run(
        lambda tx: returns.submit_return(tx, command, amina, now, policy, 4_000)
    )
    assert isinstance(receipt, Receipt), receipt
    assert receipt.assessment.off_track
    return receipt


async def dives(uow) -> list[tuple[str, str]]:
    async with uow() as tx:
        rows = await tx.scalars(select(DeepDive).order_by(DeepDive.period))
        return [(d.period, d.reason) for d in rows]


async def told(uow, period: str) -> set[str]:
    """Who has been queued the deep-dive card for RB-01's period."""
    async with uow() as tx:
        rows = await tx.execute(
            select(Person.email)
            .join(Notification, Notification.person_id == Person.id)
            .where(Notification.kind == Kind.DEEP_DIVE.value)
            .where(Notification.reason_key.startswith(f"deep-dive:RB-01:{period}:"))
        )
        return set(rows.scalars())


async def test_two_periods_off_track_running_flag_a_deep_dive_once_to_the_leadership_team(
    uow, person
):
    await off_track(uow, person, "2026/27 M6")
    assert await dives(uow) == []  # M5 was on track: one period off track is not persistent
    await off_track(uow, person, "2026/27 M7")
    assert await dives(uow) == [("2026/27 M7", "persistent")]
    # None of the Leadership Team has installed PerfBot yet, so the performance team is told too.
    assert await told(uow, "2026/27 M7") == LEADERSHIP | ADMINS
    # A correction of the same period, still off track, flags nothing more.
    amina = await person(AMINA)
    again = SubmitReturn(
        person_id=amina.id,
        code="RB-01",
        period="2026/27 M7",
        actual="54",
        confirmed="54",
        commentary="Corrected.",
        action="Agency staff.",
        action_due="2027-01-29",
        card_id="card-again",
    )
    await uow.run(lambda tx: returns.submit_return(tx, again, amina, NOW, Policy(), 4_000))
    assert await dives(uow) == [("2026/27 M7", "persistent")]
    async with uow() as tx:
        cards = await tx.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == Kind.DEEP_DIVE.value)
        )
    assert cards == len(await told(uow, "2026/27 M7"))


async def test_a_third_period_off_track_in_the_same_run_is_not_flagged_again(uow, person):
    await off_track(uow, person, "2026/27 M5")
    await off_track(uow, person, "2026/27 M6")
    assert await dives(uow) == [("2026/27 M6", "persistent")]
    await off_track(uow, person, "2026/27 M7")
    assert await dives(uow) == [("2026/27 M6", "persistent")]
    assert await told(uow, "2026/27 M7") == set()
    # Nor a fourth, though two more have passed since: M6's is still before the Leadership Team.
    await off_track(uow, person, "2026/27 M8", now=JANUARY)
    assert await dives(uow) == [("2026/27 M6", "persistent")]


async def test_after_a_decline_the_run_counts_again_from_the_period_after(uow, person):
    await off_track(uow, person, "2026/27 M5")
    await off_track(uow, person, "2026/27 M6")
    helen = await person(HELEN)
    async with uow() as tx:
        dive_id = await tx.scalar(select(DeepDive.id))
    declined = await uow.run(
        lambda tx: deep_dives.decline(
            tx, helen, dive_id, "The action plan is working.", NOW, Policy(), 4_000
        )
    )
    assert isinstance(declined, deep_dives.DiveDecided)
    await off_track(uow, person, "2026/27 M7")  # one period off track since the decline
    assert await dives(uow) == [("2026/27 M6", "persistent")]
    await off_track(uow, person, "2026/27 M8", now=JANUARY)  # two: asked again
    assert await dives(uow) == [("2026/27 M6", "persistent"), ("2026/27 M8", "persistent")]


async def test_the_councils_deep_dive_after_setting_is_respected(uow, person):
    three = Policy(deep_dive_after=3)
    await off_track(uow, person, "2026/27 M5", three)
    await off_track(uow, person, "2026/27 M6", three)
    assert await dives(uow) == []
    await off_track(uow, person, "2026/27 M7", three)
    assert await dives(uow) == [("2026/27 M7", "persistent")]


async def test_a_requested_deep_dive_is_flagged_once_with_who_asked(uow, person):
    mark = await person(MARK)

    async def request(tx):
        measure = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
        return await deep_dives.flag(tx, measure, "2026/27 M7", "requested", NOW, requested_by=mark)

    first = await uow.run(request)
    assert first is not None
    assert await uow.run(request) is None
    assert await dives(uow) == [("2026/27 M7", "requested")]
    assert await told(uow, "2026/27 M7") >= LEADERSHIP
    async with uow() as tx:
        dive = await tx.get(DeepDive, first.id)
        shown = await deep_dives.view(tx, dive, NOW.date(), Policy())
        audit = await tx.scalar(select(AuditEntry).where(AuditEntry.action == "flag deep dive"))
    assert shown.why.startswith("Requested by Mark Taylor from the escalation of 2026/27 M7")
    assert audit.actor == MARK


async def test_with_nobody_in_the_leadership_role_the_performance_team_is_told(uow, person):
    async with uow() as tx:
        for email in LEADERSHIP:
            leader = await tx.scalar(select(Person).where(Person.email == email))
            leader.role_rows = [r for r in leader.role_rows if r.role.value != "leadership"]
    await off_track(uow, person, "2026/27 M6")
    await off_track(uow, person, "2026/27 M7")
    assert await told(uow, "2026/27 M7") == ADMINS


async def flagged(uow, person) -> int:
    await off_track(uow, person, "2026/27 M6")
    await off_track(uow, person, "2026/27 M7")
    async with uow() as tx:
        return await tx.scalar(select(DeepDive.id))


async def test_accepting_needs_a_date_not_past_and_a_lead_the_people_sheet_knows(uow, person):
    dive_id = await flagged(uow, person)
    helen = await person(HELEN)

    async def accept(day: str, lead: str):
        return await uow.run(
            lambda tx: deep_dives.accept(tx, helen, dive_id, day, lead, NOW, Policy())
        )

    missing = await accept("", "")
    assert isinstance(missing, deep_dives.DiveProblems)
    assert set(missing.errors) == {"review_date", "lead"}
    past = await accept((NOW - timedelta(days=1)).date().isoformat(), DAVID)
    assert "has passed" in past.errors["review_date"]
    unknown = await accept("2027-01-15", "nobody@example.com")
    assert "doesn't know nobody@example.com" in unknown.errors["lead"]
    async with uow() as tx:
        assert (await tx.get(DeepDive, dive_id)).decision is None
    done = await accept("15/01/2027", DAVID.upper())
    assert isinstance(done, deep_dives.DiveDecided)
    assert done.view.decision == (
        "Accepted by Helen Ashworth on Monday 23 November 2026: the review is on Friday 15 "
        "January 2027, led by David Okafor."
    )
    async with uow() as tx:
        rows = await tx.execute(
            select(Person.email)
            .join(Notification, Notification.person_id == Person.id)
            .where(Notification.kind == Kind.DEEP_DIVE_DECIDED.value)
        )
        assert set(rows.scalars()) == {AMINA, MARK, DAVID}
    sarah = await person(SARAH)
    again = await uow.run(
        lambda tx: deep_dives.decline(tx, sarah, dive_id, "No.", NOW, Policy(), 4_000)
    )
    assert isinstance(again, deep_dives.DiveDecided)
    assert again.again
    async with uow() as tx:
        dive = await tx.get(DeepDive, dive_id)
    assert (dive.decision, dive.decline_reason) == ("accepted", None)


async def test_someone_without_the_role_is_refused_and_the_attempt_audited(uow, person):
    dive_id = await flagged(uow, person)
    mark = await person(MARK)
    refused = await uow.run(
        lambda tx: deep_dives.decline(tx, mark, dive_id, "Not needed.", NOW, Policy(), 4_000)
    )
    assert isinstance(refused, deep_dives.DiveRefusal)
    assert "Only the Leadership Team or the performance team" in refused.message
    async with uow() as tx:
        assert (await tx.get(DeepDive, dive_id)).decision is None
        audit = await tx.scalar(select(AuditEntry).where(AuditEntry.action == "refused"))
    assert (audit.actor, audit.key, audit.changes["reason"]) == (
        MARK,
        "RB-01 2026/27 M7",
        "not leadership",
    )


async def test_a_request_while_a_deep_dive_waits_for_a_decision_flags_nothing_more(uow, person):
    await off_track(uow, person, "2026/27 M5")
    await off_track(uow, person, "2026/27 M6")  # flagged: persistent
    mark = await person(MARK)

    async def request(tx):
        measure = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
        return await deep_dives.flag(tx, measure, "2026/27 M7", "requested", NOW, requested_by=mark)

    assert await uow.run(request) is None
    assert await dives(uow) == [("2026/27 M6", "persistent")]
    assert await told(uow, "2026/27 M7") == set()


async def test_two_decisions_at_the_same_moment_store_one_and_tell_people_once(uow, person):
    dive_id = await flagged(uow, person)
    helen, sarah = await person(HELEN), await person(SARAH)

    async def accept():
        return await uow.run(
            lambda tx: deep_dives.accept(tx, helen, dive_id, "2027-01-15", DAVID, NOW, POLICY)
        )

    async def decline():
        return await uow.run(
            lambda tx: deep_dives.decline(tx, sarah, dive_id, "Not needed.", NOW, POLICY, 4_000)
        )

    accepted, declined = await asyncio.gather(accept(), decline())
    assert isinstance(accepted, deep_dives.DiveDecided)
    assert isinstance(declined, deep_dives.DiveDecided)
    assert sorted([accepted.again, declined.again]) == [False, True]
    winner, loser = (accepted, declined) if not accepted.again else (declined, accepted)
    assert loser.view.note == "Already decided, so nothing was changed."
    assert loser.view.decision == winner.view.decision  # the loser is shown the stored one
    async with uow() as tx:
        dive = await tx.get(DeepDive, dive_id)
        told = list(
            await tx.scalars(
                select(Notification).where(Notification.kind == Kind.DEEP_DIVE_DECIDED.value)
            )
        )
        decided = list(
            await tx.scalars(
                select(AuditEntry).where(
                    AuditEntry.action.in_(["accept deep dive", "decline deep dive"])
                )
            )
        )
    assert len(decided) == 1
    if winner is accepted:
        assert (dive.decision, dive.decided_by_id, dive.decline_reason) == (
            "accepted",
            helen.id,
            None,
        )
        assert {n.payload["decision"] for n in told} == {"accepted"}
        assert len(told) == 3  # the owner, the escalation owner and the lead, once each
    else:
        assert (dive.decision, dive.decided_by_id, dive.review_date) == (
            "declined",
            sarah.id,
            None,
        )
        assert told == []  # a persistent deep dive: nobody asked for it, nobody is told


async def test_try_flag_says_why_a_request_flagged_nothing(uow, person):
    mark, helen = await person(MARK), await person(HELEN)
    dive_id = await flagged(uow, person)  # RB-01 2026/27 M7, persistent

    async def request(period: str):
        async def work(tx):
            measure = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
            flagged = await deep_dives.try_flag(
                tx, measure, period, "requested", NOW, requested_by=mark
            )
            return flagged, await deep_dives.flagged_words(tx, flagged, "RB-01")

        return await uow.run(work)

    waiting, words = await request("2026/27 M7")
    assert waiting.dive is None
    assert waiting.existing.id == dive_id
    assert words == (
        "A deep dive of RB-01 for 2026/27 M7 is already before the Leadership Team (flagged "
        "on Monday 23 November 2026), waiting for their decision: nothing new was sent."
    )
    elsewhere, _ = await request("2026/27 M8")  # another period, while M7's waits
    assert elsewhere.dive is None
    assert elsewhere.existing.id == dive_id
    await uow.run(
        lambda tx: deep_dives.decline(tx, helen, dive_id, "The plan is working.", NOW, POLICY, 99)
    )
    declined, words = await request("2026/27 M7")
    assert declined.dive is None
    assert declined.existing.decision == "declined"
    assert words == (
        "The Leadership Team has already decided on a deep dive of RB-01 for 2026/27 M7, so "
        "nothing was sent to them. Declined by Helen Ashworth on Monday 23 November 2026: The "
        "plan is working."
    )
    assert "already before the Leadership Team" not in words
    fresh, words = await request("2026/27 M8")  # nothing waits now: flagged
    assert fresh.dive is not None
    assert fresh.existing is None
    assert words == "RB-01 is flagged for the Leadership Team."
    assert await dives(uow) == [("2026/27 M7", "persistent"), ("2026/27 M8", "requested")]


async def test_a_decision_at_half_past_midnight_in_july_is_on_the_london_day(uow, person):
    """00:30 in London on 15 July is 23:30 UTC on the 14th: the card says the 15th."""
    dive_id = await flagged(uow, person)
    helen = await person(HELEN)
    july = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    async with uow() as tx:
        dive = await tx.get(DeepDive, dive_id)
        dive.flagged_at = july
        dive.decision, dive.decided_by_id, dive.decided_at = "declined", helen.id, july
        dive.decline_reason = "Not now."
    async with uow() as tx:
        shown = await deep_dives.view(tx, await tx.get(DeepDive, dive_id), NOW.date(), POLICY)
    assert shown.decision == "Declined by Helen Ashworth on Wednesday 15 July 2026: Not now."
