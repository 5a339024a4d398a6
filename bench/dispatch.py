"""Benchmark: the dispatcher sending N notifications (default 5,000) to N people through the
real adapter, against a loopback Bot Connector that enforces Teams' limits (50 sends a second
tenant-wide, 7 a second per conversation; a send over them earns a 429 with Retry-After: 1).

Six runs, each in its own process (so peak memory is its own), on a SQLite file, with the
connector in a process of its own too (as Microsoft's is not in the bot's):
  clean   no faults: achieved rate / 50 a second (target 0.9 or more), and no 429 earned
  faults  1% of sends answered 429 (Retry-After: 1) and 2% 503: nothing lost or duplicated
  open    limits lifted on both sides: the dispatcher's own ceiling (target 500 a second)
  open2   the same with PERFBOT_DISPATCHERS=2: this process sends the first share and
          `perfbot jobs run dispatch --shard 2/2 --until-stopped` (what `perfbot serve` starts)
          the second, each with half of the tenant rate
  loaded  the clean run on a starved machine: CPU burners in other processes (one per core
          and one more, by default, each spinning in short bursts), and the event loops of the
          dispatcher and of the connector each held now and then (as a busy server's is), so
          that messages go late after the limiter's yes and arrive late, some together;
          target: no window exceeded
  chats   the same load, and only a few busy chats (10 by default) that get 70 messages
          each, taking turns in the queue: the per-conversation windows (7/1 s, 8/2 s,
          60/30 s) on a starved machine; target: no window exceeded (its rate is the chats'
          windows', not a figure to compare)

The connector counts, by the arrival time it sees, every window a message arrived over:
more than 50 in any 1 s tenant-wide, more than 7 in 1 s, 8 in 2 s or 60 in 30 s in one
conversation (every arrival counts, answered or not), and the 429s it answered for them.

The rate is what the connector saw: messages delivered over the time from the first to the
last (so a second process's start-up is not counted against it).

    python bench/dispatch.py [--n 5000] [--runs clean,faults,open,open2,loaded,chats]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.cli import dispatcher_command  # noqa: E402
from bot.delivery import Dispatcher  # noqa: E402
from bot.loopback import LoopbackConnector  # noqa: E402
from bot.sealing import make_adapter  # noqa: E402
from bot.settings import Settings  # noqa: E402
from domain import db  # noqa: E402
from domain.model import ConversationRef, Notification, NotificationState, Person  # noqa: E402
from domain.reminders import SendWindow  # noqa: E402
from domain.uow import UnitOfWork  # noqa: E402

QUEUED = datetime(2026, 1, 1, tzinfo=UTC)


TENANT_WINDOW = (50, 1.0)
CONVERSATION_WINDOWS = ((7, 1.0), (8, 2.0), (60, 30.0))


class EnforcingConnector(LoopbackConnector):
    """Answers 429 to any send that arrives over Teams' windows (50 in 1 s tenant-wide; 7 in
    1 s, 8 in 2 s, 60 in 30 s in one conversation), counting each window a send went over,
    and (in the faults run) injects 429s and 503s at random. Every arrival counts in the
    windows, answered or not, at the time this process sees it."""

    def __init__(self, enforce: bool, faults: bool) -> None:
        super().__init__()
        self.enforce = enforce
        self.random_faults = faults
        self.tenant: deque[float] = deque()
        self.per_conversation: dict[str, deque[float]] = {}
        self.violations = 0  # 429s answered for a window
        self.over: Counter[str] = Counter()  # arrivals over each window
        self.injected = Counter()
        self.delivered: Counter[str] = Counter()
        self.first: float | None = None  # when the first and the last message arrived
        self.last = 0.0
        self.rng = random.Random(7)

    def _arrived(self, conversation: str, now: float) -> bool:
        """Count this arrival in the windows; True when it went over one of them."""
        over = False
        limit, period = TENANT_WINDOW
        while self.tenant and self.tenant[0] <= now - period:
            self.tenant.popleft()
        self.tenant.append(now)
        if len(self.tenant) > limit:
            self.over["tenant 50/1s"] += 1
            over = True
        mine = self.per_conversation.setdefault(conversation, deque())
        longest = max(p for _, p in CONVERSATION_WINDOWS)
        while mine and mine[0] <= now - longest:
            mine.popleft()
        mine.append(now)
        for limit, period in CONVERSATION_WINDOWS:
            if len(mine) > limit and mine[-limit - 1] > now - period:
                self.over[f"chat {limit}/{period:g}s"] += 1
                over = True
        return over

    async def _send(self, request: web.Request) -> web.Response:
        await request.json()
        conversation = request.match_info["cid"]
        now = time.monotonic()
        if self.enforce and self._arrived(conversation, now):
            self.violations += 1
            return web.json_response(
                {"error": {"code": "Throttled"}}, status=429, headers={"Retry-After": "1"}
            )
        if self.random_faults:
            roll = self.rng.random()
            if roll < 0.01:
                self.injected["429"] += 1
                return web.json_response(
                    {"error": {"code": "Throttled"}}, status=429, headers={"Retry-After": "1"}
                )
            if roll < 0.03:
                self.injected["503"] += 1
                return web.json_response({}, status=503)
        self.delivered[conversation] += 1
        self.last = time.monotonic()
        self.first = self.first or self.last
        return web.json_response({"id": f"activity-{len(self.delivered)}"})


def busy_rows(n: int, busy: int, each: int) -> list[tuple[int, int]]:
    """Where the busy chats' extra messages go in the queue: (position among the n people's
    rows, which busy chat), spread evenly through it, the chats taking turns, so that each
    busy chat is offered more than its windows allow."""
    extra = busy * each
    span = max(1, n)
    return [(k * span // extra, k % busy) for k in range(extra)] if extra else []


async def prepare(url: str, n: int, service_url: str, busy: int = 0, each: int = 0) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Person),
            [{"email": f"p{i}@bench.gov.uk", "name": f"Person {i}"} for i in range(n)],
        )
        ids = (await connection.execute(select(Person.id).order_by(Person.id))).scalars().all()
        await connection.execute(
            insert(ConversationRef),
            [
                {
                    "conversation_id": f"a:chat-{i}",
                    "scope": "personal",
                    "person_id": pid,
                    "tenant_id": "bench",
                    "service_url": service_url,
                    "bot_id": "28:perfbot",
                    "updated_at": QUEUED,
                    "reference": {
                        "user": {"id": f"29:p{i}"},
                        "bot": {"id": "28:perfbot"},
                        "channelId": "msteams",
                        "conversation": {"id": f"a:chat-{i}", "tenantId": "bench"},
                        "serviceUrl": service_url,
                    },
                }
                for i, pid in enumerate(ids)
            ],
        )
        # Rows are claimed in id order: the busy chats' extra rows are put among the others.
        extras: dict[int, list[int]] = {}
        for position, chat in busy_rows(n, busy, each):
            extras.setdefault(position, []).append(chat)
        rows = []
        for i, pid in enumerate(ids):
            for k, chat in enumerate(extras.get(i, [])):
                rows.append((f"delegated:B-{i}-{k}:{ids[chat]}", ids[chat], f"B-{i}-{k}"))
            rows.append((f"delegated:X-{i}:{pid}", pid, f"X-{i}"))
        await connection.execute(
            insert(Notification),
            [
                {
                    "reason_key": key,
                    "kind": "delegated",
                    "person_id": pid,
                    "payload": {"code": code, "by": "Bench"},
                    "not_before": QUEUED,
                    "state": NotificationState.PENDING.value,
                    "attempts": 0,
                    "created_at": QUEUED,
                }
                for key, pid, code in rows
            ],
        )
    await engine.dispose()


async def serve_connector(name: str) -> None:
    """The Bot Connector stand-in, in a process of its own as Microsoft's is: prints its
    address, then answers until stdin closes; GET /bench/stats gives its counts."""
    connector = EnforcingConnector(enforce=name != "open", faults=name == "faults")
    # Starved too (loaded): it sees messages late, some of them together.
    rng = random.Random(13)
    blocker = asyncio.create_task(block_the_loop(rng)) if name == "loaded" else None

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "delivered": connector.delivered,
                "violations": connector.violations,
                "over": connector.over,
                "injected": connector.injected,
                "window": connector.last - (connector.first or connector.last),
            }
        )

    connector.extra_routes = [web.get("/bench/stats", stats)]
    await connector.start()
    print(connector.url, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    if blocker is not None:
        blocker.cancel()
    await connector.stop()


# A CPU burner, as a busy neighbour is (a test run, another server): spins for 2-10 ms,
# rests for 5-30 ms, and so on until this process has gone (or it is killed). Several of them
# keep the cores contended, so that every process waits its turn now and then.
BURNER = """
import os, random, time
parent, rng = os.getppid(), random.Random(os.getpid())
while os.getppid() == parent:
    until = time.perf_counter() + rng.uniform(0.002, 0.01)
    while time.perf_counter() < until:
        pass
    time.sleep(rng.uniform(0.005, 0.03))
