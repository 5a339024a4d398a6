"""Key actions and milestones through the real app, as Janet O'Brien (owner of KA-05, "Build
100 new council homes") and Sarah Lindqvist (its escalation owner) live them: KA-05 sent as
complete with outcomes exceeding expectations is Strong and is then listed as complete, not
waiting; `milestones` lists hers, each opening its card, whose revised date is asked for
when slipping and refused in the past; and the morning's sweep escalates the milestone past
its date to Sarah, once, with a card naming it and its dates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.app import SESSIONS
from bot.loopback import card_text, elements
from domain.model import Escalation, Milestone
from domain.outbox import CHASER_KINDS, Timetable, sweep
from tests.bot.conftest import AMINA, JANET, Teams, User

SARAH = User("29:sarah", "Sarah Lindqvist", "sarah.lindqvist@kingsmere.gov.uk", "aad-sarah")
LATE = "Appoint the contractor for Elm Road"


def buttons(card: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [
        n["data"]
        for n in elements(card)
        if n.get("type") == "Action.Submit" and n.get("title") == title
    ]


async def ask(teams: Teams, user: User, text: str) -> dict[str, Any]:
    """Type something; the one card that comes back."""
    teams.connector.clear()
    assert await teams.say(user, text) == 201
    [card] = teams.connector.cards()
    return card


async def press(teams: Teams, user: User, data: dict[str, Any], **typed: str) -> dict[str, Any]:
    """Press a button; the card that replaced the one pressed (or was sent)."""
    teams.connector.clear()
    assert await teams.submit(user, "card-1", {**data, **typed}) == 201
    found = teams.connector.cards(teams.connector.updates()) or teams.connector.cards()
    assert found, teams.connector.texts()
    return found[-1]


async def test_a_key_action_sent_complete_exceeding_expectations_is_strong_and_asked_no_more(
    teams,
):
    card = await ask(teams, JANET, "submit KA-05")
    choices = next(n for n in elements(card) if n.get("type") == "Input.ChoiceSet")["choices"]
    assert [c["title"] for c in choices][:3] == [
        "Complete, outcomes exceeding expectations",
        "Complete, outcomes in line with expectations",
        "On track, exceeding expectations",
    ]
    # Its milestones are on its card, each with a button to its own card.
    assert f"{LATE}: due Monday 2 November 2026 · PAST DUE" in card_text(card)
    assert len(buttons(card, "Update this milestone")) == 3
    [submit] = buttons(card, "Submit")
    receipt = card_text(
        await press(
            teams,
            JANET,
            submit,
            status=choices[0]["value"],
            commentary="All 100 homes handed over, 20 more than planned.",
            action_due="",
        )
    )
    assert "complete, exceeding expectations  ★ Strong" in receipt
    assert "Reported as complete with outcomes exceeding expectations: Strong." in receipt
    assert "PerfBot will not ask for KA-05 again" in receipt
    mine = card_text(await ask(teams, JANET, "my measures"))
    assert (
        "2026/27 Q2 · complete since 2026/27 Q2: not asked for again (type submit KA-05 to "
        "reopen it)"
    ) in mine
    # Her milestones past their date or due soon are on my measures too.
    assert "Milestones past their date or due soon" in mine
    assert f"KA-05 · {LATE}" in mine
    # A complete key action's milestones escalate nothing.
    async with teams.client.app[SESSIONS]() as session, session.begin():
        result = await sweep(session, teams.now, Timetable(), set(CHASER_KINDS))
    assert not [e for e in result.escalated if e.startswith("KA-05:")]


async def test_milestones_lists_hers_and_the_card_takes_a_status_and_a_revised_date(teams):
    listed = await ask(teams, JANET, "milestones")
    text = card_text(listed)
    assert "Janet O'Brien: 3 milestones, 1 past its date" in text
    assert "due Monday 2 November 2026 · PAST DUE: counts as unlikely · owner Janet O'Brien" in (
        text
    )
    assert "Planning consent for the Elm Road site" in text
    open_late = buttons(listed, "Update")[1]
    card = await press(teams, JANET, open_late)
    shown = card_text(card)
    assert f"Milestone: {LATE}" in shown
    assert "KA-05 · Build 100 new council homes" in shown
    assert "Past its date of Monday 2 November 2026 and not complete" in shown
    [save] = buttons(card, "Save")
    # Slipping without a revised date, then with one in the past: said on the card.
    again = card_text(
        await press(teams, JANET, save, milestone_status="some risk", revised_date="")
    )
    assert "It is slipping: give the revised date it is now expected by." in again
    assert "Nothing was saved." in again
    again = card_text(
        await press(teams, JANET, save, milestone_status="some risk", revised_date="2026-11-20")
    )
    assert "Friday 20 November 2026 has passed" in again
    saved = card_text(
        await press(teams, JANET, save, milestone_status="some risk", revised_date="2026-12-14")
    )
    assert f"Saved: '{LATE}' is some risk, now expected by Monday 14 December 2026." in saved
    assert "Revised date" in saved
    assert "by Janet O'Brien" in saved
    async with teams.client.app[SESSIONS]() as session:
        stored = await session.scalar(select(Milestone).where(Milestone.title == LATE))
    assert stored.revised_date.isoformat() == "2026-12-14"
    # Amina may not open or update it.
    teams.connector.clear()
    await teams.submit(AMINA, "card-2", await teams.sealed(open_late))
    assert "is Janet O'Brien's to update" in teams.connector.texts()[0]


async def morning(teams: Teams, days: int = 0) -> None:
    """The chasers' sweep at 10:00 on a morning, then the dispatcher sends what it queued."""
    async with teams.client.app[SESSIONS]() as session, session.begin():
        await sweep(session, teams.now + timedelta(days=days), Timetable(), set(CHASER_KINDS))
    await teams.dispatch()


async def test_a_milestone_past_its_date_reaches_the_escalation_owner_once(teams):
    teams.connector.add_member(SARAH.teams_id, SARAH.name, SARAH.email, SARAH.aad)
    await teams.install(SARAH)
    teams.connector.clear()
    await morning(teams)
    [call] = [c for c in teams.sent_to(SARAH) if LATE in str(c.body)]
    assert call.body["text"] == (
        f"Escalation: KA-05's milestone '{LATE}' is past its date and not complete, so it is "
        "rated 🚩 Action."
    )
    [card] = teams.connector.cards([call])
    text = card_text(card)
    assert "Escalation: KA-05 · Build 100 new council homes" in text
    assert "Milestone owner" in text
    assert "Monday 2 November 2026" in text
    assert "🚩 Action" in text
    assert f"Its milestone '{LATE}' was due on 02 November 2026 and is not complete" in text
    assert buttons(card, "Acknowledge")
    assert "Stop the activity" in [a["title"] for a in card["actions"]]  # a key action
    # The next morning: nothing more about it.
    teams.connector.clear()
    await morning(teams, days=1)
    assert not [c for c in teams.connector.cards(teams.sent_to(SARAH)) if LATE in card_text(c)]
    async with teams.client.app[SESSIONS]() as session:
        raised = await session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.reason.like("milestone:%"))
        )
    assert raised == 1
