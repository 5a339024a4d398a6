"""Seed 001's review questions on the return card, through the real app: the off-track part
asks why, the implications, the impact on service users, the priorities and risks, whether
the actions in place are working and the performance predicted without more; a council that
requires some (PERFBOT_REQUIRED_QUESTIONS) gets a sentence against each one missing and
nothing stored; the answers are stored apart from the commentary, and the receipt and the
escalation owner's card show them with the commentary as sent."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import ADAPTER, SESSIONS, create_app
from bot.delivery.dispatcher import Dispatcher
from bot.loopback import card_text, elements
from bot.settings import Settings, SettingsError
from domain.model import Return, ReturnAnswer
from tests.bot.conftest import AMINA, MARK, Teams

WHY = "Two assessors off sick and a backlog of 400 claims."
IMPACT = "Claimants wait three weeks longer for their support."
FORECAST = "About 80% by the end of the year."


@pytest.fixture
async def strict(aiohttp_client: Any, council_engine: Any, connector: Any) -> Teams:
    """PerfBot for a council that requires why, impact, the action and the forecast."""
    settings = Settings.from_env({"PERFBOT_REQUIRED_QUESTIONS": "why,impact,action,forecast"})
    holder: list[Teams] = []
    app = create_app(settings, engine=council_engine, clock=lambda: holder[0].now)
    holder.append(Teams(await aiohttp_client(app), connector))
    return holder[0]


def submit_button(card: dict[str, Any]) -> dict[str, Any]:
    return next(a["data"] for a in card["actions"] if a["title"] == "Submit")


def off_track_part(card: dict[str, Any]) -> dict[str, Any]:
    [part] = [n for n in elements(card) if n.get("id") == "off_track"]
    return part


async def rb06_card(teams: Teams) -> dict[str, Any]:
    teams.connector.clear()
    assert await teams.say(AMINA, "submit RB-06") == 201
    [card] = teams.connector.cards()
    return card


async def send(teams: Teams, card: dict[str, Any], card_id: str, **typed: str) -> dict[str, Any]:
    """Amina presses Submit with what she typed; the card that replaced it."""
    teams.connector.clear()
    value = {"actual": "78", "commentary": "Claims decided fell again.", **typed}
    await teams.submit(AMINA, card_id, {**submit_button(card), **value})
    [replaced] = teams.connector.cards(teams.connector.updates())
    return replaced


async def stored(teams: Teams) -> tuple[int, list[tuple[str, str]]]:
    async with teams.client.app[SESSIONS]() as session:
        returns = await session.scalar(select(func.count()).select_from(Return)) or 0
        answers = await session.execute(
            select(ReturnAnswer.question, ReturnAnswer.answer).order_by(ReturnAnswer.question)
        )
        return returns, [tuple(row) for row in answers]


async def test_the_off_track_part_asks_seed_001s_questions_shown_when_off_track(strict):
    teams = strict
    await teams.install(MARK)
    await teams.install(AMINA)
    before, _ = await stored(teams)
    card = await rb06_card(teams)
    text = card_text(card)
    for asked in (
        "Why is this the case? *",
        "What are the implications of the current level of performance?",
        "What impact will this have on service users, local people and partners? *",
        "How will this affect the Council's priorities and key risk areas?",
        "Are the actions already in place proving to be effective?",
        "What is the predicted performance if no additional actions are taken? *",
        "What action will bring it back on track? *",
    ):
        assert asked in text
    assert "* needed when it is off track" in text
    # Hidden until wanted, behind a button a phone can press (nothing is sent by it).
    assert off_track_part(card)["isVisible"] is False
    [toggle] = [n for n in elements(card) if n.get("type") == "Action.ToggleVisibility"]
    assert toggle["targetElements"] == ["off_track"]

    # 78% against 90% is Action: the card comes back with the part shown, a sentence against
    # each required answer missing, what was typed kept, and nothing stored.
    back = await send(teams, card, "card-1", why=WHY, action="Overtime on Saturdays.")
    back_text = card_text(back)
    assert "Off-track figures need an action and a date and the review questions marked" in (
        back_text
    )
    assert "⚠ It is off track: say what impact it will have on service users." in back_text
    assert "⚠ It is off track: say what performance is predicted with no more action." in (
        back_text
    )
    assert "⚠ It is off track: say by when it should be back on track." in back_text
    assert "⚠ It is off track: say why." not in back_text
    assert off_track_part(back)["isVisible"] is True
    inputs = {n["id"]: n.get("value") for n in elements(back) if "Input." in str(n.get("type"))}
    assert (inputs["why"], inputs["action"]) == (WHY, "Overtime on Saturdays.")
    assert await stored(teams) == (before, [])

    # All given: stored, with the answers apart from the commentary, one row a question.
    receipt = await send(
        teams,
        back,
        "card-2",
        why=WHY,
        impact=IMPACT,
        forecast=FORECAST,
        effective="",
        action="Overtime on Saturdays.",
        action_due="2027-01-29",
    )
    said = card_text(receipt)
    assert "Received: RB-06" in said
    # The receipt shows the commentary and the answers as sent.
    for line in (
        "What you sent",
        "Commentary",
        "Claims decided fell again.",
        "Why",
        WHY,
        "Impact on service users",
        IMPACT,
        "Predicted without more action",
        FORECAST,
        "Overtime on Saturdays.",
        "Friday 29 January 2027",
    ):
        assert line in said
    assert "Are actions working" not in said  # left blank: not shown, not stored
    count, answers = await stored(teams)
    assert count == before + 1
    assert answers == [("forecast", FORECAST), ("impact", IMPACT), ("why", WHY)]
    async with teams.client.app[SESSIONS]() as session:
        newest = await session.scalar(select(Return).order_by(Return.id.desc()).limit(1))
    assert newest is not None
    assert newest.commentary == "Claims decided fell again."  # the answers are not in it

    # The escalation owner's card carries them too.
    teams.connector.clear()
    app = teams.client.app
    await Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], lambda: teams.now).run_once()
    chat = f"a:personal-{MARK.teams_id}"
    [escalation] = teams.connector.cards(
        [c for c in teams.connector.sent() if c.conversation_id == chat]
    )
    shown = card_text(escalation)
    assert "Amina Hussain's commentary" in shown
    for line in ("Why", WHY, "Impact on service users", IMPACT, FORECAST):
        assert line in shown


async def test_by_default_only_the_action_and_date_are_required_and_answers_optional(teams):
    await teams.install(AMINA)
    card = await rb06_card(teams)
    assert "Why is this the case?" in card_text(card)
    assert "Why is this the case? *" not in card_text(card)
    back = await send(teams, card, "card-1")
    assert "Off-track figures need an action and a date." in card_text(back)
    assert "say why" not in card_text(back)
    receipt = await send(
        teams, back, "card-2", action="Overtime.", action_due="2027-01-29", why=WHY
    )
    assert WHY in card_text(receipt)


async def test_an_over_long_answer_comes_back_marked_and_nothing_is_stored(teams):
    await teams.install(AMINA)
    before, _ = await stored(teams)
    card = await rb06_card(teams)
    back = await send(
        teams, card, "card-1", action="Overtime.", action_due="2027-01-29", why="w" * 600
    )
    text = card_text(back)
    assert "This is over 500 characters, so it is cut short here: please shorten it." in text
    assert off_track_part(back)["isVisible"] is True
    assert await stored(teams) == (before, [])


def test_a_required_question_the_council_names_wrongly_stops_start_up_naming_the_choices():
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"PERFBOT_REQUIRED_QUESTIONS": "why,reasons"})
    assert str(raised.value) == (
        "PERFBOT_REQUIRED_QUESTIONS 'reasons' is not a review question PerfBot asks: choose "
        "from why, implications, impact, risks, effective, forecast, action (comma-separated), "
        "or none"
    )
    assert Settings.from_env({}).policy.required == frozenset({"action"})
    assert Settings.from_env({"PERFBOT_REQUIRED_QUESTIONS": "none"}).policy.required == frozenset()
    chosen = Settings.from_env({"PERFBOT_REQUIRED_QUESTIONS": " Why , FORECAST "})
    assert chosen.policy.required == frozenset({"why", "forecast"})
    assert not chosen.policy.action_required
