"""Benchmark: the Leadership Team's weekly summary for a large council.

A council of M measures (default 5,000: 5% of them key actions) in 12 services, owned by 300
people, with 3 years of monthly history (about 180,000 returns and as many targets), is
written straight into the database (bulk inserts, not the importer), with every section of
the summary given work: October's returns 3% overdue (and a few September ones), November's
70% in, some of them off track for the first time and some recovered, periods to September
signed off and 60 of their figures restated this week, 300 escalations (80 this week, half
acknowledged), 60 deep dives (20 waiting for a decision), 2,000 action-plan items (400 open
past their date) and 8 people PerfBot cannot reach.

Then, in a process of its own (so that its peak memory is the summary's, not the
generator's), `domain.summary.build(...)` runs once cold and then R times (default 5) as the
Monday job calls it, each in a session of its own, and the benchmark prints its time (median
and range of the R), the process's peak RSS (VmHWM), tracemalloc's peak over one more build,
against the targets
(under 1 s, under 200 MB); beside it, in the same process and over the same data, the
baselines for a ratio: one `SELECT count(*) FROM returns`, and the existing
`domain.reporting.performance(...)` for November (every measure's figure and rating for one
period). Last, the chart (cards/chart.py) and the card with it (cards/render.py): time and
bytes against the card's 80 KB.

SQLite (a file) always; PostgreSQL too when --postgres, PERFBOT_BENCH_POSTGRES_URL or
PERFBOT_TEST_POSTGRES_URL gives one (a database of its own is created and dropped).

    python bench/summary.py [--measures 5000] [--runs 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from domain import db  # noqa: E402
from domain.model import (  # noqa: E402
    ActionPlan,
    DeepDive,
    Escalation,
    Measure,
    PeriodLock,
    Person,
    PersonRole,
    Return,
    Service,
    Target,
)
from domain.periods import Frequency, Period  # noqa: E402

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 7 December 2026, the summary's hour
SINCE = NOW - timedelta(days=7)  # the last summary went a week ago
MONTHS = 36  # December 2023 (2023/24 M9) to November 2026 (2026/27 M8)
SERVICES = [
    "Adult Social Care and Health",
    "Children's Services",
    "Corporate Services and Transformation",
    "Economy and Regeneration",
    "Environment and Transport",
    "Finance and ICT",
    "Highways",
    "Housing",
    "Legal and Democratic Services",
    "Libraries and Heritage",
    "Place",
    "Public Health",
]
PEOPLE = 300
TARGET = Decimal(80)
# Each measure's usual standing, as a share of measures, and its figure's distance from target.
STANDING = [
    (0.35, (0.06, 0.20)),  # Strong
    (0.35, (-0.02, 0.05)),  # Good
    (0.18, (-0.09, -0.025)),  # Review
    (0.12, (-0.30, -0.11)),  # Action
]
STATUSES = ["on track", "on track", "complete", "some risk", "unlikely"]


def months() -> list[Period]:
    """The 36 months of history, oldest first, and the month now running last."""
    period = Period.containing(NOW.date(), Frequency.MONTHLY)
    found = [period]
    for _ in range(MONTHS):
        period = period.previous()
        found.append(period)
    return found[::-1]


def council(measures: int) -> dict[type, list[dict]]:
    """Every row of the generated council, by model, in the order they are inserted."""
    rng = random.Random(14)
    periods = months()
    history = periods[:-1]  # the running month has targets only
    november, october, september = history[-1], history[-2], history[-3]
    rows: dict[type, list[dict]] = {}
    rows[Service] = [{"id": n + 1, "name": name} for n, name in enumerate(SERVICES)]
    rows[Person] = [
        {
            "id": n + 1,
            "email": f"person{n}@bench.gov.uk",
            "name": f"Person {n}",
            "service_id": n % len(SERVICES) + 1,
            "teams_user_id": f"29:person{n}",
            "unreachable_reason": "Teams answered 403: not in the tenant" if n < 8 else None,
            "unreachable_since": NOW - timedelta(days=3) if n < 8 else None,
        }
        for n in range(PEOPLE)
    ]
    escalation_owners = list(range(PEOPLE - 2 * len(SERVICES), PEOPLE))  # two a service
    rows[PersonRole] = [{"person_id": n + 1, "role": "owner"} for n in range(PEOPLE)]
    rows[PersonRole] += [
        {"person_id": n + 1, "role": "escalation_owner"} for n in escalation_owners
    ]
    rows[PersonRole] += [{"person_id": n + 1, "role": "leadership"} for n in range(10, 16)]
    rows[Measure], rows[Target], rows[Return] = [], [], []
    off_track: list[tuple[int, str]] = []
    for m in range(measures):
        measure_id = m + 1
        key_action = m % 20 == 19
        owner = m % (PEOPLE - 2 * len(SERVICES)) + 1
        service = m % len(SERVICES)
        rows[Measure].append(
            {
                "id": measure_id,
                "code": f"BM-{m:05d}",
                "title": f"Bench measure {m}: share of cases closed within the standard",
                "kind": "key_action" if key_action else "measure",
                "service_id": service + 1,
                "owner_id": owner,
                "escalation_owner_id": escalation_owners[service * 2 + m % 2] + 1,
                "unit": "percent",
                "polarity": "higher",
                "frequency": "monthly",
                "decimals": 1,
            }
        )
        usual = rng.choices(range(len(STANDING)), [share for share, _ in STANDING])[0]
        for period in periods:
            if not key_action:
                rows[Target].append(
                    {"measure_id": measure_id, "period": period.label, "value": TARGET}
                )
        for period in history:
            if period == november and rng.random() > 0.7:
                continue  # not in yet: due later in December
            if period == october and rng.random() < 0.03:
                continue  # overdue: October's were due on 20 November
            if period == september and rng.random() < 0.005:
                continue
            standing = usual if rng.random() < 0.75 else rng.randrange(len(STANDING))
            low, high = STANDING[standing][1]
            value = (TARGET * Decimal(1 + rng.uniform(low, high))).quantize(Decimal("0.1"))
            value = min(value, Decimal(100))
            if period == november:
                submitted = SINCE + timedelta(hours=rng.uniform(1, 160))
            else:
                submitted = datetime.combine(period.end, datetime.min.time(), UTC) + timedelta(
                    days=rng.uniform(3, 18)
                )
            rows[Return].append(
                {
                    "measure_id": measure_id,
                    "period": period.label,
                    "version": 1,
                    "value": None if key_action else value,
                    "status": STATUSES[standing + (standing > 0)] if key_action else None,
                    "commentary": "Steady month; the team is on plan.",
                    "remedial_action": "Weekly case review." if standing == 3 else None,
                    "state": "submitted" if period in (november, october) else "approved",
                    "submitted_by_id": owner,
                    "submitted_at": submitted,
                    "source": "teams",
                    "restated": False,
                }
            )
            if standing == 3 and period in (october, november):
                off_track.append((measure_id, period.label))
    # September and earlier are signed off; 60 of September's figures restated this week.
    rows[PeriodLock] = [
        {
            "period": p.label,
            "locked_at": datetime.combine(p.end, datetime.min.time(), UTC) + timedelta(days=30),
            "locked_by": "performance@bench.gov.uk",
            "reason": None,
        }
        for p in history[:-2]
    ]
    restated = [r for r in rows[Return] if r["period"] == september.label and r["value"]][:60]
    rows[Return] += [
        {
            **r,
            "version": 2,
            "value": r["value"] + Decimal("1.5"),
            "restated": True,
            "submitted_at": SINCE + timedelta(days=2),
            "source": "admin",
        }
        for r in restated
    ]
    for r in rows[Return]:
        r.setdefault("restated_from", None)
        r.setdefault("correction_reason", None)
    for r in rows[Return][-60:]:
        r["restated_from"] = f"{r['value'] - Decimal('1.5')}%"
        r["correction_reason"] = "A late batch of cases was found."
    rng.shuffle(off_track)
    rows[Escalation] = [
        {
            "measure_id": measure_id,
            "period": label,
            "reason": "off-track",
            "escalation_owner_id": rows[Measure][measure_id - 1]["escalation_owner_id"],
            "raised_at": SINCE + timedelta(days=1 + n % 5)
            if n < 80
            else SINCE - timedelta(days=n % 90),
            "acknowledged_at": SINCE + timedelta(days=6) if n % 2 == 0 else None,
            "acknowledged_by_id": rows[Measure][measure_id - 1]["escalation_owner_id"]
            if n % 2 == 0
            else None,
        }
        for n, (measure_id, label) in enumerate(off_track[:300])
    ]
    rows[DeepDive] = [
        {
            "measure_id": measure_id,
            "period": label,
            "reason": "persistent" if n % 3 else "requested",
            "flagged_at": SINCE + timedelta(days=1) if n < 20 else SINCE - timedelta(days=n),
            "decision": None if n < 20 else ("accepted" if n % 2 else "declined"),
            "decided_at": None if n < 20 else SINCE - timedelta(days=n // 2),
        }
        for n, (measure_id, label) in enumerate(off_track[300:360])
    ]
    rows[ActionPlan] = [
        {
            "measure_id": n % measures + 1,
            "period": history[-1 - n % 6].label,
            "description": f"Review the backlog of cases, step {n}.",
            "owner_id": n % PEOPLE + 1,
            "due_date": NOW.date() - timedelta(days=1 + n % 60)
            if n < 400
            else NOW.date() + timedelta(days=n % 90),
            "created_at": SINCE - timedelta(days=30 + n % 200),
            "status": "open" if n < 1000 else "done",
            "source": "return",
        }
        for n in range(2000)
    ]
    return rows


async def prepare(url: str, measures: int) -> dict[str, int]:
    """Write the council; the number of rows of each table."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    rows = council(measures)
    async with engine.begin() as connection:
        for model, values in rows.items():
            for start in range(0, len(values), 20_000):
                await connection.execute(insert(model), values[start : start + 20_000])
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE"))  # as autovacuum (or a DBA) would have
        await connection.commit()
    await engine.dispose()
    return {model.__tablename__: len(values) for model, values in rows.items()}


