"""A large council, made the same way every time: the data the scale benchmarks import.

By default 5,000 monthly measures with three years of history, as issue 19 measured it:

- 522 people: 20 Chief Officers (escalation owners, each over the 250 measures of five
  services; the first five are also the Leadership Team), 100 measure owners (each the
  owner of the 50 measures of a service of their own; owner000 is its Head of Service too,
  an escalation owner whose `status` is those 50), 400 staff who are delegates (every third
  measure has one), and 2 in the performance team;
- 100 services, 5,000 measures: percentages, counts and days, higher or lower is better;
- 240,000 targets: every month from October 2023 (2023/24 M7) to September 2027 (2027/28
  M6), next year's set already;
- 180,000 actuals with commentary: the 36 months from October 2023 to September 2026, each
  submitted by its owner a few days after the month ended;
- about 23 MB of CSV in all.

At ``NOW`` (20 November 2026) October's return (2026/27 M7) is open for every measure, and
``REMINDER_DAY`` (the same day, its deadline) is a day on which every owner and delegate
is reminded of it: 6,667 reminders at the default PERFBOT_REMINDER_DAYS (5,1,0).

    python bench/council.py FOLDER [--measures 5000]

writes people.csv, services.csv, measures.csv, targets.csv and actuals.csv into FOLDER (a
folder `perfbot import` reads as it reads a workbook). ``sheets()`` gives the same as rows.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
REMINDER_DAY = NOW.date()  # October's deadline (15 working days after it ended): day T
SEED = 19  # the number: change it and every figure changes with it

SERVICES = 100
CHIEFS = 20
LEADERSHIP = 5
OWNERS = 100
DELEGATES = 400
ADMINS = 2
DOMAIN = "scale.gov.uk"

# (unit, polarity, decimals, a typical figure, how far it wanders): a percentage, a count, days
UNITS = (
    ("percent", "higher", 1, 82.0, 6.0),
    ("percent", "lower", 1, 12.0, 3.0),
    ("number", "higher", 0, 450.0, 60.0),
    ("days", "lower", 1, 9.0, 2.0),
)
YEARS = ("2023/24", "2024/25", "2025/26", "2026/27", "2027/28")
COMMENTS = (
    "As expected; no concerns.",
    "Behind profile: staff absence.",
    "Ahead after the new process.",
    "Seasonal dip, as every year.",
)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def _email(kind: str, n: int) -> str:
    return f"{kind}{n:03d}@{DOMAIN}"


def chief(n: int) -> str:
    return _email("chief", n)


def owner(n: int) -> str:
    return _email("owner", n)


def delegate(n: int) -> str:
    return _email("staff", n)


def measure_code(n: int) -> str:
    return f"SC-{n:04d}"


def _month_end(year: str, month: int) -> date:
    """The last day of a financial year's month (M1 is April)."""
    start = int(year[:4])
    calendar_month = (month + 2) % 12 + 1
    calendar_year = start + (1 if month >= 10 else 0)
    following = date(calendar_year + (calendar_month == 12), calendar_month % 12 + 1, 1)
    return following - timedelta(days=1)


def _months(first: tuple[str, int], last: tuple[str, int]) -> Iterator[tuple[str, int]]:
    """Every (year, month) from ``first`` to ``last``, both included."""
    for year in YEARS:
        for month in range(1, 13):
            if first <= (year, month) <= last:
                yield year, month


TARGETS = ("2023/24", 7), ("2027/28", 6)  # 48 months
HISTORY = ("2023/24", 7), ("2026/27", 6)  # 36 months: October 2023 to September 2026


def people() -> Table:
    rows = [
        (
            chief(n),
            f"Chief Officer {n}",
            f"Service {n:02d}",
            "escalation_owner;leadership" if n < LEADERSHIP else "escalation_owner",
            "",
        )
        for n in range(CHIEFS)
    ]
    rows += [
        (
            owner(n),
            f"Owner {n}",
            f"Service {n % SERVICES:02d}",
            "owner;escalation_owner" if n == 0 else "owner",
            chief(n % CHIEFS),
        )
        for n in range(OWNERS)
    ]
    rows += [
        (delegate(n), f"Staff {n}", f"Service {n % SERVICES:02d}", "", owner(n % OWNERS))
        for n in range(DELEGATES)
    ]
    rows += [
        (_email("performance", n), f"Performance Officer {n}", "Service 00", "admin", chief(0))
        for n in range(ADMINS)
    ]
    return Table("people", ("email", "name", "service", "role", "manager_email"), rows)


def services() -> Table:
    rows = [(f"Service {n:02d}", chief(n % CHIEFS)) for n in range(SERVICES)]
    return Table("services", ("name", "leadership_contact"), rows)


def _owner_of(n: int) -> int:
    """Measure n's owner (50 measures each at 5,000), in the owner's own service."""
    return n % OWNERS


def measures(count: int) -> Table:
    rows = []
    for n in range(count):
        unit, polarity, decimals, _, _ = UNITS[n % len(UNITS)]
        who = _owner_of(n)
        service = who % SERVICES  # each owner's service is their own
        rows.append(
            (
                measure_code(n),
                f"Scale measure {n}",
                f"Service {service:02d}",
                owner(who),
                delegate(n % DELEGATES) if n % 3 == 0 else "",
                chief(service % CHIEFS),
                unit,
                polarity,
                "monthly",
                str(decimals),
            )
        )
    columns = (
        "code",
        "title",
        "service",
        "owner_email",
        "delegate_emails",
        "escalation_owner_email",
        "unit",
        "polarity",
        "frequency",
        "decimals",
    )
    return Table("measures", columns, rows)


def targets_and_actuals(count: int) -> tuple[Table, Table]:
    rng = random.Random(SEED)
    targets: list[tuple[str, ...]] = []
    actuals: list[tuple[str, ...]] = []
    history = set(_months(*HISTORY))
    for n in range(count):
        code = measure_code(n)
        unit, _, decimals, typical, wander = UNITS[n % len(UNITS)]
        who = owner(_owner_of(n))
        level = typical + rng.uniform(-wander, wander) / 2
        for year, month in _months(*TARGETS):
            period = f"{year} M{month}"
            target = round(level, decimals)
            targets.append((code, period, f"{target:.{decimals}f}"))
            if (year, month) in history:
                actual = max(0.0, level + rng.gauss(0, wander / 3))
                if unit == "percent":
                    actual = min(actual, 100.0)
                sent = _month_end(year, month) + timedelta(days=3 + n % 9)
                actuals.append(
                    (
                        code,
                        period,
                        f"{actual:.{decimals}f}",
                        COMMENTS[(n + month) % len(COMMENTS)],
                        who,
                        f"{sent.isoformat()} {9 + n % 8:02d}:{n % 60:02d}",
                    )
                )
    return (
        Table("targets", ("code", "period", "target"), targets),
        Table(
            "actuals",
            ("code", "period", "actual", "commentary", "submitted_by", "submitted_at"),
            actuals,
        ),
    )


def tables(count: int = 5000) -> list[Table]:
    targets, actuals = targets_and_actuals(count)
    return [people(), services(), measures(count), targets, actuals]


def write(folder: Path, count: int = 5000) -> list[Path]:
    """The council as CSV files in ``folder`` (made if missing), as `perfbot export` writes."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables(count):
        path = folder / f"{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\r\n")
            out.writerow(table.columns)
            out.writerows(table.rows)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--measures", type=int, default=5000)
    args = parser.parse_args()
    paths = write(args.folder, args.measures)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files, {size / 1e6:.1f} MB, to {args.folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
