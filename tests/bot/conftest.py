"""The bot under test: the real aiohttp app and botbuilder adapter, a real database holding the
sample council, a fixed clock, and a loopback Bot Connector that records what the bot sends."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.loopback import Call, LoopbackConnector
from bot.settings import Settings
from tests.conftest import NOW

TENANT = "tenant-1"
BOT_ID = "28:perfbot"


@dataclass(frozen=True)
class User:
    teams_id: str
    name: str
    email: str
    aad: str


AMINA = User("29:amina", "Amina Hussain", "amina.hussain@kingsmere.gov.uk", "aad-amina")
MARK = User("29:mark", "Mark Taylor", "mark.taylor@kingsmere.gov.uk", "aad-mark")
LUCY = User("29:lucy", "Lucy Price", "lucy.price@kingsmere.gov.uk", "aad-lucy")
GARETH = User("29:gareth", "Gareth Jones", "gareth.jones@kingsmere.gov.uk", "aad-gareth")
JANET = User("29:janet", "Janet O'Brien", "janet.obrien@kingsmere.gov.uk", "aad-janet")
HELEN = User("29:helen", "Helen Ashworth", "helen.ashworth@kingsmere.gov.uk", "aad-helen")
STRANGER = User("29:stranger", "Sam Stranger", "sam.stranger@kingsmere.gov.uk", "aad-sam")


@pytest.fixture
async def connector() -> AsyncIterator[LoopbackConnector]:
    connector = LoopbackConnector()
    for user in (AMINA, MARK, LUCY, GARETH, HELEN, JANET, STRANGER):
        connector.add_member(user.teams_id, user.name, user.email, user.aad)
    await connector.start()
    yield connector
    await connector.stop()


class Teams:
    """Posts Teams-shaped activities to the bot's /api/messages, as Teams would."""

    def __init__(self, client: TestClient, connector: LoopbackConnector) -> None:
        self.client = client
        self.connector = connector
        self.now = NOW  # the bot's clock reads this; a test may move it
        self._ids = itertools.count(1)

    def activity(self, user: User, kind: str = "message", **extra: Any) -> dict[str, Any]:
        conversation_id = extra.pop("conversation_id", f"a:personal-{user.teams_id}")
        body: dict[str, Any] = {
            "type": kind,
            "id": f"incoming-{next(self._ids)}",
            "timestamp": self.now.isoformat(),
            "serviceUrl": self.connector.url,
            "channelId": "msteams",
            "from": {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad},
            "conversation": {
                "conversationType": "personal",
                "id": conversation_id,
                "tenantId": TENANT,
            },
            "recipient": {"id": BOT_ID, "name": "PerfBot"},
            "channelData": {"tenant": {"id": TENANT}},
            "locale": "en-GB",
        }
        body.update(extra)
        return body

    async def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        response = await self.client.post("/api/messages", json=body, headers=headers or {})
        await response.read()
        return response.status

    async def say(self, user: User, text: str) -> int:
        return await self.post(self.activity(user, text=text, textFormat="plain"))

    async def submit(self, user: User, card_id: str, value: dict[str, Any]) -> int:
        # What Teams sends for an Action.Submit: a message with the inputs (as strings) and
        # the card's data in `value`, and the card's activity id in `replyToId`.
        return await self.post(self.activity(user, replyToId=card_id, value=value))

    async def sealed(self, value: dict[str, Any]) -> dict[str, Any]:
        """A button's data as a card PerfBot sent would carry it: sealed with the council's
        card key by the app's own sealing (for a card sent earlier in a story, whose
        button a test writes out rather than finds)."""
        from bot.app import BOT
        from cards.seal import buttons, seal

        card = {"type": "AdaptiveCard", "actions": [{"type": "Action.Submit", "data": value}]}
        keyring = await self.client.app[BOT].services.keys.ready()
        [data] = buttons(seal(card, keyring))
        return data

    def install_events(self, user: User, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two activities Teams sends when someone installs PerfBot, in either order:
        installationUpdate (add) and conversationUpdate (the bot and the person added)."""
        members = [{"id": BOT_ID}, {"id": user.teams_id, "aadObjectId": user.aad}]
        return (
            self.activity(user, "installationUpdate", action="add", **extra),
            self.activity(user, "conversationUpdate", membersAdded=members, **extra),
        )

    async def install(self, user: User) -> None:
        for event in self.install_events(user):
            assert await self.post(event) in (200, 201)

    async def dispatch(self) -> None:
        """One pass of the real dispatcher, on the bot's clock: what is due goes out."""
        from bot.app import ADAPTER, SESSIONS
        from bot.delivery.dispatcher import Dispatcher

        app = self.client.app
        await Dispatcher(Settings(), app[SESSIONS], app[ADAPTER], lambda: self.now).run_once()

    def sent_to(self, user: User) -> list[Call]:
        """What went to someone's personal chat."""
        chat = f"a:personal-{user.teams_id}"
        return [c for c in self.connector.sent() if c.conversation_id == chat]


@pytest.fixture
async def teams(
    aiohttp_client: Any, council_engine: AsyncEngine, connector: LoopbackConnector
) -> Teams:
    holder: list[Teams] = []
    app = create_app(Settings(), engine=council_engine, clock=lambda: holder[0].now)
    client = await aiohttp_client(app)
    holder.append(Teams(client, connector))
    return holder[0]


def unique() -> str:
    return uuid.uuid4().hex[:8]
