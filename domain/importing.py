"""Import a council's people, measures, targets, actuals, closure days, published deadlines
and benchmarks from spreadsheets.

All or nothing: every row is checked first, every problem is reported with its sheet, row
and column, and nothing is written if any row is bad. Re-importing the same file changes
nothing; a changed file updates records by measure code and email, and the audit log
records what changed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import text as texts
from domain.audit import audit_row
from domain.benchmarks import OLD_MEASURE_COLUMNS
from domain.dates import parse_day, parse_moment, parse_yes_no
from domain.locks import all_locks, mark_restated
from domain.model import (
    AuditEntry,
    Base,
    Benchmark,
    ClosureDay,
    Deadline,
    Measure,
    MeasureKind,
    MeasurePriority,
    Milestone,
    PeriodLock,
    Person,
    PersonRole,
    Return,
    ReturnAnswer,
    ReturnState,
    Role,
    Service,
    Target,
)
from domain.numbers import Unit, check_range, parse_figure, quantize
from domain.periods import Frequency, Period
from domain.questions import MAX_ANSWER, Question
from domain.ratings import (
    KeyActionStatus,
    Polarity,
    RatingError,
    Scheme,
    Tolerance,
    parse_progress,
    progress_word,
)
from domain.reporting import answers_of
from domain.views import has_figure, locked_sentence, shown_value
from domain.workbook import SHEETS, Sheet

T = TypeVar("T")
_RowT = TypeVar("_RowT", "_TargetRow", "_ActualRow")

REQUIRED_COLUMNS = {
    "people": ("email", "name"),
    "measures": ("code", "title", "service", "owner_email", "frequency"),
    "targets": ("code", "period", "target"),
    "actuals": ("code", "period", "actual"),
    "calendar": ("date",),
    "deadlines": ("period", "due_date"),
    "services": ("name",),
    "benchmarks": ("code", "group", "value"),
    "milestones": ("code", "milestone", "due_date"),
}
# Sheets that need one column of a pair; each row fills exactly one of them.
ONE_OF_COLUMNS = {"deadlines": ("frequency", "code")}
MAX_TITLE = 300
MAX_REVIEW = 255
MAX_NAME = 255  # a portfolio's or a priority's name
MAX_GROUP = 255  # a benchmark's comparator group, and its source
QUARTILE_COLUMNS = ("lower_quartile", "median", "upper_quartile")
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,31}$")
_KINDS = {
    "measure": MeasureKind.MEASURE,
    "pi": MeasureKind.MEASURE,
    "indicator": MeasureKind.MEASURE,
    "key action": MeasureKind.KEY_ACTION,
    "key_action": MeasureKind.KEY_ACTION,
    "key-action": MeasureKind.KEY_ACTION,
    "action": MeasureKind.KEY_ACTION,
    "project": MeasureKind.KEY_ACTION,
    "milestone": MeasureKind.KEY_ACTION,
}


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row else self.sheet
        return f"{where}: {self.message}"


class ImportRejected(Exception):
    """The spreadsheets had problems; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        # In the order a person works through the workbook: sheet by sheet, row by row.
        order = {name: index for index, name in enumerate(SHEETS)}
        problems = sorted(problems, key=lambda p: (order.get(p.sheet, 99), p.row or 0))
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} found; nothing was imported:"
        return "\n".join([heading, *(f"  {p}" for p in self.problems)])


@dataclass
class ImportSummary:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    # Actuals and targets changed in signed-off periods (with a reason): "HS-04 2025/26 Q1
    # actual", "HS-04 2025/26 Q1 target".
    restated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        kinds = [
            "services",
            "people",
            "measures",
            "targets",
            "actuals",
            "closure days",
            "deadlines",
            "benchmarks",
            "milestones",
        ]
        out = []
        for kind in kinds:
            parts = []
            for word, counter in (
                ("new", self.created),
                ("updated", self.updated),
                ("unchanged", self.unchanged),
            ):
                if counter[kind]:
                    parts.append(f"{counter[kind]:,} {word}")
            if parts:
                out.append(f"{kind}: {', '.join(parts)}")
        if self.restated:
            count = len(self.restated)
            out.append(
                f"corrected in signed-off periods ({count}, recorded with the reason): "
                f"{', '.join(self.restated)}"
            )
        return out


@lru_cache(maxsize=65536)
def _cell(raw: str) -> tuple[str, str]:
    """(what is wrong with the cell's text, or "", and the text fit to store): the same
    codes, periods and words fill thousands of cells, so each is cleaned once."""
    wrong = texts.problem(raw)
    return (wrong, "") if wrong else ("", texts.clean(raw, "the cell"))


class _Row:
    """One spreadsheet row being read; problems are collected, not raised."""

    def __init__(self, sheet: str, number: int, values: Mapping[str, str], problems: list[Problem]):
        self.sheet = sheet
        self.number = number
        self.values = values
        self.problems = problems
        self.ok = True

    def problem(self, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.sheet, self.number, message))

    def text(self, column: str, *, required: bool = False, why: str = "") -> str:
        """A cell's text by domain/text.py's rules: NFC, trimmed of invisible characters, a
        character that cannot be stored a problem of the row."""
        wrong, value = _cell(self.values.get(column, ""))
        if wrong:
            self.problem(f"{column} has {wrong}: delete it from the cell")
            return ""
        if required and not value:
            self.problem(f"{column} is empty{why}")
        return value

    def parse(
        self, column: str, parser: Callable[[str], T], *, required: bool = False, why: str = ""
    ) -> T | None:
        raw = self.text(column, required=required, why=why)
        if not raw:
            return None
        try:
            return parser(raw)
        except ValueError as error:
            message = str(error)
            self.problem(message if message.startswith(column) else f"{column}: {message}")
            return None


@dataclass
class _PersonRow:
    number: int
    email: str
    name: str
    service: str | None
    roles: frozenset[Role]
    manager_email: str | None


@dataclass
class _MeasureRow:
    number: int
    fields: dict[str, Any]
    service: str
    owner_email: str
    escalation_owner_email: str | None
    delegate_emails: list[str]
    priorities: list[str]  # in the council's order
    # An old workbook's benchmark_england / benchmark_neighbours: undated rows of their groups.
    benchmarks: tuple[tuple[str, str, Decimal], ...] = ()  # (column, group, value)


@dataclass(frozen=True)
class _MeasureFacts:
    """What later sheets need to know about a measure, from the sheet or the database."""

    kind: MeasureKind
    frequency: Frequency
    unit: Unit
    decimals: int
    data_only: bool
    allow_negative: bool
    tolerance: Tolerance | None


def _email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"'{raw.strip()}' is not an email address")
    return email


def _roles(raw: str) -> frozenset[Role]:
    roles = set()
    for part in re.split(r"[;,]", raw):
        word = part.strip().lower().replace(" ", "_").replace("-", "_")
        if not word:
            continue
        try:
            roles.add(Role(word))
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise ValueError(f"role '{part.strip()}' is not one of {choices}") from None
    return frozenset(roles)


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            number = int(Decimal(raw))
            if Decimal(raw) != number:
                raise ValueError
        except (ArithmeticError, ValueError):
            raise ValueError(f"'{raw}' is not a whole number") from None
        if not low <= number <= high:
            raise ValueError(f"{number} is not between {low} and {high}")
        return number

    return parse


