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
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any, TypeVar

import aiohttp
import botbuilder.schema
from aiohttp.helpers import get_env_proxy_for_url  # what trust_env itself calls, once a host here
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    GovernmentConstants,
    JwtTokenExtractor,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import _OpenIdConfig, _OpenIdMetadata
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError
from msrest.exceptions import ClientRequestError
from msrest.pipeline import Request, Response
from msrest.pipeline.async_abc import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Deserializer, Model, Serializer
from msrest.universal_http import ClientRequest
from msrest.universal_http.async_abc import AsyncClientResponse
from yarl import URL

from bot.settings import Settings

log = logging.getLogger("perfbot")


class BotConfig:
    """The attribute names botbuilder's configuration classes read: the app's credentials, and
    botbuilder's cloud settings when they are set (``Settings.bot_framework``)."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password.reveal()
        self.APP_TYPE = settings.app_type
        self.APP_TENANTID = settings.app_tenant_id
        for name, value in settings.bot_framework.items():
            setattr(self, name, value)

    def metadata_urls(self) -> set[str]:
        """Every OpenID metadata URL botbuilder may read signing keys from for this bot."""
        urls = {
            getattr(self, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None),
            getattr(self, "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", None),
            AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
            GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
            GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        }
        return {url for url in urls if url}


class MetadataUnavailable(Exception):
    """The Bot Framework's signing keys could not be fetched, so no request can be checked."""


class SigningKeys(_OpenIdMetadata):  # type: ignore[misc]  # botbuilder is untyped
    """botbuilder's cache of the signing keys at one OpenID metadata URL, fetched without
    blocking the event loop and within a time limit.

    botbuilder's own ``_OpenIdMetadata`` fetches the metadata and its JWKS with
    ``requests.get`` and no timeout, synchronously inside the async request check: a metadata
    server that is unreachable, or that accepts and never answers, stalls every request (and
    the health check) for as long as the TCP stack waits, possibly for ever. This does the same
    two GETs with aiohttp, both within ``timeout`` seconds, in a session of their own (the
    cache is botbuilder's, for the whole process, so it must not hold an app's ``Connection``,
    which closes with the app; a fetch happens about once a day). A failure with keys already
    in hand keeps them (as Microsoft's .NET library keeps the last good configuration) and
    tries again after ``retry_after`` seconds; with no keys it raises ``MetadataUnavailable``,
    which the messaging endpoint answers with 503, at once until ``retry_after`` has passed.
    The refresh rules are botbuilder's: daily, and at most hourly for a key id not held (a key
    just rotated in); botbuilder's own lookup raised IndexError for such a key id before its
    hourly re-fetch could run, and here it is simply not found, so the token is refused."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        retry_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(url)
        self.timeout = timeout
        self.retry_after = retry_after
        self.clock = clock
        self._fetched_at: float | None = None  # the clock's time of the last good fetch
        self._failed_at: float | None = None
        self._failure = ""
        self._fetching: asyncio.Lock | None = None  # one fetch at a time, however many wait

    def _age(self) -> float:
        fetched_at = self._fetched_at
        return math.inf if fetched_at is None else self.clock() - fetched_at

    async def get(self, key_id: str) -> _OpenIdConfig | None:
        if self._age() >= 24 * 3600:
            await self._refresh()
        key = self._find(key_id)
        if key is None and self._age() >= 3600:
            await self._refresh()
            key = self._find(key_id)
        return key

    async def _refresh(self) -> None:
        """Fetch the keys again, once for all who ask meanwhile: whoever waited for another's
        fetch uses what it brought (or its failure) rather than fetching again."""
        if self._fetching is None:
            self._fetching = asyncio.Lock()
        asked_at = self.clock()
        async with self._fetching:
            fetched_at, failed_at = self._fetched_at, self._failed_at
            if (fetched_at is not None and fetched_at >= asked_at) or (
                failed_at is not None and failed_at >= asked_at
            ):
                if not self.keys:
                    raise MetadataUnavailable(self._failure)
                return
            await self._refresh_now()

    async def _refresh_now(self) -> None:
        failed_at = self._failed_at
        if failed_at is None or self.clock() - failed_at >= self.retry_after:
            try:
                self.keys = await self._fetch()
            except MetadataUnavailable as error:
                self._failed_at, self._failure = self.clock(), str(error)
                if self.keys:
                    log.warning("%s; checking with the keys fetched before", error)
            else:
                self._fetched_at, self._failed_at = self.clock(), None
                return
        if not self.keys:
            raise MetadataUnavailable(self._failure)

    async def _fetch(self) -> list[dict[str, Any]]:
        try:
            # trust_env: through HTTPS_PROXY (minding NO_PROXY) where a council's network needs
            # it, as botbuilder's requests.get went
            async with (
                asyncio.timeout(self.timeout),
                aiohttp.ClientSession(trust_env=True) as session,
            ):
                keys_url = await self._keys_url(session)
                async with session.get(keys_url) as answer:
                    answer.raise_for_status()
                    keys = (await answer.json(content_type=None))["keys"]
        except TimeoutError:
            raise MetadataUnavailable(
                f"the signing keys at {self.url} did not come within {self.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, ValueError, KeyError, TypeError) as error:
            raise MetadataUnavailable(
                f"the signing keys at {self.url} could not be fetched: {type(error).__name__}: {error}"
            ) from None
        if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
            raise MetadataUnavailable(f"the signing keys at {self.url} are not a JWKS key list")
        if not keys:  # kept the keys in hand rather than refuse every token for an hour
            raise MetadataUnavailable(f"the signing keys at {self.url} are an empty list")
        return keys

    async def _keys_url(self, session: aiohttp.ClientSession) -> str:
        """Where the key list is: the metadata's ``jwks_uri``."""
        async with session.get(self.url) as answer:
            answer.raise_for_status()
            keys_url: str = (await answer.json(content_type=None))["jwks_uri"]
        return keys_url

    def _find(self, key_id: str) -> _OpenIdConfig | None:
        """The RSA signing key of that id; a key of another type, for another use, or not
        readable is no key (the token is refused), never an error."""
        for key in self.keys:
            if not key_id or key.get("kid") != key_id:
                continue
            if key.get("kty") != "RSA" or key.get("use", "sig") != "sig":
                continue
            try:
                public_key = RSAAlgorithm.from_jwk(json.dumps(key))
            except (InvalidKeyError, ValueError, TypeError, KeyError):
                continue
            return _OpenIdConfig(public_key, key.get("endorsements", []))
        return None


