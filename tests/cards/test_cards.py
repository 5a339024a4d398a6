"""Every card PerfBot can send: valid against the official Adaptive Cards schema, version 1.2
elements with Action.Submit (Teams mobile), under 28 KB, and unbreakable by hostile text.

adaptive-card-1.5.0.schema.json beside this file is Microsoft's published schema (from the
AdaptiveCards repository, MIT licence), kept here so the tests need nothing outside the repo."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.loopback import card_text, elements
from bot.teams.commands import help_lines
from cards import render as cards
from cards.actions import DEEP_DIVE_INPUTS, MarkDone, OpenReport, Verb, ids, parse_action
from cards.seal import buttons
from domain import signoff
from domain.action_plans import ActionItem
from domain.deep_dives import DiveView, HistoryLine, ListedDive, PlanItem
from domain.escalations import EscalationView, QuestionCard, QuestionView, Watched
from domain.locks import PeriodStatus, StatusLine
from domain.milestones import lines as milestone_lines
from domain.model import (
    DeepDive,
    Measure,
    MeasureKind,
    Milestone,
    PeriodLock,
    Person,
    Return,
    ReturnState,
    Service,
)
from domain.numbers import Unit
from domain.overdue import MAX_ITEMS, Acknowledged, Digest, OverdueItem
from domain.periods import Frequency, Period
from domain.plausibility import Doubt
from domain.questions import CHOICES, MAX_ANSWER, Question
from domain.ratings import Assessment, Direction, Polarity, Rating, Scheme
from domain.signoff import ReviewCard, ReviewItem
from domain.summary import (
    ActionLine,
    EscalationLine,
    MeasureDetail,
    MeasureLine,
    RatingCount,
    RestatementLine,
    ServiceReturns,
    Summary,
)
from domain.views import HistoryPoint, OpenReturn, Receipt

SCHEMA = json.loads((Path(__file__).parent / "adaptive-card-1.5.0.schema.json").read_text())
VALIDATOR = jsonschema.Draft6Validator(SCHEMA)

HOSTILE = [
    "quote \" and ' apostrophe",
    "braces {{ }} {% raw %} ${expression}",
    "new\nline\r\nand\ttab",
    "<script>alert('x')</script> & <b>bold</b>",
    "emoji 🚩★✓● 👩🏽‍💼",
    "backslash \\ and \\u0000 and \\n",
    "x" * 5000,
]
TODAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def measure(
    text: str,
    kind: MeasureKind = MeasureKind.MEASURE,
    code: str = "HS-04",
    service: Service | None = None,
    number: int = 1,
) -> Measure:
    owner = Person(id=1, email="owner@council.gov.uk", name=text[:200], role_rows=[])
    return Measure(
        id=number,
        code=code,
        title=text[:300],  # the import refuses longer titles
        kind=kind,
        service=service or Service(id=1, name=text[:300]),
        owner=owner,
        owner_id=1,
        unit=Unit.PERCENT,
        polarity=Polarity.HIGHER,
        frequency=Frequency.QUARTERLY,
        decimals=1,
        data_only=False,
        delegates=[],
        due_date=date(2027, 3, 31),
    )


def open_return(text: str, kind: MeasureKind = MeasureKind.MEASURE) -> OpenReturn:
    period = Period.parse("2026/27 Q2")
    latest = Return(
        value=Decimal("82.5"),
        status="on track",
        state=ReturnState.SUBMITTED,
        commentary=text,
        not_available_reason=text,
        version=1,
    )
    history = [
        HistoryPoint(period.previous(), "80.0%", Rating.GOOD),
        HistoryPoint(period.previous().previous(), "70.0%", Rating.ACTION),
        HistoryPoint(period.previous().previous().previous(), "—", None),
    ]
    return OpenReturn(
        measure(text, kind),
        period,
        date(2026, 10, 21),
        "submitted",
        latest,
        Decimal("85"),
        Assessment(Rating.REVIEW, Decimal("-0.03"), text),
        history,
        None,
    )


def action_item(text: str, n: int, stored: str = "open", late: bool = False) -> ActionItem:
    return ActionItem(
        id=100 + n,
        measure_id=1,
        code="HS-04",
        title=text[:300],
        period="2026/27 Q1",
        description=text[:4000],  # as long as a card lets an action be
        owner=text[:200],
        owner_id=1,
        due=date(2026, 12, 1 + n),
        stored=stored,
        source="agreed",
        progress=text[:4000],
        progress_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
        closed_at=None if stored == "open" else datetime(2026, 11, 20, 10, tzinfo=UTC),
        late=late,
        escalation_owner_id=2,
    )


def milestones(text: str) -> tuple[Milestone, ...]:
    """A key action's milestones: one past its date, one due soon, one complete."""
    key_action = measure(text, MeasureKind.KEY_ACTION)
    owner = Person(id=2, email="m@council.gov.uk", name=text[:200], role_rows=[])
    return tuple(
        Milestone(
            id=10 + n,
            measure=key_action,
            measure_id=1,
            title=text[:300],
            due_date=due,
            status=status,
            revised_date=revised,
            completed_on=done,
            owner=owner if n else None,
            updated_at=NOON if n else None,
        )
        for n, (due, status, revised, done) in enumerate(
            [
                (date(2026, 11, 2), "some risk", None, None),
                (date(2026, 11, 30), "on track", date(2026, 12, 4), None),
                (date(2026, 9, 1), "complete", None, date(2026, 8, 30)),
            ]
        )
    )


