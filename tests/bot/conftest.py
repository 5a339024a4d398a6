"""The bot under test: the real aiohttp app and botbuilder adapter, a real database holding the
sample council, a fixed clock, and a loopback Bot Connector that records what the bot sends."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.settings import Settings
from domain import db
from domain.importing import import_workbook
from domain.workbook import read_sheets
from tests.conftest import POSTGRES_URL, SAMPLE, drop_postgres_database, fresh_postgres_database
from tests.connector import LoopbackConnector

# Monday 23 November 2026, 10:00 in London: monthly October returns (2026/27 M7) were due on
# Friday 20 November; quarterly Q2 returns are in.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
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


async def _load_sample(url: str) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(session, read_sheets(SAMPLE), now=NOW)
    await engine.dispose()


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample council in a SQLite file, made once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "perfbot.db"
    asyncio.run(_load_sample(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def council_engine(
    request: pytest.FixtureRequest, sample_template: Path, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        shutil.copy(sample_template, tmp_path / "perfbot.db")
        engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'perfbot.db'}")
        yield engine
        await engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped")
    url, name = await fresh_postgres_database()
    await _load_sample(url)
    engine = db.create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_postgres_database(name)


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

    async def install(self, user: User) -> None:
        base = {"membersAdded": [{"id": BOT_ID}, {"id": user.teams_id, "aadObjectId": user.aad}]}
        assert await self.post(self.activity(user, "installationUpdate", action="add")) in (
            200,
            201,
        )
        assert await self.post(self.activity(user, "conversationUpdate", **base)) in (200, 201)


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
