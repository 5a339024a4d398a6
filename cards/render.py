"""Render PerfBot's Adaptive Cards from templates (what people submit from them is read by
cards/actions.py, which owns the verbs and input ids the templates are given).

Every template value goes through ``tojson`` and every render is parsed back with
``json.loads``, so a broken card fails a test rather than a Teams client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined

from cards.actions import INPUTS, MAX_PROGRESS, MAX_TEXT, Verb, ids
from cards.seal import buttons
from domain.action_plans import ActionItem
from domain.board import ReportKind, latest_period
from domain.dates import LONDON, long_day
from domain.deep_dives import DiveView, ListedDive
from domain.escalations import EscalationView, QuestionCard, Watched, when
from domain.locks import PeriodStatus, StatusLine
from domain.milestones import MilestoneLine, line_of
from domain.milestones import lines as milestone_lines
from domain.model import Milestone
from domain.numbers import Unit
from domain.overdue import Digest
from domain.periods import Period, PeriodError
from domain.plausibility import Doubt
from domain.questions import ACTION, DEFAULT_REQUIRED, MAX_ANSWER, Question, required_questions
from domain.ratings import PROGRESS_CHOICES, KeyActionStatus, Polarity, Rating
from domain.signoff import ReviewCard
from domain.summary import MeasureDetail, MeasureLine, Summary
from domain.views import (
    OVERDUE,
    WAITING,
    Directions,
    OpenReturn,
    Receipt,
    direction_facts,
    shown_value,
    signed_off_by,
    today_in_london,
)

__all__ = ["INPUTS", "MAX_TEXT", "ids"]  # the card inputs, for callers that render and read

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_CARD_BYTES = 28 * 1024
SEAL_BYTES = 48  # what a button's seal adds to the card: , "sig": "<key>.<24 characters>"

_env = Environment(
    loader=PackageLoader("cards", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    auto_reload=False,  # templates ship with the code: no stat of the file on every render
)
_env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}


class CardTooLarge(ValueError):
    """A rendered card over the size Teams accepts comfortably."""


def render(template: str, *, max_bytes: int = MAX_CARD_BYTES, **context: Any) -> dict[str, Any]:
    text = _env.get_template(template).render(
        ids=ids, verbs=Verb, max_text=MAX_TEXT, max_progress=MAX_PROGRESS, **context
    )
    card: dict[str, Any] = json.loads(text)
    # Counted with the seal each button gets when it is sent (bot/sealing.py).
    size = len(json.dumps(card, ensure_ascii=False).encode()) + SEAL_BYTES * len(buttons(card))
    if size > max_bytes:
        raise CardTooLarge(f"the {template} card is {size:,} bytes, over {max_bytes:,}")
    return card


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": card}


# ---- views ----------------------------------------------------------------------------

_RATING_COLOURS = {
    Rating.STRONG: "Good",
    Rating.GOOD: "Good",
    Rating.GREEN: "Good",
    Rating.REVIEW: "Warning",
    Rating.AMBER: "Warning",
    Rating.ACTION: "Attention",
    Rating.RED: "Attention",
}


def _rating(rating: Rating | None) -> str:
    return f"{rating.symbol} {rating.word}" if rating else "unrated"


_UNIT_WORDS = {
    Unit.NUMBER: "a number",
    Unit.PERCENT: "a percentage",
    Unit.CURRENCY: "pounds (£)",
    Unit.DAYS: "days",
    Unit.HOURS: "hours",
}


def _unit_words(unit: Unit, polarity: Polarity) -> str:
    better = "higher is better" if polarity is Polarity.HIGHER else "lower is better"
    return f"{_UNIT_WORDS[unit]}, {better}"


def _overdue(item: OpenReturn) -> str:
    days = item.overdue_days
    text = f"overdue by {days} working day{'s' if days != 1 else ''}"
    return text + (", escalated" if item.state == "escalated" else "")


def _return_view(item: OpenReturn, today: date) -> dict[str, Any]:
    m = item.measure
    due = long_day(item.deadline)
    if item.state in OVERDUE:
        due += f" ({_overdue(item)})"
    facts = [
        (
            "Period",
            f"{item.period.label} ({item.period.start:%d %b %Y} to {item.period.end:%d %b %Y})",
        ),
        ("Due", due),
    ]
    if m.is_key_action:
        if m.due_date:
            facts.append(("Complete by", long_day(m.due_date)))
    else:
        facts.append(
            ("Target", item.target_shown or ("none: data only" if m.data_only else "none set"))
        )
        facts.append(("Unit", _unit_words(m.unit, m.polarity)))
        if item.benchmarks:
            facts.append(("Benchmarks", item.benchmarks))
    if item.latest is not None and item.state not in WAITING:
        sent = shown_value(m, item.latest)
        if item.state == "approved":
            sent += " (approved): a new figure replaces it and goes to be approved again"
        elif item.state == "returned":
            sent += " (returned to you for changes): a new figure replaces it"
        else:
            sent += ": a new figure replaces it"
        facts.append(("Already sent", sent))
    if item.state in WAITING and item.latest is not None and item.latest.not_available_reason:
        facts.append(("Not available", item.latest.not_available_reason))
    if item.completed:
        facts.append(("Complete", _complete_words(item)))
    history = [
        (p.period.label, f"{p.shown}  {_rating(p.rating)}" if p.rating else p.shown)
        for p in item.history
    ]
    unit_hint = {
        Unit.PERCENT: "e.g. 85 or 85%",
        Unit.CURRENCY: "e.g. £1,234.50",
        Unit.DAYS: "e.g. 12.5",
        Unit.HOURS: "e.g. 7.5",
    }.get(m.unit, "e.g. 1,234")
    return {
        "code": m.code,
        "title": m.title,
        "period": item.period.label,
        "facts": facts,
        "history": history,
        "actual_label": f"Actual for {item.period.label}",
        "placeholder": unit_hint,
        "locked": item.locked,
        "milestones": [
            {
                "id": line.milestone.id,
                "title": _cut(line.milestone.title, SHORT_TEXT),
                "line": line.line,
                "color": "Attention" if line.past_due else None,
            }
            for line in milestone_lines(item.milestones, today)[:MILESTONES_ON_RETURN_CARD]
        ],
    }


MILESTONES_ON_RETURN_CARD = 8


def _complete_words(item: OpenReturn) -> str:
    code = item.measure.code
    return (
        f"reported complete for {item.completed}, so PerfBot does not ask for it again. "
        f"To reopen it, type submit {code} and send a status other than complete."
    )


def milestones_card(
    heading: str, lines: Sequence[MilestoneLine], empty: str = ""
) -> dict[str, Any]:
    """A person's milestones, each with a button to its card."""
    items = [
        {
            "id": line.milestone.id,
            "key_action": f"{line.milestone.measure.code} · {line.milestone.measure.title}",
            "title": line.milestone.title,
            "line": f"{line.line} · owner {line.owner}",
            "color": "Attention" if line.past_due else ("Warning" if line.due_soon else None),
        }
        for line in lines[:MAX_MILESTONES_LISTED]
    ]
    if len(lines) > MAX_MILESTONES_LISTED:
        heading += f" (the first {MAX_MILESTONES_LISTED} shown)"
    return render(
        "milestones.json.j2",
        heading=heading,
        items=items,
        empty=empty
        or "You have no milestones. Key actions' milestones come from the milestones sheet.",
    )