async def measure(url: str, runs: int) -> dict:
    """The measured part, in a process of its own."""
    from cards.chart import ratings_chart
    from cards.render import summary_card
    from domain import summary as summaries
    from domain.policy import Policy
    from domain.reporting import performance

    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    policy = Policy()
    rss_start = _rss_mb()

    async def build() -> tuple[float, summaries.Summary]:
        async with sessions() as session, session.begin():
            began = time.perf_counter()
            made = await summaries.build(session, NOW, policy, SINCE)
            return time.perf_counter() - began, made

    first, made = await build()  # a cold start: the Monday job's own first statements
    seconds = [(await build())[0] for _ in range(runs)]
    rss_build = _rss_mb()  # before tracemalloc, whose own records of each block are large
    tracemalloc.start()
    await build()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    counts = []
    for _ in range(runs):
        async with sessions() as session:
            began = time.perf_counter()
            await session.scalar(select(func.count()).select_from(Return))
            counts.append(time.perf_counter() - began)
    async with sessions() as session:  # once: it reads every return and target there is
        began = time.perf_counter()
        rows = await performance(session, policy.scheme, Period.parse("2026/27 M8"))
        report = time.perf_counter() - began
    await engine.dispose()

    charts = []
    for _ in range(runs):
        began = time.perf_counter()
        chart = ratings_chart(made)
        charts.append(time.perf_counter() - began)
    assert chart is not None
    card = summary_card(made, chart)
    return {
        "first": first,
        "seconds": seconds,
        "peak_mb": peak / 2**20,
        "rss_start_mb": rss_start,
        "rss_build_mb": rss_build,
        "count": statistics.median(counts),
        "report": report,
        "report_rows": len(rows),
        "chart": statistics.median(charts),
        "chart_range": [min(charts), max(charts)],
        "png": len(chart.png),
        "card": len(json.dumps(card, ensure_ascii=False).encode()),
        "sections": {
            "expected": made.expected,
            "received": made.received,
            "overdue": sum(len(s.overdue) for s in made.returns),
            "rated now": sum(c.now for c in made.ratings),
            "new off track": len(made.new_off_track),
            "recoveries": len(made.recoveries),
            "escalations": len(made.escalations),
            "deep dives": len(made.deep_dives),
            "actions late": len(made.actions_late),
            "restatements": len(made.restatements),
            "strong": len(made.strong),
            "unreachable": sum(made.unreachable.values()),
        },
    }


