"""`perfbot audit`: the audit log read back in plain words, against a known sequence of events
made through the real use cases (SQLite file and PostgreSQL); every action the code records
has its words; and the log is append-only."""

from __future__ import annotations

import ast
import asyncio
import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from domain import db, locks, people, returns
from domain.audit import record
from domain.audit_trail import (
    PHRASES,
    TrailError,
    TrailLine,
    audit_trail,
    csv_text,
    detail,
    nothing_found,
    phrase,
    record_import_run,
    table_text,
    where_of,
)
from domain.importing import import_workbook
from domain.model import AuditEntry, AuditIsAppendOnly, Person
from domain.policy import Policy
from domain.returns import SubmitReturn
from domain.uow import UnitOfWork
from domain.workbook import read_sheets

ROOT = Path(__file__).resolve().parents[2]
AMINA = "amina.hussain@kingsmere.gov.uk"
GARETH = "gareth.jones@kingsmere.gov.uk"
LUCY = "lucy.price@kingsmere.gov.uk"
SINCE = date(2026, 11, 24)  # the sample council was loaded on the 23rd


def at(hh_mm: str) -> datetime:
    """A moment on Tuesday 24 November 2026 (London is on GMT, so UTC is London time)."""
    hours, minutes = hh_mm.split(":")
    return datetime(2026, 11, 24, int(hours), int(minutes), tzinfo=UTC)


# What happened, as `perfbot audit --since 2026-11-24` tells it: when, who, what, measure,
# period, detail.
EXPECTED = [
    (
        "2026-11-24 09:14",
        f"Amina Hussain <{AMINA}>",
        "submitted",
        "RB-01",
        "2026/27 M7",
        "actual 66.5% (version 1)",
    ),
    (
        "2026-11-24 09:20",
        f"Amina Hussain <{AMINA}>",
        "corrected",
        "RB-01",
        "2026/27 M7",
        "actual 66.5% → 67.0% (version 2)",
    ),
    (
        "2026-11-24 10:05",
        f"Gareth Jones <{GARETH}>",
        "refused (not owner or delegate)",
        "RB-01",
        "2026/27 M7",
        "tried to: submit",
    ),
    ("2026-11-24 11:00", "import", "imported new figure", "RB-03", "2026/27 M7", "actual 17.5"),
    ("2026-11-24 11:00", "import", "ran an import", "", "", "from december.csv; actuals: 1 new"),
    (
        "2026-11-24 12:30",
        f"Amina Hussain <{AMINA}>",
        "linked to their Teams account",
        "",
        "",
        "Entra object id aad-amina; matched by email",
    ),
    (
        "2026-11-24 13:00",
        "system",
        "marked unreachable",
        "",
        "",
        f"Lucy Price <{LUCY}>; why: {people.NOT_INSTALLED}",
    ),
]


async def _happen(engine: AsyncEngine, folder: Path) -> None:
    """The known sequence: a submission, its correction, a refusal, an import, an identity
    link and someone marked unreachable, each through its use case."""
    uow = UnitOfWork(db.session_factory(engine))
    async with uow() as tx:
        found = {p.email: p for p in await tx.scalars(select(Person))}
    amina, gareth, lucy = found[AMINA], found[GARETH], found[LUCY]

    def card(who: Person, actual: str, card_id: str) -> SubmitReturn:
        return SubmitReturn(
            person_id=who.id,
            card_id=card_id,
            code="RB-01",
            period="2026/27 M7",
            actual=actual,
            commentary="On profile.",
        )

    for who, actual, card_id, when in (
        (amina, "66.5", "card-1", at("09:14")),
        (amina, "67.0", "card-2", at("09:20")),
        (gareth, "70", "card-3", at("10:05")),
    ):
        await uow.run(
            lambda tx, w=who, a=actual, c=card_id, t=when: returns.submit_return(
                tx, card(w, a, c), w, t, Policy(), 4_000
            )
        )
    (folder / "actuals.csv").write_text("code,period,actual\nRB-03,2026/27 M7,17.5\n")
    async with uow() as tx:  # as `perfbot import` does it
        summary = await import_workbook(tx, read_sheets(folder), now=at("11:00"))
        record_import_run(tx, "december.csv", summary, at("11:00"))
    async with uow() as tx:
        await people.find_person(tx, "aad-amina", AMINA.upper(), at("12:30"))
    async with uow() as tx:
        await people.mark_unreachable(tx, lucy.id, people.NOT_INSTALLED, at("13:00"))
        await people.mark_unreachable(tx, lucy.id, people.NOT_INSTALLED, at("13:01"))  # no news