MAX_MILESTONES_LISTED = 20


def milestone_card(
    milestone: Milestone,
    today: date,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    note: str = "",
    updated_by: str = "",
) -> dict[str, Any]:
    """A milestone's card: its key action, dates and owner, to set its status and revised
    date (domain/milestones.py)."""
    line = line_of(milestone, today)
    measure = milestone.measure
    facts = [
        ("Key action", f"{measure.code} · {measure.title}"),
        ("Owner", line.owner),
        ("Due", long_day(milestone.due_date)),
    ]
    if milestone.revised_date:
        facts.append(("Revised date", long_day(milestone.revised_date)))
    facts.append(("Status", milestone.status or "not reported yet"))
    if milestone.completed_on:
        facts.append(("Completed", long_day(milestone.completed_on)))
    if milestone.updated_at:
        who = f" by {updated_by}" if updated_by else ""
        facts.append(("Last updated", f"{when(milestone.updated_at)}{who}"))
    past_due = ""
    if line.past_due:
        past_due = (
            f"Past its date of {long_day(milestone.expected)} and not complete: it counts as "
            f"unlikely, and is escalated to {measure.code}'s escalation owner."
        )
    statuses = [(s.value, s.description[0].upper() + s.description[1:]) for s in KeyActionStatus]
    view = {
        "id": milestone.id,
        "title": milestone.title,
        "facts": facts,
        "past_due": past_due,
        "status": milestone.status or "",
        "revised": milestone.revised_date.isoformat() if milestone.revised_date else "",
    }
    return render(
        "milestone.json.j2",
        ms=view,
        statuses=statuses,
        values=dict(values or {}),
        errors=dict(errors or {}),
        note=note,
    )


# ---- action plans ----------------------------------------------------------------------

ITEMS_ON_RETURN_CARD = 5  # the most urgent open items a return card asks about
ITEMS_ON_ACTIONS_CARD = 10  # the most urgent open items the actions card lists
SHORT_TEXT = 300  # an item's description or progress as a card quotes it (in full: actions)


def _cut(text: str, limit: int) -> str:
    """A long text shortened for a card, visibly (the whole is in PerfBot)."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def short(text: str) -> str:
    """An item's description as a one-line mention quotes it."""
    return _cut(text, 80)


def _due_words(item: ActionItem) -> str:
    if item.due is None:
        return "no due date"
    due = f"due {long_day(item.due)}"
    return f"{due} · ⚠ LATE" if item.late else due


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _plan_view(item: OpenReturn, listed: int = ITEMS_ON_RETURN_CARD) -> dict[str, Any] | None:
    """The return card's action-plan section: the ``listed`` most urgent open items, each
    with a progress box and a done toggle."""
    asked = item.followed_up
    if not asked:
        return None
    late = sum(1 for a in asked if a.late)
    heading = f"{item.measure.code}'s action plan: {_plural(len(asked), 'open action')}"
    if late:
        heading += f", {late} LATE"
    views = []
    for a in asked[:listed]:
        owner = f"Owner: {_cut(a.owner, 100)} · " if a.owner else ""
        last = None
        if a.progress:
            when = (
                f" ({long_day(today_in_london(a.progress_at), year=False)})"
                if a.progress_at
                else ""
            )
            last = f"Last progress{when}: {_cut(a.progress, SHORT_TEXT)}"
        views.append(
            {
                "headline": ("⚠ LATE: " if a.late else "") + _cut(a.description, SHORT_TEXT),
                "line": f"{owner}{_due_words(a)} · from {a.period}",
                "color": "Attention" if a.late else None,
                "last": last,
                "progress_id": ids.progress(a.id),
                "done_id": ids.done(a.id),
            }
        )
    hidden = len(asked) - len(views)
    more = f"and {hidden} more: type actions to see them all." if hidden > 0 else ""
    return {
        "heading": heading,
        "ask": "How is each one going? Add a word of progress, and switch on Done for any that "
        "are finished. They are saved when you press Submit.",
        "items": views,
        "more": more,
    }


def actions_card(
    name: str,
    items: Sequence[ActionItem],
    *,
    may_drop: Callable[[ActionItem], bool] = lambda item: False,
    notice: str = "",
    warning: bool = False,
) -> dict[str, Any]:
    """A person's action-plan items (from ``actions``): open ones most urgent first, each
    with Mark done (and Drop, for those ``may_drop``), then the latest closed. As many as
    fit: with long texts, fewer (the rest are counted)."""
    still_open = sorted((i for i in items if i.is_open), key=ActionItem.urgency)
    closed = [i for i in items if not i.is_open]
    late = sum(1 for a in still_open if a.late)
    heading = f"{name}: {_plural(len(still_open), 'open action')}"
    if late:
        heading += f", {late} LATE"
    for listed, closed_shown in ((ITEMS_ON_ACTIONS_CARD, len(closed)), (6, 2), (3, 0)):
        try:
            return _actions_card(
                still_open[:listed],
                closed[:closed_shown],
                len(still_open),
                heading,
                may_drop,
                notice,
                warning,
            )
        except CardTooLarge:
            continue
    return _actions_card(still_open[:1], [], len(still_open), heading, may_drop, notice, warning)


def _actions_card(
    still_open: Sequence[ActionItem],
    closed: Sequence[ActionItem],
    open_count: int,
    heading: str,
    may_drop: Callable[[ActionItem], bool],
    notice: str,
    warning: bool,
) -> dict[str, Any]:
    views = []
    for a in [*still_open, *closed]:
        if a.late:
            status = "⚠ LATE: open and past its due date"
        elif a.is_open:
            status = "open"
        else:
            when = (
                f" on {long_day(today_in_london(a.closed_at), year=False)}" if a.closed_at else ""
            )
            status = f"{a.stored}{when}"
        facts = [("Status", status), ("Due", long_day(a.due) if a.due else "no date")]
        facts.append(("Owner", _cut(a.owner, 100) if a.owner else "not named"))
        if a.progress:
            facts.append(("Last progress", _cut(a.progress, SHORT_TEXT)))
        views.append(
            {
                "id": a.id,
                "measure": f"{a.code} · {_cut(a.title, 100)} ({a.period})",
                "description": _cut(a.description, SHORT_TEXT + 100),
                "facts": facts,
                "can_close": a.is_open,
                "can_drop": a.is_open and may_drop(a),
                "drop_id": ids.drop_reason(a.id),
            }
        )
    hidden = open_count - len(still_open)
    more = f"and {hidden} more open, less urgent: mark some done to see them." if hidden > 0 else ""
    return render(
        "actions.json.j2",
        heading=heading,
        items=views,
        more=more,
        notice={"text": notice, "color": "Attention" if warning else "Good"} if notice else None,
        empty="You have no actions in any action plan. When a return is off track, its action "
        "and date appear here.",
    )


