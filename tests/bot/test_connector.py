"""PerfBot's transport to the Bot Connector: clients are kept, and the app's token goes on
every call when an app id is configured (Teams refuses a bot's call without it)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Mention,
    ResourceResponse,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ConnectorFactory
from msrest.serialization import Serializer

from bot.connector import (
    PerfBotAuthentication,
    PlainDeserializer,
    PlainSerializer,
    ReusingConnectorFactory,
    read_model,
    write_model,
)
from bot.delivery import classify
from bot.loopback import Fault, LoopbackConnector
from bot.settings import Settings
from cards import render as cards
from tests.cards.test_cards import HOSTILE, every_card


class AppCredentials:
    """What botbuilder's MicrosoftAppCredentials offers msrest, with the token that Entra
    would issue (Entra cannot be reached from tests)."""

    def __init__(self, app_id: str | None) -> None:
        self.microsoft_app_id = app_id
        self.tokens = 0

    def get_access_token(self) -> str:
        self.tokens += 1
        return "token-from-entra"


class BotbuildersFactory(ConnectorFactory):
    """Stands where botbuilder's own factory does: a new client for every call."""

    def __init__(self, credentials: AppCredentials) -> None:
        self.credentials = credentials
        self.made = 0

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        self.made += 1
        return ConnectorClient(self.credentials, base_url=service_url)


async def send(authentication: PerfBotAuthentication, inner: ConnectorFactory, url: str) -> None:
    """One send, through the factory PerfBot hands the adapter around botbuilder's own."""
    client = await ReusingConnectorFactory(inner, authentication).create(url)
    await client.conversations.send_to_conversation(
        "a:chat-1", Activity(type="message", text="Reminder: RB-01 is due")
    )


async def test_the_apps_token_goes_on_every_call_and_one_client_serves_them_all():
    connector = LoopbackConnector()
    await connector.start()
    authentication = PerfBotAuthentication(Settings())
    inner = BotbuildersFactory(AppCredentials("app-1"))
    try:
        for _ in range(3):
            await send(authentication, inner, connector.url)
    finally:
        await authentication.close()
        await connector.stop()
    assert [c.authorization for c in connector.sent()] == ["Bearer token-from-entra"] * 3
    assert [c.body["text"] for c in connector.sent()] == ["Reminder: RB-01 is due"] * 3
    assert inner.made == 1


async def test_without_an_app_id_no_token_is_sent():
    connector = LoopbackConnector()
    await connector.start()
    authentication = PerfBotAuthentication(Settings())
    try:
        await send(authentication, BotbuildersFactory(AppCredentials(None)), connector.url)
    finally:
        await authentication.close()
        await connector.stop()
    [call] = connector.sent()
    assert call.authorization is None


async def test_calls_go_through_the_councils_proxy_and_a_host_in_no_proxy_goes_direct(
    monkeypatch: pytest.MonkeyPatch,
):
    """A council's network may allow out only through its proxy: the Bot Connector's calls go
    through HTTP(S)_PROXY as botbuilder's requests did, and a host NO_PROXY names is called
    directly. Here the loopback connector stands as the proxy (a plain HTTP proxy is sent the
    whole address), so a call for a host that does not exist arrives there."""
    connector = LoopbackConnector()
    await connector.start()
    monkeypatch.setenv("HTTP_PROXY", connector.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    authentication = PerfBotAuthentication(Settings())
    inner = BotbuildersFactory(AppCredentials(None))
    try:
        for _ in range(2):  # the proxy is chosen once a host, and kept
            await send(authentication, inner, "http://smba.council-proxy.invalid/")
        await send(authentication, inner, connector.url)  # NO_PROXY: direct, to the same server
    finally:
        await authentication.close()
        await connector.stop()
    assert [c.body["text"] for c in connector.sent()] == ["Reminder: RB-01 is due"] * 3
    hosts = [c.host for c in connector.sent()]
    assert hosts[:2] == ["smba.council-proxy.invalid"] * 2
    assert hosts[2].startswith("127.0.0.1:")


async def test_a_throttled_send_says_when_to_try_again():
    connector = LoopbackConnector()
    await connector.start()
    connector.faults.append(
        Fault(429, {"Retry-After": "7"}, {"error": {"code": "Throttled", "message": "slow down"}})
    )
    authentication = PerfBotAuthentication(Settings())
    try:
        await send(authentication, BotbuildersFactory(AppCredentials(None)), connector.url)
    except Exception as error:  # botbuilder's ErrorResponseException
        failure = classify(error)
    else:
        raise AssertionError("a 429 was taken as sent")
    finally:
        await authentication.close()
        await connector.stop()
    assert (failure.status, failure.code, failure.retry_after) == (429, "Throttled", 7.0)
    assert not failure.permanent


# ---- the request bodies: written in one pass, always exactly as msrest writes them ----------


def msrest_and_plain() -> tuple[Serializer, PlainSerializer]:
    client = ConnectorClient(AppCredentials(None), base_url="http://127.0.0.1:9/")
    models = client._serialize.dependencies
    return Serializer(models), PlainSerializer(models)


def plain_reader() -> PlainDeserializer:
    client = ConnectorClient(AppCredentials(None), base_url="http://127.0.0.1:9/")
    return PlainDeserializer(client._deserialize.dependencies)


def as_sent(activity: Activity) -> Activity:
    """The activity as botbuilder hands it to the connector on a proactive send."""
    reference = ConversationReference(
        activity_id="1:original",
        user=ChannelAccount(id="29:owner", name="Owner", aad_object_id="aad-1"),
        bot=ChannelAccount(id="28:perfbot", name="PerfBot"),
        conversation=ConversationAccount(
            id="a:chat-1", conversation_type="personal", tenant_id="tenant-1"
        ),
        channel_id="msteams",
        service_url="http://127.0.0.1:9/",
        locale="en-GB",
    )
    return TurnContext.apply_conversation_reference(activity, reference)


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:20])
def test_every_card_the_bot_sends_is_written_exactly_as_msrest_writes_it(text):
    msrest, plain = msrest_and_plain()
    for name, card in every_card(text).items():
        for activity in (
            MessageFactory.attachment(cards.attachment(card)),  # a new card
            Activity(type=ActivityTypes.message, id="1:card", attachments=[cards.attachment(card)]),
            MessageFactory.text(text),
        ):
            sent = as_sent(activity)
            expected = msrest.body(copy.deepcopy(sent), "Activity")
            # The short way is taken (no fallback to msrest), and it writes the same JSON.
            assert plain._model(sent, Activity) == expected, name
            assert json.dumps(plain.body(sent, "Activity")) == json.dumps(expected), name


