"""The board, the exception report and the annual report against a small council worked out
by hand (issue 15).

Kingsfold's 2026/27 Q2 board (July to September 2026), made on Wednesday 2 December 2026.
Under Strong/Good/Review/Action a target of 80 (higher is better) is Strong above 84, Good
down to 78.4, Review down to 72, Action below; a target of 10 days (lower is better) is
Review from 10.2 to 11 days.

| measure | kind, frequency        | its period | target | actual   | rating | before            | a year before   |
|---------|------------------------|------------|--------|----------|--------|-------------------|-----------------|
| H-1     | monthly %, Housing     | M6         | 80     | 90       | Strong | M5 85: improving  | M6 70: improving|
| H-2     | monthly %, Housing     | M6         | 80     | 70       | Action | M5 75: declining  | none            |
| W-1     | quarterly days, Waste  | Q2         | 10     | 10.5     | Review | Q1 11: improving  | none            |
| W-2     | quarterly %, Waste     | Q2         | 50     | none: overdue (due Wednesday 21 October) |  |  |
| K-1     | key action, Waste      | Q2         |        | on track | Good   |                   |                 |
| A-1     | annual %, Housing      | 2025/26    | 60     | 66       | Strong | (its year so far has not ended) |      |

H-1 was approved by Eve; H-2 was restated (it was 75%), has Eve's acknowledged escalation
and an action-plan item due 1 November (late); W-1 awaits sign-off; W-2's overdue return was
escalated and acknowledged. Housing's priority is "Homes"; Waste's measures have none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import db
from domain.board import (
    NO_PORTFOLIO,
    NO_PRIORITY,
    ReportError,
    ReportKind,
    Scope,
    build,
    report_period,
    scope_of,
)
from domain.importing import import_workbook
from domain.model import (
    ActionPlan,
    Escalation,
    Measure,
    MeasurePriority,
    Person,
    Return,
    ReturnState,
)
from domain.policy import Policy
from domain.ratings import Direction, Rating, Scheme
from domain.views import open_periods, open_periods_of, records
from domain.workbook import read_sheets

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
Q2 = report_period(ReportKind.BOARD, "2026/27 Q2")
EVERYTHING = Scope(everything=True, words="all services")
# Kingsfold's history has gaps it will not fill: only periods from August 2026 are asked for.
POLICY = Policy(open_from=date(2026, 8, 1))
PEOPLE = """email,name,service,role
lee@kingsfold.gov.uk,Lee Leader,Chief Executive,leadership
eve@kingsfold.gov.uk,Eve Esc,Housing,escalation_owner
ann@kingsfold.gov.uk,Ann Owner,Housing,owner
wes@kingsfold.gov.uk,Wes Hart,Waste,owner
"""
MEASURES = """code,title,kind,service,priority,owner_email,escalation_owner_email,unit,polarity,frequency,decimals
H-1,Rent collected,measure,Housing,Homes,ann@kingsfold.gov.uk,eve@kingsfold.gov.uk,percent,higher,monthly,0
H-2,Repairs on time,measure,Housing,Homes,ann@kingsfold.gov.uk,eve@kingsfold.gov.uk,percent,higher,monthly,0
A-1,Tenant satisfaction,measure,Housing,Homes,ann@kingsfold.gov.uk,eve@kingsfold.gov.uk,percent,higher,annual,0
W-1,Days to clear fly-tipping,measure,Waste,,wes@kingsfold.gov.uk,eve@kingsfold.gov.uk,days,lower,quarterly,1
W-2,Recycling rate,measure,Waste,,wes@kingsfold.gov.uk,,percent,higher,quarterly,0
K-1,New depot,key_action,Waste,,wes@kingsfold.gov.uk,,number,higher,quarterly,0
"""
TARGETS = """code,period,target
H-1,2026/27 M6,80
H-1,2025/26 M12,80
H-2,2026/27 M6,80
W-1,2026/27 Q2,10
W-2,2026/27 Q2,50
A-1,2025/26,60
"""
ACTUALS = """code,period,actual,commentary,submitted_by,submitted_at
H-1,2025/26 M6,70,,,2025-10-10 10:00
H-1,2025/26 M12,82,Strong year end.,,2026-04-20 10:00
H-1,2024/25 M12,78,,,2025-04-20 10:00
H-1,2026/27 M5,85,,,2026-09-10 10:00
H-1,2026/27 M6,90,Rent up.,,2026-10-10 10:00
H-2,2026/27 M5,75,,,2026-09-10 10:00
W-1,2026/27 Q1,11,,,2026-07-10 10:00
K-1,2026/27 Q2,on track,,,2026-10-10 10:00
A-1,2025/26,66,Best year yet.,,2026-05-10 10:00
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def kingsfold(engine, tmp_path: Path):
    folder = tmp_path / "kingsfold"
    folder.mkdir()
    for name, text in (
        ("people", PEOPLE),
        ("measures", MEASURES),
        ("targets", TARGETS),
        ("actuals", ACTUALS),
    ):
        (folder / f"{name}.csv").write_text(text)
    sessions = db.session_factory(engine)
    async with sessions() as session, session.begin():
        await import_workbook(session, read_sheets(folder), now=at("2026-07-01 09:00"))
        ids = {m.code: m.id for m in await session.scalars(select(Measure))}
        people = {p.email.split("@")[0]: p.id for p in await session.scalars(select(Person))}
        h1 = await session.scalar(
            select(Return).where(Return.measure_id == ids["H-1"], Return.period == "2026/27 M6")
        )
        h1.reviewed_by_id, h1.reviewed_at = people["eve"], at("2026-10-12 10:00")
        session.add_all(
            [
                Return(
                    measure_id=ids["H-2"], period="2026/27 M6", version=1, value=Decimal("75"),
                    submitted_at=at("2026-10-12 10:00"), state=ReturnState.APPROVED,
                ),
                Return(
                    measure_id=ids["H-2"], period="2026/27 M6", version=2, value=Decimal("70"),
                    commentary="Two surveyors left.", remedial_action="Agency staff",
                    action_due=date(2026, 11, 1), submitted_at=at("2026-11-02 10:00"),
                    state=ReturnState.APPROVED, source="admin", restated=True,
                    restated_from="75%", correction_reason="Late jobs were counted twice",
                ),
                Return(
                    measure_id=ids["W-1"], period="2026/27 Q2", version=1,
                    value=Decimal("10.5"), commentary="Storms in September.",
                    submitted_at=at("2026-10-15 10:00"), state=ReturnState.SUBMITTED,
                ),
                Escalation(
                    measure_id=ids["H-2"], period="2026/27 M6", reason="off-track",
                    escalation_owner_id=people["eve"], raised_at=at("2026-11-02 10:01"),
                    acknowledged_at=at("2026-11-03 09:30"), acknowledged_by_id=people["eve"],
                ),
                Escalation(
                    measure_id=ids["W-2"], period="2026/27 Q2", reason="overdue",
                    raised_at=at("2026-10-28 09:00"), acknowledged_at=at("2026-10-29 09:00"),
                ),
                ActionPlan(
                    measure_id=ids["H-2"], period="2026/27 M6", description="Agency staff",
                    owner_id=people["ann"], due_date=date(2026, 11, 1),
                    created_at=at("2026-11-02 10:00"),
                ),
                ActionPlan(  # closed before the quarter began: not listed
                    measure_id=ids["H-2"], period="2026/27 M1", description="Old action",
                    due_date=date(2026, 5, 1), created_at=at("2026-05-02 10:00"),
                    status="done", closed_at=at("2026-06-01 10:00"),
                ),
            ]
        )  # fmt: skip
    return sessions