@pytest.fixture
async def happened(council_engine: AsyncEngine, tmp_path: Path) -> AsyncEngine:
    folder = tmp_path / "import"
    folder.mkdir()
    await _happen(council_engine, folder)
    return council_engine


async def trail(engine: AsyncEngine, **filters):
    async with db.session_factory(engine)() as session:
        return await audit_trail(session, **filters)


def told(lines) -> list[tuple[str, ...]]:
    return [(t.when, t.who, t.what, t.measure, t.period, t.detail) for t in lines]


async def test_the_trail_tells_who_did_what_when_oldest_first(happened):
    assert told(await trail(happened, since=SINCE)) == EXPECTED


async def test_the_sample_import_is_in_the_trail_before_it(happened):
    everything = await trail(happened)
    assert len(everything) > len(EXPECTED)
    assert told(everything[-len(EXPECTED) :]) == EXPECTED
    assert {t.who for t in everything[: -len(EXPECTED)]} == {"import"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"measure": "rb-01"}, EXPECTED[:3]),
        ({"measure": "RB-03"}, EXPECTED[3:4]),
        ({"period": "2026/27 m7"}, EXPECTED[:4]),
        ({"person": "Gareth.Jones@Kingsmere.gov.uk"}, EXPECTED[2:3]),
        ({"person": AMINA}, [EXPECTED[0], EXPECTED[1], EXPECTED[5]]),
        ({"person": "system"}, EXPECTED[6:]),
        ({"measure": "RB-01", "person": GARETH}, EXPECTED[2:3]),
        ({"measure": "RB-01", "period": "2026/27 M6"}, []),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
async def test_each_filter_narrows_the_trail_and_they_combine(happened, filters, expected):
    assert told(await trail(happened, since=SINCE, **filters)) == expected


async def test_since_is_a_day_in_london(happened):
    assert told(await trail(happened, since=date(2026, 11, 25))) == []
    assert len(await trail(happened, since=date(2026, 11, 23))) > len(EXPECTED)


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        ({"measure": "XX-99"}, "there is no measure 'XX-99': give a measure's code, as in RB-01"),
        ({"period": "2026/27 Q5"}, "--period: "),
        ({"period": "last month"}, "'last month' is not a period: write it like 2025/26 M3"),
        ({"person": "nobody@kingsmere.gov.uk"}, "no one with the email 'nobody@kingsmere"),
    ],
)
async def test_a_filter_naming_nothing_known_says_how_to_fix_it(happened, filters, says):
    with pytest.raises(TrailError, match=re.escape(says)):
        await trail(happened, **filters)


def test_an_empty_trail_says_so_in_one_sentence():
    assert nothing_found("rb-01", "2026/27 m6", None, SINCE) == (
        "The audit log has no entries about RB-01 for 2026/27 M6 since 2026-11-24."
    )
    assert nothing_found(None, None, None, None) == "The audit log has no entries yet."


async def test_the_csv_has_one_header_and_every_value_whole(happened):
    lines = await trail(happened, since=SINCE)
    rows = list(csv.reader(io.StringIO(csv_text(lines))))
    assert rows[0] == [
        "when",
        "who",
        "what",
        "measure",
        "period",
        "detail",
        "actor",
        "action",
        "entity",
        "key",
        "changes",
    ]
    assert [tuple(r[:6]) for r in rows[1:]] == EXPECTED
    corrected = rows[2]
    assert corrected[6:10] == [AMINA, "correct", "return", "RB-01 2026/27 M7"]
    assert json.loads(corrected[10]) == {"actual": ["66.5%", "67.0%"], "version": 2}