"""


async def block_the_loop(rng: random.Random) -> None:
    """The dispatcher's own event loop kept busy now and then, as a server's is by the turns
    it answers: every 50-250 ms the loop is held for 2-30 ms."""
    while True:
        await asyncio.sleep(rng.uniform(0.05, 0.25))
        until = time.perf_counter() + rng.uniform(0.002, 0.03)
        while time.perf_counter() < until:
            pass


async def scenario(name: str, n: int, burners: int, busy: int, each: int) -> dict:
    enforce = name in ("clean", "faults", "loaded", "chats")
    shards = 2 if name == "open2" else 1
    loaded = name in ("loaded", "chats")
    if name != "chats":
        busy = each = 0
    else:
        n = busy  # the busy chats' people only
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--connector",
            "loaded" if loaded else name if enforce else "open",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdin is not None
    url = child.stdout.readline().strip()
    folder = tempfile.mkdtemp()
    database = f"sqlite+aiosqlite:///{folder}/bench.db"
    await prepare(database, n, url, busy, each)
    settings = Settings(
        send_window=SendWindow(None, None),
        tenant_limits=[(50, 1.0)] if enforce else [(1_000_000, 1.0)],
        conversation_limits=[(7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0)]
        if enforce
        else [(1_000_000, 1.0)],
        claim_lease=120,
    )
    engine = db.create_engine(database)
    sessions = db.session_factory(engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    adapter, authentication, _ = make_adapter(settings, UnitOfWork(sessions), clock)
    dispatcher = Dispatcher(settings, sessions, adapter, clock, shard=(0, shards))
    others = [
        subprocess.Popen(
            [*dispatcher_command(), "--shard", f"{k + 1}/{shards}"],  # as `perfbot serve` does
            cwd=ROOT,
            env={
                **os.environ,
                "PERFBOT_DATABASE_URL": database,
                "PERFBOT_SEND_HOURS": "always",
                "PERFBOT_TENANT_RATE": "1000000/1",
                "PERFBOT_CONVERSATION_RATES": "1000000/1",
                "PERFBOT_CLAIM_LEASE_SECONDS": "120",
                "PERFBOT_DISPATCHERS": str(shards),
            },
        )
        for k in range(1, shards)
    ]
    burning = [
        subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(burners if loaded else 0)
    ]
    blocker = asyncio.create_task(block_the_loop(random.Random(11))) if loaded else None
    began = time.perf_counter()
    cpu = time.process_time()
    while True:
        report = await dispatcher.run_once()
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.state == NotificationState.PENDING)
            )
        if not pending:
            break
        if not report.sent:
            await asyncio.sleep(0.2)  # retries wait for their time
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    if blocker is not None:
        blocker.cancel()
    for burner in burning:
        burner.send_signal(signal.SIGKILL)
        burner.wait()
    for other in others:
        other.terminate()
        _, _, usage = os.wait4(other.pid, 0)
        other.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
    async with sessions() as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.state == NotificationState.SENT)
        )
    async with authentication.connection.session().get(f"{url}bench/stats") as answer:
        stats = await answer.json()
    await engine.dispose()
    await authentication.close()
    child.stdin.close()
    child.wait()
    delivered = Counter(stats["delivered"])
    expected = {f"a:chat-{i}" for i in range(n)}
    wanted = Counter({chat: 1 for chat in expected})
    for _, chat in busy_rows(n, busy, each):
        wanted[f"a:chat-{chat}"] += 1
    return {
        "run": name,
        "rate": delivered.total() / (stats["window"] or seconds),
        "seconds": seconds,
        "cpu_ms": cpu / max(1, delivered.total()) * 1000,
        "lost": sum((wanted - delivered).values()),
        "duplicates": sum((delivered - wanted).values()),
        "violations": stats["violations"],
        "over": stats["over"],
        "injected": stats["injected"],
        "marked_sent": sent,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


RUNS = ("clean", "faults", "open", "open2", "loaded", "chats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", default=",".join(RUNS), help="which runs, comma-separated")
    parser.add_argument(
        "--burners", type=int, default=(os.cpu_count() or 1) + 1, help="CPU burners (loaded)"
    )
    parser.add_argument("--busy", type=int, default=10, help="busy chats (chats)")
    parser.add_argument("--each", type=int, default=70, help="messages a busy chat gets (chats)")
    parser.add_argument("--scenario", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--connector", choices=("clean", "faults", "open", "loaded"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.connector:
        asyncio.run(serve_connector(args.connector))
        return
    if args.scenario:
        result = scenario(args.scenario, args.n, args.burners, args.busy, args.each)
        print(json.dumps(asyncio.run(result)))
        return
    runs = [run for run in args.runs.split(",") if run]
    if unknown := set(runs) - set(RUNS):
        parser.error(f"no such run: {', '.join(sorted(unknown))} (the runs: {', '.join(RUNS)})")
    print(f"{args.n:,} notifications to {args.n:,} people through the dispatcher (SQLite)")
    for name in runs:
        out = subprocess.run(
            [
                *(sys.executable, __file__, "--scenario", name, "--n", str(args.n)),
                *("--burners", str(args.burners), "--busy", str(args.busy)),
                *("--each", str(args.each)),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        over = sum(r["over"].values())
        line = (
            f"{r['run']:<7} {r['rate']:7.1f} sends/s  lost {r['lost']}  duplicates {r['duplicates']}  "
            f"429 for limits {r['violations']}  windows exceeded {over}"
            + (f" {dict(sorted(r['over'].items()))}" if over else "")
            + f"  peak memory {r['peak_mb']:.0f} MB  dispatcher CPU {r['cpu_ms']:.2f} ms a send"
        )
        if name == "clean":
            line += f"  rate / 50 permitted = {r['rate'] / 50:.2f} (target 0.9)"
        if name == "faults":
            line += f"  injected {r['injected']}"
        if name.startswith("open"):
            line += f"  ceiling vs 500/s target = {r['rate'] / 500:.2f}"
        if name == "loaded":
            line += f"  ({args.burners} CPU burners, busy loop; target: no window exceeded)"
        if name == "chats":
            line += (
                f"  ({args.burners} CPU burners, busy loop, {args.busy} chats x"
                f" {args.each + 1} messages; target: no window exceeded)"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
