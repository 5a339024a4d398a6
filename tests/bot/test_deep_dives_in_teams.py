"""Deep dives in Teams: an owner's off-track return after an off-track period puts the measure
to each of the Leadership Team as a card with its history and action plan; they accept it
(with a date and a lead) or decline it (with a reason) from the card; anyone else is
refused; a second decision changes nothing and says who decided."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

from bot.app import ADAPTER, SESSIONS
from bot.delivery import Dispatcher
from bot.loopback import card_text, elements
from bot.settings import Settings
from domain import action_plans
from domain.model import AuditEntry, DeepDive, Measure, Person
from tests.bot.conftest import AMINA, HELEN, MARK, STRANGER, Teams, User

SARAH = User("29:sarah", "Sarah Lindqvist", "sarah.lindqvist@kingsmere.gov.uk", "aad-sarah")


def values(**typed: str) -> dict[str, str]:
    base = {"actual": "", "commentary": "", "action": "", "action_due": "", "reason": ""}
    return {**base, **typed}


async def send_off_track(teams: Teams, period: str, figure: str) -> str:
    """Amina sends RB-01's return for ``period``, off track, from its card; the receipt."""
    teams.connector.clear()
    assert await teams.say(AMINA, f"submit RB-01 {period}") == 201
    [card] = teams.connector.cards()
    submit = next(a["data"] for a in card["actions"] if a.get("title") == "Submit")
    typed = values(
        actual=figure,
        commentary=f"Staff shortages in {period}.",
        action="Agency staff until March.",
        action_due="2027-01-29",
    )
    await teams.submit(AMINA, f"card-{period}", {**submit, **typed})
    return card_text(teams.connector.cards(teams.connector.updates())[-1])


async def deliver(teams: Teams) -> None:
    app = teams.client.app
    dispatcher = Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], lambda: teams.now)
    while (await dispatcher.run_once()).sent:
        pass


async def flagged(teams: Teams, *leaders: User) -> dict[User, dict]:
    """RB-01 off track for October after September: each leader's deep-dive card (Helen's,
    and those of the other ``leaders``, who install PerfBot first)."""
    for user in leaders:
        teams.connector.add_member(user.teams_id, user.name, user.email, user.aad)
    for user in (HELEN, *leaders):
        await teams.install(user)
    async with teams.client.app[SESSIONS]() as session, session.begin():
        measure = await session.scalar(select(Measure).where(Measure.code == "RB-01"))
        amina = await session.scalar(select(Person).where(Person.email == AMINA.email))
        for text, due in [("Weekly recovery meeting", date(2026, 11, 6)), ("Recruit", None)]:
            await action_plans.add_item(
                session,
                measure,
                "2026/27 M6",
                text,
                owner=amina,
                due=due,
                source="agreed",  # agreed with the escalation owner: the return's own is apart
                by=amina,
                now=teams.now,
            )
    assert "Received: RB-01" in await send_off_track(teams, "2026/27 M6", "50")
    assert "Received: RB-01" in await send_off_track(teams, "2026/27 M7", "55")
    teams.connector.clear()
    await deliver(teams)
    found = {}
    for user in (HELEN, *leaders):
        chat = f"a:personal-{user.teams_id}"
        calls = [c for c in teams.connector.sent() if c.conversation_id == chat]
        [card] = teams.connector.cards(calls)
        found[user] = card
    return found


def show_card(card: dict, title: str) -> dict:
    return next(a for a in card["actions"] if a["title"] == title)["card"]


def save(card: dict, title: str) -> dict:
    return show_card(card, title)["actions"][0]["data"]


async def replaced(teams: Teams) -> str:
    return card_text(teams.connector.cards(teams.connector.updates())[-1])


async def stored(teams: Teams) -> DeepDive:
    async with teams.client.app[SESSIONS]() as session:
        [dive] = (await session.scalars(select(DeepDive))).all()
        return dive