def test_the_table_fits_the_terminal_and_cuts_a_long_detail():
    entry = AuditEntry(
        at=at("09:14"),
        actor="import",
        action="update",
        entity="measure",
        key="RB-01",
        changes={"title": ["Council tax", "word " * 200]},
    )
    line = TrailLine(
        at=entry.at,
        who="import",
        who_email="",
        what=phrase(entry.action, entry.entity, entry.changes),
        measure="RB-01",
        period="",
        detail=detail(entry.action, entry.changes, {}),
        entry=entry,
    )
    text = table_text([line], width=100)
    rows = text.splitlines()
    assert rows[0].split() == ["When", "Who", "What", "Measure", "Period", "Detail"]
    assert all(len(row) <= 100 for row in rows)
    assert len(rows) == 2 + 4  # header, rule, and the detail cut at four lines
    assert rows[-1].endswith("…")
    assert "imported a change to" in rows[2]
    assert rows[3].split()[0] == "measure"  # What wraps in its column


# ---- the words for each action ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "entity", "changes", "what", "said"),
    [
        (
            "approve",
            "return",
            {"state": ["submitted", "approved"], "version": 2},
            "approved",
            "version 2",
        ),
        (
            "return to owner",
            "return",
            {"state": ["submitted", "returned"], "version": 1, "comment": "Please add the why."},
            "returned to owner",
            "comment: Please add the why.; version 1",
        ),
        (
            "approve refused",
            "return",
            {"action": "approve", "reason": "own return"},
            "refused approval (own return)",
            "tried to: approve",
        ),
        (
            "lock",
            "period",
            {"reason": "Signed off by CLT", "unapproved": ["HS-04", "RB-01"], "forced": True},
            "locked",
            "reason: Signed off by CLT; unapproved: HS-04, RB-01; forced (signed off as it stood)",
        ),
        ("lock", "period", {"reason": None, "unapproved": [], "forced": False}, "locked", ""),
        ("unlock", "period", {"reason": "Late correction"}, "unlocked", "reason: Late correction"),
        (
            "restate",
            "return",
            {"actual": ["61.2%", "63.0%"], "version": 3, "reason": "typo", "source": "import"},
            "restated",
            "actual 61.2% → 63.0% (version 3); reason: typo; from import",
        ),
        (
            "refused acknowledge",
            "escalation",
            {"reason": "not the escalation owner or an admin"},
            "refused to acknowledge (not the escalation owner or an admin)",
            "",
        ),
        (
            "refused chase",
            "escalation",
            {"why": "not the escalation owner"},
            "refused to chase (not the escalation owner)",
            "",
        ),
        (
            "escalate",
            "escalation",
            {"to": "mark.taylor@kingsmere.gov.uk", "rating": "Action"},
            "escalated",
            "to: Mark Taylor; rating: Action",
        ),
    ],
)
def test_each_action_reads_as_plain_words(action, entity, changes, what, said):
    names = {"mark.taylor@kingsmere.gov.uk": "Mark Taylor"}
    assert phrase(action, entity, changes) == what
    assert detail(action, changes, names) == said


def test_each_kind_of_key_names_its_measure_and_period():
    assert where_of("period", "2025/26 Q1") == ("", "2025/26 Q1")
    assert where_of("return", "HS-04 2025/26 Q1") == ("HS-04", "2025/26 Q1")
    assert where_of("action_plan", "HS-04 2025/26 Q1 #3") == ("HS-04", "2025/26 Q1")
    assert where_of("escalation", "12") == ("", "")
    assert where_of("deadline", "quarterly 2025/26 Q1") == ("", "2025/26 Q1")
    assert where_of("deadline", "HS-04 2025/26 Q1") == ("HS-04", "2025/26 Q1")
    assert where_of("action_plan", "HS-04") == ("HS-04", "")  # a refusal about the measure
    assert where_of("deep_dive", "deep dive #4") == ("", "")
    assert where_of("measure", "HS-04") == ("HS-04", "")
    assert where_of("person", "amina@x") == ("", "")