async def board(sessions, kind=ReportKind.BOARD, period=Q2, scope=EVERYTHING, **filters):
    async with sessions() as session:
        return await build(session, kind, period, NOW, POLICY, scope, **filters)


def by_code(report):
    return {row.code: row for row in (report.rows or report.annual)}


async def test_each_measure_at_its_own_period_with_target_actual_rating_and_travel(kingsfold):
    report = await board(kingsfold)
    rows = by_code(report)
    assert [r.code for r in report.rows] == ["A-1", "H-1", "H-2", "K-1", "W-1", "W-2"]
    assert [(p, [s for s, _ in services]) for p, services in report.sections()] == [
        ("Homes", ["Housing"]),
        (NO_PRIORITY, ["Waste"]),
    ]
    h1 = rows["H-1"]
    assert (h1.period, h1.target_shown, h1.actual_shown, h1.rating) == (
        "2026/27 M6",
        "80%",
        "90%",
        Rating.STRONG,
    )
    assert (h1.previous.period, h1.previous.shown, h1.previous.direction) == (
        "2026/27 M5",
        "85%",
        Direction.IMPROVING,
    )
    assert (h1.last_year.period, h1.last_year.shown, h1.last_year.direction) == (
        "2025/26 M6",
        "70%",
        Direction.IMPROVING,
    )
    assert h1.approval_words == "Approved by Eve Esc on Monday 12 October 2026"
    # The last eight months (2025/26 M11 to 2026/27 M6) from the first with a figure or a
    # target: the months with neither after it stay, as gaps in the line.
    assert [(p.period, p.shown) for p in h1.trend] == [
        ("2025/26 M12", "82%"),
        *((f"2026/27 M{n}", "—") for n in range(1, 5)),
        ("2026/27 M5", "85%"),
        ("2026/27 M6", "90%"),
    ]
    assert rows["H-2"].rating is Rating.ACTION
    assert rows["H-2"].previous.direction is Direction.DECLINING
    assert rows["H-2"].last_year.direction is None
    w1 = rows["W-1"]
    assert (w1.period, w1.actual_shown, w1.rating, w1.previous.direction) == (
        "2026/27 Q2",
        "10.5 days",
        Rating.REVIEW,
        Direction.IMPROVING,
    )
    assert (w1.approval, w1.approval_words) == ("submitted", "Awaiting sign-off")
    w2 = rows["W-2"]
    assert (w2.actual_shown, w2.rating, w2.overdue, w2.approval) == ("—", None, True, "overdue")
    assert w2.approval_words == "Overdue: due Wednesday 21 October 2026, escalated"
    assert (rows["K-1"].actual_shown, rows["K-1"].rating) == ("on track", Rating.GOOD)
    assert (rows["A-1"].period, rows["A-1"].rating) == ("2025/26", Rating.STRONG)