def _rss_mb() -> float:
    """This process's peak resident memory. getrusage's ru_maxrss would do, but Linux carries
    it over from the parent that started this process (the generator, here), so the
    kernel's high-water mark of this process's own memory (VmHWM) is read where there is one."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kilobytes) / 1024


async def measured_in_child(script: str, name: str, url: str, runs: int) -> dict[str, Any]:
    """``script --measure URL --runs N`` in a process of its own (so that its peak memory is
    the measured work's, not the generator's): the JSON it prints last."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        "--measure",
        url,
        "--runs",
        str(runs),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await child.communicate()
    if child.returncode:
        sys.stderr.write(stderr.decode())
        raise SystemExit(f"{name}: the measured process failed")
    found: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return found


async def bench_backend(name: str, url: str, measures: int, runs: int) -> None:
    began = time.perf_counter()
    tables = await prepare(url, measures)
    made_in = time.perf_counter() - began
    r = await measured_in_child(__file__, name, url, runs)
    median = statistics.median(r["seconds"])
    print(
        f"{name:<10} generated {tables['returns']:,} returns and {tables['targets']:,} targets "
        f"in {made_in:.0f} s"
    )
    print(
        f"{'':<10} build    median {median * 1000:6.0f} ms  range {min(r['seconds']) * 1000:.0f}-"
        f"{max(r['seconds']) * 1000:.0f} ms over {len(r['seconds'])} runs (first, cold: "
        f"{r['first'] * 1000:.0f} ms)  {'within' if median < 1 else 'OVER'} the 1 s target"
    )
    print(
        f"{'':<10} memory   tracemalloc peak {r['peak_mb']:.0f} MB  max RSS {r['rss_build_mb']:.0f} MB "
        f"(of it {r['rss_start_mb']:.0f} MB the process with its imports)  "
        f"{'within' if r['rss_build_mb'] < 200 else 'OVER'} the 200 MB target"
    )
    print(
        f"{'':<10} baseline SELECT count(*) FROM returns {r['count'] * 1000:.1f} ms "
        f"(build / count = {median / r['count']:.0f}); reporting.performance for November "
        f"({r['report_rows']:,} rows) {r['report'] * 1000:.0f} ms "
        f"(build / performance = {median / r['report']:.2f})"
    )
    print(
        f"{'':<10} chart    median {r['chart'] * 1000:.0f} ms  range "
        f"{r['chart_range'][0] * 1000:.0f}-{r['chart_range'][1] * 1000:.0f} ms  PNG "
        f"{r['png'] / 1024:.1f} KB; the card with it {r['card'] / 1024:.1f} KB of 80 KB"
    )
    print(f"{'':<10} sections " + ", ".join(f"{k} {v:,}" for k, v in r["sections"].items()))


