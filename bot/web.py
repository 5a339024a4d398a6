"""The report pages the bot serves (issue 15): ``GET /reports/{kind}/{period}``, the same
HTML as ``perfbot report``, to whoever holds a link PerfBot gave them in chat; and the
making of those links. Without an app id (local use, the Agents Playground) the page
answers loopback only and shows everything; with one, only a valid signed link, for what
its person may see as the database stands when the page is asked for."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from cards import render as cards
from domain import board
from domain.board import Report, ReportError, ReportKind, Scope
from domain.dates import LONDON
from domain.links import Link, LinkExpired, LinkInvalid
from domain.model import Person
from domain.periods import Period
from domain.uow import UnitOfWork
from reports import html

log = logging.getLogger("perfbot.web")

ROUTE = "/reports/{kind}/{period}"

# Teams' own pages, which show the board tab and so the board it opens in a frame
# (Microsoft's tab requirements: teams.microsoft.com, *.teams.microsoft.com, and the
# *.cloud.microsoft hosts Teams is moving to). No other page may frame a report.
FRAME_ANCESTORS = (
    "https://teams.microsoft.com https://*.teams.microsoft.com https://*.cloud.microsoft"
)

# The page is one self-contained file: nothing may load from anywhere, its CSS is inline
# and its pictures are data: URIs.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {FRAME_ANCESTORS}"
    ),
}

ADDRESS_HELP = (
    "A report's address is like /reports/board/2025-26-Q2 (the board or the exception "
    "report, for a quarter) or /reports/annual/2025-26 (the annual report, for a financial "
    "year); in Teams, press Open the board or type board in your chat with PerfBot."
)


def in_url(period: Period) -> str:
    """A period as the page's address writes it: 2025/26 Q2 -> 2025-26-Q2."""
    return period.label.replace("/", "-").replace(" ", "-")


# ---- links ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenLink:
    """A link made for a person: its address and when it stops working."""

    url: str
    expires: datetime


def make_link(
    settings: Settings,
    person_id: int,
    kind: ReportKind,
    period: Period,
    now: datetime,
    *,
    service: str | None = None,
    priority: str | None = None,
) -> GivenLink:
    """A signed link to a report for one person, working for PERFBOT_LINK_HOURS from now."""
    expires = now + timedelta(hours=settings.link_hours)
    link = Link(person_id, kind.value, period.label, expires, service, priority)
    query = {name: value for name, value in (("service", service), ("priority", priority)) if value}
    query["link"] = link.sign(settings.link_key)
    url = f"{settings.public_url}/reports/{kind.value}/{in_url(period)}?{urlencode(query)}"
    return GivenLink(url, expires)


