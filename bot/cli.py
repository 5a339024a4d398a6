"""The ``perfbot`` command: serve the bot, manage the database, import and export spreadsheets."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.settings import ENVIRONMENT, LOCAL_URL, MAX_DISPATCHERS, Settings, SettingsError
from bot.supervision import settle_memory, settled
from domain import db
from domain.audit_trail import (
    TrailError,
    audit_trail,
    csv_text,
    nothing_found,
    record_import_run,
    table_text,
)
from domain.board import Report, ReportError, ReportKind, Scope, latest_period, report_period
from domain.board import build as build_report
from domain.dates import LONDON, long_day, parse_day, parse_moment
from domain.exporting import workbook_sheets
from domain.importing import ImportRejected, import_workbook
from domain.locks import PeriodStatus, StatusLine
from domain.model import Measure
from domain.numbers import FigureError
from domain.periods import Period, PeriodError
from domain.ratings import RatingError
from domain.reminders import last_working_morning
from domain.reporting import (
    DEADLINE_COLUMNS,
    VERSION_COLUMNS,
    WITH_CHOICES,
    by_portfolio,
    deadline_values,
    export_columns,
    load_calendar,
    parse_extras,
    performance,
    published_deadlines,
    return_versions,
)
from domain.views import in_words
from domain.workbook import (
    WorkbookError,
    read_sheets,
    write_folder,
    write_table,
    write_workbook,
)
from scheduler.jobs import JOBS

log = logging.getLogger("perfbot")


# On SIGTERM, requests in flight get this long to finish. Teams retries a request that gets
# no answer, and the outbox keeps what was not sent, so a short wait loses nothing.
SHUTDOWN_SECONDS = 5.0

# Not a scheduled job (it runs all the time beside the server), but can be run by name too.
DISPATCH = "dispatch"


class CommandError(Exception):
    """A problem to tell the person at the keyboard in one sentence, then exit 1."""


# Errors whose message is already a sentence for a person.
PLAIN_ERRORS = (
    CommandError,
    SettingsError,
    db.DatabaseUrlError,
    PeriodError,
    WorkbookError,
    FigureError,
    RatingError,
    ImportRejected,
    ReportError,
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistyped command exits 1 like every other bad input, not 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"perfbot: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="perfbot",
        description="PerfBot runs a council's performance reporting cycle in Microsoft Teams.",
        epilog="Environment: "
        + "; ".join(f"{name}: {meaning}" for name, meaning in ENVIRONMENT.items()),
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    serve = commands.add_parser(
        "serve", help="run the bot's web server (Teams posts to /api/messages)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=3978, help="port to listen on (default 3978)")
    serve.add_argument(
        "--now",
        metavar="WHEN",
        help="run as if it were this moment, e.g. 2026-11-23T10:00 (London time; demos and tests)",
    )
    serve.add_argument(
        "--playground",
        action="store_true",
        help="also start Microsoft's Agents Playground (a local Teams) for trying PerfBot out",
    )
    serve.add_argument(
        "--as",
        dest="as_who",
        choices=["amina", "mark"],
        default="amina",
        help="whom you are in the Playground: amina (a measure owner, the default) or mark "
        "(her escalation owner)",
    )
    serve.set_defaults(run=cmd_serve)

    database = commands.add_parser("db", help="database schema: upgrade or show its revision")
    db_commands = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser(
        "upgrade", help="bring the database to the current schema, keeping its data"
    )
    upgrade.set_defaults(run=cmd_db_upgrade)
    status = db_commands.add_parser("status", help="show the database's schema revision")
    status.set_defaults(run=cmd_db_status)

    importer = commands.add_parser(
        "import", help="import people, measures, targets and actuals from .xlsx or a CSV folder"
    )
    importer.add_argument("path", type=Path, help="an .xlsx workbook or a folder of CSV files")
    importer.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    importer.add_argument(
        "--reason",
        help="why figures of signed-off (locked) periods change: without it such rows are "
        "refused; with it they are recorded as corrections (restatements) with this reason",
    )
    importer.add_argument(
        "--by",
        metavar="EMAIL",
        help="who makes a --reason correction, for the audit log (default: cli:<login name>)",
    )
    importer.set_defaults(run=cmd_import)

    exporter = commands.add_parser(
        "export",
        help="export targets, actuals and ratings by measure and period (or, with "
        "--deadlines, the deadlines sheet; with --workbook, every sheet import reads)",
    )
    exporter.add_argument("--period", help="one period, e.g. '2025/26 Q2' (default: every period)")
    exporter.add_argument(
        "--deadlines",
        action="store_true",
        help="write the published deadlines instead, as the deadlines sheet that import reads",
    )
    exporter.add_argument(
        "--workbook",
        action="store_true",
        help="write the whole council instead: every sheet import reads, in its column names "
        "(-o council.xlsx for one workbook, -o FOLDER for a CSV file each); importing it "
        "again changes nothing",
    )
    exporter.add_argument("--format", choices=("csv", "xlsx"), help="csv (default) or xlsx")
    exporter.add_argument(
        "--with",
        dest="with_",
        metavar="WHAT",
        help="add to the performance export, separated by commas: "
        + "; ".join(f"{word}: {what}" for word, what in WITH_CHOICES.items())
        + " (either also shows a restated figure's earlier value beside it)",
    )
    exporter.add_argument(
        "-o", "--output", type=Path, help="file to write (default: standard output, csv only)"
    )
    exporter.set_defaults(run=cmd_export)

    _add_report_command(commands)

    jobs = commands.add_parser("jobs", help="the scheduled jobs: list them, or run one now")
    job_commands = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = job_commands.add_parser("list", help="each job and its next run")
    listing.add_argument("--now", metavar="WHEN", help="as if at this moment (London time)")
    listing.set_defaults(run=cmd_jobs_list)
    runner = job_commands.add_parser(
        "run", help=f"run one job now: {', '.join(JOBS)} or {DISPATCH} (send what is due)"
    )
    runner.add_argument("name", choices=(*JOBS, DISPATCH))
    when = runner.add_mutually_exclusive_group()
    when.add_argument(
        "--now", metavar="WHEN", help="as if at this moment, e.g. 2025-07-14T09:00 (London time)"
    )
    when.add_argument(
        "--last-morning",
        action="store_true",
        help="as at 09:00 on the last working day (today's if it is one): what PerfBot sent, "
        "or would have sent, that morning",
    )
    runner.add_argument(
        "--shard",
        metavar="K/N",
        help="dispatch only: send the K-th of N dispatchers' share (what `perfbot serve` runs "
        "when PERFBOT_DISPATCHERS is N)",
    )
    runner.add_argument(
        "--until-stopped",
        action="store_true",
        help="dispatch only: keep sending as rows fall due, until stopped (Ctrl+C, SIGTERM) "
        "or the process that started it ends",
    )
    runner.add_argument(
        "--parent",
        type=int,
        metavar="PID",
        help="with --until-stopped: the pid of the process that starts it, which `perfbot "
        "serve` gives as its own; it stops once that is no longer its parent (even if the "
        "server was killed before the dispatcher had started)",
    )
    runner.set_defaults(run=cmd_jobs_run)

    audit = commands.add_parser(
        "audit", help="who did what when (the audit log, oldest first), in plain words"
    )
    audit.add_argument("--measure", metavar="CODE", help="only entries about this measure")
    audit.add_argument("--period", metavar="P", help="only entries about this period")
    audit.add_argument("--person", metavar="EMAIL", help="only what this person did")
    audit.add_argument(
        "--since", metavar="DATE", help="only from this day on, e.g. 2026-12-01 (London time)"
    )
    audit.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="table (default, fits the terminal) or csv (every value whole, and the raw changes)",
    )
    audit.set_defaults(run=cmd_audit)

    people = commands.add_parser(
        "people", help="people PerfBot knows; --unreachable: those Teams refused"
    )
    people.add_argument(
        "--unreachable", action="store_true", help="only those who cannot be messaged, and why"
    )
    people.add_argument(
        "--now", help="the moment to say who is away at (default: now), as 2026-11-23T10:00"
    )
    people.set_defaults(run=cmd_people)

    _add_leadership_commands(commands)

    sample = commands.add_parser(
        "sample", help="the bundled sample council (Kingsmere Borough Council)"
    )
    sample_commands = sample.add_subparsers(dest="sample_command", metavar="ACTION", required=True)
    load = sample_commands.add_parser("load", help="import the sample council into the database")
    load.add_argument(
        "--if-empty", action="store_true", help="only if the database has no measures yet"
    )
    load.add_argument(
        "--as-of",
        metavar="DAY",
        help="the day its history runs up to, e.g. 2026-12-01 (default: today)",
    )
    load.set_defaults(run=cmd_sample_load)
    _add_period_commands(commands)
    _add_deployment_commands(commands)
    _add_card_key_commands(commands)
    return parser


def _add_report_command(commands: Any) -> None:
    reporter = commands.add_parser(
        "report",
        help="the quarterly performance board, the exception report or the annual report, as "
        "a page (html), a workbook (xlsx) or CSV files",
    )
    reporter.add_argument("kind", metavar="KIND", help="board, exceptions or annual")
    reporter.add_argument(
        "--period",
        nargs="+",
        metavar="PERIOD",
        help="the quarter, e.g. 2025/26 Q1, or for the annual report the year, 2025/26 "
        "(default: the last one that has ended)",
    )
    reporter.add_argument("--service", metavar="NAME", help="one service only (default: all)")
    reporter.add_argument(
        "--priority", metavar="NAME", help="one Council Plan priority only (default: all)"
    )
    reporter.add_argument(
        "--portfolio", metavar="NAME", help="one Cabinet portfolio only (default: all)"
    )
    reporter.add_argument(
        "--format",
        metavar="FORMAT",
        help="html (default), xlsx or csv; an -o FILE ending .xlsx or .csv chooses it too",
    )
    reporter.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the file to write (default: e.g. board-2025-26-Q1.html here; - for standard "
        "output, html or csv); csv puts each other section beside it as FILE-<section>.csv",
    )
    reporter.add_argument(
        "--now",
        metavar="WHEN",
        help="make it as if it were this moment, e.g. 2026-11-23T10:00 (London time; default "
        "now): the default period, what is overdue and the date it is made follow it",
    )
    reporter.set_defaults(run=cmd_report)


def _add_leadership_commands(commands: Any) -> None:
    lead = commands.add_parser(
        "leadership", help="where the Leadership Team's weekly summary goes: show, set, clear"
    )
    actions = lead.add_subparsers(dest="leadership_command", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", help="where the weekly summary goes now, who set it, and when the next one goes"
    )
    show.add_argument("--now", metavar="WHEN", help="as if at this moment (London time)")
    show.set_defaults(run=cmd_leadership_show)
    choose = actions.add_parser(
        "set-channel", help="post the weekly summary in this team's channel from now on"
    )
    choose.add_argument(
        "--team", required=True, help="the team, by its name or id as Teams gave them to PerfBot"
    )
    choose.add_argument("--channel", required=True, help="the channel in it, by name or id")
    choose.add_argument("--by", help="your email, for the audit log (default: cli:<login>)")
    choose.set_defaults(run=cmd_leadership_set_channel)
    clear = actions.add_parser(
        "clear-channel", help="no channel: the summary goes to each of the Leadership Team"
    )
    clear.add_argument("--by", help="your email, for the audit log (default: cli:<login>)")
    clear.set_defaults(run=cmd_leadership_clear_channel)


def _add_period_commands(commands: Any) -> None:
    period = commands.add_parser(
        "period", help="sign a period off (lock it), reopen it, or see where its returns stand"
    )
    actions = period.add_subparsers(dest="period_command", metavar="ACTION", required=True)
    words = {"nargs": "+", "metavar": "PERIOD", "help": "a period, e.g. 2025/26 Q1"}
    by = {
        "metavar": "EMAIL",
        "help": "who is signing off, for the audit log (default: cli:<your login name>)",
    }
    lock = actions.add_parser(
        "lock", help="sign a period off: its returns then change only by a correction"
    )
    lock.add_argument("period", **words)
    lock.add_argument("--reason", help="why, or what it was signed off for (audited)")
    lock.add_argument(
        "--force", action="store_true", help="sign it off even with returns not yet approved"
    )
    lock.add_argument("--by", **by)
    lock.set_defaults(run=cmd_period_lock)
    unlock = actions.add_parser("unlock", help="reopen a signed-off period (a reason is required)")
    unlock.add_argument("period", **words)
    unlock.add_argument("--reason", help="why it is reopened (required; audited)")
    unlock.add_argument("--by", **by)
    unlock.set_defaults(run=cmd_period_unlock)
    status = actions.add_parser(
        "status",
        help="what is approved, awaiting approval, returned, missing and restated, and the lock",
    )
    status.add_argument("period", **words)
    status.set_defaults(run=cmd_period_status)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.debug:
        logging.getLogger("perfbot").setLevel(logging.INFO)
    try:
        if getattr(args, "checks_settings", False):  # package, doctor: each problem its own line
            checked: int = args.run(args)
            return checked
        settings = Settings.from_env()
        result: int = args.run(args, settings)
        return result
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing to say
        return 0
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        print(f"perfbot: {explain(error)}", file=sys.stderr)
        return 1


def explain(error: BaseException) -> str:
    """One plain sentence (or, for an import, a list) for any error; never a traceback."""
    if isinstance(error, PLAIN_ERRORS):
        return str(error)
    if isinstance(error, OperationalError | DBAPIError | OSError | socket.gaierror):
        reason = getattr(error, "orig", None) or error
        return (
            f"cannot use the database: {str(reason).splitlines()[0]}. Check PERFBOT_DATABASE_URL "
            "and that the database server is running."
        )
    return (
        f"unexpected error ({type(error).__name__}: {error}). Nothing was changed. "
        "Run again with --debug for details."
    )


def _run(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    async def go() -> int:
        engine = db.create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


async def _require_current_schema(engine: Any) -> None:
    revision = await db.current_revision(engine)
    if revision != db.head_revision():
        where = db.describe(engine.url)
        state = "has no PerfBot tables yet" if revision is None else f"is at schema {revision}"
        raise CommandError(f"the database {where} {state}: run `perfbot db upgrade` first")


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: Any) -> int:
        before, after = await db.upgrade(engine)
        where = db.describe(engine.url)
        if before == after:
            print(f"{where}: schema already current ({after})")
        else:
            print(f"{where}: schema upgraded from {before or 'empty'} to {after}")
        return 0

    return _run(settings, work)


def cmd_db_status(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: Any) -> int:
        revision = await db.current_revision(engine)
        head = db.head_revision()
        where = db.describe(engine.url)
        if revision == head:
            print(f"{where}: schema {revision} (current)")
            return 0
        print(f"{where}: schema {revision or 'empty'}; current is {head}: run `perfbot db upgrade`")
        return 1

    return _run(settings, work)


async def _import(
    engine: Any,
    path: Path,
    dry_run: bool,
    label: str,
    reason: str | None = None,
    actor: str = "import",
) -> int:
    # Handed over to the import (popped), so that its cells are freed once every row is read.
    sheets = [read_sheets(path)]
    await _require_current_schema(engine)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        summary = await import_workbook(
            session, sheets.pop(), now=datetime.now(UTC), actor=actor, reason=reason
        )
        if dry_run:
            await session.rollback()
        else:
            record_import_run(
                session, label, summary, datetime.now(UTC), actor=actor, reason=reason
            )
    verb = "Checked" if dry_run else "Imported"
    if not summary.changed:
        print(f"{verb} {label}: nothing to change, the database already matches.")
    else:
        print(f"{verb} {label}{' (nothing written)' if dry_run else ''}:")
    for line in summary.lines():
        print(f"  {line}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    if args.reason is not None and not args.reason.strip():
        raise CommandError(
            '--reason is empty: say why the figures change, as in --reason "HS-04 Q1 was '
            'keyed wrongly"'
        )
    # A correction of signed-off figures names who made it; an ordinary import is "import".
    actor = _actor(args.by) if args.reason is not None else "import"
    return _run(
        settings,
        lambda engine: _import(engine, args.path, args.dry_run, str(args.path), args.reason, actor),
    )


def cmd_sample_load(args: argparse.Namespace, settings: Settings) -> int:
    from sample import generate

    day = _day(args.as_of, "--as-of") if args.as_of else datetime.now(LONDON).date()

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        if args.if_empty:
            async with db.session_factory(engine)() as session:
                count = await session.scalar(select(func.count()).select_from(Measure))
            if count:
                print(
                    f"The database already has {count} measures; the sample council was not loaded."
                )
                return 0
        with tempfile.TemporaryDirectory() as folder:
            generate.write(Path(folder), generate.build(day, demo=True))
            await _import(
                engine,
                Path(folder),
                False,
                f"the sample council (Kingsmere Borough Council) as of {long_day(day)}",
            )
        # Its history signed off as of the moment it is loaded; for a council of a day still
        # to come, as of noon that day (its periods must have ended when they are locked).
        now = datetime.now(UTC)
        if day > now.astimezone(LONDON).date():
            now = datetime.combine(day, time(12), tzinfo=LONDON)
        async with db.session_factory(engine)() as session, session.begin():
            locked = await generate.sign_off(session, day, now)
        if locked:
            print(
                f"Signed off {len(locked)} periods that ended more than "
                f"{generate.SIGNED_OFF_AFTER_DAYS} days before {long_day(day)}, as before "
                f"PerfBot took over ({_ranges(locked)}); see `perfbot period status PERIOD`."
            )
        return 0

    return _run(settings, work)


def _ranges(labels: Sequence[str]) -> str:
    """Period labels (oldest first within each frequency) as "2023/24 M1 to 2026/27 M4"
    for each frequency."""
    by_frequency: dict[str, list[str]] = {}
    for label in labels:
        by_frequency.setdefault(Period.parse(label).frequency.value, []).append(label)
    return "; ".join(
        f"{found[0]} to {found[-1]}" if len(found) > 1 else found[0]
        for found in by_frequency.values()
    )


def _day(text: str, option: str) -> date:
    try:
        return parse_day(text)
    except ValueError as error:
        raise CommandError(f"{option}: {error}") from None


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    if args.workbook:
        return _export_workbook(args, settings)
    if args.deadlines and args.period:
        raise CommandError(
            "--period is for the performance export: leave it out, --deadlines writes every "
            "deadline"
        )
    extras = _extras(args.with_)
    if args.deadlines and extras:
        raise CommandError(
            "--with is for the performance export: leave it out, --deadlines writes the "
            "deadlines sheet only"
        )
    period = Period.parse(args.period) if args.period else None
    sheet = "deadlines" if args.deadlines else "performance"
    file_format = args.format
    if file_format is None:
        file_format = "xlsx" if args.output and args.output.suffix.lower() == ".xlsx" else "csv"
    if file_format == "xlsx" and args.output is None:
        raise CommandError(f"an xlsx export needs a file: add -o {sheet}.xlsx")
    if "versions" in extras and args.output is None:
        raise CommandError(
            "--with versions writes a second table, so it needs a file: add -o performance.xlsx "
            "(a versions sheet) or -o performance.csv (and performance-versions.csv beside it)"
        )
    if args.output and not args.output.parent.exists():
        raise CommandError(f"the folder {args.output.parent} does not exist")

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        versions: list[Sequence[Any]] = []
        async with db.session_factory(engine)() as session:
            columns: Sequence[str]
            values: list[Sequence[Any]]
            if args.deadlines:
                columns = DEADLINE_COLUMNS
                values = [deadline_values(d) for d in await published_deadlines(session)]
            else:
                columns = export_columns(extras)
                rows = await performance(session, settings.default_scheme, period)
                if "portfolio" in extras:
                    rows = by_portfolio(rows)
                values = [row.export_values_with(extras) for row in rows]
                if "versions" in extras:
                    versions = list(await return_versions(session, period))
        if "versions" in extras:
            return _write_with_versions(args.output, file_format, columns, values, versions)
        # The sheet is named as import expects it, so a deadlines workbook imports as it is.
        data = write_table(args.output, columns, values, file_format, sheet_name=sheet)
        if data is not None:
            sys.stdout.write(data.decode("utf-8-sig"))
        else:
            print(f"Wrote {len(values):,} rows to {args.output}", file=sys.stderr)
            if args.deadlines and file_format == "csv" and args.output.stem.lower() != sheet:
                print(
                    f"To import it again, name it {sheet}.csv in a folder of CSV files.",
                    file=sys.stderr,
                )
        return 0

    return _run(settings, work)


def _export_workbook(args: argparse.Namespace, settings: Settings) -> int:
    """`perfbot export --workbook`: every import sheet, to one .xlsx or a folder of CSVs."""
    for given, option in ((args.period, "--period"), (args.with_, "--with")):
        if given:
            raise CommandError(
                f"{option} is for the performance export: leave it out, --workbook writes "
                "every sheet whole"
            )
    if args.deadlines:
        raise CommandError(
            "--deadlines and --workbook are two exports: --workbook has the deadlines sheet "
            "already, so leave --deadlines out"
        )
    output: Path | None = args.output
    if output is None:
        raise CommandError(
            "--workbook writes several sheets, so it needs a place: add -o council.xlsx "
            "(one workbook) or -o council/ (a folder of CSV files)"
        )
    as_xlsx = output.suffix.lower() == ".xlsx" and not output.is_dir()
    if args.format == "xlsx" and not as_xlsx:
        raise CommandError(f"--format xlsx needs a workbook file: give -o {output.stem}.xlsx")
    if args.format == "csv" and as_xlsx:
        raise CommandError(
            f"--format csv writes a folder of CSV files: give -o {output.with_suffix('')}/"
        )
    if not output.parent.is_dir():
        raise CommandError(f"the folder {output.parent} does not exist")
    if not as_xlsx and output.exists() and not output.is_dir():
        raise CommandError(
            f"{output} is a file: give -o a workbook ending .xlsx, or a folder for the CSV files"
        )

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        async with db.session_factory(engine)() as session:
            sheets = await workbook_sheets(session)
        counts = "; ".join(f"{name} {len(rows):,}" for name, _, rows in sheets)
        if as_xlsx:
            write_workbook(output, sheets)
            print(f"Wrote {output}, rows by sheet: {counts}", file=sys.stderr)
        else:
            write_folder(output, sheets)
            print(f"Wrote a CSV file for each sheet to {output}/, rows: {counts}", file=sys.stderr)
        return 0

    return _run(settings, work)


def _extras(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    try:
        return parse_extras(text)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _write_with_versions(
    output: Path,
    file_format: str,
    columns: Sequence[str],
    values: list[Sequence[Any]],
    versions: list[Sequence[Any]],
) -> int:
    """The performance export and every version of each return: two sheets of one workbook,
    or two CSV files side by side (``performance.csv`` and ``performance-versions.csv``)."""
    if file_format == "xlsx":
        write_workbook(
            output, [("performance", columns, values), ("versions", VERSION_COLUMNS, versions)]
        )
        print(
            f"Wrote {len(values):,} rows and {len(versions):,} versions to {output}",
            file=sys.stderr,
        )
        return 0
    beside = output.with_name(f"{output.stem}-versions{output.suffix or '.csv'}")
    write_table(output, columns, values, "csv")
    write_table(beside, VERSION_COLUMNS, versions, "csv")
    print(f"Wrote {len(values):,} rows to {output}", file=sys.stderr)
    print(f"Wrote {len(versions):,} versions to {beside}", file=sys.stderr)
    return 0


REPORT_FORMATS = ("html", "xlsx", "csv")


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    kind = ReportKind.parse(args.kind)
    now = _moment(args.now)
    if args.period is not None:
        period = report_period(kind, " ".join(args.period))  # 2025/26 Q1, quoted or not
    else:
        period = latest_period(kind, now.astimezone(LONDON).date())
    file_format = _report_format(args.format, args.output)
    default_name = f"{kind.value}-{period.label.replace('/', '-').replace(' ', '-')}.{file_format}"
    output = None if args.output == "-" else Path(args.output or default_name)
    if output is None and file_format == "xlsx":
        raise CommandError(
            f"a workbook cannot go to standard output: give it a file, e.g. -o {default_name}"
        )
    if output is not None:
        _check_writable(output, default_name)

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        async with db.session_factory(engine)() as session:
            report = await build_report(
                session,
                kind,
                period,
                now,
                settings.policy,
                Scope(everything=True, words="all services"),
                service=args.service,
                priority=args.priority,
                portfolio=args.portfolio,
            )
        _write_report(report, file_format, output)
        for note in report.notes:
            print(note, file=sys.stderr)
        return 0

    return _run(settings, work)


def _report_format(asked: str | None, output: str | None) -> str:
    """The format asked for, else the one -o's ending names, else html."""
    suffix = Path(output).suffix.lower().lstrip(".") if output and output != "-" else ""
    if asked is None:
        return suffix if suffix in REPORT_FORMATS else "html"
    word = asked.strip().lower().lstrip(".")
    if word not in REPORT_FORMATS:
        raise CommandError(
            f"--format {asked}: there is no such format; choose {', '.join(REPORT_FORMATS)}"
        )
    if suffix in REPORT_FORMATS and suffix != word:
        raise CommandError(
            f"-o {output} ends in .{suffix} but --format is {word}: make them agree, e.g. "
            f"-o {Path(output or '').with_suffix('.' + word).name}"
        )
    return word


