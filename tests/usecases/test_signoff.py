"""Sign-off as use cases (issue 13 "Approve or return"): a submitted return is approved by
its escalation owner or the performance team, or returned to its owner with a comment; the
owner's next version goes back to the reviewer; nobody approves their own return, a
reviewer outside the service is refused, a signed-off period takes no change but an admin's
correction with a reason (a restatement), and every decision and refusal is audited."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from domain import returns, signoff, views
from domain.model import (
    Measure,
    Notification,
    PeriodLock,
    Person,
    Publication,
    Return,
    ReturnState,
    Role,
)
from domain.notifications import Kind
from domain.reporting import load_calendar
from domain.returns import CORRECTION_REASON, Refusal, Rejected
from domain.views import Receipt
from tests.conftest import NOW
from tests.usecases.test_action_plans import (
    AMINA,
    GARETH,
    MARK,
    POLICY,
    audits,
    run_submit,
    submit,
)
from tests.usecases.test_returns import reachable

CLAIRE = "claire.whitfield@kingsmere.gov.uk"  # escalation owner in Planning and Regeneration
RACHEL = "rachel.singh@kingsmere.gov.uk"  # the performance team (admin)
M7 = "2026/27 M7"
LATER = NOW + timedelta(hours=1)


async def versions(uow, code: str = "RB-01", period: str = M7) -> list[Return]:
    async with uow() as tx:
        query = select(Return).join(Measure).where(Measure.code == code, Return.period == period)
        return list(await tx.scalars(query.order_by(Return.version)))


async def rows(uow, kind: Kind) -> list[Notification]:
    async with uow() as tx:
        query = select(Notification).where(Notification.kind == kind.value)
        return list(await tx.scalars(query.order_by(Notification.id)))


async def sent_in(uow, who: Person, code: str = "RB-01", **fields: str) -> Return:
    receipt = await run_submit(uow, submit(who, card=f"{code}-{fields}", code=code, **fields))
    assert isinstance(receipt, Receipt), receipt
    return (await versions(uow, code))[-1]


async def approve(uow, who: Person, *returns: Return, now: datetime = LATER):
    return await uow.run(lambda tx: signoff.approve(tx, who, [r.id for r in returns], now))


async def send_back(uow, who: Person, ret: Return, comment: str, now: datetime = LATER):
    return await uow.run(lambda tx: signoff.return_to_owner(tx, who, ret.id, comment, now, 4_000))


async def test_a_submission_goes_to_its_escalation_owner_on_one_card_per_period(uow, person):
    amina, gareth, mark = await person(AMINA), await person(GARETH), await person(MARK)
    receipt = await run_submit(uow, submit(amina, actual="97.5"))
    assert isinstance(receipt, Receipt)
    assert receipt.next_steps.endswith(  # Mark has not installed PerfBot yet
        "It waits for Mark Taylor (the escalation owner) to approve once they install PerfBot; "
        "the performance team can approve it meanwhile."
    )
    await reachable(uow, MARK)
    second = await run_submit(uow, submit(gareth, card="c2", code="RB-03", actual="17.5"))
    assert isinstance(second, Receipt)
    assert second.next_steps.endswith("It goes to Mark Taylor (the escalation owner) to approve.")

    [card] = await rows(uow, Kind.REVIEW)  # the second return joins the card waiting to go
    assert card.person_id == mark.id
    assert card.not_before == NOW + signoff.BATCH
    async with uow() as tx:
        shown = await signoff.review_card(tx, mark, M7, signoff.Policy())
    assert [i.measure.code for i in shown.items] == ["RB-01", "RB-03"]
    assert shown.items[0].shown == "97.5%"
    assert shown.items[0].submitted_by == "Amina Hussain"
    assert shown.items[0].rating == (
        "97.5% against a target of 66.3% is 47.1% better than target: Strong."
    )


async def test_the_escalation_owner_approves_once_and_a_second_press_says_who(uow, person):
    amina, mark = await person(AMINA), await person(MARK)
    ret = await sent_in(uow, amina, actual="97.5")
    outcome = await approve(uow, mark, ret)
    assert outcome.note.startswith("Approved RB-01 at 11:00")
    [stored] = await versions(uow)
    assert (stored.state, stored.reviewed_by_id) == (ReturnState.APPROVED, mark.id)
    [entry] = await audits(uow, "approve")
    assert (entry.actor, entry.key) == (MARK, "RB-01 2026/27 M7")
    assert entry.changes == {"state": ["submitted", "approved"], "version": 1}

    again = await approve(uow, await person(RACHEL), ret)
    assert "RB-01 for 2026/27 M7 was already approved by Mark Taylor at 11:00" in again.note
    assert len(await audits(uow, "approve")) == 1
    async with uow() as tx:
        assert (await signoff.review_card(tx, mark, M7, signoff.Policy())).items == []


async def test_nobody_approves_their_own_return_nor_one_outside_their_service(uow, person):
    amina, claire, rachel = await person(AMINA), await person(CLAIRE), await person(RACHEL)
    ret = await sent_in(uow, amina, actual="97.5")

    own = await approve(uow, amina, ret)
    assert own.refused
    assert own.note.startswith("Only its escalation owner (Mark Taylor) or the performance team")
    outside = await approve(uow, claire, ret)
    assert outside.refused
    assert outside.note.startswith(
        "RB-01 is a Revenues and Benefits measure, outside your service: only its escalation "
        "owner (Mark Taylor)"
    )
    assert "Nothing was changed." in outside.note
    # The performance team may approve anything, but not a return they sent themselves.
    mine = await sent_in(uow, rachel, code="RB-02", actual="96")
    theirs = await approve(uow, rachel, mine)
    assert theirs.refused
    assert "your own return" in theirs.note

    assert [v.state for v in await versions(uow)] == [ReturnState.SUBMITTED]
    refusals = [e.changes for e in await audits(uow, "refused") if e.changes["action"] == "approve"]
    assert [r["reason"] for r in refusals] == ["not a reviewer", "not a reviewer", "own return"]


async def test_returned_with_a_comment_it_goes_back_and_the_resubmission_to_the_reviewer(
    uow, person
):
    amina, mark = await person(AMINA), await person(MARK)
    ret = await sent_in(uow, amina, actual="97.5", commentary="Fine.")

    blank = await send_back(uow, mark, ret, "   ")
    assert blank.errors == {ret.id: "Say what needs changing: the owner is sent your comment "
                            "with their return."}  # fmt: skip
    assert (await versions(uow))[0].state is ReturnState.SUBMITTED

    outcome = await send_back(uow, mark, ret, "Say why collection rose.")
    assert outcome.note == (
        "Returned RB-01 for 2026/27 M7: Amina Hussain is sent your comment with the return "
        "to change."
    )
    [stored] = await versions(uow)
    assert (stored.state, stored.review_comment) == (
        ReturnState.RETURNED,
        "Say why collection rose.",
    )
    [told] = await rows(uow, Kind.RETURNED)
    assert told.person_id == amina.id
    assert told.payload["comment"] == "Say why collection rose."
    async with uow() as tx:
        calendar = await load_calendar(tx)
        card = await signoff.returned_card(tx, told.payload, LATER, signoff.Policy(), calendar)
    assert card is not None
    _, values, comment = card
    assert values["actual"] == "97.5"
    assert values["commentary"] == "Fine."
    assert comment == "Say why collection rose."
    assert (await approve(uow, mark, ret)).note.startswith(
        "RB-01 for 2026/27 M7 was already returned to its owner by Mark Taylor"
    )

    again = await run_submit(
        uow, submit(amina, card="again", actual="97.5", commentary="Arrears drive."), LATER
    )
    assert isinstance(again, Receipt)
    assert "Mark Taylor, who returned it, is sent it again to approve." in again.next_steps
    first, second = await versions(uow)
    assert (second.version, second.state) == (2, ReturnState.SUBMITTED)
    [back] = await rows(uow, Kind.RESUBMITTED)
    assert back.person_id == mark.id
    assert back.payload["return"] == second.id
    async with uow() as tx:
        assert await signoff.still_wanted(tx, told, signoff.Policy()) == (
            "it has been sent again since"
        )
        shown = await signoff.review_card(tx, mark, M7, signoff.Policy())
    assert shown.items[0].earlier_comment == "Say why collection rose."

    stale = await approve(uow, mark, first)
    assert "was sent again by Amina Hussain" in stale.note
    assert "look at the new one" in stale.note
    assert (await approve(uow, mark, second)).note.startswith("Approved RB-01")
    assert [e.action for e in await audits(uow, "return to owner")] == ["return to owner"]


async def test_approve_all_shown_approves_each_still_waiting_and_says_why_not_the_rest(uow, person):
    amina, gareth, mark = await person(AMINA), await person(GARETH), await person(MARK)
    one = await sent_in(uow, amina, actual="97.5")
    two = await sent_in(uow, gareth, code="RB-03", actual="17.5")
    await approve(uow, await person(RACHEL), two)  # the performance team got there first
    outcome = await approve(uow, mark, one, two)
    assert outcome.note.startswith("Approved RB-01 at 11:00 on Monday 23 November.")
    assert "RB-03 for 2026/27 M7 was already approved by Rachel Singh" in outcome.note


async def test_two_presses_at_the_same_moment_store_one_approval(uow, person):
    amina, mark, rachel = await person(AMINA), await person(MARK), await person(RACHEL)
    ret = await sent_in(uow, amina, actual="97.5")
    first, second = await asyncio.gather(approve(uow, mark, ret), approve(uow, rachel, ret))
    notes = sorted([first.note, second.note])
    assert sum(n.startswith("Approved RB-01") for n in notes) == 1
    assert len(await audits(uow, "approve")) == 1


async def test_a_signed_off_period_refuses_changes_but_an_admins_reasoned_restatement(uow, person):
    amina, mark, rachel = await person(AMINA), await person(MARK), await person(RACHEL)
    ret = await sent_in(uow, amina, actual="97.5")
    async with uow() as tx:
        tx.add(PeriodLock(period=M7, locked_at=NOW, locked_by="performance.team@kingsmere.gov.uk"))

    refused = await approve(uow, mark, ret)
    assert refused.refused
    assert refused.note.startswith(
        "2026/27 M7 was signed off by performance.team@kingsmere.gov.uk on Monday 23 November "
        "2026, so RB-01 2026/27 M7 can no longer be changed"
    )
    by_owner = await run_submit(uow, submit(amina, card="late", actual="98.1"), LATER)
    assert isinstance(by_owner, Refusal)
    assert "was signed off" in by_owner.message
    assert [r.changes["reason"] for r in await audits(uow, "refused")][-1] == "period locked"

    unreasoned = await run_submit(uow, submit(rachel, card="fix", actual="98.1"), LATER)
    assert isinstance(unreasoned, Rejected)
    assert "signed off" in unreasoned.problems.errors[CORRECTION_REASON]
    assert unreasoned.open_return.locked.startswith("2026/27 M7 was signed off")
    fixed = await run_submit(
        uow,
        submit(rachel, card="fix", actual="98.1", correction_reason="Late payments posted."),
        LATER,
    )
    assert isinstance(fixed, Receipt)
    assert "Recorded as a restatement of 97.5% in the signed-off 2026/27 M7" in fixed.next_steps
    _, restated = await versions(uow)
    assert (restated.restated, restated.restated_from) == (True, "97.5%")
    assert restated.correction_reason == "Late payments posted."
    [entry] = await audits(uow, "restate")
    assert entry.actor == RACHEL
    assert entry.changes["actual"] == ["97.5%", "98.1%"]
    assert entry.changes["reason"] == "Late payments posted."
    # Only the first submission's card is queued: a restatement awaits nobody's approval.
    assert [r.reason_key for r in await rows(uow, Kind.REVIEW)] == [
        f"review:{mark.id}:2026/27 M7:{ret.id}"
    ]


async def test_my_measures_shows_a_signed_off_period_as_such_not_as_overdue(uow, person):
    amina = await person(AMINA)
    async with uow() as tx:
        for label in (M7, "2026/27 Q2"):
            tx.add(PeriodLock(period=label, locked_at=NOW, locked_by=RACHEL))
    async with uow() as tx:
        items = await views.my_returns(tx, amina, NOW.date(), signoff.Policy())
    states = {(i.measure.code, i.period.label): i.state for i in items}
    # RB-01's October figure never came, and October is signed off: nothing is asked for it.
    assert states[("RB-01", M7)] == "signed off without a figure"
    assert states[("RB-06", "2026/27 Q2")] == "signed off"
    assert not [i for i in items if i.state in views.WAITING and i.period.label == M7]


async def test_a_card_already_due_does_not_swallow_a_return_sent_as_it_goes(uow, person):
    amina, gareth, mark = await person(AMINA), await person(GARETH), await person(MARK)
    await sent_in(uow, amina, actual="97.5")
    # Ten minutes on, the card is due (the dispatcher may be drawing it this moment): a
    # return sent now gets a card of its own rather than trusting that one to list it.
    later = NOW + signoff.BATCH
    second = await run_submit(uow, submit(gareth, card="c2", code="RB-03", actual="17.5"), later)
    assert isinstance(second, Receipt)
    assert [r.person_id for r in await rows(uow, Kind.REVIEW)] == [mark.id, mark.id]


async def test_a_returned_return_is_not_sent_back_once_its_period_is_signed_off(uow, person):
    amina, mark = await person(AMINA), await person(MARK)
    ret = await sent_in(uow, amina, actual="97.5")
    await send_back(uow, mark, ret, "Say why collection rose.")
    [told] = await rows(uow, Kind.RETURNED)
    async with uow() as tx:
        assert await signoff.still_wanted(tx, told, signoff.Policy()) is None
        tx.add(PeriodLock(period=M7, locked_at=LATER, locked_by=RACHEL))
    async with uow() as tx:
        assert await signoff.still_wanted(tx, told, signoff.Policy()) == (
            "the period has been signed off since"
        )


async def test_a_restatement_by_the_performance_team_needs_no_approval(uow, person):
    amina, rachel = await person(AMINA), await person(RACHEL)
    await sent_in(uow, amina, actual="97.5")
    async with uow() as tx:
        tx.add(PeriodLock(period=M7, locked_at=NOW, locked_by=RACHEL))
    fixed = await run_submit(
        uow, submit(rachel, card="fix", actual="98.1", correction_reason="Bank file."), LATER
    )
    assert isinstance(fixed, Receipt)
    _, restated = await versions(uow)
    assert (restated.state, restated.reviewed_by_id) == (ReturnState.APPROVED, rachel.id)
    refused = await uow.run(
        lambda tx: returns.not_available(tx, rachel, "RB-01", M7, "x", LATER, POLICY, 4_000)
    )
    assert isinstance(refused, Refusal)
    assert (await audits(uow, "refused"))[-1].changes == {
        "action": "not available",
        "reason": "period locked",
    }


async def test_a_figure_changed_after_a_summary_showed_it_is_a_restatement(uow, person):
    amina = await person(AMINA)
    await sent_in(uow, amina, actual="97.5")
    async with uow() as tx:
        tx.add(
            Publication(
                kind="summary",
                reason_key="weekly-summary:test",
                periods={"periods": [M7, "2026/27 Q2"]},
                published_at=NOW + timedelta(minutes=30),
            )
        )
    again = await run_submit(uow, submit(amina, card="again", actual="97.9"), LATER)
    assert isinstance(again, Receipt)
    assert again.next_steps.startswith(
        "Nothing more is needed for this period. Thank you. 97.5% was in the summary of "
        "Monday 23 November 2026, so this is recorded as a restatement and listed in the next "
        "one."
    )
    _, second = await versions(uow)
    assert (second.restated, second.restated_from, second.correction_reason) == (
        True,
        "97.5%",
        None,
    )
    [entry] = await audits(uow, "restate")
    assert entry.changes["reason"] == "changed after the summary of Monday 23 November 2026"
    # A third version keeps the figure the summary showed as the one it restates.
    third = await run_submit(uow, submit(amina, card="third", actual="98.0"), LATER)
    assert isinstance(third, Receipt)
    assert (await versions(uow))[-1].restated_from == "97.5%"


async def test_an_escalation_owner_without_the_role_may_still_type_review(uow, person):
    mark = await person(MARK)
    async with uow() as tx:
        mark = await tx.get(Person, mark.id)
        mark.role_rows = [r for r in mark.role_rows if r.role.value != "escalation_owner"]
    async with uow() as tx:
        mark = await tx.get(Person, mark.id)
        assert not mark.has_role(Role.ESCALATION_OWNER)
        found = await signoff.reviews(tx, mark, signoff.Policy())
    assert found.cards == []  # nothing awaits him, but he is not refused
