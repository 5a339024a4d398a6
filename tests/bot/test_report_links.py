"""The board served by the bot (issue 15): ``GET /reports/{kind}/{period}`` on the real app
and a real port. With an app id it answers only a signed link PerfBot gave a person, for what
that person may see; anything else is a short page with none of the report. Without an app id
it answers loopback only. And Open the board in Teams: the link in reply in personal chat,
sent to the presser's personal chat when pressed in a channel."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.log import access_logger
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import SESSIONS, create_app
from bot.loopback import card_text, elements
from bot.settings import Secret, Settings, SettingsError
from bot.web import make_link
from domain.board import ReportKind
from domain.model import Notification, Person
from domain.periods import Period
from tests.bot.conftest import AMINA, HELEN, MARK, NOW, Teams, User

KEY = "a-council-key-that-is-long-enough-to-sign-links"
PUBLIC = "https://perfbot.kingsmere.gov.uk"
SECURED = Settings(
    app_id="00000000-0000-0000-0000-0000000000aa",
    app_password=Secret("not-a-real-secret"),
    app_type="SingleTenant",
    app_tenant_id="11111111-0000-0000-0000-000000000000",
    public_url=PUBLIC,
    link_secret=Secret(KEY),
)
Q2 = Period.parse("2026/27 Q2")  # the last quarter ended by 23 November 2026
CHANNEL = "19:leadership@thread.tacv2"
IN_CHANNEL = {
    "conversation": {"conversationType": "channel", "id": f"{CHANNEL};messageid=1", "tenantId": "tenant-1"},
    "channelData": {"tenant": {"id": "tenant-1"}, "team": {"id": "19:team@thread.tacv2"}, "channel": {"id": CHANNEL}},
}  # fmt: skip
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class Site:
    """The bot with an app id, serving pages on a real port, on a clock a test may move."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.now = NOW

    async def get(self, url: str) -> tuple[int, str, Any]:
        parts = urlsplit(url)
        response = await self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        return response.status, await response.text(), response.headers

    async def person_id(self, email: str) -> int:
        async with self.client.app[SESSIONS]() as session:
            found = await session.scalar(select(Person.id).where(Person.email == email))
        assert found is not None
        return found

    async def link(
        self, email: str, kind: str = "board", period: Period = Q2, **filters: str
    ) -> str:
        given = make_link(
            SECURED, await self.person_id(email), ReportKind(kind), period, self.now, **filters
        )
        return given.url


@pytest.fixture
async def site(aiohttp_client: Any, council_engine: Any) -> Site:
    holder: list[Site] = []
    app = create_app(SECURED, engine=council_engine, clock=lambda: holder[0].now)
    # With the access log `perfbot serve` (aiohttp's run_app) writes, to see what it shows.
    server = TestServer(app)
    await server.start_server(access_log=access_logger)
    client = await aiohttp_client(server)
    holder.append(Site(client))
    return holder[0]


def assert_refused_without_data(status: int, body: str, headers: Any, wanted: int) -> None:
    assert status == wanted, body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    for code in ("RB-01", "PL-01", "HC-01", "Performance board: 2026/27 Q2"):
        assert code not in body


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"{parts.path}?{urlencode(query)}"


# ---- with an app id: only a valid signed link -------------------------------------------


async def test_a_leadership_link_opens_the_whole_board_with_no_store_and_a_strict_policy(site):
    url = await site.link(HELEN.email)
    assert url.startswith(f"{PUBLIC}/reports/board/2026-27-Q2?link=")
    status, body, headers = await site.get(url)
    assert status == 200, body
    assert "Performance board: 2026/27 Q2" in body
    for code in ("RB-01", "PL-01", "HC-01", "CS-02"):
        assert code in body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "img-src data:" in policy


async def test_an_owners_link_shows_only_their_measures_and_cannot_be_widened(site):
    url = await site.link(AMINA.email)
    status, body, _ = await site.get(url)
    assert status == 200, body
    assert "RB-01" in body  # hers
    assert "RB-03" not in body  # Gareth's, in her service
    assert "PL-01" not in body  # another service
    # Her token on the address of a wider report, another report or another quarter.
    token = parse_qs(urlsplit(url).query)["link"][0]
    for path in (
        "/reports/exceptions/2026-27-Q2",
        "/reports/board/2026-27-Q1",
        "/reports/annual/2025-26",
    ):
        status, body, headers = await site.get(f"{path}?{urlencode({'link': token})}")
        assert_refused_without_data(status, body, headers, 403)


