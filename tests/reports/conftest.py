"""Reports made by hand, for the renderers' tests: figures a person can check on the page,
and text written to break a page (quotes, markup, 5,000 characters, emoji, right-to-left)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.board import (
    AnnualRow,
    Benchmark,
    BoardRow,
    Headline,
    OverdueRow,
    PlanEntry,
    Report,
    ReportKind,
    Scope,
    Travel,
    TrendPoint,
)
from domain.periods import Period
from domain.ratings import Direction, Rating, Scheme

HOSTILE = (
    "He said \"no\" & <script>alert(1)</script> 'quoted' </td></tr></table> "
    "🚩🎉 مرحبا بالعالم שלום "
)
LONG = "Long commentary. " * 300  # 5,100 characters

MADE_AT = datetime(2025, 7, 21, 9, 0, tzinfo=UTC)
SCHEME = Scheme.STRONG_GOOD_REVIEW_ACTION
RATINGS = (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION)


def _trend(values: list[str | None], target: str) -> tuple[TrendPoint, ...]:
    period = Period.parse("2025/26 M3")
    labels = []
    for _ in values:
        labels.append(period.label)
        period = period.previous()
    return tuple(
        TrendPoint(
            label,
            None if v is None else Decimal(v),
            Decimal(target),
            None if v is None else Rating.GOOD,
            "—" if v is None else f"{v}%",
        )
        for label, v in zip(reversed(labels), values, strict=True)
    )


def board_row(**changes: object) -> BoardRow:
    row = BoardRow(
        code="RB-01",
        title="Council tax collected in year",
        is_key_action=False,
        service="Revenues and Benefits",
        priority="High performing, value for money services",
        owner="Amina Hussain",
        period="2025/26 M3",
        unit="percent",
        decimals=1,
        higher_is_better=True,
        target=Decimal("29.1"),
        target_shown="29.1%",
        actual=Decimal("29.2"),
        actual_shown="29.2%",
        rating=Rating.GOOD,
        rating_sentence="0.3% above target (Good: from 2% below to 5% above).",
        variance=Decimal("0.0034"),
        previous=Travel(
            "the previous period", "2025/26 M2", "19.8%", Direction.IMPROVING, Decimal("19.8")
        ),
        last_year=Travel(
            "the same period last year", "2024/25 M3", "28.9%", Direction.IMPROVING, Decimal("28.9")
        ),
        trend=_trend(["27.0", "28.1", "28.9", "9.9", "19.5", "29.0", "19.8", "29.2"], "29.1"),
        benchmarks=(Benchmark("England", Decimal("28.5"), "28.5%", "2025/26 M3", "LG Inform"),),
        benchmark_words="better than the England average of 28.5% (LG Inform)",
        commentary="Better than last period thanks to the process changes.",
        remedial_action=None,
        action_due=None,
        not_available_reason=None,
        plan=(),
        approval="approved",
        approval_words="Approved by Mark Taylor on 4 August 2025",
        restated=False,
        restated_from=None,
        correction_reason=None,
        due=date(2025, 7, 22),
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def off_track_row(**changes: object) -> BoardRow:
    values: dict[str, object] = dict(
        code="HC-02",
        title="Households in temporary accommodation",
        service="Housing and Communities",
        priority="Thriving, safe communities",
        owner="Priya Shah",
        unit="number",
        decimals=0,
        higher_is_better=False,
        target=Decimal("120"),
        target_shown="120",
        actual=Decimal("150"),
        actual_shown="150",
        rating=Rating.ACTION,
        rating_sentence="25.0% worse than target (Action: more than 10% worse).",
        variance=Decimal("-0.25"),
        previous=Travel("the previous period", "2025/26 M2", "140", Direction.DECLINING),
        last_year=Travel("the same period last year", "2024/25 M3", "—", None),
        benchmarks=(),
        commentary="Demand rose after two large evictions.",
        remedial_action="Open the second hostel wing.",
        action_due=date(2025, 9, 30),
        plan=(
            PlanEntry(
                "Open the second hostel wing.",
                "Priya Shah",
                date(2025, 9, 30),
                "open",
                "Builders on site.",
                "2025/26 M3",
            ),
            PlanEntry(
                "Agree a lease on 20 flats.",
                "Sarah Lindqvist",
                date(2025, 6, 30),
                "late",
                None,
                "2025/26 M2",
            ),
        ),
        approval="submitted",
        approval_words="Awaiting sign-off",
        restated=True,
        restated_from="140",
        correction_reason="The April count double-counted families moved twice.",
        escalation=(
            "Escalated to Sarah Lindqvist at 10:04 on 18 July 2025.",
            "Sarah Lindqvist acknowledged it at 11:20 on 18 July 2025.",
        ),
    )
    return board_row(**{**values, **changes})


def key_action_row(**changes: object) -> BoardRow:
    values: dict[str, object] = dict(
        code="KA-01",
        title="Open the new leisure centre",
        is_key_action=True,
        service="Environment and Waste",
        priority="Thriving, safe communities",
        owner="Tom Reid",
        unit="number",
        decimals=0,
        target=None,
        target_shown="none",
        actual=None,
        actual_shown="Some risk",
        rating=Rating.REVIEW,
        rating_sentence="Some risk to timetable or outcomes: Review.",
        variance=None,
        previous=Travel("the previous period", "2025/26 Q4", "On track", None),
        last_year=Travel("the same period last year", "2024/25 Q1", "—", None),
        trend=(),
        benchmarks=(),
        approval="not returned",
        approval_words="Not returned",
    )
    return board_row(**{**values, **changes})


def _headline(rows: list[BoardRow]) -> Headline:
    total: dict[Rating | None, int] = {}
    by_service: dict[str, dict[Rating | None, int]] = {}
    for row in rows:
        total[row.rating] = total.get(row.rating, 0) + 1
        counts = by_service.setdefault(row.service, {})
        counts[row.rating] = counts.get(row.rating, 0) + 1
    return Headline(RATINGS, total, by_service)


def make_report(kind: ReportKind, rows: list[BoardRow], **changes: object) -> Report:
    rows = sorted(rows, key=lambda r: (r.priority, r.service, r.code))
    report = Report(
        kind=kind,
        period=Period.parse("2025/26 Q1"),
        made_at=MADE_AT,
        scheme=SCHEME,
        scope=Scope(everything=True, words="all services"),
        sign_off="Not yet signed off: 1 return awaits approval.",
        headline=_headline(rows),
        rows=tuple(rows),
    )
    return replace(report, **changes)  # type: ignore[arg-type]


OVERDUE = OverdueRow(
    code="PO-03",
    title="Staff sickness days per FTE",
    service="People and Organisational Development",
    priority="High performing, value for money services",
    owner="Lee Carter",
    period="2025/26 Q1",
    due=date(2025, 7, 22),
    working_days_late=6,
    escalated=True,
    acknowledged=False,
)


def annual_row(**changes: object) -> AnnualRow:
    row = AnnualRow(
        code="RB-01",
        title="Council tax collected in year",
        is_key_action=False,
        service="Revenues and Benefits",
        priority="High performing, value for money services",
        owner="Amina Hussain",
        period="2024/25 M12",
        unit="percent",
        decimals=1,
        higher_is_better=True,
        target=Decimal("97.0"),
        target_shown="97.0%",
        outturn=Decimal("96.1"),
        outturn_shown="96.1%",
        rating=Rating.GOOD,
        rating_sentence="0.9% below target (Good: from 2% below to 5% above).",
        last_year_period="2023/24 M12",
        last_year=Decimal("95.8"),
        last_year_shown="95.8%",
        last_year_rating=Rating.REVIEW,
        direction=Direction.IMPROVING,
        commentary="The best year since 2019.",
        approval="approved",
        approval_words="Approved by Mark Taylor on 20 April 2025",
    )
    return replace(row, **changes)  # type: ignore[arg-type]


@pytest.fixture
def board() -> Report:
    """A Q1 board: one Good measure, one Action measure (restated, with a plan and an
    escalation), one key action whose return is overdue."""
    late = key_action_row(
        overdue=True, approval="overdue", approval_words="Overdue: due Tuesday 22 July 2025"
    )
    return make_report(ReportKind.BOARD, [board_row(), off_track_row(), late])


@pytest.fixture
def exceptions() -> Report:
    return make_report(ReportKind.EXCEPTIONS, [off_track_row()], overdue=(OVERDUE,))


@pytest.fixture
def annual() -> Report:
    rows = [annual_row(), annual_row(code="RB-02", title="Business rates collected")]
    return replace(
        make_report(ReportKind.ANNUAL, []),
        period=Period.parse("2024/25"),
        annual=tuple(rows),
    )


@pytest.fixture
def hostile_board() -> Report:
    """Every free-text field written to break the page."""
    words = {
        "title": HOSTILE + "title",
        "owner": HOSTILE,
        "commentary": HOSTILE + LONG,
        "remedial_action": HOSTILE,
        "correction_reason": HOSTILE,
        "service": HOSTILE + "service",
        "priority": HOSTILE + "priority",
    }
    rows = [board_row(**words), off_track_row(**{**words, "code": "X<1>"})]
    return make_report(ReportKind.BOARD, rows)
