"""The weekly summary's figures against a small council worked out by hand (issue 14).

Kingsfold has two services and five monthly percentage measures, each with a target of 80%
for September to November 2026 (2026/27 M6 to M8). Under Strong/Good/Review/Action, 80%
is Strong above 84% (5% better), Good down to 78.4% (2% worse), Review down to 72% (10%
worse), Action below. The summary is for Monday 7 December 2026; the last one went on
Monday 30 November at 09:00.

| measure | service | M6 | M7 (sent)         | M8 (sent)        | now    | a week ago | last period |
|---------|---------|----|-------------------|------------------|--------|------------|-------------|
| H-1     | Housing | 81 | 85 (10 Nov) Strong| 90 (3 Dec) Strong| Strong | Strong (M7)| Strong (M7) |
| H-2     | Housing | 81 | 70 (12 Nov) Action| 79 (2 Dec) Good  | Good   | Action (M7)| Action (M7) |
| H-3     | Housing | 81 | none: overdue     | not due yet      | Good   | Good (M6)  | (none)      |
| W-1     | Waste   | 81 | 81 (15 Nov) Good  | 60 (4 Dec) Action| Action | Good (M7)  | Good (M7)   |
| W-2     | Waste   | 81 | 95 (1 Dec) Strong | not due yet      | Strong | Good (M6)  | Good (M6)   |

So: Housing expects 4 returns (H-1, H-2 and H-3 for November, H-3 for October too) and
has 2; Waste expects 2 (November's) and has 1; H-3's October return is overdue (due Friday
20 November: 15 working days after October). Ratings now: Strong 2, Good 2, Action 1; a week
ago Strong 1, Good 3, Action 1; a period ago Strong 1, Good 2, Action 1. W-1 is newly off
track, H-2 recovered, W-2 is newly Strong. Since the last summary: W-1's escalation (not
acknowledged; H-2's, raised in November, is not new), H-2's deep dive still waiting (one
decided in October is not listed), H-2's action due on 1 December is late, H-1's September
figure was restated on 2 December, and Wes Hart (Waste) cannot be reached."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from domain import db, summary
from domain.importing import import_workbook
from domain.model import ActionPlan, DeepDive, Escalation, Measure, Person, Return
from domain.policy import Policy
from domain.ratings import Rating
from domain.workbook import read_sheets

WEEK_OF = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday; GMT, so 09:00 in London too
LAST = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEOPLE = """email,name,service,role
lee@kingsfold.gov.uk,Lee Leader,Chief Executive,leadership
pat@kingsfold.gov.uk,Pat Perf,Chief Executive,admin
eve@kingsfold.gov.uk,Eve Esc,Housing,escalation_owner
ann@kingsfold.gov.uk,Ann Owner,Housing,owner
wes@kingsfold.gov.uk,Wes Hart,Waste,owner
"""
MEASURES = (
    "code,title,service,owner_email,escalation_owner_email,unit,polarity,frequency\n"
    + "".join(
        f"{code},{title},{service},{owner},eve@kingsfold.gov.uk,percent,higher,monthly\n"
        for code, title, service, owner in (
            ("H-1", "Rent collected", "Housing", "ann@kingsfold.gov.uk"),
            ("H-2", "Repairs on time", "Housing", "ann@kingsfold.gov.uk"),
            ("H-3", "Voids relet", "Housing", "ann@kingsfold.gov.uk"),
            ("W-1", "Bins collected", "Waste", "wes@kingsfold.gov.uk"),
            ("W-2", "Recycling", "Waste", "wes@kingsfold.gov.uk"),
        )
    )
)
CODES = ("H-1", "H-2", "H-3", "W-1", "W-2")
TARGETS = "code,period,target\n" + "".join(
    f"{code},2026/27 M{m},80\n" for code in CODES for m in (6, 7, 8)
)
ACTUALS = "code,period,actual,commentary,submitted_by,submitted_at\n" + "".join(
    f"{code},2026/27 {period},{value},As expected.,,{at}\n"
    for code, period, value, at in (
        *((code, "M6", 81, "2026-10-15 10:00") for code in CODES),
        ("H-1", "M7", 85, "2026-11-10 10:00"),
        ("H-2", "M7", 70, "2026-11-12 10:00"),
        ("W-1", "M7", 81, "2026-11-15 10:00"),
        ("W-2", "M7", 95, "2026-12-01 10:00"),
        ("H-1", "M8", 90, "2026-12-03 10:00"),
        ("H-2", "M8", 79, "2026-12-02 10:00"),
        ("W-1", "M8", 60, "2026-12-04 10:00"),
    )
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
async def kingsfold_db(engine, tmp_path: Path):
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
        await import_workbook(session, read_sheets(folder), now=at("2026-09-01 09:00"))
        ids = {m.code: m.id for m in await session.scalars(select(Measure))}
        eve = await session.scalar(select(Person).where(Person.email.startswith("eve@")))
        wes = await session.scalar(select(Person).where(Person.email.startswith("wes@")))
        wes.unreachable_reason = "Teams said the user has blocked the app"
        session.add_all(
            [
                Escalation(
                    measure_id=ids["W-1"], period="2026/27 M8", reason="off-track",
                    escalation_owner_id=eve.id, raised_at=at("2026-12-04 10:01"),
                ),
                Escalation(  # raised before the last summary: not new
                    measure_id=ids["H-2"], period="2026/27 M7", reason="off-track",
                    escalation_owner_id=eve.id, raised_at=at("2026-11-12 10:01"),
                    acknowledged_at=at("2026-11-13 09:00"), acknowledged_by_id=eve.id,
                ),
                DeepDive(
                    measure_id=ids["H-2"], period="2026/27 M7", reason="persistent",
                    flagged_at=at("2026-11-20 09:00"),
                ),
                DeepDive(  # decided before the last summary: not listed
                    measure_id=ids["W-1"], period="2026/27 M4", reason="persistent",
                    flagged_at=at("2026-10-01 09:00"), decision="accepted",
                    decided_at=at("2026-10-02 09:00"),
                ),
                ActionPlan(
                    measure_id=ids["H-2"], period="2026/27 M7", description="Agency staff",
                    due_date=date(2026, 12, 1), created_at=at("2026-11-12 10:00"),
                ),
                ActionPlan(  # not due yet
                    measure_id=ids["W-1"], period="2026/27 M8", description="Extra round",
                    due_date=date(2027, 1, 15), created_at=at("2026-12-04 10:00"),
                ),
                ActionPlan(  # done
                    measure_id=ids["H-1"], period="2026/27 M6", description="Old action",
                    due_date=date(2026, 11, 1), created_at=at("2026-10-15 10:00"),
                    status="done",
                ),
                Return(
                    measure_id=ids["H-1"], period="2026/27 M6", version=2, value=Decimal("82"),
                    commentary="Late data.", submitted_at=at("2026-12-02 11:00"),
                    source="admin", restated=True, restated_from="81%",
                    correction_reason="The bank's late file",
                ),
            ]
        )  # fmt: skip
    return sessions


@pytest.fixture
async def kingsfold(kingsfold_db):
    async with kingsfold_db() as session:
        return await summary.build(session, WEEK_OF, Policy(), LAST)


def codes(lines) -> list[str]:
    return [line.code for line in lines]


async def test_the_returns_by_service_with_the_overdue_named_by_measure_not_owner(kingsfold):
    s = kingsfold
    assert s.week_of == date(2026, 12, 7)
    assert s.periods == ("2026/27 M8", "2026/27 M7")
    housing, waste = s.returns
    assert (housing.service, housing.expected, housing.received) == ("Housing", 4, 2)
    assert (waste.service, waste.expected, waste.received) == ("Waste", 2, 1)
    [late] = housing.overdue
    assert (late.code, late.period, late.service) == ("H-3", "2026/27 M7", "Housing")
    assert late.note == "due Friday 20 November 2026, 11 working days late"
    assert "Ann" not in repr(housing)  # never the owner's name
    assert (s.expected, s.received) == (6, 3)


async def test_the_ratings_now_a_week_ago_and_a_period_ago(kingsfold):
    s = kingsfold
    counts = {c.rating: (c.now, c.last_week, c.last_period) for c in s.ratings}
    assert counts == {
        Rating.STRONG: (2, 1, 1),
        Rating.GOOD: (2, 3, 2),
        Rating.REVIEW: (0, 0, 0),
        Rating.ACTION: (1, 1, 1),
    }
    assert [c.rating for c in s.ratings] == [
        Rating.STRONG,
        Rating.GOOD,
        Rating.REVIEW,
        Rating.ACTION,
    ]
    assert s.by_service == {
        "Housing": {Rating.STRONG: 1, Rating.GOOD: 2},
        "Waste": {Rating.STRONG: 1, Rating.ACTION: 1},
    }


async def test_what_moved_since_the_last_summary(kingsfold):
    s = kingsfold
    [off] = s.new_off_track
    assert (off.code, off.period, off.shown, off.rating, off.was) == (
        "W-1",
        "2026/27 M8",
        "60%",
        Rating.ACTION,
        Rating.GOOD,
    )
    [back] = s.recoveries
    assert (back.code, back.rating, back.was) == ("H-2", Rating.GOOD, Rating.ACTION)
    assert [(m.code, m.rating, m.was) for m in s.strong] == [("W-2", Rating.STRONG, Rating.GOOD)]
    [escalation] = s.escalations
    assert (escalation.code, escalation.period, escalation.acknowledged) == (
        "W-1",
        "2026/27 M8",
        False,
    )
    assert codes(s.deep_dives) == ["H-2"]
    assert s.deep_dives[0].note == "off track for periods running; waiting for your decision"
    [action] = s.actions_late
    assert (action.code, action.description, action.due) == (
        "H-2",
        "Agency staff",
        date(2026, 12, 1),
    )
    [restated] = s.restatements
    assert (restated.code, restated.period, restated.was, restated.now, restated.reason) == (
        "H-1",
        "2026/27 M6",
        "81%",
        "82%",
        "The bank's late file",
    )
    assert s.unreachable == {"Waste": 1}
    assert not s.quiet


async def test_a_quiet_week_is_quiet(kingsfold, engine):
    # A week later nothing has moved and nothing new happened, but H-3 is still overdue.
    async with db.session_factory(engine)() as session:
        later = await summary.build(
            session, datetime(2026, 12, 14, 9, 0, tzinfo=UTC), Policy(), WEEK_OF
        )
    assert later.new_off_track == later.recoveries == later.escalations == ()
    assert later.restatements == ()
    assert not later.quiet  # H-3 overdue, H-2's action late and Wes unreachable still say so
    assert codes(later.returns[0].overdue) == ["H-3"]


async def test_measures_no_longer_reported_are_left_out_of_every_section(kingsfold_db):
    async with kingsfold_db() as session, session.begin():
        for measure in await session.scalars(
            select(Measure).where(Measure.code.in_(["H-1", "H-2", "W-1"]))
        ):
            measure.active = False
    async with kingsfold_db() as session:
        s = await summary.build(session, WEEK_OF, Policy(), LAST)
    assert (s.escalations, s.deep_dives, s.actions_late, s.restatements) == ((), (), (), ())
    assert "H-1" not in codes(s.strong)
    assert "W-1" not in codes(s.new_off_track)


async def test_the_detail_says_which_periods_are_overdue_and_which_are_not_due_yet(kingsfold_db):
    async with kingsfold_db() as session:
        shown = await summary.detail(session, "H-3", date(2026, 12, 7), Policy())
    assert [(line.period, line.shown) for line in shown.history] == [
        ("2026/27 M6", "81%"),
        ("2026/27 M7", "overdue (due Friday 20 November)"),
        ("2026/27 M8", "not due yet (due Monday 21 December)"),
    ]


async def test_the_periods_shown_include_each_measures_latest_rated_ones(kingsfold):
    # The open periods (M8, and M7 where H-3's is still awaited), and every period a rating
    # counted comes from (M6 for H-3, whose latest figure is September's).
    assert kingsfold.shown == ("2026/27 M8", "2026/27 M7", "2026/27 M6")