async def test_an_escalation_owners_link_for_one_service_cannot_drop_the_filter(site):
    url = await site.link(MARK.email, service="Revenues and Benefits")
    status, body, _ = await site.get(url)
    assert status == 200, body
    assert "RB-03" in body
    assert "PL-01" not in body
    for changed in (
        with_query(url, service=None),  # dropped: all he may see, more than the link gave
        with_query(url, service="Planning and Regeneration"),
        with_query(url, priority="Thriving places"),
    ):
        status, body, headers = await site.get(changed)
        assert_refused_without_data(status, body, headers, 403)


async def test_without_a_link_the_page_is_401_and_says_to_open_it_from_teams(site):
    status, body, headers = await site.get("/reports/board/2026-27-Q2")
    assert_refused_without_data(status, body, headers, 401)
    assert "opens only from a link PerfBot gives you in Teams" in body


async def test_an_expired_link_is_401_and_says_to_press_open_the_board_again(site):
    url = await site.link(HELEN.email)
    site.now += timedelta(hours=4)
    status, body, headers = await site.get(url)
    assert_refused_without_data(status, body, headers, 401)
    assert "This link has expired" in body
    assert "Press Open the board in Teams again" in body
    site.now -= timedelta(minutes=1)  # a minute before its end it still works
    assert (await site.get(url))[0] == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
        lambda token: "e30" + token[token.index(".") :],  # the body swapped for {}
        lambda token: token.split(".")[0],  # the signature cut off
        lambda token: "not-a-link",
        lambda token: token + ".extra",
    ],
    ids=["signature", "body", "unsigned", "garbage", "extra part"],
)
async def test_a_tampered_or_malformed_link_is_403(site, tamper):
    url = await site.link(HELEN.email)
    token = parse_qs(urlsplit(url).query)["link"][0]
    status, body, headers = await site.get(with_query(url, link=tamper(token)))
    assert_refused_without_data(status, body, headers, 403)
    assert "not one PerfBot gave, or it has been changed" in body


async def test_a_link_signed_with_another_key_is_403(site):
    other = replace(SECURED, link_secret=Secret("another-council-key-just-as-long-as-ours"))
    url = make_link(other, await site.person_id(HELEN.email), ReportKind.BOARD, Q2, site.now).url
    status, body, headers = await site.get(url)
    assert_refused_without_data(status, body, headers, 403)


async def test_a_link_for_someone_no_longer_known_is_403(site):
    # A genuine link, for a person id the people sheet no longer has (removed since).
    async with site.client.app[SESSIONS]() as session:
        gone = 1 + (await session.scalar(select(func.max(Person.id))) or 0)
    url = make_link(SECURED, gone, ReportKind.BOARD, Q2, site.now).url
    status, body, headers = await site.get(url)
    assert_refused_without_data(status, body, headers, 403)
    assert "no longer knows the person this link was given to" in body


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/reports/boards/2026-27-Q2", "'boards' is not a report"),
        ("/reports/board/2026-27-M3", "The performance board is for a quarter"),
        ("/reports/board/next-quarter", "'next-quarter' is not a period"),
        ("/reports/annual/2026-27-Q2", "The annual performance report is for a financial year"),
    ],
)
async def test_a_bad_kind_or_period_is_404_saying_what_an_address_looks_like(site, path, said):
    status, body, headers = await site.get(path)
    assert_refused_without_data(status, body, headers, 404)
    assert said in body.replace("&#x27;", "'")
    assert "/reports/board/2025-26-Q2" in body


async def test_refusals_are_logged_without_the_token(site, caplog):
    url = await site.link(HELEN.email)
    token = parse_qs(urlsplit(url).query)["link"][0]
    site.now += timedelta(hours=5)
    caplog.set_level(logging.INFO, logger="aiohttp.access")  # as --debug shows it
    with caplog.at_level(logging.INFO, logger="perfbot.web"):
        assert (await site.get(url))[0] == 401
        assert (await site.get(with_query(url, link=token + "x")))[0] == 403
        assert (await site.get("/reports/board/2026-27-Q2"))[0] == 401
        site.now -= timedelta(hours=5)
        assert (await site.get(url))[0] == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /reports/board/2026-27-Q2?link=(hidden)" in logged  # the access log
    assert "expired" in logged
    assert "signature" in logged
    assert "no link" in logged
    assert token not in logged
    assert token[:20] not in logged


