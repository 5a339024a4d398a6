"""Authorisation first on every path (issue 17, item 5): every card action and every typed
command, tried by someone with no right to it and with each kind of bad field, as an
attacker would post it (hand-made values, not a card PerfBot drew). Whatever is wrong, the
answer is words that leak nothing of the other measure, nothing is stored, and it is never
the apology kept for PerfBot's own faults.

The victim: RB-06, Amina Hussain's, escalated to Mark Taylor with her commentary and
action, an action-plan item, a question to her and a deep dive. The attacker: Gareth Jones,
who owns other measures of the same service and holds no other role."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import SESSIONS
from bot.teams import commands
from cards.actions import Verb, ids
from cards.seal import HIDDEN
from domain.model import (
    Absence,
    ActionPlan,
    DeepDive,
    Delegate,
    Escalation,
    EscalationQuestion,
    Measure,
    Notification,
    PeriodLock,
    Person,
    Return,
    Snooze,
)
from tests.bot.conftest import GARETH, MARK, NOW, Teams
from tests.bot.test_escalations import button, escalated, press, sent_activity

APOLOGY = "Sorry, something went wrong"
# What must never reach Gareth: Amina's words, RB-06's figure and target, its card.
SECRETS = (
    "assessors off sick",
    "Overtime on Saturdays",
    "78.0%",
    "78%",
    "Council Tax Support claims decided",
)
STORED = (
    Return,
    Escalation,
    EscalationQuestion,
    ActionPlan,
    DeepDive,
    Notification,
    PeriodLock,
    Snooze,
    Delegate,
    Absence,
)
ALTERED = "That card has been changed since PerfBot sent it"
# What a card may send, beyond its verb: every text input and every hidden field.
TEXT_INPUTS = (
    *(
        value
        for name, value in vars(ids).items()
        if name.isupper() and isinstance(value, str) and not value.endswith("_")
    ),
    "confirmed",
    "use_suggestion",
)
# The kinds of bad field: each replaces what the plain press sends.
BAD = {
    "plain": {},
    "too long": dict.fromkeys(TEXT_INPUTS, "x" * 5_000),
    "a lone surrogate": dict.fromkeys(TEXT_INPUTS, "Fine \udfff."),
    "zero-width only": dict.fromkeys(TEXT_INPUTS, "\u200b\u200d\ufeff"),
    "a NUL": dict.fromkeys(TEXT_INPUTS, "Fine\x00."),
    "an unknown code": {"code": "ZZ-99"},
    "an empty period": {"period": ""},
    "a huge period": {"period": "2026/27 M" + "7" * 10_000},
    "an old period": {"period": "1900/01 M1"},
    "a far period": {"period": "0001/02 Q2"},
    "a huge id": {"escalation": "9" * 40, "item": "9" * 40, "return": "-1", "deep_dive": "1e9"},
}


@pytest.fixture
async def victim(teams: Teams) -> dict[str, Any]:
    """RB-06 escalated, with an action-plan item, a question to Amina and a deep dive asked
    for; the hand-made data naming each of them."""
    _, card = await escalated(teams)
    card_id = await sent_activity(teams, "escalation:RB-06:2026/27 Q2:off-track")
    await press(teams, MARK, card_id, button(card, "Ask the owner"), question="Funded?")
    await press(teams, MARK, card_id, button(card, "Request deep dive"))
    async with teams.client.app[SESSIONS]() as session:
        rb06 = await session.scalar(select(Measure.id).where(Measure.code == "RB-06"))

        async def newest(model: Any, *where: Any) -> int:
            found = await session.scalar(select(func.max(model.id)).where(*where))
            assert found is not None, model
            return int(found)

        ids = {
            "escalation": await newest(Escalation, Escalation.measure_id == rb06),
            "question": await newest(EscalationQuestion),
            "item": await newest(ActionPlan, ActionPlan.measure_id == rb06),
            "deep_dive": await newest(DeepDive, DeepDive.measure_id == rb06),
            "return": await newest(Return, Return.measure_id == rb06),
            "mark": await newest(Person, Person.email == MARK.email),
        }
    item = ids["item"]
    return {
        "code": "RB-06",
        "period": "2026/27 Q2",
        "kind": "board",
        "escalation": str(ids["escalation"]),
        "question": str(ids["question"]),
        "item": str(item),
        "deep_dive": str(ids["deep_dive"]),
        "return": str(ids["return"]),
        "returns": [str(ids["return"])],
        "for": str(ids["mark"]),
        "actual": "99",
        "commentary": "Gareth's words.",
        "action": "Gareth's action.",
        "action_due": "2027-03-31",
        "reason": "Gareth's reason.",
        "remedial": "Gareth's remedy.",
        "remedial_owner": GARETH.email,
        "remedial_due": "2027-03-31",
        "answer": "Gareth's answer.",
        "stop_reason": "Gareth says stop.",
        "review_date": "2027-03-31",
        "lead": GARETH.email,
        "decline_reason": "Gareth declines.",
        "lock_reason": "Gareth locks.",
        "lock_force": "true",
        f"progress_{item}": "Gareth's progress.",
        f"done_{item}": "true",
        f"drop_reason_{item}": "Gareth drops it.",
        f"comment_{ids['return']}": "Gareth sends it back.",
    }


async def stored(teams: Teams) -> dict[str, int]:
    async with teams.client.app[SESSIONS]() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in STORED
        }


def answered_in_words_leaking_nothing(teams: Teams, cards_allowed: bool = False) -> str:
    texts = teams.connector.texts()
    said = " ".join(texts)
    cards = teams.connector.cards() + teams.connector.cards(teams.connector.updates())
    shown = said + " ".join(str(card) for card in cards)
    assert APOLOGY not in shown
    for secret in SECRETS:
        assert secret not in shown, secret
    if not cards_allowed:
        assert cards == [], "a card came back"
        assert teams.connector.updates() == [], "the card was replaced"
        assert texts, "no answer"
        for text in texts:  # words for a person, no trace of code
            assert text.rstrip()[-1:] in ".?", text
            assert "Traceback" not in text, text
            assert "Error" not in text, text
    return said


# The verbs whose answer to anyone is their own card: their own measures, their own link.
OWN_CARDS = {Verb.MY_MEASURES, Verb.OPEN_REPORT}


@pytest.mark.parametrize("verb", list(Verb), ids=lambda v: v.value)
async def test_every_card_action_by_someone_with_no_right_is_refused_in_words(teams, victim, verb):
    await teams.install(GARETH)
    for kind, bad in BAD.items():
        before = await stored(teams)
        teams.connector.clear()
        # As a card PerfBot issued would send it (sealed, so the press reaches the use case
        # behind the seal), with the bad values in its hidden data and its inputs.
        sent = {**victim, **bad}
        hidden = {k: v for k, v in sent.items() if k in HIDDEN[verb]}
        typed = {k: v for k, v in sent.items() if k not in HIDDEN[verb]}
        value = {**await teams.sealed({"verb": verb.value, **hidden}), **typed}
        status = await teams.submit(GARETH, f"card-of-{kind}", value)
        assert status in (200, 201), kind
        assert not any(t.startswith(ALTERED) for t in teams.connector.texts()), kind
        try:
            answered_in_words_leaking_nothing(teams, cards_allowed=verb in OWN_CARDS)
        except AssertionError as failed:
            raise AssertionError(f"with {kind}: {failed}") from None
        assert await stored(teams) == before, kind


def _typed_commands() -> list[str]:
    """Every command of the table, as Gareth might type it to reach RB-06 or beyond."""
    said = []
    for command in commands.COMMANDS:
        said.append(commands.example(command.usage, "RB-06", NOW.date()))
    return [
        *said,
        "submit RB-06 2026/27 Q2",
        "submit RB-06 1900/01 Q1",
        "submit RB-06 0001/02 Q1",
        "submit RB-06 2026/27 Q" + "2" * 900,
        "submit ZZ-99",
        "period 0001/02 Q1",
        "review 2026/27 Q2",
        "board 0001/02 Q1",
        "snooze RB-06 until 2026-12-01",
        "delegate RB-06 to gareth.jones@kingsmere.gov.uk",
        "undelegate RB-06 from lucy.price@kingsmere.gov.uk",
        "away until 2026-12-07 delegate gareth.jones@kingsmere.gov.uk",
        "away until 2026-11-23",
        "away until 2099-01-01",
        "submit RB-06 \udfff",
        "submit\x00RB-06",
        "\u200b\u200b",
        "submit RB-06 " + "x" * 100_000,
    ]


# The commands whose answer to anyone is a card of their own: help, their measures, their
# actions, a link to the board for what they may see (and the help card for nonsense).
OWN_CARD_COMMANDS = {"help", "my measures", "actions", "board"}


@pytest.mark.parametrize(
    "typed", _typed_commands(), ids=lambda t: ascii(t[:40])
)  # no surrogates in ids: xdist cannot send them
async def test_every_typed_command_by_someone_with_no_right_is_refused_in_words(
    teams, victim, typed
):
    await teams.install(GARETH)
    before = await stored(teams)
    teams.connector.clear()
    assert await teams.say(GARETH, typed) in (200, 201)
    found = commands.match(typed) if len(typed) < 1_000 else None
    own = found is None or found[0].name in OWN_CARD_COMMANDS
    answered_in_words_leaking_nothing(teams, cards_allowed=own)
    assert await stored(teams) == before