async def test_each_leader_gets_the_card_with_history_and_action_plan_and_accepts_it(teams):
    cards = await flagged(teams, SARAH)
    text = card_text(cards[HELEN])
    assert "Deep dive suggested: RB-01 for 2026/27 M7" in text
    assert "Council tax collected in year" in text
    assert "Off track for 2 periods running, up to 2026/27 M7." in text
    for fact in ("Revenues and Benefits", "Amina Hussain", "Mark Taylor"):
        assert fact in text
    assert "55.0% against 66.3%  🚩 Action" in text  # October
    assert "50.0% against 57.0%  🚩 Action" in text  # September
    assert "48.3% against 47.8%" in text  # August: on track
    assert "Staff shortages in 2026/27 M7." in text
    assert "Agency staff until March." in text
    assert "• Weekly recovery meeting (Amina Hussain, due Friday 6 November 2026: LATE)" in text
    assert "• Recruit (Amina Hussain)" in text
    assert card_text(cards[SARAH]) == text
    types = {node.get("type") for node in elements(cards[HELEN])}
    assert "Action.Execute" not in types

    accept = show_card(cards[HELEN], "Accept")
    leads = next(n for n in accept["body"] if n.get("id") == "lead")["choices"]
    assert {"title": "Mark Taylor (escalation owner)", "value": MARK.email} in leads
    teams.connector.clear()
    typed = {"review_date": "2027-01-15", "lead": MARK.email, "lead_email": ""}
    await teams.submit(HELEN, "dive-card", {**save(cards[HELEN], "Accept"), **typed})
    shown = await replaced(teams)
    assert "Accepted by Helen Ashworth on Monday 23 November 2026: the review is on Friday 15 " in (
        shown
    )
    assert "led by Mark Taylor." in shown
    assert "Save" not in shown  # the buttons are gone
    dive = await stored(teams)
    assert (dive.decision, dive.review_date) == ("accepted", date(2027, 1, 15))

    await teams.install(AMINA)
    await teams.install(MARK)
    teams.connector.clear()
    await deliver(teams)
    for user in (AMINA, MARK):
        calls = [c for c in teams.connector.sent() if c.conversation_id.endswith(user.teams_id)]
        [told] = [t for t in map(card_text, teams.connector.cards(calls)) if "Deep dive" in t]
        assert "Deep dive agreed: RB-01 for 2026/27 M7" in told
        assert "The review is on Friday 15 January 2027, led by Mark Taylor." in told

    # Sarah's copy, pressed after Helen decided: nothing changes, and it says who decided.
    teams.connector.clear()
    await teams.submit(
        SARAH, "sarah-card", {**save(cards[SARAH], "Decline"), "decline_reason": "Not now."}
    )
    again = await replaced(teams)
    assert "Already decided, so nothing was changed." in again
    assert "Accepted by Helen Ashworth on Monday 23 November 2026" in again
    assert (await stored(teams)).decline_reason is None


async def test_a_decline_needs_a_reason_and_is_recorded(teams):
    cards = await flagged(teams)
    teams.connector.clear()
    decline = save(cards[HELEN], "Decline")
    await teams.submit(HELEN, "dive-card", {**decline, "decline_reason": "   "})
    back = await replaced(teams)
    assert "Say why the deep dive is declined." in back
    assert (await stored(teams)).decision is None

    await teams.submit(
        HELEN, "dive-card", {**decline, "decline_reason": "The action plan is working."}
    )
    shown = await replaced(teams)
    assert "Declined by Helen Ashworth on Monday 23 November 2026: The action plan is working." in (
        shown
    )
    dive = await stored(teams)
    assert (dive.decision, dive.decline_reason) == ("declined", "The action plan is working.")

    # Sarah installs PerfBot only now: her copy is drawn afresh, decided, with no buttons.
    teams.connector.add_member(SARAH.teams_id, SARAH.name, SARAH.email, SARAH.aad)
    await teams.install(SARAH)
    teams.connector.clear()
    await deliver(teams)
    calls = [c for c in teams.connector.sent() if c.conversation_id == "a:personal-29:sarah"]
    [late] = teams.connector.cards(calls)
    assert "Deep dive decided: RB-01 for 2026/27 M7" in card_text(late)
    assert "Declined by Helen Ashworth" in card_text(late)
    assert "actions" not in late