@dataclass(frozen=True)
class DoubtView:
    suggestion: Decimal | None
    suggestion_shown: str
    suggestion_text: str


def return_card(
    item: OpenReturn,
    today: date,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    summary: str = "",
    doubt: Doubt | None = None,
    notice: str = "",
    confirmed: str = "",
    *,
    required: frozenset[str] = DEFAULT_REQUIRED,
    off_track: bool = False,
) -> dict[str, Any]:
    """The card that asks for a return: a figure (or a key action's progress) and commentary,
    with what the person typed and what is wrong when it comes back. ``notice`` heads it (a
    reviewer's comment on a return sent back). ``confirmed`` is the figure the person has
    already confirmed after a plausibility question (the card carries it: not asked again).

    A figure's card has an off-track part: seed 001's review questions, then the action and
    its date, those the council ``required`` marked. It is hidden behind a button until it
    is wanted: when the card comes back for a figure that is ``off_track``, when something
    in it was typed or is wrong, and when the figure already sent is off track."""
    view = _return_view(item, today)
    if len(summary) > MAX_SUMMARY:  # many problems at once: each is marked against its field
        summary = "Please put right the fields marked below."
    context: dict[str, Any] = {
        "r": view,
        "values": dict(values or {}),
        "errors": dict(errors or {}),
        "summary": summary,
        "notice": notice,
        "confirmed": confirmed,
    }
    extra: dict[str, Any]
    if item.measure.is_key_action:
        statuses = list(PROGRESS_CHOICES)
        template, extra = "key_action.json.j2", {"statuses": statuses}
    else:
        doubt_view = None
        if doubt is not None:
            suggestion = "" if doubt.suggestion is None else f"{doubt.suggestion:f}"
            doubt_view = DoubtView(doubt.suggestion, doubt.suggestion_shown, suggestion)
        part = _off_track_view(item, values or {}, errors or {}, required, off_track)
        template, extra = "return.json.j2", {"doubt": doubt_view, "off_track": part}
    # The most urgent items that fit: a card that comes back with long texts typed lists
    # fewer of them (the rest are named by number, and in `actions`).
    for listed in (ITEMS_ON_RETURN_CARD, 3, 1) if item.followed_up else ():
        try:
            return render(template, plan=_plan_view(item, listed), **context, **extra)
        except CardTooLarge:
            pass
    plan = _plan_view(item, 0)
    try:
        return render(template, plan=plan, **context, **extra)
    except CardTooLarge:
        pass
    # Still too large (long texts in wide characters): each text typed is shown cut short
    # to its share of the room left, and says so against its field.
    bare = render(template, plan=plan, **{**context, "values": {}}, **extra, max_bytes=2**31)
    room = MAX_CARD_BYTES - len(json.dumps(bare, ensure_ascii=False).encode()) - 1_024
    context["values"], context["errors"] = _cut_to_fit(context["values"], context["errors"], room)
    return render(template, plan=plan, **context, **extra)


OFF_TRACK_INPUTS = (*(q.value for q in Question), ids.ACTION, ids.ACTION_DUE)


def _off_track_view(
    item: OpenReturn,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    required: frozenset[str],
    off_track: bool,
) -> dict[str, Any]:
    """The return card's off-track part: its questions (those required marked *) and
    whether it is shown."""
    needed = {q.value for q in required_questions(required)}
    if ACTION in required:
        needed |= {ids.ACTION, ids.ACTION_DUE}
    shown = (
        off_track
        or item.assessment.off_track
        or any(values.get(name, "").strip() or errors.get(name) for name in OFF_TRACK_INPUTS)
    )

    def label(name: str, words: str) -> str:
        return f"{words} *" if name in needed else words

    return {
        "shown": bool(shown),
        "needed": "* needed when it is off track" if needed else "Each is optional",
        "questions": [
            {"id": q.value, "label": label(q.value, q.asked), "max": MAX_ANSWER} for q in Question
        ],
        "action_label": label(ids.ACTION, "What action will bring it back on track?"),
        "due_label": label(ids.ACTION_DUE, "... and by when?"),
    }


MAX_SUMMARY = 600  # the longest summary a card that comes back is headed by
CUT_NOTE = "It is too long to show here in full, so it is cut short: check it before sending."


def _cut_to_fit(
    values: dict[str, str], errors: dict[str, str], room: int
) -> tuple[dict[str, str], dict[str, str]]:
    """``values`` cut so that together they take at most ``room`` bytes (UTF-8), the longest
    first to its share; each one cut has CUT_NOTE added to its error."""
    sizes = {
        name: len(json.dumps(text, ensure_ascii=False).encode()) for name, text in values.items()
    }
    values, errors = dict(values), dict(errors)
    left, waiting = max(room, 0), sorted(sizes, key=sizes.__getitem__)
    while waiting:
        share = left // len(waiting)
        name = waiting.pop(0)
        if sizes[name] <= share:
            left -= sizes[name]
            continue
        text = values[name].encode()[: max(share - 64, 0)].decode(errors="ignore")
        values[name] = text[:-1] + "\u2026" if text else ""
        errors[name] = f"{errors[name]} {CUT_NOTE}" if errors.get(name) else CUT_NOTE
        left -= len(json.dumps(values[name], ensure_ascii=False).encode())
    return values, errors


def receipt_card(receipt: Receipt) -> dict[str, Any]:
    a = receipt.assessment
    headline = receipt.shown + (f"  {_rating(a.rating)}" if a.rating else "")
    facts = direction_facts(
        Directions(receipt.since_last_period, receipt.since_last_year, receipt.last_year_words)
    )
    if receipt.benchmarks:
        facts.append(("Benchmarks", receipt.benchmarks))
    if receipt.replaced == receipt.shown:
        facts.append(("Version", f"{receipt.version}: the same figure, with the new words"))
    elif receipt.replaced:
        facts.append(("Version", f"{receipt.version}, replacing {receipt.replaced}"))
    context: dict[str, Any] = dict(
        code=receipt.measure.code,
        title=receipt.measure.title,
        period=receipt.period.label,
        headline=headline,
        explanation=a.explanation,
        off_track=a.off_track,
        facts=facts,
        next_steps=receipt.next_steps,
        duplicate=receipt.duplicate,
        waiting=list(receipt.waiting),
        action_plan=receipt.action_plan,
    )
    # What was sent, as it was sent; when long texts in wide characters would take the card
    # over its size, each is cut short, visibly (all of it is stored).
    for limit in (None, 2_000, 800, 300):
        words = [
            (heading, text if limit is None else _cut(text, limit))
            for heading, text in receipt.words
        ]
        try:
            return render("receipt.json.j2", words=words, **context)
        except CardTooLarge:
            continue
    return render("receipt.json.j2", words=[], **context)