def _kind(raw: str) -> MeasureKind:
    try:
        return _KINDS[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"kind '{raw.strip()}' is not measure or key action") from None


def _code(raw: str) -> str:
    code = raw.strip().upper()
    if not _CODE.match(code):
        raise ValueError(
            f"code '{raw.strip()}' must be up to 32 letters, digits, dots, dashes or slashes, "
            "as in HS-04"
        )
    return code


# A targets or actuals sheet names the same codes, periods and often the same figures on
# thousands of rows: each is read once (the parsers are pure; a refusal is not cached).
_known_code = lru_cache(maxsize=65536)(_code)
_period = lru_cache(maxsize=4096)(Period.parse)
_figure = lru_cache(maxsize=65536)(parse_figure)
_moment = lru_cache(maxsize=65536)(parse_moment)
_quantized = lru_cache(maxsize=65536)(quantize)


def _title(raw: str) -> str:
    if len(raw) > MAX_TITLE:
        raise ValueError(f"title is {len(raw):,} characters: keep it to {MAX_TITLE} or fewer")
    return raw


def _tolerance(raw: str) -> Tolerance:
    return Tolerance.parse(raw)


async def import_workbook(
    session: AsyncSession,
    sheets: dict[str, Sheet],
    *,
    now: datetime,
    actor: str = "import",
    reason: str | None = None,
) -> ImportSummary:
    """Check every row of ``sheets``, then write them in the session's transaction.

    Raises ImportRejected, having written nothing, if any row is bad. A row that would
    change an actual or a target of a signed-off (locked) period is bad unless ``reason``
    is given: then it is written as a correction, recorded with the reason (an actual as
    a restatement: a new version marked with the figure it replaces).
    """
    reason = reason.strip() if reason and reason.strip() else None
    problems: list[Problem] = []
    for name, sheet in sheets.items():
        missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in sheet.columns]
        if missing and (sheet.rows or sheet.columns):
            found = ", ".join(c for c in sheet.columns if c) or "none"
            for column in missing:
                problems.append(
                    Problem(
                        name, None, f"the column '{column}' is missing (columns found: {found})"
                    )
                )
        pair = ONE_OF_COLUMNS.get(name)
        if pair and not set(pair) & set(sheet.columns) and (sheet.rows or sheet.columns):
            found = ", ".join(c for c in sheet.columns if c) or "none"
            either = " or ".join(f"'{column}'" for column in pair)
            problems.append(
                Problem(name, None, f"the column {either} is missing (columns found: {found})")
            )
    if problems:  # without its columns no row of a sheet can be read
        raise ImportRejected(problems)
    for name, sheet in sheets.items():
        for number, cells in sheet.overflowing.items():
            problems.append(
                Problem(
                    name,
                    number,
                    f"has {cells} cells but only {len(sheet.columns)} columns are named: a figure "
                    "with a comma (such as 1,250) needs quotes in a CSV file",
                )
            )

    people = {p.email: p for p in (await session.scalars(select(Person))).all()}
    measures = {m.code: m for m in (await session.scalars(select(Measure))).all()}
    services = {s.name.lower(): s for s in (await session.scalars(select(Service))).all()}

    person_rows = _read_people(sheets.get("people"), problems)
    known_emails = set(people) | {row.email for row in person_rows}
    for row in person_rows:
        if row.manager_email and row.manager_email not in known_emails:
            problems.append(
                Problem(
                    "people",
                    row.number,
                    f"manager_email '{row.manager_email}' is not a known person: add them to people",
                )
            )

    measure_rows = _read_measures(sheets.get("measures"), problems, known_emails)
    facts = {code: _facts_of(m) for code, m in measures.items()}
    facts.update({row.fields["code"]: _facts_from_row(row) for row in measure_rows})

    service_rows = _read_services(sheets.get("services"), problems, known_emails)
    target_rows = _read_targets(sheets.get("targets"), problems, facts)
    actual_rows = _read_actuals(sheets.get("actuals"), problems, facts, known_emails)
    closure_rows = _read_calendar(sheets.get("calendar"), problems)
    deadline_rows = _read_deadlines(sheets.get("deadlines"), problems, facts)
    benchmark_rows = _read_benchmarks(sheets.get("benchmarks"), problems, facts, measure_rows)
    milestone_rows = _read_milestones(sheets.get("milestones"), problems, facts, known_emails)
    # Every row is read: the cells go when the caller keeps no hold on them (the command
    # hands them over), 100 MB for a large council.
    del sheets
    locks = await all_locks(session)
    if locks and reason is None:
        await _check_locks(session, locks, measures, target_rows, actual_rows, problems)
    if problems:
        raise ImportRejected(problems)

    summary = ImportSummary()
    writer = _Writer(
        session, summary, actor, now, people, measures, services, frozenset(locks), reason
    )
    await writer.write_people(person_rows)
    await writer.write_services(service_rows)
    await writer.write_measures(measure_rows)
    await writer.write_targets(target_rows)
    target_rows.clear()  # written: the memory is the actuals'
    await writer.write_actuals(actual_rows)
    actual_rows.clear()
    await writer.write_closures(closure_rows)
    await writer.write_deadlines(deadline_rows)
    await writer.write_benchmarks(benchmark_rows)
    await writer.write_milestones(milestone_rows)
    # The import's writes end here: the ORM's pending rows, then the rest of the audit log.
    await session.flush()
    await writer.write_audit()
    return summary


def _duplicate(seen: dict[Any, int], key: Any, row: _Row, what: str) -> bool:
    if key in seen:
        row.problem(f"{what} is already on row {seen[key]}")
        return True
    seen[key] = row.number
    return False


