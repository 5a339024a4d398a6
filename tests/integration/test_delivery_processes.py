"""Delivery across real processes: `perfbot serve` killed in the middle of 1,000 sends and
started again delivers every one; two servers on one PostgreSQL deliver each exactly once.
The Bot Connector is a loopback server in this test process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.loopback import LoopbackConnector
from domain import db
from domain.importing import import_workbook
from domain.model import ConversationRef, Notification, NotificationState
from domain.workbook import Sheet
from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database

PERFBOT = str(Path(sys.executable).parent / "perfbot")
PEOPLE = 1000
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
QUEUED = datetime(2026, 1, 1, tzinfo=UTC)  # long due, whatever the real time


async def prepare(url: str, connector: LoopbackConnector) -> None:
    """1,000 people, each with a personal chat, each with one message queued."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    rows = [
        (i + 2, {"email": f"p{i}@council.gov.uk", "name": f"Person {i}"}) for i in range(PEOPLE)
    ]
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(
            session, {"people": Sheet("people", ["email", "name"], rows)}, now=NOW
        )
    async with db.session_factory(engine)() as session, session.begin():
        for n in range(PEOPLE):
            conversation = f"a:chat-{n}"
            session.add(
                ConversationRef(
                    conversation_id=conversation,
                    scope="personal",
                    person_id=n + 1,
                    tenant_id="tenant-1",
                    user_id=f"29:p{n}",
                    service_url=connector.url,
                    bot_id="28:perfbot",
                    updated_at=NOW,
                    reference={
                        "activityId": None,
                        "user": {"id": f"29:p{n}"},
                        "bot": {"id": "28:perfbot"},
                        "conversation": {
                            "id": conversation,
                            "conversationType": "personal",
                            "tenantId": "tenant-1",
                        },
                        "channelId": "msteams",
                        "serviceUrl": connector.url,
                    },
                )
            )
            session.add(
                Notification(
                    reason_key=f"delegated:X-{n}:p{n}",
                    kind="delegated",
                    person_id=n + 1,
                    payload={"code": f"X-{n}", "by": "The performance team"},
                    not_before=QUEUED,
                    state=NotificationState.PENDING,
                    created_at=NOW,
                )
            )
    await engine.dispose()


async def states(url: str) -> Counter[str]:
    engine = db.create_engine(url)
    async with db.session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(Notification.state, func.count()).group_by(Notification.state)
            )
        ).all()
    await engine.dispose()
    return Counter({state.value: count for state, count in rows})


STARTED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
async def no_server_left_running():
    """A test that fails midway still leaves no `perfbot serve` behind (its extra
    dispatchers follow it by themselves)."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def serve(url: str, folder: Path, name: str, **settings: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFBOT_", "Microsoft"))}
    env.update(
        PERFBOT_DATABASE_URL=url,
        PERFBOT_SEND_HOURS="always",
        PERFBOT_CLAIM_LEASE_SECONDS="5",
        PERFBOT_TENANT_RATE="400/1",
        **settings,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (folder / f"{name}.log").open("w") as log:  # the child keeps its own copy of the file
        process = await asyncio.create_subprocess_exec(
            PERFBOT,
            "serve",
            "--port",
            str(port),
            cwd=folder,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    STARTED.append(process)
    return process


async def until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not done within {seconds} s")


def delivered(connector: LoopbackConnector) -> Counter[str]:
    return Counter(call.conversation_id for call in connector.sent())


async def test_a_server_killed_in_the_middle_of_1000_sends_delivers_every_one_after_restart(
    tmp_path,
):
    connector = LoopbackConnector()
    await connector.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfbot.db'}"
    await prepare(url, connector)
    try:
        first = await serve(url, tmp_path, "first")

        async def some_sent() -> bool:
            return len(connector.sent()) >= 300

        await until(some_sent, 120)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        at_kill = len(delivered(connector))
        assert at_kill < PEOPLE, "the kill came too late to test anything"
        left = await states(url)
        assert left["pending"] > 0

        second = await serve(url, tmp_path, "second")

        async def all_sent() -> bool:
            return (await states(url))["sent"] == PEOPLE

        await until(all_sent, 180)
        second.send_signal(signal.SIGTERM)
        await second.wait()
    finally:
        await connector.stop()
    received = delivered(connector)
    assert set(received) == {f"a:chat-{n}" for n in range(PEOPLE)}  # nothing lost
    twice = [c for c, n in received.items() if n > 1]
    assert len(twice) <= 8, twice  # at most those in flight at the kill (8 at a time)
    assert all(n <= 2 for n in received.values())


@pytest.mark.postgres
@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL test is skipped",
)
async def test_two_servers_on_one_postgresql_deliver_each_notification_exactly_once(tmp_path):
    connector = LoopbackConnector()
    await connector.start()
    url, name = await fresh_postgres_database()
    try:
        await prepare(url, connector)
        servers = [await serve(url, tmp_path, "one"), await serve(url, tmp_path, "two")]

        async def all_sent() -> bool:
            return (await states(url))["sent"] == PEOPLE

        await until(all_sent, 180)
        for server in servers:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        logs = [(tmp_path / f"{n}.log").read_text() for n in ("one", "two")]
    finally:
        await connector.stop()
        await drop_postgres_database(name)
    received = delivered(connector)
    assert set(received) == {f"a:chat-{n}" for n in range(PEOPLE)}
    assert max(received.values()) == 1  # exactly once between them
    assert all("Traceback" not in log for log in logs)


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_a_server_with_two_dispatchers_shares_the_sends_and_stops_both(tmp_path):
    connector = LoopbackConnector()
    await connector.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'perfbot.db'}"
    await prepare(url, connector)
    try:
        server = await serve(url, tmp_path, "server", PERFBOT_DISPATCHERS="2")

        async def all_sent() -> bool:
            return (await states(url))["sent"] == PEOPLE

        await until(all_sent, 180)
        [helper] = children(server.pid)  # the second dispatcher, in a process of its own
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 60)
        log = (tmp_path / "server.log").read_text()
    finally:
        await connector.stop()
    received = delivered(connector)
    assert set(received) == {f"a:chat-{n}" for n in range(PEOPLE)}
    assert max(received.values()) == 1  # exactly once between them
    engine = db.create_engine(url)
    async with db.session_factory(engine)() as session:
        workers = await session.scalar(select(func.count(func.distinct(Notification.claimed_by))))
    await engine.dispose()
    assert workers == 2  # both sent their share
    assert server.returncode == 0
    assert not running(helper), "the second dispatcher outlived the server"
    assert "Traceback" not in log, log
