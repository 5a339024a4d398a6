"""The audit log read back for a performance officer: who did what, when, in plain words,
oldest first, narrowed by measure, period, person and day (``perfbot audit``)."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.dates import LONDON
from domain.importing import ImportSummary
from domain.model import AuditEntry, Measure, Person
from domain.periods import Period, PeriodError
from domain.questions import Question


class TrailError(ValueError):
    """A filter that names nothing PerfBot knows; the message says how to put it right."""


# Every action string the code records, as a performance officer reads it. The one place an
# action is worded: a test reads every `record(` call in domain/ and bot/ and fails on an
# action missing here, so none is ever printed raw.
PHRASES: dict[str, str] = {
    # returns
    "submit": "submitted",
    "correct": "corrected",
    "refused": "refused",
    "not available": "said not available yet",
    "snooze": "snoozed the reminders",
    "add delegate": "added a delegate",
    "remove delegate": "removed a delegate",
    "away": "set themselves away (cover)",
    "back": "came back (cover ended)",
    "approve": "approved",
    "return to owner": "returned to owner",
    "approve refused": "refused approval",
    "restate": "restated",
    # periods
    "lock": "locked",
    "unlock": "unlocked",
    # escalations
    "escalate": "escalated",
    "reopen": "escalation reopened",
    "recovered": "recovered (escalation closed)",
    "acknowledge": "acknowledged the escalation",
    "agree remedial action": "agreed remedial action",
    "ask the owner": "asked the owner",
    "answer": "answered the escalation owner",
    "request deep dive": "requested a deep dive",
    "stop the activity": "stopped the activity",
    "chase": "chased the owner",
    "refused acknowledge": "refused to acknowledge",
    "refused agree remedial action": "refused to agree remedial action",
    "refused ask the owner": "refused to ask the owner",
    "refused answer": "refused to answer",
    "refused request deep dive": "refused to request a deep dive",
    "refused stop the activity": "refused to stop the activity",
    "refused open escalation": "refused to open the escalation",
    "refused chase": "refused to chase",
    # deep dives
    "flag deep dive": "flagged for a deep dive",
    "accept deep dive": "accepted the deep dive",
    "decline deep dive": "declined the deep dive",
    # action plans
    "add action": "added an action",
    "change action": "changed an action",
    "action progress": "noted progress on an action",
    "action done": "marked an action done",
    "drop action": "dropped an action",
    # imports: one entry per run, and one per row it changed
    "import": "ran an import",
    "create": "imported new",
    "update": "imported a change to",
    # people
    "link identity": "linked to their Teams account",
    "refused other tenant": "refused a message from another organisation's Teams",
    "refused other account": "refused a Teams account other than the one linked",
    # cards
    "refused altered card": "refused a card changed since PerfBot sent it",
    "rotate card key": "made a new card key",
    "retire card keys": "retired the older card keys",
    "mark unreachable": "marked unreachable",
    "mark reachable": "reachable again",
    # the weekly summary
    "set leadership channel": "set the leadership channel",
    "cleared leadership channel": "cleared the leadership channel",
}

# What an imported row is, after "imported new" / "imported a change to".
NOUNS = {
    "return": "figure",
    "closure day": "closure day",
    "deadline": "deadline",
    "measure": "measure",
    "person": "person",
    "service": "service",
    "target": "target",
}

# Entities whose key names a measure and a period ("HS-04 2025/26 Q1", "HS-04 2025/26 Q1 #3")
# or, for a measure, its code alone. A period's key is its label; others name no measure.
_BY_MEASURE = ("return", "escalation", "deep_dive", "action_plan", "target", "deadline", "measure")

# Changes whose value is a list of things, not an [old, new] pair.
_LISTS = ("told", "items", "unapproved", "to")

_LABELS = {"aad_object_id": "Entra object id", "teams_user_id": "Teams user id"}
# A return's answers to the review questions are recorded together, by question: each is
# told as its own change, as "answer (Why) ... → ...".
_LABELS.update({f"answers.{q.value}": f"answer ({q.heading})" for q in Question})

# Changes rendered in a fixed order, first; the rest follow as they were recorded.
_FIRST = ("actual", "target", "state", "reason", "why", "comment", "action", "question")

TABLE_COLUMNS = ("When", "Who", "What", "Measure", "Period", "Detail")
CSV_COLUMNS = (
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
)


@dataclass(frozen=True)
class TrailLine:
    """One audit entry as a person reads it."""

    at: datetime
    who: str
    who_email: str
    what: str
    measure: str
    period: str
    detail: str
    entry: AuditEntry

    @property
    def when(self) -> str:
        return f"{self.at.astimezone(LONDON):%Y-%m-%d %H:%M}"


def where_of(entity: str, key: str) -> tuple[str, str]:
    """The measure code and period label an entry is about ("" where it names none)."""
    if entity == "period":
        return "", _period_label(key)
    if entity not in _BY_MEASURE:
        return "", ""
    words = key.split()
    if words and words[-1].startswith("#"):
        words = words[:-1]  # an action-plan item: "HS-04 2025/26 Q1 #3"
    if entity == "deadline" and words and words[0].islower():
        return "", _period_label(" ".join(words[1:]))  # every measure's: "quarterly 2025/26 Q1"
    if not words or not _looks_like_code(words[0]):
        return "", ""  # "12", "deep dive #4": an escalation or deep dive PerfBot did not know
    return words[0], _period_label(" ".join(words[1:]))


def _looks_like_code(word: str) -> bool:
    """Measure codes are stored in capitals and hold a letter: HS-04, not 12 or "deep"."""
    return word == word.upper() and any(c.isalpha() for c in word)


def _period_label(text: str) -> str:
    try:
        return Period.parse(text).label
    except PeriodError:
        return ""


def phrase(action: str, entity: str, changes: dict[str, Any]) -> str:
    """The action in plain words; a refusal says why."""
    words = PHRASES.get(action, action)
    if action in ("create", "update"):
        words = f"{words} {NOUNS.get(entity, entity)}"
    reason = changes.get("reason") or changes.get("why")
    if _is_refusal(action) and reason:
        words = f"{words} ({reason})"
    return words


def _is_refusal(action: str) -> bool:
    return action.startswith("refused") or action.endswith("refused")


def _shown(value: Any, names: dict[str, str]) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v, names) for v in value) or "none"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return names.get(text.lower(), text)


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def detail(action: str, changes: dict[str, Any], names: dict[str, str]) -> str:
    """The changes an entry recorded, readably: ``actual 61.2% → 63.0% (version 2)``."""
    parts: list[str] = []
    rest = dict(changes)
    version = rest.pop("version", None)
    if _pair(version):
        version = version[1]
    if _is_refusal(action):
        rest.pop("reason", None)  # already in the phrase
        rest.pop("why", None)
        tried = rest.pop("action", None)
        if tried:
            parts.append(f"tried to: {tried}")
    if action == "import":
        parts.extend(_import_detail(rest))
        rest = {}
    answers = rest.pop("answers", None)
    if isinstance(answers, dict):
        rest.update({f"answers.{name}": pair for name, pair in answers.items()})
    if "state" in rest and action in ("approve", "return to owner"):
        rest.pop("state")  # the phrase says it
    keys = [k for k in _FIRST if k in rest] + [k for k in rest if k not in _FIRST]
    for key in keys:
        value = rest[key]
        if value is None or value == [] or value == "":
            continue  # nothing to say: a lock without a reason, no unapproved returns
        label = _LABELS.get(key, key.replace("_", " "))
        if key in ("reason", "why", "comment", "question", "answer"):
            parts.append(f"{'reason' if key == 'why' else label}: {_shown(value, names)}")
        elif key == "forced":
            if value:
                parts.append("forced (signed off as it stood)")
        elif key == "source":
            parts.append(f"from {value}")
        elif key == "matched_by":
            parts.append(f"matched by {value}")
        elif key == "unreachable" and _pair(value):
            old, new = value
            said = f"why: {new}" if new else f"had been unreachable: {old}"
            parts.append(f"{said} (before: {old})" if new and old else said)
        elif key in _LISTS or not _pair(value):
            parts.append(f"{label}: {_shown(value, names)}")
        else:
            old, new = value
            if old is None or old == []:
                parts.append(f"{label} {_shown(new, names)}")
            elif new is None or new == []:
                parts.append(f"{label} removed (was: {_shown(old, names)})")
            else:
                parts.append(f"{label} {_shown(old, names)} → {_shown(new, names)}")
        if key == "actual" and version is not None:
            parts[-1] += f" (version {version})"
            version = None
    if version is not None:
        parts.append(f"version {version}")
    return "; ".join(parts)


def _import_detail(changes: dict[str, Any]) -> list[str]:
    parts = [f"from {changes.get('source', 'a file')}"]
    counts: dict[str, list[str]] = {}
    for word, key in (("new", "created"), ("updated", "updated"), ("unchanged", "unchanged")):
        for kind, n in (changes.get(key) or {}).items():
            counts.setdefault(kind, []).append(f"{n:,} {word}")
    parts.extend(f"{kind}: {', '.join(said)}" for kind, said in counts.items())
    if changes.get("restated"):
        parts.append(f"restated: {', '.join(changes['restated'])}")
    if changes.get("reason"):
        parts.append(f"reason: {changes['reason']}")
    return parts


async def audit_trail(
    session: AsyncSession,
    *,
    measure: str | None = None,
    period: str | None = None,
    person: str | None = None,
    since: date | None = None,
) -> list[TrailLine]:
    """The audit entries that match every filter given, oldest first. ``measure`` is a code,
    ``period`` a label as Period.parse reads it, ``person`` the actor's email (any case),
    ``since`` a day in London. Raises TrailError for a filter that names nothing known."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    code = None
    if measure is not None:
        code = measure.strip().upper()
        known = await session.scalar(select(Measure.id).where(Measure.code == code))
        if known is None:
            raise TrailError(
                f"there is no measure '{measure.strip()}': give a measure's code, as in RB-01 "
                "(`perfbot export` lists them)"
            )
        query = query.where(or_(AuditEntry.key == code, AuditEntry.key.startswith(f"{code} ")))
    label = None
    if period is not None:
        try:
            label = Period.parse(period).label
        except PeriodError as error:
            raise TrailError(f"--period: {error}") from None
        query = query.where(AuditEntry.key.contains(label))
    if person is not None:
        email = person.strip().lower()
        named = await session.scalar(select(Person.id).where(Person.email == email))
        acted = await session.scalar(
            select(AuditEntry.id).where(func.lower(AuditEntry.actor) == email).limit(1)
        )
        if named is None and acted is None:
            raise TrailError(
                f"no one with the email '{person.strip()}' is known to PerfBot: check the "
                "spelling (`perfbot people` lists everyone)"
            )
        query = query.where(func.lower(AuditEntry.actor) == email)
    if since is not None:
        query = query.where(AuditEntry.at >= datetime.combine(since, time(), LONDON))
    entries = (await session.scalars(query)).all()
    names = {
        email: name for email, name in await session.execute(select(Person.email, Person.name))
    }
    lines = []
    for entry in entries:
        about, when = where_of(entry.entity, entry.key)
        if code is not None and about != code:
            continue
        if label is not None and when != label:
            continue
        changes = entry.changes or {}
        email = entry.actor.lower()
        name = names.get(email)
        said = detail(entry.action, changes, names)
        if entry.entity == "person" and entry.key.lower() != email:
            whom = names.get(entry.key.lower())
            said = "; ".join(filter(None, [f"{whom} <{entry.key}>" if whom else entry.key, said]))
        lines.append(
            TrailLine(
                at=entry.at.astimezone(UTC),
                who=f"{name} <{email}>" if name else entry.actor,
                who_email=email if name else "",
                what=phrase(entry.action, entry.entity, changes),
                measure=about,
                period=when,
                detail=said,
                entry=entry,
            )
        )
    return lines