def planned(item: OpenReturn, text: str) -> OpenReturn:
    """The return with ten open action-plan items, two of them late."""
    return replace(item, actions=tuple(action_item(text, n, late=n < 2) for n in range(10)))


def every_card(text: str) -> dict[str, dict[str, Any]]:
    item = open_return(text)
    # What a person can send back: free text anywhere, a short figure; the errors are ours.
    typed = {**dict.fromkeys(cards.INPUTS, text), "actual": text[:60], "action_due": text[:30]}
    # An answer to a review question as long as its box lets a person type.
    typed.update({name: text[:MAX_ANSWER] for name in ids.ANSWERS})
    errors = dict.fromkeys(cards.INPUTS, text[:300])
    receipt = Receipt(
        item.measure,
        item.period,
        "82.5%",
        Assessment(Rating.ACTION, Decimal("-0.2"), text),
        Direction.IMPROVING,
        Direction.DECLINING,
        2,
        text[:100],
        text,
        waiting=("2026/27 Q3", "2026/27 Q4"),
        # What was sent, as long as the card lets each be.
        words=(
            ("Commentary", text[: cards.MAX_TEXT]),
            *((q.heading, text[:MAX_ANSWER]) for q in Question),
            ("Action", text[: cards.MAX_TEXT]),
            ("By when", "Friday 29 January 2027"),
        ),
    )
    overdue = replace(item, state="overdue", latest=None, overdue_days=12)
    with_plan = planned(item, text)
    # What a person can send back on the plan: each progress box as long as it lets them type.
    on_plan = {
        **typed,
        **{f"progress_{a.id}": text[: cards.MAX_PROGRESS] for a in with_plan.actions},
        **{f"done_{a.id}": "true" for a in with_plan.actions},
    }
    plan_errors = {**errors, **{f"progress_{a.id}": text[:300] for a in with_plan.actions}}
    mine = [action_item(text, n, late=n < 2) for n in range(12)]
    mine += [action_item(text, 20 + n, "done" if n % 2 else "dropped") for n in range(5)]
    escalated = replace(item, state="escalated", latest=None, overdue_days=30)
    return {
        "return": cards.return_card(item, TODAY),
        # Nothing sent yet: the off-track part hidden, every question required.
        "return, off-track part hidden": cards.return_card(
            replace(overdue, assessment=Assessment(None, None, text)),
            TODAY,
            required=frozenset(CHOICES),
        ),
        "return with problems": cards.return_card(item, TODAY, typed, errors, text[:300]),
        "return queried": cards.return_card(
            item, TODAY, typed, errors, text[:300], Doubt(text[:300], Decimal("8.5"))
        ),
        "key action": cards.return_card(open_return(text, MeasureKind.KEY_ACTION), TODAY),
        "key action with problems": cards.return_card(
            open_return(text, MeasureKind.KEY_ACTION), TODAY, typed, errors, text[:300]
        ),
        "key action with milestones, complete": cards.return_card(
            replace(
                open_return(text, MeasureKind.KEY_ACTION),
                milestones=milestones(text),
                state="complete",
                completed="2026/27 Q1",
            ),
            TODAY,
        ),
        "milestones": cards.milestones_card(text[:200], milestone_lines(milestones(text), TODAY)),
        "no milestones": cards.milestones_card(text[:200], []),
        "milestone": cards.milestone_card(milestones(text)[1], TODAY, updated_by=text[:200]),
        "milestone past its date, with problems": cards.milestone_card(
            milestones(text)[0],
            TODAY,
            {"milestone_status": text[:100], "revised_date": text[:100]},
            {"milestone_status": text[:300], "revised_date": text[:300]},
            text[:300],
        ),
        "my measures with milestones": cards.my_measures_card(
            text[:200],
            [item, replace(item, state="complete", completed="2026/27 Q1")],
            TODAY,
            milestones=milestone_lines(milestones(text), TODAY),
        ),
        "receipt": cards.receipt_card(receipt),
        "receipt with action plan": cards.receipt_card(replace(receipt, action_plan=text)),
        "receipt with benchmarks": cards.receipt_card(
            replace(receipt, benchmarks=text[:600], last_year_words="April last year")
        ),
        "return with benchmarks": cards.return_card(replace(item, benchmarks=text[:600]), TODAY),
        "return with action plan": cards.return_card(with_plan, TODAY),
        "return with action plan and problems": cards.return_card(
            with_plan, TODAY, on_plan, plan_errors, text[:300]
        ),
        "key action with action plan": cards.return_card(
            planned(open_return(text, MeasureKind.KEY_ACTION), text), TODAY, on_plan
        ),
        "actions": cards.actions_card(
            text[:200], mine, may_drop=lambda a: True, notice=text[:400], warning=True
        ),
        "no actions": cards.actions_card(text[:200], []),
        "status with late actions": cards.status_card(
            text[:200], [with_plan, replace(overdue, actions=with_plan.actions), escalated] * 3
        ),
        "my measures": cards.my_measures_card(text[:200], [item, overdue, escalated] * 3, TODAY),
        "my measures while away": cards.my_measures_card(
            text[:200], [item, overdue, escalated] * 3, TODAY, [text[:400]] * 6
        ),
        "status": cards.status_card(text[:200], [item, overdue, escalated] * 3),
        "help": cards.help_card(help_lines(text[:32], TODAY), note=text, contact=text[:200]),
        "welcome": cards.welcome_card(
            help_lines(text[:32], TODAY),
            text[:200],
            text[:200],
            escalation_owner=True,
            leadership=True,
        ),
        "notice": cards.notice_card(text[:200], text, warning=True),
        "overdue digest": cards.overdue_card(overdue_digest(text, escalated), TODAY),
        "overdue digest copy": cards.overdue_card(
            replace(overdue_digest(text, escalated), unreachable=text[:200], more=4), TODAY
        ),
        "overdue digest, nothing left": cards.overdue_card(
            Digest(7, text[:200], [], note=text[:300]), TODAY
        ),
        **escalation_cards(text),
        **deep_dive_cards(text),
        **sign_off_cards(text, item),
        **summary_cards(text, item),
        "report link": cards.report_link_card(
            f"Performance board: {text[:200]}",
            f"for {text[:300]}",
            "the link works until 15:40 today",
            "https://perfbot.kingsmere.gov.uk/reports/board/2026-27-Q2?link=e30.c2ln",
            "Open the board",
        ),
    }