SOURCES = sorted(
    path for folder in ("domain", "bot", "scheduler") for path in (ROOT / folder).rglob("*.py")
)


class _Source:
    """One module read with ast, able to say which strings an expression can be."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def functions_around(self, node: ast.AST):
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node

    def values(self, node: ast.AST, depth: int = 0) -> set[str]:
        assert depth < 6, f"{self.where(node)}: the action is passed on too far to follow"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.values(node.body, depth) | self.values(node.orelse, depth)
        if isinstance(node, ast.JoinedStr):
            out = {""}
            for part in node.values:
                inner = self.values(
                    part.value if isinstance(part, ast.FormattedValue) else part, depth
                )
                out = {a + b for a in out for b in inner}
            return out
        if isinstance(node, ast.Name):
            for function in self.functions_around(node):
                params = [a.arg for a in function.args.args]
                if node.id in params:
                    return self.passed(function, params.index(node.id), node.id, depth)
                assigned = [
                    each.value
                    for each in ast.walk(function)
                    if isinstance(each, ast.Assign | ast.AnnAssign)
                    and each.value is not None
                    and any(
                        isinstance(t, ast.Name) and t.id == node.id
                        for t in (each.targets if isinstance(each, ast.Assign) else [each.target])
                    )
                ]
                if assigned:  # a local variable: every value it is given
                    return set().union(*(self.values(v, depth + 1) for v in assigned))
        raise AssertionError(f"{self.where(node)}: cannot tell which action this records")

    def passed(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, index: int, name: str, depth: int
    ) -> set[str]:
        """Every value the module's calls of ``function`` give its parameter ``name``."""
        method = bool(function.args.args) and function.args.args[0].arg in ("self", "cls")
        found: set[str] = set()
        calls = 0
        for call in ast.walk(self.tree):
            if not isinstance(call, ast.Call):
                continue
            callee = call.func
            called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
            if called != function.name:
                continue
            calls += 1
            position = index - 1 if method and isinstance(callee, ast.Attribute) else index
            given = [k.value for k in call.keywords if k.arg == name]
            if not given and position < len(call.args):
                given = [call.args[position]]
            for value in given:
                found |= self.values(value, depth + 1)
        assert calls, f"{self.where(function)}: {function.name} is never called here"
        return found


def recorded_actions() -> dict[str, str]:
    """Every action string passed to ``record(`` (or ``audit_row(``) in domain/, bot/ and
    scheduler/: where."""
    actions: dict[str, str] = {}
    for path in SOURCES:
        source = _Source(path)
        for call in ast.walk(source.tree):
            if not isinstance(call, ast.Call):
                continue
            callee = call.func
            called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
            # record(session, actor, action, ...), or audit_row(actor, action, ...) for a bulk insert
            if called not in ("record", "audit_row") or path.name == "audit.py":
                continue
            given = [k.value for k in call.keywords if k.arg == "action"]
            action = given[0] if given else call.args[2 if called == "record" else 1]
            for value in source.values(action):
                actions.setdefault(value, source.where(call))
    return actions


def test_every_action_the_code_records_has_plain_words():
    actions = recorded_actions()
    assert len(actions) > 30  # the scan finds them (and follows f"refused {action}")
    assert {"submit", "correct", "refused acknowledge", "refused chase", "create"} <= set(actions)
    missing = {a: where for a, where in actions.items() if a not in PHRASES}
    assert not missing, f"add these to domain/audit_trail.py PHRASES: {missing}"


# ---- append-only -----------------------------------------------------------------------------

_COLUMNS = {"at", "actor", "action", "entity", "key", "changes"}


def _mentions_audit(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "AuditEntry")
        or (isinstance(n, ast.Constant) and n.value == "audit_log")
        for n in ast.walk(node)
    )