def nothing_found(
    measure: str | None, period: str | None, person: str | None, since: date | None
) -> str:
    """One sentence for an empty trail, saying what was asked."""
    asked = []
    if measure:
        asked.append(f"about {measure.strip().upper()}")
    if period:
        asked.append(f"for {_period_label(period) or period.strip()}")
    if person:
        asked.append(f"by {person.strip().lower()}")
    if since:
        asked.append(f"since {since.isoformat()}")
    if not asked:
        return "The audit log has no entries yet."
    return f"The audit log has no entries {' '.join(asked)}."


def csv_text(lines: Sequence[TrailLine]) -> str:
    """The trail as CSV: one header row, every value whole, the changes as recorded (JSON)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        entry = line.entry
        writer.writerow(
            (
                line.when,
                line.who,
                line.what,
                line.measure,
                line.period,
                line.detail,
                entry.actor,
                entry.action,
                entry.entity,
                entry.key,
                json.dumps(entry.changes or {}, ensure_ascii=False, sort_keys=True),
            )
        )
    return buffer.getvalue()


# The table's columns before Detail, as wide as they need to be at most; Detail takes what is
# left, or, on a terminal too narrow for that, goes on the lines under its entry.
_WIDTHS = {"When": 16, "Who": 26, "What": 24, "Measure": 7, "Period": 11}
_DETAIL_LINES = 4  # a longer detail is cut, with "…"; the csv has it whole
_MIN_DETAIL = 24
_INDENT = "    "


def _cell(text: str, width: int, most: int | None = None) -> list[str]:
    wrapped: list[str] = []
    for part in text.split("\n"):
        if len(part) > width and "@" in part:
            part = part.replace("@", "@\n", 1)  # an email breaks after its @
        for piece in part.split("\n"):
            wrapped.extend(textwrap.wrap(piece, width, break_on_hyphens=False) or [""])
    if most is not None and len(wrapped) > most:
        wrapped = wrapped[:most]
        wrapped[-1] = wrapped[-1][: width - 1] + "…"
    return wrapped


def table_text(lines: Sequence[TrailLine], width: int = 100) -> str:
    """The trail as a table that fits ``width`` columns: long cells wrap, Detail is cut after
    a few lines. Who is the name over the email."""
    rows = [
        (
            line.when,
            line.who.replace(" <", "\n").removesuffix(">") if line.who_email else line.who,
            line.what,
            line.measure,
            line.period,
            line.detail,
        )
        for line in lines
    ]
    columns = TABLE_COLUMNS[:-1]
    widths = []
    for i, column in enumerate(columns):
        most = _WIDTHS[column]
        parts = [part for row in rows for part in row[i].split("\n")]
        # An email too long for the column breaks after its @: it needs only its longer half.
        needs = [
            max(len(p.split("@")[0]) + 1, len(p.split("@")[1]))
            if len(p) > most and "@" in p
            else len(p)
            for p in parts
        ]
        widths.append(min(max([len(column), *needs]), most))
    room = width - sum(widths) - 2 * len(widths)
    beside = room >= _MIN_DETAIL
    if beside:
        room = min(room, max([len("Detail")] + [len(row[-1]) for row in rows]))
        widths.append(room)
    heading: Sequence[str] = TABLE_COLUMNS if beside else columns
    out = ["  ".join(c.ljust(w) for c, w in zip(heading, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [_cell(text, w) for text, w in zip(row[:-1], widths, strict=False)]
        said = _cell(row[-1], room if beside else width - len(_INDENT), _DETAIL_LINES)
        if beside:
            cells.append(said)
        for n in range(max(len(c) for c in cells)):
            out.append(
                "  ".join(
                    (c[n] if n < len(c) else "").ljust(w)
                    for c, w in zip(cells, widths, strict=False)
                ).rstrip()
            )
        if not beside and row[-1]:
            out.extend(f"{_INDENT}{part}" for part in said)
    return "\n".join(out) + "\n"


def record_import_run(
    session: AsyncSession,
    source: str,
    summary: ImportSummary,
    now: datetime,
    *,
    actor: str = "import",
    reason: str | None = None,
) -> None:
    """One audit entry for a whole import run, beside the entries of the rows it changed:
    the file it read and how many of each kind it added, changed and left as they were (and
    the reason an admin gave, for a correction into a locked period)."""
    changes: dict[str, Any] = {
        "source": source,
        "created": {k: n for k, n in summary.created.items() if n},
        "updated": {k: n for k, n in summary.updated.items() if n},
        "unchanged": {k: n for k, n in summary.unchanged.items() if n},
    }
    if summary.restated:
        changes["restated"] = list(summary.restated)
    if reason:
        changes["reason"] = reason
    record(session, actor, "import", "import", source, changes, now)