class KeyList(SigningKeys):
    """The same cache for a URL that is itself the key list (a JWKS), as Entra publishes a
    tenant's at ``https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys``: one GET,
    within the same time limit, kept and refreshed by the same rules."""

    async def _keys_url(self, session: aiohttp.ClientSession) -> str:
        return str(self.url)

    async def public_key(self, key_id: str) -> Any:
        """The RSA public key a key id names in the tenant's list (None: not published);
        MetadataUnavailable when there is no list to look in."""
        found = await self.get(key_id)
        return None if found is None else found.public_key


# msrest's pipeline types are generic in the request and response types; these are its own.
_Request = Request[ClientRequest]
_Response = Response[ClientRequest, AsyncClientResponse]

# Set by whoever rate-limits a send (the dispatcher, around each message it sends): every
# message request (a POST or PUT to a conversation's activities) made in that context is
# entered into it just before the request is written and left once its answer is read, so
# that Teams' windows are counted when the message really goes (bot/delivery/limiter.py).
request_gate: ContextVar[Callable[[], AbstractAsyncContextManager[None]] | None] = ContextVar(
    "request_gate", default=None
)


class _AiohttpSender(AsyncHTTPSender[ClientRequest, AsyncClientResponse]):
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

    async def send(self, request: _Request, **config: Any) -> _Response:
        http = request.http_request
        gate = request_gate.get()
        message = http.method in ("POST", "PUT") and "/activities" in http.url
        around = gate() if gate is not None and message else contextlib.nullcontext()
        proxy, proxy_auth = self.connection.proxy_for(http.url)
        try:
            async with (
                around,
                self.connection.session().request(
                    http.method,
                    http.url,
                    headers=dict(http.headers),
                    data=http.data,
                    proxy=proxy,
                    proxy_auth=proxy_auth,
                ) as answer,
            ):
                body = await answer.read()
                response = _Answer(http, answer.status, answer.reason, answer.headers, body)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ClientRequestError(f"the Bot Connector did not answer: {error!r}") from error
        return Response(request, response)


class _Answer(AsyncClientResponse):
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
        if self.status_code is not None and self.status_code >= 400:
            raise ClientRequestError(f"{self.status_code} {self.reason}".strip())

    def stream_download(self, chunk_size: Any = None, callback: Any = None) -> Any:
        raise NotImplementedError("the Bot Connector's answers are small and read whole")


class _Bearer(AsyncHTTPPolicy[ClientRequest, AsyncClientResponse]):
    """The app's token on every call, as botbuilder's credentials put it on a requests
    session; none without an app id (local, unauthenticated use)."""

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self.credentials = credentials

    async def send(self, request: _Request, **kwargs: Any) -> _Response:
        app_id = getattr(self.credentials, "microsoft_app_id", None)
        if app_id and app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
            # MSAL answers from its cache; when the token is due it asks Entra over the
            # network, synchronously, so keep that off the event loop.
            token = await asyncio.to_thread(self.credentials.get_access_token)
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        assert self.next is not None  # the pipeline links every policy to the next
        return await self.next.send(request, **kwargs)