class FakeChart:
    """A chart as big as cards/chart.py may make one (the card's budget includes it)."""

    png = bytes(range(256)) * 150  # 38 KB: its data URI is about 51 KB
    alt = "Ratings by service"


def summary_cards(text: str, item: OpenReturn) -> dict[str, dict[str, Any]]:
    """The weekly summary at its fullest (every section over-full, hostile names), a quiet
    one, and a measure's detail."""
    at = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    line = MeasureLine("HS-04", text[:300], text[:300], "2026/27 M8", "82.5%", Rating.ACTION)
    lines = (replace(line, was=Rating.GOOD, note=text[:200]),) * 12
    full = Summary(
        week_of=date(2026, 12, 7),
        since=at,
        scheme=Scheme.STRONG_GOOD_REVIEW_ACTION,
        periods=("2026/27 M8", "2026/27 Q2", "2026/27 H1", "2025/26"),
        returns=tuple(ServiceReturns(text[:300] + str(n), 9, 5, lines) for n in range(12)),
        ratings=tuple(RatingCount(r, 10, 9, 8) for r in (Rating.STRONG, Rating.ACTION)),
        by_service={text[:300]: {Rating.STRONG: 3}},
        new_off_track=lines,
        recoveries=lines,
        escalations=(EscalationLine("HS-04", text[:300], text[:300], "2026/27 M8", at, True, text[:200]),) * 12,
        deep_dives=lines,
        actions_late=(ActionLine("HS-04", text[:300], text, date(2026, 12, 1)),) * 12,
        restatements=(RestatementLine("HS-04", text[:300], text[:300], "2026/27 M8", text[:50], "82.5%", text, at),) * 12,
        strong=lines,
        unreachable={text[:300]: 3, "Waste": 1},
    )  # fmt: skip
    quiet = replace(
        full,
        since=None,
        returns=(ServiceReturns(text[:300], 9, 9),),
        new_off_track=(),
        recoveries=(),
        escalations=(),
        deep_dives=(),
        actions_late=(),
        restatements=(),
        strong=(),
        unreachable={},
    )
    history = [HistoryLine(f"2026/27 M{n}", "78.0%", "90.0%", Rating.ACTION) for n in range(1, 9)]
    plan = [PlanItem(text, text[:200], date(2026, 10, 1), True)] * 5
    said = tuple((q.heading, text[:MAX_ANSWER]) for q in Question)
    detail = MeasureDetail(
        item.measure, history, text, text, date(2027, 1, 31), "2026/27 M8", plan, 3, said
    )
    return {
        "weekly summary": cards.summary_card(full, FakeChart()),
        "weekly summary, quiet": cards.summary_card(quiet, FakeChart()),
        "weekly summary without its chart": cards.summary_card(full),
        "measure detail": cards.measure_detail_card(detail),
    }


