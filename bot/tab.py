"""The board as a personal tab in Teams (issue 16). A tab cannot carry the signed link
PerfBot gives in chat, so the tab's page signs the person in with Teams single sign-on and
swaps Entra's token for a link of their own:

- ``GET /reports/tab``: a small page (no request beyond PerfBot's own host) that loads
  Microsoft's Teams JavaScript client library, served from here (``bot/static/``, from npm
  ``@microsoft/teams-js``, MIT licence), asks Teams for the person's token and POSTs it;
- ``POST /reports/tab/session``: checks the token as Entra made it (RS256 with a key of the
  tenant's published list, the tenant's v2.0 issuer, PerfBot's own audience, not expired,
  the ``access_as_user`` scope), finds the person by their Entra object id (or, once, by
  email) and answers ``{"url": ...}``: their board for the last quarter ended, as the link
  the ``board`` command gives. Anything else is 401 or 403 with one sentence, and logged
  without the token.

Without an app id (local use) there is no Teams sign-in: ``/reports/tab`` sends loopback
callers straight to the local board."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

import jwt
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot import web as pages_web
from bot.connector import KeyList, MetadataUnavailable
from bot.web import HEADERS, Pages, in_url, make_link
from domain import board, people
from domain.board import ReportKind, Scope
from domain.dates import LONDON
from domain.model import Person
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.web")

TAB = "/reports/tab"
SESSION = "/reports/tab/session"
TEAMS_JS_VERSION = "2.58.0"  # npm @microsoft/teams-js, pinned exact (its licence: MIT)
TEAMS_JS = f"MicrosoftTeams-{TEAMS_JS_VERSION}.min.js"
TAB_JS = "tab.js"
SCOPE = "access_as_user"  # the scope the Entra app exposes for Teams' sign-in
LEEWAY = 300  # seconds of clock difference allowed, as botbuilder allows for Teams' tokens
MAX_TOKEN = 16_000  # longer than any token Entra issues: refused unread

# Teams shows a tab in a frame of its own pages (teams.microsoft.com, and the new
# *.cloud.microsoft hosts); the board the tab opens is framed the same way (bot/web.py).
FRAME_ANCESTORS = pages_web.FRAME_ANCESTORS
TAB_HEADERS = HEADERS | {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; "
        "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {FRAME_ANCESTORS}"
    ),
}
SCRIPT_HEADERS = {
    "Cache-Control": "public, max-age=86400",  # the library's name carries its version
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}

INSTEAD = "type board in your chat with PerfBot for a link to the board"

PAGE = (
    "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
    "<title>Performance board - PerfBot</title>"
    "<style>body{font-family:Arial,sans-serif;max-width:40em;margin:2em auto;"
    "padding:0 1em;color:#0b0c0c;line-height:1.5}h1{font-size:1.6em}</style></head>"
    "<body><main><h1>Performance board</h1>"
    "<p id='status' role='status'>Signing you in to PerfBot to open your board…</p>"
    f"<noscript><p>This tab needs JavaScript; {INSTEAD}.</p></noscript>"
    # relative, so that a PERFBOT_PUBLIC_URL with a path keeps them on PerfBot's own host
    f"<script src='tab/{TEAMS_JS}'></script><script src='tab/{TAB_JS}'></script>"
    "</main></body></html>"
)


def _script(name: str) -> bytes:
    return (files("bot") / "static" / name).read_bytes()


def _answer(request: web.Request, status: int, why: str, message: str) -> web.Response:
    """A refusal: one sentence for the person, a log line without the token."""
    log.warning("board tab refused (%d, %s) from %s", status, why, request.remote)
    return web.json_response({"error": message}, status=status, headers=HEADERS)


def tab_routes(
    pages: Pages,
) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
    """The tab's routes, to be added before the report route (whose /reports/{kind}/{period}
    would otherwise take /reports/tab/...)."""
    settings = pages.settings
    keys = KeyList(settings.entra_keys) if settings.entra_keys else None
    scripts = {TEAMS_JS: _script(TEAMS_JS), TAB_JS: _script(TAB_JS)}
    audiences = [settings.app_id]
    if settings.authenticated and pages_web.host_of(settings.public_url):
        audiences.insert(0, f"api://{pages_web.host_of(settings.public_url)}/{settings.app_id}")

    async def tab_page(request: web.Request) -> web.StreamResponse:
        if settings.authenticated:
            return web.Response(
                text=PAGE, content_type="text/html", charset="utf-8", headers=TAB_HEADERS
            )
        if not pages_web.from_this_computer(request):
            return pages_web.refuse(
                request,
                403,
                "not loopback, and no app id",
                "Not available from here",
                "Without an app id PerfBot shows its reports only on this computer "
                "(127.0.0.1). To give the board a tab in Teams, set MicrosoftAppId, "
                "MicrosoftAppTenantId and PERFBOT_PUBLIC_URL.",
            )
        today = pages.clock().astimezone(LONDON).date()
        quarter = board.latest_period(ReportKind.BOARD, today)
        raise web.HTTPSeeOther(f"/reports/board/{in_url(quarter)}", headers=HEADERS)

    def script(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=scripts[name],
                content_type="text/javascript",
                charset="utf-8",
                headers=SCRIPT_HEADERS,
            )

        return serve

    async def session(request: web.Request) -> web.StreamResponse:
        if not settings.authenticated or keys is None:
            return _answer(
                request,
                403,
                "no app id or tenant",
                "PerfBot has no Teams sign-in here (it needs MicrosoftAppId and "
                f"MicrosoftAppTenantId): {INSTEAD}.",
            )
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _answer(request, 401, "no token", f"Teams sent no sign-in: {INSTEAD}.")
        if len(token) > MAX_TOKEN:
            return _answer(
                request, 401, "token too long", f"Teams' sign-in was refused: {INSTEAD}."
            )
        refused = f"Teams' sign-in could not be checked for this council: {INSTEAD}."
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return _answer(request, 401, "not a token", refused)
        key_id = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(key_id, str) or not key_id:
            return _answer(request, 401, f"algorithm {header.get('alg')!r}, no key id", refused)
        try:
            public_key = await keys.public_key(key_id)
        except MetadataUnavailable as error:
            log.error("could not check a board tab sign-in: %s", error)
            return web.json_response(
                {
                    "error": f"PerfBot cannot check sign-ins just now; try again in a minute, or {INSTEAD}."
                },
                status=503,
                headers=HEADERS | {"Retry-After": "30"},
            )
        if public_key is None:
            return _answer(request, 401, f"key id {key_id!r} not in the tenant's keys", refused)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                audience=audiences,
                issuer=settings.entra_issuer,
                # expiry against PerfBot's clock (below), as the links it gives are
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "aud", "oid"],
                },
            )
        except jwt.PyJWTError as error:
            return _answer(request, 401, f"{type(error).__name__}: {error}", refused)
        now = pages.clock()
        moment = now.timestamp()
        expires, starts = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int | float) or expires + LEEWAY <= moment:
            return _answer(
                request,
                401,
                "expired",
                f"Teams' sign-in has expired: close the tab and open it again, or {INSTEAD}.",
            )
        if isinstance(starts, int | float) and starts - LEEWAY > moment:
            return _answer(request, 401, "not yet valid", refused)
        scopes = str(claims.get("scp", "")).split()
        oid = claims.get("oid")
        if SCOPE not in scopes or not isinstance(oid, str) or not oid:
            return _answer(request, 401, f"scopes {scopes}, no {SCOPE} or oid", refused)
        # Entra's own sign-in names (its optional "email" claim may be unverified: not used)
        email = claims.get("preferred_username") or claims.get("upn")
        email = email if isinstance(email, str) else None

        async def find(tx: AsyncSession) -> tuple[Person, Scope] | None:
            person = await people.signed_in(tx, oid, email, now)
            if person is None:
                return None
            return person, await board.scope_of(tx, person)

        try:
            found = await UnitOfWork(pages.sessions()).run(find)
        except Exception:  # the database down, say: a sentence, never a stack trace
            log.exception("board tab: could not look up who signed in")
            return web.json_response(
                {
                    "error": f"PerfBot cannot open the board just now; try again in a few minutes, or {INSTEAD}."
                },
                status=503,
                headers=HEADERS,
            )
        if found is None:
            return _answer(
                request,
                403,
                f"no person with Entra id {oid}",
                "PerfBot does not know you yet: ask the performance team to add you in the "
                "people sheet (or, if you are there, to check your email address).",
            )
        person, scope = found
        if scope.nothing:
            return _answer(
                request, 403, f"person {person.id} may see nothing", pages_web.NOTHING_TO_SEE
            )
        quarter = board.latest_period(ReportKind.BOARD, now.astimezone(LONDON).date())
        given = make_link(settings, person.id, ReportKind.BOARD, quarter, now)
        log.info("board tab: person %d signed in, a link to %s", person.id, quarter.label)
        return web.json_response(
            {"url": given.url, "expires": given.expires.isoformat()}, headers=HEADERS
        )

    return [
        ("GET", TAB, tab_page),
        ("GET", f"{TAB}/{TEAMS_JS}", script(TEAMS_JS)),
        ("GET", f"{TAB}/{TAB_JS}", script(TAB_JS)),
        ("POST", SESSION, session),
    ]