def _read_people(sheet: Sheet | None, problems: list[Problem]) -> list[_PersonRow]:
    rows: list[_PersonRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("people", number, values, problems)
        email = row.parse("email", _email, required=True, why=": every person needs one")
        name = row.text("name", required=True, why=": every person needs one")
        service = row.text("service") or None
        roles = row.parse("role", _roles) or frozenset()
        manager = row.parse("manager_email", _email)
        if email and _duplicate(seen, email, row, f"'{email}'"):
            continue
        if row.ok and email:
            rows.append(_PersonRow(number, email, name, service, roles, manager))
    return rows


def _read_measures(
    sheet: Sheet | None, problems: list[Problem], known_emails: set[str]
) -> list[_MeasureRow]:
    rows: list[_MeasureRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("measures", number, values, problems)
        code = row.parse("code", _code, required=True, why=": every measure needs one, as in HS-04")
        kind = row.parse("kind", _kind) or MeasureKind.MEASURE
        data_only = bool(row.parse("data_only", parse_yes_no))
        needs_polarity = kind is MeasureKind.MEASURE and not data_only
        fields: dict[str, Any] = {
            "code": code,
            "title": row.parse("title", _title, required=True, why=": say what the measure counts"),
            "kind": kind,
            "portfolio": row.parse("portfolio", _name("portfolio")),
            "unit": row.parse("unit", Unit.parse) or Unit.NUMBER,
            "polarity": row.parse(
                "polarity",
                Polarity.parse,
                required=needs_polarity,
                why=": write higher or lower (which way is better)",
            )
            or Polarity.HIGHER,
            "frequency": row.parse(
                "frequency",
                Frequency.parse,
                required=True,
                why=": write monthly, quarterly, half-yearly or annual",
            ),
            "decimals": row.parse("decimals", _whole_number(0, 6)) or 0,
            "scheme": row.parse("scheme", Scheme.parse),
            "tolerance": None,
            "data_only": data_only,
            "allow_negative": bool(row.parse("allow_negative", parse_yes_no)),
            # Up to half a year of working days: an annual return can be due in the autumn.
            "deadline_working_days": row.parse("deadline_working_days", _whole_number(0, 130)),
            "due_date": row.parse("due_date", parse_day),
            "cumulative": bool(row.parse("cumulative", parse_yes_no)),
        }
        old_benchmarks = tuple(
            (column, group, value)
            for column, group in OLD_MEASURE_COLUMNS.items()
            if (value := row.parse(column, parse_figure)) is not None
        )
        if kind is MeasureKind.KEY_ACTION and fields["cumulative"]:
            row.problem(
                "cumulative is yes, but a key action reports a status, not a figure: set it to no"
            )
        tolerance = row.parse("tolerance", _tolerance)
        fields["tolerance"] = str(tolerance) if tolerance else None
        if fields["deadline_working_days"] is None:
            fields["deadline_working_days"] = 15
        service = row.text(
            "service", required=True, why=": name the service the measure belongs to"
        )
        owner = row.parse(
            "owner_email", _email, required=True, why=": every measure needs an owner"
        )
        escalation = row.parse("escalation_owner_email", _email)
        delegates = []
        for part in re.split(r"[;,]", row.text("delegate_emails")):
            if part.strip():
                try:
                    delegates.append(_email(part))
                except ValueError as error:
                    row.problem(f"delegate_emails: {error}")
        for column, email in (
            ("owner_email", owner),
            ("escalation_owner_email", escalation),
            *(("delegate_emails", d) for d in delegates),
        ):
            if email and email not in known_emails:
                row.problem(f"{column} '{email}' is not a known person: add them to people")
        priorities = _priorities(row)
        if code and _duplicate(seen, code, row, f"code '{code}'"):
            continue
        if row.ok and code and owner:
            rows.append(
                _MeasureRow(
                    number,
                    fields,
                    service,
                    owner,
                    escalation,
                    sorted(set(delegates)),
                    priorities,
                    old_benchmarks,
                )
            )
    return rows


def _name(column: str) -> Callable[[str], str]:
    """A name of the council's own (a portfolio, a priority), kept to what a cell stores."""

    def parse(raw: str) -> str:
        if len(raw) > MAX_NAME:
            raise ValueError(
                f"{column} '{raw[:40]}…' is {len(raw):,} characters: keep it to {MAX_NAME} or fewer"
            )
        return raw

    return parse


def _priorities(row: _Row) -> list[str]:
    """A measure's Council Plan priorities: ``priorities`` (several, separated by ``;``) or
    the older one-name ``priority``. Given both, ``priority`` must be one of ``priorities``
    (their order is that of ``priorities``); a row where they disagree is refused."""
    listed: list[str] = []
    seen: set[str] = set()
    for part in row.text("priorities").split(";"):
        name = part.strip()
        if not name:
            continue
        if len(name) > MAX_NAME:
            row.problem(
                f"priorities: '{name[:40]}…' is {len(name):,} characters: keep each to "
                f"{MAX_NAME} or fewer"
            )
            continue
        if name.casefold() in seen:
            row.problem(f"priorities names '{name}' twice: list each priority once")
            continue
        seen.add(name.casefold())
        listed.append(name)
    single = row.parse("priority", _name("priority"))
    if single and listed and single.casefold() not in seen:
        row.problem(
            f"priority '{single}' is not one of priorities ({'; '.join(listed)}): put it in "
            "priorities, or leave priority empty"
        )
    if not listed and single:
        listed = [single]
    return listed


def _facts_of(measure: Measure) -> _MeasureFacts:
    return _MeasureFacts(
        measure.kind,
        measure.frequency,
        measure.unit,
        measure.decimals,
        measure.data_only,
        measure.allow_negative,
        Tolerance.parse(measure.tolerance) if measure.tolerance else None,
    )


def _facts_from_row(row: _MeasureRow) -> _MeasureFacts:
    f = row.fields
    tolerance = Tolerance.parse(f["tolerance"]) if f["tolerance"] else None
    return _MeasureFacts(
        f["kind"],
        f["frequency"],
        f["unit"],
        f["decimals"],
        f["data_only"],
        f["allow_negative"],
        tolerance,
    )


def _measure_period(
    row: _Row, facts: dict[str, _MeasureFacts]
) -> tuple[str, _MeasureFacts, Period] | None:
    code = row.parse("code", _known_code, required=True, why=": name the measure, as in HS-04")
    period = row.parse("period", _period, required=True, why=": write it like 2025/26 Q2")
    if not code:
        return None
    measure = facts.get(code)
    if measure is None:
        row.problem(f"code '{code}' is not a known measure: add it to measures")
        return None
    if period is None:
        return None
    if period.frequency is not measure.frequency:
        row.problem(
            f"period '{period.label}' is {period.frequency.value}, but {code} is reported "
            f"{measure.frequency.value}"
        )
        return None
    return code, measure, period


@dataclass(frozen=True, slots=True)
class _TargetRow:
    number: int
    code: str
    period: Period
    value: Decimal


def _read_targets(
    sheet: Sheet | None, problems: list[Problem], facts: dict[str, _MeasureFacts]
) -> list[_TargetRow]:
    rows: list[_TargetRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("targets", number, values, problems)
        found = _measure_period(row, facts)
        target = row.parse(
            "target", _figure, required=True, why=": leave the row out if there is no target"
        )
        if found is None or target is None:
            continue
        code, measure, period = found
        if measure.kind is MeasureKind.KEY_ACTION:
            row.problem(f"{code} is a key action: it is rated by its status, not against a target")
            continue
        if measure.data_only:
            row.problem(
                f"{code} is data-only, so it has no target: remove the row or set data_only to no"
            )
            continue
        try:
            check_range(target, measure.unit, allow_negative=measure.allow_negative)
        except ValueError as error:
            row.problem(f"target: {error}")
            continue
        if target == 0 and (measure.tolerance is None or measure.tolerance.relative):
            row.problem(
                f"a target of 0 for {code} cannot be compared as a percentage: give the measure "
                "an absolute tolerance (such as 2) in its own unit"
            )
            continue
        if not _duplicate(seen, (code, period), row, f"a target for {code} {period.label}"):
            rows.append(_TargetRow(number, code, period, target))
    return rows


@dataclass(slots=True)
class _ActualRow:
    code: str
    period: Period
    value: Decimal | None
    status: KeyActionStatus | None
    commentary: str | None
    submitted_by: str | None
    submitted_at: datetime | None
    number: int = 0  # its row in the sheet
    exceeding: bool = False  # a key action's "complete, exceeding expectations"
    # The review questions' answers of the columns the sheet has (domain/questions.py), by
    # question; a blank cell is None. A question without a column is not in it.
    answers: dict[str, str | None] = field(default_factory=dict)


def _read_actuals(
    sheet: Sheet | None,
    problems: list[Problem],
    facts: dict[str, _MeasureFacts],
    known_emails: set[str],
) -> list[_ActualRow]:
    rows: list[_ActualRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    questions = [q for q in Question if q.value in sheet.columns]
    for number, values in sheet.rows:
        row = _Row("actuals", number, values, problems)
        found = _measure_period(row, facts)
        raw = row.text("actual", required=True, why=": leave the row out if there is no figure yet")
        commentary = row.text("commentary") or None
        answers: dict[str, str | None] = {}
        for question in questions:
            answer = row.text(question.value)
            if len(answer) > MAX_ANSWER:
                row.problem(
                    f"{question.value} is {len(answer):,} characters: keep it to {MAX_ANSWER:,} "
                    "or fewer (as the return card does)"
                )
            answers[question.value] = answer or None
        submitted_by = row.parse("submitted_by", _email)
        submitted_at = row.parse("submitted_at", _moment)
        if submitted_by and submitted_by not in known_emails:
            row.problem(f"submitted_by '{submitted_by}' is not a known person: add them to people")
        if found is None or not raw:
            continue
        code, measure, period = found
        value: Decimal | None = None
        status: KeyActionStatus | None = None
        exceeding = False
        try:
            if measure.kind is MeasureKind.KEY_ACTION:
                status, exceeding = parse_progress(raw)
            else:
                value = _figure(raw)
                check_range(value, measure.unit, allow_negative=measure.allow_negative)
                value = _quantized(value, measure.decimals)
        except ValueError as error:
            row.problem(f"actual: {error}")
            continue
        if _duplicate(seen, (code, period), row, f"an actual for {code} {period.label}"):
            continue
        if row.ok:
            rows.append(
                _ActualRow(
                    code,
                    period,
                    value,
                    status,
                    commentary,
                    submitted_by,
                    submitted_at,
                    number,
                    exceeding,
                    answers,
                )
            )
    return rows


@dataclass(frozen=True)
class _ServiceRow:
    number: int
    name: str
    leadership_contact: str | None


def _read_services(
    sheet: Sheet | None, problems: list[Problem], known_emails: set[str]
) -> list[_ServiceRow]:
    """A service's leadership contact: who is sent its overdue escalations when the
    escalation owner cannot be reached (blank: nobody but the performance team)."""
    rows: list[_ServiceRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("services", number, values, problems)
        name = row.text("name", required=True, why=": every service needs one")
        contact = row.parse("leadership_contact", _email)
        if contact and contact not in known_emails:
            row.problem(f"leadership_contact '{contact}' is not a known person: add them to people")
        if name and _duplicate(seen, name.lower(), row, f"'{name}'"):
            continue
        if row.ok and name:
            rows.append(_ServiceRow(number, name, contact))
    return rows


def _read_calendar(sheet: Sheet | None, problems: list[Problem]) -> list[tuple[date, str | None]]:
    rows: list[tuple[date, str | None]] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("calendar", number, values, problems)
        day = row.parse("date", parse_day, required=True)
        if day and not _duplicate(seen, day, row, f"{day.isoformat()}"):
            rows.append((day, row.text("description") or None))
    return rows


@dataclass(frozen=True)
class _DeadlineRow:
    frequency: Frequency | None  # a frequency row: every measure reported at it
    code: str | None  # a measure's own row, which wins over its frequency's
    period: Period
    due: date
    review_date: date | None
    review: str | None

    @property
    def key(self) -> str:
        """How the audit log and the problems name it: ``quarterly 2023/24 Q1``, ``HS-04 2023/24 Q1``."""
        scope = self.code or (self.frequency.value if self.frequency else "")
        return f"{scope} {self.period.label}"


def _review(raw: str) -> str:
    if len(raw) > MAX_REVIEW:
        raise ValueError(f"review is {len(raw):,} characters: keep it to {MAX_REVIEW} or fewer")
    return raw


@dataclass(frozen=True)
class _MilestoneRow:
    number: int
    code: str
    title: str
    owner_email: str | None
    due: date
    status: KeyActionStatus | None
    revised_date: date | None
    completed_on: date | None
    # Which optional columns the sheet has (README: owner_email, status, revised_date and
    # completed_on may be left out): a column the sheet leaves out changes nothing, so what
    # an owner saved on the milestone card stays.
    columns: frozenset[str]


MILESTONE_OPTIONAL = ("owner_email", "status", "revised_date", "completed_on")


def _milestone_status(raw: str) -> KeyActionStatus:
    try:
        return KeyActionStatus.parse(raw)
    except RatingError as error:
        raise ValueError(str(error)) from None


def _read_milestones(
    sheet: Sheet | None,
    problems: list[Problem],
    facts: dict[str, _MeasureFacts],
    known_emails: set[str],
) -> list[_MilestoneRow]:
    """The milestones sheet: a key action's code, the milestone, its owner (blank: the key
    action's owner), due date, and optionally its status, revised date and completion day."""
    rows: list[_MilestoneRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    columns = frozenset(c for c in MILESTONE_OPTIONAL if c in sheet.columns)
    for number, values in sheet.rows:
        row = _Row("milestones", number, values, problems)
        code = row.parse("code", _code, required=True, why=": name the key action, as in KA-01")
        title = row.parse("milestone", _title, required=True, why=": say what the milestone is")
        owner = row.parse("owner_email", _email)
        due = row.parse("due_date", parse_day, required=True, why=": give the day it is due")
        status = row.parse("status", _milestone_status)
        revised = row.parse("revised_date", parse_day)
        completed = row.parse("completed_on", parse_day)
        if code:
            measure = facts.get(code)
            if measure is None:
                row.problem(f"code '{code}' is not a known key action: add it to measures")
            elif measure.kind is not MeasureKind.KEY_ACTION:
                row.problem(
                    f"{code} is a measure, not a key action: only key actions and projects "
                    "have milestones"
                )
        if owner and owner not in known_emails:
            row.problem(f"owner_email '{owner}' is not a known person: add them to people")
        if completed is not None and status not in (None, KeyActionStatus.COMPLETE):
            row.problem(
                f"completed_on is given but status is '{status.value if status else ''}': "
                "leave completed_on empty, or make the status complete"
            )
        if code and title and _duplicate(seen, (code, title.casefold()), row, f"'{title}'"):
            continue
        if row.ok and code and title and due:
            rows.append(
                _MilestoneRow(number, code, title, owner, due, status, revised, completed, columns)
            )
    return rows


def _read_deadlines(
    sheet: Sheet | None, problems: list[Problem], facts: dict[str, _MeasureFacts]
) -> list[_DeadlineRow]:
    rows: list[_DeadlineRow] = []
    if sheet is None:
        return rows
    seen: dict[Any, int] = {}
    for number, values in sheet.rows:
        row = _Row("deadlines", number, values, problems)
        given_frequency, given_code = bool(row.text("frequency")), bool(row.text("code"))
        frequency = row.parse("frequency", Frequency.parse)
        code = row.parse("code", _code)
        period = row.parse("period", Period.parse, required=True, why=": write it like 2023/24 Q1")
        due = row.parse(
            "due_date", parse_day, required=True, why=": give the day the period's returns are due"
        )
        review_date = row.parse("review_date", parse_day)
        review = row.parse("review", _review)
        if given_frequency and given_code:
            row.problem(
                "frequency and code are both filled in: give a frequency for every measure "
                "reported at it, or a code for one measure, not both"
            )
            continue
        if not (given_frequency or given_code):
            row.problem(
                "frequency and code are both empty: give a frequency (such as quarterly) for "
                "every measure reported at it, or a measure's code (such as HS-04)"
            )
            continue
        if code and code not in facts:
            row.problem(f"code '{code}' is not a known measure: add it to measures")
            continue
        if period is None or due is None or not row.ok:
            continue
        if code and period.frequency is not facts[code].frequency:
            row.problem(
                f"period '{period.label}' is {period.frequency.value}, but {code} is reported "
                f"{facts[code].frequency.value}"
            )
            continue
        if frequency and period.frequency is not frequency:
            row.problem(
                f"period '{period.label}' is {period.frequency.value}, but frequency is "
                f"{frequency.value}: write a {frequency.value} period, such as "
                f"{Period.of(period.year, frequency).label}"
            )
            continue
        if due <= period.end:
            row.problem(
                f"due_date {due.isoformat()} is not after {period.label}, which ends on "
                f"{period.end.isoformat()}: a return can only be due once its period is over"
            )
            continue
        if review_date and review_date < due:
            row.problem(
                f"review_date {review_date.isoformat()} is before due_date {due.isoformat()}: "
                "the returns are reviewed after they are due"
            )
            continue
        found = _DeadlineRow(frequency, code, period, due, review_date, review)
        if not _duplicate(seen, (frequency, code, period), row, f"a deadline for {found.key}"):
            rows.append(found)
    return rows


@dataclass(frozen=True)
class _BenchmarkRow:
    code: str
    period: Period | None
    group: str
    value: Decimal
    quartiles: tuple[Decimal | None, Decimal | None, Decimal | None]
    source: str | None

    @property
    def key(self) -> str:
        """How the audit log names it: ``RB-01 England 2025/26``, ``RB-01 England (any period)``."""
        return f"{self.code} {self.group} {self.period.label if self.period else '(any period)'}"


def _group(raw: str) -> str:
    if len(raw) > MAX_GROUP:
        raise ValueError(f"{len(raw):,} characters: keep it to {MAX_GROUP} or fewer")
    return raw


def _read_benchmarks(
    sheet: Sheet | None,
    problems: list[Problem],
    facts: dict[str, _MeasureFacts],
    measure_rows: list[_MeasureRow],
) -> list[_BenchmarkRow]:
    """The benchmarks sheet, after the undated rows an old measures sheet's benchmark_england
    and benchmark_neighbours columns give (checked there)."""
    rows: list[_BenchmarkRow] = []
    seen: dict[Any, str] = {}
    for given in measure_rows:
        measure_code = given.fields["code"]
        for column, group, figure in given.benchmarks:
            unit = given.fields["unit"]
            if given.fields["kind"] is MeasureKind.KEY_ACTION:
                problems.append(
                    Problem(
                        "measures",
                        given.number,
                        f"{column}: {measure_code} is a key action: it reports a status, so it has no "
                        "benchmark",
                    )
                )
                continue
            try:
                check_range(figure, unit, allow_negative=given.fields["allow_negative"])
            except ValueError as error:
                problems.append(Problem("measures", given.number, f"{column}: {error}"))
                continue
            seen[(measure_code, group.casefold(), None)] = f"measures row {given.number} ({column})"
            rows.append(_BenchmarkRow(measure_code, None, group, figure, (None, None, None), None))
    if sheet is None:
        return rows
    for number, values in sheet.rows:
        row = _Row("benchmarks", number, values, problems)
        code = row.parse("code", _code, required=True, why=": name the measure, as in HS-04")
        period = row.parse("period", Period.parse)
        name = row.parse(
            "group",
            _group,
            required=True,
            why=": name the comparator group, such as England or CIPFA nearest neighbours",
        )
        value = row.parse(
            "value", parse_figure, required=True, why=": give the group's figure, such as 96.1"
        )
        lower, median, upper = (row.parse(column, parse_figure) for column in QUARTILE_COLUMNS)
        source = row.parse("source", _group)
        measure = facts.get(code) if code else None
        if code and measure is None:
            row.problem(f"code '{code}' is not a known measure: add it to measures")
            continue
        if code is None or measure is None or name is None or value is None or not row.ok:
            continue
        if measure.kind is MeasureKind.KEY_ACTION:
            row.problem(f"{code} is a key action: it reports a status, so it has no benchmark")
            continue
        cells = {"value": value, "lower_quartile": lower, "median": median, "upper_quartile": upper}
        if len({column for column in QUARTILE_COLUMNS if cells[column] is None}) not in (0, 3):
            row.problem(
                "give all three quartile boundaries (lower_quartile, median, upper_quartile) "
                "or none of them"
            )
            continue
        for column, number_given in cells.items():
            try:
                if number_given is not None:
                    check_range(number_given, measure.unit, allow_negative=measure.allow_negative)
            except ValueError as error:
                row.problem(f"{column}: {error}")
        if not row.ok:
            continue
        if (
            lower is not None
            and median is not None
            and upper is not None
            and not lower <= median <= upper
        ):
            row.problem(
                f"the quartile boundaries are out of order: write lower_quartile "
                f"({lower:f}) ≤ median ({median:f}) ≤ upper_quartile ({upper:f}), "
                "whichever way is better"
            )
            continue
        key = (code, name.casefold(), period.label if period else None)
        if key in seen:
            when = period.label if period else "without a period"
            row.problem(f"a {name} benchmark for {code} {when} is already on {seen[key]}")
            continue
        seen[key] = f"row {number}"
        rows.append(
            _BenchmarkRow(code, period, name, value, (lower, median, upper), source or None)
        )
    return rows


_CORRECT = 'To record it as a correction, re-run the import with --reason "why it changed".'


async def _check_locks(
    session: AsyncSession,
    locks: dict[str, PeriodLock],
    measures: dict[str, Measure],
    target_rows: list[_TargetRow],
    actual_rows: list[_ActualRow],
    problems: list[Problem],
) -> None:
    """A problem for each row that would change an actual or a target of a signed-off
    period (a row that matches what is stored changes nothing, so it is fine)."""
    targets = [r for r in target_rows if r.period.label in locks]
    actuals = [r for r in actual_rows if r.period.label in locks]
    if not (targets or actuals):
        return
    named = [(r.code, r.period.label) for r in targets] + [
        (r.code, r.period.label) for r in actuals
    ]
    labels = sorted({label for _, label in named})
    ids = sorted({measures[code].id for code, _ in named if code in measures})
    stored: dict[tuple[int, str], Decimal] = {}
    latest: dict[tuple[int, str], StoredReturn] = {}
    if ids:
        stored = {
            (measure_id, label): value
            for measure_id, label, value in await session.execute(
                select(Target.measure_id, Target.period, Target.value).where(
                    Target.measure_id.in_(ids), Target.period.in_(labels)
                )
            )
        }
        latest = await newest_versions(session, ids, labels)
    said = await answers_of(session, (ret.id for ret in latest.values()))

    def refuse(sheet: str, number: int, code: str, label: str) -> None:
        sentence = locked_sentence(locks[label], code)
        problems.append(Problem(sheet, number, f"{sentence} {_CORRECT}"))

    for target in targets:
        measure = measures.get(target.code)
        if measure is None or stored.get((measure.id, target.period.label)) != target.value:
            refuse("targets", target.number, target.code, target.period.label)
    for actual in actuals:
        measure = measures.get(actual.code)
        current = latest.get((measure.id, actual.period.label)) if measure else None
        if not _same_actual(current, actual, said):
            refuse("actuals", actual.number, actual.code, actual.period.label)


def _same_actual(
    current: StoredReturn | None, row: _ActualRow, said: dict[int, dict[str, str]]
) -> bool:
    """Whether the newest stored return already holds what the row says (so nothing is
    written for it); ``said``, the stored answers by return id (a sheet without a question's
    column says nothing of it)."""
    status = row.status.value if row.status else None
    if current is None:
        return False
    stored = said.get(current.id, {})
    return (
        current.value,
        current.status,
        current.exceeding_expectations,
        current.commentary,
    ) == (row.value, status, row.exceeding, row.commentary) and all(
        stored.get(name) == answer for name, answer in row.answers.items()
    )


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal | date):
        return str(value)
    if hasattr(value, "value"):
        return value.value
    return value


# Rows a bulk statement writes at a time (and audit records kept before they are written):
# few statements, and memory that stays flat however large the council.
CHUNK = 5000

# A stored return's columns that an import compares a row with, or marks a correction by
# (id, measure_id, period, version, value, status, exceeding_expectations, commentary,
# restated, restated_from): read by attribute, as a Return is.
StoredReturn = Row[*tuple[Any, ...]]


async def newest_versions(
    session: AsyncSession,
    measure_ids: list[int] | None = None,
    periods: list[str] | None = None,
) -> dict[tuple[int, str], StoredReturn]:
    """As reporting.latest_returns (the newest version of each return, by measure id and
    period), but rows of the columns import reads, not ORM objects: a large council has
    hundreds of thousands."""
    table = _table(Return)
    query = select(
        table.c.id,
        table.c.measure_id,
        table.c.period,
        table.c.version,
        table.c.value,
        table.c.status,
        table.c.exceeding_expectations,
        table.c.commentary,
        table.c.restated,
        table.c.restated_from,
    ).order_by(table.c.measure_id, table.c.period, table.c.version)
    if measure_ids is not None:
        query = query.where(table.c.measure_id.in_(measure_ids))
    if periods is not None:
        query = query.where(table.c.period.in_(periods))
    latest: dict[tuple[int, str], StoredReturn] = {}
    for ret in await session.execute(query):
        latest[(ret.measure_id, ret.period)] = ret
    return latest


def _parts(
    rows: list[_RowT], ids: dict[str, int]
) -> Iterator[tuple[list[_RowT], list[int] | None]]:
    """A sheet's rows in parts of about CHUNK, each with the ids of its measures, whose
    stored rows are read for that part alone: memory stays flat, however large the council.
    A sheet not grouped by measure (a measure's rows apart) is one part, for which all that
    is stored is read at once (None). Either way the rows are taken in the sheet's order."""
    codes = [row.code for row in rows]
    changes = sum(1 for before, after in pairwise(codes) if before != after)
    if changes + 1 > len(set(codes)):
        yield rows, None
        return
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        yield part, sorted({ids[row.code] for row in part})


def _table(entity: type[Base]) -> Table:
    """An entity's table, for Core statements."""
    return cast(Table, entity.__table__)


async def _insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """``rows`` (dicts of the same columns) inserted into ``table`` by one Core INSERT,
    executemany, none of them an ORM object.

    The statement is compiled once and each value put through its column's own bind
    processor (the same conversions SQLAlchemy makes: a Decimal to its text, a moment to
    UTC, the audit's changes to JSON), then handed to the driver's executemany: SQLAlchemy's
    own executemany builds a parameter dict for every row, most of an import's time for a
    council of 400,000 rows. A column left to its default goes by the ordinary path."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(rows[0]))
    order = compiled.positiontup
    if order is None or set(order) != set(rows[0]):
        await session.execute(insert(table), rows)
        return
    columns = []
    for name in order:
        values = [row[name] for row in rows]
        convert = table.c[name].type._cached_bind_processor(dialect)
        if convert is not None:
            if len(set(map(id, values))) == 1:  # the import's moment and actor on every row
                values = [convert(values[0])] * len(values)
            else:
                values = list(map(convert, values))
        columns.append(values)
    await connection.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))


_ENTITY = {
    "people": "person",
    "measures": "measure",
    "targets": "target",
    "actuals": "return",
    "closure days": "closure day",
    "deadlines": "deadline",
    "benchmarks": "benchmark",
    "milestones": "milestone",
}


class _Writer:
    """Applies checked rows, recording every change in the audit log."""

    def __init__(
        self,
        session: AsyncSession,
        summary: ImportSummary,
        actor: str,
        now: datetime,
        people: dict[str, Person],
        measures: dict[str, Measure],
        services: dict[str, Service],
        locked: frozenset[str] = frozenset(),
        reason: str | None = None,
    ) -> None:
        self.session = session
        self.summary = summary
        self.actor = actor
        self.now = now
        self.people = people
        self.measures = measures
        self.services = services
        self.locked = locked  # the signed-off periods' labels
        self.reason = reason  # the correction's reason, for those periods
        self._audit_rows: list[dict[str, Any]] = []

    def _audit(self, action: str, entity: str, key: str, changes: dict[str, Any]) -> None:
        """Kept in order and written in chunks by ``write_audit``: an import of a large
        council records hundreds of thousands of changes, too many for an ORM object each."""
        self._audit_rows.append(audit_row(self.actor, action, entity, key, changes, self.now))

    async def write_audit(self) -> None:
        """The audit records gathered so far, written in the import's transaction."""
        rows, self._audit_rows = self._audit_rows, []
        await _insert(self.session, _table(AuditEntry), rows)

    async def service(self, name: str) -> Service:
        service = self.services.get(name.lower())
        if service is None:
            service = Service(name=name)
            self.session.add(service)
            await self.session.flush()
            self.services[name.lower()] = service
            self.summary.created["services"] += 1
            self._audit("create", "service", name, {"name": [None, name]})
        return service

    def _update(self, obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
        changes = {}
        for attribute, new in values.items():
            old = getattr(obj, attribute)
            if old != new:
                changes[attribute] = [_shown(old), _shown(new)]
                setattr(obj, attribute, new)
        return changes

    async def write_people(self, rows: list[_PersonRow]) -> None:
        new = set()
        for row in rows:  # everyone exists before anyone is named as a manager
            if row.email not in self.people:
                person = Person(email=row.email, name=row.name, role_rows=[])
                self.session.add(person)
                self.people[row.email] = person
                new.add(row.email)
        await self.session.flush()
        emails = {p.id: p.email for p in self.people.values()}
        names = {s.id: s.name for s in self.services.values()}
        for row in rows:
            service = await self.service(row.service) if row.service else None
            names.update({s.id: s.name for s in self.services.values()})
            person = self.people[row.email]
            manager = self.people[row.manager_email] if row.manager_email else None
            changes = self._update(
                person,
                {
                    "name": row.name,
                    "service_id": service.id if service else None,
                    "manager_id": manager.id if manager else None,
                },
            )
            # The audit log speaks in names and emails, not row ids.
            if "service_id" in changes:
                changes["service"] = [names.get(i) for i in changes.pop("service_id")]
            if "manager_id" in changes:
                changes["manager"] = [emails.get(i) for i in changes.pop("manager_id")]
            if person.roles != row.roles:
                changes["roles"] = [sorted(person.roles), sorted(row.roles)]
                person.role_rows = [PersonRole(role=role) for role in sorted(row.roles)]
            self._count("people", row.email, row.email in new, changes)
        await self.session.flush()

    async def write_services(self, rows: list[_ServiceRow]) -> None:
        emails = {p.id: p.email for p in self.people.values()}
        for row in rows:
            known = row.name.lower() in self.services
            service = await self.service(row.name)
            contact = self.people[row.leadership_contact] if row.leadership_contact else None
            changes = self._update(
                service, {"leadership_contact_id": contact.id if contact else None}
            )
            if "leadership_contact_id" in changes:
                changes["leadership_contact"] = [
                    emails.get(i) for i in changes.pop("leadership_contact_id")
                ]
            if changes:
                self._audit("update", "service", row.name, changes)
                if known:  # a new service is counted as new
                    self.summary.updated["services"] += 1
            elif known:
                self.summary.unchanged["services"] += 1

    def _count(self, kind: str, key: str, created: bool, changes: dict[str, Any]) -> None:
        if created:
            self.summary.created[kind] += 1
            self._audit("create", _ENTITY[kind], key, changes)
        elif changes:
            self.summary.updated[kind] += 1
            self._audit("update", _ENTITY[kind], key, changes)
        else:
            self.summary.unchanged[kind] += 1

    async def write_measures(self, rows: list[_MeasureRow]) -> None:
        for row in rows:
            code = row.fields["code"]
            service = await self.service(row.service)
            values = dict(row.fields)
            values["service_id"] = service.id
            values["owner_id"] = self.people[row.owner_email].id
            values["escalation_owner_id"] = (
                self.people[row.escalation_owner_email].id if row.escalation_owner_email else None
            )
            measure = self.measures.get(code)
            created = measure is None
            if measure is None:
                measure = Measure(code=code, delegates=[], priority_rows=[])
                self.session.add(measure)
                self.measures[code] = measure
            changes = self._update(measure, values)
            old = sorted(p.email for p in measure.delegates)
            if old != row.delegate_emails:
                changes["delegates"] = [old, row.delegate_emails]
                if not created:
                    await self.session.flush()
                measure.delegates = [self.people[e] for e in row.delegate_emails]
            if list(measure.priorities) != row.priorities:
                changes["priorities"] = [list(measure.priorities), row.priorities]
                if not created:  # the old rows go before the new take their places
                    measure.priority_rows = []
                    await self.session.flush()
                measure.priority_rows = [
                    MeasurePriority(position=position, name=name)
                    for position, name in enumerate(row.priorities, start=1)
                ]
            self._count("measures", code, created, changes)
        # One flush for the sheet (not one a measure): the targets and actuals need the ids.
        await self.session.flush()

    async def write_targets(self, rows: list[_TargetRow]) -> None:
        """Compared with what is stored, read (part by part: ``_parts``) as (id, value) by
        (measure id, period); only the differences are written, in bulk."""
        if not rows:
            return
        table = _table(Target)
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        ids = {code: measure.id for code, measure in self.measures.items()}
        for part, measure_ids in _parts(rows, ids):
            query = select(table.c.id, table.c.measure_id, table.c.period, table.c.value)
            if measure_ids is not None:
                query = query.where(table.c.measure_id.in_(measure_ids))
            existing: dict[tuple[int, str], tuple[int, Decimal]] = {
                (measure_id, period): (target_id, value)
                for target_id, measure_id, period, value in await self.session.execute(query)
            }
            for row in part:
                code, label, value = row.code, row.period.label, row.value
                measure_id = ids[code]
                stored = existing.get((measure_id, label))
                if stored is not None and stored[1] == value:
                    self.summary.unchanged["targets"] += 1
                    continue
                key = f"{code} {label}"
                changes: dict[str, Any] = {
                    "target": [None if stored is None else str(stored[1]), str(value)]
                }
                if label in self.locked:  # a correction of a signed-off period
                    changes["reason"] = self.reason
                    self.summary.restated.append(f"{key} target")
                if stored is None:
                    created.append({"measure_id": measure_id, "period": label, "value": value})
                else:
                    updated.append({"target_id": stored[0], "new_value": value})
                self._count("targets", key, stored is None, changes)
                if len(created) >= CHUNK or len(self._audit_rows) >= CHUNK:
                    await _insert(self.session, table, created)
                    created = []
                    await self.write_audit()
        await _insert(self.session, table, created)
        if updated:
            await self.session.execute(
                update(table)
                .where(table.c.id == bindparam("target_id"))
                .values(value=bindparam("new_value")),
                updated,
            )

    async def write_actuals(self, rows: list[_ActualRow]) -> None:
        """Compared with the newest stored versions, read (part by part: ``_parts``) as rows
        of the columns compared; a changed or new figure is a new version, inserted in bulk (a correction
        of a signed-off period, rare, as an ORM object marked as a restatement)."""
        if not rows:
            return
        table = _table(Return)
        created: list[dict[str, Any]] = []
        people = {email: person.id for email, person in self.people.items()}
        ids = {code: measure.id for code, measure in self.measures.items()}
        for part, measure_ids in _parts(rows, ids):
            latest = await newest_versions(self.session, measure_ids)
            said: dict[int, dict[str, str]] = {}
            if any(row.answers for row in part):
                said = await answers_of(self.session, (ret.id for ret in latest.values()))
            for row in part:
                measure = self.measures[row.code]
                current = latest.get((measure.id, row.period.label))
                status = row.status.value if row.status else None
                key = f"{row.code} {row.period.label}"
                if _same_actual(current, row, said):
                    self.summary.unchanged["actuals"] += 1
                    continue
                version = current.version + 1 if current else 1
                values = {
                    "measure_id": measure.id,
                    "period": row.period.label,
                    "version": version,
                    "value": row.value,
                    "status": status,
                    "exceeding_expectations": row.exceeding,
                    "commentary": row.commentary,
                    # The performance team's own figures (a council's history, or returns sent
                    # to them): imported as signed off; returns sent in Teams await approval.
                    "state": ReturnState.APPROVED,
                    "submitted_by_id": people[row.submitted_by] if row.submitted_by else None,
                    "submitted_at": row.submitted_at or self.now,
                    "source": "import",
                    "restated": False,  # a correction of a signed-off period is marked below
                }
                given = {name: answer for name, answer in row.answers.items() if answer}
                restating = row.period.label in self.locked and self.reason is not None
                if given or restating:
                    ret = Return(**values)
                    self.session.add(ret)
                    if given:  # stored apart, a row a question, for this version
                        await self.session.flush()
                        self.session.add_all(
                            ReturnAnswer(return_id=ret.id, question=name, answer=answer)
                            for name, answer in given.items()
                        )
                    if restating:
                        self._restate(measure, key, current, ret, self.reason or "")
                        continue
                else:
                    created.append(values)
                shown_new = (
                    str(row.value)
                    if row.value is not None
                    else progress_word(status, row.exceeding)
                )
                if current:
                    shown_old = (
                        str(current.value)
                        if current.value is not None
                        else progress_word(current.status, current.exceeding_expectations)
                    )
                    changes: dict[str, Any] = {
                        "actual": [shown_old, shown_new],
                        "version": [current.version, version],
                    }
                    if current.commentary != row.commentary:
                        changes["commentary"] = [current.commentary, row.commentary]
                    before = said.get(current.id, {})
                    changed = {
                        name: [before.get(name), answer]
                        for name, answer in row.answers.items()
                        if before.get(name) != answer
                    }
                    if changed:
                        changes["answers"] = changed
                    self._count("actuals", key, False, changes)
                else:
                    self._count("actuals", key, True, {"actual": [None, shown_new]})
                if len(created) >= CHUNK or len(self._audit_rows) >= CHUNK:
                    await _insert(self.session, table, created)
                    created = []
                    await self.write_audit()
        await _insert(self.session, table, created)

    def _restate(
        self, measure: Measure, key: str, current: StoredReturn | None, ret: Return, reason: str
    ) -> None:
        """A figure of a signed-off period corrected by the import, with the reason: a
        restatement, marked on the new version and audited as one."""
        # The stored row has the columns these read (value, status, restated, restated_from).
        stored = cast(Return | None, current)
        earlier = shown_value(measure, current) if has_figure(stored) else None
        mark_restated(ret, earlier, reason, stored)
        changes: dict[str, Any] = {
            "actual": [
                shown_value(measure, current) if current else None,
                shown_value(measure, ret),
            ],
            "version": ret.version,
            "reason": reason,
            "source": "import",
        }
        if current is not None and current.commentary != ret.commentary:
            changes["commentary"] = [current.commentary, ret.commentary]
        self._audit("restate", "return", key, changes)
        (self.summary.updated if current else self.summary.created)["actuals"] += 1
        self.summary.restated.append(f"{key} actual")

    async def write_closures(self, rows: list[tuple[date, str | None]]) -> None:
        for day, description in rows:
            closure = await self.session.get(ClosureDay, day)
            if closure is None:
                self.session.add(ClosureDay(day=day, description=description))
                self._count(
                    "closure days", day.isoformat(), True, {"description": [None, description]}
                )
            elif closure.description != description:
                changes = {"description": [closure.description, description]}
                closure.description = description
                self._count("closure days", day.isoformat(), False, changes)
            else:
                self.summary.unchanged["closure days"] += 1

    async def write_deadlines(self, rows: list[_DeadlineRow]) -> None:
        if not rows:
            return
        existing = {
            (d.frequency, d.measure_id, d.period): d
            for d in (await self.session.scalars(select(Deadline))).all()
        }
        for row in rows:
            measure_id = self.measures[row.code].id if row.code else None
            deadline = existing.get((row.frequency, measure_id, row.period.label))
            created = deadline is None
            if deadline is None:
                deadline = Deadline(
                    frequency=row.frequency, measure_id=measure_id, period=row.period.label
                )
                self.session.add(deadline)
            changes = self._update(
                deadline,
                {"due_date": row.due, "review_date": row.review_date, "review": row.review},
            )
            self._count("deadlines", row.key, created, changes)

    async def write_benchmarks(self, rows: list[_BenchmarkRow]) -> None:
        """A row matches a stored one by measure, group (any case) and period; the group is
        kept as the council last spelled it."""
        if not rows:
            return
        existing = {
            (b.measure_id, b.comparator.casefold(), b.period): b
            for b in (await self.session.scalars(select(Benchmark))).all()
        }
        for row in rows:
            measure_id = self.measures[row.code].id
            label = row.period.label if row.period else None
            key = (measure_id, row.group.casefold(), label)
            benchmark = existing.get(key)
            created = benchmark is None
            if benchmark is None:
                benchmark = Benchmark(measure_id=measure_id, period=label)
                self.session.add(benchmark)
                existing[key] = benchmark
            lower, median, upper = row.quartiles
            changes = self._update(
                benchmark,
                {
                    "comparator": row.group,
                    "value": row.value,
                    "lower_quartile": lower,
                    "median": median,
                    "upper_quartile": upper,
                    "source": row.source,
                },
            )
            self._count("benchmarks", row.key, created, changes)

    async def write_milestones(self, rows: list[_MilestoneRow]) -> None:
        if not rows:
            return
        existing = {
            (m.measure_id, m.title.casefold()): m
            for m in (await self.session.scalars(select(Milestone))).all()
        }
        emails = {p.id: p.email for p in self.people.values()}
        for row in rows:
            measure = self.measures[row.code]
            milestone = existing.get((measure.id, row.title.casefold()))
            created = milestone is None
            if milestone is None:
                milestone = Milestone(measure_id=measure.id, title=row.title, due_date=row.due)
                self.session.add(milestone)
                existing[(measure.id, row.title.casefold())] = milestone
            values: dict[str, Any] = {"title": row.title, "due_date": row.due}
            if "owner_email" in row.columns:
                owner = self.people[row.owner_email] if row.owner_email else None
                values["owner_id"] = owner.id if owner else None
            if "status" in row.columns:
                values["status"] = row.status.value if row.status else None
            if "revised_date" in row.columns:
                values["revised_date"] = row.revised_date
            if "completed_on" in row.columns or "status" in row.columns:
                completed = row.completed_on
                if row.status is KeyActionStatus.COMPLETE and completed is None:
                    completed = milestone.completed_on or self.now.date()
                values["completed_on"] = completed
            changes = self._update(milestone, values)
            if "owner_id" in changes:
                changes["owner"] = [emails.get(i) for i in changes.pop("owner_id")]
            if changes and not created:
                milestone.updated_at = self.now
            self._count("milestones", f"{row.code} {row.title}", created, changes)