def test_no_code_updates_or_deletes_an_audit_entry():
    """The audit log is only added to: no update() or delete() of AuditEntry or audit_log, no
    raw UPDATE/DELETE of it, and no function that reads entries deletes or changes one."""
    offences = []
    for path in sorted(
        p
        for folder in ("domain", "bot", "scheduler", "cards", "sample")
        for p in (ROOT / folder).rglob("*.py")
    ):
        source = _Source(path)
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Call):
                callee = node.func
                called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
                if called in ("update", "delete") and any(_mentions_audit(a) for a in node.args):
                    offences.append(source.where(node))
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.lower().replace('"', " ").split())
                if "update audit_log" in text or "delete from audit_log" in text:
                    offences.append(source.where(node))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _mentions_audit(node):
                if path.name == "model.py":
                    continue  # the guard itself
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Call) and getattr(inner.func, "attr", "") == "delete":
                        offences.append(source.where(inner))
                    if isinstance(inner, ast.Assign | ast.AugAssign):
                        targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                        for target in targets:
                            if isinstance(target, ast.Attribute) and target.attr in _COLUMNS:
                                offences.append(source.where(inner))
    assert not offences, f"the audit log must stay append-only: {offences}"


async def test_changing_or_deleting_an_entry_through_the_orm_raises_and_changes_nothing(sessions):
    async with sessions() as session, session.begin():
        record(session, AMINA, "submit", "return", "RB-01 2026/27 M7", {"version": 1}, at("09:14"))

    async def change(attempt) -> None:
        async with sessions() as session, session.begin():
            entry = await session.scalar(select(AuditEntry))
            result = attempt(session, entry)
            if asyncio.iscoroutine(result):
                await result
            await session.flush()

    attempts = [
        lambda s, e: setattr(e, "actor", "someone.else@kingsmere.gov.uk"),
        lambda s, e: setattr(e, "changes", {"version": 9}),
        lambda s, e: s.delete(e),
    ]
    for attempt in attempts:
        with pytest.raises(AuditIsAppendOnly, match="append-only"):
            await change(attempt)

    async def execute(statement) -> None:
        async with sessions() as session, session.begin():
            await session.execute(statement)

    statements = [
        update(AuditEntry).values(actor="x"),
        delete(AuditEntry),
        update(AuditEntry.__table__).values(actor="x"),
        delete(AuditEntry.__table__).where(AuditEntry.__table__.c.id > 0),
    ]
    for statement in statements:
        with pytest.raises(AuditIsAppendOnly, match="append-only"):
            await execute(statement)
    async with sessions() as session:
        [entry] = (await session.scalars(select(AuditEntry))).all()
        assert (entry.actor, entry.changes) == (AMINA, {"version": 1})
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 1


# ---- the command -----------------------------------------------------------------------------