def sign_off_cards(text: str, item: OpenReturn) -> dict[str, dict[str, Any]]:
    """The review card at its fullest (as many returns as it lists, each with a whole
    commentary and action, returned before, a comment coming back with its problem), the
    owner's returned card, the performance team's correction card, and the period card."""
    typed = text[: cards.MAX_TEXT]
    at = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    review_items = [
        ReviewItem(
            n,
            item.measure,
            item.period,
            2,
            "82.5%",
            Rating.ACTION,
            text[:300],
            True,
            typed,  # whole: the card cuts what it quotes
            typed,
            date(2027, 1, 31),
            text[:200],
            at,
            typed,
            tuple((q.heading, text[:MAX_ANSWER]) for q in Question),
        )
        for n in range(1, signoff.MAX_ITEMS + 1)
    ]
    full = ReviewCard(
        7,
        text[:200],
        "2026/27 M7",
        review_items,
        more=3,
        note=text[:300],
        errors={1: text[:300]},
        typed={1: typed, 2: typed},
    )
    line = StatusLine("HS-04", text[:300], text[:300], text[:200], "82.5%", text[:200], at, typed)
    restated = replace(line, restated_from="80.0%", correction_reason=typed)
    lines = (line,) * 30
    period = PeriodStatus(Period.parse("2026/27 M7"), None, lines, lines, lines, lines, ())
    lock = PeriodLock(period="2026/27 M7", locked_at=at, locked_by=text[:200], reason=typed)
    locked = replace(period, lock=lock, restated=(restated,) * 30)
    values = dict.fromkeys(cards.INPUTS, typed)
    return {
        "review": cards.review_card(full),
        "review, nothing left": cards.review_card(
            ReviewCard(7, text[:200], "2026/27 Q2", [], note=text[:300])
        ),
        "returned return": cards.return_card(item, TODAY, values, notice=f"{text[:200]}: {typed}"),
        "correction of a signed-off period": cards.return_card(
            replace(item, locked=text[:300]), TODAY, values, {"correction_reason": text[:300]}
        ),
        "period": cards.period_card(period, note=text[:300]),
        "period signed off": cards.period_card(locked),
    }


def deep_dive_cards(text: str) -> dict[str, dict[str, Any]]:
    dive = DeepDive(id=7, period="2026/27 Q2", reason="requested", flagged_at=NOON)
    history = [
        HistoryLine(f"2026/27 Q{n}", "78.0%", "90.0%", Rating.ACTION if n % 2 else None)
        for n in range(1, 5)
    ] + [HistoryLine("2025/26 Q4", "—", "none", None)] * 2
    plan = [PlanItem(text, text[:200], date(2026, 10, 1), True)] * 10
    shown = DiveView(
        dive,
        measure(text),
        text,
        history,
        text,
        text,
        date(2027, 1, 31),
        "2026/27 Q2",
        plan,
        4,
        [(f"p{n}@council.gov.uk", text[:200]) for n in range(8)],
        None,
        text[:300],
        tuple((q.heading, text[:MAX_ANSWER]) for q in Question),
    )
    decided = replace(shown, decision=text)
    typed = dict.fromkeys(DEEP_DIVE_INPUTS, text[:300])
    errors = {"review_date": text[:300], "lead": text[:300], "decline_reason": text[:300]}
    listed = [ListedDive(dive, "HS-04", text[:300], text[:300])] * 25
    return {
        "deep dive": cards.deep_dive_card(shown),
        "deep dive with problems": cards.deep_dive_card(shown, typed, errors),
        "deep dive decided": cards.deep_dive_card(decided),
        "deep dives": cards.deep_dives_card(text[:200], listed),
    }


def overdue_digest(text: str, escalated: OpenReturn) -> Digest:
    """The fullest overdue card: as many returns as it lists, every one reminded, chased,
    acknowledged or not, with a reason it is not available."""
    at = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    days = tuple(date(2026, 10, d) for d in range(1, 9))
    items = [
        OverdueItem(
            escalated,
            text[:200],
            days,
            days,
            Acknowledged(text[:200], at) if n % 2 else None,
            at if n % 3 else None,
            text[:200] if n % 3 else "",
        )
        for n in range(MAX_ITEMS)
    ]
    return Digest(7, text[:200], items, note=text[:300])


def escalation_cards(text: str) -> dict[str, dict[str, Any]]:
    """The escalation card with every button, its forms come back with errors, and closed;
    the owner's question card, and status for an escalation owner. What people type is at
    most MAX_TEXT (the parser and the use cases see to it)."""
    typed = text[: cards.MAX_TEXT]
    question = QuestionView(f"{text[:200]} asked at 10:04 on Monday 23 November", typed, None, None)
    answered = replace(question, answered=f"{text[:200]} answered at 10:09", answer=typed)
    view = EscalationView(
        id=7,
        code="HS-04",
        title=text[:300],
        service=text[:300],
        owner=text[:200],
        sent_by=text[:200],
        period="2026/27 Q2",
        headline="78.0% against a target of 90.0%",
        rating="🚩 Action",
        explanation=text[:300],
        history=[("2026/27 Q1", "89.0%  ● Review")] * 4,
        travel=[("Since last period", "↓ declining"), ("England average", "88.0%")],
        commentary=typed,
        action=typed,
        action_due="Friday 29 January 2027",
        state=[f"Escalated at {text[:200]}.", f"{text[:200]} agreed remedial action: {typed}"],
        questions=[question, answered],
        owners=[("owner@council.gov.uk", text[:200])] * 3,
        can_acknowledge=True,
        can_agree=True,
        can_ask=True,
        can_request_deep_dive=True,
        can_stop=True,
        closed=False,
        is_key_action=True,
        note=text[:300],
        answers=tuple((q.heading, text[:MAX_ANSWER]) for q in Question),
    )
    errors = dict.fromkeys(
        ("remedial", "remedial_owner", "remedial_due", "question", "stop_reason"), text[:300]
    )
    values = dict.fromkeys(("remedial", "remedial_owner_email", "question", "stop_reason"), typed)
    closed = replace(
        view,
        can_acknowledge=False,
        can_agree=False,
        can_ask=False,
        can_request_deep_dive=False,
        can_stop=False,
        closed=True,
    )
    ask = QuestionCard(
        3, "HS-04", text[:300], "2026/27 Q2", text[:200], typed, None, None, text[:300]
    )
    # As many off-track measures as a council has, each with a full commentary and a long
    # action plan of full-length items.
    watched = Watched(
        "HS-04", text[:300], "2026/27 Q2", text[:200], typed, [typed] * 12, text[:300], 7
    )
    item = open_return(text)
    return {
        "escalation": cards.escalation_card(view),
        "escalation with problems": cards.escalation_card(view, errors, values),
        "escalation closed": cards.escalation_card(closed),
        "question": cards.question_card(ask, {"answer": text[:300]}, {"answer": typed}),
        "question answered": cards.question_card(replace(ask, answer=typed, answered=text[:200])),
        "status for an escalation owner": cards.status_card(text[:200], [item] * 3, [watched] * 40),
    }


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