def _check_writable(output: Path, example: str) -> None:
    if output.is_dir():
        raise CommandError(f"{output} is a folder: give a file name, e.g. -o {output / example}")
    if output.is_symlink() or (output.exists() and not output.is_file()):
        raise CommandError(
            f"{output} is not an ordinary file (a link or a device): give -o a file's own name"
        )
    if output.suffix.lower() not in (".html", ".htm", ".xlsx", ".csv"):
        raise CommandError(
            f"-o {output}: perfbot report writes .html, .xlsx or .csv files; name it so "
            f"(e.g. -o {output.with_suffix('.html').name}); for a PDF, print the page from a browser"
        )
    folder = output.parent
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"{folder} is a file, not a folder: give -o a file in a folder")
    if not folder.is_dir():
        raise CommandError(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write in the folder {folder}: choose another with -o")
    if output.exists() and not os.access(output, os.W_OK):
        raise CommandError(f"cannot overwrite {output}: it is read-only; choose another with -o")


SECTION_WORDS = {
    "Headlines": "headline counts",
    "Measures": "measures",
    "Exceptions": "off-track measures",
    "Action plans": "action plans",
    "Overdue": "overdue returns",
    "Outturn": "outturns",
}


def _write_report(report: Report, file_format: str, output: Path | None) -> None:
    """Write the report, each file to a temporary name beside it first and then renamed,
    so that a failure never leaves half a file; then say in one line what was written."""
    from reports import csvfiles, workbook
    from reports.html import render

    figures = _report_figures(report)
    what = f"the {report.kind.heading.lower()} for {report.period.label}"
    if output is None:
        if file_format == "html":
            sys.stdout.write(render(report))
            print(f"Wrote {what} to standard output: {figures}.", file=sys.stderr)
        else:
            sys.stdout.write(csvfiles.main_text(report))
            placed = csvfiles.files(report, Path(f"{report.kind.value}.csv"))
            others = [SECTION_WORDS.get(s.name, s.name.lower()) for _, s in placed[1:]]
            print(
                f"Wrote {what} ({SECTION_WORDS.get(placed[0][1].name, '')}) to standard "
                f"output: {figures}; its {in_words(others)} need files: add -o "
                f"{report.kind.value}.csv",
                file=sys.stderr,
            )
        return
    if file_format == "html":
        page = render(report)
        _replace([(output, lambda path: path.write_text(page, encoding="utf-8"))])
        print(f"Wrote {output}: {figures}; open it in a browser.", file=sys.stderr)
    elif file_format == "xlsx":
        _replace([(output, lambda path: workbook.write(report, path))])
        sheets = ["About", *(s.name for s in _sections(report))]
        print(
            f"Wrote {output}: {figures} (sheets {in_words(sheets)}).",
            file=sys.stderr,
        )
    else:
        placed = csvfiles.files(report, output)
        for path, section in placed[1:]:
            if path.is_symlink() or (path.exists() and not path.is_file() and not path.is_dir()):
                raise CommandError(
                    f"{path} is where the {SECTION_WORDS.get(section.name, section.slug)} go "
                    f"beside {output}, but it is not an ordinary file: move it, or choose "
                    "another name with -o"
                )
            if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)):
                raise CommandError(
                    f"{path} is where the {SECTION_WORDS.get(section.name, section.slug)} go "
                    f"beside {output}, but it is {'a folder' if path.is_dir() else 'read-only'}: "
                    "move it, or choose another name with -o"
                )
        _replace([(path, _csv_writer(csvfiles.section_text(s))) for path, s in placed])
        beside = in_words([str(path) for path, _ in placed[1:]])
        print(f"Wrote {output}: {figures}; beside it {beside}.", file=sys.stderr)


