"""How PerfBot talks to the Bot Connector: botbuilder's own clients, made once and reused.

botbuilder's ``ConfigurationBotFrameworkAuthentication`` builds a new ``ConnectorClient`` and a
new user-token client, each with new credentials and a new ``requests`` session, for every
turn and every proactive message, and msrest then sends each call through ``requests`` on a
worker thread. That cost several milliseconds of CPU a message (and, with an app id, a fresh
token cache a turn). Here the same clients are made once per service URL and audience, and
send through one shared aiohttp session on the event loop. The REST calls, their JSON and
botbuilder's error types are unchanged: only the transport underneath is different.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPPolicy, AsyncPipeline, Request, Response
from msrest.pipeline.async_abc import AsyncHTTPSender
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_abc import AsyncClientResponse

from bot.settings import Settings


class BotConfig:
    """The attribute names botbuilder's configuration classes read."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password.reveal()
        self.APP_TYPE = settings.app_type
        self.APP_TENANTID = settings.app_tenant_id


class _AiohttpSender(AsyncHTTPSender):  # type: ignore[misc]
    """msrest's pipeline transport, on a shared aiohttp session (msrest's own aiohttp sender
    drops the headers and body, so it cannot be used as it is)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def __aenter__(self) -> _AiohttpSender:
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        return None

    def build_context(self) -> None:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http = request.http_request
        try:
            async with self.connection.session().request(
                http.method, http.url, headers=dict(http.headers), data=http.data
            ) as answer:
                body = await answer.read()
                response = _Answer(http, answer.status, answer.reason, answer.headers, body)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ClientRequestError(f"the Bot Connector did not answer: {error!r}") from error
        return Response(request, response)


class _Answer(AsyncClientResponse):  # type: ignore[misc]
    """A Bot Connector answer, read whole. It is its own ``internal_response``, so that an
    error raised by botbuilder carries something with ``status_code``, ``headers``,
    ``text()`` and ``json()`` that can be read without awaiting."""

    def __init__(
        self,
        request: ClientRequest,
        status: int,
        reason: str | None,
        headers: Any,
        body: bytes,
    ) -> None:
        super().__init__(request, self)
        self.status_code = status
        self.reason = reason or ""
        self.headers = headers  # aiohttp's, case-insensitive, still readable once released
        self._body = body

    def body(self) -> bytes:
        return self._body

    def json(self) -> Any:
        return json.loads(self._body or b"null")

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise ClientRequestError(f"{self.status_code} {self.reason}".strip())

    def stream_download(self, chunk_size: Any = None, callback: Any = None) -> Any:
        raise NotImplementedError("the Bot Connector's answers are small and read whole")


class _Bearer(AsyncHTTPPolicy):  # type: ignore[misc]
    """The app's token on every call, as botbuilder's credentials put it on a requests
    session; none without an app id (local, unauthenticated use)."""

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self.credentials = credentials

    async def send(self, request: Request, **kwargs: Any) -> Response:
        app_id = getattr(self.credentials, "microsoft_app_id", None)
        if app_id and app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
            # MSAL answers from its cache; when the token is due it asks Entra over the
            # network, synchronously, so keep that off the event loop.
            token = await asyncio.to_thread(self.credentials.get_access_token)
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        return await self.next.send(request, **kwargs)


class Connection:
    """One aiohttp session for every call to the Bot Connector; closed with the app."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=100),
                json_serialize=json.dumps,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pipeline(self, client: ConnectorClient) -> AsyncPipeline:
        config = client.config
        return AsyncPipeline(
            [
                config.user_agent_policy,
                _Bearer(config.credentials),
                RawDeserializer(),
                config.http_logger_policy,
            ],
            _AiohttpSender(self),
        )


class ReusingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    """Hands out one client per service URL and audience, made by botbuilder's own factory
    the first time and then kept."""

    def __init__(self, inner: ConnectorFactory, owner: PerfBotAuthentication) -> None:
        self.inner = inner
        self.owner = owner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (service_url, audience)
        client = self.owner.clients.get(key)
        if client is None:
            client = await self.inner.create(service_url, audience)
            client.config.pipeline = self.owner.connection.pipeline(client)
            self.owner.clients[key] = client
        return client


class PerfBotAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication from MicrosoftAppId and friends (requests are checked
    exactly as before), with connector and user-token clients kept between turns."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(BotConfig(settings))
        self.connection = Connection()
        self.clients: dict[tuple[str, str | None], ConnectorClient] = {}
        self.user_token_clients: dict[str | None, UserTokenClient] = {}

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = ReusingConnectorFactory(result.connector_factory, self)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusingConnectorFactory(super().create_connector_factory(claims_identity), self)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # PerfBot does not sign users in, but botbuilder asks for one of these every turn.
        key = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
        client = self.user_token_clients.get(key)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self.user_token_clients[key] = client
        return client

    async def close(self) -> None:
        await self.connection.close()
