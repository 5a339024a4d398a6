"""Cumulative measures and benchmarks through the real app (issue 18, parts 1 and 5): RB-01's
April figure is taken without a false question and its direction is against last April; a
figure is questioned once; and benchmarks say where a figure stands on the return card, the
receipt, `status` and the escalation card."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from bot.app import SESSIONS
from bot.loopback import card_text
from domain.model import Measure, Return
from tests.bot.conftest import AMINA, GARETH, MARK, Teams
from tests.bot.test_conversation import data, open_card, stored_returns, values

# Wednesday 13 May 2026: April's council tax collection (2026/27 M1) is due.
MAY = datetime(2026, 5, 13, 9, 0, tzinfo=UTC)


async def in_may(teams: Teams) -> None:
    """The council as it stood in May 2026: no 2026/27 figures of RB-01 yet."""
    teams.now = MAY
    async with teams.client.app[SESSIONS]() as session, session.begin():
        rb01 = select(Measure.id).where(Measure.code == "RB-01").scalar_subquery()
        await session.execute(
            delete(Return).where(Return.measure_id == rb01, Return.period.like("2026/27%"))
        )


def last_card(teams: Teams) -> dict:
    return teams.connector.cards(teams.connector.updates())[-1]


async def test_rb01s_april_figure_is_taken_without_a_question_and_compared_with_last_april(teams):
    await in_may(teams)
    card_id, card = await open_card(teams, AMINA, "RB-01")
    assert data(card)["period"] == "2026/27 M1"
    typed = values(actual="10.9", commentary="April's collection after the annual billing.")
    assert await teams.submit(AMINA, card_id, {**data(card), **typed}) == 201
    receipt = card_text(last_card(teams))
    assert "Received: RB-01 · Council tax collected in year, 2026/27 M1" in receipt
    assert "Did you mean" not in receipt
    # Against April 2025/26 (10.7%), never March's 97.2%: improving, said in words.
    assert "↑ improving against April last year" in receipt
    assert "Since last period" not in receipt
    assert "declining" not in receipt
    [stored] = await stored_returns(teams, "RB-01", "2026/27 M1")
    assert str(stored.value) == "10.9"


async def test_a_slip_in_a_cumulative_figure_is_judged_against_the_same_month_of_earlier_years(
    teams,
):
    await in_may(teams)
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(actual="1.07", commentary="April.")
    await teams.submit(AMINA, card_id, {**data(card), **typed})
    query = last_card(teams)
    text = card_text(query)
    assert "Did you mean 10.7%? You entered 1.07, and April in earlier years were" in text
    assert await stored_returns(teams, "RB-01", "2026/27 M1") == []
    # An impossible percentage is never suggested: 107 is refused as a figure outright.
    await teams.submit(AMINA, card_id, {**data(card), **values(actual="107", commentary="x")})
    assert "107% is not a percentage between 0 and 100" in card_text(last_card(teams))


async def test_the_question_about_a_figure_is_asked_once_and_its_second_submit_is_taken(teams):
    card_id, card = await open_card(teams, GARETH, "RB-03")
    # 180 days (recent months about 20) and no commentary: one card back with both.
    await teams.submit(GARETH, card_id, {**data(card), **values(actual="180")})
    query = last_card(teams)
    text = card_text(query)
    assert "Did you mean 18.0 days? You entered 180" in text
    assert "Add a short commentary" in text
    # "Yes, 180 is right", still without commentary: only the commentary is asked for, and
    # the card that comes back keeps the confirmation.
    await teams.submit(
        GARETH, card_id, {**data(query, "Yes, 180 is right"), **values(actual="180")}
    )
    again = last_card(teams)
    text = card_text(again)
    assert "Did you mean" not in text
    assert "Add a short commentary" in text
    assert data(again)["confirmed"] == "180"
    assert await stored_returns(teams, "RB-03", "2026/27 M7") == []
    # The commentary added, the same figure is sent again: taken, not questioned again.
    typed = values(
        actual="180",
        commentary="A real backlog after the system failure.",
        action="Agency staff.",
        action_due="2027-02-28",
    )
    await teams.submit(GARETH, card_id, {**data(again), **typed})
    receipt = card_text(last_card(teams))
    assert "Received: RB-03" in receipt
    [stored] = await stored_returns(teams, "RB-03", "2026/27 M7")
    assert str(stored.value) == "180.0"


async def test_a_changed_figure_after_a_confirmation_is_questioned_afresh(teams):
    card_id, card = await open_card(teams, GARETH, "RB-03")
    await teams.submit(GARETH, card_id, {**data(card), **values(actual="180")})
    query = last_card(teams)
    await teams.submit(
        GARETH, card_id, {**data(query, "Yes, 180 is right"), **values(actual="1800")}
    )
    assert "Did you mean 18.0 days? You entered 1800" in card_text(last_card(teams))
    assert await stored_returns(teams, "RB-03", "2026/27 M7") == []


async def test_benchmarks_are_on_the_return_card_the_receipt_and_status(teams):
    card_id, card = await open_card(teams, GARETH, "RB-03")
    shown = card_text(card)
    assert "Benchmarks" in shown
    assert (
        "England 19.0 days (LG Inform, 2025/26); Statistical nearest neighbours 18.2 days "
        "(quartiles 15.9 days, 18.0 days, 20.4 days; LG Inform, 2025/26); CIPFA nearest "
        "neighbours 18.5 days (CIPFA)"
    ) in shown
    typed = values(actual="17.5", commentary="Claims processed ahead of target.")
    await teams.submit(GARETH, card_id, {**data(card), **typed})
    receipt = card_text(last_card(teams))
    standing = (
        "better than the England average of 19.0 days (LG Inform, 2025/26); 2nd quartile of "
        "Statistical nearest neighbours (median 18.0 days; LG Inform, 2025/26); better than "
        "the CIPFA nearest neighbours average of 18.5 days (CIPFA)"
    )
    assert standing in receipt
    teams.connector.clear()
    assert await teams.say(MARK, "status") == 201
    assert standing in card_text(teams.connector.cards()[0])


async def test_the_escalation_card_says_where_the_figure_stands(teams):
    from tests.bot.test_escalations import dispatch, to

    await teams.install(MARK)
    card_id, card = await open_card(teams, GARETH, "RB-03")
    typed = values(
        actual="26",
        commentary="Two assessors off sick.",
        action="Overtime until the backlog is cleared.",
        action_due="2027-01-29",
    )
    await teams.submit(GARETH, card_id, {**data(card), **typed})
    assert "Mark Taylor is being sent an escalation" in card_text(last_card(teams))
    teams.connector.clear()
    await dispatch(teams)
    [call] = to(teams, MARK)
    escalation = card_text(teams.connector.cards([call])[0])
    assert "worse than the England average of 19.0 days (LG Inform, 2025/26)" in escalation
    assert "bottom quartile of Statistical nearest neighbours" in escalation


async def test_a_cumulative_measures_escalation_card_is_against_the_same_month_last_year(teams):
    from tests.bot.test_escalations import dispatch, to

    await teams.install(MARK)
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(
        actual="55", commentary="System outage.", action="Recovery plan.", action_due="2027-01-31"
    )
    await teams.submit(AMINA, card_id, {**data(card), **typed})
    teams.connector.clear()
    await dispatch(teams)
    [call] = to(teams, MARK)
    escalation = card_text(teams.connector.cards([call])[0])
    assert "↓ declining against October last year" in escalation  # 66.9% in 2025/26 M7
    assert "Since last period" not in escalation
