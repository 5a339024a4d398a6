"""The board as a personal tab in Teams (issue 16), on the real app and a real port with an
app id. Teams' single sign-on hands the tab's page an Entra token; the page POSTs it to
/reports/tab/session, which checks it against the tenant's published signing keys and answers
a link of the person's own to the board. Here Entra's key list is a loopback server
publishing a key of the test's own (PERFBOT_ENTRA_KEYS_URL, as a deployment could set it),
and the test signs the tokens Teams would get from Entra."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

import bot
from bot.app import SESSIONS, create_app
from bot.settings import Settings, SettingsError
from bot.tab import TEAMS_JS
from domain.model import AuditEntry, Person
from tests.bot.conftest import AMINA, HELEN, NOW

APP_ID = "00000000-0000-0000-0000-0000000000aa"
TENANT = "11111111-0000-0000-0000-000000000000"
HOST = "perfbot.kingsmere.gov.uk"
RESOURCE = f"api://{HOST}/{APP_ID}"
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
KID = "entra-key-1"
# What npm publishes for @microsoft/teams-js 2.58.0 (`npm view @microsoft/teams-js@2.58.0
# dist.integrity`), the tarball the vendored library was taken from.
LIBRARY_SHA256 = "1737ae2e319c8ab56d71d2218fd5a49d96a8ad70eb01ff2e9ab7e35093b93379"


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def entra_key() -> rsa.RSAPrivateKey:
    return private_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return private_key()


@dataclass
class EntraKeys:
    """The tenant's key list, as login.microsoftonline.com/<tenant>/discovery/v2.0/keys
    publishes it."""

    key: rsa.RSAPrivateKey
    fetched: list[str] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def keys(request: web.Request) -> web.Response:
            self.fetched.append(request.path)
            jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return web.json_response({"keys": [jwk | {"kid": KID, "use": "sig", "kty": "RSA"}]})

        app = web.Application()
        app.router.add_get("/{tenant}/discovery/v2.0/keys", keys)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        [address] = self.runner.addresses
        self.url = f"http://127.0.0.1:{address[1]}/{TENANT}/discovery/v2.0/keys"


@pytest.fixture
async def entra(entra_key: rsa.RSAPrivateKey) -> AsyncIterator[EntraKeys]:
    keys = EntraKeys(entra_key)
    await keys.start()
    yield keys
    assert keys.runner is not None
    await keys.runner.cleanup()


def environment(keys_url: str) -> dict[str, str]:
    return {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "not-a-real-secret",
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT,
        "PERFBOT_PUBLIC_URL": f"https://{HOST}",
        "PERFBOT_ENTRA_KEYS_URL": keys_url,
    }


def sso_token(
    key: rsa.RSAPrivateKey,
    oid: str,
    email: str | None,
    kid: str = KID,
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    """An Entra v2.0 access token as Teams' getAuthToken() hands the tab, for PerfBot's
    resource, at the app's clock (NOW); any claim replaced (None: left out)."""
    now = int(NOW.timestamp())
    body = {
        "aud": RESOURCE,
        "iss": ISSUER,
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "oid": oid,
        "tid": TENANT,
        "scp": "access_as_user",
        "preferred_username": email,
        "name": "Someone",
        "ver": "2.0",
    } | claims
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


@dataclass
class Tab:
    client: Any

    async def session(self, token: str | None) -> tuple[int, dict[str, Any], Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        response = await self.client.post("/reports/tab/session", headers=headers)
        return response.status, await response.json(), response.headers

    async def get(self, url: str) -> tuple[int, str, Any]:
        parts = urlsplit(url)
        response = await self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        return response.status, await response.text(), response.headers

    async def person(self, email: str) -> Person:
        async with self.client.app[SESSIONS]() as session:
            found = await session.scalar(select(Person).where(Person.email == email))
        assert found is not None
        return found


@pytest.fixture
async def tab(aiohttp_client: Any, council_engine: Any, entra: EntraKeys) -> Tab:
    settings = Settings.from_env(environment(entra.url))
    return Tab(await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW)))


