"""Benchmark: the reminder sweep, ``status`` and ``my measures`` for a large council.

The council is bench/council.py's (5,000 monthly measures, 522 people, three years of
history), imported with `perfbot import` into a SQLite file. On ``REMINDER_DAY`` (20
November 2026, October's deadline) every owner and delegate is owed a reminder: 6,667 at
5,000 measures. Then, in the same run:

- the sweep: `perfbot jobs run reminders --now 2026-11-20T10:00` as a real command, in a
  process of its own, with its wall time and peak RSS (os.wait4's ru_maxrss); checked to
  queue every reminder once (its printed keys, and the outbox's unique reason keys), then
  run again on the same database and checked to queue none. Baseline: `perfbot db status`
  (the same start-up, settings and engine, and one query) timed the same way; on SQLite
  also the floor, the statements the sweep needs in plain sqlite3 (every measure with its
  delegates, every return's and target's period, and the reminders inserted);
- ``my measures`` and ``status`` for owner000 (50 measures: the owner of a service's 50,
  and its Head of Service, so status shows those 50), and ``status`` for chief005 (an
  escalation owner over five services, 250 measures, for context), through the Teams
  command's own code (bot/teams/commands.py with its use cases and card render, on a
  stand-in for the turn that keeps the card as JSON instead of sending it), R times each
  (default 200, or as many as --budget seconds allow), p50 and p99 in ms, and my measures'
  use case alone (without the card). A card over Teams' size limit (cards/render.py's
  CardTooLarge) is timed as far as the render that refuses it and reported as a failure.
  Baseline: one ``SELECT 1`` in a unit of work on the same engine. With --leadership, also
  ``status`` once for chief000 (of the Leadership Team: all 5,000 measures), for context.

Every figure is printed with its target and its ratio to the baseline measured in the run.
SQLite always; PostgreSQL too when --postgres or PERFBOT_TEST_POSTGRES_URL gives one: a
database of its own is made (and dropped at the end) holding the same imported rows,
copied table by table from the SQLite import (importing twice would double the run;
--postgres-import imports into it instead).

    python bench/sweep.py [--measures 5000] [--runs 200] [--budget 30] [--sweeps 2]
                          [--postgres URL] [--postgres-import] [--cache DIR] [--leadership]

With --cache DIR, the SQLite import is kept in DIR under a key made of the council's CSV
files, the schema's revision and the importer's code (domain/importing.py,
domain/model.py, domain/workbook.py), and copied from there by a later run whose key is the
same; without it (the default) every run imports.

The council is imported as bench/council.py writes it: each measure has one open return
(2026/27 M7) at ``NOW``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench import council  # noqa: E402
from bot.supervision import settle_memory  # noqa: E402
from domain import db  # noqa: E402
from domain.model import Base, Notification, Person  # noqa: E402

T = TypeVar("T")

WHEN = council.NOW.strftime("%Y-%m-%dT%H:%M")  # London time: GMT in November
SWEEP_TARGET_S = 3.0
COMMAND_TARGET_MS = 50.0
OWNER = council.owner(0)  # 50 measures at 5,000
CHIEF = council.chief(5)  # escalation owner over five services, not leadership: 250
LEADER = council.chief(0)  # and one of the Leadership Team: status shows all 5,000
IMPORTER = ("domain/importing.py", "domain/model.py", "domain/workbook.py")
# perfbot as this checkout's code has it (not whatever the interpreter has installed).
PERFBOT = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def expected_reminders(measures: int) -> int:
    """Every measure's owner, and the delegate of every third: 6,667 at 5,000."""
    return measures + len(range(0, measures, 3))


# ---- the council, imported ------------------------------------------------------------


def write_council(folder: Path, measures: int) -> None:
    council.write(folder, measures)
    print(f"council: {measures:,} measures, imported as bench/council.py writes it")