class Connection:
    """One aiohttp session for every call to the Bot Connector; closed with the app.

    Calls go through the council's proxy where its network sets one (``HTTPS_PROXY``,
    ``HTTP_PROXY``, minding ``NO_PROXY``), as botbuilder's requests did. The proxy is chosen
    once a host, from the environment as the process started, not by aiohttp's trust_env,
    which reads the environment and ~/.netrc again on a worker thread at every request (two
    thread hops a message: about a third of the dispatcher's CPU a send, issue 19)."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=100),
                json_serialize=json.dumps,
            )
        return self._session

    def proxy_for(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The proxy (and its credentials) a call to ``url`` goes through; None: direct."""
        target = URL(url)
        key = (target.scheme, target.host or "")
        found = self._proxies.get(key)
        if found is None:
            try:
                found = get_env_proxy_for_url(target)
            except LookupError:  # no proxy for this scheme, or NO_PROXY names the host
                found = (None, None)
            self._proxies[key] = found
        return found

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def pipeline(
        self, client: ConnectorClient
    ) -> AsyncPipeline[ClientRequest, AsyncClientResponse]:
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


class _Unusual(Exception):
    """A value the short way does not take; msrest's own way handles it instead."""


def _plain_model(model: Any) -> bool:
    """A model msrest reads and writes as its attributes under their REST keys, nothing more:
    no validation rules, subtypes, XML or flattened keys (true of every botbuilder schema
    model today; one that is not goes msrest's whole way)."""
    return (
        isinstance(model, type)
        and issubclass(model, Model)
        and not model._validation
        and not getattr(model, "_subtype_map", None)
        and not model.is_xml_model()
        and "additional_properties" not in model._attribute_map
        and all("." not in desc["key"] for desc in model._attribute_map.values())
    )


class _Models:
    """The plain models of a client, and each one's attributes by REST key."""

    def __init__(self, dependencies: dict[str, Any]) -> None:
        self.dependencies = dependencies
        self.by_name = {name: m for name, m in dependencies.items() if _plain_model(m)}
        self.known = set(self.by_name.values())
        self._keys: dict[type, dict[str, tuple[str, str]]] = {}

    def named(self, kind: str) -> tuple[type[Model], bool] | None:
        """The plain model a type names, and whether it is a list of them; None for a basic
        type (``str``, ``object``, a date). _Unusual for an enum type, a model that is not
        plain, or a dict of models: msrest's own way for those."""
        inner = kind.strip("[]{}")
        model = self.by_name.get(inner)
        if model is None and inner not in self.dependencies:
            return None
        if model is None or kind.startswith("{"):
            raise _Unusual
        return model, kind.startswith("[")

    def keys(self, model: type[Model]) -> dict[str, tuple[str, str]]:
        """REST key -> (attribute, type)."""
        keys = self._keys.get(model)
        if keys is None:
            keys = {d["key"]: (attr, d["type"]) for attr, d in model._attribute_map.items()}
            self._keys[model] = keys
        return keys


class PlainSerializer(Serializer):
    """msrest's serializer, with a short way for the request bodies botbuilder sends.

    For a body msrest first reads the whole activity back into models (turning the card
    attachments PerfBot gives as dicts into ``Attachment``), and then writes it out value by
    value, the card's JSON included: most of the CPU of a proactive message. For plain
    models (``_plain_model``) the same JSON is written in one pass: each model's non-empty
    attributes under their REST keys, a dict given for a model only when its keys are all
    that model's REST keys, JSON (a card) as it is, and any other value (a date, say) by
    msrest's own ``serialize_data``, which is what msrest does with it too. Anything else
    goes msrest's whole way, so the result is always what msrest writes; a test compares the
    two on every card PerfBot sends.
    """

    def __init__(self, classes: dict[str, Any]) -> None:
        super().__init__(classes)
        self._plain = _Models(self.dependencies)

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        model = self._plain.by_name.get(data_type)
        if not kwargs and model is not None:
            try:
                return self._model(data, model)
            except _Unusual:
                pass
        return super().body(data, data_type, **kwargs)

    def _model(self, value: Any, model: type[Model]) -> dict[str, Any]:
        written: dict[str, Any] = {}
        if isinstance(value, Model):
            if type(value) not in self._plain.known:
                raise _Unusual
            for key, (attr, kind) in self._plain.keys(type(value)).items():
                item = getattr(value, attr)
                if item is not None:
                    written[key] = self._value(item, kind)
        elif type(value) is dict:
            keys = self._plain.keys(model)
            for key, item in value.items():
                if key not in keys:
                    raise _Unusual  # msrest would match it loosely or drop it
                if item is not None:
                    written[key] = self._value(item, keys[key][1])
        else:
            raise _Unusual
        return written

    def _value(self, value: Any, kind: str) -> Any:
        if kind == "str" and type(value) is str:
            return value
        if kind == "object" and _plain_json(value):
            return value
        named = self._plain.named(kind)
        if named is not None:
            model, many = named
            if not many:
                return self._model(value, model)
            if type(value) is not list or any(item is None for item in value):
                raise _Unusual
            return [self._model(item, model) for item in value]
        try:  # a basic value: msrest's body does not read these back, only writes them
            return self.serialize_data(value, kind)
        except Exception as error:
            raise _Unusual from error