# Cards that carry a person's whole text back to them: what they typed, or our long message.
FULL_TEXT = {"return with problems", "return queried", "key action with problems", "notice", "help"}


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:20])
def test_every_card_stays_valid_json_with_hostile_text_intact(text):
    for name, card in every_card(text).items():
        wire = json.dumps(card, ensure_ascii=False)
        assert json.loads(wire) == card, name
        everything = strings(card)
        assert any(text[:200] in s for s in everything), f"{name} lost the text"
        if name in FULL_TEXT:
            assert text in everything, f"{name} cut the text"
        assert not list(VALIDATOR.iter_errors(card)), name
        budget = cards.MAX_SUMMARY_BYTES if name.startswith("weekly summary") else None
        assert len(wire.encode()) < (budget or cards.MAX_CARD_BYTES), name


ALLOWED_ON_MOBILE = {
    "AdaptiveCard", "TextBlock", "FactSet", "Container", "ActionSet", "Input.Text",
    "Input.Date", "Input.ChoiceSet", "Input.Toggle", "Action.Submit", "Action.ShowCard", "Image",
    "Action.OpenUrl",  # Adaptive Cards 1.0: the report link's button, on every Teams client
    # Adaptive Cards 1.2: the return card's button that shows its off-track part (nothing is
    # sent; a client that cannot toggle still submits every input, hidden or not).
    "Action.ToggleVisibility",
}  # fmt: skip


@pytest.mark.parametrize("name", list(every_card("plain")))
def test_cards_use_only_version_1_2_elements_and_action_submit(name):
    card = every_card("plain")[name]
    assert card["version"] == "1.2"
    types = {node["type"] for node in elements(card) if "type" in node}
    assert types <= ALLOWED_ON_MOBILE, types - ALLOWED_ON_MOBILE
    assert "Action.Execute" not in json.dumps(card)


def test_the_parser_reads_what_the_return_card_sends():
    card = cards.return_card(open_return("x"), TODAY)
    submit = next(a for a in card["actions"] if a["title"] == "Submit")
    # Teams merges the inputs (all strings) into the action's data.
    sent = {**submit["data"], "actual": " 85% ", "commentary": "ok", "action": "", "action_due": ""}
    parsed = parse_action(sent)
    assert parsed is not None
    assert (parsed.verb, parsed.code, parsed.period) == ("submit_return", "HS-04", "2026/27 Q2")
    assert parsed.fields["actual"] == "85%"
    assert parsed.fields["commentary"] == "ok"


@pytest.mark.parametrize(
    "value",
    [None, "text", ["list"], {"verb": "format_disk"}, {"no": "verb"}, {"verb": ["submit_return"]}],
)
def test_anything_that_is_not_one_of_our_cards_is_not_read(value):
    assert parse_action(value) is None


def test_non_string_inputs_are_not_trusted():
    parsed = parse_action(
        {
            "verb": "submit_return",
            "code": {"$ne": 1},
            "period": 7,
            "actual": ["85"],
            "commentary": True,
        }
    )
    assert parsed is not None
    assert (parsed.code, parsed.period, parsed.fields["actual"], parsed.fields["commentary"]) == (
        "",
        "7",
        "",
        "",
    )


def test_overlong_text_is_flagged_not_silently_cut():
    parsed = parse_action({"verb": "submit_return", "commentary": "x" * (cards.MAX_TEXT + 1)})
    assert parsed is not None
    assert parsed.too_long == ("commentary",)


# ---- action plans -----------------------------------------------------------------------


def _inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in elements(card) if str(n.get("type", "")).startswith("Input.")]


