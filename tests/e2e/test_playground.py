"""End to end with Microsoft's Agents Playground as the local Teams: a database made with the
command (`perfbot db upgrade`, then `perfbot import` of the sample council's fixture as of
23 November 2026, whose figures these hand-worked cases use; tests/bot/test_walkthrough.py
follows `perfbot sample load`'s council of the day), the real server on a real port, and the
Playground driven over its HTTP API and websocket as its own web page drives it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import playground

PERFBOT = str(Path(sys.executable).parent / "perfbot")
NOW = "2026-11-23T10:00"  # October's returns (2026/27 M7) were due on Friday 20 November

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js is not installed, so the Playground cannot run"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def teams(ports: tuple[int, int]) -> Iterator[str]:
    """The Playground, pointed at where the bot will listen; it outlives the bot, so that
    nothing the bot sends at shutdown is left hanging."""
    process, port = playground.start(f"http://127.0.0.1:{ports[0]}/api/messages", port=ports[1])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        playground.stop(process)


@pytest.fixture
def bot(teams: str, server: tuple[str, Path]) -> tuple[str, Path]:
    """The bot with the Playground (as Amina) pointed at it."""
    return server


@pytest.fixture
def server(tmp_path: Path, ports: tuple[int, int]) -> Iterator[tuple[str, Path]]:
    """The bot's server on a real port, with the sample council in a database of its own:
    its /api/messages URL and the database file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
    fixture = str(Path(__file__).resolve().parents[2] / "sample" / "council")
    for args in (["db", "upgrade"], ["import", fixture]):
        subprocess.run([PERFBOT, *args], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = ports[0]
    log = tmp_path / "server.log"
    sink = log.open("w")  # a file, not a pipe: an unread pipe fills and stalls the server
    server = subprocess.Popen(
        [PERFBOT, "serve", "--port", str(port), "--now", NOW],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=sink,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.terminate()
        pytest.fail("perfbot serve did not answer /healthz within 30 s")
    try:
        yield f"http://127.0.0.1:{port}/api/messages", tmp_path / "perfbot.db"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise AssertionError(f"the server did not stop:\n{log.read_text()[-4000:]}") from None
        finally:
            sink.close()
        assert "Traceback" not in log.read_text(), log.read_text()


class Chat:
    """The personal chat, read from the Playground's websocket (bot messages only)."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session
        self.events: list[dict[str, Any]] = []

    async def connect(self) -> None:
        config = await (await self.session.get(f"{self.base}/_internal/v1/config")).json()
        self.me = config["config"]["currentUser"]["id"]
        self.chat = config["config"]["personalChat"]["id"]
        ws_url = self.base.replace("http", "ws") + "/_ws_conversation/v1/conversations/stream"
        self.ws = await self.session.ws_connect(ws_url)

    @classmethod
    async def installed(cls, base: str, session: aiohttp.ClientSession) -> Chat:
        """The personal chat, connected, after installing PerfBot in it as a user would."""
        chat = cls(base, session)
        await chat.connect()
        await chat.install()
        return chat

    async def expect_card(
        self, action: str, within: float = 20, showing: str | None = None
    ) -> dict[str, Any]:
        """The next message of this kind that is a card (showing this text, if given)."""
        end = time.monotonic() + within
        while True:
            message = await self.expect(action, max(end - time.monotonic(), 0.1), showing)
            if message.get("attachments"):
                return message

    async def install(self) -> None:
        response = await self.session.post(
            f"{self.base}/_debug/conversation/{self.chat}/installation", json={}
        )
        assert response.status == 200

    async def expect(
        self, action: str, within: float = 20, showing: str | None = None
    ) -> dict[str, Any]:
        """The next event of this kind in the personal chat (showing this text, if given:
        other messages, such as a chaser the server queued on start-up, are passed over)."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            message = await asyncio.wait_for(self.ws.receive(), end - time.monotonic())
            event = json.loads(message.data)
            shown = json.dumps(event["message"], ensure_ascii=False)
            if (
                event["action"] == action
                and event["actionConversationId"] == self.chat
                and (showing is None or showing in shown)
            ):
                return event["message"]
        raise AssertionError(f"no {action} within {within} s")

    async def say(self, text: str) -> None:
        response = await self.session.post(
            f"{self.base}/_conversation/v1/conversations/{self.chat}/messages",
            json={"from": {"id": self.me}, "text": text, "textFormat": "plain"},
        )
        assert response.status == 200, await response.text()

    async def submit(self, card_id: str, value: dict[str, Any]) -> None:
        response = await self.session.post(
            f"{self.base}/_conversation/v1/submit",
            json={
                "conversation": {"id": self.chat},
                "replyToId": card_id,
                "from": {"id": self.me},
                "value": value,
            },
        )
        assert response.status == 200, await response.text()


def card(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    return attachment["content"]


def text_of(node: Any) -> str:
    return json.dumps(node, ensure_ascii=False)


async def test_an_owner_installs_lists_measures_submits_a_return_and_sees_the_receipt(teams, bot):
    async with aiohttp.ClientSession() as session:
        chat = await Chat.installed(teams, session)
        welcome = card(await chat.expect("createMessage", showing="I'm PerfBot"))
        assert "Hello Amina Hussain, I'm PerfBot" in text_of(welcome)

        await chat.say("my measures")
        listed = await chat.expect("createMessage", showing="waiting for a figure")
        listing = card(listed)
        assert "RB-01 · Council tax collected in year" in text_of(listing)
        assert "2026/27 M7 · due Fri 20 Nov · OVERDUE" in text_of(listing)
        button = next(
            item["actions"][0]
            for container in listing["body"]
            if container["type"] == "Container"
            for item in container["items"]
            if item["type"] == "ActionSet" and item["actions"][0]["data"]["code"] == "RB-01"
        )
        await chat.submit(listed["messageId"], button["data"])  # press "Submit RB-01"
        message = await chat.expect("createMessage", showing="Actual for 2026/27 M7")
        form = card(message)
        assert "Actual for 2026/27 M7" in text_of(form)
        submit = next(a for a in form["actions"] if a["title"] == "Submit")

        await chat.submit(
            message["messageId"],
            {
                **submit["data"],
                "actual": "66.5%",
                "commentary": "On profile after the October run.",
                "action": "",
                "action_due": "",
            },
        )
        receipt = await chat.expect("updateMessage")
        assert receipt["messageId"] == message["messageId"]  # the card was replaced in place
        shown = text_of(card(receipt))
        assert "Received: RB-01 · Council tax collected in year, 2026/27 M7" in shown
        assert "66.5% against a target of 66.3% is 0.3% better than target: Good." in shown

    with sqlite3.connect(bot[1]) as database:
        rows = database.execute(
            "SELECT r.value, r.version, r.source, p.email FROM returns r "
            "JOIN measures m ON m.id = r.measure_id JOIN people p ON p.id = r.submitted_by_id "
            "WHERE m.code = 'RB-01' AND r.period = '2026/27 M7'"
        ).fetchall()
    assert rows == [("66.5", 1, "teams", "amina.hussain@kingsmere.gov.uk")]


async def test_a_reminder_queued_by_perfbot_jobs_run_arrives_in_the_playground_chat(teams, bot):
    async with aiohttp.ClientSession() as session:
        chat = await Chat.installed(teams, session)
        await chat.expect("createMessage", showing="I'm PerfBot")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
        # Thursday 19 November 2026, 09:00: one working day before October's deadline
        job = await asyncio.create_subprocess_exec(
            PERFBOT,
            "jobs",
            "run",
            "reminders",
            "--now",
            "2026-11-19T09:00",
            cwd=bot[1].parent,
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        queued, _ = await job.communicate()
        assert job.returncode == 0
        assert "reminder:RB-01:2026/27 M7:T-1:" in queued.decode()

        # The Playground shows a message's text and its card as two chat messages.
        texts, cards = [], []
        while len(texts) < 2 or len(cards) < 2:
            message = await chat.expect("createMessage")
            if message.get("text"):
                texts.append(message["text"])
            if message.get("attachments"):
                cards.append(card(message))
        assert all("Actual for 2026/27 M7" in text_of(c) for c in cards)
        seen = texts
        assert sorted(t.split()[1] for t in seen) == ["RB-01", "RB-02"]
        assert any(
            t.startswith(
                "Reminder: RB-01 Council tax collected in year for 2026/27 M7 is due on Friday 20 November."
            )
            for t in seen
        )


def submit_button(form: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in form["actions"] if a["title"] == "Submit")


async def submit_and_confirm(chat: Any, card_id: str, form: dict[str, Any], **typed: str) -> str:
    """Press Submit with what was typed; if PerfBot asks "did you mean", press "Yes, … is
    right" on the card it put in place of the form. The receipt's text."""
    await chat.submit(card_id, {**submit_button(form)["data"], **typed})
    answer = card(await chat.expect("updateMessage"))
    yes = [a for a in answer.get("actions", []) if str(a.get("title", "")).startswith("Yes, ")]
    if not yes:
        return text_of(answer)
    await chat.submit(card_id, {**yes[0]["data"], **typed})
    return text_of(card(await chat.expect("updateMessage")))


def shown_card_button(form: dict[str, Any], title: str) -> dict[str, Any]:
    """The submit button inside an Action.ShowCard of the card (the form it opens)."""
    shown = next(a for a in form["actions"] if a["title"] == title)
    assert shown["type"] == "Action.ShowCard"
    return shown["card"]["actions"][0]


@contextlib.asynccontextmanager
async def playground_as(who: str, bot_url: str) -> AsyncIterator[Chat]:
    """The Playground as ``who`` (sample/playground.yml, or sample/playground-mark.yml for
    Mark Taylor) pointed at the running bot, its personal chat connected: one at a time, as
    someone running `make run` and then `make run AS=mark` has it."""
    process, port = playground.start(bot_url, port=free_port(), config=playground.config_path(who))
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(f"http://127.0.0.1:{port}", session)
            await chat.connect()
            yield chat
    finally:
        playground.stop(process)


async def test_an_action_return_reaches_the_escalation_owner_whose_buttons_work(server):
    """The manager's side, as `make run` then `make run AS=mark` show it: Amina's Action
    return becomes an escalation card in Mark Taylor's chat with her words; he acknowledges
    and agrees a remedial action; her next card for the measure lists it."""
    bot_url, database = server
    async with playground_as("amina", bot_url) as chat:
        await chat.install()
        await chat.expect("createMessage", showing="I'm PerfBot")
        await chat.say("submit RB-01")
        message = await chat.expect_card("createMessage", showing="Actual for 2026/27 M7")
        receipt = await submit_and_confirm(  # past the "did you mean" query: the figure is real
            chat,
            message["messageId"],
            card(message),
            actual="50%",
            commentary="Billing run failed on 2 November; 4,000 bills went out late.",
            action="Re-run billing and add two weekend recovery sessions.",
            action_due="2026-12-18",
        )
        assert "Received: RB-01" in receipt
        assert "Action" in receipt
        assert "Mark Taylor" in receipt  # it says where the escalation went, truthfully

    async with playground_as("mark", bot_url) as chat:
        await chat.install()
        # Installing PerfBot makes Mark reachable: the escalation that waited for him arrives.
        message = await chat.expect_card("createMessage", within=40, showing="Escalation: RB-01")
        escalation = card(message)
        shown = text_of(escalation)
        assert "Billing run failed on 2 November; 4,000 bills went out late." in shown
        assert "Re-run billing and add two weekend recovery sessions." in shown
        assert "Amina Hussain" in shown
        acknowledge = next(a for a in escalation["actions"] if a["title"] == "Acknowledge")
        await chat.submit(message["messageId"], acknowledge["data"])
        updated = await chat.expect("updateMessage", showing="acknowledged")
        assert updated["messageId"] == message["messageId"]  # replaced in place
        assert "Mark Taylor acknowledged it" in text_of(card(updated))

        agree = shown_card_button(escalation, "Agree remedial action")
        await chat.submit(
            message["messageId"],
            {
                **agree["data"],
                "remedial": "Two agency officers on arrears until the January run.",
                "remedial_owner": "amina.hussain@kingsmere.gov.uk",
                "remedial_due": "2027-01-15",
            },
        )
        updated = await chat.expect("updateMessage", showing="Two agency officers")
        assert updated["messageId"] == message["messageId"]

    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT a.description, p.email FROM action_plans a "
            "JOIN people p ON p.id = a.owner_id WHERE a.source = 'agreed'"
        ).fetchall()
    assert rows == [
        ("Two agency officers on arrears until the January run.", "amina.hussain@kingsmere.gov.uk")
    ]

    async with playground_as("amina", bot_url) as chat:
        await chat.say("submit RB-01")
        form = text_of(card(await chat.expect_card("createMessage", showing="RB-01")))
        assert "Two agency officers on arrears until the January run." in form
        assert "Friday 15 January" in form


def item_button(form: dict[str, Any], title: str, code: str) -> dict[str, Any]:
    """A review card's button (or the submit inside its ShowCard) on the item for ``code``."""
    for container in form["body"]:
        if container.get("type") != "Container" or code not in text_of(container["items"][0]):
            continue
        [buttons] = [i for i in container["items"] if i.get("type") == "ActionSet"]
        action = next(a for a in buttons["actions"] if a["title"] == title)
        return action["card"]["actions"][0] if action["type"] == "Action.ShowCard" else action
    raise AssertionError(f"no {title} for {code} on the card")


async def test_mark_returns_aminas_figure_she_sends_it_again_and_he_approves_it(server):
    """Sign-off as `make run` and `make run AS=mark` show it (both Playgrounds open at once,
    as two people at their desks): Mark returns Amina's figure with a comment, her return
    card comes back to her filled in with it, she sends it again, and he approves it."""
    bot_url, database = server
    async with playground_as("amina", bot_url) as amina, playground_as("mark", bot_url) as mark:
        await amina.install()
        await amina.expect("createMessage", showing="I'm PerfBot")
        await mark.install()
        await mark.expect("createMessage", showing="I'm PerfBot")
        await amina.say("submit RB-02")
        message = await amina.expect_card("createMessage", showing="Actual for 2026/27 M7")
        receipt = await submit_and_confirm(
            amina,
            message["messageId"],
            card(message),
            actual="67.4%",
            commentary="Two large ratepayers paid their annual bills early.",
            action="",
            action_due="",
        )
        assert "It goes to Mark Taylor (the escalation owner) to approve." in receipt

        await mark.say("review")
        message = await mark.expect_card("createMessage", showing="awaits your approval")
        review = card(message)
        assert "Two large ratepayers paid their annual bills early." in text_of(review)
        back = item_button(review, "Return with comment", "RB-02")
        comment = f"comment_{back['data']['return']}"
        await mark.submit(
            message["messageId"],
            {**back["data"], comment: "Name the two ratepayers' sectors, please."},
        )
        await mark.expect("updateMessage", showing="Returned RB-02 for 2026/27 M7")

        returned = await amina.expect_card("createMessage", within=40, showing="returned this")
        form = card(returned)
        assert "Name the two ratepayers' sectors, please." in text_of(form)
        typed = {i["id"]: i.get("value", "") for i in form["body"] if i["type"] == "Input.Text"}
        assert typed["actual"] == "67.4"
        typed.update(commentary="Two logistics firms paid their annual bills early.", action_due="")
        receipt = await submit_and_confirm(amina, returned["messageId"], form, **typed)
        assert "Mark Taylor, who returned it, is sent it again to approve." in receipt

        again = await mark.expect_card("createMessage", within=40, showing="sent RB-02 again")
        approve = item_button(card(again), "Approve", "RB-02")
        await mark.submit(again["messageId"], approve["data"])
        await mark.expect("updateMessage", showing="Approved RB-02")

    with sqlite3.connect(database) as db:
        states = db.execute(
            "SELECT r.version, r.state FROM returns r JOIN measures m ON m.id = r.measure_id "
            "WHERE m.code = 'RB-02' AND r.period = '2026/27 M7' ORDER BY r.version"
        ).fetchall()
    assert states == [(1, "returned"), (2, "approved")]


# ---- the weekly summary in the team channel --------------------------------------------

SUMMARY_TEAM = "19:leadership@thread.tacv2"  # sample/playground.yml: its General channel's id too
SUMMARY_BOT = "28:perfbot-kingsmere"


async def next_in(chat: Chat, conversations: set[str], within: float = 30) -> dict[str, Any]:
    """The next message the bot posts in one of these conversations (a channel or thread)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        message = await asyncio.wait_for(chat.ws.receive(), end - time.monotonic())
        event = json.loads(message.data)
        if event["action"] == "createMessage" and event["actionConversationId"] in conversations:
            return event["message"]
    raise AssertionError(f"nothing in {conversations} within {within} s")


async def perfbot_run(cwd: Any, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
    job = await asyncio.create_subprocess_exec(
        PERFBOT, *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await job.communicate()
    assert job.returncode == 0, out
    return out.decode()


async def test_the_summary_is_posted_in_the_playground_teams_channel(teams, bot):
    async with aiohttp.ClientSession() as session:
        chat = Chat(teams, session)
        await chat.connect()
        installed = await session.post(
            f"{teams}/_debug/conversation/{SUMMARY_TEAM}/installation", json={}
        )
        assert installed.status == 200
        notice = await next_in(chat, {SUMMARY_TEAM})
        assert "set leadership channel" in text_of(notice)

        # Amina (the Playground's user) is not in the performance team.
        posted = await session.post(
            f"{teams}/_conversation/v1/conversations/{SUMMARY_TEAM}/messages",
            json={
                "from": {"id": chat.me},
                "text": "<at>PerfBot</at> set leadership channel",
                "textFormat": "plain",
                "mentions": [{"mentioned": {"id": SUMMARY_BOT}, "text": "<at>PerfBot</at>"}],
            },
        )
        assert posted.status == 200, await posted.text()
        thread = (await posted.json()).get("postConversationId") or SUMMARY_TEAM
        refusal = await next_in(chat, {thread, SUMMARY_TEAM})
        assert "Only the performance team can choose where the weekly summary goes" in text_of(
            refusal
        )

        folder = bot[1].parent
        chosen = await perfbot_run(
            folder, "leadership", "set-channel", "--team", "Leadership Team", "--channel", "General"
        )
        assert "will be posted in the channel General" in chosen
        queued = await perfbot_run(
            folder, "jobs", "run", "weekly-summary", "--now", "2026-11-23T10:00"
        )
        # Queued by this command, or a moment before by the server's own scheduler, whose
        # catch-up run may come between the two commands: once either way.
        assert (
            f"weekly-summary:{SUMMARY_TEAM}:2026-11-23" in queued
            or "skipped 1: this week's summary was queued before" in queued
        ), queued
        summary = await next_in(chat, {SUMMARY_TEAM})
        while not summary.get("attachments"):  # its text and its card come as two messages
            summary = await next_in(chat, {SUMMARY_TEAM})
        [attachment] = summary["attachments"]
        shown = text_of(attachment["content"])
        assert "returns received" in shown
        # Its chart, inside the card as a data URI, with the figures in words beside it.
        [image] = [
            e
            for e in attachment["content"]["body"]
            if e.get("type") == "Image" and e.get("url", "").startswith("data:image/png;base64,")
        ]
        assert image["altText"].startswith("Ratings by service")


@pytest.fixture
def linking_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The bot as `perfbot serve` runs it for the Playground, told the address browsers
    reach it at (PERFBOT_PUBLIC_URL), so the links it gives open its own report pages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
    fixture = str(Path(__file__).resolve().parents[2] / "sample" / "council")
    for args in (["db", "upgrade"], ["import", fixture]):
        subprocess.run([PERFBOT, *args], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = free_port()
    env["PERFBOT_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [PERFBOT, "serve", "--port", str(port), "--now", NOW],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            server.terminate()
            pytest.fail(f"perfbot serve did not answer /healthz within 30 s: {log.read_text()}")
        try:
            yield f"http://127.0.0.1:{port}/api/messages", port
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def helen_config(folder: Path) -> Path:
    """The Playground as Helen Ashworth, Chief Executive (Leadership Team): Mark Taylor's
    sample configuration with her as the current user."""
    text = playground.config_path("mark").read_text()
    text = text.replace("29:mark-taylor", "29:helen-ashworth-me")
    text = text.replace("Mark Taylor", "Helen Ashworth").replace("Mark", "Helen")
    text = text.replace("Taylor", "Ashworth").replace("mark.taylor@", "helen.ashworth@")
    text = text.replace(
        "a1a1a1a1-0000-4000-8000-000000000002", "a1a1a1a1-0000-4000-8000-000000000005"
    )
    text = text.replace("a:perfbot-personal-mark", "a:perfbot-personal-helen")
    path = folder / "playground-helen.yml"
    path.write_text(text)
    return path


async def test_helen_presses_open_the_board_on_status_and_the_link_opens_the_board(
    linking_server, tmp_path
):
    bot_url, port = linking_server
    process, teams_port = playground.start(bot_url, port=free_port(), config=helen_config(tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(f"http://127.0.0.1:{teams_port}", session)
            await chat.connect()
            await chat.install()
            await chat.expect("createMessage", showing="Hello Helen Ashworth")
            await chat.say("status")
            status = await chat.expect_card("createMessage", showing="Status for Helen Ashworth")
            [button] = [a for a in card(status)["actions"] if a["title"] == "Open the board"]
            await chat.submit(status["messageId"], button["data"])
            reply = await chat.expect_card("createMessage", showing="Performance board:")
            linked = card(reply)
            assert "Performance board: 2026/27 Q2" in text_of(linked)
            assert "for all services" in text_of(linked)
            [open_url] = linked["actions"]
            assert open_url["type"] == "Action.OpenUrl"
            url = open_url["url"]
            assert url.startswith(f"http://127.0.0.1:{port}/reports/board/2026-27-Q2?link=")
            async with session.get(url) as page:
                body = await page.text()
                assert page.status == 200, body
                assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert "Performance board: 2026/27 Q2" in body
            assert "RB-01" in body
            assert "PL-01" in body  # the whole council's board: she is the Leadership Team
    finally:
        playground.stop(process)