class PlainDeserializer(Deserializer):
    """msrest's deserializer, with a short way for JSON that fits plain models: each REST key
    to its attribute (a model's recursively), every other value through msrest's own
    ``deserialize_data``, and keys the model does not know kept as ``additional_properties``,
    as msrest keeps them. Anything else goes msrest's whole way."""

    def __init__(self, classes: dict[str, Any]) -> None:
        super().__init__(classes)
        self._plain = _Models(self.dependencies)

    def __call__(self, target_obj: str, response_data: Any, content_type: str | None = None) -> Any:
        model = self._plain.by_name.get(target_obj)
        if model is not None:
            data = self._unpack_content(response_data, content_type)
            try:
                return self._model(data, model)
            except _Unusual:
                return self._deserialize(target_obj, data)
        return super().__call__(target_obj, response_data, content_type)

    def _model(self, data: Any, model: type[Model]) -> Model | None:
        if data is None:
            return None
        if type(data) is not dict:
            raise _Unusual
        keys = self._plain.keys(model)
        values: dict[str, Any] = {attr: None for attr, _ in keys.values()}
        extra = {}
        for key, raw in data.items():
            found = keys.get(key)
            if found is None:
                extra[key] = raw
                continue
            attr, kind = found
            if raw is None:
                continue
            if kind == "str" and type(raw) is str:
                values[attr] = raw
                continue
            named = self._plain.named(kind)
            if named is not None:
                inner, many = named
                if not many:
                    values[attr] = self._model(raw, inner)
                elif type(raw) is list:
                    values[attr] = [self._model(item, inner) for item in raw]
                else:
                    raise _Unusual
                continue
            try:
                values[attr] = self.deserialize_data(raw, kind)
            except Exception as error:
                raise _Unusual from error
        made = model(**values)
        if extra:
            made.additional_properties = extra
        return made


_SCHEMA = {name: kind for name, kind in vars(botbuilder.schema).items() if isinstance(kind, type)}
_READ = PlainDeserializer(_SCHEMA)
_WRITE = PlainSerializer(_SCHEMA)

ModelT = TypeVar("ModelT", bound=Model)


def read_model(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """``model().deserialize(data)``, the same object, read in one pass where it can be."""
    made: ModelT = _READ(model.__name__, data)
    return made


def write_model(value: Model) -> dict[str, Any]:
    """``value.serialize()``, the same JSON, written in one pass where it can be."""
    written: dict[str, Any] = _WRITE.body(value, type(value).__name__)
    return written


def _plain_json(value: Any) -> bool:
    """True when the value is already JSON (as a parsed card is), which msrest copies as it is."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if kind is list:
        return all(_plain_json(v) for v in value)
    return kind in _JSON_SCALARS


_JSON_SCALARS = (str, int, float, bool, type(None))


class ReusingConnectorFactory(ConnectorFactory):  # type: ignore[misc]  # botbuilder is untyped
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
            # msrest's generated clients hand their (de)serializer to each operations group
            write = PlainSerializer(client._serialize.dependencies)
            read = PlainDeserializer(client._deserialize.dependencies)
            for operations in (client.conversations, client.attachments):
                operations._serialize, operations._deserialize = write, read
            self.owner.clients[key] = client
        return client


class PerfBotAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]  # botbuilder is untyped
    """botbuilder's authentication from MicrosoftAppId and friends and botbuilder's own cloud
    settings (requests are checked exactly as botbuilder checks them, with the signing keys
    fetched by ``SigningKeys``), with connector and user-token clients kept between turns."""

    def __init__(self, settings: Settings) -> None:
        config = BotConfig(settings)
        super().__init__(config)
        # botbuilder keeps one key cache per metadata URL for the process, and each request's
        # check looks its own up there: PerfBot's, fresh, stand in for botbuilder's blocking one.
        for url in config.metadata_urls():
            JwtTokenExtractor.metadataCache[url] = SigningKeys(url)
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