# A return that needs nothing more from its owner: sent, approved, or a key action complete.
RECEIVED = ("submitted", "approved", "complete")
_STATE_WORDS = {
    "due": "due",
    "complete": "complete",
    "overdue": "OVERDUE",
    "escalated": "OVERDUE, escalated",
    "submitted": "sent",
    "approved": "approved",
    "returned": "returned for revision",
    "not available": "not available yet",
    "signed off": "signed off",
    "signed off without a figure": "signed off without a figure",
}


def my_measures_card(
    name: str,
    items: Sequence[OpenReturn],
    today: date,
    cover: Sequence[str] = (),
    milestones: Sequence[MilestoneLine] = (),
) -> dict[str, Any]:
    """What a person owns, deputises for or covers, with what is due; ``cover`` says who
    covers for them while they are away, and whom they cover; then their milestones past
    their date or due within two weeks (``milestones``), each with a button to its card."""
    views = []
    open_count: dict[str, int] = {}
    for item in items:
        if item.state in WAITING:
            open_count[item.measure.code] = open_count.get(item.measure.code, 0) + 1
    for item in items:
        state = (
            "OVERDUE" + _overdue(item).removeprefix("overdue")
            if item.state in OVERDUE
            else _STATE_WORDS.get(item.state, item.state)
        )
        if item.state in OVERDUE and item.latest is not None and item.latest.not_available_reason:
            state += ", not available yet"
        line = f"{item.period.label} · due {item.deadline:%a %d %b} · {state}"
        if item.completed:
            line = (
                f"{item.period.label} · complete since {item.completed}: not asked for again "
                f"(type submit {item.measure.code} to reopen it)"
            )
        if item.latest is not None and item.assessment.rating:
            line += f" · {shown_value(item.measure, item.latest)} {_rating(item.assessment.rating)}"
        colour = (
            "Attention"
            if item.state in OVERDUE
            else (_RATING_COLOURS.get(item.assessment.rating) if item.assessment.rating else None)
        )
        action = None
        if item.state in WAITING:
            action = f"Submit {item.measure.code}"
            if open_count[item.measure.code] > 1:  # several periods open: say which
                action += f" for {item.period.label}"
        elif item.completed:
            action = f"Reopen {item.measure.code}"
        elif item.state in ("submitted", "returned"):
            action = f"Correct {item.measure.code}"
        views.append(
            {
                "code": item.measure.code,
                "title": item.measure.title,
                "period": item.period.label,
                "line": line,
                "color": colour,
                "action": action,
            }
        )
    due = sum(open_count.values())
    measures = len({i.measure.code for i in items})
    heading = (
        f"{name}: {measures} measure{'s' if measures != 1 else ''}, "
        f"{due} return{'s' if due != 1 else ''} waiting for a figure"
    )
    shown = [line for line in milestones if line.past_due or line.due_soon]
    context: dict[str, Any] = {
        "heading": heading,
        "cover": list(cover),
        "milestones": [
            {
                "id": line.milestone.id,
                "title": f"{line.milestone.measure.code} · {_cut(line.milestone.title, SHORT_TEXT)}",
                "line": line.line,
                "color": "Attention" if line.past_due else "Warning",
            }
            for line in shown[:MILESTONES_ON_RETURN_CARD]
        ],
        "empty": "You don't own or deputise for any measures. If you should, tell the "
        "performance team.",
    }
    if len(views) <= MAX_MY_MEASURES_ITEMS:  # more could never fit: not rendered to find out
        try:
            return render("my_measures.json.j2", items=views, more="", **context)
        except CardTooLarge:
            pass
    # More than a card holds (a Head of Service with a hundred measures): the most urgent
    # first, overdue then waiting, as many as fit; the rest counted, and how to reach them.
    urgent = sorted(
        zip(items, views, strict=True),
        key=lambda pair: (pair[0].state not in OVERDUE, pair[0].state not in WAITING),
    )
    more = ""
    for listed in (n for n in (60, 40, 25, 12, 5, 0) if n < len(items)):
        kept = [view for _, view in urgent[:listed]]
        left = [item for item, _ in urgent[listed:]]
        waiting = sum(1 for item in left if item.state in WAITING)
        more = (
            f"And {_plural(len(left), 'more return')} not shown here"
            + (f", {waiting} of them waiting for a figure" if waiting else "")
            + f": type submit and the measure's code (submit {left[0].measure.code}) for "
            "any of them."
        )
        try:
            return render("my_measures.json.j2", items=kept, more=more, **context)
        except CardTooLarge:
            continue
    return render("my_measures.json.j2", items=[], more=more, **{**context, "milestones": []})


def status_card(
    heading: str,
    items: Sequence[OpenReturn],
    watched: Sequence[Watched] = (),
    board_period: str = "",
) -> dict[str, Any]:
    """Returns and ratings by Cabinet portfolio, then service; for an escalation owner,
    first each off-track measure escalated to them (``watched``), with a button that opens
    its escalation card; and Open the board, for ``board_period`` (blank: the last quarter
    when it is pressed)."""
    by_portfolio: dict[str | None, list[OpenReturn]] = {}
    for item in items:
        by_portfolio.setdefault(item.measure.portfolio, []).append(item)
    portfolios = []
    # By Cabinet portfolio, those without one last; a council with none set sees no heading.
    for portfolio in _portfolio_order(by_portfolio):
        in_portfolio = by_portfolio[portfolio]
        title = ""
        if set(by_portfolio) != {None}:
            name = f"{portfolio} portfolio" if portfolio else "No portfolio set"
            title = f"{name} — {_counts(in_portfolio)}"
        portfolios.append({"heading": title, "services": _services(in_portfolio)})
    received = sum(1 for i in items if i.state in RECEIVED)
    overdue = sum(1 for i in items if i.state in OVERDUE)
    off = sum(1 for i in items if i.assessment.off_track)
    summary = f"{received} of {len(items)} returns received · {overdue} overdue · {off} off track"
    shown = [
        replace(
            w,
            title=_cut(w.title, 200),
            commentary=_cut(w.commentary, 600),
            plan=[_cut(line, 200) for line in w.plan[:MAX_PLAN_LINES]]
            + (
                [f"and {len(w.plan) - MAX_PLAN_LINES} more (type actions)"]
                if len(w.plan) > MAX_PLAN_LINES
                else []
            ),
        )
        for w in watched[:MAX_WATCHED]
    ]
    more = len(watched) - len(shown)
    context: dict[str, Any] = {
        "heading": heading,
        "summary": summary,
        "watched": shown,
        "more_watched": f"And {_plural(more, 'more off-track measure')} escalated to you."
        if more > 0
        else "",
        "board_period": board_period,
    }
    if len(items) <= MAX_STATUS_LINES:  # more could never fit: not rendered to find out
        try:
            return render("status.json.j2", portfolios=portfolios, note="", **context)
        except CardTooLarge:
            pass
    # Too many measures for one card (a Leadership Team's status at a large council): each
    # service's counts, and only its measures that need attention, as many as fit; then
    # the counts alone. The board has every measure.
    for listed in (10, 3, 1, 0):
        condensed = [
            {**p, "services": _services(by_portfolio[key], attention_only=listed)}
            for key, p in zip(_portfolio_order(by_portfolio), portfolios, strict=True)
        ]
        note = (
            "Too many returns to list each one here: each service shows its counts"
            + (" and its overdue and off-track measures first" if listed else "")
            + ". Open the board for every measure."
        )
        try:
            return render("status.json.j2", portfolios=condensed, note=note, **context)
        except CardTooLarge:
            continue
    note = "Too many services to list here. Open the board for every measure."
    return render("status.json.j2", portfolios=[], note=note, **context)