def cache_key(folder: Path) -> str:
    digest = hashlib.sha256(str(db.head_revision()).encode())
    for path in sorted(folder.glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name in IMPORTER:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Ran:
    seconds: float
    cpu: float  # user + system
    rss_mb: float
    output: str
    code: int


# The command is started by a small launcher that forks it and reports its wall time, CPU
# and peak RSS (os.wait4): a child forked from this process itself would report this
# process's own RSS as its peak (Linux keeps the high-water mark across exec).
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, file=out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def perfbot(args: list[str], url: str) -> Ran:
    """A perfbot command in a process of its own: its wall time, CPU, peak RSS and output."""
    env = {**os.environ, "PERFBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.NamedTemporaryFile("r") as figures:
        child = subprocess.run(
            [sys.executable, "-c", LAUNCHER, figures.name, *PERFBOT, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
        seconds, cpu, rss = (float(x) for x in figures.read().split())
        out.seek(0)
        return Ran(seconds, cpu, rss / 1024, out.read(), child.returncode)


def must(ran: Ran, what: str) -> Ran:
    if ran.code:
        raise SystemExit(f"{what} failed ({ran.code}):\n{ran.output[-3000:]}")
    return ran


def import_sqlite(path: Path, measures: int, cache: Path | None) -> None:
    """The council imported into ``path`` by `perfbot import` (or copied from the cache)."""
    url = f"sqlite+aiosqlite:///{path}"
    with tempfile.TemporaryDirectory(prefix="perfbot-bench-council-") as name:
        folder = Path(name)
        write_council(folder, measures)
        cached = cache / f"council-{measures}-{cache_key(folder)}.db" if cache else None
        if cached is not None and cached.exists():
            shutil.copyfile(cached, path)
            print(f"council: the import cached as {cached} (the same CSV, schema and importer)")
            return
        must(perfbot(["db", "upgrade"], url), "perfbot db upgrade")
        ran = must(perfbot(["import", str(folder)], url), "perfbot import")
        print(f"council: imported in {ran.seconds:.1f} s, peak RSS {ran.rss_mb:.0f} MB")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, cached)
        print(f"council: cached as {cached}")


async def copy_rows(source: str, target: str) -> None:
    """Every table's rows from one database into another of the same schema (ids kept,
    PostgreSQL's sequences moved past them)."""
    reader, writer = db.create_engine(source), db.create_engine(target)
    try:
        async with reader.connect() as src, writer.begin() as dst:
            # people and services refer to each other, so no table order satisfies the
            # foreign keys row by row: they are not checked during the copy (the rows are
            # an imported database's, consistent already); this needs the server's superuser
            await dst.execute(text("SET LOCAL session_replication_role = replica"))
            for table in Base.metadata.sorted_tables:
                rows = [dict(r._mapping) for r in await src.execute(select(table))]
                for start in range(0, len(rows), 5000):
                    await dst.execute(insert(table), rows[start : start + 5000])
                if "id" in table.c and rows:
                    await dst.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    finally:
        await reader.dispose()
        await writer.dispose()


# ---- the sweep --------------------------------------------------------------------------


def reminders_queued(ran: Ran) -> list[str]:
    """The reason keys `perfbot jobs run reminders` printed as queued, checked against its
    count."""
    lines = [line for line in ran.output.splitlines() if not line.startswith("20")]  # logs
    header = next(line for line in lines if line.startswith("reminders at "))
    count = int(header.rsplit(": ", 1)[1].split()[0])
    keys = [line.strip() for line in lines if line.startswith("  reminder:")]
    assert len(keys) == count, f"{count} queued but {len(keys)} keys printed"
    return keys


async def outbox_rows(url: str) -> tuple[int, int]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            found = (
                await connection.execute(
                    select(func.count(), func.count(Notification.reason_key.distinct()))
                )
            ).one()
            return int(found[0]), int(found[1])
    finally:
        await engine.dispose()


@dataclass
class Figures:
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)

    def add(self, ran: Ran) -> None:
        self.seconds.append(ran.seconds)
        self.cpu.append(ran.cpu)
        self.rss.append(ran.rss_mb)

    def spread(self) -> str:
        s, c, m = self.seconds, self.cpu, self.rss
        return (
            f"{min(s):5.2f}-{max(s):5.2f} s (CPU {min(c):5.2f}-{max(c):5.2f} s), "
            f"peak RSS {min(m):4.0f}-{max(m):4.0f} MB"
        )


async def bench_sweep(
    name: str, fresh: Callable[[], Awaitable[str]], sweeps: int, expected: int
) -> None:
    """`perfbot jobs run reminders` twice on each of ``sweeps`` fresh copies of the council,
    beside `perfbot db status` on the same copy."""
    base, first, again = Figures(), Figures(), Figures()
    for _ in range(sweeps):
        url = await fresh()
        base.add(must(perfbot(["db", "status"], url), "perfbot db status"))
        ran = must(perfbot(["jobs", "run", "reminders", "--now", WHEN], url), "the sweep")
        keys = reminders_queued(ran)
        assert len(keys) == expected, f"{len(keys)} reminders queued, not {expected}"
        assert len(set(keys)) == len(keys), "a reminder queued twice"
        rows, distinct = await outbox_rows(url)
        assert rows == distinct == expected, f"{rows} outbox rows, {distinct} reasons"
        first.add(ran)
        ran = must(perfbot(["jobs", "run", "reminders", "--now", WHEN], url), "the sweep again")
        assert reminders_queued(ran) == [], "the second sweep queued reminders"
        assert f"skipped {expected}: queued before" in ran.output, ran.output[-500:]
        assert await outbox_rows(url) == (expected, expected)
        again.add(ran)
    b, bc = statistics.median(base.seconds), statistics.median(base.cpu)
    print(f"{name}: the sweep, {expected:,} reminders each queued once, {sweeps} runs")
    print(f"  {'perfbot db status (baseline)':<28} {base.spread()}")
    for label, figures in (("jobs run reminders", first), ("again (queues none)", again)):
        s, c = statistics.median(figures.seconds), statistics.median(figures.cpu)
        verdict = "meets" if max(figures.seconds) < SWEEP_TARGET_S else "misses"
        print(
            f"  {label:<28} {figures.spread()}  x{s / b:.2f} baseline's time "
            f"({s - b:+.2f} s), x{c / bc:.2f} its CPU ({c - bc:+.2f} s); "
            f"{verdict} the target (under {SWEEP_TARGET_S:.0f} s)"
        )


def sqlite_floor(path: Path, expected: int) -> float:
    """What the sweep must read and write, in plain sqlite3: seconds."""
    start = time.perf_counter()
    connection = sqlite3.connect(path)
    try:
        connection.execute("SELECT id, code, owner_id, frequency FROM measures").fetchall()
        connection.execute("SELECT measure_id, person_id FROM delegates").fetchall()
        connection.execute(
            "SELECT measure_id, period, version, value IS NOT NULL, status FROM returns"
        ).fetchall()
        connection.execute("SELECT measure_id, period FROM targets").fetchall()
        payload = json.dumps({"code": "SC-0000", "period": "2026/27 M7", "step": "T"})
        connection.executemany(
            "INSERT INTO notifications (reason_key, kind, person_id, payload, not_before, "
            "state, attempts, created_at) VALUES (?, 'reminder', 1, ?, ?, 'pending', 0, ?) "
            "ON CONFLICT DO NOTHING",
            [(f"floor:{n}", payload, WHEN, WHEN) for n in range(expected)],
        )
        connection.rollback()
    finally:
        connection.close()
    return time.perf_counter() - start


# ---- status and my measures -------------------------------------------------------------


class BenchTurn:
    """What bot/teams/commands.py's handlers use of a Turn, without botbuilder: the card
    they would send is kept, as the JSON Teams would be sent."""

    def __init__(self, person: Person, uow: Any, now: datetime, policy: Any) -> None:
        self.person, self._uow, self._now, self._policy = person, uow, now, policy
        self.cards: list[str] = []
        self.said: list[str] = []

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def today(self) -> date:
        from domain.views import today_in_london

        return today_in_london(self._now)

    @property
    def uow(self) -> Any:
        return self._uow

    @property
    def policy(self) -> Any:
        return self._policy

    async def attempt(self, work: Callable[[Any], Awaitable[T]]) -> T | None:
        from domain.views import Refused

        try:
            return await self._uow.run(work)
        except Refused as refusal:
            await self.say(str(refusal))
            return None

    async def say(self, words: str) -> None:
        self.said.append(words)

    async def send_card(self, card: dict[str, Any]) -> None:
        self.cards.append(json.dumps(card))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed(work: Callable[[], Awaitable[Any]], runs: int, budget: float) -> list[float]:
    """``work``'s seconds, ``runs`` times or as many as ``budget`` seconds allow (at least
    3), after a run to warm up (the statement cache, the pool, the templates)."""
    await work()
    seconds: list[float] = []
    began = time.perf_counter()
    while len(seconds) < runs and (len(seconds) < 3 or time.perf_counter() - began < budget):
        start = time.perf_counter()
        await work()
        seconds.append(time.perf_counter() - start)
    return seconds


async def bench_commands(
    name: str, url: str, runs: int, measures: int, budget: float, leadership: bool = False
) -> None:
    from bot.settings import Settings
    from bot.teams import commands
    from cards.render import CardTooLarge
    from domain import cover, views
    from domain.uow import UnitOfWork

    settings = Settings.from_env({"PERFBOT_DATABASE_URL": url})
    engine = db.create_engine(url)
    try:
        sessions = db.session_factory(engine)
        uow = UnitOfWork(sessions)
        async with sessions() as session:
            wanted = [OWNER, CHIEF, LEADER]
            people = {
                p.email: p
                for p in (
                    await session.scalars(select(Person).where(Person.email.in_(wanted)))
                ).all()
            }
        owner, chief, leader = people[OWNER], people[CHIEF], people[LEADER]
        today = council.NOW.date()
        policy = settings.policy
        too_large: dict[str, str] = {}

        async def trivial() -> None:
            async with uow() as tx:
                await tx.execute(select(1))

        def command(
            label: str, handler: Any, person: Person, codes: list[str]
        ) -> Callable[[], Awaitable[None]]:
            turn = BenchTurn(person, uow, council.NOW, policy)

            async def run() -> None:
                try:
                    await handler(turn, ())
                except CardTooLarge as error:  # what Teams would be sent cannot be sent
                    too_large[label] = str(error)
                    return
                assert not turn.said, turn.said
                check_card(label, turn.cards[-1], codes)

            return run

        async def my_returns() -> None:
            async with uow() as tx:
                stand = await cover.stand_of(tx, owner, today)
                await views.my_returns(tx, owner, today, policy, stand.measures)

        def codes(keep: Callable[[int], bool]) -> list[str]:
            return [council.measure_code(n) for n in range(measures) if keep(n)]

        mine = codes(lambda n: n % council.OWNERS == 0)
        chiefs = codes(lambda n: (n % council.SERVICES) % council.CHIEFS == 5)
        work: dict[str, tuple[Callable[[], Awaitable[Any]], bool]] = {
            "SELECT 1 in a unit of work (baseline)": (trivial, False),
            f"my measures, {OWNER} ({len(mine)})": (
                command("my measures", commands.my_measures, owner, mine),
                True,
            ),
            "  its use case alone (views.my_returns)": (my_returns, False),
            f"status, {OWNER} ({len(mine)})": (
                command(f"status, {OWNER}", commands.status, owner, mine),
                True,
            ),
            f"status, {CHIEF} ({len(chiefs)}, for context)": (
                command(f"status, {CHIEF}", commands.status, chief, chiefs),
                False,
            ),
        }
        print(f"{name}: the commands through bot/teams/commands.py, up to {runs} runs each")
        settle_memory()  # as `perfbot serve` does once it has started (bot/cli.py)
        base = 0.0
        for label, (run, target) in work.items():
            seconds = await timed(run, runs, budget)
            p50, p99 = percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000
            base = base or p50
            line = f"  {label:<44} p50 {p50:9.2f} ms  p99 {p99:9.2f} ms  x{p50 / base:7.1f}"
            line += f"  ({len(seconds)} runs)"
            if target:
                verdict = "meets" if p99 < COMMAND_TARGET_MS else "misses"
                line += f"; {verdict} the target (under {COMMAND_TARGET_MS:.0f} ms)"
            print(line)
            for key in too_large:
                if label.startswith(key):
                    print(f"    and fails: {too_large[key]} (Teams' limit), so nothing is sent")
        if leadership:
            every = codes(lambda n: True)
            run = command(f"status, {LEADER}", commands.status, leader, every)
            start = time.perf_counter()
            await run()
            print(
                f"  status, {LEADER} (all {measures:,}, once, for context): "
                f"{(time.perf_counter() - start) * 1000:,.0f} ms"
                + (f"; fails: {failed}" if (failed := too_large.get(f"status, {LEADER}")) else "")
            )
    finally:
        await engine.dispose()


def check_card(label: str, card: str, codes: list[str]) -> None:
    """The card lists every measure of the person's (checked by code)."""
    missing = [c for c in codes if c not in card]
    assert not missing, f"{label}: {len(missing)} of {len(codes)} measures missing"


# ---- the run ----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    expected = expected_reminders(args.measures)
    with tempfile.TemporaryDirectory(prefix="perfbot-bench-sweep-") as name:
        folder = Path(name)
        imported = folder / "council.db"
        import_sqlite(imported, args.measures, args.cache)
        copies = iter(range(1000))

        async def sqlite_copy() -> str:
            path = folder / f"run{next(copies)}.db"
            shutil.copyfile(imported, path)
            return f"sqlite+aiosqlite:///{path}"

        floor = [sqlite_floor(imported, expected) for _ in range(3)]
        print(
            f"sqlite: the floor (the sweep's reads and inserts in plain sqlite3) "
            f"{min(floor):.2f}-{max(floor):.2f} s"
        )
        await bench_sweep("sqlite", sqlite_copy, args.sweeps, expected)
        await bench_commands(
            "sqlite", await sqlite_copy(), args.runs, args.measures, args.budget, args.leadership
        )
        if args.postgres:
            await bench_postgres(args, f"sqlite+aiosqlite:///{imported}", expected)
        else:
            print("postgresql skipped: give --postgres URL or set PERFBOT_TEST_POSTGRES_URL")


async def bench_postgres(args: argparse.Namespace, imported: str, expected: int) -> None:
    parsed = db.database_url(args.postgres)
    admin = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    prefix = f"perfbot_bench_sweep_{uuid.uuid4().hex[:8]}"
    made: list[str] = []

    async def create(name: str, template: str | None = None) -> str:
        made.append(name)
        await admin.execute(
            f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' * bool(template))
        )
        return parsed.set(database=name).render_as_string(False)

    try:
        url = await create(prefix)
        must(perfbot(["db", "upgrade"], url), "perfbot db upgrade (postgresql)")
        if args.postgres_import:
            with tempfile.TemporaryDirectory(prefix="perfbot-bench-council-") as name:
                write_council(Path(name), args.measures)
                ran = must(perfbot(["import", name], url), "perfbot import (postgresql)")
            print(f"postgresql: imported in {ran.seconds:.1f} s, peak RSS {ran.rss_mb:.0f} MB")
        else:
            start = time.perf_counter()
            await copy_rows(imported, url)
            # the planner's statistics, as autovacuum gathers them soon after an import
            # (without them a person's few measures are read by scanning whole tables)
            analyzer = await asyncpg.connect(
                host=parsed.host or "127.0.0.1",
                port=parsed.port or 5432,
                user=parsed.username,
                password=parsed.password,
                database=prefix,
            )
            try:
                await analyzer.execute("ANALYZE")
            finally:
                await analyzer.close()
            print(
                f"postgresql: the SQLite import's rows copied in "
                f"{time.perf_counter() - start:.1f} s"
            )
        copies = iter(range(1000))

        async def pg_copy() -> str:
            return await create(f"{prefix}_{next(copies)}", prefix)

        await bench_sweep("postgresql", pg_copy, args.sweeps, expected)
        await bench_commands(
            "postgresql", await pg_copy(), args.runs, args.measures, args.budget, args.leadership
        )
    finally:
        for name in reversed(made):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=200, help="each command's repeats")
    parser.add_argument("--sweeps", type=int, default=2, help="fresh councils swept")
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds each command's runs may take"
    )
    parser.add_argument("--postgres", default=os.environ.get("PERFBOT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--postgres-import", action="store_true", help="import, not copy")
    parser.add_argument("--cache", type=Path, help="keep and reuse the SQLite import here")
    parser.add_argument(
        "--leadership",
        action="store_true",
        help=f"also status for {council.chief(0)} (all the measures), once, for context",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
