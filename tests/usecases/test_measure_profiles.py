"""Cumulative measures and benchmarks as use cases on a real database (issue 18, parts 1 and
5): what a submission answers, the export's direction column, and the board's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, select

from domain import board, returns
from domain.board import ReportKind, Scope
from domain.model import Measure, Person, Return, Target
from domain.periods import Period
from domain.policy import Policy
from domain.ratings import Direction
from domain.reporting import performance
from domain.returns import Rejected, SubmitReturn
from domain.views import Receipt
from tests.conftest import NOW

AMINA = "amina.hussain@kingsmere.gov.uk"
GARETH = "gareth.jones@kingsmere.gov.uk"
POLICY = Policy()
MAY = datetime(2026, 5, 13, 9, 0, tzinfo=UTC)


async def submit(uow, who: Person, now: datetime, **fields: str):
    command = SubmitReturn(person_id=who.id, card_id=f"card-{fields}", **fields)
    return await uow.run(
        lambda tx: returns.submit_return(tx, command, who, now, POLICY, 4_000),
        attempts=returns.SUBMIT_ATTEMPTS,
    )


async def without_this_years_rb01(uow) -> None:
    async with uow() as tx:
        rb01 = select(Measure.id).where(Measure.code == "RB-01").scalar_subquery()
        await tx.execute(
            delete(Return).where(Return.measure_id == rb01, Return.period.like("2026/27%"))
        )


async def test_an_april_collection_figure_is_taken_and_compared_with_last_april(uow, person):
    await without_this_years_rb01(uow)
    amina = await person(AMINA)
    receipt = await submit(
        uow, amina, MAY, code="RB-01", period="2026/27 M1", actual="10.5", commentary="April."
    )
    assert isinstance(receipt, Receipt)
    assert receipt.since_last_period is None  # never against March's 97.2%
    assert receipt.since_last_year is Direction.DECLINING  # April 2025/26 was 10.7%
    assert receipt.last_year_words == "April last year"


async def test_a_cumulative_target_set_flat_at_the_years_end_queries_no_april_figure(uow, person):
    # A council that sets RB-01's April target at the year's 97% (not profiled) still has
    # earlier Aprils to judge by: 10.5% is ordinary for April, so it is not queried (it is
    # off track against that target, so the card asks for an action, as it should).
    await without_this_years_rb01(uow)
    async with uow() as tx:
        rb01 = await tx.scalar(select(Measure).where(Measure.code == "RB-01"))
        april = await tx.scalar(
            select(Target).where(Target.measure_id == rb01.id, Target.period == "2026/27 M1")
        )
        april.value = Decimal("97.0")
        # and only last April to judge by, which the year's-end target would outweigh
        await tx.execute(
            delete(Return).where(
                Return.measure_id == rb01.id, Return.period.in_(["2023/24 M1", "2024/25 M1"])
            )
        )
    amina = await person(AMINA)
    receipt = await submit(
        uow, amina, MAY, code="RB-01", period="2026/27 M1", actual="10.5", commentary="April."
    )
    assert isinstance(receipt, Rejected)
    assert receipt.problems.doubt is None
    assert set(receipt.problems.errors) == {"action", "action_due"}


async def test_an_ordinary_measures_receipt_still_compares_with_the_period_before(uow, person):
    gareth = await person(GARETH)
    receipt = await submit(
        uow, gareth, NOW, code="RB-03", period="2026/27 M7", actual="17.5", commentary="Good."
    )
    assert isinstance(receipt, Receipt)
    assert receipt.since_last_period is Direction.IMPROVING  # September was 21.7 days
    assert receipt.last_year_words == ""
    assert receipt.benchmarks.startswith("better than the England average of 19.0 days")


async def test_a_questioned_figure_comes_back_with_every_other_problem_at_once(uow, person):
    gareth = await person(GARETH)
    rejected = await submit(uow, gareth, NOW, code="RB-03", period="2026/27 M7", actual="180")
    assert isinstance(rejected, Rejected)
    problems = rejected.problems
    assert problems.doubt is not None
    assert set(problems.errors) == {"actual", "commentary"}
    confirmed = await submit(
        uow, gareth, NOW, code="RB-03", period="2026/27 M7", actual="180", confirmed="180"
    )
    assert isinstance(confirmed, Rejected)
    assert confirmed.problems.doubt is None
    assert confirmed.problems.confirmed == "180"  # carried on the card that comes back
    assert "actual" not in confirmed.problems.errors


async def test_the_exports_direction_for_a_cumulative_measure_is_against_last_year(uow):
    async with uow() as tx:
        rows = await performance(tx, POLICY.scheme, Period.parse("2026/27 M1"))
    by_code = {row.measure.code: row for row in rows}
    # RB-01 2026/27 M1 is 10.7%, as April 2025/26 was; March 2025/26 was 97.2%.
    assert by_code["RB-01"].direction is Direction.UNCHANGED
    assert by_code["RB-01"].export_values()[-1] == "unchanged"
    # RB-03 (not cumulative, lower is better) is still against the previous period: 19.0
    # days in April after 18.2 in March is declining (against April 2025/26's 16.1 too).
    assert by_code["RB-03"].direction is Direction.DECLINING


async def test_the_board_says_a_cumulative_figure_is_not_compared_with_the_period_before(uow):
    async with uow() as tx:
        report = await board.build(
            tx, ReportKind.BOARD, Period.parse("2026/27 Q1"), NOW, POLICY, Scope(everything=True)
        )
    rows = {row.code: row for row in report.rows}
    rb01 = rows["RB-01"]  # at 2026/27 M3
    assert rb01.previous.direction is None
    assert rb01.previous.note == (
        "not compared: a year-to-date figure is compared with June last year"
    )
    assert rb01.last_year.against == "June last year"
    assert rb01.last_year.period == "2025/26 M3"
    assert rb01.last_year.direction is not None
    rb03 = rows["RB-03"]
    assert rb03.previous.note == ""
    assert rb03.previous.direction is not None
    assert [b.name for b in rb03.benchmarks] == [
        "England",
        "Statistical nearest neighbours",
        "CIPFA nearest neighbours",
    ]
    assert rb03.benchmark_words.startswith("better than the England average of 19.0 days")
    # RB-01's benchmarks are of September and March: none is set beside June.
    assert rb01.benchmark_words == ""
    # EW-01's England figure of 2025/26, not of 2024/25: the latest before the quarter.
    assert rows["EW-01"].benchmark_words == (
        "better than the England average of 42.3% (LG Inform, 2025/26); 2nd quartile of CIPFA "
        "nearest neighbours (median 47.1%; CIPFA, 2025/26); better than the APSE family group "
        "average of 45.0% (APSE, 2025/26)"
    )
