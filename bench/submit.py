"""Benchmark: return-card submissions through the real HTTP endpoint.

N submissions (default 2,000) at C concurrent (default 50) are posted as Teams card submits
to `perfbot serve` running in its own process on a real port, with a loopback Bot Connector
(this process) taking the receipts. The same client first drives, in a process of its own
each and in the same run:

- a bare aiohttp handler that does nothing: the baseline the ratios are taken against;
- the floor: PerfBot's own application (the same endpoint, middleware, CloudAdapter and
  connector client) with a bot that does only what no submission can skip, replacing the
  submitted card with a receipt through the Bot Connector, and no database at all. No
  version of PerfBot can be faster than this on the same machine.

SQLite always; PostgreSQL too when --postgres or PERFBOT_TEST_POSTGRES_URL gives one.

    python bench/submit.py [--n 2000] [--concurrency 50] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.loopback import LoopbackConnector  # noqa: E402
from domain import db  # noqa: E402
from domain.importing import import_workbook  # noqa: E402
from domain.workbook import Sheet  # noqa: E402

NOW = "2026-11-04T10:00"  # October (2026/27 M7) is open and no reminder is due, so only submissions load the server
OWNERS = 200
PERFBOT = str(Path(sys.executable).parent / "perfbot")

BARE = """
import sys
from aiohttp import web
async def nothing(request):
    return web.Response(status=201)
app = web.Application()
app.router.add_post("/api/messages", nothing)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def serve_floor(port: int, processes: int, reuse_port: bool) -> None:
    """The floor's server: `create_app` as `perfbot serve` makes it, whose bot answers every
    message by replacing the card it came from with a receipt rendered once at start. With
    more than one process, each listens on the same port (SO_REUSEPORT) and the kernel shares
    the connections among them."""
    from decimal import Decimal

    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.schema import Activity, ActivityTypes

    from bot.app import BOT, create_app
    from bot.settings import Settings
    from cards import render as cards
    from domain.model import Measure
    from domain.numbers import Unit
    from domain.periods import Period
    from domain.ratings import Assessment, Direction, Rating
    from domain.returns import Receipt

    measure = Measure(code="BM-0001", title="Bench measure 1", unit=Unit.PERCENT, decimals=1)
    receipt = Receipt(
        measure,
        Period.parse("2026/27 M7"),
        "81.5%",
        Assessment(Rating.GOOD, Decimal("0.019"), "81.5% is 1.9% above the target of 80.0%."),
        Direction.IMPROVING,
        Direction.IMPROVING,
        1,
        None,
        "Nothing more is needed for now.",
    )
    receipt_card = cards.attachment(cards.receipt_card(receipt))

    class Floor(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.update_activity(
                Activity(
                    type=ActivityTypes.message,
                    id=turn_context.activity.reply_to_id,
                    attachments=[receipt_card],
                )
            )

    app = create_app(Settings.from_env({"PERFBOT_DATABASE_URL": "sqlite:///:memory:"}))

    async def floor_bot(app: web.Application) -> None:
        app[BOT] = Floor()  # type: ignore[assignment]  # the messaging endpoint calls on_turn only

    app.on_startup.append(floor_bot)  # after create_app's own start-up, which made the real bot
    others = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve-floor", str(port), "--reuse-port"],
            stdout=subprocess.PIPE,
        )
        for _ in range(processes - 1)
    ]

    async def others_ready(app: web.Application) -> None:
        if reuse_port:
            print("ready", flush=True)  # to the first process, which listens only after this
        for other in others:
            assert other.stdout is not None
            other.stdout.readline()

    async def stop_others(app: web.Application) -> None:
        for other in others:
            other.terminate()
            other.wait()  # so that their CPU is counted in this process's

    app.on_startup.append(others_ready)
    app.on_cleanup.append(stop_others)
    web.run_app(
        app,
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
        reuse_port=reuse_port or processes > 1,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def council(measures: int) -> dict[str, Sheet]:
    """A council with one monthly measure per submission, owned by 200 people, with history."""
    people = [
        (
            n,
            {
                "email": f"owner{n}@bench.gov.uk",
                "name": f"Owner {n}",
                "service": "Bench",
                "role": "owner",
            },
        )
        for n in range(OWNERS)
    ]
    rows, targets, actuals = [], [], []
    for n in range(measures):
        code = f"BM-{n:04d}"
        rows.append(
            (
                n + 2,
                {
                    "code": code,
                    "title": f"Bench measure {n}",
                    "service": "Bench",
                    "owner_email": f"owner{n % OWNERS}@bench.gov.uk",
                    "unit": "percent",
                    "polarity": "higher",
                    "frequency": "monthly",
                    "decimals": "1",
                },
            )
        )
        for month in range(3, 8):
            targets.append((0, {"code": code, "period": f"2026/27 M{month}", "target": "80"}))
        for month in range(3, 7):
            actuals.append(
                (
                    0,
                    {
                        "code": code,
                        "period": f"2026/27 M{month}",
                        "actual": "80.5",
                        "commentary": "On target.",
                    },
                )
            )
    return {
        "people": Sheet(
            "people", ["email", "name", "service", "role"], [(i + 2, p) for i, p in people]
        ),
        "measures": Sheet("measures", list(rows[0][1]), rows),
        "targets": Sheet("targets", ["code", "period", "target"], targets),
        "actuals": Sheet("actuals", ["code", "period", "actual", "commentary"], actuals),
    }


async def prepare(url: str, measures: int) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(session, council(measures), now=datetime.now(UTC))
    await engine.dispose()


async def wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(f"http://127.0.0.1:{port}/api/messages", data=b"") as r:
                    await r.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


def submission(n: int, service_url: str) -> dict:
    owner = n % OWNERS
    return {
        "type": "message",
        "id": f"in-{uuid.uuid4().hex}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": f"29:owner{owner}", "name": f"Owner {owner}", "aadObjectId": f"aad-{owner}"},
        "conversation": {
            "conversationType": "personal",
            "id": f"a:bench-{owner}",
            "tenantId": "bench",
        },
        "recipient": {"id": "28:perfbot", "name": "PerfBot"},
        "channelData": {"tenant": {"id": "bench"}},
        "replyToId": f"card-{n}",
        "value": {
            "verb": "submit_return",
            "code": f"BM-{n:04d}",
            "period": "2026/27 M7",
            "actual": "81.5%",
            "commentary": "Steady month.",
            "action": "",
            "action_due": "",
        },
    }


