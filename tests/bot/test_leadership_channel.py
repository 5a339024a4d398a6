"""The Leadership Team's channel, set by typing in it through /api/messages as Teams would
post it; the weekly summary posted there by the dispatcher (to the channel itself, not the
thread it was set from), recorded as published only once it has gone; `summary` typed by
the Leadership Team."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.app import ADAPTER, SESSIONS
from bot.delivery.dispatcher import Dispatcher
from bot.loopback import Fault, card_text
from bot.settings import Settings
from domain.model import AuditEntry, ConversationRef, LeadershipChannel, Notification, Publication
from domain.outbox import Timetable
from domain.policy import Policy
from domain.uow import UnitOfWork
from scheduler.jobs import JOBS, JobContext
from tests.bot.conftest import AMINA, BOT_ID, HELEN, TENANT, Teams, User

RACHEL = User("29:rachel", "Rachel Singh", "rachel.singh@kingsmere.gov.uk", "aad-rachel")
CHANNEL = "19:leadership@thread.tacv2"
TEAM = "19:cmt@thread.tacv2"
MONDAY_NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # GMT: 09:00 in London too


def in_channel(teams: Teams, user: User, text: str, message_id: str = "1234") -> dict[str, Any]:
    """A message typed in a team channel, mentioning PerfBot, as Teams posts it: from the
    thread it starts (";messageid="), with the channel and team in channelData."""
    thread = f"{CHANNEL};messageid={message_id}"
    body = teams.activity(
        user,
        text=f"<at>PerfBot</at> {text}",
        textFormat="plain",
        conversation_id=thread,
        entities=[
            {
                "type": "mention",
                "mentioned": {"id": BOT_ID, "name": "PerfBot"},
                "text": "<at>PerfBot</at>",
            }
        ],
        channelData={
            "tenant": {"id": TENANT},
            "teamsChannelId": CHANNEL,
            "teamsTeamId": TEAM,
            "channel": {"id": CHANNEL, "name": "Leadership"},
            "team": {"id": TEAM, "name": "Corporate Management Team"},
        },
    )
    body["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "id": thread,
        "tenantId": TENANT,
    }
    return body


def replies_in(teams: Teams, conversation_id: str) -> list[str]:
    out = []
    for call in teams.connector.sent():
        if call.conversation_id != conversation_id:
            continue
        out.append(call.body.get("text") or "")
        out += [card_text(card) for card in teams.connector.cards([call])]
    return out


async def stored(teams: Teams, model: Any) -> list[Any]:
    async with teams.client.app[SESSIONS]() as session:
        return list((await session.scalars(select(model))).all())


async def test_an_admin_sets_the_channel_by_typing_in_it_and_perfbot_confirms_there(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    assert await teams.post(in_channel(teams, RACHEL, "set leadership channel")) in (200, 201)
    [reply] = replies_in(teams, f"{CHANNEL};messageid=1234")
    # Set at 10:00 on Monday, after the 09:00 run: this week's goes with Tuesday's run.
    assert reply.startswith(
        "The weekly summary will be posted here every Monday at 09:00 (Europe/London); the "
        "next one on Tuesday 24 November 2026 at 09:00: this week's, for the week of Monday "
        "23 November 2026, with the next daily run."
    )
    [row] = await stored(teams, LeadershipChannel)
    assert (row.conversation_id, row.team_id, row.team_name, row.channel_name, row.set_by) == (
        CHANNEL, TEAM, "Corporate Management Team", "Leadership", RACHEL.email,
    )  # fmt: skip
    [ref] = [r for r in await stored(teams, ConversationRef) if r.conversation_id == CHANNEL]
    assert ref.scope == "channel"
    assert ref.reference["conversation"]["id"] == CHANNEL  # the channel, not the thread
    audits = [a for a in await stored(teams, AuditEntry) if a.action == "set leadership channel"]
    assert [a.actor for a in audits] == [RACHEL.email]


async def test_someone_not_in_the_performance_team_is_told_who_can_and_nothing_is_stored(teams):
    assert await teams.post(in_channel(teams, HELEN, "set leadership channel")) in (200, 201)
    [reply] = replies_in(teams, f"{CHANNEL};messageid=1234")
    assert reply.startswith("Only the performance team can choose where the weekly summary goes")
    assert "Rachel Singh" in reply
    assert "Nothing was changed." in reply
    assert await stored(teams, LeadershipChannel) == []
    # PerfBot now knows the channel, so an admin can choose it by name from the command line.
    [ref] = [r for r in await stored(teams, ConversationRef) if r.scope == "channel"]
    assert (ref.conversation_id, ref.reference["names"]) == (
        CHANNEL,
        {"team": "Corporate Management Team", "channel": "Leadership"},
    )


async def test_typed_in_a_personal_chat_it_says_to_type_it_in_the_channel(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.say(RACHEL, "set leadership channel")
    [reply] = replies_in(teams, f"a:personal-{RACHEL.teams_id}")
    assert reply.startswith("Type set leadership channel in the team channel")
    assert await stored(teams, LeadershipChannel) == []


def dispatcher(teams: Teams, now: datetime) -> Dispatcher:
    app = teams.client.app
    return Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], lambda: now)


async def run_job(teams: Teams, now: datetime) -> list[str]:
    context = JobContext(UnitOfWork(teams.client.app[SESSIONS]), Timetable(), Policy())
    return (await JOBS["weekly-summary"].run(context, now)).queued


async def test_the_summary_goes_to_the_channel_itself_and_is_published_once_sent(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.post(in_channel(teams, RACHEL, "set leadership channel"))
    teams.connector.clear()
    teams.now = MONDAY_NINE
    assert await run_job(teams, MONDAY_NINE) == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    assert await stored(teams, Publication) == []  # queued is not published
    teams.connector.faults = [Fault(503)]
    send = dispatcher(teams, MONDAY_NINE + timedelta(minutes=1))
    assert (await send.run_once()).retried == 1
    assert await stored(teams, Publication) == []  # nor is a send that failed
    later = dispatcher(teams, MONDAY_NINE + timedelta(minutes=10))
    assert (await later.run_once()).sent == 1
    [posted] = [c for c in teams.connector.delivered() if c.conversation_id == CHANNEL]
    assert "summary" in (posted.body.get("text") or "").lower()
    [card] = teams.connector.cards([posted])
    assert "data:image/png;base64," in json.dumps(card)  # the chart, inside the card
    assert len(json.dumps(posted.body)) < 80_000
    assert '"names"' not in json.dumps(posted.body)  # the stored names stay in PerfBot
    [published] = await stored(teams, Publication)
    [row] = [n for n in await stored(teams, Notification) if n.kind == "weekly-summary"]
    assert (published.kind, published.reason_key) == ("summary", row.reason_key)
    assert published.published_at == row.sent_at
    assert published.periods["periods"]  # the periods the summary showed
    # Nothing goes twice, and the job that day or later that week adds nothing.
    assert (await later.run_once()).sent == 0
    assert await run_job(teams, MONDAY_NINE + timedelta(days=2)) == []
    assert len(await stored(teams, Publication)) == 1


async def test_a_channel_that_refuses_the_summary_for_good_is_cleared_and_people_get_it(teams):
    """PerfBot removed from the team without Teams telling it (or the channel deleted):
    Teams answers 404 to the post. The week's summary is not lost: it goes to each of the
    Leadership Team in person, and the performance team is told why and how to fix it."""
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.install(HELEN)
    await teams.install(RACHEL)
    await teams.post(in_channel(teams, RACHEL, "set leadership channel"))
    teams.connector.clear()
    teams.now = MONDAY_NINE
    assert await run_job(teams, MONDAY_NINE) == [f"weekly-summary:{CHANNEL}:2026-11-30"]
    teams.connector.faults = [
        Fault(404, {}, {"error": {"code": "ConversationNotFound", "message": "not found"}})
    ]
    first = await dispatcher(teams, MONDAY_NINE + timedelta(minutes=1)).run_once()
    assert first.failed == 1
    assert await stored(teams, LeadershipChannel) == []
    [cleared] = [
        e for e in await stored(teams, AuditEntry) if e.action == "cleared leadership channel"
    ]
    assert cleared.actor == "system"
    keys = sorted(
        n.reason_key for n in await stored(teams, Notification) if n.state.value == "pending"
    )
    assert keys == [
        "no-channel:person:4:2026-11-30",
        "no-channel:person:5:2026-11-30",
        "weekly-summary:person:1:2026-11-30",
        "weekly-summary:person:2:2026-11-30",
        "weekly-summary:person:3:2026-11-30",
    ]
    await dispatcher(teams, MONDAY_NINE + timedelta(minutes=2)).run_once()
    helen = replies_in(teams, f"a:personal-{HELEN.teams_id}")
    assert any("summary" in text.lower() for text in helen)
    [notice] = [t for t in replies_in(teams, f"a:personal-{RACHEL.teams_id}") if t]
    assert "The leadership channel refused the weekly summary" in notice
    assert "Teams refused the post in the channel Leadership of Corporate Management Team" in notice
    assert "404 ConversationNotFound" in notice
    assert "type set leadership channel in that channel" in notice
    # Nothing goes twice: the job later that week queues nothing more.
    assert await run_job(teams, MONDAY_NINE + timedelta(days=1)) == []


async def test_with_no_channel_the_leadership_team_get_it_in_person_and_admins_are_told(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.install(HELEN)
    await teams.install(RACHEL)
    teams.connector.clear()
    teams.now = MONDAY_NINE
    queued = await run_job(teams, MONDAY_NINE)
    assert len([k for k in queued if k.startswith("weekly-summary:person:")]) == 3
    assert len([k for k in queued if k.startswith("no-channel:")]) == 2
    await dispatcher(teams, MONDAY_NINE + timedelta(minutes=1)).run_once()
    helen = replies_in(teams, f"a:personal-{HELEN.teams_id}")
    assert any("summary" in text.lower() for text in helen)
    [notice] = [t for t in replies_in(teams, f"a:personal-{RACHEL.teams_id}") if t]
    assert "No leadership channel is set" in notice
    assert "David Okafor, Helen Ashworth, Sarah Lindqvist" in notice
    assert "type set leadership channel in that channel" in notice


async def test_summary_typed_by_the_leadership_team_shows_the_card_and_others_are_told(teams):
    await teams.say(HELEN, "summary")
    [card] = teams.connector.cards()
    assert card["type"] == "AdaptiveCard"
    teams.connector.clear()
    await teams.say(AMINA, "summary")
    [reply] = replies_in(teams, f"a:personal-{AMINA.teams_id}")
    assert reply.startswith("The weekly summary is for the Leadership Team.")


async def test_removing_perfbot_from_the_team_clears_its_leadership_channel(teams):
    teams.connector.add_member(RACHEL.teams_id, RACHEL.name, RACHEL.email, RACHEL.aad)
    await teams.post(in_channel(teams, RACHEL, "set leadership channel"))
    removed = teams.activity(
        RACHEL,
        "conversationUpdate",
        conversation_id=TEAM,
        membersRemoved=[{"id": BOT_ID}],
        channelData={
            "tenant": {"id": TENANT},
            "team": {"id": TEAM, "name": "Corporate Management Team"},
            "eventType": "teamMemberRemoved",
        },
    )
    removed["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "id": TEAM,
        "tenantId": TENANT,
    }
    async with teams.client.app[SESSIONS]() as session, session.begin():
        session.add(  # the team's own (General) channel, stored when PerfBot was installed
            ConversationRef(
                conversation_id=TEAM,
                scope="channel",
                team_id=TEAM,
                service_url=teams.connector.url,
                reference={"conversation": {"id": TEAM}},
                updated_at=teams.now,
            )
        )
    assert await teams.post(removed) in (200, 201)
    assert await stored(teams, LeadershipChannel) == []
    assert all(r.team_id != TEAM for r in await stored(teams, ConversationRef))
    audits = [
        a for a in await stored(teams, AuditEntry) if a.action == "cleared leadership channel"
    ]
    assert [a.actor for a in audits] == ["system"]


async def test_a_restart_while_the_summaries_were_going_loses_none_and_sends_none_twice(teams):
    from domain import outbox

    await teams.install(HELEN)
    teams.now = MONDAY_NINE
    queued = await run_job(teams, MONDAY_NINE)
    assert len(queued) == 5  # three of the Leadership Team, two admins told
    # A server took them all to send and died at once (its claims hold for their lease).
    async with teams.client.app[SESSIONS]() as session, session.begin():
        taken = await outbox.claim(session, MONDAY_NINE, "dead", 50, timedelta(seconds=120))
    assert len(taken) == 5
    teams.connector.clear()
    assert (await dispatcher(teams, MONDAY_NINE + timedelta(minutes=1)).run_once()).sent == 0
    # Started again: once the lease has run out, each goes, once.
    after = dispatcher(teams, MONDAY_NINE + timedelta(minutes=3))
    report = await after.run_once()
    assert report.sent + report.failed == 5  # some of them have no PerfBot: reported, not lost
    assert (await after.run_once()).sent == 0
    helen = [c for c in teams.connector.delivered() if c.conversation_id.endswith("29:helen")]
    assert len([c for c in helen if teams.connector.cards([c])]) == 1
    published = await stored(teams, Publication)
    sent = [
        n for n in await stored(teams, Notification)
        if n.kind == "weekly-summary" and n.state.value == "sent"
    ]  # fmt: skip
    assert sorted(p.reason_key for p in published) == sorted(n.reason_key for n in sent)