async def test_the_restatement_the_escalation_and_the_action_plan_are_on_the_board(kingsfold):
    h2 = by_code(await board(kingsfold))["H-2"]
    assert (h2.restated, h2.restated_from, h2.correction_reason) == (
        True,
        "75%",
        "Late jobs were counted twice",
    )
    assert (h2.commentary, h2.remedial_action, h2.action_due) == (
        "Two surveyors left.",
        "Agency staff",
        date(2026, 11, 1),
    )
    assert h2.escalation == (
        "Escalated to Eve Esc at 10:01 on Monday 2 November.",
        "Eve Esc acknowledged it at 09:30 on Tuesday 3 November.",
    )
    [item] = h2.plan
    assert (item.description, item.owner, item.status) == ("Agency staff", "Ann Owner", "late")


async def test_the_headline_counts_by_rating_and_service(kingsfold):
    headline = (await board(kingsfold)).headline
    assert headline.total == {
        Rating.STRONG: 2,
        Rating.ACTION: 1,
        Rating.REVIEW: 1,
        Rating.GOOD: 1,
        None: 1,
    }
    assert headline.by_service == {
        "Housing": {Rating.STRONG: 2, Rating.ACTION: 1},
        "Waste": {Rating.REVIEW: 1, None: 1, Rating.GOOD: 1},
    }
    assert headline.ratings == (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION)
    assert headline.measures == 6