def _portfolio_order(by_portfolio: Mapping[str | None, Any]) -> list[str | None]:
    """Cabinet portfolios in the status card's order: alphabetically, those without one last."""
    return sorted(by_portfolio, key=lambda p: (p is None, p or ""))


def _counts(items: Sequence[OpenReturn]) -> str:
    received = sum(1 for i in items if i.state in RECEIVED)
    overdue = sum(1 for i in items if i.state in OVERDUE)
    off = sum(1 for i in items if i.assessment.off_track)
    return f"{received} of {len(items)} received, {overdue} overdue, {off} off track"


def _needs_attention(item: OpenReturn) -> bool:
    return item.state in OVERDUE or item.assessment.off_track or bool(item.actions_late)


def _services(
    items: Sequence[OpenReturn], attention_only: int | None = None
) -> list[dict[str, Any]]:
    """Each service's returns, by name: its counts, and a line for each measure; with
    ``attention_only``, only that many of those overdue, off track or with actions late,
    and a count of the rest."""
    by_service: dict[str, list[OpenReturn]] = {}
    for item in items:
        by_service.setdefault(item.measure.service.name, []).append(item)
    services = []
    for name, group in sorted(by_service.items()):
        facts = []
        flagged: set[str] = set()
        listed = group
        if attention_only is not None:
            listed = [i for i in group if _needs_attention(i)][:attention_only]
        for i in listed:
            value = f"{i.period.label} · {_STATE_WORDS.get(i.state, i.state)}"
            if i.latest is not None and i.assessment.rating:
                value += f" · {_rating(i.assessment.rating)}"
            if i.benchmarks and i.state not in WAITING:  # where a figure sent stands
                value += f" · {i.benchmarks}"
            if i.actions_late and i.measure.code not in flagged:  # once per measure
                flagged.add(i.measure.code)
                value += f" · ⚠ {_plural(i.actions_late, 'action')} late"
            facts.append((i.measure.code, value))
        if len(listed) < len(group) and facts:
            facts.append(("Others", f"{len(group) - len(listed)} more: Open the board"))
        services.append({"name": name, "summary": _counts(group), "facts": facts})
    return services


MAX_WATCHED = 8  # off-track measures an escalation owner's status shows in full
# A status line is 60 bytes of card at the least, a my measures item 200: beyond these
# counts a card is over MAX_CARD_BYTES whatever it holds, so its short form is made at once.
MAX_STATUS_LINES = MAX_CARD_BYTES // 60
MAX_MY_MEASURES_ITEMS = MAX_CARD_BYTES // 200
MAX_PLAN_LINES = 3  # open action-plan items shown for each


def help_card(
    commands: Sequence[tuple[str, str]], intro: str = "", note: str = "", contact: str = ""
) -> dict[str, Any]:
    """The typed commands (as given: the bot's commands table) with what each does."""
    footer = "Commands work in any mix of upper and lower case."
    if contact:
        footer += f" Questions about your measures: {contact}."
    return render("help.json.j2", intro=intro, note=note, commands=list(commands), footer=footer)


def welcome_card(
    commands: Sequence[tuple[str, str]],
    name: str,
    contact: str,
    *,
    escalation_owner: bool = False,
    leadership: bool = False,
) -> dict[str, Any]:
    """The first card in someone's chat: what PerfBot will do for them (an owner's returns;
    an escalation owner's escalations; the Leadership Team's deep dives)."""
    intro = (
        f"Hello {name}, I'm PerfBot. Before each return is due I'll send you a card to fill in "
        "here, tell you at once how your figure rates against target, and chase politely if it "
        "is late."
    )
    if escalation_owner:
        intro += (
            " When a measure you are escalation owner for goes off track, I'll send you its "
            "escalation card with the owner's own words, to acknowledge, agree the remedial "
            "action or ask them a question here. Returns for you to approve come on one card "
            "per period (type review to see them); type status for your service."
        )
    if leadership:
        intro += (
            " Measures that stay off track come to you as deep-dive candidates to accept or "
            "decline; type deep dives to see them."
        )
    intro += " Nothing goes out at night, at weekends or on bank holidays."
    return help_card(commands, intro=intro, contact=contact)


def notice_card(title: str, message: str, *, warning: bool = False) -> dict[str, Any]:
    return render(
        "notice.json.j2", title=title, message=message, color="Attention" if warning else "Default"
    )