def test_the_return_card_asks_about_the_five_most_urgent_items_and_counts_the_rest():
    long = "y" * 4000
    item = planned(open_return("plain"), long)
    card = cards.return_card(item, TODAY)
    assert len(json.dumps(card, ensure_ascii=False).encode()) < cards.MAX_CARD_BYTES
    ids = [i["id"] for i in _inputs(card)]
    assert [i for i in ids if i.startswith("progress_")] == [
        f"progress_{100 + n}" for n in range(5)
    ]
    toggles = [i for i in _inputs(card) if i["type"] == "Input.Toggle"]
    assert [t["id"] for t in toggles] == [f"done_{100 + n}" for n in range(5)]
    assert all(t["value"] == "false" for t in toggles)
    text = card_text(card)
    assert "HS-04's action plan: 10 open actions, 2 LATE" in text
    assert text.count("⚠ LATE: ") == 2  # said in words, not only in colour
    assert "due Tuesday 1 December 2026 · ⚠ LATE" in text
    assert "and 5 more: type actions to see them all." in text


def test_a_card_that_comes_back_with_long_texts_lists_fewer_items_and_keeps_what_was_typed():
    long = "y" * 4000
    item = planned(open_return("plain"), long)
    typed = {
        "actual": "85",
        "commentary": long,
        "action": long,
        "reason": long,
        "progress_100": "z" * cards.MAX_PROGRESS,
        "done_100": "true",
    }
    card = cards.return_card(item, TODAY, typed, {"progress_100": "Too long."}, "Problems.")
    assert len(json.dumps(card, ensure_ascii=False).encode()) < cards.MAX_CARD_BYTES
    inputs = {i["id"]: i.get("value") for i in _inputs(card)}
    assert inputs["progress_100"] == "z" * cards.MAX_PROGRESS
    assert inputs["done_100"] == "true"
    assert "⚠ Too long." in card_text(card)
    assert "more: type actions to see them all." in card_text(card)


def test_the_parser_reads_each_items_progress_and_done_and_nothing_else():
    sent = {
        "verb": "submit_return",
        "code": "HS-04",
        "period": "2026/27 Q2",
        "progress_101": " Letters sent. ",
        "progress_102": "",
        "progress_103": "p" * (cards.MAX_PROGRESS + 1),
        "done_101": "true",
        "done_102": "false",
        "done_104": True,  # not what Teams sends: not read
        "progress_abc": "no",
        "progress_-1": "no",
        "xprogress_5": "no",
    }
    parsed = parse_action(sent)
    assert parsed.progress == {101: "Letters sent.", 103: "p" * cards.MAX_PROGRESS}
    assert parsed.done == (101,)
    assert parsed.too_long == ("progress_103",)  # flagged, and cut only to be shown again
    assert "over 1,000 characters, so it is cut short here" in parsed.problems["progress_103"]
    many = parse_action({"verb": "submit_return", **{f"progress_{n}": "x" for n in range(500)}})
    assert len(many.progress) == 20


def test_the_actions_card_has_mark_done_on_open_items_and_drop_only_for_those_who_may():
    items = [
        action_item("plain", 0, late=True),
        action_item("plain", 1),
        action_item("plain", 2, "done"),
    ]
    card = cards.actions_card("Amina Hussain", items, may_drop=lambda a: a.id == 101)
    text = card_text(card)
    assert "Amina Hussain: 2 open actions, 1 LATE" in text
    assert "⚠ LATE: open and past its due date" in text
    assert "done on Friday 20 November" in text
    buttons = [n for n in elements(card) if n.get("type") == "Action.Submit"]
    assert [b["data"] for b in buttons if b["title"] == "Mark done"] == [
        {"verb": "mark_done", "item": 100},
        {"verb": "mark_done", "item": 101},
    ]
    [drop] = [b for b in buttons if b["title"] == "Drop this action"]
    assert drop["data"] == {"verb": "drop_action", "item": 101}
    parsed = parse_action({**drop["data"], "drop_reason_101": " Replaced. "})
    assert (parsed.item_id, parsed.reason, parsed.too_long) == (101, "Replaced.", False)
    assert parse_action({"verb": "mark_done", "item": "1; drop"}).item_id == 0
    empty = card_text(cards.actions_card("Gareth Jones", []))
    assert "You have no actions in any action plan." in empty


def test_status_says_how_many_actions_are_late_once_on_the_measures_line():
    item = planned(open_return("plain"), "plain")
    card = cards.status_card("Status", [item, replace(item, period=item.period.previous())])
    text = card_text(card)
    assert text.count("⚠ 2 actions late") == 1


def test_status_counts_a_complete_key_action_as_received():
    item = open_return("plain")
    card = cards.status_card(
        "Status", [replace(item, state="complete"), replace(item, state="due")]
    )
    text = card_text(card)
    assert "1 of 2 returns received" in text
    assert "complete" in text


def test_the_actions_card_lists_the_ten_most_urgent_open_items_and_counts_the_rest():
    items = [action_item("plain", n, late=n == 11) for n in range(12)]
    card = cards.actions_card("Amina Hussain", items)
    presses = [n["data"]["item"] for n in elements(card) if n.get("title") == "Mark done"]
    assert len(presses) == 10
    assert presses[0] == 111  # the late one first, though it came last
    assert "and 2 more open, less urgent: mark some done to see them." in card_text(card)


FORGED_IDS = ["²", "١٢", "99999999999", "2147483648", "-1", "1e3", "0x10", " ", "7.0"]


