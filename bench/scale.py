"""Benchmark: import, re-import and export of a 5,000-measure council (issue 19, "scale").

The council is bench/council.py's (5,000 monthly measures, 522 people, three years of
history: 240,000 targets and 180,000 actuals), written as CSV files into a temporary
folder.

Each step runs as the real command, `perfbot ...` in a subprocess of its own with
PERFBOT_DATABASE_URL set, timed by wall clock, with the child's peak RSS (os.wait4's
ru_maxrss):

- `perfbot db upgrade` and `perfbot import FOLDER` into an empty database;
- the same import again, which must say that nothing changed;
- `perfbot export --format csv -o FILE` and `--format xlsx -o FILE`, every period, whose row
  counts are checked against the council (a row for every measure and period with a target
  or an actual).

Each row prints the figure, its target (issue 19) and a ratio to a floor measured in the same
run on the same machine: for import, reading the same CSV files with the csv module and
inserting the same people, measures, targets and actuals with plain sqlite3 executemany (no
checks, no audit); for the re-import, reading the files and one SELECT of what is stored;
for export, writing the same number of rows with the csv module (csv), or as a sheet's XML
made by f-strings into a deflated zip (xlsx). `perfbot --help` is printed too: the cost of
starting the command at all, in every figure. Each figure is wall time, with the child's CPU
time (user + system) beside it: on a shared machine the CPU time is the steadier.

SQLite (a file) always; PostgreSQL too when --postgres or PERFBOT_TEST_POSTGRES_URL gives one
(a database of its own is created and dropped).

    python bench/scale.py [--measures 5000] [--postgres URL] [--skip-sqlite] [--code DIR]

With --code DIR the same steps run another tree's code (`python -m bot.cli` with DIR first
on the path), e.g. main's for the figures before: `git archive main | tar -x -C DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import council  # bench/council.py, beside this file

from domain import db

PERFBOT = Path(sys.executable).with_name("perfbot")
# Issue 19's targets, in seconds (and MB for the import's peak memory).
TARGETS = {"import": 30.0, "re-import": 10.0, "export csv": 15.0, "export xlsx": 15.0}
IMPORT_MEMORY_MB = 300.0


def write_council(folder: Path, count: int) -> dict[str, int]:
    """The council's CSV files in ``folder``; the number of rows of each sheet."""
    council.write(folder, count)
    return {table.name: len(table.rows) for table in council.tables(count)}


def expected_export_rows(folder: Path) -> int:
    """A row for every (measure, period) with a target or an actual."""
    pairs: set[tuple[str, str]] = set()
    for name in ("targets", "actuals"):
        with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            pairs.update((row[0], row[1]) for row in reader)
    return len(pairs)


# --code DIR: run another tree's code (main's, say, for the figures before), as
# `python -m bot.cli` with DIR first on the path, with this environment's packages.
CODE: str | None = None


def run(args: list[str], url: str) -> tuple[float, float, str, float]:
    """``perfbot ARGS`` in a subprocess: (wall seconds, peak RSS in MB, its output, CPU
    seconds: user and system, the figure a loaded machine disturbs least)."""
    env = dict(os.environ, PERFBOT_DATABASE_URL=url)
    command = [str(PERFBOT)]
    if CODE:
        env["PYTHONPATH"] = CODE
        command = [sys.executable, "-m", "bot.cli"]
    start = time.perf_counter()
    # From DIR itself with --code: `python -m` puts the working folder first on the path.
    child = subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=CODE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"perfbot {' '.join(args)} failed ({child.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime


def floor_import(folder: Path, path: Path) -> float:
    """Read the CSV files and insert their rows with plain sqlite3 executemany, into tables
    of the same columns (no checks, no audit, no ORM): what an import cannot beat."""
    start = time.perf_counter()
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT);"
        "CREATE TABLE measures (id INTEGER PRIMARY KEY, code TEXT UNIQUE, title TEXT, "
        "owner_id INTEGER);"
        "CREATE TABLE targets (id INTEGER PRIMARY KEY, measure_id INTEGER, period TEXT, "
        "value TEXT, UNIQUE (measure_id, period));"
        "CREATE TABLE returns (id INTEGER PRIMARY KEY, measure_id INTEGER, period TEXT, "
        "version INTEGER, value TEXT, commentary TEXT, submitted_by_id INTEGER, "
        "submitted_at TEXT, UNIQUE (measure_id, period, version));"
    )

    def rows(name: str) -> list[list[str]]:
        with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            return list(csv.reader(handle))[1:]

    people = {row[0]: n for n, row in enumerate(rows("people"), start=1)}
    connection.executemany(
        "INSERT INTO people VALUES (?, ?, ?)", ((n, e, e) for e, n in people.items())
    )
    measures = {}
    for n, row in enumerate(rows("measures"), start=1):
        measures[row[0]] = (n, row[1], people[row[3]])
    connection.executemany(
        "INSERT INTO measures VALUES (?, ?, ?, ?)",
        ((n, c, t, o) for c, (n, t, o) in measures.items()),
    )
    connection.executemany(
        "INSERT INTO targets (measure_id, period, value) VALUES (?, ?, ?)",
        ((measures[c][0], p, v) for c, p, v in rows("targets")),
    )
    connection.executemany(
        "INSERT INTO returns (measure_id, period, version, value, commentary, "
        "submitted_by_id, submitted_at) VALUES (?, ?, 1, ?, ?, ?, ?)",
        ((measures[c][0], p, v, m, people[b], at) for c, p, v, m, b, at in rows("actuals")),
    )
    connection.commit()
    connection.close()
    return time.perf_counter() - start