async def test_the_exception_report_lists_only_off_track_measures_and_the_overdue(kingsfold):
    report = await board(kingsfold, ReportKind.EXCEPTIONS)
    assert [r.code for r in report.rows] == ["H-2", "W-1"]
    # Its first page counts what it lists, not the whole board.
    assert report.headline.total == {Rating.ACTION: 1, Rating.REVIEW: 1}
    assert report.headline.ratings == (Rating.STRONG, Rating.GOOD, Rating.REVIEW, Rating.ACTION)
    [late] = report.overdue
    assert (late.code, late.period, late.due, late.escalated, late.acknowledged) == (
        "W-2",
        "2026/27 Q2",
        date(2026, 10, 21),
        True,
        True,
    )
    assert late.working_days_late == 30  # 22 October to 2 December, working days
    assert late.owner == "Wes Hart"


async def test_the_annual_report_gives_the_outturn_against_target_and_last_year(kingsfold):
    report = await board(kingsfold, ReportKind.ANNUAL, report_period(ReportKind.ANNUAL, "2025/26"))
    h1 = by_code(report)["H-1"]
    assert (h1.period, h1.target_shown, h1.outturn_shown, h1.rating) == (
        "2025/26 M12",
        "80%",
        "82%",
        Rating.GOOD,
    )
    assert (h1.last_year_period, h1.last_year_shown, h1.direction) == (
        "2024/25 M12",
        "78%",
        Direction.IMPROVING,
    )
    assert h1.commentary == "Strong year end."
    assert by_code(report)["A-1"].outturn_shown == "66%"


async def test_what_each_person_may_see(kingsfold):
    async with kingsfold() as session:
        people = {p.email.split("@")[0]: p for p in await session.scalars(select(Person))}
        lee, eve, wes, ann = [
            await scope_of(session, people[n]) for n in ("lee", "eve", "wes", "ann")
        ]
    assert lee.everything
    assert [r.code for r in (await board(kingsfold, scope=wes)).rows] == ["K-1", "W-1", "W-2"]
    # Eve: her own service (Housing) and W-1, which she is escalation owner of.
    assert [r.code for r in (await board(kingsfold, scope=eve)).rows] == [
        "A-1",
        "H-1",
        "H-2",
        "W-1",
    ]
    assert not ann.nothing
    assert ann.words == "your measures"


async def test_filters_by_service_and_priority_and_bad_ones_refused_naming_the_choices(
    kingsfold,
):
    waste = await board(kingsfold, service="waste")
    assert [r.code for r in waste.rows] == ["K-1", "W-1", "W-2"]
    homes = await board(kingsfold, priority="HOMES")
    assert {r.service for r in homes.rows} == {"Housing"}
    with pytest.raises(
        ReportError, match="no service is called 'Parks'; the services are: Housing; Waste"
    ):
        await board(kingsfold, service="Parks")
    with pytest.raises(ReportError, match="the performance board is for a quarter"):
        report_period(ReportKind.BOARD, "2026/27 M6")
    with pytest.raises(ReportError, match="write it like"):
        report_period(ReportKind.BOARD, "Q2")


async def test_sign_off_is_said_for_the_periods_shown(kingsfold):
    report = await board(kingsfold)
    assert report.sign_off == (
        "Not yet signed off: 2025/26, 2026/27 M6 and 2026/27 Q2 (1 return awaits approval)."
    )


async def test_the_open_returns_read_in_bulk_are_those_status_and_the_chasers_read(uow):
    """The exception report reads open returns for thousands of measures from period labels
    alone; on the sample council it finds exactly what views.open_periods finds."""
    today = date(2026, 12, 2)
    async with uow() as tx:
        measures = (await tx.scalars(select(Measure))).all()
        read = await records(tx, measures)
        bulk = await open_periods_of(tx, measures, today, None)
    assert any(bulk.values())  # the sample has returns still awaited
    for m in measures:
        assert bulk[m.id] == open_periods(m, read[m.id], today), m.code


async def test_a_measure_on_the_other_scheme_brings_every_rating_of_that_scheme(kingsfold):
    async with kingsfold() as session, session.begin():
        w1 = await session.scalar(select(Measure).where(Measure.code == "W-1"))
        w1.scheme = Scheme.RAG
    headline = (await board(kingsfold)).headline
    assert headline.ratings == (
        Rating.STRONG,
        Rating.GOOD,
        Rating.REVIEW,
        Rating.ACTION,
        Rating.GREEN,
        Rating.AMBER,
        Rating.RED,
    )  # Green and Red too, though only W-1's Amber is counted
    assert headline.total[Rating.AMBER] == 1


