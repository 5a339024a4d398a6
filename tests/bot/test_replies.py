"""Replies when Teams throttles: what PerfBot says during a turn reaches the person once,
after the waits Teams asks for, or later from the outbox if the turn cannot wait that long;
what Teams refuses for good is not tried again, and no turn ends in an apology for it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import SESSIONS, create_app
from bot.loopback import Call, Fault, card_text
from bot.settings import Settings
from bot.teams.replies import ReplyRetry
from domain.model import Notification, NotificationState, Person, Return
from domain.notifications import Kind
from tests.bot.conftest import AMINA, NOW, STRANGER, Teams, User
from tests.bot.test_conversation import data, open_card, values
from tests.bot.test_delivery import Clock, dispatcher

# Turns that give up on their replies after 2 s, retrying every 25 to 200 ms meanwhile.
QUICK = ReplyRetry(budget=2.0, first_backoff=0.05, most_backoff=0.2, attempt_timeout=1.0)
# Turns that retry as briskly but keep a real turn's 10 s, for tests where the reply must
# get through: a busy machine can spend 2 s on the turn before its first reply.
BRISK = ReplyRetry(first_backoff=0.05, most_backoff=0.2, attempt_timeout=1.0)
THROTTLED = {"error": {"code": "Throttled", "message": "too many requests"}}
APOLOGY = "Sorry, something went wrong"


async def _teams_retrying(aiohttp_client, engine, connector, retry: ReplyRetry) -> Teams:
    holder: list[Teams] = []
    app = create_app(Settings(), engine=engine, clock=lambda: holder[0].now, reply_retry=retry)
    holder.append(Teams(await aiohttp_client(app), connector))
    return holder[0]


@pytest.fixture
async def hurried(aiohttp_client, council_engine, connector) -> Teams:
    """The bot with turns that keep trying their replies for 2 s, not 10."""
    return await _teams_retrying(aiohttp_client, council_engine, connector, QUICK)


@pytest.fixture
async def brisk(aiohttp_client, council_engine, connector) -> Teams:
    """The bot with turns that retry their replies every 25 to 200 ms, for 10 s."""
    return await _teams_retrying(aiohttp_client, council_engine, connector, BRISK)


async def known_by_entra(teams: Teams, *users: User) -> None:
    """PerfBot knows these people by their Entra id already, so it looks nobody up in Teams
    and the first call it makes to the Bot Connector is its reply (which a fault is for)."""
    async with teams.client.app[SESSIONS]() as session, session.begin():
        for user in users:
            person = await session.scalar(select(Person).where(Person.email == user.email))
            person.aad_object_id = user.aad


async def queued_replies(teams: Teams) -> list[Notification]:
    async with teams.client.app[SESSIONS]() as session:
        return list(
            await session.scalars(select(Notification).where(Notification.kind == Kind.REPLY))
        )


def what_it_says(teams: Teams, call: Call) -> str:
    return "\n".join([call.body.get("text") or "", *map(card_text, teams.connector.cards([call]))])


async def test_a_welcome_met_by_a_429_arrives_once_after_the_wait_teams_asked_for(teams):
    await known_by_entra(teams, AMINA)
    teams.connector.faults = [Fault(429, {"Retry-After": "1"}, THROTTLED)]
    started = time.monotonic()
    await teams.install(AMINA)
    assert time.monotonic() - started >= 1.0  # Teams said a second
    throttled, welcome = teams.connector.sent()
    assert (throttled.status, welcome.status) == (429, 200)
    assert "Hello Amina Hussain, I'm PerfBot" in what_it_says(teams, welcome)
    assert APOLOGY not in "".join(teams.connector.texts())
    assert await queued_replies(teams) == []


async def test_a_429_asking_longer_than_a_turn_can_wait_is_sent_from_the_outbox_then(teams):
    await known_by_entra(teams, AMINA)
    teams.connector.faults = [Fault(429, {"Retry-After": "30"}, THROTTLED)]
    started = time.monotonic()
    await teams.install(AMINA)
    assert time.monotonic() - started < 5  # the turn did not sit out Teams' 30 s
    assert teams.connector.delivered() == []
    [row] = await queued_replies(teams)
    assert (row.state, row.conversation_id) == (NotificationState.PENDING, "a:personal-29:amina")
    assert row.not_before == NOW + timedelta(seconds=30)
    clock = Clock(NOW + timedelta(seconds=29))
    assert (await dispatcher(teams, clock).run_once()).sent == 0  # not before Teams said
    clock.now += timedelta(seconds=2)
    assert (await dispatcher(teams, clock).run_once()).sent == 1
    [welcome] = teams.connector.delivered()
    assert "Hello Amina Hussain, I'm PerfBot" in what_it_says(teams, welcome)
    assert (await dispatcher(teams, clock).run_once()).sent == 0
    assert APOLOGY not in "".join(teams.connector.texts())


async def test_a_receipt_met_by_503s_replaces_the_card_once_teams_takes_it(brisk):
    await known_by_entra(brisk, AMINA)
    card_id, card = await open_card(brisk, AMINA, "RB-01")
    brisk.connector.clear()
    brisk.connector.faults = [Fault(503), Fault(503)]
    submit = {**data(card), **values(actual="66.5", commentary="On profile.")}
    assert await brisk.submit(AMINA, card_id, submit) == 201
    updates = brisk.connector.updates()
    assert [u.status for u in updates] == [503, 503, 200]
    [receipt] = brisk.connector.cards(updates[-1:])
    assert "Received: RB-01 · Council tax collected in year, 2026/27 M7" in card_text(receipt)
    assert brisk.connector.sent() == []  # replaced where it was: no second card
    assert await queued_replies(brisk) == []


@pytest.mark.parametrize(
    ("user", "said", "answer"),
    [
        (AMINA, "my measures", "Amina Hussain: 3 measures, 2 returns waiting for a figure"),
        (AMINA, "status", "status is for escalation owners and the Leadership Team"),
        (STRANGER, "hello", "I can't find you in the list of measure owners"),
    ],
    ids=["card", "text", "unknown-person"],
)
async def test_a_reply_teams_will_not_take_for_longer_than_the_turn_is_sent_later_once(
    hurried, user, said, answer
):
    await known_by_entra(hurried, *([user] if user is AMINA else []))
    hurried.connector.faults = [Fault(503) for _ in range(500)]
    message = hurried.activity(user, text=said, textFormat="plain")
    started = time.monotonic()
    assert await hurried.post(message) == 201
    assert time.monotonic() - started < QUICK.budget + 1.5  # well inside Teams' 15 s
    assert await hurried.post(message) == 201  # Teams posts the same activity again
    assert hurried.connector.delivered() == []
    [row] = await queued_replies(hurried)
    assert (row.state, row.conversation_id) == (
        NotificationState.PENDING,
        f"a:personal-{user.teams_id}",
    )
    hurried.connector.faults.clear()
    hurried.connector.clear()
    clock = Clock(NOW + timedelta(seconds=5))
    assert (await dispatcher(hurried, clock).run_once()).sent == 1
    assert (await dispatcher(hurried, clock).run_once()).sent == 0
    [reply] = hurried.connector.delivered()
    assert reply.conversation_id == f"a:personal-{user.teams_id}"
    assert answer in what_it_says(hurried, reply)
    assert APOLOGY not in "".join(hurried.connector.texts())


async def test_a_receipt_teams_will_not_take_in_time_comes_later_as_a_new_card(hurried):
    await known_by_entra(hurried, AMINA)
    card_id, card = await open_card(hurried, AMINA, "RB-01")
    hurried.connector.faults = [Fault(503) for _ in range(500)]
    submit = {**data(card), **values(actual="66.5", commentary="On profile.")}
    assert await hurried.submit(AMINA, card_id, submit) == 201
    async with hurried.client.app[SESSIONS]() as session:
        assert await session.scalar(select(Return.value)) is not None  # the figure is stored
    [row] = await queued_replies(hurried)
    assert row.state is NotificationState.PENDING
    hurried.connector.faults.clear()
    hurried.connector.clear()
    assert (await dispatcher(hurried, Clock(NOW + timedelta(seconds=5))).run_once()).sent == 1
    [receipt] = hurried.connector.cards(hurried.connector.delivered())
    assert "Received: RB-01 · Council tax collected in year, 2026/27 M7" in card_text(receipt)
    assert hurried.connector.updates() == []


async def test_a_reply_teams_refuses_for_good_is_not_retried_and_the_turn_ends_quietly(
    hurried, caplog
):
    await known_by_entra(hurried, AMINA)
    blocked = {"error": {"code": "ConversationBlockedByUser", "message": "blocked"}}
    hurried.connector.faults = [Fault(403, {}, blocked)]
    assert await hurried.say(AMINA, "my measures") == 201
    [refused] = hurried.connector.calls  # tried once, and no apology attempted after it
    assert refused.status == 403
    assert await queued_replies(hurried) == []
    assert not [r for r in caplog.records if r.exc_info]  # no stack trace, not even in the log


async def test_a_reply_under_way_when_the_server_stops_goes_to_the_outbox_not_round_again(
    brisk, caplog
):
    """`perfbot serve` told to stop (a deploy, a restart) while a turn is still trying a reply
    Teams will not take: the turn hands the reply to the outbox at once, before the server
    closes its Bot Connector session, instead of trying it again on a closed session (which
    ended in a stack trace and a lost reply); the next start sends it once."""
    await known_by_entra(brisk, AMINA)
    brisk.connector.faults = [Fault(503) for _ in range(500)]
    turn = asyncio.create_task(brisk.say(AMINA, "my measures"))
    for _ in range(1000):  # until it has met Teams' 503 and is trying again
        if len(brisk.connector.sent()) >= 2:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the reply was not tried twice within 10 s")
    started = time.monotonic()
    await brisk.client.app.shutdown()  # what aiohttp does first on SIGTERM
    assert await turn == 201
    assert time.monotonic() - started < 1.0  # not the rest of its 10 s
    tries = len(brisk.connector.sent())
    [row] = await queued_replies(brisk)
    assert row.state is NotificationState.PENDING
    await asyncio.sleep(0.5)  # nothing more is tried in the turn's name
    assert len(brisk.connector.sent()) == tries
    assert not [r for r in caplog.records if r.exc_info]
    brisk.connector.faults.clear()
    clock = Clock(NOW + timedelta(seconds=5))
    assert (await dispatcher(brisk, clock).run_once()).sent == 1
    assert (await dispatcher(brisk, clock).run_once()).sent == 0
    [reply] = brisk.connector.delivered()
    assert "Amina Hussain: 3 measures" in what_it_says(brisk, reply)