def floor_reimport(folder: Path, path: Path) -> float:
    """Read the CSV files and what the floor's import stored, one SELECT a table."""
    start = time.perf_counter()
    for name in ("people", "measures", "targets", "actuals"):
        with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            list(csv.reader(handle))
    connection = sqlite3.connect(path)
    for table in ("people", "measures", "targets", "returns"):
        connection.execute(f"SELECT * FROM {table}").fetchall()
    connection.close()
    return time.perf_counter() - start


def floor_export(rows: int, columns: int, file_format: str, path: Path) -> float:
    """The same number of rows and columns written by the csv module, or (xlsx) as a sheet's
    XML by f-strings into a deflated zip: the least an export of that size does."""
    row = ["SC-0001", "Scale measure 1", "Service 01", "2025/26 M1", 82.5, 81.9, None, -0.7]
    row = (row + ["Green"] * columns)[:columns]
    start = time.perf_counter()
    if file_format == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            out = csv.writer(handle, lineterminator="\r\n")
            for _ in range(rows):
                out.writerow(["" if v is None else v for v in row])
    else:
        with (
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book,
            book.open("xl/worksheets/sheet1.xml", "w") as sheet,
        ):
            for index in range(2, rows + 2):
                cells = "".join(
                    f'<c r="{chr(65 + n)}{index}" t="inlineStr"><is><t>{v}</t></is></c>'
                    if isinstance(v, str)
                    else f'<c r="{chr(65 + n)}{index}" t="n"><v>{v}</v></c>'
                    for n, v in enumerate(row)
                    if v is not None
                )
                sheet.write(f'<row r="{index}">{cells}</row>'.encode())
    return time.perf_counter() - start


def line(name: str, seconds: float, floor: float, mb: float, cpu: float) -> None:
    target = TARGETS.get(name)
    verdict = "" if target is None else ("  meets" if seconds < target else "  MISSES")
    memory = f"  peak {mb:5.0f} MB"
    if name == "import":
        memory += f" (target < {IMPORT_MEMORY_MB:.0f}{'' if mb < IMPORT_MEMORY_MB else ', MISSES'})"
    aim = f"target < {target:2.0f} s" if target else ""
    print(
        f"  {name:<11} {seconds:6.2f} s (cpu {cpu:6.2f} s)  {aim:<13} floor {floor:5.2f} s"
        f"  x{seconds / floor:5.1f}{memory}{verdict}",
        flush=True,
    )


def bench(backend: str, url: str, folder: Path, work: Path, counts: dict[str, int]) -> None:
    print(f"{backend}:", flush=True)
    startup, _, _, _ = run(["--help"], url)
    print(f"  (perfbot --help, starting the command: {startup:.2f} s)")
    run(["db", "upgrade"], url)
    floor_db = work / f"floor-{uuid.uuid4().hex[:6]}.db"
    floor = floor_import(folder, floor_db)
    seconds, mb, output, cpu = run(["import", str(folder)], url)
    expected = f"targets: {counts['targets']:,} new"
    if expected not in output or f"actuals: {counts['actuals']:,} new" not in output:
        raise SystemExit(f"the import did not store the council:\n{output}")
    line("import", seconds, floor, mb, cpu)
    floor = floor_reimport(folder, floor_db)
    seconds, mb, output, cpu = run(["import", str(folder)], url)
    if "nothing to change" not in output:
        raise SystemExit(f"the re-import changed something:\n{output}")
    line("re-import", seconds, floor, mb, cpu)
    expected_rows = expected_export_rows(folder)
    for file_format in ("csv", "xlsx"):
        out = work / f"performance.{file_format}"
        seconds, mb, output, cpu = run(["export", "--format", file_format, "-o", str(out)], url)
        if f"Wrote {expected_rows:,} rows" not in output:
            raise SystemExit(f"the {file_format} export wrote the wrong rows:\n{output}")
        floor = floor_export(expected_rows, 10, file_format, work / f"floor.{file_format}")
        line(f"export {file_format}", seconds, floor, mb, cpu)
    print(f"  ({expected_rows:,} rows exported, as the council has)", flush=True)


async def with_postgres(admin_url: str, folder: Path, work: Path, counts: dict[str, int]) -> None:
    name = f"perfbot_scale_{uuid.uuid4().hex[:8]}"
    parsed = db.database_url(admin_url)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = parsed.set(database=name).render_as_string(False)
        await asyncio.to_thread(bench, "postgresql", url, folder, work, counts)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get("PERFBOT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--code", help="run this tree's code instead (e.g. a copy of main, for the figures before)"
    )
    args = parser.parse_args()
    global CODE
    CODE = args.code
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        folder = work / "council"
        folder.mkdir()
        counts = write_council(folder, args.measures)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(
            f"council: {args.measures:,} measures, {counts['people']:,} people, "
            f"{counts['targets']:,} targets, {counts['actuals']:,} actuals ({size:.1f} MB of CSV)",
            flush=True,
        )
        if not args.skip_sqlite:
            bench("sqlite", f"sqlite+aiosqlite:///{work}/scale.db", folder, work, counts)
        if args.postgres:
            asyncio.run(with_postgres(args.postgres, folder, work, counts))
        else:
            print("postgresql skipped: give --postgres URL or set PERFBOT_TEST_POSTGRES_URL")


if __name__ == "__main__":
    main()
