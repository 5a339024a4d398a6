"""Benchmark: return-card submissions through the real HTTP endpoint.

N submissions (default 2,000) at C concurrent (default 50) are posted as Teams card submits
to `perfbot serve` running in its own process on a real port, with a loopback Bot Connector
(this process) taking the receipts. The same client first drives, in a process of its own
each and in the same run:

- a bare aiohttp handler that does nothing: the baseline the ratios are taken against;
- the floor: PerfBot's own application (the same endpoint, middleware, CloudAdapter and
  connector client) with a bot that does only what no submission can skip: check the
  button's seal (issue 17) and replace the submitted card with a sealed receipt through the
  Bot Connector, with no other database work (its keys are read once from a prepared
  SQLite file). No version of PerfBot can be faster than this on the same machine.

Every submission carries the seal the real return card's Submit would carry (its hidden
values sealed with the bench database's card key). A receipt is counted only if it is one
(a card starting "Received: " for the measure submitted, not a refusal), and after each
PerfBot run the database must hold exactly n returns for the month, one per measure, each
version 1: both are printed. With --rss the server's resident memory (VmRSS) is printed at
intervals, to show it flat over a long run (``--n 10000 --rss``).

SQLite always; PostgreSQL too when --postgres or PERFBOT_TEST_POSTGRES_URL gives one.

    python bench/submit.py [--n 2000] [--concurrency 50] [--postgres URL] [--rss]
                           [--before /work/main/.venv/bin/perfbot]
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.loopback import LoopbackConnector, card_text  # noqa: E402
from cards.actions import Verb  # noqa: E402
from cards.seal import Keyring, seal  # noqa: E402
from domain import card_keys, db  # noqa: E402
from domain.importing import import_workbook  # noqa: E402
from domain.model import Return  # noqa: E402
from domain.workbook import Sheet  # noqa: E402

PERIOD = "2026/27 M7"
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


def serve_floor(port: int, processes: int, reuse_port: bool, url: str) -> None:
    """The floor's server: `create_app` as `perfbot serve` makes it, on the prepared database
    at ``url`` (for its card keys only), whose bot answers every message by checking the
    button's seal and replacing the card it came from with a receipt rendered once at start
    (sealed on its way out by PerfBot's middleware, as every card is). With more than one
    process, each listens on the same port (SO_REUSEPORT) and the kernel shares the
    connections among them."""
    from decimal import Decimal

    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.schema import Activity, ActivityTypes

    from bot.app import BOT, create_app
    from bot.sealing import Broken, CardKeys
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
        def __init__(self, keys: CardKeys) -> None:
            self.keys = keys

        async def on_message_activity(self, turn_context: TurnContext) -> None:
            try:
                await self.keys.check(turn_context.activity.value or {})
            except Broken:
                await turn_context.send_activity("That card has been changed.")
                return
            await turn_context.update_activity(
                Activity(
                    type=ActivityTypes.message,
                    id=turn_context.activity.reply_to_id,
                    attachments=[receipt_card],
                )
            )

    app = create_app(Settings.from_env({"PERFBOT_DATABASE_URL": url}))

    async def floor_bot(app: web.Application) -> None:
        keys = app[BOT].services.keys  # the CardKeys the sealing middleware reads too
        app[BOT] = Floor(keys)  # type: ignore[assignment]  # the messaging endpoint calls on_turn only

    app.on_startup.append(floor_bot)  # after create_app's own start-up, which made the real bot
    others = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-floor",
                str(port),
                "--reuse-port",
                "--floor-db",
                url,
            ],
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


async def prepare(url: str, measures: int) -> Keyring:
    """The bench council in a fresh database at ``url``, and its card keys (made here, as the
    first card PerfBot sent would make them)."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(session, council(measures), now=datetime.now(UTC))
        keys = await card_keys.in_use(session, datetime.now(UTC))
    await engine.dispose()
    return Keyring(keys, max(keys))


async def stored(url: str) -> tuple[int, int, int]:
    """The month's returns in the database: rows, distinct measures, rows not version 1."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            month = Return.period == PERIOD
            rows = await connection.scalar(select(func.count()).where(month))
            measures = await connection.scalar(
                select(func.count(func.distinct(Return.measure_id))).where(month)
            )
            later = await connection.scalar(select(func.count()).where(month, Return.version != 1))
    finally:
        await engine.dispose()
    return int(rows or 0), int(measures or 0), int(later or 0)


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


def sealed(value: dict, keyring: Keyring) -> dict:
    """``value`` with the seal the return card's Submit button carries: its hidden values
    (code, period, confirmed; use_suggestion is absent) sealed as cards/seal.py seals a card."""
    card = {"type": "Action.Submit", "data": dict(value)}
    return seal(card, keyring)["data"]  # type: ignore[no-any-return]


def submission(n: int, service_url: str, keyring: Keyring | None) -> dict:
    owner = n % OWNERS
    value = {
        "verb": Verb.SUBMIT_RETURN.value,
        "code": f"BM-{n:04d}",
        "period": PERIOD,
        "confirmed": "",  # as the card writes it when no plausibility question was asked
    }
    if keyring is not None:
        value = sealed(value, keyring)
    value.update(  # the inputs, which Teams adds beside the button's data (not sealed)
        {
            "actual": "81.5%",
            "commentary": "Steady month.",
            "action": "",
            "action_due": "",
        }
    )
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
        "value": value,
    }


async def drive(
    port: int,
    bodies: list[dict],
    concurrency: int,
    progress: Callable[[int], None] = lambda done: None,
) -> tuple[float, list[float], int]:
    """Post every body with at most `concurrency` in flight; seconds, latencies, failures.
    ``progress`` is told how many are done after each one."""
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
                progress(len(latencies))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, failures


def rss_mb(pid: int) -> float:
    """The resident memory of a process, in MB, as /proc/PID/status gives it (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def real_receipts(connector: LoopbackConnector, same_measure: bool) -> tuple[int, list[str]]:
    """The card updates that are a receipt ("Received: ..."), not a refusal or the return
    card sent back; with ``same_measure``, only the receipt for the measure submitted on that
    card (card-N is BM-N's). Also the first words of a few of the others, to say what went
    wrong."""
    found, others = 0, []
    for call in connector.updates():
        n = int((call.activity_id or "card--1").removeprefix("card-"))
        expected = f"Received: BM-{n:04d} · " if same_measure else "Received: "
        texts = [card_text(card) for card in connector.cards([call])]
        if any(text.startswith(expected) for text in texts):
            found += 1
        else:
            others.append(f"{call.activity_id}: {' '.join(texts)[:120]!r}")
    others += [f"sent: {text[:120]!r}" for text in connector.texts()]
    return found, others[:3]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench_backend(
    name: str,
    url: str,
    n: int,
    concurrency: int,
    baseline_rate: float,
    rss: bool,
    perfbot: str = PERFBOT,
) -> tuple[float, float]:
    """A fresh bench council at ``url`` served by ``perfbot serve`` (this checkout's, or
    another's given by --before), driven and checked; its throughput and p99."""
    keyring = await prepare(url, n)
    command = [perfbot, "serve", "--port", "{port}", "--now", NOW]
    if os.environ.get("BENCH_PROFILE"):
        command = [sys.executable, os.environ["BENCH_PROFILE"], "{port}"]
    result = await bench_server(
        name, command, {"PERFBOT_DATABASE_URL": url}, n, concurrency, baseline_rate, keyring, rss
    )
    rows, measures, later = await stored(url)
    verdict = "ok" if (rows, measures, later) == (n, n, 0) else "WRONG"
    print(
        f"{'':<17} stored: {rows}/{n} returns for {PERIOD}, {measures} measures, "
        f"{later} not version 1: {verdict}"
    )
    return result


async def bench_server(
    name: str,
    command: list[str],
    env: dict[str, str],
    n: int,
    concurrency: int,
    baseline_rate: float,
    keyring: Keyring,
    rss: bool = False,
    same_measure: bool = True,
) -> tuple[float, float]:
    """Drive the server that `command` starts (``{port}`` in it is filled in) and print a row;
    its throughput and p99."""
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
    memory: list[tuple[int, float]] = []
    step = max(1, n // 10)

    def sample(done: int) -> None:
        if rss and done % step == 0:
            memory.append((done, rss_mb(server.pid)))

    try:
        await wait_for(port)
        if rss:
            memory.append((0, rss_mb(server.pid)))
        bodies = [submission(i, connector.url, keyring) for i in range(n)]
        seconds, latencies, failures = await drive(port, bodies, concurrency, sample)
    finally:
        server.terminate()
        _, _, usage = os.wait4(server.pid, 0)
        server.returncode = 0
        await connector.stop()
    cpu = usage.ru_utime + usage.ru_stime
    rate = n / seconds
    p99 = percentile(latencies, 99)
    receipts, others = real_receipts(connector, same_measure=same_measure)
    print(
        f"{name:<17} {rate:8.0f}/s  p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {p99 * 1000:6.1f} ms  failures {failures}  receipts {receipts}/{n}  "
        f"vs bare handler {rate / baseline_rate:.2f}  (server CPU {cpu / n * 1000:.1f} ms a submission)"
    )
    if others:
        print(f"{'':<17} not receipts, e.g. " + "; ".join(others))
    if memory:
        print(
            f"{'':<17} server RSS (MB) after "
            + ", ".join(f"{done:,}: {mb:.0f}" for done, mb in memory)
        )
    return rate, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres", default=os.environ.get("PERFBOT_TEST_POSTGRES_URL", ""))
    parser.add_argument(
        "--rss", action="store_true", help="print the server's memory (VmRSS) at intervals"
    )
    parser.add_argument(
        "--before",
        metavar="PERFBOT",
        default="",
        help="also drive another checkout's perfbot (e.g. main's .venv/bin/perfbot) on each "
        "database, just before this one's, for a before-and-after in the same run",
    )
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--floor-db", default="", help=argparse.SUPPRESS)
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor, args.floor_processes, args.reuse_port, args.floor_db)
    else:
        asyncio.run(run(args))


def against_floor(name: str, rate: float, p99: float, floor: tuple[float, float]) -> None:
    floor_rate, floor_p99 = floor
    throughput, latency = rate / floor_rate, p99 / floor_p99
    met = "met" if throughput >= 0.5 and latency <= 2 else "NOT met"
    print(
        f"{name:<17} vs floor x1: throughput {throughput:.2f} (target 0.5 or more), "
        f"p99 {latency:.2f}x (target 2x or less): {met}"
    )


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(port)])
    try:
        await wait_for(port)
        bodies = [submission(i, "http://127.0.0.1:9/", None) for i in range(args.n)]
        seconds, latencies, _ = await drive(port, bodies, args.concurrency)
    finally:
        bare.terminate()
        bare.wait()
    baseline = args.n / seconds
    print(f"{args.n:,} card submissions, {args.concurrency} concurrent, through POST /api/messages")
    print(
        f"{'bare':<17} {baseline:8.0f}/s  p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  (an aiohttp handler that does nothing)"
    )
    print(
        "targets: PerfBot at least 0.5 of floor x1's throughput and its p99 within 2x floor "
        "x1's, every receipt delivered and every return stored once"
    )
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        floor_url = f"sqlite+aiosqlite:///{folder}/floor.db"
        floor_keys = await prepare(floor_url, 1)  # the floor reads only its card keys
        for processes in (1, 2):
            results[f"floor x{processes}"] = await bench_server(
                f"floor x{processes}",
                [
                    sys.executable,
                    __file__,
                    "--serve-floor",
                    "{port}",
                    f"--floor-processes={processes}",
                    "--floor-db",
                    floor_url,
                ],
                {},
                args.n,
                args.concurrency,
                baseline,
                floor_keys,
                same_measure=False,  # its one receipt, rendered at start, is BM-0001's
            )
        if args.before:
            results["sqlite before"] = await bench_backend(
                "sqlite before",
                f"sqlite+aiosqlite:///{folder}/before.db",
                args.n,
                args.concurrency,
                baseline,
                args.rss,
                args.before,
            )
        results["sqlite"] = await bench_backend(
            "sqlite",
            f"sqlite+aiosqlite:///{folder}/bench.db",
            args.n,
            args.concurrency,
            baseline,
            args.rss,
        )
    if args.postgres:
        runs = [("postgresql before", args.before)] if args.before else []
        for row, perfbot in [*runs, ("postgresql", PERFBOT)]:
            results[row] = await bench_postgres(row, args, baseline, perfbot)
    else:
        print("postgresql skipped: give --postgres URL or set PERFBOT_TEST_POSTGRES_URL")
    for row in ("sqlite before", "sqlite", "postgresql before", "postgresql"):
        if row in results:
            against_floor(row, *results[row], results["floor x1"])


async def bench_postgres(
    row: str, args: argparse.Namespace, baseline: float, perfbot: str
) -> tuple[float, float]:
    """bench_backend on a PostgreSQL database of its own, dropped afterwards."""
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
        return await bench_backend(
            row,
            parsed.set(database=name).render_as_string(False),
            args.n,
            args.concurrency,
            baseline,
            args.rss,
            perfbot,
        )
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    main()