async def test_a_good_sign_in_gets_a_link_that_opens_the_persons_own_board(tab, entra, entra_key):
    amina = await tab.person(AMINA.email)
    assert amina.aad_object_id is None  # she has not used PerfBot in Teams yet

    status, body, headers = await tab.session(sso_token(entra_key, "oid-amina", AMINA.email))
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    url = body["url"]
    assert url.startswith(
        f"https://{HOST}/reports/board/2026-27-Q2?link="
    )  # the last quarter ended
    status, page, page_headers = await tab.get(url)
    assert status == 200, page
    assert "Performance board: 2026/27 Q2" in page
    # The tab opens it in its own frame, inside Teams: Teams' pages may frame it.
    assert "frame-ancestors https://teams.microsoft.com " in page_headers["Content-Security-Policy"]
    assert "RB-01" in page  # hers
    assert "RB-03" not in page  # Gareth's, in her service
    assert "PL-01" not in page  # another service

    # Her Entra id is remembered (audited), so her next sign-in is hers whatever its email.
    assert (await tab.person(AMINA.email)).aad_object_id == "oid-amina"
    async with tab.client.app[SESSIONS]() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "link identity"))
    assert entry is not None
    assert entry.key == AMINA.email
    status, body, _ = await tab.session(sso_token(entra_key, "oid-amina", None, upn=None))
    assert status == 200, body
    # The keys were fetched once, for both sign-ins.
    assert entra.fetched == [f"/{TENANT}/discovery/v2.0/keys"]


async def test_the_app_id_is_an_audience_too_and_the_leadership_sees_everything(tab, entra_key):
    token = sso_token(entra_key, "oid-helen", HELEN.email.upper(), aud=APP_ID)
    status, body, _ = await tab.session(token)
    assert status == 200, body
    status, page, _ = await tab.get(body["url"])
    assert status == 200, page
    for code in ("RB-01", "RB-03", "PL-01", "HC-01"):
        assert code in page