def _csv_writer(text: str) -> Callable[[Path], object]:
    from reports.csvfiles import ENCODING

    return lambda path: path.write_text(text, encoding=ENCODING, newline="")


def _sections(report: Report) -> list[Any]:
    from reports.table import sections

    return sections(report)


def _replace(files: Sequence[tuple[Path, Callable[[Path], object]]]) -> None:
    """Write each file to a temporary one beside it, and rename them all only once every one
    is written: nothing is left half-written, and no earlier file is replaced, on failure."""
    written: list[tuple[Path, Path]] = []
    replaced = 0
    try:
        for target, write in files:
            handle, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
            os.close(handle)
            written.append((Path(name), target))
            write(Path(name))
            os.chmod(name, _file_mode(target))  # as an ordinary new file (mkstemp's is 0600)
        for temporary, target in written:
            os.replace(temporary, target)
            replaced += 1
    except OSError as error:
        done = "; nothing was written" if not replaced else ""
        raise CommandError(
            f"cannot write {written[-1][1] if written else files[0][0]}: "
            f"{error.strerror or error}{done}"
        ) from None
    finally:
        for temporary, _ in written[replaced:]:
            temporary.unlink(missing_ok=True)


def _file_mode(target: Path) -> int:
    """The mode a file replacing ``target`` keeps: its own, or a new file's under the umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _report_figures(report: Report) -> str:
    """The report's figures in words: 41 measures, 7 off track, 2 overdue returns (each
    measure once, though it is shown under each of its priorities)."""

    def counted(number: int, word: str, words: str) -> str:
        return f"{number:,} {word if number == 1 else words}"

    of = f" in {report.service}" if report.service else ""  # the council's own spellings
    of += f" of the {report.portfolio} portfolio" if report.portfolio else ""
    of += f" under {report.priority}" if report.priority else ""
    late = len({(r.code, r.period) for r in report.overdue}) or len(
        {r.code for r in report.rows if r.overdue}
    )
    overdue = counted(late, "overdue return", "overdue returns")
    if report.kind is ReportKind.ANNUAL:
        off = len({r.code for r in report.annual if r.rating is not None and r.rating.off_track})
        measures = counted(len({r.code for r in report.annual}), "measure", "measures")
        return f"{measures}{of}, {off:,} off track at the year's end"
    off = len({r.code for r in report.rows if r.off_track})
    if report.kind is ReportKind.EXCEPTIONS:
        return f"{counted(off, 'measure', 'measures')}{of} off track, {overdue}"
    measures = counted(len({r.code for r in report.rows}), "measure", "measures")
    return f"{measures}{of}, {off:,} off track, {overdue}"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.teams.bot import utc_now

    async def schema_ok(engine: Any) -> int:
        await _require_current_schema(engine)
        return 0

    _run(settings, schema_ok)
    clock = utc_now
    if args.now:
        try:
            fixed = parse_moment(args.now)
        except ValueError as error:
            raise CommandError(f"--now: {error}") from None
        clock = lambda: fixed  # noqa: E731 - a clock that stands still
        log.warning("the clock is fixed at %s (--now)", fixed.isoformat())
    if settings.public_url == LOCAL_URL and not os.environ.get("PERFBOT_PUBLIC_URL", "").strip():
        # A local run (with an app id the address is required): links to the board point at
        # the port it listens on, `make run PORT=3979` too.
        settings = replace(settings, public_url=f"http://localhost:{args.port}")
    # With PERFBOT_DISPATCHERS=N the server sends the first share itself and keeps a process
    # running for each other share, on the same clock.
    app = create_app(
        settings,
        clock=clock,
        background=True,
        shard_command=dispatcher_command(parent=os.getpid(), now=args.now),
    )
    app.on_startup.append(settled)
    print(
        f"PerfBot is listening on http://{args.host}:{args.port}/api/messages "
        f"(health: http://{args.host}:{args.port}/healthz); press Ctrl+C to stop.",
        flush=True,
    )
    playground = None
    if args.playground:
        from bot import playground as local_teams

        try:
            playground, port = local_teams.start(
                f"http://127.0.0.1:{args.port}/api/messages",
                config=local_teams.config_path(args.as_who),
            )
        except local_teams.PlaygroundError as error:
            raise CommandError(str(error)) from None
        if args.as_who == "mark":
            print(
                f"\n  Open http://localhost:{port} in a browser: it is a local Teams where you are\n"
                "  Mark Taylor, Head of Revenues and Benefits and escalation owner for Amina\n"
                "  Hussain's measures. Opening it installs PerfBot for him: anything escalated to\n"
                "  him (a return Amina rated Action in `make run`) arrives, with its buttons.\n"
                "  Type `status` for his service. README.md (The manager's side) walks through it.\n",
                flush=True,
            )
        else:
            print(
                f"\n  Open http://localhost:{port} in a browser: it is a local Teams where you are\n"
                "  Amina Hussain, Revenues Manager in the sample council. Opening it installs\n"
                "  PerfBot for her: a welcome arrives and, on a working day from 09:00, the\n"
                "  reminder she is owed that day (RB-06; before 09:00 or at a weekend, README.md's\n"
                "  Quick start says how to have it now). Enter 91% on its card with a line of\n"
                "  commentary and press Submit; then type `my measures`. README.md (Quick start)\n"
                "  walks through it.\n"
                "  A figure far below target goes to her escalation owner: see it with\n"
                "  `make run AS=mark` (README.md, The manager's side).\n",
                flush=True,
            )
    try:
        web.run_app(
            app, host=args.host, port=args.port, print=None, shutdown_timeout=SHUTDOWN_SECONDS
        )
    except OSError as error:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port} ({error.strerror or error}): is PerfBot "
            "already running? Choose another port with --port (with make: make run PORT=3979)"
        ) from None
    finally:
        if playground is not None:
            local_teams.stop(playground)
    return 0


def dispatcher_command(parent: int | None = None, now: str | None = None) -> list[str]:
    """How `perfbot serve` starts each dispatcher after the first; ``--shard K/N`` follows."""
    command = [sys.executable, "-m", "bot.cli", "jobs", "run", DISPATCH, "--until-stopped"]
    if parent is not None:
        command += ["--parent", str(parent)]
    if now:
        command += ["--now", now]
    return command


def _moment(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        return parse_moment(text)
    except ValueError as error:
        raise CommandError(f"--now: {error}") from None


def cmd_jobs_list(args: argparse.Namespace, settings: Settings) -> int:

    now = _moment(args.now)
    for job in JOBS.values():
        upcoming = job.next_run(settings.timetable, now)
        when = f"{upcoming.astimezone(LONDON):%a %d %b %Y %H:%M %Z}" if upcoming else "never"
        print(f"{job.name:<14} next {when}  {job.description}")
    print(
        f"{DISPATCH:<14} continuously while `perfbot serve` runs  sends due notifications "
        f"({'any time' if settings.send_window.always else 'working days, in the send window'})"
    )
    return 0


def cmd_jobs_run(args: argparse.Namespace, settings: Settings) -> int:
    from domain.uow import UnitOfWork
    from scheduler.jobs import JobContext
    from scheduler.timetable import run_job

    now = _moment(args.now)
    if args.last_morning and args.name == DISPATCH:
        raise CommandError("--last-morning is for the scheduled jobs, not dispatch")
    shard = _shard(args.shard)
    if args.name != DISPATCH and (args.shard or args.until_stopped):
        raise CommandError("--shard and --until-stopped are for `perfbot jobs run dispatch` only")
    if args.parent and not args.until_stopped:
        raise CommandError("--parent goes with --until-stopped")

    async def work(engine: Any) -> int:
        nonlocal now
        await _require_current_schema(engine)
        sessions = db.session_factory(engine)
        if args.last_morning:
            async with sessions() as session:
                calendar = await load_calendar(session)
            now = last_working_morning(datetime.now(UTC), calendar)
        if args.name == DISPATCH:
            from bot.teams.bot import utc_now

            clock = (lambda: now) if args.now else utc_now
            if args.until_stopped:
                return await _dispatch_until_stopped(
                    settings, sessions, clock, shard, args.parent or os.getppid()
                )
            return await _dispatch(settings, sessions, clock, shard)
        # By hand, the weekly summary goes for now's week whatever the day (on demand).
        context = JobContext(
            UnitOfWork(sessions), settings.timetable, settings.policy, on_demand=True
        )
        result = await run_job(args.name, context, now)
        print(
            f"{args.name} at {now.astimezone(LONDON):%a %d %b %Y %H:%M}: {len(result.queued)} queued"
        )
        for key in result.queued:
            print(f"  {key}")
        for why, count in sorted(result.skipped.items()):
            print(f"  skipped {count}: {why}")
        return 0

    return _run(settings, work)


def _shard(text: str | None) -> tuple[int, int]:
    """``2/3`` -> (1, 3): the second of three dispatchers, counted from 0 inside."""
    if not text:
        return (0, 1)
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n) <= MAX_DISPATCHERS):
        raise CommandError(
            f"--shard '{text}' is not like 2/3 (the second of three dispatchers, "
            f"at most {MAX_DISPATCHERS})"
        )
    return (int(k) - 1, int(n))


def _dispatcher(settings: Settings, sessions: Any, clock: Any, shard: tuple[int, int]) -> Any:
    from bot.delivery import Dispatcher
    from bot.sealing import make_adapter
    from domain.uow import UnitOfWork

    adapter, _, _ = make_adapter(settings, UnitOfWork(sessions), clock)
    return Dispatcher(settings, sessions, adapter, clock, shard=shard)


async def _dispatch_until_stopped(
    settings: Settings, sessions: Any, clock: Any, shard: tuple[int, int], parent: int
) -> int:
    """Send as rows fall due until told to stop, or until the process that started this one
    (`perfbot serve`) is gone: a dispatcher is never left running on its own."""
    dispatcher = _dispatcher(settings, sessions, clock, shard)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, dispatcher.stop)

    async def orphaned() -> None:
        while os.getppid() == parent:  # noqa: ASYNC110 - no event marks a parent's end
            await asyncio.sleep(1)
        log.warning("the process that started this dispatcher has ended; stopping")
        dispatcher.stop()

    watch = asyncio.create_task(orphaned())
    settle_memory()
    which = f"{shard[0] + 1}/{shard[1]}"
    log.info("dispatcher %s sending as messages fall due; Ctrl+C to stop", which)
    try:
        await dispatcher.run()
    finally:
        watch.cancel()
        await dispatcher.adapter.bot_framework_authentication.close()
    log.info("dispatcher %s stopped", which)
    return 0


async def _dispatch(settings: Settings, sessions: Any, clock: Any, shard: tuple[int, int]) -> int:
    dispatcher = _dispatcher(settings, sessions, clock, shard)
    authentication = dispatcher.adapter.bot_framework_authentication
    total = 0
    try:
        while True:
            report = await dispatcher.run_once()
            total += report.sent
            for error in report.errors:
                print(f"  {error}")
            if not (report.sent or report.cancelled or report.failed):
                break
    finally:
        await authentication.close()
    print(f"dispatch: {total} sent")
    return 0


def cmd_people(args: argparse.Namespace, settings: Settings) -> int:
    from domain import cover
    from domain.model import Person

    today = _moment(args.now).astimezone(LONDON).date()

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        async with db.session_factory(engine)() as session:
            query = select(Person).order_by(Person.name)
            if args.unreachable:
                query = query.where(Person.unreachable_reason.is_not(None))
            people = (await session.scalars(query)).all()
            away = await cover.away_on(session, today)
        if args.unreachable and not people:
            print("Everyone PerfBot has tried to message was reached.")
        for person in people:
            line = f"{person.name:<28} {person.email}"
            if person.unreachable_reason:
                since = (
                    f" since {person.unreachable_since:%d %b %Y %H:%M}"
                    if person.unreachable_since
                    else ""
                )
                line += f"  unreachable{since}: {person.unreachable_reason}"
            absence = away.absences.get(person.id)
            if absence is not None:
                named = f", {absence.cover.name} covering" if absence.cover else ""
                line += f"  away until {long_day(absence.until)}{named}"
            print(line)
        return 0

    return _run(settings, work)


def _period_words(words: Sequence[str], action: str) -> str:
    """A period given as one argument ("2025/26 Q1") or two words (2025/26 Q1)."""
    text = " ".join(words)
    try:
        return Period.parse(text).label
    except PeriodError as error:
        raise CommandError(f"{error}; for example `perfbot period {action} 2025/26 Q1`") from None


def _actor(by: str | None) -> str:
    """Who signs off from the command line, for the audit log: ``--by``, else the login
    name as ``cli:<name>`` (the performance team's tool: nobody else runs it)."""
    if by is not None:
        if not by.strip():
            raise CommandError("--by is empty: give your email, as in --by amina@council.gov.uk")
        return by.strip().lower()
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without one)
        login = "unknown"
    return f"cli:{login}"


