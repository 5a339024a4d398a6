"""`status` through the real app: an escalation owner's and the Leadership Team's returns and
ratings, by Cabinet portfolio (seeds 001, 002 and 004 report by portfolio), then service."""

from __future__ import annotations

from sqlalchemy import select

from bot.loopback import card_text
from domain.model import Measure
from tests.bot.conftest import HELEN, MARK


async def _unset_portfolio(teams, code: str) -> None:
    from bot.app import SESSIONS

    async with teams.client.app[SESSIONS]() as session, session.begin():
        measure = await session.scalar(select(Measure).where(Measure.code == code))
        assert measure is not None
        measure.portfolio = None


def _headings(text: str) -> list[str]:
    return [line.split(" — ")[0] for line in text.splitlines() if " portfolio — " in line]


async def test_status_shows_each_portfolio_with_its_services_under_it(teams):
    await _unset_portfolio(teams, "EW-06")
    assert await teams.say(HELEN, "status") == 201
    [card] = teams.connector.cards()
    text = card_text(card)
    assert _headings(text) == [
        "Communities and Public Protection portfolio",
        "Corporate Services and People portfolio",
        "Customers and Digital portfolio",
        "Environment and Climate Change portfolio",
        "Finance and Resources portfolio",
        "Housing portfolio",
        "Planning and Economic Growth portfolio",
    ]
    lines = text.splitlines()
    finance = next(i for i, line in enumerate(lines) if line.startswith("Finance and Resources"))
    housing = next(i for i, line in enumerate(lines) if line.startswith("Housing portfolio"))
    # RB-01 to RB-06 and KA-06 (Revenues and Benefits) and CS-04 (invoices paid) report to
    # the Cabinet member for Finance and Resources.
    assert lines[finance].split(" — ")[1].endswith("off track")
    between = lines[finance:housing]
    assert any(line.startswith("Customer and Corporate Services — ") for line in between)
    assert any(line.startswith("Revenues and Benefits — ") for line in between)
    assert "CS-04" in between
    assert "CS-01" not in between
    # A measure without a portfolio comes last, said so.
    last = next(i for i, line in enumerate(lines) if line.startswith("No portfolio set — "))
    assert last > housing
    assert lines[last:-1] == [
        "No portfolio set — 1 of 1 received, 0 overdue, 0 off track",
        "Environment and Waste — 1 of 1 received, 0 overdue, 0 off track",
        "EW-06",
        "2026/27 Q2 · approved · ✓ Good",
    ]


async def test_an_escalation_owners_status_has_only_their_portfolios(teams):
    assert await teams.say(MARK, "status") == 201
    [card] = teams.connector.cards()
    assert _headings(card_text(card)) == ["Finance and Resources portfolio"]