def hs256_with_the_public_key(key: rsa.RSAPrivateKey) -> str:
    """The old trick: a token 'signed' with HMAC under the public key, hoping the server
    takes the algorithm the token names."""
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"entra-key-1","typ":"JWT"}')
    claims = jwt.decode(
        sso_token(key, "oid-amina", AMINA.email), options={"verify_signature": False}
    )
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    signing = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    mac = hmac.new(pem, signing, hashlib.sha256).digest()
    return (signing + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


HOUR = 3600
REFUSED: dict[str, tuple[int, Any]] = {
    "signed by another key, the same key id": (401, lambda k, o: sso_token(o, "oid-amina", AMINA.email)),
    "signed by another key, its own key id": (401, lambda k, o: sso_token(o, "oid-amina", AMINA.email, kid="attacker")),
    "HMAC under the public key": (401, lambda k, o: hs256_with_the_public_key(k)),
    "for another audience": (401, lambda k, o: sso_token(k, "oid-amina", AMINA.email, aud="api://elsewhere/99")),
    "from another tenant": (401, lambda k, o: sso_token(k, "oid-amina", AMINA.email, iss="https://login.microsoftonline.com/99999999-0000-0000-0000-000000000000/v2.0")),
    "a v1.0 token (another issuer)": (401, lambda k, o: sso_token(k, "oid-amina", AMINA.email, iss=f"https://sts.windows.net/{TENANT}/")),
    "expired": (401, lambda k, o: sso_token(k, "oid-amina", AMINA.email, exp=int(NOW.timestamp()) - HOUR)),
    "not for the tab's scope": (401, lambda k, o: sso_token(k, "oid-amina", AMINA.email, scp="User.Read")),
    "without an object id": (401, lambda k, o: sso_token(k, None, AMINA.email)),
    "garbage": (401, lambda k, o: "not.a.token"),
    "an unknown person": (403, lambda k, o: sso_token(k, "oid-sam", "sam.stranger@kingsmere.gov.uk")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_sign_in_that_does_not_verify_gets_no_link_and_a_sentence(
    tab, entra_key, other_key, case, caplog
):
    wanted, make = REFUSED[case]
    token = make(entra_key, other_key)
    with caplog.at_level(logging.INFO, logger="perfbot.web"):
        status, body, headers = await tab.session(token)
    assert status == wanted, body
    assert list(body) == ["error"]
    assert (
        "type board in your chat with PerfBot" in body["error"]
        or "performance team" in body["error"]
    )
    assert headers["Cache-Control"] == "no-store"
    assert "board tab refused" in caplog.text
    assert token not in caplog.text  # the token is never logged
    assert (await tab.person(AMINA.email)).aad_object_id is None  # nothing remembered


async def test_no_token_is_401(tab):
    status, body, _ = await tab.session(None)
    assert status == 401
    assert body == {
        "error": "Teams sent no sign-in: type board in your chat with PerfBot for a link to the board."
    }


async def test_an_email_never_takes_over_someone_elses_entra_id(tab, entra_key):
    assert (await tab.session(sso_token(entra_key, "oid-amina", AMINA.email)))[0] == 200
    # Another account whose token names Amina's email (a renamed or reused address).
    status, body, _ = await tab.session(sso_token(entra_key, "oid-someone-else", AMINA.email))
    assert status == 403, body
    assert "url" not in body
    assert (await tab.person(AMINA.email)).aad_object_id == "oid-amina"  # kept


async def test_someone_who_may_see_nothing_is_told_so_and_given_no_link(tab, entra_key):
    async with tab.client.app[SESSIONS]() as session, session.begin():
        session.add(Person(email="noor.starter@kingsmere.gov.uk", name="Noor Starter"))
    token = sso_token(entra_key, "oid-noor", "noor.starter@kingsmere.gov.uk")
    status, body, _ = await tab.session(token)
    assert status == 403
    assert body == {
        "error": "There is nothing on the board for you yet: you own no measures and oversee no "
        "service in PerfBot. If you should, ask the performance team to add you in the "
        "people sheet."
    }


# ---- the tab's page ------------------------------------------------------------------------


async def test_the_tab_page_loads_only_perfbots_own_script_under_a_strict_policy(tab):
    response = await tab.client.get("/reports/tab")
    page = await response.text()
    assert response.status == 200, page
    policy = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'"):
        assert directive in policy
    # framed by Teams' own pages, and no one else's
    ancestors = re.search(r"frame-ancestors ([^;]+)", policy)
    assert ancestors is not None
    assert set(ancestors.group(1).split()) == {
        "https://teams.microsoft.com",
        "https://*.teams.microsoft.com",
        "https://*.cloud.microsoft",
    }
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["Cache-Control"] == "no-store"
    # Nothing from anywhere else: no address in the page names a host.
    assert "//" not in page
    sources = re.findall(r"<script src='([^']+)'></script>", page)
    assert sources == [f"tab/{TEAMS_JS}", "tab/tab.js"]
    assert "<script>" not in page  # no inline script, which the policy would block anyway
    assert "type board in your chat with PerfBot" in page  # without JavaScript

    library = await tab.client.get(f"/reports/{sources[0]}")
    assert library.status == 200
    assert library.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert library.headers["X-Content-Type-Options"] == "nosniff"
    served = await library.read()
    assert hashlib.sha256(served).hexdigest() == LIBRARY_SHA256  # npm's file, unchanged
    script = await tab.client.get(f"/reports/{sources[1]}")
    assert script.status == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    text = await script.text()
    for step in ("app", "initialize()", "authentication.getAuthToken()", '"tab/session"'):
        assert step in text
    assert "http" not in text.replace("window.fetch", "")  # no other host


def test_the_vendored_library_is_microsofts_under_the_mit_licence():
    static = Path(bot.__file__).parent / "static"
    licence = (static / "MicrosoftTeams-LICENSE.txt").read_text()
    assert "MIT License" in licence
    assert "Copyright (c) Microsoft Corporation" in licence
    assert hashlib.sha256((static / TEAMS_JS).read_bytes()).hexdigest() == LIBRARY_SHA256


# ---- without an app id, and the settings -------------------------------------------------


def own_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.254", 9))
        return str(s.getsockname()[0])


async def test_without_an_app_id_the_tab_sends_this_computer_to_the_local_board(
    aiohttp_server, council_engine
):
    server = await aiohttp_server(
        create_app(Settings(), engine=council_engine, clock=lambda: NOW), host="0.0.0.0"
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"http://127.0.0.1:{server.port}/reports/tab", allow_redirects=False
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/reports/board/2026-27-Q2"
        async with session.get(f"http://127.0.0.1:{server.port}/reports/tab") as r:
            body = await r.text()
            assert r.status == 200, body
            assert "Performance board: 2026/27 Q2" in body
        async with session.get(f"http://{own_address()}:{server.port}/reports/tab") as r:
            assert r.status == 403
            assert "only on this computer" in await r.text()
        # Relayed by a proxy on this computer, or asked by a page elsewhere whose name points
        # at 127.0.0.1 (DNS rebinding): not this computer's own.
        for headers in (
            {"X-Forwarded-For": "198.51.100.7"},
            {"Host": f"rebound.example:{server.port}"},
        ):
            async with session.get(
                f"http://127.0.0.1:{server.port}/reports/tab",
                headers=headers,
                allow_redirects=False,
            ) as r:
                assert r.status == 403, headers
        async with session.post(f"http://127.0.0.1:{server.port}/reports/tab/session") as r:
            assert r.status == 403
            assert "no Teams sign-in here" in (await r.json())["error"]


async def test_with_entras_keys_unreachable_a_sign_in_is_503_at_once(
    aiohttp_client, council_engine, entra_key
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings.from_env(
        environment(f"http://127.0.0.1:{port}/{TENANT}/discovery/v2.0/keys")
    )
    client = await aiohttp_client(create_app(settings, engine=council_engine, clock=lambda: NOW))
    status, body, headers = await Tab(client).session(
        sso_token(entra_key, "oid-amina", AMINA.email)
    )
    assert status == 503
    assert "try again in a minute" in body["error"]
    assert headers["Retry-After"] == "30"


def test_the_key_list_is_entras_for_the_tenant_unless_set_and_only_https_or_loopback():
    base = environment("")
    settings = Settings.from_env(base)
    assert settings.entra_keys == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    assert settings.entra_issuer == ISSUER
    with pytest.raises(SettingsError, match=r"^PERFBOT_ENTRA_KEYS_URL 'http://keys\.example/k'"):
        Settings.from_env(base | {"PERFBOT_ENTRA_KEYS_URL": "http://keys.example/k"})
    chosen = Settings.from_env(base | {"PERFBOT_ENTRA_KEYS_URL": "https://keys.example/k"})
    assert chosen.entra_keys == "https://keys.example/k"


async def test_a_sign_in_minutes_from_expiry_works_and_past_it_does_not(tab, entra_key):
    """Expiry is judged by PerfBot's clock, as its links are (five minutes' leeway)."""
    soon = sso_token(
        entra_key, "oid-amina", AMINA.email, exp=int((NOW + timedelta(minutes=2)).timestamp())
    )
    assert (await tab.session(soon))[0] == 200
    gone = sso_token(
        entra_key, "oid-amina", AMINA.email, exp=int((NOW - timedelta(minutes=6)).timestamp())
    )
    status, body, _ = await tab.session(gone)
    assert status == 401
    assert "expired" in body["error"]
