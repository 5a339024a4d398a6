"""Authentication with an app id, for real: botbuilder checks each request's Bot Framework token
against signing keys fetched from OpenID metadata, and PerfBot gets its own token from Entra to
reply. Here both are loopback servers speaking the real protocols, configured through
botbuilder's own settings as a deployment would set them:

- an OpenID metadata and JWKS server publishing a key of the test's own, with which the
  test signs the tokens Teams would send;
- Entra's token service, reached as msal reaches it (https://login.microsoftonline.com/<tenant>,
  OpenID discovery, then the client-credentials grant) through an HTTPS proxy on loopback that
  tunnels to a TLS server holding a certificate for login.microsoftonline.com from the test's
  own certificate authority, trusted only in this process through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from botframework.connector.auth import AuthenticationConstants, JwtTokenExtractor
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import func, select

from bot.app import SESSIONS, create_app
from bot.connector import MetadataUnavailable, PerfBotAuthentication, SigningKeys
from bot.loopback import LoopbackConnector
from bot.settings import BOT_FRAMEWORK, Settings, SettingsError
from domain.model import AuditEntry, ConversationRef
from tests.bot.conftest import AMINA, NOW, Teams

APP_ID = "00000000-0000-0000-0000-0000000000aa"
SECRET = "not-a-real-secret"
TENANT_ID = "11111111-0000-0000-0000-000000000000"
ISSUER = "https://api.botframework.com"
ENTRA = "login.microsoftonline.com"


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def channel_key() -> rsa.RSAPrivateKey:
    return private_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return private_key()


async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner


def port_of(runner: web.AppRunner) -> int:
    [address] = runner.addresses
    port: int = address[1]
    return port


@dataclass
class Keys:
    """The channel's OpenID metadata and JWKS, as login.botframework.com publishes them."""

    key: rsa.RSAPrivateKey
    kid: str = "channel-key-1"
    fetched: list[str] = field(default_factory=list)
    failing: bool = False  # answer 503, as a server in trouble would
    extra: list[dict[str, Any]] = field(default_factory=list)  # published beside the key
    only_extra: bool = False  # publish only ``extra`` (an empty list, a key of another kind)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def metadata(request: web.Request) -> web.Response:
            self.fetched.append(request.path)
            if self.failing:
                raise web.HTTPServiceUnavailable()
            base = f"http://{request.host}"
            return web.json_response(
                {
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{base}/v1/auth",
                    "jwks_uri": f"{base}/v1/.well-known/keys",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                }
            )

        async def keys(request: web.Request) -> web.Response:
            self.fetched.append(request.path)
            jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            jwk |= {"kid": self.kid, "use": "sig", "endorsements": ["msteams", "skype"]}
            published = self.extra if self.only_extra else [jwk, *self.extra]
            return web.json_response({"keys": published})

        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", metadata)
        app.router.add_get("/v1/.well-known/keys", keys)
        self.runner = await serve(app)
        self.url = f"http://127.0.0.1:{port_of(self.runner)}/v1/.well-known/openidconfiguration"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def keys(channel_key: rsa.RSAPrivateKey) -> AsyncIterator[Keys]:
    keys = Keys(channel_key)
    await keys.start()
    yield keys
    await keys.stop()


