"""The guard at the edge of /api/messages: a body that is not a well-formed activity of the
shapes PerfBot handles is refused with a 4xx that names what is wrong, before anything is
stored or sent; an activity PerfBot does not act on is answered and ignored."""

from __future__ import annotations

import copy
import gzip
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from bot.app import SESSIONS, create_app
from bot.edge import MAX_BODY, MAX_DEPTH
from bot.settings import Settings
from domain.model import AuditEntry, ConversationRef
from tests.bot.conftest import AMINA, BOT_ID, NOW, Teams
from tests.bot.test_authentication import APP_ID, Keys, environment, token

APOLOGY = "Sorry, something went wrong"
SECRET_WORDS = "a-word-that-must-never-reach-the-log"  # put in bodies; never in the log


async def stored(teams: Teams) -> tuple[int, int]:
    async with teams.client.app[SESSIONS]() as session:
        references = await session.scalar(select(func.count()).select_from(ConversationRef))
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
    return references or 0, audit or 0


async def post_raw(
    teams: Teams, data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    response = await teams.client.post(
        "/api/messages",
        data=io.BytesIO(data),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return response.status, await response.text()


def message(teams: Teams) -> dict[str, Any]:
    return teams.activity(AMINA, text="my measures")


def install(teams: Teams) -> dict[str, Any]:
    return teams.install_events(AMINA)[1]  # the conversationUpdate adding the bot and Amina


def drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path
        for key in parents:
            body = body[key]
        del body[last]

    return change


def put(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path
        for key in parents:
            body = body.setdefault(key, {})
        body[last] = copy.deepcopy(value)

    return change


# case: (the activity it changes, the change, what the refusal names)
MALFORMED: dict[str, tuple[Callable[[Teams], dict[str, Any]], Any, str]] = {
    "from as a string": (message, put("29:amina", "from"), "`from`"),
    "from as a list": (message, put([{"id": "29:amina"}], "from"), "`from`"),
    "from as null": (message, put(None, "from"), "`from`"),
    "from missing": (message, drop("from"), "`from`"),
    "from without an id": (message, drop("from", "id"), "`from`"),
    "from with a numeric id": (message, put(29, "from", "id"), "`from.id`"),
    "recipient as a string": (message, put(BOT_ID, "recipient"), "`recipient`"),
    "recipient as a list": (message, put([], "recipient"), "`recipient`"),
    "recipient as null": (message, put(None, "recipient"), "`recipient`"),
    "conversation as a string": (message, put("a:personal", "conversation"), "`conversation`"),
    "conversation as a list": (message, put(["a"], "conversation"), "`conversation`"),
    "conversation as null": (message, put(None, "conversation"), "`conversation`"),
    "conversation without an id": (message, drop("conversation", "id"), "`conversation`"),
    "conversation of an unknown type": (
        message,
        put("meeting-of-minds", "conversation", "conversationType"),
        "`conversation.conversationType`",
    ),
    "an id too long to store": (message, put("29:" + "x" * 300, "from", "id"), "`from.id`"),
    "an id with a control character": (message, put("29:am\x00ina", "from", "id"), "`from.id`"),
    "an unparseable timestamp": (message, put("yesterday at noon", "timestamp"), "`timestamp`"),
    "an unparseable localTimestamp": (
        message,
        put("2026-13-45", "localTimestamp"),
        "`localTimestamp`",
    ),
    "a numeric timestamp": (message, put(1764700000, "timestamp"), "`timestamp`"),
    "entities as an object": (message, put({"type": "mention"}, "entities"), "`entities`"),
    "entities of strings": (message, put(["mention"], "entities"), "`entities[0]`"),
    "attachments as a string": (message, put("card.json", "attachments"), "`attachments`"),
    "attachments of numbers": (message, put([1, 2], "attachments"), "`attachments[0]`"),
    "membersAdded as an object": (install, put({"id": BOT_ID}, "membersAdded"), "`membersAdded`"),
    "membersAdded with a null id": (
        install,
        put([{"id": None}], "membersAdded"),
        "`membersAdded[0]`",
    ),
    "membersAdded with a null member": (install, put([None], "membersAdded"), "`membersAdded[0]`"),
    "membersRemoved of strings": (
        install,
        put(["29:amina"], "membersRemoved"),
        "`membersRemoved[0]`",
    ),
    "channelData as a string": (message, put("teams", "channelData"), "`channelData`"),
    "channelData.team as a string": (
        message,
        put("the team", "channelData", "team"),
        "`channelData.team`",
    ),
    "channelData.team as a list": (message, put([], "channelData", "team"), "`channelData.team`"),
    "channelData.tenant as a string": (
        message,
        put("t", "channelData", "tenant"),
        "`channelData.tenant`",
    ),
    "channelData.channel with a numeric id": (
        message,
        put({"id": 19}, "channelData", "channel"),
        "`channelData.channel.id`",
    ),
    "channelData.team on an install": (
        install,
        put("the team", "channelData", "team"),
        "`channelData.team`",
    ),
    "aadObjectId as a list": (
        message,
        put(["aad-amina"], "from", "aadObjectId"),
        "`from.aadObjectId`",
    ),
    "aadObjectId as an object": (
        message,
        put({"id": 1}, "from", "aadObjectId"),
        "`from.aadObjectId`",
    ),
    "text as a number": (message, put(42, "text"), "`text`"),
    "value as a list": (message, put(["submit_return"], "value"), "`value`"),
    "value as a string": (message, put("submit_return", "value"), "`value`"),
    "id as an object": (message, put({"id": 1}, "id"), "`id`"),
    "replyToId as a number": (message, put(7, "replyToId"), "`replyToId`"),
    "type as a number": (message, put(1, "type"), "`type`"),
    "type empty": (message, put("", "type"), "`type`"),
    "invoke name as a number": (
        lambda teams: teams.activity(AMINA, "invoke", name="x", value={}),
        put(5, "name"),
        "`name`",
    ),
    "deliveryMode expectReplies": (message, put("expectReplies", "deliveryMode"), "`deliveryMode`"),
}

SERVICE_URLS: dict[str, Any] = {
    "missing": ...,
    "null": None,
    "empty": "",
    "a number": 443,
    "not a URL": "smba trafficmanager",
    "ftp": "ftp://smba.trafficmanager.net/uk/",
    "javascript": "javascript:alert(1)",
    "file": "file:///etc/passwd",
    "no host": "https:///uk/",
    "a bad port": "https://smba.trafficmanager.net:99999/uk/",
    "credentials in it": "https://user:pass@smba.trafficmanager.net/uk/",
    "white space in it": "https://smba.trafficmanager.net/u k/",
    "a query": "https://smba.trafficmanager.net/uk/?to=elsewhere",
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_activity_gets_400_naming_what_is_wrong_and_nothing_is_done(
    teams: Teams, caplog: pytest.LogCaptureFixture, case: str
):
    make, change, named = MALFORMED[case]
    await teams.install(AMINA)
    teams.connector.clear()
    before = await stored(teams)
    body = make(teams)
    body["summary"] = SECRET_WORDS
    change(body)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="perfbot"):
        response = await teams.client.post("/api/messages", json=body)
        text = await response.text()
    assert response.status == 400, text
    assert named in text
    assert "Traceback" not in text
    assert teams.connector.calls == []  # nothing sent, nobody looked up
    assert await stored(teams) == before
    refusals = [r for r in caplog.records if r.name == "perfbot" and "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].levelno == logging.WARNING
    assert named in refusals[0].getMessage()
    assert SECRET_WORDS not in caplog.text


@pytest.mark.parametrize("case", list(SERVICE_URLS))
async def test_a_missing_or_unusable_service_url_is_refused_never_defaulted(
    teams: Teams, case: str
):
    body = message(teams)
    if SERVICE_URLS[case] is ...:
        del body["serviceUrl"]
    else:
        body["serviceUrl"] = SERVICE_URLS[case]
    before = await stored(teams)
    response = await teams.client.post("/api/messages", json=body)
    assert response.status == 400
    assert "`serviceUrl`" in await response.text()
    assert teams.connector.calls == []
    assert await stored(teams) == before


async def test_without_an_app_id_any_http_service_url_is_fine(teams: Teams):
    # The Playground and the loopback connector live on http://localhost or 127.0.0.1.
    assert teams.connector.url.startswith("http://127.0.0.1:")
    assert await teams.say(AMINA, "my measures") in (200, 201)
    [answer] = teams.sent_to(AMINA)
    assert APOLOGY not in json.dumps(answer.body)


# The crashed turns the issue saw: each one well formed gets a real answer, malformed a 400.
CRASHED: dict[str, tuple[Callable[[Teams], dict[str, Any]], Any]] = {
    "a missing from": (message, drop("from")),
    "channelData.team not an object": (message, put("the team", "channelData", "team")),
    "aadObjectId as a list": (message, put(["aad-amina"], "from", "aadObjectId")),
    "membersAdded with a null id": (install, put([{"id": None}, {"id": BOT_ID}], "membersAdded")),
}


@pytest.mark.parametrize("case", list(CRASHED))
async def test_what_crashed_a_turn_is_refused_at_the_edge_and_the_well_formed_one_answered(
    teams: Teams, case: str
):
    make, change = CRASHED[case]
    body = make(teams)
    change(body)
    assert await teams.post(body) == 400
    assert teams.connector.calls == []  # nobody was told the generic apology, or anything
    good = make(teams)
    assert await teams.post(good) in (200, 201)
    said = json.dumps([call.body for call in teams.sent_to(AMINA)])
    assert said != "[]"
    assert APOLOGY not in said


async def test_json_nested_deeper_than_the_limit_is_refused_even_a_thousand_levels(teams: Teams):
    def nested(levels: int) -> bytes:
        # The activity is one level, its value a second, then the lists inside it.
        body = message(teams) | {"value": {"deep": "here"}}
        lists = "[" * levels + "]" * levels
        return json.dumps(body).replace('"here"', lists).encode()

    for levels in (MAX_DEPTH - 1, 1000, 100_000):
        status, text = await post_raw(teams, nested(levels))
        assert status == 400, (levels, text)
        assert "nested" in text
    assert teams.connector.calls == []
    status, text = await post_raw(teams, nested(MAX_DEPTH - 2))
    assert status in (200, 201), text
    assert teams.sent_to(AMINA)  # answered (a card PerfBot does not recognise)


async def test_json_that_is_not_json_or_not_an_activity_gets_400(teams: Teams):
    for raw in (
        b"{not json",
        b"",
        b'["an", "array"]',
        b'"a string"',
        b'{"type": "message", "value": NaN}',
        b"\xff\xfe{}",
        b'{"type": "message"}',  # no serviceUrl, no conversation
    ):
        status, text = await post_raw(teams, raw)
        assert status == 400, (raw, text)
        assert "Traceback" not in text
    assert teams.connector.calls == []


async def test_a_body_over_the_limit_gets_413_and_the_wrong_content_type_415(teams: Teams):
    body = message(teams)
    body["text"] = "x" * MAX_BODY
    status, text = await post_raw(teams, json.dumps(body).encode())
    assert status == 413, text
    assert MAX_BODY == 1024 * 1024
    response = await teams.client.post(
        "/api/messages", data=b"hi", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    response = await teams.client.post(
        "/api/messages", data=json.dumps(message(teams)).encode(), headers={}
    )
    assert response.status == 415
    assert teams.connector.calls == []


async def test_a_content_encoding_the_body_does_not_have_or_perfbot_cannot_read_is_refused(
    teams: Teams, caplog: pytest.LogCaptureFixture
):
    raw = json.dumps(message(teams)).encode()
    status, text = await post_raw(teams, raw, {"Content-Encoding": "gzip"})
    assert status in (400, 415), text
    status, text = await post_raw(teams, raw, {"Content-Encoding": "compress"})
    assert status == 415, text
    # Brotli without its package aiohttp's parser refuses itself, before PerfBot sees it.
    for unreadable in ("br", "zstd"):
        caplog.clear()
        status, text = await post_raw(teams, raw, {"Content-Encoding": unreadable})
        assert status in (400, 415), text
        assert "Traceback" not in text
        # one warning line in the server's log, as every refusal here: no error, no traceback
        assert [r.levelname for r in caplog.records if r.name == "aiohttp.server"] == ["WARNING"]
        assert not any(r.exc_info for r in caplog.records)
    # A gzip bomb: small on the wire, over the limit once read.
    bomb = gzip.compress(b'{"type": "message", "text": "' + b"x" * (MAX_BODY * 4) + b'"}')
    assert len(bomb) < MAX_BODY // 100
    status, text = await post_raw(teams, bomb, {"Content-Encoding": "gzip"})
    assert status == 413, text
    assert teams.connector.calls == []
    # Gzip that is what it says is read.
    status, text = await post_raw(teams, gzip.compress(raw), {"Content-Encoding": "gzip"})
    assert status in (200, 201), text
    assert teams.sent_to(AMINA)


@pytest.mark.parametrize("name", [None, "", "composeExtension/query", "task/fetch", "no/such"])
async def test_an_invoke_perfbot_does_not_handle_gets_200_and_no_crash(
    teams: Teams, name: str | None
):
    extra: dict[str, Any] = {"value": {"commandId": 5, "parameters": "not a list"}}
    if name is not None:
        extra["name"] = name
    response = await teams.client.post(
        "/api/messages", json=teams.activity(AMINA, "invoke", **extra)
    )
    assert response.status == 200, await response.text()
    assert teams.connector.calls == []  # no apology, nothing else


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("typing", {}),
        ("messageReaction", {"reactionsAdded": [{"type": "like"}], "replyToId": "activity-1"}),
        ("event", {"name": "application/vnd.microsoft.meetingStart", "value": {"Id": "m"}}),
        ("event", {"name": "application/vnd.microsoft.readReceipt", "value": {}}),
        ("messageUpdate", {"text": "edited"}),
        ("endOfConversation", {}),
        ("somethingNew", {}),
    ],
)
async def test_activities_perfbot_does_not_act_on_are_accepted_and_ignored(
    teams: Teams, kind: str, extra: dict[str, Any]
):
    before = await stored(teams)
    assert await teams.post(teams.activity(AMINA, kind, **extra)) in (200, 201)
    assert teams.connector.calls == []
    assert await stored(teams) == before


async def test_a_typing_activity_needs_no_sender(teams: Teams):
    body = teams.activity(AMINA, "typing")
    del body["from"]
    assert await teams.post(body) in (200, 201)


# ---- with an app id ----------------------------------------------------------------------


@pytest.fixture
async def channel_keys() -> AsyncIterator[Keys]:
    keys = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    await keys.start()
    yield keys
    await keys.stop()


async def test_with_an_app_id_only_the_service_url_the_token_vouches_for_is_called(
    aiohttp_client, council_engine, connector, channel_keys: Keys
):
    settings = Settings.from_env(environment(channel_keys.url))
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    before = await stored(teams)
    vouched = "https://smba.trafficmanager.net/uk/"
    bearer = {"Authorization": f"Bearer {token(channel_keys.key, channel_keys.kid, vouched)}"}
    # The activity names the loopback connector (an attacker's, say); the token another URL.
    body = teams.activity(AMINA, text="my measures")
    assert await teams.post(body, bearer) == 401
    # No service URL at all: botbuilder would check no claim; PerfBot refuses it.
    del body["serviceUrl"]
    assert await teams.post(body, bearer) == 401
    # With an app id, a malformed body without a valid token is a 401 too: nothing of it is
    # looked at before the token; with the token, it is a 400.
    malformed = teams.activity(AMINA, text="my measures", serviceUrl=vouched)
    malformed["from"] = "29:amina"
    assert await teams.post(malformed) == 401
    assert await teams.post(malformed, bearer) == 400
    assert connector.calls == []
    assert await stored(teams) == before


async def test_with_an_app_id_a_token_that_vouches_for_no_service_url_is_refused(
    aiohttp_client, council_engine, connector, channel_keys: Keys
):
    """botbuilder checks the ``serviceurl`` claim of a channel's token only; an Entra-issued
    token of the Emulator's kind, properly signed and for this app, carries none and would
    let the activity name any service URL. Teams never sends one: PerfBot refuses it."""
    env = environment(channel_keys.url) | {"ToBotFromEmulatorOpenIdMetadataUrl": channel_keys.url}
    client = await aiohttp_client(
        create_app(Settings.from_env(env), engine=council_engine, clock=lambda: NOW)
    )
    teams = Teams(client, connector)
    before = await stored(teams)
    emulator = token(
        channel_keys.key,
        channel_keys.kid,
        None,  # no serviceurl claim
        iss="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
        ver="1.0",
        appid=APP_ID,
    )
    body = teams.activity(AMINA, text="my measures")
    assert await teams.post(body, {"Authorization": f"Bearer {emulator}"}) == 401
    assert connector.calls == []
    assert await stored(teams) == before
