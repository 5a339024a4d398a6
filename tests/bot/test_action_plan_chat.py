"""Action plans through /api/messages, as Amina lives them: her off-track return's action goes
into the plan, her next return card asks how it is going and lets her close it, `actions`
lists her items with a late one flagged, and Mark done works once, for those with the right."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from bot.loopback import card_text, elements
from domain.model import ActionPlan, AuditEntry, Measure
from tests.bot.conftest import AMINA, GARETH, MARK, NOW, Teams

# 22 December 2026: November's return (2026/27 M8) is open and October's action is due.
DECEMBER = datetime(2026, 12, 22, 10, 0, tzinfo=UTC)


async def rows(teams: Teams, model, *where) -> list:
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def open_card(teams: Teams, user, said: str) -> dict:
    teams.connector.clear()
    assert await teams.say(user, said) == 201
    [card] = teams.connector.cards()
    return card


def values(**typed: str) -> dict[str, str]:
    base = {"actual": "", "commentary": "", "action": "", "action_due": "", "reason": ""}
    base.update(typed)
    return base


def submit_data(card: dict) -> dict:
    return next(a["data"] for a in card["actions"] if a.get("title") == "Submit")


def inputs(card: dict) -> dict[str, dict]:
    return {n["id"]: n for n in elements(card) if str(n.get("type", "")).startswith("Input.")}


def buttons(card: dict, title: str) -> list[dict]:
    return [
        n["data"]
        for n in elements(card)
        if n.get("type") == "Action.Submit" and n["title"] == title
    ]


async def off_track_october(teams: Teams, due: str = "2027-01-31") -> str:
    """Amina sends RB-01's October figure off track with an action; the receipt's text."""
    card = await open_card(teams, AMINA, "submit RB-01")
    typed = values(
        actual="62.5", commentary="Slow month.", action="Extra reminder letters.", action_due=due
    )
    teams.connector.clear()
    assert await teams.submit(AMINA, "card-oct", {**submit_data(card), **typed}) == 201
    return card_text(teams.connector.cards(teams.connector.updates())[-1])


async def test_an_off_track_action_is_followed_up_on_the_next_card_and_closed_from_it(teams):
    receipt = await off_track_october(teams)
    assert (
        "Your action is in RB-01's action plan, due Sunday 31 January; PerfBot will ask you "
        "about it on your next return." in receipt
    )
    assert "will be followed up next period" not in receipt
    [item] = await rows(teams, ActionPlan)

    teams.now = DECEMBER
    card = await open_card(teams, AMINA, "submit RB-01")
    text = card_text(card)
    assert "2026/27 M8" in text
    assert "RB-01's action plan: 1 open action" in text
    assert "Extra reminder letters." in text
    assert "Owner: Amina Hussain · due Sunday 31 January 2027 · from 2026/27 M7" in text
    boxes = inputs(card)
    assert boxes[f"progress_{item.id}"]["type"] == "Input.Text"
    assert boxes[f"done_{item.id}"]["type"] == "Input.Toggle"

    typed = values(actual="75.8", commentary="Letters went out; back on profile.")
    typed[f"progress_{item.id}"] = "1,200 letters sent; collection up 3 points."
    typed[f"done_{item.id}"] = "true"
    teams.connector.clear()
    assert await teams.submit(AMINA, "card-nov", {**submit_data(card), **typed}) == 201
    receipt = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "Received: RB-01" in receipt
    assert "Progress noted on 1 action; 1 marked done." in receipt
    [closed] = await rows(teams, ActionPlan)
    assert (closed.status, closed.progress, closed.closed_at) == (
        "done",
        "1,200 letters sent; collection up 3 points.",
        DECEMBER,
    )
    again = card_text(await open_card(teams, AMINA, "submit RB-01"))
    assert "action plan" not in again  # nothing open to ask about


async def test_progress_typed_on_a_card_with_problems_comes_back_and_is_not_stored(teams):
    await off_track_october(teams)
    [item] = await rows(teams, ActionPlan)
    teams.now = DECEMBER
    card = await open_card(teams, AMINA, "submit RB-01")
    typed = values(actual="75.8")  # no commentary: the card comes back
    typed[f"progress_{item.id}"] = "Half the letters sent."
    teams.connector.clear()
    await teams.submit(AMINA, "card-nov", {**submit_data(card), **typed})
    again = teams.connector.cards(teams.connector.updates())[-1]
    assert "Add a short commentary" in card_text(again)
    assert inputs(again)[f"progress_{item.id}"]["value"] == "Half the letters sent."
    [unchanged] = await rows(teams, ActionPlan)
    assert (unchanged.progress, unchanged.status) == (None, "open")


async def test_actions_lists_the_items_with_a_late_one_flagged_and_status_says_so(teams):
    await off_track_october(teams, due="2026-12-18")
    teams.now = DECEMBER
    card = await open_card(teams, AMINA, "actions")
    text = card_text(card)
    assert "Amina Hussain: 1 open action, 1 LATE" in text
    assert "RB-01 · Council tax collected in year (2026/27 M7)" in text
    assert "Extra reminder letters." in text
    assert "⚠ LATE: open and past its due date" in text
    assert "Friday 18 December 2026" in text
    assert len(buttons(card, "Mark done")) == 1
    assert buttons(card, "Drop this action") == []  # the escalation owner's to drop
    status = card_text(await open_card(teams, MARK, "status"))
    assert "⚠ 1 action late" in status
    nothing = await open_card(teams, GARETH, "my actions")
    assert "You have no actions in any action plan." in card_text(nothing)


async def test_mark_done_by_someone_else_is_refused_and_a_second_press_says_who_did_it(teams):
    await off_track_october(teams)
    teams.now = DECEMBER
    card = await open_card(teams, AMINA, "actions")
    [press] = buttons(card, "Mark done")

    teams.connector.clear()
    assert await teams.submit(GARETH, "card-actions", press) == 201
    [said] = teams.connector.texts()
    assert said.startswith("Sorry, only its owner")
    assert teams.connector.updates() == []
    [item] = await rows(teams, ActionPlan)
    assert item.status == "open"
    [refused] = await rows(
        teams, AuditEntry, AuditEntry.action == "refused", AuditEntry.entity == "action_plan"
    )
    assert refused.actor == GARETH.email

    teams.connector.clear()
    assert await teams.submit(AMINA, "card-actions", press) == 201
    [update] = teams.connector.updates()
    assert update.activity_id == "card-actions"  # replaced in place
    done = card_text(teams.connector.cards([update])[0])
    assert "Done: RB-01 \u201cExtra reminder letters.\u201d. Thank you." in done
    assert "0 open actions" in done
    assert "done on Tuesday 22 December" in done

    teams.connector.clear()
    assert await teams.submit(AMINA, "card-actions", press) == 201
    twice = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert (
        "Already done: RB-01 \u201cExtra reminder letters.\u201d was marked done on Tuesday "
        "22 December by Amina Hussain. Nothing changed." in twice
    )
    assert len(await rows(teams, AuditEntry, AuditEntry.action == "action done")) == 1


async def test_the_escalation_owner_can_drop_an_item_with_a_reason(teams):
    await off_track_october(teams)
    teams.now = DECEMBER
    card = await open_card(teams, MARK, "actions")
    [press] = buttons(card, "Drop this action")
    [item] = await rows(teams, ActionPlan)
    teams.connector.clear()
    await teams.submit(MARK, "card-mark", {**press, f"drop_reason_{item.id}": ""})
    assert "Say why the action is being dropped" in teams.connector.texts()[0]
    teams.connector.clear()
    await teams.submit(MARK, "card-mark", {**press, f"drop_reason_{item.id}": "Superseded."})
    dropped = card_text(teams.connector.cards(teams.connector.updates())[-1])
    assert "Dropped: RB-01" in dropped
    [closed] = await rows(teams, ActionPlan)
    assert closed.status == "dropped"
    # Amina's next card no longer asks about it.
    assert "action plan" not in card_text(await open_card(teams, AMINA, "submit RB-01"))


async def test_a_chasers_card_asks_about_a_remedial_action_agreed_by_the_escalation_owner(teams):
    """What the escalation card's Agree remedial action writes (add_item, source "agreed")
    is asked about on the owner's next card, here the chaser's."""
    from bot.app import ADAPTER, SESSIONS
    from bot.delivery.dispatcher import Dispatcher
    from bot.settings import Settings
    from domain import action_plans
    from domain.model import Person
    from domain.outbox import CHASER_KINDS, Timetable, sweep

    async with teams.client.app[SESSIONS]() as session, session.begin():
        rb02 = await session.scalar(select(Measure).where(Measure.code == "RB-02"))
        mark = await session.scalar(select(Person).where(Person.email == MARK.email))
        await action_plans.add_item(
            session,
            rb02,
            "2026/27 M6",
            "Weekly review of the ten largest accounts.",
            owner=rb02.owner,
            due=date(2026, 11, 30),
            source="agreed",
            by=mark,
            now=NOW,
        )
        await sweep(session, NOW, Timetable(), set(CHASER_KINDS))
    await teams.install(AMINA)
    teams.connector.clear()
    app = teams.client.app
    await Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], lambda: NOW).run_once()
    [chaser] = [c for c in teams.connector.sent() if c.body.get("text", "").startswith("RB-02")]
    text = card_text(teams.connector.cards([chaser])[0])
    assert "RB-02's action plan: 1 open action" in text
    assert "Weekly review of the ten largest accounts." in text
    assert "Owner: Amina Hussain · due Monday 30 November 2026 · from 2026/27 M6" in text