# ---- without an app id: loopback only ----------------------------------------------------


def own_address() -> str:
    """This machine's address on its network (no packet is sent: a UDP socket's connect only
    chooses the interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.254", 9))
        return str(s.getsockname()[0])


async def test_without_an_app_id_the_page_answers_loopback_only(aiohttp_server, council_engine):
    app = create_app(Settings(), engine=council_engine, clock=lambda: NOW)
    server = await aiohttp_server(app, host="0.0.0.0")
    address = own_address()
    assert not address.startswith("127.")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{server.port}/reports/board/2026-27-Q2") as r:
            body = await r.text()
            assert r.status == 200, body
            assert "Performance board: 2026/27 Q2" in body
            assert "PL-01" in body  # everything
            assert "RB-01" in body
        async with session.get(f"http://{address}:{server.port}/reports/board/2026-27-Q2") as r:
            body = await r.text()
            assert_refused_without_data(r.status, body, r.headers, 403)
            assert "only on this computer" in body
        # A link PerfBot gave (the Playground's Open the board) shows what its person may see.
        async with app[SESSIONS]() as tx:
            amina = await tx.scalar(select(Person).where(Person.email == AMINA.email))
        given = make_link(Settings(), amina.id, ReportKind.BOARD, Period.parse("2026/27 Q2"), NOW)
        path = given.url.split("/reports/", 1)[1]
        async with session.get(f"http://127.0.0.1:{server.port}/reports/{path}") as r:
            body = await r.text()
            assert r.status == 200, body
            assert "RB-01" in body  # hers
            assert "PL-01" not in body  # not everything: what her link is for
        # A page elsewhere that rebinds its own name to 127.0.0.1 asks with that name.
        async with session.get(
            f"http://127.0.0.1:{server.port}/reports/board/2026-27-Q2",
            headers={"Host": f"attacker.example:{server.port}"},
        ) as r:
            body = await r.text()
            assert_refused_without_data(r.status, body, r.headers, 403)
        async with session.get(f"http://localhost:{server.port}/reports/board/2026-27-Q2") as r:
            assert r.status == 200
        # A reverse proxy on this computer relays from 127.0.0.1: what it forwards is refused.
        for header in ("X-Forwarded-For", "Forwarded"):
            async with session.get(
                f"http://127.0.0.1:{server.port}/reports/board/2026-27-Q2",
                headers={header: "for=198.51.100.7" if header == "Forwarded" else "198.51.100.7"},
            ) as r:
                body = await r.text()
                assert_refused_without_data(r.status, body, r.headers, 403)


# ---- the settings ------------------------------------------------------------------------

APP = {"MicrosoftAppId": "x", "MicrosoftAppPassword": "hunter2", "MicrosoftAppTenantId": "t"}


def test_with_an_app_id_the_public_address_is_required_and_must_be_https():
    with pytest.raises(SettingsError, match="PERFBOT_PUBLIC_URL is not set"):
        Settings.from_env(APP)
    with pytest.raises(SettingsError, match="must start with https://"):
        Settings.from_env({**APP, "PERFBOT_PUBLIC_URL": "http://perfbot.kingsmere.gov.uk"})
    with pytest.raises(SettingsError, match="is not an address like"):
        Settings.from_env({**APP, "PERFBOT_PUBLIC_URL": "perfbot.kingsmere.gov.uk"})
    settings = Settings.from_env({**APP, "PERFBOT_PUBLIC_URL": f"{PUBLIC}/"})
    assert settings.public_url == PUBLIC
    assert Settings.from_env({}).public_url == "http://localhost:3978"


def test_the_link_key_is_long_enough_kept_secret_or_worked_out_from_the_client_secret():
    with pytest.raises(SettingsError, match="PERFBOT_LINK_SECRET is 5 characters"):
        Settings.from_env({"PERFBOT_LINK_SECRET": "short"})
    msi = {
        "MicrosoftAppId": "x",
        "MicrosoftAppType": "UserAssignedMSI",
        "PERFBOT_PUBLIC_URL": PUBLIC,
    }
    with pytest.raises(SettingsError, match="PERFBOT_LINK_SECRET is not set"):
        Settings.from_env(msi)
    chosen = Settings.from_env({**msi, "PERFBOT_LINK_SECRET": KEY})
    assert chosen.link_key == KEY
    assert KEY not in repr(chosen)
    derived = Settings.from_env({**APP, "PERFBOT_PUBLIC_URL": PUBLIC})
    assert derived.link_key == Settings.from_env({**APP, "PERFBOT_PUBLIC_URL": PUBLIC}).link_key
    assert "hunter2" not in derived.link_key
    with pytest.raises(SettingsError, match="PERFBOT_LINK_HOURS '0' must be a whole number"):
        Settings.from_env({"PERFBOT_LINK_HOURS": "0"})
    assert Settings.from_env({"PERFBOT_LINK_HOURS": "8"}).link_hours == 8


# ---- Open the board in Teams -------------------------------------------------------------


def open_url(card: dict[str, Any]) -> str:
    [button] = [node for node in elements(card) if node.get("type") == "Action.OpenUrl"]
    assert button["title"] == "Open the board"
    return str(button["url"])


async def press(
    teams: Teams, user: Any, period: str = "2026/27 Q2", **where: Any
) -> dict[str, Any]:
    """Open the board pressed (the status card's or the summary's own sealed button)."""
    value = await teams.sealed({"verb": "open_report", "kind": "board", "period": period})
    return teams.activity(user, replyToId="status-card", value=value, **where)


@pytest.fixture
async def linked(aiohttp_client: Any, council_engine: Any, connector: Any) -> tuple[Teams, Site]:
    """Teams talking to the bot (no app id, for the chat) and the bot with an app id serving
    the pages, on one database and one link key: the link made in chat is checked for real."""
    clock: list[Teams] = []
    chat = replace(Settings(), public_url=PUBLIC, link_secret=Secret(KEY))
    app = create_app(chat, engine=council_engine, clock=lambda: clock[0].now)
    clock.append(Teams(await aiohttp_client(app), connector))
    pages = create_app(SECURED, engine=council_engine, clock=lambda: clock[0].now)
    return clock[0], Site(await aiohttp_client(pages))


async def test_status_then_open_the_board_gives_a_link_that_opens_the_board(linked):
    teams, site = linked
    await teams.install(HELEN)
    teams.connector.clear()
    assert await teams.say(HELEN, "status") in (200, 201)
    [status] = teams.connector.cards()
    [button] = [node for node in elements(status) if node.get("title") == "Open the board"]
    teams.connector.clear()
    pressed = teams.activity(HELEN, replyToId="status-card", value=button["data"])
    assert await teams.post(pressed) in (200, 201)
    [card] = teams.connector.cards()
    text = card_text(card)
    assert "Performance board: 2026/27 Q2" in text
    assert "for all services" in text
    assert "the link works until 14:00 today" in text  # 10:00 UTC is 10:00 in London, + 4 h
    status_code, body, _ = await site.get(open_url(card))
    assert status_code == 200, body
    assert "Performance board: 2026/27 Q2" in body
    assert "PL-01" in body


async def test_an_owners_link_from_teams_is_for_their_measures(linked):
    teams, site = linked
    await teams.install(AMINA)
    teams.connector.clear()
    assert await teams.post(await press(teams, AMINA)) in (200, 201)
    [card] = teams.connector.cards()
    status, body, _ = await site.get(open_url(card))
    assert status == 200, body
    assert "RB-01" in body
    assert "PL-01" not in body


async def test_the_board_command_takes_a_quarter_and_refuses_anything_else(linked):
    teams, _ = linked
    await teams.install(HELEN)
    teams.connector.clear()
    assert await teams.say(HELEN, "board 2026/27 Q1") in (200, 201)
    [card] = teams.connector.cards()
    assert "Performance board: 2026/27 Q1" in card_text(card)
    assert "/reports/board/2026-27-Q1?" in open_url(card)
    teams.connector.clear()
    assert await teams.say(HELEN, "board 2026/27 M3") in (200, 201)
    assert teams.connector.texts() == [
        "The performance board is for a quarter, not '2026/27 M3': write for example "
        "2026/27 Q1. Type board alone for the last quarter."
    ]
    teams.connector.clear()
    assert await teams.say(HELEN, "Board") in (200, 201)
    [card] = teams.connector.cards()
    assert "Performance board: 2026/27 Q2" in card_text(card)


async def test_pressed_in_a_channel_the_link_goes_to_the_pressers_chat_only(linked):
    teams, site = linked
    await teams.install(HELEN)
    teams.connector.clear()
    assert await teams.post(await press(teams, HELEN, **IN_CHANNEL)) in (200, 201)
    # In the channel: what is true, and no link.
    assert teams.connector.texts() == [
        "Helen Ashworth, a link to the performance board for 2026/27 Q2 is on its way to "
        "your chat with PerfBot."
    ]
    assert "/reports/" not in str([c.body for c in teams.connector.sent()])
    async with teams.client.app[SESSIONS]() as session:
        [row] = list(await session.scalars(select(Notification)))
    assert (row.kind, row.person_id) == ("report-link", await site.person_id(HELEN.email))
    teams.connector.clear()
    teams.now += timedelta(seconds=5)
    await teams.dispatch()
    [call] = teams.connector.sent()
    assert call.conversation_id == f"a:personal-{HELEN.teams_id}"
    [card] = teams.connector.cards([call])
    assert "Performance board: 2026/27 Q2" in card_text(card)
    # The dispatcher runs with default settings here, so it makes a local link.
    assert open_url(card).startswith("http://localhost:3978/reports/board/2026-27-Q2?link=")


async def test_pressed_in_a_channel_by_someone_perfbot_cannot_reach_it_says_how_to_fix_it(linked):
    teams, _ = linked
    assert await teams.post(await press(teams, MARK, **IN_CHANNEL)) in (200, 201)
    [said] = teams.connector.texts()
    assert said.startswith("Mark Taylor, I can't send you a link to the performance board")
    assert "Open PerfBot in Teams" in said
    async with teams.client.app[SESSIONS]() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_out_of_hours_the_channel_hears_when_the_link_will_go(linked):
    teams, _ = linked
    await teams.install(HELEN)
    teams.connector.clear()
    teams.now = NOW.replace(hour=19)  # Monday evening
    assert await teams.post(await press(teams, HELEN, **IN_CHANNEL)) in (200, 201)
    assert teams.connector.texts() == [
        "Helen Ashworth, I'll send you a link to the performance board for 2026/27 Q2 in your "
        "chat with PerfBot at 08:00 on Tuesday 24 November: PerfBot sends nothing out of hours."
    ]


async def test_someone_who_may_see_nothing_is_told_so_and_given_no_link(linked):
    teams, _ = linked
    starter = User("29:newstarter", "Noor Starter", "noor.starter@kingsmere.gov.uk", "aad-noor")
    async with teams.client.app[SESSIONS]() as session, session.begin():
        session.add(Person(email=starter.email, name=starter.name, aad_object_id=starter.aad))
    assert await teams.say(starter, "board") in (200, 201)
    assert teams.connector.texts() == [
        "There is nothing on the board for you yet: you own no measures and oversee no "
        "service in PerfBot. If you should, ask the performance team to add you in the "
        "people sheet."
    ]
    assert teams.connector.cards() == []


async def test_a_page_that_cannot_be_read_says_so_and_shows_nothing(aiohttp_client, council_engine):
    """The database failing under the page (here: its measures table gone) is a short page
    saying to try again, with the page's headers, never aiohttp's error or a traceback."""
    from sqlalchemy import text

    client = await aiohttp_client(create_app(Settings(), engine=council_engine, clock=lambda: NOW))
    async with council_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE measures RENAME TO measures_gone"))
    response = await client.get("/reports/board/2026-27-Q2")
    body = await response.text()
    assert_refused_without_data(response.status, body, response.headers, 503)
    assert "Try again in a few minutes" in body
    assert "Traceback" not in body


async def test_an_unknown_service_in_the_address_is_said_as_a_page_says_it(
    aiohttp_client, council_engine
):
    client = await aiohttp_client(create_app(Settings(), engine=council_engine, clock=lambda: NOW))
    response = await client.get("/reports/board/2026-27-Q2?service=Nope")
    body = (await response.text()).replace("&#x27;", "'")
    assert_refused_without_data(response.status, body, response.headers, 404)
    assert "No service is called 'Nope'; the services are: " in body
    assert "--service" not in body  # the command line's flag is not the page's