def test_what_the_short_way_does_not_take_still_goes_through_msrest():
    msrest, plain = msrest_and_plain()
    odd = [
        # a date, a mention entity, channel data with a Decimal, an attachment with loose keys
        Activity(
            type="message",
            text="<at>Owner</at> HS-04 is overdue",
            timestamp=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
            entities=[Mention(mentioned=ChannelAccount(id="29:owner"), text="<at>Owner</at>")],
        ),
        Activity(
            type="message", channel_data={"notification": {"alert": True}, "n": Decimal("1.5")}
        ),
        Activity(
            type="message", attachments=[{"ContentType": "text/plain", "content": "x", "extra": 1}]
        ),
        ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id="28:perfbot"),
            members=[ChannelAccount(id="29:owner")],
            tenant_id="tenant-1",
            channel_data={"tenant": {"id": "tenant-1"}},
        ),
    ]
    for item in odd:
        kind = type(item).__name__
        ours = plain.body(copy.deepcopy(item), kind)
        theirs = msrest.body(copy.deepcopy(item), kind)
        assert json.dumps(ours, default=repr) == json.dumps(theirs, default=repr)


TEAMS_SHAPES = [
    {  # a personal message, as Teams sends it (client info entity, timestamps, tenant)
        "type": "message",
        "id": "1700000000000",
        "timestamp": "2026-11-23T09:01:02.345Z",
        "localTimestamp": "2026-11-23T09:01:02.345+00:00",
        "localTimezone": "Europe/London",
        "serviceUrl": "https://smba.trafficmanager.net/uk/",
        "channelId": "msteams",
        "from": {"id": "29:owner", "name": "Owner", "aadObjectId": "aad-1"},
        "conversation": {"conversationType": "personal", "tenantId": "t-1", "id": "a:chat-1"},
        "recipient": {"id": "28:perfbot", "name": "PerfBot"},
        "textFormat": "plain",
        "locale": "en-GB",
        "text": "my measures",
        "entities": [
            {"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Android"}
        ],
        "channelData": {"tenant": {"id": "t-1"}},
    },
    {  # a card submit
        "type": "message",
        "id": "1700000000001",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/uk/",
        "from": {"id": "29:owner", "aadObjectId": "aad-1"},
        "conversation": {"conversationType": "personal", "id": "a:chat-1", "tenantId": "t-1"},
        "recipient": {"id": "28:perfbot"},
        "replyToId": "1:card",
        "value": {"verb": "submit_return", "code": "HS-04", "actual": "85%", "n": [1, 2.5, None]},
        "channelData": {"source": {"name": "message"}, "legacy": {"replyToId": "x"}},
    },
    {  # installed in a team
        "type": "conversationUpdate",
        "membersAdded": [{"id": "28:perfbot"}, {"id": "29:owner", "aadObjectId": "aad-1"}],
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/uk/",
        "from": {"id": "29:owner"},
        "conversation": {"isGroup": True, "conversationType": "channel", "id": "19:general"},
        "recipient": {"id": "28:perfbot"},
        "channelData": {
            "team": {"id": "19:team", "name": "Adults"},
            "eventType": "teamMemberAdded",
        },
    },
    {"type": "installationUpdate", "action": "remove", "channelId": "msteams", "Odd": 1},
]


@pytest.mark.parametrize("shape", TEAMS_SHAPES, ids=lambda s: s["type"])
def test_incoming_activities_are_read_exactly_as_msrest_reads_them(shape):
    ours = read_model(Activity, copy.deepcopy(shape))
    assert ours == Activity().deserialize(copy.deepcopy(shape))
    assert ours.from_property is None or isinstance(ours.from_property, ChannelAccount)
    assert plain_reader()._model(copy.deepcopy(shape), Activity) == ours  # the short way


def test_stored_references_and_answers_are_read_as_msrest_reads_them():
    activity = read_model(Activity, copy.deepcopy(TEAMS_SHAPES[0]))
    reference = TurnContext.get_conversation_reference(activity)
    stored = reference.serialize()
    assert write_model(reference) == stored
    assert msrest_and_plain()[1]._model(reference, ConversationReference) == stored  # short way
    assert read_model(ConversationReference, stored) == ConversationReference().deserialize(stored)
    answer = {"id": "1:sent"}
    assert read_model(ResourceResponse, answer) == ResourceResponse().deserialize(answer)