def _period_use_case(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run a period use case in its own transaction; a refusal is one sentence."""
    from domain.uow import UnitOfWork
    from domain.views import Refused

    async def go(engine: Any) -> Any:
        await _require_current_schema(engine)
        try:
            return await UnitOfWork(db.session_factory(engine)).run(work)
        except Refused as refusal:
            raise CommandError(str(refusal)) from None

    return _run(settings, go)


def _short_day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _when(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{long_day(local.date())} at {local:%H:%M}"


def _channel_line(channel: Any) -> str:
    where = f"the channel {channel.channel_name} ({channel.conversation_id})"
    if not channel.channel_name:
        where = f"the channel {channel.conversation_id}"
    team = channel.team_name or channel.team_id
    if team:
        ident = f" ({channel.team_id})" if channel.team_name and channel.team_id else ""
        where += f" of the team {team}{ident}"
    return where


def leadership_lines(where: Any, settings: Settings, upcoming: str) -> list[str]:
    """What `perfbot leadership show` prints: where the summary goes, and when next."""
    schedule = settings.summary
    if where.channel is not None:
        lines = [
            f"The weekly summary goes to {_channel_line(where.channel)}.",
            f"  Set by {where.channel.set_by} on {_when(where.channel.set_at)}.",
        ]
    else:
        names = ", ".join(p.name for p in where.people) or "nobody (no one has the leadership role)"
        lines = [
            f"No channel is set: it goes to each of the Leadership Team in person: {names}.",
            "  The performance team is told each time; to post it in a channel, type set "
            "leadership channel there in Teams, or run perfbot leadership set-channel.",
        ]
    lines.append(
        f"  Next: {upcoming} ({schedule.describe()}, {schedule.zone.key}; a bank holiday or "
        "closure day moves it to the next working day)."
    )
    return lines


def cmd_leadership_show(args: argparse.Namespace, settings: Settings) -> int:
    from domain import leadership

    now = _moment(args.now)

    async def read(session: Any) -> tuple[Any, str]:
        calendar = await load_calendar(session)
        where = await leadership.destination(session)
        day, when = await leadership.next_summary(session, now, settings.summary, calendar)
        return where, leadership.next_words(day, when, settings.summary, calendar)

    where, upcoming = _period_use_case(settings, read)
    for line in leadership_lines(where, settings, upcoming):
        print(line)
    return 0


def cmd_leadership_set_channel(args: argparse.Namespace, settings: Settings) -> int:
    from domain import leadership

    actor = _actor(args.by)
    now = datetime.now(UTC)
    channel = _period_use_case(
        settings,
        lambda session: leadership.set_channel_named(session, args.team, args.channel, actor, now),
    )
    print(f"The weekly summary will be posted in {_channel_line(channel)} from now on.")
    said = settings.summary.describe()
    print(f"  {said[0].upper()}{said[1:]} ({settings.summary.zone.key}).")
    return 0


def cmd_leadership_clear_channel(args: argparse.Namespace, settings: Settings) -> int:
    from domain import leadership

    actor = _actor(args.by)
    now = datetime.now(UTC)
    was = _period_use_case(settings, lambda session: leadership.clear_channel(session, actor, now))
    if was is None:
        print("No channel was set: the summary already goes to each of the Leadership Team.")
        return 0
    print(
        f"Cleared: the weekly summary no longer goes to {_channel_line(was)}; it goes to each "
        "of the Leadership Team in person, and the performance team is told."
    )
    return 0


def cmd_period_lock(args: argparse.Namespace, settings: Settings) -> int:
    from domain import locks

    label = _period_words(args.period, "lock")
    actor = _actor(args.by)
    now = datetime.now(UTC)
    status: PeriodStatus = _period_use_case(
        settings,
        lambda session: locks.lock(session, label, actor, now, args.reason, args.force),
    )
    reason = status.lock.reason if status.lock else None
    why = f', reason: "{reason}"' if reason else ""
    print(f"Signed off {label}: locked by {actor} on {_when(now)}{why}.")
    print(f"  {_counts(status)}")
    if status.unapproved:
        print(f"  Signed off with --force, not approved: {status.unapproved_summary()}.")
    print(
        "  Its returns now change only by a correction with a reason "
        '(perfbot import --reason "..."); reopen it with perfbot period unlock.'
    )
    return 0


def cmd_period_unlock(args: argparse.Namespace, settings: Settings) -> int:
    from domain import locks

    label = _period_words(args.period, "unlock")
    if args.reason is None or not args.reason.strip():
        raise CommandError(
            f'unlocking needs a reason for the audit log: perfbot period unlock "{label}" '
            '--reason "why it is reopened"'
        )
    actor = _actor(args.by)
    now = datetime.now(UTC)
    _period_use_case(
        settings, lambda session: locks.unlock(session, label, actor, now, args.reason)
    )
    print(f"Reopened {label} ({args.reason.strip()}): its returns can be sent and changed again.")
    return 0


def cmd_period_status(args: argparse.Namespace, settings: Settings) -> int:
    from domain import locks

    label = _period_words(args.period, "status")
    now = datetime.now(UTC)
    status: PeriodStatus = _period_use_case(
        settings, lambda session: locks.period_status(session, label, now)
    )
    for line in status_lines(status):
        print(line)
    return 0


def _counts(status: PeriodStatus) -> str:
    parts = [
        (len(status.approved), "approved"),
        (len(status.awaiting), "awaiting approval"),
        (len(status.returned), "returned to their owner"),
        (len(status.missing), "missing"),
        (len(status.restated), "restated"),
    ]
    return ", ".join(f"{count} {what}" for count, what in parts)


TITLE_WIDTH = 40


def status_lines(status: PeriodStatus) -> list[str]:
    """``perfbot period status`` as lines for a terminal: the counts, the lock, then each
    group (what needs doing first), one line per measure."""
    period = status.period
    total = len(status.approved) + len(status.unapproved)
    lines = [
        f"{period.label} ({period.frequency.value}, {_short_day(period.start)} to "
        f"{_short_day(period.end)}): {total} measure{'s' if total != 1 else ''} reported "
        f"{period.frequency.value}",
        f"  {_counts(status)}",
    ]
    if status.lock is not None:
        why = f', reason: "{status.lock.reason}"' if status.lock.reason else ""
        lines.append(
            f"  Signed off (locked) by {status.lock.locked_by} on {_when(status.lock.locked_at)}"
            f"{why}."
        )
    elif status.unapproved:
        lines.append(
            "  Not signed off. Approve the returns below, or sign it off as it stands with "
            f'perfbot period lock "{period.label}" --force.'
        )
    else:
        lines.append(
            f'  Not signed off: every return is approved. perfbot period lock "{period.label}"'
        )

    def title(text: str) -> str:
        short = text if len(text) <= TITLE_WIDTH else text[: TITLE_WIDTH - 1] + "…"
        return f"{short:<{TITLE_WIDTH}}"

    width = max([len(line.code) for line in (*status.approved, *status.unapproved)] or [0])

    def row(line: StatusLine, note: str = "") -> str:
        text = (
            f"  {line.code:<{width}}  {title(line.title)}  {line.shown:>10}  "
            f"{line.service} · {line.owner}"
        )
        return f"{text}\n  {'':<{width}}  {note}" if note else text

    def reviewed(line: StatusLine, verb: str) -> str:
        if line.reviewed_by is None:
            return ""
        when = (
            f" on {long_day(line.reviewed_at.astimezone(LONDON).date())}"
            if line.reviewed_at
            else ""
        )
        return f"{verb} by {line.reviewed_by}{when}"

    groups: list[tuple[str, tuple[StatusLine, ...], Callable[[StatusLine], str]]] = [
        (status.title("awaiting"), status.awaiting, lambda line: ""),
        (
            status.title("returned"),
            status.returned,
            lambda line: (
                reviewed(line, "returned") + (f': "{line.comment}"' if line.comment else "")
            ),
        ),
        (status.title("missing"), status.missing, lambda line: ""),
        (
            status.title("restated"),
            status.restated,
            lambda line: (
                f"was {line.restated_from or 'no figure'}"
                + (f": {line.correction_reason}" if line.correction_reason else "")
            ),
        ),
        (status.title("approved"), status.approved, lambda line: reviewed(line, "approved")),
    ]
    for heading, found, note in groups:
        if not found:
            continue
        lines += ["", f"{heading} ({len(found)}):"]
        lines += [row(line, note(line)) for line in found]
    return lines


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    since = _day(args.since, "--since") if args.since else None

    async def work(engine: Any) -> int:
        await _require_current_schema(engine)
        async with db.session_factory(engine)() as session:
            try:
                lines = await audit_trail(
                    session,
                    measure=args.measure,
                    period=args.period,
                    person=args.person,
                    since=since,
                )
            except TrailError as error:
                raise CommandError(str(error)) from None
        if not lines:
            print(nothing_found(args.measure, args.period, args.person, since))
        elif args.format == "csv":
            sys.stdout.write(csv_text(lines))
        else:
            sys.stdout.write(table_text(lines, shutil.get_terminal_size((100, 24)).columns))
        return 0

    return _run(settings, work)


# ---- the keys cards are sealed with (issue 17) ----------------------------------------------


def _add_card_key_commands(commands: Any) -> None:
    keys = commands.add_parser(
        "card-keys",
        help="the keys PerfBot seals its cards' buttons with: list, rotate, retire the older",
    )
    actions = keys.add_subparsers(dest="card_keys_command", metavar="ACTION", required=True)
    actions.add_parser(
        "list", help="each key, when it was made, and which seals new cards"
    ).set_defaults(run=cmd_card_keys_list)
    rotate = actions.add_parser(
        "rotate", help="a new key seals cards from now on; cards already sent keep working"
    )
    rotate.add_argument("--by", help="your email, for the audit log (default: cli:<login>)")
    rotate.set_defaults(run=cmd_card_keys_rotate)
    retire = actions.add_parser(
        "retire",
        help="retire every key but the newest: cards sealed with them are refused from now on",
    )
    retire.add_argument("--by", help="your email, for the audit log (default: cli:<login>)")
    retire.set_defaults(run=cmd_card_keys_retire)


def cmd_card_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    from domain import card_keys

    now = datetime.now(UTC)

    async def read(session: Any) -> list[Any]:
        await card_keys.in_use(session, now)  # the first key, if none was made yet
        return await card_keys.listed(session)

    for key in _period_use_case(settings, read):
        made = key.created_at.astimezone(LONDON)
        state = (
            "seals new cards"
            if key.signing
            else f"retired {key.retired_at.astimezone(LONDON):%d %b %Y %H:%M}"
            if key.retired_at
            else "still opens the cards it sealed"
        )
        print(f"key {key.id}: made {made:%d %b %Y %H:%M}, {state}")
    return 0


def cmd_card_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from domain import card_keys

    actor, now = _actor(args.by), datetime.now(UTC)

    async def rotate(session: Any) -> int:
        await card_keys.in_use(session, now)
        return await card_keys.rotate(session, actor, now)

    key_id = _period_use_case(settings, rotate)
    print(
        f"Key {key_id} seals PerfBot's cards from now on (a running server takes it up within "
        "a minute). Cards sent before keep working until you run: perfbot card-keys retire"
    )
    return 0


def cmd_card_keys_retire(args: argparse.Namespace, settings: Settings) -> int:
    from domain import card_keys

    actor, now = _actor(args.by), datetime.now(UTC)
    retired = _period_use_case(settings, lambda s: card_keys.retire_older(s, actor, now))
    if not retired:
        print("Only one key is in use: nothing to retire (run perfbot card-keys rotate first).")
        return 0
    several = len(retired) > 1
    print(
        f"Retired key{'s' if several else ''} {', '.join(map(str, retired))}: a card sealed "
        f"with {'them' if several else 'it'} is refused from now on (by a running server "
        "within a minute), and its person told to type my measures for a fresh one."
    )
    return 0


# ---- deployment: the Teams app package and the deployment check (issue 16) ----------------


def _add_deployment_commands(commands: Any) -> None:
    """`perfbot package` and `perfbot doctor` read the environment themselves, so that each
    missing or wrong setting gets a sentence of its own instead of the first stopping all."""
    packer = commands.add_parser(
        "package",
        help="build the Teams app package (manifest.json and icons, zipped) to upload in the "
        "Teams admin centre",
    )
    packer.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("perfbot.zip"),
        help="the zip to write (default perfbot.zip)",
    )
    packer.add_argument(
        "--version",
        dest="app_version",
        metavar="X.Y.Z",
        help="the app's version in Teams (default PerfBot's own); each upload must be higher",
    )
    packer.set_defaults(run=cmd_package, checks_settings=True)
    doctor = commands.add_parser(
        "doctor", help="check this deployment: what is ready for a real tenant and what to fix"
    )
    doctor.set_defaults(run=cmd_doctor, checks_settings=True)


# `perfbot package`'s exit status when a setting is missing or wrong (nothing is written).
PACKAGE_REFUSED = 2


def cmd_package(args: argparse.Namespace) -> int:
    from bot import teams_app

    output: Path = args.output
    try:
        details = teams_app.details_from(os.environ, args.app_version)
    except teams_app.PackageError as refused:
        for problem in refused.problems:
            print(f"perfbot: {problem}.", file=sys.stderr)
        print("perfbot: no package was written.", file=sys.stderr)
        return PACKAGE_REFUSED
    if output.is_dir():
        raise CommandError(
            f"{output} is a folder: give the zip's name, as in -o {output / 'perfbot.zip'}"
        )
    if not output.parent.exists():
        raise CommandError(f"the folder {output.parent} does not exist")
    try:
        output.write_bytes(teams_app.package(details))
    except OSError as error:
        raise CommandError(f"cannot write {output}: {error.strerror or error}") from None
    print(
        f"Wrote {output}: the Teams app package for the bot {details.app_id}, version "
        f"{details.version}, for {details.host}."
    )
    print(
        "  Upload it in the Teams admin centre (Teams apps, Manage apps, Upload new app), then "
        "add PerfBot to an app setup policy; see docs/deploy.md."
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot import doctor

    checks = asyncio.run(doctor.examine(os.environ))
    for check in checks:
        print(check.line())
    print(doctor.verdict(checks))
    return 1 if any(check.must_fix for check in checks) else 0


if __name__ == "__main__":  # `python -m bot.cli`, as `perfbot serve` starts its dispatchers
    sys.exit(main())