def escalation_card(
    view: EscalationView,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The escalation card: the measure, its figure and history, the owner's words, where
    the escalation stands, and the buttons still to press (domain/escalations.py)."""
    owner = view.owner + (f" (sent by {view.sent_by})" if view.sent_by else "")
    facts = [
        ("Service", view.service),
        ("Owner", owner),
        ("Period", view.period),
        *view.milestone,
        ("Actual" if not view.is_key_action else "Status", view.headline),
        ("Rating", view.rating),
    ]
    typed = {name: text[:MAX_TEXT] for name, text in (values or {}).items()}
    try:
        return render(
            "escalation.json.j2", e=view, facts=facts, errors=dict(errors or {}), values=typed
        )
    except CardTooLarge:
        pass
    # Long questions and answers piled up: fewer of them, and no typed text again (what
    # was typed is kept in PerfBot only when it was stored).
    for keep in (1, 0):
        hidden = len(view.questions) - keep
        note = f"{hidden} earlier question{'s' if hidden != 1 else ''} not shown here. "
        shorter = replace(
            view,
            questions=view.questions[len(view.questions) - keep :],
            note=(note if hidden > 0 else "") + view.note,
        )
        try:
            return render(
                "escalation.json.j2", e=shorter, facts=facts, errors=dict(errors or {}), values={}
            )
        except CardTooLarge:
            pass
    # Long words in every field (4,000 characters each, of several bytes apiece): each is
    # shortened, visibly; the whole is in PerfBot.
    shortest = replace(
        view,
        questions=[],
        commentary=_cut(view.commentary, 1500),
        answers=tuple((heading, _cut(said, 300)) for heading, said in view.answers),
        action=_cut(view.action, 1500),
        state=[_cut(line, 500) for line in view.state],
        note=_cut(
            "Some of the words here are shortened: the whole is in PerfBot. " + view.note, 600
        ),
    )
    return render(
        "escalation.json.j2", e=shortest, facts=facts, errors=dict(errors or {}), values={}
    )


def question_card(
    card: QuestionCard,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The escalation owner's question, as the measure's owner answers it."""
    typed = {name: text[:MAX_TEXT] for name, text in (values or {}).items()}
    return render("question.json.j2", q=card, errors=dict(errors or {}), values=typed)


# ---- deep dives ---------------------------------------------------------------------------


def deep_dive_card(
    view: DiveView,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A deep-dive candidate for the Leadership Team: why, the recent history, the owner's
    words and action plan, and Accept / Decline; once decided, the decision instead."""
    m = view.measure
    facts = [("Service", m.service.name), ("Owner", m.owner.name)]
    cut = _cut
    if m.escalation_owner is not None:
        facts.append(("Escalation owner", m.escalation_owner.name))
    history = [
        (line.period, f"{line.shown} against {line.target}  {_rating(line.rating)}")
        for line in view.history
    ]
    plan = []
    for item in view.plan:
        text = cut(item.description, 300)
        who = f"{item.owner}, " if item.owner else ""
        if item.due is not None:
            text += f" ({who}due {long_day(item.due)}{': LATE' if item.late else ''})"
        elif who:
            text += f" ({item.owner})"
        plan.append({"text": "• " + text, "late": item.late})
    if view.more_items:
        plan.append({"text": f"… and {view.more_items} more.", "late": False})
    # What was typed comes back in its input, cut to what that input takes (a forged value
    # may be any length): the lead's email as its input allows, a date far more than it
    # needs, a reason as much as is accepted. The problems are shown above the buttons too,
    # as a card sent back has Accept and Decline closed again.
    longest = {
        ids.REVIEW_DATE: 100,
        ids.LEAD: 320,
        ids.LEAD_EMAIL: 320,
        ids.DECLINE_REASON: MAX_TEXT,
    }
    typed = {
        name: text.strip()[: longest[name]]
        for name, text in (values or {}).items()
        if name in longest
    }
    problems = {name: cut(text, 300) for name, text in (errors or {}).items()}
    summary = " ".join(problems.values())
    action_due = f" (by {long_day(view.action_due)})" if view.action_due else ""
    decided = "Deep dive decided" if view.decision else "Deep dive suggested"
    return render(
        "deep_dive.json.j2",
        heading=f"{decided}: {m.code} for {view.dive.period}",
        d={
            "id": view.dive.id,
            "code": m.code,
            "title": m.title,
            "why": cut(view.why, 500),
            "note": cut(view.note, 500),
            "commentary": cut(view.commentary or "", 2000),
            "commentary_period": view.commentary_period or "",
            "answers": [(heading, cut(said, 500)) for heading, said in view.answers],
            "action": cut(view.action or "", 1000),
            "action_due": action_due,
            "leads": view.leads,
        },
        facts=facts,
        history=history,
        plan=plan,
        decision=cut(view.decision or "", 2000),
        summary=summary,
        values=typed,
        errors=problems,
    )


def deep_dives_card(heading: str, items: Sequence[ListedDive]) -> dict[str, Any]:
    """The deep dives waiting for a decision and those accepted, each with a button to open
    its card again."""
    return render(
        "deep_dives.json.j2",
        heading=heading,
        items=[
            {
                "id": i.dive.id,
                "code": i.code,
                "title": _cut(i.title, 120),
                "line": _cut(i.line, 300),
                "color": "Attention" if i.dive.decision is None else None,
            }
            for i in items
        ],
    )


# ---- overdue escalations ------------------------------------------------------------------


def _days(days: Sequence[date]) -> str:
    if not days:
        return "none"
    shown = ", ".join(f"{d:%a} {d.day} {d:%b}" for d in days[-4:])
    more = f" (and {len(days) - 4} earlier)" if len(days) > 4 else ""
    return f"{len(days)}: {shown}{more}"


def _hm(moment: datetime) -> str:
    return f"{moment.astimezone(LONDON):%H:%M}"


def overdue_card(digest: Digest, today: date) -> dict[str, Any]:
    """An escalation owner's overdue returns, one card a day (or a copy of it for the
    performance team or a leadership contact when the escalation owner cannot be reached)."""
    count = len(digest.items) + digest.more
    if count:
        heading = f"{count} return{'s' if count != 1 else ''} overdue past the escalation point"
    else:
        heading = "Nothing is overdue past the escalation point now"
    intro = ""
    if digest.unreachable:
        heading = f"For {digest.escalation_owner}: {heading}"
        intro = (
            f"PerfBot cannot reach {digest.escalation_owner} ({digest.unreachable}), the "
            "escalation owner for these, so you have their card. Please chase or pass it on."
        )
    items = []
    unacknowledged = []
    for entry in digest.items:
        item = entry.item
        m = item.measure
        days = item.overdue_days
        facts = [
            ("Owner", entry.owner),
            ("Due", long_day(item.deadline)),
            ("Late", f"{days} working day{'s' if days != 1 else ''}"),
            ("Reminders sent", _days(entry.reminders)),
            ("Chasers sent", _days(entry.chasers)),
        ]
        if item.latest is not None and item.latest.not_available_reason:
            facts.append(("Not available", item.latest.not_available_reason[:500]))
        ack = entry.acknowledged
        facts.append(
            (
                "Acknowledged",
                f"by {ack.by}, {_hm(ack.at)} {long_day(ack.at.astimezone(LONDON).date())}"
                if ack
                else "not yet",
            )
        )
        if not ack:
            unacknowledged.append({"code": m.code, "period": item.period.label})
        items.append(
            {
                "code": m.code,
                "title": f"{m.code} {m.title[:150]} · {item.period.label}",
                "period": item.period.label,
                "facts": facts,
                "chased": f"Chased today at {_hm(entry.chased_today)}"
                + (f", asked by {entry.chased_by}." if entry.chased_by else ".")
                if entry.chased_today
                else "",
                "acknowledged": ack is not None,
            }
        )
    more = f"And {digest.more} more: type status to see them all." if digest.more else ""
    return render(
        "overdue.json.j2",
        heading=heading,
        intro=intro,
        note=digest.note,
        items=items,
        more=more,
        owner_id=str(digest.escalation_owner_id),
        unacknowledged=unacknowledged if len(unacknowledged) > 1 else [],
    )


# ---- sign-off ------------------------------------------------------------------------------


def months_of(label: str) -> str:
    """A period's months in words: "November 2026", "July to September 2026"."""
    try:
        period = Period.parse(label)
    except PeriodError:
        return label
    start, end = period.start, period.end
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%B %Y}"
    first = f"{start:%B}" if start.year == end.year else f"{start:%B %Y}"
    return f"{first} to {end:%B %Y}"