@pytest.mark.parametrize("forged", FORGED_IDS)
@pytest.mark.parametrize("verb", list(Verb))
def test_a_forged_id_names_nothing_and_never_breaks_the_parser(verb, forged):
    keys = ("escalation", "question", "deep_dive", "item", "for")
    value = {"verb": verb.value, **dict.fromkeys(keys, forged), f"progress_{forged}": "x"}
    parsed = parse_action(value)
    assert parsed is not None
    numbers = [v for v in vars(parsed).values() if isinstance(v, int) and not isinstance(v, bool)]
    assert all(n == 0 for n in numbers)
    assert getattr(parsed, "escalation_owner_id", None) is None
    assert not getattr(parsed, "progress", {})


def test_an_id_a_key_can_hold_is_read():
    parsed = parse_action({"verb": Verb.MARK_DONE.value, "item": "2147483647"})
    assert parsed == MarkDone(2147483647)


class HugeChart:
    """A chart too big for the card's budget on its own (100 KB): the card goes without it."""

    png = bytes(range(256)) * 400
    alt = "Ratings by service"


def test_a_chart_too_big_for_the_card_is_left_out_and_the_summary_still_goes():
    summary = Summary(
        week_of=date(2026, 12, 7),
        since=None,
        scheme=Scheme.STRONG_GOOD_REVIEW_ACTION,
        periods=("2026/27 M8",),
        returns=(ServiceReturns("Housing", 9, 5),),
        ratings=(RatingCount(Rating.STRONG, 1, 1, 1),),
        by_service={"Housing": {Rating.STRONG: 1}},
    )
    card = cards.summary_card(summary, HugeChart())
    assert not [e for e in card["body"] if e.get("type") == "Image"]
    assert "5 of 9 returns received" in card_text(card)


def _open_the_board(card: dict[str, Any]) -> dict[str, Any]:
    [button] = [
        node
        for node in elements(card)
        if node.get("type") == "Action.Submit" and node.get("title") == "Open the board"
    ]
    return parse_action(button["data"])


def test_the_summary_and_status_cards_open_the_board_for_their_quarter():
    item = open_return("x")
    summary = every_card("x")["weekly summary"]  # the week of Monday 7 December 2026
    assert _open_the_board(summary) == OpenReport("board", "2026/27 Q2")
    status = cards.status_card("Status for Mark Taylor", [item], board_period="2026/27 Q2")
    assert _open_the_board(status) == OpenReport("board", "2026/27 Q2")
    # A card drawn without a quarter asks for the last one when it is pressed.
    assert _open_the_board(cards.status_card("Status", [item])) == OpenReport("board", "")


def test_the_report_link_card_opens_its_address_in_the_browser():
    card = every_card("plain")["report link"]
    [button] = card["actions"]
    assert button == {
        "type": "Action.OpenUrl",
        "title": "Open the board",
        "url": "https://perfbot.kingsmere.gov.uk/reports/board/2026-27-Q2?link=e30.c2ln",
    }
    assert "Performance board: plain" in card_text(card)
    assert "the link works until 15:40 today" in card_text(card)


def test_a_cards_text_is_read_in_nfc_and_invisible_only_text_is_empty():
    parsed = parse_action(
        {"verb": "ask_owner", "escalation": "7", "question": " \u200bCafe\u0301?\ufeff "}
    )
    assert (parsed.question, parsed.refused) == ("Caf\u00e9?", "")
    parsed = parse_action(
        {"verb": "stop_activity", "escalation": "7", "stop_reason": "\u200b\u200d"}
    )
    assert parsed.reason == ""  # the use case then asks for a reason, as for an empty one


def test_text_that_cannot_be_stored_refuses_the_action_naming_the_field():
    parsed = parse_action({"verb": "agree_remedial", "escalation": "7", "remedial": "Fix\x00it"})
    assert parsed.refused.startswith("The remedial action has a control character (U+0000)")
    assert parsed.escalation == 0  # nothing else of it is read
    hidden = parse_action({"verb": "open_return", "code": "RB-01\udfff", "period": "2026/27 M7"})
    assert hidden.refused.startswith("That card's data has a broken character (U+DFFF")
    assert hidden.refused.endswith("type my measures for a fresh card.")


def test_the_return_card_marks_bad_text_against_its_field_and_keeps_the_rest():
    parsed = parse_action(
        {
            "verb": "submit_return",
            "code": "RB-01",
            "period": "2026/27 M7",
            "actual": "66.5",
            "commentary": "On \udfff profile.",
            "action": "x" * (cards.MAX_TEXT + 10),
        }
    )
    assert parsed.refused == ""
    assert parsed.fields["commentary"] == "On \ufffd profile."  # shown back where it was
    assert parsed.problems["commentary"].startswith("The commentary has a broken character")
    assert parsed.fields["action"] == "x" * cards.MAX_TEXT
    assert parsed.too_long == ("action",)