async def test_a_quarter_not_yet_ended_says_so(kingsfold):
    report = await board(kingsfold, period=report_period(ReportKind.BOARD, "2026/27 Q3"))
    assert report.notes[0].startswith("2026/27 Q3 has not ended yet")
    assert (await board(kingsfold)).notes == ()  # Q2 has


async def test_a_measure_under_two_priorities_is_shown_under_each_and_counted_once(kingsfold):
    """Seed 002: an activity entered once, reported under each priority it serves; seeds
    001 and 004: by Cabinet portfolio. W-1 (fly-tipping) serves "Clean streets" and "Homes"
    and reports to the Environment portfolio; Housing's measures to the Housing portfolio."""
    async with kingsfold() as session, session.begin():
        measures = {m.code: m for m in await session.scalars(select(Measure))}
        measures["W-1"].priority_rows = [
            MeasurePriority(position=1, name="Clean streets"),
            MeasurePriority(position=2, name="Homes"),
        ]
        measures["W-1"].portfolio = "Environment"
        for code in ("H-1", "H-2", "A-1"):
            measures[code].portfolio = "Housing"
    report = await board(kingsfold)
    assert [(r.priority, r.code) for r in report.rows] == [
        ("Clean streets", "W-1"),
        ("Homes", "A-1"),
        ("Homes", "H-1"),
        ("Homes", "H-2"),
        ("Homes", "W-1"),
        (NO_PRIORITY, "K-1"),
        (NO_PRIORITY, "W-2"),
    ]
    assert [(p, [s for s, _ in services]) for p, services in report.sections()] == [
        ("Clean streets", ["Waste"]),
        ("Homes", ["Housing", "Waste"]),
        (NO_PRIORITY, ["Waste"]),
    ]
    w1 = [r for r in report.rows if r.code == "W-1"]
    assert {(r.portfolio, r.priorities, r.rating) for r in w1} == {
        ("Environment", ("Clean streets", "Homes"), Rating.REVIEW)
    }
    # The first page counts each measure once, by service and by portfolio.
    assert report.headline.measures == 6
    assert report.headline.by_portfolio == {
        "Environment": {Rating.REVIEW: 1},
        "Housing": {Rating.STRONG: 2, Rating.ACTION: 1},
        NO_PORTFOLIO: {None: 1, Rating.GOOD: 1},
    }

    homes = await board(kingsfold, priority="homes")
    assert [(r.priority, r.code) for r in homes.rows] == [
        ("Homes", "A-1"),
        ("Homes", "H-1"),
        ("Homes", "H-2"),
        ("Homes", "W-1"),
    ]
    environment = await board(kingsfold, portfolio="ENVIRONMENT")
    assert [(r.priority, r.code) for r in environment.rows] == [
        ("Clean streets", "W-1"),
        ("Homes", "W-1"),
    ]
    assert environment.portfolio == "Environment"
    assert environment.covers == "portfolio Environment"
    both = await board(kingsfold, portfolio="environment", priority="homes")
    assert [(r.priority, r.code) for r in both.rows] == [("Homes", "W-1")]
    exceptions = await board(kingsfold, ReportKind.EXCEPTIONS)
    assert [r.code for r in exceptions.rows] == ["W-1", "H-2", "W-1"]
    assert exceptions.headline.total == {Rating.ACTION: 1, Rating.REVIEW: 1}
    annual = await board(kingsfold, ReportKind.ANNUAL, report_period(ReportKind.ANNUAL, "2025/26"))
    assert [r.code for r in annual.annual].count("W-1") == 2
    with pytest.raises(
        ReportError,
        match="--portfolio: no portfolio is called 'Parks'; the portfolios are: Environment; "
        "Housing; No portfolio set",
    ):
        await board(kingsfold, portfolio="Parks")