async def perfbot(engine: AsyncEngine, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`perfbot ARGS` in this process (on a thread: it runs its own event loop)."""
    monkeypatch.setenv("PERFBOT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COLUMNS", "120")
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def test_perfbot_audit_prints_the_table(happened, monkeypatch, capsys):
    status, out, err = await perfbot(
        happened, monkeypatch, capsys, "audit", "--since", "24/11/2026", "--measure", "RB-01"
    )
    assert (status, err) == (0, "")
    rows = out.splitlines()
    assert rows[0].split() == ["When", "Who", "What", "Measure", "Period", "Detail"]
    assert all(len(row) <= 120 for row in rows), out
    assert rows[2].split() == [
        "2026-11-24", "09:14", "Amina", "Hussain", "submitted", "RB-01", "2026/27", "M7",
        "actual", "66.5%", "(version", "1)",
    ]  # fmt: skip
    assert [rows[3].strip(), rows[4].strip()] == ["amina.hussain@", "kingsmere.gov.uk"]
    assert "refused (not owner or" in out
    assert "Gareth Jones" in out
    assert "import" not in out


async def test_perfbot_audit_writes_csv(happened, monkeypatch, capsys):
    status, out, _ = await perfbot(
        happened, monkeypatch, capsys, "audit", "--since", "2026-11-24", "--format", "csv"
    )
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert [tuple(r[:6]) for r in rows[1:]] == EXPECTED


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--measure", "XX-99"], "there is no measure 'XX-99'"),
        (["--period", "2026/27 Q9"], "--period: "),
        (["--person", "nobody@kingsmere.gov.uk"], "`perfbot people` lists everyone"),
        (["--since", "next week"], "--since: 'next week' is not a date: write it as 2025-07-18"),
    ],
)
async def test_perfbot_audit_refuses_bad_input_in_one_sentence(
    happened, monkeypatch, capsys, args, says
):
    status, out, err = await perfbot(happened, monkeypatch, capsys, "audit", *args)
    assert status == 1
    assert out == ""
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


async def test_perfbot_audit_with_nothing_to_show_says_so(happened, monkeypatch, capsys):
    status, out, _ = await perfbot(
        happened, monkeypatch, capsys, "audit", "--person", LUCY, "--since", "2026-11-24"
    )
    assert status == 0
    assert out == f"The audit log has no entries by {LUCY} since 2026-11-24.\n"


async def test_perfbot_import_leaves_one_entry_for_the_run(happened, monkeypatch, capsys, tmp_path):
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "targets.csv").write_text("code,period,target\nRB-03,2026/27 M7,17.0\n")
    status, out, _ = await perfbot(happened, monkeypatch, capsys, "import", str(folder))
    assert status == 0, out
    status, out, _ = await perfbot(
        happened, monkeypatch, capsys, "audit", "--format", "csv", "--person", "import"
    )
    runs = [r for r in csv.DictReader(io.StringIO(out)) if r["action"] == "import"]
    assert runs[-1]["what"] == "ran an import"
    assert runs[-1]["detail"] == f"from {folder}; targets: 1 updated"
    changed = [r for r in csv.DictReader(io.StringIO(out)) if r["key"] == "RB-03 2026/27 M7"]
    assert changed[-1]["detail"] == "target 18.0 → 17.0"


async def test_a_lock_and_a_restatement_after_it_are_in_the_trail(happened, tmp_path):
    """The issue's end: the quarter is signed off, an admin corrects a figure by import with a
    reason, and the trail shows both, with the figure it replaced."""
    admin = "rachel.singh@kingsmere.gov.uk"
    uow = UnitOfWork(db.session_factory(happened))
    await uow.run(lambda tx: locks.lock(tx, "2026/27 Q2", admin, at("14:00"), "For Cabinet", True))
    folder = tmp_path / "correction"
    folder.mkdir()
    (folder / "actuals.csv").write_text("code,period,actual\nRB-06,2026/27 Q2,90.8\n")
    async with uow() as tx:  # as `perfbot import --reason` does it
        summary = await import_workbook(
            tx, read_sheets(folder), now=at("14:30"), reason="The bank's late file"
        )
        record_import_run(tx, "q2.csv", summary, at("14:30"), reason="The bank's late file")
    lines = told(await trail(happened, period="2026/27 Q2", since=SINCE))
    locked, restated = lines
    assert locked[1:5] == (f"Rachel Singh <{admin}>", "locked", "", "2026/27 Q2")
    assert locked[5] == "reason: For Cabinet; forced (signed off as it stood)"
    assert restated == (
        "2026-11-24 14:30",
        "import",
        "restated",
        "RB-06",
        "2026/27 Q2",
        "actual 90.3% → 90.8% (version 2); reason: The bank's late file; from import; "
        "commentary removed (was: Better than last period thanks to the process changes made "
        "earlier in the year.)",
    )
    [run] = told(await trail(happened, person="import", since=at("14:30").date()))[-1:]
    assert run[2:] == (
        "ran an import",
        "",
        "",
        "from q2.csv; actuals: 1 updated; restated: RB-06 2026/27 Q2 actual; "
        "reason: The bank's late file",
    )