async def test_a_bad_date_or_lead_sends_the_card_back_and_stores_nothing(teams):
    cards = await flagged(teams)
    teams.connector.clear()
    accept = save(cards[HELEN], "Accept")
    await teams.submit(
        HELEN,
        "dive-card",
        {**accept, "review_date": "2026-11-01", "lead": "", "lead_email": "who@nowhere.org"},
    )
    back = await replaced(teams)
    assert "Sunday 1 November 2026 has passed: choose today or a later day." in back
    assert "PerfBot doesn't know who@nowhere.org." in back
    card = teams.connector.cards(teams.connector.updates())[-1]
    date_input = next(n for n in elements(card) if n.get("id") == "review_date")
    assert date_input["value"] == "2026-11-01"  # what was typed stays
    assert (await stored(teams)).decision is None


async def test_a_forged_long_date_and_lead_come_back_short_with_a_clear_error(teams):
    """10,000 characters in the date and the lead (a forged submission: the card's inputs
    take far less): the card comes back under 28 KB, quoting a little of each."""
    cards = await flagged(teams)
    teams.connector.clear()
    accept = save(cards[HELEN], "Accept")
    forged_date, forged_lead = "2026-13-" + "9" * 9_992, "x" * 9_990 + "@nowhere.org"
    await teams.submit(
        HELEN,
        "dive-card",
        {**accept, "review_date": forged_date, "lead": "", "lead_email": forged_lead},
    )
    card = teams.connector.cards(teams.connector.updates())[-1]
    assert len(json.dumps(card).encode()) < 28 * 1024
    back = card_text(card)
    assert "'2026-13-" + "9" * 31 + "…' is not a date: write it as 2025-07-18" in back
    assert "PerfBot doesn't know " + "x" * 39 + "…. Choose someone from the list" in back
    assert "9" * 200 not in back
    assert "x" * 400 not in back
    date_input = next(n for n in elements(card) if n.get("id") == "review_date")
    assert date_input["value"] == forged_date[:100]
    assert (await stored(teams)).decision is None


async def test_someone_without_the_role_is_refused_politely_and_it_is_audited(teams):
    cards = await flagged(teams)
    await teams.install(MARK)
    teams.connector.clear()
    typed = {"review_date": "2027-01-15", "lead": MARK.email, "lead_email": ""}
    await teams.submit(MARK, "dive-card", {**save(cards[HELEN], "Accept"), **typed})
    assert teams.connector.texts() == [
        "Only the Leadership Team or the performance team can decide on a deep dive. "
        "Nothing was changed."
    ]
    assert (await stored(teams)).decision is None
    async with teams.client.app[SESSIONS]() as session:
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "refused"))
    assert (audit.actor, audit.key) == (MARK.email, "RB-01 2026/27 M7")


async def test_deep_dives_lists_them_for_the_leadership_team_and_opens_each_again(teams):
    await flagged(teams)
    teams.connector.clear()
    assert await teams.say(HELEN, "deep dives") == 201
    [listing] = teams.connector.cards()
    text = card_text(listing)
    assert "RB-01 · Council tax collected in year" in text
    assert "2026/27 M7 · off track · waiting for a decision" in text
    button = next(n for n in elements(listing) if n.get("title") == "Open RB-01")
    teams.connector.clear()
    await teams.submit(HELEN, "list-card", button["data"])
    [card] = teams.connector.cards()
    assert "Deep dive suggested: RB-01 for 2026/27 M7" in card_text(card)

    teams.connector.clear()
    await teams.install(STRANGER)
    await teams.install(AMINA)
    teams.connector.clear()
    assert await teams.say(AMINA, "deep dives") == 201
    assert "deep dives is for the Leadership Team" in teams.connector.texts()[0]
