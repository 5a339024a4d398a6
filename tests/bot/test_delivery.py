"""Delivery: the sweeps queue, the dispatcher sends through the real adapter to a loopback
Bot Connector, and every answer Teams can give is handled: 429 with Retry-After, 503,
timeouts, 403; quiet hours; a return submitted after queueing; a chat opened for someone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from bot.app import ADAPTER, SESSIONS
from bot.delivery.dispatcher import Dispatcher, _SentMarks
from bot.loopback import Fault, card_text
from bot.settings import Settings
from domain import outbox
from domain.model import ConversationRef, Notification, NotificationState, Person
from domain.outbox import CHASER_KINDS, Timetable, sweep
from tests.bot.conftest import AMINA, GARETH, Teams

MONDAY_NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # GMT: 09:00 in London too


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def queue_chasers(teams: Teams, now: datetime = MONDAY_NINE) -> list[str]:
    async with teams.client.app[SESSIONS]() as session, session.begin():
        return (await sweep(session, now, Timetable(), set(CHASER_KINDS))).queued


def dispatcher(teams: Teams, clock: Clock, **kwargs) -> Dispatcher:
    app = teams.client.app
    return Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], clock, **kwargs)


async def rows(teams: Teams, email: str) -> list[Notification]:
    async with teams.client.app[SESSIONS]() as session:
        person = await session.scalar(select(Person).where(Person.email == email))
        return list(
            (
                await session.scalars(
                    select(Notification)
                    .where(Notification.person_id == person.id)
                    .order_by(Notification.reason_key)
                )
            ).all()
        )


def to(teams: Teams, user) -> list:
    return [c for c in teams.connector.sent() if c.conversation_id == f"a:personal-{user.teams_id}"]


async def test_a_chaser_is_queued_once_and_sent_to_the_owners_chat_with_the_return_card(teams):
    await teams.install(AMINA)
    teams.connector.clear()
    queued = await queue_chasers(teams)
    assert await queue_chasers(teams) == []  # a second run queues nothing
    amina = [k for k in queued if k.startswith("chaser:RB-0")]
    assert len(amina) >= 2
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    report = await dispatcher(teams, clock).run_once()
    assert report.sent >= 2
    [first, second] = sorted(to(teams, AMINA), key=lambda c: c.body["text"])
    assert first.body["text"].startswith(
        "RB-01 Council tax collected in year for 2026/27 M7 was due on Friday 20 November and hasn't arrived yet."
    )
    assert "Actual for 2026/27 M7" in card_text(teams.connector.cards([first])[0])
    sent = [n for n in await rows(teams, AMINA.email) if n.state is NotificationState.SENT]
    assert {n.activity_id for n in sent} <= {c.body.get("id") for c in [first, second]} | {
        n.activity_id for n in sent
    }
    assert all(n.activity_id and n.activity_id.startswith("activity-") for n in sent)
    # nothing is sent twice
    assert (await dispatcher(teams, clock).run_once()).sent == 0


async def test_a_return_submitted_between_queueing_and_sending_cancels_its_chaser(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    card = {
        "verb": "submit_return",
        "code": "RB-01",
        "period": "2026/27 M7",
        "actual": "66.5",
        "commentary": "Sent at last.",
        "action": "",
        "action_due": "",
        "reason": "",
    }
    await teams.submit(AMINA, "card-x", await teams.sealed(card))  # the reminder's card
    teams.connector.clear()
    await dispatcher(teams, Clock(MONDAY_NINE + timedelta(minutes=1))).run_once()
    texts = [c.body.get("text", "") for c in to(teams, AMINA)]
    assert not any(t.startswith("RB-01") for t in texts)
    assert any(t.startswith("RB-02") for t in texts)
    cancelled = [
        n for n in await rows(teams, AMINA.email) if n.reason_key.startswith("chaser:RB-01")
    ]
    assert [(n.state, n.last_error) for n in cancelled] == [
        (NotificationState.CANCELLED, "the return has been submitted")
    ]


async def test_429_is_retried_after_the_time_teams_asks(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    teams.connector.faults = [Fault(429, {"Retry-After": "7"}, {"error": {"code": "Throttled"}})]
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    send = dispatcher(teams, clock, concurrency=1)
    report = await send.run_once()
    assert report.retried == 1
    [throttled] = [
        n for n in await rows(teams, AMINA.email) if n.state is NotificationState.PENDING
    ]
    assert throttled.attempts == 1
    assert throttled.not_before == clock.now + timedelta(seconds=7)
    assert throttled.last_error == "429 Throttled"
    clock.now += timedelta(seconds=6)
    assert (await send.run_once()).sent == 0  # not before Teams said
    clock.now += timedelta(seconds=2)
    assert (await send.run_once()).sent == 1
    assert all(n.state is NotificationState.SENT for n in await rows(teams, AMINA.email))


async def test_a_503_that_persists_is_retried_later_with_backoff(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    teams.connector.faults = [Fault(503), Fault(503)]
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    send = dispatcher(teams, clock, concurrency=1)
    report = await send.run_once()
    assert report.retried == 2
    assert len(to(teams, AMINA)) == 2
    waiting = [n for n in await rows(teams, AMINA.email) if n.state is NotificationState.PENDING]
    assert len(waiting) == 2
    for row in waiting:  # first backoff: 2 s with jitter of up to half
        assert timedelta(seconds=1) <= row.not_before - clock.now <= timedelta(seconds=2)
        assert (row.attempts, row.last_error) == (1, "503")
    clock.now += timedelta(seconds=3)
    assert (await send.run_once()).sent == 2


async def test_a_timeout_is_retried(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.delay = 1.0
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    report = await dispatcher(teams, clock, concurrency=2, send_timeout=0.2).run_once()
    assert report.retried == 2
    assert {n.last_error for n in await rows(teams, AMINA.email)} == {"no answer timeout"}
    teams.connector.delay = 0
    clock.now += timedelta(seconds=5)
    assert (await dispatcher(teams, clock).run_once()).sent == 2


async def test_403_marks_the_person_unreachable_and_nobody_retries(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    teams.connector.faults = [
        Fault(403, {}, {"error": {"code": "ConversationBlockedByUser", "message": "blocked"}})
    ]
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    report = await dispatcher(teams, clock, concurrency=1).run_once()
    assert report.errors == ["403 ConversationBlockedByUser"]
    assert len(to(teams, AMINA)) == 1  # refused once; her other chaser was not even tried
    states = {n.state for n in await rows(teams, AMINA.email)}
    assert states == {NotificationState.FAILED}
    async with teams.client.app[SESSIONS]() as session:
        person = await session.scalar(select(Person).where(Person.email == AMINA.email))
    assert person.unreachable_reason == "Teams answered 403 ConversationBlockedByUser"
    # talking to PerfBot again makes them reachable
    await teams.say(AMINA, "help")
    async with teams.client.app[SESSIONS]() as session:
        person = await session.scalar(select(Person).where(Person.email == AMINA.email))
    assert person.unreachable_reason is None


async def test_nothing_goes_out_after_six_it_waits_for_the_morning(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    evening = Clock(datetime(2026, 11, 23, 19, 0, tzinfo=UTC))
    report = await dispatcher(teams, evening).run_once()
    assert report.sent == 0
    assert report.postponed >= 2
    assert teams.connector.sent() == []
    waiting = [n for n in await rows(teams, AMINA.email)]
    assert {n.not_before for n in waiting} == {datetime(2026, 11, 24, 8, 0, tzinfo=UTC)}


async def test_someone_seen_in_teams_but_never_chatted_with_gets_a_new_chat(teams):
    await teams.install(AMINA)  # gives PerfBot a service URL and tenant for the council
    async with teams.client.app[SESSIONS]() as session, session.begin():
        person = await session.scalar(select(Person).where(Person.email == GARETH.email))
        person.teams_user_id = GARETH.teams_id
    await queue_chasers(teams)
    teams.connector.clear()
    await dispatcher(teams, Clock(MONDAY_NINE + timedelta(minutes=1)), concurrency=1).run_once()
    # one chat is opened; his second chaser goes to it
    [create] = [c for c in teams.connector.calls if c.path == "/v3/conversations"]
    assert create.body["members"] == [{"id": GARETH.teams_id}]
    assert create.body["channelData"] == {"tenant": {"id": "tenant-1"}}
    sent = [c for c in teams.connector.sent() if c.conversation_id.startswith("a:created-")]
    assert sorted(c.body["text"][:5] for c in sent) == ["RB-03", "RB-04"]
    async with teams.client.app[SESSIONS]() as session:
        ref = await session.scalar(
            select(ConversationRef).where(ConversationRef.person_id == person.id)
        )
    assert ref is not None
    assert ref.conversation_id.startswith("a:created-")


async def test_people_perfbot_cannot_reach_are_listed_not_retried(teams):
    await queue_chasers(teams)  # nobody has installed PerfBot
    report = await dispatcher(teams, Clock(MONDAY_NINE + timedelta(minutes=1))).run_once()
    assert report.sent == 0
    assert report.failed > 0
    assert teams.connector.sent() == []
    async with teams.client.app[SESSIONS]() as session:
        unreachable = (
            await session.scalars(
                select(Person.email).where(Person.unreachable_reason.is_not(None))
            )
        ).all()
    assert AMINA.email in unreachable


async def test_a_dispatcher_told_to_stop_finishes_the_send_in_flight_and_releases_the_rest(teams):
    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    teams.connector.delay = 0.3  # each send takes a while, so one is in flight when it stops
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    first = dispatcher(teams, clock, concurrency=1)
    running = asyncio.create_task(first.run())
    await asyncio.wait_for(teams.connector.arrived.wait(), 5)
    first.stop()  # with the first send on its way
    await asyncio.wait_for(running, 5)  # it returns by itself: nothing is cut off mid-send
    delivered = len(to(teams, AMINA))
    mine = await rows(teams, AMINA.email)
    sent = [n for n in mine if n.state is NotificationState.SENT]
    waiting = [n for n in mine if n.state is NotificationState.PENDING]
    assert delivered >= 1
    assert len(sent) == delivered
    assert all(n.activity_id for n in sent)
    assert waiting, "the test needs rows left over when the dispatcher stops"
    assert all(n.claimed_until is None for n in waiting)  # free for the next start at once
    teams.connector.delay = 0
    await dispatcher(teams, clock).run_once()
    texts = [c.body["text"] for c in to(teams, AMINA)]
    assert len(texts) == len(set(texts)) == len(mine)  # every chaser once, none twice


async def test_two_dispatchers_split_the_people_and_the_tenant_rate_between_them(teams):
    await queue_chasers(teams)
    sessions = teams.client.app[SESSIONS]
    taken = {}
    for k in (0, 1):
        async with sessions() as session:
            taken[k] = await outbox.claim(
                session, MONDAY_NINE, f"shard-{k}", 1000, timedelta(minutes=2), (k, 2)
            )
    async with sessions() as session:
        due = {n.id: n.person_id for n in await session.scalars(select(Notification))}
    assert taken[0]
    assert taken[1]
    assert not set(taken[0]) & set(taken[1])  # no row for both
    assert set(taken[0]) | set(taken[1]) == set(due)  # and none for neither
    people = [{due[i] for i in taken[k]} for k in (0, 1)]
    assert not people[0] & people[1]  # each person's chat is counted by one of them only
    half = dispatcher(teams, Clock(MONDAY_NINE), shard=(1, 2))
    assert [n for n, _ in half.limiter.tenant] == [25]  # of Teams' 50 a second


async def test_sends_that_finish_together_are_marked_sent_in_one_commit_each_waiting_for_its_own(
    teams,
):
    await queue_chasers(teams)
    sessions = teams.client.app[SESSIONS]
    async with sessions() as session:
        ids = list(await session.scalars(select(Notification.id).limit(8)))
    engine = sessions.kw["bind"]
    commits = []

    def counted(connection):
        commits.append(connection)

    event.listen(engine.sync_engine, "commit", counted)
    try:
        marks = _SentMarks(engine)
        await asyncio.gather(
            *(marks.mark({"row": i, "activity": f"activity-{i}", "at": MONDAY_NINE}) for i in ids)
        )
    finally:
        event.remove(engine.sync_engine, "commit", counted)
    async with sessions() as session:
        marked = {
            n.id: (n.state, n.activity_id)
            for n in await session.scalars(select(Notification).where(Notification.id.in_(ids)))
        }
    assert marked == {i: (NotificationState.SENT, f"activity-{i}") for i in ids}
    assert len(ids) == 8
    assert len(commits) == 1  # eight rows, one commit


async def test_someone_who_installs_late_gets_what_was_waiting_for_them_once(teams):
    # The catch-up after a late start: Amina's chasers go before she has installed PerfBot.
    keys = [k for k in await queue_chasers(teams) if k.endswith(":" + str(await _id(teams, AMINA)))]
    assert keys
    clock = Clock(MONDAY_NINE)
    await dispatcher(teams, clock).run_once()
    assert not to(teams, AMINA)
    mine = await rows(teams, AMINA.email)
    assert {n.state for n in mine} == {NotificationState.FAILED}
    # A minute later she installs: what failed for want of an install is queued again, once.
    teams.now = clock.now = MONDAY_NINE + timedelta(minutes=1)
    await teams.install(AMINA)
    assert {n.state for n in await rows(teams, AMINA.email)} == {NotificationState.PENDING}
    await teams.install(AMINA)  # installing again queues nothing twice
    teams.connector.clear()
    await dispatcher(teams, clock).run_once()
    await dispatcher(teams, clock).run_once()
    chasers = [c for c in to(teams, AMINA) if "hasn't arrived yet" in (c.body.get("text") or "")]
    assert len(chasers) == len(keys)
    assert {n.state for n in await rows(teams, AMINA.email)} == {NotificationState.SENT}


async def _id(teams: Teams, user) -> int:
    async with teams.client.app[SESSIONS]() as session:
        return await session.scalar(select(Person.id).where(Person.email == user.email))


async def test_each_message_is_let_through_again_as_it_is_written_and_counted_until_answered(
    teams,
):
    from bot.delivery import RateLimiter

    await teams.install(AMINA)
    await queue_chasers(teams)
    teams.connector.clear()
    teams.connector.faults = [Fault(429, {"Retry-After": "1"})]  # a refused one is counted too
    seen: list[tuple[str, int]] = []

    class Watching(RateLimiter):
        async def go(self, permit):
            await super().go(permit)
            seen.append(("goes", len(teams.connector.sent())))

        def answered(self, permit):
            seen.append(("answered", len(teams.connector.sent())))
            super().answered(permit)

    settings = Settings()
    limiter = Watching(settings.tenant_limits, settings.conversation_limits)
    clock = Clock(MONDAY_NINE + timedelta(minutes=1))
    report = await dispatcher(teams, clock, limiter=limiter, concurrency=1).run_once()
    posts = len(teams.connector.sent())
    assert report.retried == 1
    assert posts >= 2
    # Each request is checked against the windows just before the connector has it, and
    # leaves the count of those in flight only once its answer is back.
    assert seen == [step for k in range(posts) for step in (("goes", k), ("answered", k + 1))]