REVIEW_SHOWN = 600  # commentary and action as the review card quotes them (whole in PerfBot)


def review_card(card: ReviewCard) -> dict[str, Any]:
    """A reviewer's returns awaiting approval for one period (domain/signoff.py), each with
    Approve and Return with comment, and Approve all shown."""
    count = len(card.items) + card.more
    period = f"{card.period} ({months_of(card.period)})"
    if count:
        heading = (
            f"{count} return{'s' if count != 1 else ''} for {period} "
            f"await{'s' if count == 1 else ''} your approval"
        )
    else:
        heading = f"Nothing else awaits your approval for {period}"
    items = []
    for item in card.items:
        m = item.measure
        sent = f"{item.submitted_by}, {_hm(item.submitted_at)} on "
        sent += long_day(item.submitted_at.astimezone(LONDON).date(), year=False)
        facts = [("Service", m.service.name), ("Sent by", sent)]
        if item.version > 1:
            facts.append(("Version", str(item.version)))
        facts += [(heading, _cut(said, 300)) for heading, said in item.answers]
        if item.action:
            due = f" (by {long_day(item.action_due)})" if item.action_due else ""
            facts.append(("Action", _cut(item.action, REVIEW_SHOWN) + due))
        items.append(
            {
                "id": item.return_id,
                "title": f"{m.code} {_cut(m.title, 150)}",
                "headline": f"{item.shown}  {_rating(item.rated)}" if item.rated else item.shown,
                "color": _RATING_COLOURS.get(item.rated) if item.rated else None,
                "rating": item.rating,
                "commentary": _cut(item.commentary, REVIEW_SHOWN) or "No commentary.",
                "earlier": f"You returned it before: \u201c{_cut(item.earlier_comment, 300)}\u201d"
                if item.earlier_comment
                else "",
                "facts": facts,
                "comment_id": ids.review_comment(item.return_id),
                "comment": card.typed.get(item.return_id, "")[:MAX_TEXT],
                "error": card.errors.get(item.return_id, ""),
            }
        )
    # Long commentaries in many scripts: fewer returns on the card, the rest counted.
    for keep in sorted({min(n, len(items)) for n in (len(items), 4, 2, 1)}, reverse=True):
        more_count = card.more + len(items) - keep
        more = (
            f"And {more_count} more: approve or return these, then type review {card.period} "
            "for the rest."
            if more_count
            else ""
        )
        try:
            return render(
                "review.json.j2",
                heading=heading,
                note=card.note,
                items=items[:keep],
                more=more,
                period=card.period,
                all_ids=[i["id"] for i in items[:keep]],
            )
        except CardTooLarge:
            if keep <= 1:
                raise
    raise AssertionError("unreachable: the last try returns or raises")


MAX_PERIOD_LINES = 12  # measures a period card lists in each group (the rest are counted)


def period_card(status: PeriodStatus, note: str = "") -> dict[str, Any]:
    """The performance team's card for a period: where its returns stand, and Sign off
    (or Reopen, once it is signed off) with a reason (domain/locks.py)."""
    label = status.period.label
    lock = status.lock
    if lock is not None:
        why = f" ({lock.reason})" if lock.reason else ""
        when = long_day(lock.locked_at.astimezone(LONDON).date())
        state = f"✔ Signed off by {signed_off_by(lock)} on {when}{why}."
    elif status.unapproved:
        state = f"Open: {len(status.unapproved)} not approved yet."
    else:
        state = "Open: every return is approved, so it is ready to sign off."
    counts = [
        ("Approved", str(len(status.approved))),
        ("Awaiting approval", str(len(status.awaiting))),
        ("Returned to owner", str(len(status.returned))),
        ("Missing", str(len(status.missing))),
    ]
    if status.restated:
        counts.append(("Restated", str(len(status.restated))))

    def lines(group: Sequence[StatusLine], detail: Callable[[StatusLine], str]) -> dict[str, Any]:
        shown = [(f"{g.code}", _cut(detail(g), 300)) for g in group[:MAX_PERIOD_LINES]]
        more = len(group) - len(shown)
        return {
            "lines": shown,
            "more": f"And {more} more: perfbot period status {label}" if more else "",
        }

    groups = []
    for title, group, detail in (
        (status.title("awaiting"), status.awaiting, lambda g: f"{g.shown} · {g.owner}"),
        (
            status.title("returned"),
            status.returned,
            lambda g: f"{g.shown} · {g.owner} · “{g.comment or ''}”",
        ),
        (status.title("missing"), status.missing, lambda g: f"{g.owner} ({g.service})"),
        (
            status.title("restated"),
            status.restated,
            lambda g: f"{g.restated_from or '—'} → {g.shown}: {g.correction_reason or ''}",
        ),
    ):
        if group:
            groups.append({"title": title, **lines(group, detail)})
    return render(
        "period.json.j2",
        heading=f"{label}: sign-off",
        state=state,
        locked=lock is not None,
        note=note,
        counts=counts,
        groups=groups,
        period=label,
        unapproved=len(status.unapproved),
    )


# ---- the weekly summary ----------------------------------------------------------------------

MAX_SUMMARY_BYTES = 80 * 1024  # the card with its chart (Teams takes a message of this size)
SUMMARY_LINES = 6  # measures named in each section (the rest are counted)


class ChartImage(Protocol):
    """The summary's chart (cards/chart.py): a PNG and the sentence that says what it shows.
    Read-only, so that the frozen ``cards.chart.Chart`` is one."""

    @property
    def png(self) -> bytes: ...

    @property
    def alt(self) -> str: ...


def _line(m: MeasureLine, what: str = "") -> dict[str, Any]:
    rating = f" · {_rating(m.rating)}" if m.rating else ""
    was = f" (was {_rating(m.was)})" if m.was else ""
    text = f"{m.code} {_cut(m.title, 90)} · {m.service} · {m.period}"
    if m.shown and m.shown != "—":
        text += f" · {m.shown}"
    text += rating + was + (f" · {what}" if what else "") + (f" · {m.note}" if m.note else "")
    return {"text": text, "code": m.code}