def until_words(expires: datetime, now: datetime) -> str:
    """When a link stops working, in the council's time: "15:40 today", "09:10 tomorrow"."""
    end, start = expires.astimezone(LONDON), now.astimezone(LONDON)
    days = (end.date() - start.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else f"on {end:%A} {end.day} {end:%B}"
    return f"{end:%H:%M} {day}"


def link_card(
    settings: Settings,
    person: Person,
    scope: Scope,
    kind: ReportKind,
    period: Period,
    now: datetime,
) -> dict[str, Any]:
    """The small card with a person's link: what it shows, until when, and the button."""
    given = make_link(settings, person.id, kind, period, now)
    return cards.report_link_card(
        f"{kind.heading}: {period.label}",
        f"for {scope.words}" if scope.words else "",
        f"the link works until {until_words(given.expires, now)}",
        given.url,
        "Open the board" if kind is ReportKind.BOARD else "Open the report",
    )


NOTHING_TO_SEE = (
    "There is nothing on the board for you yet: you own no measures and oversee no service "
    "in PerfBot. If you should, ask the performance team to add you in the people sheet."
)


class HideLinks(logging.Filter):
    """Keeps tokens out of aiohttp's access log (shown with --debug): a request line with
    ?link=... is logged with the token replaced, since the token opens someone's board."""

    TOKEN = re.compile(r"([?&]link=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "link=" in record.msg:
            record.msg = self.TOKEN.sub(r"\1(hidden)", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.TOKEN.sub(r"\1(hidden)", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def hide_links_in_access_log() -> None:
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, HideLinks) for f in access.filters):
        access.addFilter(HideLinks())


# ---- the page ----------------------------------------------------------------------------------


Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Pages:
    """What the report route needs from the app."""

    settings: Settings
    sessions: Callable[[], async_sessionmaker[AsyncSession]]
    clock: Clock


def _page(status: int, title: str, message: str) -> web.Response:
    """A short page that says what happened and what to do: never any of the report."""
    body = (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} - PerfBot</title>"
        "<style>body{font-family:Arial,sans-serif;max-width:40em;margin:2em auto;"
        "padding:0 1em;color:#0b0c0c;line-height:1.5}h1{font-size:1.6em}</style></head>"
        f"<body><main><h1>{escape(title)}</h1><p>{escape(message)}</p></main></body></html>"
    )
    return web.Response(
        status=status, text=body, content_type="text/html", charset="utf-8", headers=HEADERS
    )


def _refuse(request: web.Request, status: int, why: str, title: str, message: str) -> web.Response:
    # The path only: the query holds the token, which is a key to someone's board.
    log.warning(
        "report page refused (%d, %s): %r from %s", status, why, request.path, request.remote
    )
    return _page(status, title, message)


FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host")


LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


def _local_name(host: str) -> bool:
    """The Host a request names, without its port, is this computer's own."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:3978
        name = name[: name.find("]") + 1]
    elif name.count(":") == 1:
        name = name.split(":")[0]
    return name in LOCAL_NAMES or name.endswith(".localhost")


def _loopback(remote: str | None) -> bool:
    """127.0.0.1, ::1, or 127.0.0.1 as a dual-stack socket reports it (::ffff:127.0.0.1)."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def from_this_computer(request: web.Request) -> bool:
    """A request this computer made of itself, as the pages without an app id answer: from
    loopback, not relayed by a proxy (which comes from 127.0.0.1 too, saying it forwarded),
    and naming this computer (a page elsewhere that points a name of its own at 127.0.0.1,
    DNS rebinding, asks with that name)."""
    forwarded = any(h in request.headers for h in FORWARDED)
    return not forwarded and _loopback(request.remote) and _local_name(request.host)


refuse = _refuse


def host_of(url: str) -> str:
    """The host of an address ("" if it has none)."""
    return urlsplit(url).hostname or ""


NO_LINK = (
    "This page opens only from a link PerfBot gives you in Teams. Press Open the board on "
    "PerfBot's weekly summary or status card, or type board in your chat with PerfBot."
)
NOT_YOURS = (
    "This link is not one PerfBot gave, or it has been changed. Press Open the board in "
    "Teams, or type board in your chat with PerfBot, for a link of your own."
)


def report_route(pages: Pages) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def report_page(request: web.Request) -> web.StreamResponse:
        settings = pages.settings
        try:
            kind = ReportKind.parse(request.match_info["kind"])
            period = board.report_period(kind, request.match_info["period"])
        except ReportError as error:
            said = str(error)
            return _refuse(
                request,
                404,
                "no such report",
                "No such report",
                f"{said[:1].upper()}{said[1:]}. {ADDRESS_HELP}",
            )
        service = request.query.get("service", "").strip() or None
        priority = request.query.get("priority", "").strip() or None
        now = pages.clock()
        person_id: int | None = None
        token = request.query.get("link", "")
        if not settings.authenticated:
            if not from_this_computer(request):
                return _refuse(
                    request,
                    403,
                    "not loopback, and no app id",
                    "Not available from here",
                    "Without an app id PerfBot shows its reports only on this computer "
                    "(127.0.0.1). To share them, set MicrosoftAppId and PERFBOT_PUBLIC_URL: "
                    "people then open them from links PerfBot gives them in Teams.",
                )
            # This computer sees everything; a link PerfBot gave shows what its person may
            # see, as it would with an app id (what the card with the link says).
        elif not token:
            return _refuse(request, 401, "no link", "Open this page from Teams", NO_LINK)
        if token:
            try:
                link = Link.verify(token, settings.link_key, now)
            except LinkExpired as expired:
                return _refuse(
                    request,
                    401,
                    f"expired link of person {expired.link.person_id}",
                    "This link has expired",
                    f"Links to the board work for {settings.link_hours} hours. Press Open the "
                    "board in Teams again (or type board in your chat with PerfBot) for a "
                    "fresh one.",
                )
            except LinkInvalid as invalid:
                return _refuse(request, 403, str(invalid), "This link does not work", NOT_YOURS)
            if not link.asks_for(kind.value, period.label, service, priority):
                return _refuse(
                    request,
                    403,
                    f"address changed from person {link.person_id}'s link",
                    "This link does not work",
                    NOT_YOURS,
                )
            person_id = link.person_id

        async def read(tx: AsyncSession) -> Report | None:
            scope = Scope(everything=True, words="all services")
            if person_id is not None:
                person = await tx.get(Person, person_id)
                if person is None:
                    return None
                # Worked out now, not when the link was made: a role taken away tells at once.
                scope = await board.scope_of(tx, person)
            return await board.build(
                tx, kind, period, now, settings.policy, scope, service=service, priority=priority
            )

        try:
            report = await UnitOfWork(pages.sessions()).run(read)
        except ReportError as error:
            # The builder's sentence, without the command line's flag it starts with.
            said = re.sub(r"^--\w+: ", "", str(error))
            return _refuse(
                request, 404, "no such report", "No such report", f"{said[:1].upper()}{said[1:]}."
            )
        except Exception:  # the database down, say: a page that says so, nothing of the report
            log.exception("the report page %s could not be made", request.path)
            return _page(
                503,
                "The board cannot be shown just now",
                "PerfBot could not read the council's figures. Try again in a few minutes; if "
                "it goes on, tell the performance team.",
            )
        if report is None:
            return _refuse(
                request,
                403,
                f"person {person_id} is no longer known",
                "This link does not work",
                "PerfBot no longer knows the person this link was given to. If that is you, "
                "ask the performance team to add you in the people sheet.",
            )
        page = await asyncio.to_thread(html.render, report)
        return web.Response(text=page, content_type="text/html", charset="utf-8", headers=HEADERS)

    return report_page
