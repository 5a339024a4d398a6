"""Hostile and careless values sent on the return card and typed in chat (issue 17): each is
answered with a sentence or the card back with its problem, nothing out of range is stored,
no turn crashes and the card that comes back stays within Teams' size."""

from __future__ import annotations

import asyncio
import json

from bot.loopback import card_text, elements
from domain.model import AuditEntry, Return
from tests.bot.conftest import AMINA, GARETH
from tests.bot.test_conversation import count, data, open_card, stored_returns, values

APOLOGY = "Sorry, something went wrong"
CARD_LIMIT = 28 * 1024  # Teams refuses a card bigger than about 28 KB


def _said(teams) -> str:
    return " ".join(teams.connector.texts())


def _card_back(teams) -> dict:
    [update] = teams.connector.updates()
    return teams.connector.cards([update])[0]


def _inputs(card: dict) -> dict:
    return {
        node["id"]: node.get("value")
        for node in elements(card)
        if str(node.get("type", "")).startswith("Input.")
    }


async def _press(teams, user, card_id: str, value: dict) -> None:
    teams.connector.clear()
    assert await teams.submit(user, card_id, value) == 201
    assert APOLOGY not in _said(teams)


async def test_a_figure_of_thirty_digits_is_a_problem_on_the_card_not_a_crash(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    for figure in ("1" * 29 + ".5", "0." + "1" * 40, "9" * 13):
        await _press(
            teams, AMINA, card_id, {**data(card), **values(actual=figure, commentary="Fine.")}
        )
        again = _card_back(teams)
        assert _inputs(again)["actual"] == figure
        assert "digits" in card_text(again) or "too large" in card_text(again), figure
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_a_period_in_year_0_or_10000_is_refused_in_a_sentence(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    typed = values(actual="66.5", commentary="Fine.")
    for period in ("0000/01 M1", "0001/02 M1", "9999/00 M1", "10000/01 M1", "1900/01 M1"):
        # Behind the seal (an edited card is refused before this), as if PerfBot had
        # issued a card for such a period.
        forged = await teams.sealed({**data(card), "period": period, **typed})
        await _press(teams, AMINA, card_id, forged)
        [said] = teams.connector.texts()
        assert "Nothing was saved" in said, period
    for typed_command in ("submit RB-01 0001/02 M1", "submit RB-01 9999/00 M1"):
        teams.connector.clear()
        assert await teams.say(AMINA, typed_command) == 201
        assert APOLOGY not in _said(teams)
        assert "2000/01" in _said(teams), typed_command
    async with _session(teams) as session:
        from sqlalchemy import select

        labels = set(await session.scalars(select(Return.period)))
    assert not [label for label in labels if not label.startswith("20")]


async def test_text_with_lone_surrogates_or_control_characters_comes_back_marked(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    for commentary in ("Fine \udfff.", "Fine\x00.", "Fine\x1b[31m.", "Fine\x85.", "\ufffe"):
        await _press(
            teams, AMINA, card_id, {**data(card), **values(actual="66.5", commentary=commentary)}
        )
        again = _card_back(teams)
        assert "Commentary" in card_text(again) or "commentary" in card_text(again)
        assert "character" in card_text(again), repr(commentary)
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_commentary_of_only_invisible_characters_is_empty(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    for commentary in ("\u200b\u200b", "\u200d\ufeff \u2060", "\u00a0\u3000", "\u200c\t\n"):
        await _press(
            teams, AMINA, card_id, {**data(card), **values(actual="66.5", commentary=commentary)}
        )
        assert "Add a short commentary" in card_text(_card_back(teams)), repr(commentary)
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_text_is_stored_in_one_normal_form(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    commentary = "Cafe\u0301 rates on profile."  # an e and a combining acute accent
    await _press(
        teams, AMINA, card_id, {**data(card), **values(actual="66.5", commentary=commentary)}
    )
    [stored] = await stored_returns(teams, "RB-01", "2026/27 M7")
    assert stored.commentary == "Caf\u00e9 rates on profile."


async def test_a_hundred_thousand_characters_come_back_cut_short_within_the_card_limit(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    huge = "Lorem ipsum dolor sit amet. " * 4_000  # 112,000 characters
    await _press(
        teams,
        AMINA,
        card_id,
        {**data(card), **values(actual="66.5", commentary=huge, action=huge, reason=huge)},
    )
    again = _card_back(teams)
    assert len(json.dumps(again).encode()) < CARD_LIMIT
    assert "over 4,000 characters" in card_text(again)
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_too_long_with_an_unknown_code_or_an_empty_period_is_a_sentence(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    huge = values(actual="66.5", commentary="x" * 5_000)
    for tampered in ({"code": "ZZ-99"}, {"period": ""}, {"code": ""}, {"period": "\udfff"}):
        await _press(teams, AMINA, card_id, {**data(card), **huge, **tampered})
        [said] = teams.connector.texts()
        assert "nothing was saved" in said.lower(), tampered
        assert not teams.connector.updates()


async def test_a_non_owner_with_a_too_long_field_gets_a_sentence_not_the_card(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    for field in ("commentary", "action", "correction_reason", "progress_1"):
        await _press(
            teams, GARETH, card_id, {**data(card), **values(actual="66.5"), field: "x" * 5_000}
        )
        [said] = teams.connector.texts()
        assert "Only the owner of RB-01" in said
        assert not teams.connector.updates()
        assert "66.3" not in said  # RB-01's target
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_not_available_pressed_at_the_same_moment_stores_one_reason_and_answers_all(teams):
    card_id, card = await open_card(teams, AMINA, "RB-01")
    show = next(a for a in card["actions"] if a["type"] == "Action.ShowCard")
    na = {**show["card"]["actions"][0]["data"], **values(reason="The report runs late.")}
    teams.connector.clear()
    statuses = await asyncio.gather(*(teams.submit(AMINA, card_id, na) for _ in range(4)))
    assert statuses == [201] * 4
    assert APOLOGY not in _said(teams)
    answers = [card_text(c) for c in teams.connector.cards(teams.connector.updates())]
    assert len(answers) == 4
    assert all("is not available yet" in a for a in answers)
    assert len(await stored_returns(teams, "RB-01", "2026/27 M7")) == 1
    assert await count(teams, AuditEntry, AuditEntry.action == "not available") == 1


def _session(teams):
    from bot.app import SESSIONS

    return teams.client.app[SESSIONS]()


async def test_the_return_card_with_every_field_at_its_worst_stays_within_the_card_limit(teams):
    """Every input at the longest allowed, in characters of four bytes each, and each with a
    problem: the card that comes back is still one Teams takes."""
    card_id, card = await open_card(teams, AMINA, "RB-01")
    worst = "\U0001f600" * 4_000  # within 4,000 characters, 16,000 bytes
    typed = {
        "actual": "\U0001f600" * 100,
        "commentary": worst,
        "action": worst,
        "action_due": "\U0001f600" * 100,
        "reason": worst,
        "correction_reason": worst,
        "status": "\U0001f600" * 100,
        **{f"progress_{i}": "\U0001f600" * 1_000 for i in range(1, 21)},
        **{f"done_{i}": "true" for i in range(1, 21)},
    }
    await _press(teams, AMINA, card_id, {**data(card), **typed})
    again = _card_back(teams)
    assert len(json.dumps(again, ensure_ascii=False).encode()) <= CARD_LIMIT
    assert "is not a number" in card_text(again) or "too long" in card_text(again)
    assert await stored_returns(teams, "RB-01", "2026/27 M7") == []


async def test_the_export_works_for_the_whole_council_after_hostile_input(teams):
    from domain.periods import Period
    from domain.ratings import Scheme
    from domain.reporting import EXPORT_COLUMNS, performance
    from domain.workbook import write_table

    card_id, card = await open_card(teams, AMINA, "RB-01")
    show = next(a for a in card["actions"] if a["type"] == "Action.ShowCard")
    na = show["card"]["actions"][0]["data"]
    for period in ("0001/02 M1", "1999/00 M12", "2100/01 M1", "2026/27 M7"):
        for figure in ("1" * 29, "66.5", "\udfff"):
            typed = values(actual=figure, commentary="\u200b", reason="Late\x00")
            await _press(teams, AMINA, card_id, {**data(card), "period": period, **typed})
            await _press(teams, AMINA, card_id, {**na, "period": period, **typed})
    async with _session(teams) as session:
        rows = await performance(session, Scheme.STRONG_GOOD_REVIEW_ACTION, None)
    assert rows
    assert write_table(None, EXPORT_COLUMNS, [r.export_values() for r in rows], "csv")
    for row in rows:
        Period.parse(row.export_values()[EXPORT_COLUMNS.index("period")])