def authority(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate authority of the test's own (its certificate written to a PEM file, for
    REQUESTS_CA_BUNDLE) and a server context holding a certificate it issued for Entra's host."""
    now = dt.datetime.now(dt.UTC)
    ca_key = private_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PerfBot test authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = private_key()
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ENTRA)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(ENTRA)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    bundle = directory / "test-authority.pem"
    bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "entra.pem"
    chain.write_bytes(
        server.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return bundle, context


@dataclass
class Entra:
    """Entra's OpenID discovery and token endpoint for one tenant, over TLS, and the HTTPS
    proxy (CONNECT) through which msal's requests reach it."""

    grants: list[dict[str, str]] = field(default_factory=list)
    tunnels: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    proxy: asyncio.Server | None = None
    proxy_url: str = ""
    open: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self, context: ssl.SSLContext) -> None:
        async def discovery(request: web.Request) -> web.Response:
            tenant = request.match_info["tenant"]
            base = f"https://{ENTRA}/{tenant}"
            return web.json_response(
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "jwks_uri": f"https://{ENTRA}/{tenant}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                }
            )

        async def token(request: web.Request) -> web.Response:
            form = dict(await request.post())
            self.grants.append({"tenant": request.match_info["tenant"], **form})  # type: ignore[dict-item]
            issued = f"entra-token-{uuid.uuid4().hex}"
            self.issued.append(issued)
            return web.json_response(
                {"token_type": "Bearer", "expires_in": 3599, "access_token": issued}
            )

        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", discovery)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
        self.runner = await serve(app, context)
        tls_port = port_of(self.runner)

        async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.open.append(writer)
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ")[1].decode()
            self.tunnels.append(target)
            if target != f"{ENTRA}:443":  # nothing else may leave through here
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                writer.close()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", tls_port)
            self.open.append(up_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(ConnectionError):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                dst.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        self.proxy = await asyncio.start_server(tunnel, "127.0.0.1", 0)
        self.proxy_url = f"http://127.0.0.1:{self.proxy.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            for writer in self.open:  # msal keeps its connection alive; this side ends it
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()
            await self.proxy.wait_closed()
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Entra]:
    bundle, context = authority(tmp_path)
    entra = Entra()
    await entra.start(context)
    # msal sends through requests, which reads these; aiohttp (PerfBot's own calls) does not.
    monkeypatch.setenv("HTTPS_PROXY", entra.proxy_url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield entra
    await entra.stop()


def environment(metadata_url: str) -> dict[str, str]:
    """What a deployment sets: the app's credentials, and botbuilder's own cloud settings (the
    public cloud's values, but the metadata URL: here the test's key server)."""
    return {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": SECRET,
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT_ID,
        "PERFBOT_PUBLIC_URL": "https://perfbot.kingsmere.gov.uk",
        "ToBotFromChannelOpenIdMetadataUrl": metadata_url,
        "ToBotFromChannelTokenIssuer": ISSUER,
        "ToChannelFromBotLoginUrl": f"https://{ENTRA}/{TENANT_ID}",
        "ToChannelFromBotOAuthScope": "https://api.botframework.com",
        "OAuthUrl": "https://api.botframework.com",
    }


def token(key: rsa.RSAPrivateKey, kid: str, service_url: str, **claims: Any) -> str:
    """A Bot Framework channel token as Teams sends it, with any claim replaced (None: left out)."""
    now = int(time.time())  # PyJWT checks expiry against the real clock, so this one does too
    body = {
        "serviceurl": service_url,
        "nbf": now - 60,
        "exp": now + 3600,
        "iss": ISSUER,
        "aud": APP_ID,
    } | claims
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def in_tenant(activity: dict[str, Any], tenant: str = TENANT_ID) -> dict[str, Any]:
    """An activity from the council's Teams (the test's Teams helper uses a tenant of its
    own): conversation.tenantId and channelData.tenant, as Teams sends them."""
    activity["conversation"]["tenantId"] = tenant
    activity.setdefault("channelData", {})["tenant"] = {"id": tenant}
    return activity


async def counts(client: Any) -> tuple[int, int]:
    async with client.app[SESSIONS]() as session:
        references = await session.scalar(select(func.count()).select_from(ConversationRef))
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
    return references, audit


async def test_a_token_signed_with_the_channels_key_is_accepted_and_the_reply_carries_entras_token(
    aiohttp_client, council_engine, connector: LoopbackConnector, keys: Keys, entra: Entra
):
    settings = Settings.from_env(environment(keys.url))
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    before = await counts(client)
    bearer = {"Authorization": f"Bearer {token(keys.key, keys.kid, connector.url)}"}

    for event in teams.install_events(AMINA):
        assert await teams.post(in_tenant(event), bearer) in (200, 201)
    question = in_tenant(teams.activity(AMINA, text="my measures"))
    assert await teams.post(question, bearer) in (200, 201)

    references, audit = await counts(client)
    assert references == before[0] + 1  # Amina can now be messaged first
    assert audit > before[1]  # the installation was recorded
    welcome, answer = teams.sent_to(AMINA)
    assert welcome.activity_id == "incoming-1"  # the welcome, for the installation
    assert answer.activity_id == question["id"]
    assert "RB-01" in str(answer.body)  # her measures, listed
    # Every call to the Bot Connector carried the token Entra issued to PerfBot's app id,
    # fetched once and then kept by msal.
    assert len(entra.issued) == 1
    assert {c.authorization for c in connector.calls} == {f"Bearer {entra.issued[0]}"}
    assert entra.grants == [
        {
            "tenant": TENANT_ID,
            "grant_type": "client_credentials",
            "client_id": APP_ID,
            "client_secret": SECRET,
            "scope": "https://api.botframework.com/.default",
            "client_info": "1",
        }
    ]
    assert set(entra.tunnels) == {f"{ENTRA}:443"}
    # The keys were fetched once, for all three requests.
    assert keys.fetched == ["/v1/.well-known/openidconfiguration", "/v1/.well-known/keys"]


async def test_a_good_token_bringing_another_organisations_teams_is_refused_and_recorded(
    aiohttp_client, council_engine, connector: LoopbackConnector, keys: Keys, entra: Entra
):
    """A single-tenant bot serves the council's tenant only: a correctly signed activity from
    another tenant's Teams (Amina's id, another organisation) stores and sends nothing and
    leaves one audit entry naming the tenant."""
    settings = Settings.from_env(environment(keys.url))
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    before = await counts(client)
    bearer = {"Authorization": f"Bearer {token(keys.key, keys.kid, connector.url)}"}
    other = "99999999-0000-0000-0000-000000000042"
    for event in teams.install_events(AMINA):
        assert await teams.post(in_tenant(event, other), bearer) in (200, 201)
    assert await teams.post(
        in_tenant(teams.activity(AMINA, text="my measures"), other), bearer
    ) in (
        200,
        201,
    )
    references, audit = await counts(client)
    assert references == before[0]  # nothing stored
    assert connector.calls == []  # nothing sent
    async with client.app[SESSIONS]() as session:
        refused = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "refused other tenant")
            )
        ).all()
    assert {e.key for e in refused} == {other}
    assert audit == before[1] + len(refused)