def _section(title: str, lines: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    more = len(lines) - limit
    return {
        "title": f"{title} ({len(lines)})",
        "lines": lines[:limit],
        "more": f"And {more} more." if more > 0 else "",
    }


def _since(summary: Summary) -> str:
    if summary.since is None:
        return "This is the first weekly summary: movements are over the last seven days."
    day = long_day(summary.since.astimezone(LONDON).date())
    return f"Movements since the last summary, sent on {day}."


def summary_card(summary: Summary, chart: ChartImage | None = None) -> dict[str, Any]:
    """The Leadership Team's weekly summary (domain/summary.py): the counts, the chart, and
    only the exceptions, each measure with a button for its detail in the reader's chat.
    Empty sections are left out; a quiet week says so in one line."""
    periods = ", ".join(f"{p} ({months_of(p)})" for p in summary.periods[:4])
    overdue = [o for s in summary.returns for o in s.overdue]
    not_due = summary.expected - summary.received - len(overdue)
    returns_line = (
        f"{summary.received} of {summary.expected} returns received"
        + (f", {len(overdue)} overdue" if overdue else ", none overdue")
        + (f", {not_due} not due yet" if not_due > 0 else "")
        + "."
    )
    by_service = [
        (
            s.service,
            f"{s.received} of {s.expected} received"
            + (f", {len(s.overdue)} overdue" if s.overdue else ""),
        )
        for s in summary.returns
    ]
    ratings = []
    for count in summary.ratings:
        change = count.now - count.last_week
        week = (
            "no change since the last summary"
            if change == 0
            else f"{change:+d} since the last summary"
        )
        ratings.append(
            (
                f"{count.rating.symbol} {count.rating.word}",
                f"{count.now} ({week}; {count.last_period} last period)",
            )
        )
    sections = []
    if overdue:
        sections.append(("Overdue returns", [_line(o) for o in overdue]))
    if summary.new_off_track:
        sections.append(("Newly off track", [_line(m) for m in summary.new_off_track]))
    if summary.escalations:
        lines = []
        for e in summary.escalations:
            when = long_day(e.raised_at.astimezone(LONDON).date(), year=False)
            # The channel card names nobody: acknowledged or not is what the team needs.
            state = "acknowledged" if e.acknowledged else "not acknowledged yet"
            lines.append(
                {
                    "text": f"{e.code} {_cut(e.title, 90)} · {e.service} · {e.period} · "
                    f"escalated {when}, {state}",
                    "code": e.code,
                }
            )
        sections.append(("Escalations raised", lines))
    if summary.deep_dives:
        sections.append(("Deep-dive candidates", [_line(m) for m in summary.deep_dives]))
    if summary.actions_late:
        lines = [
            {
                "text": f"{a.code} · {a.service} · “{_cut(a.description, 120)}” · "
                f"due {long_day(a.due)}",
                "code": a.code,
            }
            for a in summary.actions_late
        ]
        sections.append(("Action-plan items past their date", lines))
    if summary.restatements:
        lines = [
            {
                "text": f"{r.code} {_cut(r.title, 90)} · {r.service} · {r.period} · "
                f"{r.was or 'no figure'} → {r.now}"
                + (f" · {_cut(r.reason, 200)}" if r.reason else ""),
                "code": r.code,
            }
            for r in summary.restatements
        ]
        sections.append(("Restated figures", lines))
    celebrate = [_line(m, "back on track") for m in summary.recoveries]
    celebrate += [
        _line(m) for m in summary.strong if m.code not in {r.code for r in summary.recoveries}
    ]
    if celebrate:
        sections.append(("To celebrate", celebrate))
    unreachable = ""
    if summary.unreachable:
        people = sum(summary.unreachable.values())
        where = ", ".join(f"{name} {n}" for name, n in summary.unreachable.items())
        unreachable = (
            f"PerfBot cannot reach {people} {'person' if people == 1 else 'people'} ({where}); "
            "the performance team has their names and is following up."
        )
    quiet = (
        "A quiet week: nothing is overdue, nothing new is off track, and no escalation, "
        "deep dive, late action or restatement to report."
        if summary.quiet
        else ""
    )
    image = None
    if chart is not None:
        image = {
            "url": "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii"),
            "alt": chart.alt,
        }
    heading = f"Weekly performance summary · week of {long_day(summary.week_of)}"
    for limit, with_image in ((SUMMARY_LINES, True), (3, True), (1, True), (1, False)):
        try:
            return render(
                "summary.json.j2",
                max_bytes=MAX_SUMMARY_BYTES,
                heading=heading,
                periods=f"Open periods: {periods}." if periods else "",
                since=_since(summary),
                image=image if with_image else None,
                returns_line=returns_line,
                by_service=by_service,
                ratings=ratings,
                sections=[_section(t, lines, limit) for t, lines in sections],
                unreachable=unreachable,
                quiet=quiet,
                board_period=latest_period(ReportKind.BOARD, summary.week_of).label,
            )
        except CardTooLarge:
            if limit == 1 and not with_image:
                raise
    raise AssertionError("unreachable: the last try returns or raises")


def report_link_card(title: str, scope: str, until: str, url: str, button: str) -> dict[str, Any]:
    """A person's link to a report page: what it shows, until when, and the button that
    opens it in their browser (Action.OpenUrl, which every Teams client has)."""
    return render(
        "report_link.json.j2", title=title, scope=scope, until=until, url=url, button=button
    )


def measure_detail_card(detail: MeasureDetail) -> dict[str, Any]:
    """A measure's history and commentary, sent to whoever pressed its summary button."""
    m = detail.measure
    facts = [("Service", m.service.name), ("Owner", m.owner.name)]
    if m.escalation_owner is not None:
        facts.append(("Escalation owner", m.escalation_owner.name))
    history = [
        (
            h.period,
            f"{h.shown} (target {h.target})" + (f"  {_rating(h.rating)}" if h.rating else ""),
        )
        for h in detail.history
    ]
    plan = [
        (
            f"{'LATE ' if p.late else ''}due {long_day(p.due)}" if p.due else "no date",
            _cut(p.description, 300) + (f" ({p.owner})" if p.owner else ""),
        )
        for p in detail.plan
    ]
    action = None
    if detail.action:
        due = f" (by {long_day(detail.action_due)})" if detail.action_due else ""
        action = _cut(detail.action, 1500) + due
    return render(
        "measure_detail.json.j2",
        title=f"{m.code} · {_cut(m.title, 200)}",
        facts=facts,
        history=history,
        commentary=_cut(detail.commentary, 2000) if detail.commentary else None,
        commentary_period=detail.commentary_period,
        answers=list(detail.answers),
        action=action,
        plan=plan,
        more=f"And {detail.more_items} more: type actions." if detail.more_items else "",
    )