async def drive(port: int, bodies: list[dict], concurrency: int) -> tuple[float, list[float], int]:
    """Post every body with at most `concurrency` in flight; seconds, latencies, failures."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                start = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}/api/messages", json=body) as r:
                    await r.read()
                    if r.status != 201:
                        failures += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench_backend(
    name: str, url: str, n: int, concurrency: int, baseline_rate: float
) -> None:
    await prepare(url, n)
    command = [PERFBOT, "serve", "--port", "{port}", "--now", NOW]
    if os.environ.get("BENCH_PROFILE"):
        command = [sys.executable, os.environ["BENCH_PROFILE"], "{port}"]
    await bench_server(name, command, {"PERFBOT_DATABASE_URL": url}, n, concurrency, baseline_rate)


async def bench_server(
    name: str,
    command: list[str],
    env: dict[str, str],
    n: int,
    concurrency: int,
    baseline_rate: float,
) -> None:
    """Drive the server that `command` starts (``{port}`` in it is filled in) and print a row."""
    connector = LoopbackConnector()
    for owner in range(OWNERS):
        connector.add_member(
            f"29:owner{owner}", f"Owner {owner}", f"owner{owner}@bench.gov.uk", f"aad-{owner}"
        )
    await connector.start()
    port = free_port()
    environment = {**os.environ, **env}
    environment.pop("MicrosoftAppId", None)
    server = subprocess.Popen(
        [part.format(port=port) for part in command],
        env=environment,
        stdout=None if os.environ.get("BENCH_PROFILE") else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for(port)
        bodies = [submission(i, connector.url) for i in range(n)]
        seconds, latencies, failures = await drive(port, bodies, concurrency)
    finally:
        server.terminate()
        _, _, usage = os.wait4(server.pid, 0)
        server.returncode = 0
        await connector.stop()
    cpu = usage.ru_utime + usage.ru_stime
    rate = n / seconds
    receipts = len(connector.updates())
    print(
        f"{name:<10} {rate:8.0f}/s  p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  failures {failures}  receipts {receipts}/{n}  "
        f"vs bare handler {rate / baseline_rate:.2f}  (server CPU {cpu / n * 1000:.1f} ms a submission)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres", default=os.environ.get("PERFBOT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor, args.floor_processes, args.reuse_port)
    else:
        asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(port)])
    try:
        await wait_for(port)
        bodies = [submission(i, "http://127.0.0.1:9/") for i in range(args.n)]
        seconds, latencies, _ = await drive(port, bodies, args.concurrency)
    finally:
        bare.terminate()
        bare.wait()
    baseline = args.n / seconds
    print(f"{args.n:,} card submissions, {args.concurrency} concurrent, through POST /api/messages")
    print(
        f"{'bare':<10} {baseline:8.0f}/s  p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  (an aiohttp handler that does nothing)"
    )
    print(
        f"targets: p99 under 100 ms, and at least {baseline / 3:.0f}/s (a third of the bare handler)"
    )
    for processes in (1, 2):
        await bench_server(
            f"floor x{processes}",
            [sys.executable, __file__, "--serve-floor", "{port}", f"--floor-processes={processes}"],
            {},
            args.n,
            args.concurrency,
            baseline,
        )
    with tempfile.TemporaryDirectory() as folder:
        await bench_backend(
            "sqlite", f"sqlite+aiosqlite:///{folder}/bench.db", args.n, args.concurrency, baseline
        )
    if args.postgres:
        name = f"perfbot_bench_{uuid.uuid4().hex[:8]}"
        parsed = db.database_url(args.postgres)
        admin = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database,
        )
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await bench_backend(
                "postgresql",
                parsed.set(database=name).render_as_string(False),
                args.n,
                args.concurrency,
                baseline,
            )
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    else:
        print("postgresql skipped: give --postgres URL or set PERFBOT_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
