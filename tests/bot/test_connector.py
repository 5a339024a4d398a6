"""PerfBot's transport to the Bot Connector: clients are kept, and the app's token goes on
every call when an app id is configured (Teams refuses a bot's call without it)."""

from __future__ import annotations

from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ConnectorFactory

from bot.connector import PerfBotAuthentication, ReusingConnectorFactory
from bot.delivery import classify
from bot.settings import Settings
from tests.connector import Fault, LoopbackConnector


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