def test_the_off_track_part_is_hidden_until_wanted_and_marks_what_is_required():
    fresh = replace(
        open_return("x"), latest=None, state="due", assessment=Assessment(None, None, "")
    )
    required = frozenset({"why", "forecast", "action"})
    hidden = cards.return_card(fresh, TODAY, required=required)
    [part] = [n for n in elements(hidden) if n.get("id") == "off_track"]
    assert part["isVisible"] is False
    labels = [n["text"] for n in elements(part) if n.get("type") == "TextBlock"]
    assert labels[1:] == [
        "* needed when it is off track",
        "Why is this the case? *",
        "What are the implications of the current level of performance?",
        "What impact will this have on service users, local people and partners?",
        "How will this affect the Council's priorities and key risk areas?",
        "Are the actions already in place proving to be effective?",
        "What is the predicted performance if no additional actions are taken? *",
        "What action will bring it back on track? *",
        "... and by when? *",
    ]
    answers = [n for n in elements(part) if n.get("id") in ids.ANSWERS]
    assert [n["maxLength"] for n in answers] == [MAX_ANSWER] * 6
    # Shown when the card comes back for an off-track figure, or with anything typed in it.
    for shown in (
        cards.return_card(fresh, TODAY, {"actual": "70"}, {"actual": "x"}, off_track=True),
        cards.return_card(fresh, TODAY, {"forecast": "About 80%"}),
        cards.return_card(fresh, TODAY, {}, {"why": "It is off track: say why."}),
    ):
        [part] = [n for n in elements(shown) if n.get("id") == "off_track"]
        assert part["isVisible"] is True


def test_the_parser_reads_each_answer_within_its_limit():
    parsed = parse_action(
        {"verb": "submit_return", "why": "  Staff off sick. ", "forecast": "y" * (MAX_ANSWER + 1)}
    )
    assert parsed is not None
    assert parsed.fields["why"] == "Staff off sick."
    assert parsed.fields["forecast"] == "y" * MAX_ANSWER
    assert parsed.too_long == ("forecast",)


def council_of(count: int, services: int) -> list[OpenReturn]:
    """A large council's returns, as status and my measures get them: every tenth overdue,
    every seventh sent and off track, the rest sent and on track."""
    base = open_return("plain")
    items = []
    for n in range(count):
        service = Service(id=n % services + 1, name=f"Service {n % services:02d}")
        m = measure(f"Scale measure {n}", code=f"SC-{n:04d}", service=service, number=n + 1)
        if n % 10 == 0:
            item = replace(base, measure=m, state="overdue", latest=None, overdue_days=12)
        elif n % 7 == 0:
            item = replace(
                base, measure=m, assessment=Assessment(Rating.ACTION, Decimal("-0.2"), "Off.")
            )
        else:
            item = replace(base, measure=m, assessment=Assessment(Rating.GOOD, Decimal(0), "On."))
        items.append(item)
    return items


def card_bytes(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def test_status_for_a_large_council_fits_a_card_with_every_services_counts():
    items = council_of(5000, 100)
    card = cards.status_card("Status for Chief Officer 0", items)
    text = card_text(card)
    assert card_bytes(card) <= cards.MAX_CARD_BYTES
    assert "4500 of 5000 returns received · 500 overdue" in text  # every measure counted
    assert "Too many returns to list each one here" in text
    assert "Open the board for every measure." in text
    for n in range(100):
        group = [i for i in items if i.measure.service.name == f"Service {n:02d}"]
        overdue = sum(1 for i in group if i.state == "overdue")
        counts = f"{len(group) - overdue} of {len(group)} received, {overdue} overdue"
        assert text.count(f"Service {n:02d} — {counts}") == 1
    listed = {int(code) for code in re.findall(r"SC-(\d{4})", text)}
    assert all(n % 10 == 0 or n % 7 == 0 for n in listed)  # only those needing attention
    assert [a["title"] for a in card["actions"]] == ["Open the board"]


def test_status_with_more_than_a_card_holds_lists_each_services_overdue_and_off_track_first():
    items = council_of(1000, 10)
    text = card_text(cards.status_card("Status", items))
    assert "Too many returns to list each one here" in text
    assert "and its overdue and off-track measures first" in text
    assert "SC-0000" in text  # overdue, the first of Service 00
    assert "SC-0001" not in text  # on track: counted, not listed
    assert "Others" in text


def test_status_that_fits_still_lists_every_measure():
    items = council_of(60, 6)
    text = card_text(cards.status_card("Status", items))
    assert "Too many returns" not in text
    assert all(f"SC-{n:04d}" in text for n in range(60))


def test_my_measures_with_more_than_a_card_holds_lists_the_overdue_first_and_counts_the_rest():
    items = council_of(300, 3)
    card = cards.my_measures_card("Owner", items, TODAY)
    text = card_text(card)
    assert card_bytes(card) <= cards.MAX_CARD_BYTES
    assert text.startswith("Owner: 300 measures, 30 returns waiting for a figure")
    presses = [b["code"] for b in buttons(card) if b["verb"] == "open_return"]
    overdue = [f"SC-{n:04d}" for n in range(0, 300, 10)]
    assert presses[:30] == overdue  # every overdue one, first
    shown = len({line for line in text.split("\n") if line.startswith("SC-")})
    assert f"And {300 - shown} more returns not shown here" in text
    assert "type submit and the measure's code (submit SC-" in text


def test_my_measures_of_fifty_lists_all_fifty_as_before():
    items = council_of(50, 1)
    text = card_text(cards.my_measures_card("Owner", items, TODAY))
    assert "not shown here" not in text
    assert all(f"SC-{n:04d}" in text for n in range(50))
