"""A weekly summary line's button (issue 14): the measure's history and commentary go to
the personal chat of whoever pressed it: in reply when pressed there, queued to their chat
(and nothing posted) when pressed in the Leadership Team's channel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import SESSIONS
from bot.loopback import card_text
from domain.model import Notification
from tests.bot.conftest import HELEN, Teams

CHANNEL = "19:performance@thread.tacv2"


async def pressed(teams: Teams, code: str, **where) -> dict:
    """A line of the weekly summary pressed (the summary card's own sealed button)."""
    value = await teams.sealed({"verb": "open_measure", "code": code})
    return teams.activity(HELEN, replyToId="summary-card", value=value, **where)


async def test_pressed_in_a_personal_chat_the_detail_comes_in_reply(teams):
    await teams.install(HELEN)
    teams.connector.clear()
    assert await teams.post(await pressed(teams, "RB-06")) in (200, 201)
    [card] = teams.connector.cards()
    text = card_text(card)
    assert "RB-06 · Council Tax Support claims decided within 14 days" in text
    assert "Owner\nAmina Hussain" in text
    assert "Last 8 periods" in text
    assert "2026/27 Q2\n90.3% (target " in text


async def test_pressed_in_the_channel_it_goes_to_the_pressers_chat_not_the_channel(teams):
    await teams.install(HELEN)
    teams.connector.clear()
    channel = {
        "conversation": {"conversationType": "channel", "id": f"{CHANNEL};messageid=1", "tenantId": "tenant-1"},
        "channelData": {"tenant": {"id": "tenant-1"}, "team": {"id": "19:leadership@thread.tacv2"}, "channel": {"id": CHANNEL}},
    }  # fmt: skip
    assert await teams.post(await pressed(teams, "RB-06", **channel)) in (200, 201)
    assert teams.connector.sent() == []  # nothing in the channel
    async with teams.client.app[SESSIONS]() as session:
        [row] = list(await session.scalars(select(Notification)))
    assert (row.kind, row.payload) == ("measure-detail", {"code": "RB-06"})
    teams.now += timedelta(seconds=5)
    await teams.dispatch()
    [call] = teams.connector.sent()
    assert call.conversation_id == f"a:personal-{HELEN.teams_id}"
    assert "RB-06 · Council Tax Support" in card_text(teams.connector.cards([call])[0])

    teams.connector.clear()
    assert await teams.post(await pressed(teams, "NOPE-1", **channel)) in (200, 201)
    assert teams.connector.texts() == [
        "There is no measure 'NOPE-1' now, so there is no detail to send."
    ]