def an_hour_ago() -> dict[str, Any]:
    now = int(time.time())  # past the five minutes' leeway botbuilder allows
    return {"exp": now - 3600, "nbf": now - 7200}


REFUSED: dict[str, tuple[bool, str | None, Any]] = {
    # case: (signed by another key, its key id (None: the channel's), the claims changed)
    "signed by another key, same key id": (True, None, dict),
    "signed by another key, its own key id": (True, "attacker-key", dict),
    "for another audience": (False, None, lambda: {"aud": "99999999-0000-0000-0000-000000000099"}),
    "from another issuer": (False, None, lambda: {"iss": "https://sts.windows.net/evil/"}),
    # an issuer botbuilder takes as the Emulator's (Entra's Bot Framework tenant), whose keys
    # this bot was given no URL for
    "as the Emulator's": (
        False,
        None,
        lambda: {
            "iss": "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
            "ver": "1.0",
            "appid": APP_ID,
        },
    ),
    "expired": (False, None, an_hour_ago),
    "for another service URL": (
        False,
        None,
        lambda: {"serviceurl": "https://smba.trafficmanager.net/uk/"},
    ),
    "without a service URL": (False, None, lambda: {"serviceurl": None}),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_token_that_does_not_verify_gets_401_and_changes_nothing(
    aiohttp_client,
    council_engine,
    connector: LoopbackConnector,
    keys: Keys,
    other_key: rsa.RSAPrivateKey,
    case: str,
):
    other, kid, claims = REFUSED[case]
    settings = Settings.from_env(environment(keys.url))
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    before = await counts(client)
    encoded = token(other_key if other else keys.key, kid or keys.kid, connector.url, **claims())
    bearer = {"Authorization": f"Bearer {encoded}"}

    for event in teams.install_events(AMINA):
        assert await teams.post(event, bearer) == 401
    assert await teams.post(teams.activity(AMINA, text="my measures"), bearer) == 401

    assert await counts(client) == before  # no conversation reference, no audit entry
    assert connector.calls == []  # nothing sent


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A server that takes connections (the kernel completes them) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/.well-known/openidconfiguration"


BOUND = 10.0  # seconds: what a request may take when the keys cannot be fetched


async def refused_in_time(
    aiohttp_client: Any,
    council_engine: Any,
    connector: LoopbackConnector,
    metadata_url: str,
    key: rsa.RSAPrivateKey,
) -> list[float]:
    settings = Settings.from_env(environment(metadata_url))
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    teams = Teams(client, connector)
    before = await counts(client)
    bearer = {"Authorization": f"Bearer {token(key, 'channel-key-1', connector.url)}"}
    message = teams.activity(AMINA, text="my measures")

    started = time.monotonic()
    pending = asyncio.create_task(client.post("/api/messages", json=message, headers=bearer))
    await asyncio.sleep(0.2)  # the check is under way (and, when silent, waiting)
    health_started = time.monotonic()
    health = await client.get("/healthz")
    health_took = time.monotonic() - health_started
    assert health.status == 200, await health.text()
    response = await asyncio.wait_for(pending, BOUND + 5)
    took = time.monotonic() - started
    # 503: the request may be fine, but PerfBot cannot tell just now (Teams tries again later)
    assert response.status == 503, await response.text()
    assert "try again" in await response.text()
    assert took < BOUND

    again = time.monotonic()
    assert await teams.post(message, bearer) == 503
    again_took = time.monotonic() - again

    assert await counts(client) == before
    assert connector.calls == []
    return [health_took, took, again_took]


async def test_with_the_key_server_unreachable_a_request_is_refused_at_once(
    aiohttp_client, council_engine, connector, channel_key
):
    url = f"http://127.0.0.1:{closed_port()}/v1/.well-known/openidconfiguration"
    health_took, took, again_took = await refused_in_time(
        aiohttp_client, council_engine, connector, url, channel_key
    )
    assert took < 2
    assert again_took < 1
    assert health_took < 1


async def test_with_the_key_server_silent_a_request_is_refused_in_bounded_time_and_the_loop_runs(
    aiohttp_client, council_engine, connector, channel_key
):
    with silent_server() as url:
        health_took, took, again_took = await refused_in_time(
            aiohttp_client, council_engine, connector, url, channel_key
        )
    # The health check answered while the key fetch waited: the event loop was not blocked.
    assert health_took < 1 < took
    assert again_took < 1  # a failure is not retried on every request


METADATA, JWKS = "/v1/.well-known/openidconfiguration", "/v1/.well-known/keys"


async def test_keys_in_hand_are_kept_when_a_refresh_fails_and_a_failure_is_not_retried_at_once(
    keys: Keys, caplog: pytest.LogCaptureFixture
):
    now = [1000.0]
    cache = SigningKeys(keys.url, timeout=2, retry_after=30, clock=lambda: now[0])
    assert (await cache.get(keys.kid)) is not None
    assert keys.fetched == [METADATA, JWKS]

    keys.failing = True
    now[0] += 25 * 3600  # a day on: time to refresh, and the server answers 503
    assert (await cache.get(keys.kid)) is not None  # still checked, with yesterday's keys
    assert "checking with the keys fetched before" in caplog.text
    now[0] += 10
    assert (await cache.get(keys.kid)) is not None
    assert keys.fetched == [METADATA, JWKS, METADATA]  # not asked again within 30 s
    now[0] += 30
    await cache.get(keys.kid)
    assert keys.fetched == [METADATA, JWKS, METADATA, METADATA]

    keys.failing = False
    now[0] += 30
    await cache.get(keys.kid)
    assert keys.fetched[-2:] == [METADATA, JWKS]  # fresh keys again
    assert (await cache.get("a-key-never-published")) is None  # refused, not an IndexError

    keys.failing = True
    fresh = SigningKeys(keys.url, timeout=2, retry_after=30, clock=lambda: now[0])
    with pytest.raises(MetadataUnavailable, match=r"could not be fetched: .*503"):
        await fresh.get(keys.kid)
    asked = len(keys.fetched)
    with pytest.raises(MetadataUnavailable, match=r"could not be fetched: .*503"):
        await fresh.get(keys.kid)  # at once, from the last failure
    assert len(keys.fetched) == asked


async def test_many_waiting_at_once_fetch_the_keys_once(keys: Keys):
    cache = SigningKeys(keys.url, timeout=2, retry_after=30)
    found = await asyncio.gather(*(cache.get(keys.kid) for _ in range(20)))
    assert all(key is not None for key in found)
    assert keys.fetched == [METADATA, JWKS]  # one fetch for all twenty


async def test_an_empty_key_list_keeps_the_keys_in_hand_and_an_odd_key_is_no_key(keys: Keys):
    now = [1000.0]
    cache = SigningKeys(keys.url, timeout=2, retry_after=30, clock=lambda: now[0])
    assert (await cache.get(keys.kid)) is not None
    keys.only_extra, keys.extra = True, []  # the server answers {"keys": []}
    now[0] += 25 * 3600
    assert (await cache.get(keys.kid)) is not None  # yesterday's keys, not none at all
    # A key of another kind, or for encryption, under the token's key id is no key: the
    # token is refused (401), never a server error.
    keys.extra = [
        {"kid": "odd-ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kid": "odd-enc", "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kid": "odd-broken", "kty": "RSA", "n": "!!", "e": "??"},
    ]
    keys.only_extra = False
    odd = SigningKeys(keys.url, timeout=2, retry_after=30)
    for kid in ("odd-ec", "odd-enc", "odd-broken"):
        assert (await odd.get(kid)) is None, kid


async def test_in_microsofts_public_cloud_too_the_keys_are_fetched_without_blocking():
    """A council's deployment sets no cloud settings: botbuilder then checks Teams' tokens
    against login.botframework.com's keys (and Entra-issued ones against its tenant's), which
    a test cannot reach; those are fetched by PerfBot's SigningKeys as the loopback ones are."""
    authentication = PerfBotAuthentication(
        Settings.from_env({k: v for k, v in environment("").items() if k not in BOT_FRAMEWORK})
    )
    try:
        for url in (
            AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        ):
            cache = JwtTokenExtractor.get_open_id_metadata(url)
            assert isinstance(cache, SigningKeys)
            assert cache.timeout <= BOUND / 2  # both GETs within it
    finally:
        await authentication.close()


def test_botbuilders_cloud_settings_are_all_or_nothing_and_shaped_right():
    base = {k: v for k, v in environment("https://keys.example/").items()}
    assert Settings.from_env(base).bot_framework["TO_BOT_FROM_CHANNEL_TOKEN_ISSUER"] == ISSUER
    assert Settings.from_env({}).bot_framework == {}
    half = {k: v for k, v in base.items() if k != "ToChannelFromBotLoginUrl"}
    with pytest.raises(SettingsError, match=r"^ToChannelFromBotLoginUrl is not set: "):
        Settings.from_env(half)
    with pytest.raises(SettingsError, match=r"^ToChannelFromBotLoginUrl 'http://127\.0\.0\.1/t'"):
        Settings.from_env(base | {"ToChannelFromBotLoginUrl": "http://127.0.0.1/t"})
    with pytest.raises(SettingsError, match=r"^ToBotFromChannelOpenIdMetadataUrl 'http://keys"):
        Settings.from_env(base | {"ToBotFromChannelOpenIdMetadataUrl": "http://keys.example/"})
    with pytest.raises(SettingsError, match=r"^ChannelService 'https://elsewhere' is not a cloud"):
        Settings.from_env({"ChannelService": "https://elsewhere"})
    alone = {"ToBotFromChannelTokenIssuer": ISSUER}
    with pytest.raises(SettingsError, match="MicrosoftAppId is not"):
        Settings.from_env(alone)
