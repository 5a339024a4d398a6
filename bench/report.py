"""Benchmark: the quarterly performance board of a large council, as a page and a workbook.

The council is bench/summary.py's, made by its own generator (imported, not copied): M
measures (default 5,000: 5% of them key actions) in 12 services with 3 years of monthly
history, about 180,000 returns and as many targets, action plans, escalations and
restatements, written straight into the database. The board is for the last quarter ended
by then (2026/27 Q2, so each monthly measure at 2026/27 M6).

In a process of its own (so that its peak memory is the report's, not the generator's),
each of these runs once cold and then R times (default 5), each in a session of its own,
and the benchmark prints the median and range of the R in ms:

- the board as a page: `domain.board.build(...)` + `reports.html.render(...)`;
- the board as a workbook: `domain.board.build(...)` + `reports.workbook.write(...)`;

and, beside them, the parts alone (the build, the render, the workbook, the CSV files), the
process's peak RSS (VmHWM) after the runs and tracemalloc's peak over one more of each,
against the targets (under 2 s each, under 300 MB). The baseline, in the same process over
the same data, for a ratio: `perfbot export --period "2026/27 M6"`'s work, i.e.
`domain.reporting.performance(...)` for the board's month and the CSV of it (every
measure's figure and rating for one period, without travel, trend, plans or sign-off), and
one `SELECT count(*) FROM returns`.

SQLite (a file) always; PostgreSQL too when --postgres, PERFBOT_BENCH_POSTGRES_URL or
PERFBOT_TEST_POSTGRES_URL gives one (a database of its own is created and dropped).

    python bench/report.py [--measures 5000] [--runs 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.summary import NOW, _rss_mb, each_backend, measured_in_child, prepare  # noqa: E402  (the council's generator)
from domain import db  # noqa: E402
from domain.board import ReportKind, Scope, build, latest_period  # noqa: E402
from domain.model import Return  # noqa: E402
from domain.periods import Frequency, Period  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_MB = 300
QUARTER = latest_period(ReportKind.BOARD, NOW.date())  # 2026/27 Q2
MONTH = Period.containing(QUARTER.end, Frequency.MONTHLY)  # 2026/27 M6


async def measure(url: str, runs: int) -> dict[str, Any]:
    """The measured part, in a process of its own."""
    engine = db.create_engine(url)
    try:
        with tempfile.TemporaryDirectory(prefix="perfbot-bench-report-") as name:
            return await _measure(Path(name), db.session_factory(engine), runs)
    finally:
        await engine.dispose()


async def _measure(folder: Path, sessions: Any, runs: int) -> dict[str, Any]:
    from domain.policy import Policy
    from domain.reporting import export_columns, performance
    from domain.workbook import write_table
    from reports import csvfiles, workbook
    from reports.html import render

    policy = Policy()
    everything = Scope(everything=True, words="all services")
    rss_start = _rss_mb()

    async def board() -> Any:
        async with sessions() as session:
            return await build(session, ReportKind.BOARD, QUARTER, NOW, policy, everything)

    async def page() -> object:
        return render(await board())

    async def book() -> object:
        workbook.write(await board(), folder / "board.xlsx")
        return None

    async def timed(
        work: Callable[[], Awaitable[object]], repeat: int = runs
    ) -> tuple[float, list[float], list[float]]:
        """The first (cold) run's seconds, then each of ``runs``: seconds, and this
        process's CPU seconds (the database server's own are not in it)."""
        began = time.perf_counter()
        await work()
        first = time.perf_counter() - began
        seconds, cpu = [], []
        for _ in range(repeat):
            began, used = time.perf_counter(), time.process_time()
            await work()
            seconds.append(time.perf_counter() - began)
            cpu.append(time.process_time() - used)
        return first, seconds, cpu

    def alone(work: Callable[[], object]) -> list[float]:
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - began)
        return seconds

    results: dict[str, Any] = {}
    results["load"] = os.getloadavg()[0]
    results["page_first"], results["page"], results["page_cpu"] = await timed(page)
    results["book_first"], results["book"], results["book_cpu"] = await timed(book)
    report = await board()
    results["build"] = (await timed(board))[1]
    results["render"] = alone(lambda: render(report))
    results["workbook"] = alone(lambda: workbook.write(report, folder / "alone.xlsx"))
    results["csv"] = alone(
        lambda: [csvfiles.section_text(s) for _, s in csvfiles.files(report, folder / "board.csv")]
    )
    results["rss_mb"] = _rss_mb()  # before tracemalloc, whose own records of each block are large
    results["rss_start_mb"] = rss_start
    for name, work in (("page_peak_mb", page), ("book_peak_mb", book)):
        tracemalloc.start()
        await work()
        results[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    async def export() -> object:
        async with sessions() as session:
            rows = await performance(session, policy.scheme, MONTH)
        values = [row.export_values_with(frozenset()) for row in rows]
        return write_table(None, export_columns(frozenset()), values, "csv")

    async def count() -> object:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(Return))

    results["export"] = (await timed(export, min(runs, 2)))[1]  # 10 s or so each
    results["count"] = (await timed(count))[1]
    results["rows"] = len(report.rows)
    results["off_track"] = sum(1 for r in report.rows if r.off_track)
    results["plans"] = sum(len(r.plan) for r in report.rows)
    results["page_kb"] = len(render(report).encode()) / 1024
    results["xlsx_kb"] = (folder / "board.xlsx").stat().st_size / 1024
    return results


def _line(
    name: str,
    seconds: list[float],
    first: float | None = None,
    cpu: list[float] | None = None,
    target: bool = False,
) -> str:
    median = statistics.median(seconds)
    text = (
        f"{'':<10} {name:<22} median {median * 1000:6.0f} ms  range "
        f"{min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms"
    )
    if first is not None:
        text += f" (first, cold: {first * 1000:.0f} ms)"
    if cpu:
        text += f"  CPU here {statistics.median(cpu) * 1000:.0f} ms"
    if target:
        text += f"  {'within' if median < TARGET_SECONDS else 'OVER'} the 2 s target"
    return text


async def bench_backend(name: str, url: str, measures: int, runs: int) -> None:
    began = time.perf_counter()
    tables = await prepare(url, measures)
    made_in = time.perf_counter() - began
    r = await measured_in_child(__file__, name, url, runs)
    print(
        f"{name:<10} generated {tables['returns']:,} returns and {tables['targets']:,} targets "
        f"in {made_in:.0f} s; the board: {r['rows']:,} rows, {r['off_track']:,} off track, "
        f"{r['plans']:,} action-plan items; page {r['page_kb']:,.0f} KB, workbook "
        f"{r['xlsx_kb']:,.0f} KB (load average {r['load']:.1f} as it began)"
    )
    print(_line("build + html", r["page"], r["page_first"], r["page_cpu"], target=True))
    print(_line("build + xlsx", r["book"], r["book_first"], r["book_cpu"], target=True))
    print(_line("  build alone", r["build"]))
    print(_line("  html render alone", r["render"]))
    print(_line("  xlsx alone", r["workbook"]))
    print(_line("  csv files alone", r["csv"]))
    peak = max(r["page_peak_mb"], r["book_peak_mb"])
    print(
        f"{'':<10} memory   tracemalloc peak {r['page_peak_mb']:.0f} MB (html), "
        f"{r['book_peak_mb']:.0f} MB (xlsx); max RSS {r['rss_mb']:.0f} MB (of it "
        f"{r['rss_start_mb']:.0f} MB the process with its imports)  "
        f"{'within' if max(peak, r['rss_mb']) < TARGET_MB else 'OVER'} the 300 MB target"
    )
    export = statistics.median(r["export"])
    count = statistics.median(r["count"])
    print(
        f"{'':<10} baseline perfbot export --period '{MONTH.label}' {export * 1000:.0f} ms "
        f"(build + html / export = {statistics.median(r['page']) / export:.1f}, build + xlsx "
        f"/ export = {statistics.median(r['book']) / export:.1f}); SELECT count(*) FROM "
        f"returns {count * 1000:.1f} ms (build + html / count = "
        f"{statistics.median(r['page']) / count:.0f})"
    )


async def run(args: argparse.Namespace) -> None:
    print(
        f"The performance board for {QUARTER.label} of {args.measures:,} measures with 36 "
        f"months of history, as at {NOW:%A %d %B %Y %H:%M} UTC"
    )

    async def bench(name: str, url: str) -> None:
        await bench_backend(name, url, args.measures, args.runs)

    await each_backend(args.postgres, bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