async def each_backend(postgres: str, bench: Callable[[str, str], Awaitable[None]]) -> None:
    """``bench(name, url)`` on a SQLite file, then, when ``postgres`` names a server, on a
    PostgreSQL database of its own there (created, and dropped afterwards)."""
    with tempfile.TemporaryDirectory() as folder:
        await bench("sqlite", f"sqlite+aiosqlite:///{folder}/bench.db")
    if not postgres:
        print(
            "postgresql skipped: give --postgres URL or set PERFBOT_BENCH_POSTGRES_URL "
            "or PERFBOT_TEST_POSTGRES_URL"
        )
        return
    name = f"perfbot_bench_{uuid.uuid4().hex[:8]}"
    parsed = db.database_url(postgres)
    admin = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await bench("postgresql", parsed.set(database=name).render_as_string(False))
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def run(args: argparse.Namespace) -> None:
    print(
        f"The weekly summary for {args.measures:,} measures with {MONTHS} months of history, "
        f"as at {NOW:%A %d %B %Y %H:%M} UTC"
    )

    async def bench(name: str, url: str) -> None:
        await bench_backend(name, url, args.measures, args.runs)

    await each_backend(args.postgres, bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PERFBOT_BENCH_POSTGRES_URL")
        or os.environ.get("PERFBOT_TEST_POSTGRES_URL", ""),
    )
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.runs))))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
