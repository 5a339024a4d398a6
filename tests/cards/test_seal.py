"""The seal on every card's buttons (cards/seal.py): a button acts only on what PerfBot
issued it for."""

from __future__ import annotations

from typing import Any

import pytest

from bot.loopback import elements
from cards.actions import Verb
from cards.seal import FRESH, HIDDEN, SIG, Broken, Keyring, UnknownKey, buttons, check, seal
from tests.cards.test_cards import every_card

KEYS = Keyring({1: "a" * 43}, 1)
CARDS = every_card("plain")


def input_ids(card: dict[str, Any]) -> set[str]:
    return {n["id"] for n in elements(card) if str(n.get("type", "")).startswith("Input.")}


def test_every_verb_says_which_of_its_values_are_sealed():
    assert set(HIDDEN) == set(Verb)
    assert set(FRESH) == set(Verb)


@pytest.mark.parametrize("name", list(CARDS))
def test_every_button_carries_only_values_the_seal_covers(name):
    card = CARDS[name]
    for data in buttons(card):
        assert set(data) - {"verb"} <= set(HIDDEN[Verb(data["verb"])]), (name, data)
    # What a person types on a card never takes the name of a sealed value of its buttons
    # (Teams sends every input with the button's data, in one object), nor of the seal.
    sealed = {name for data in buttons(card) for name in HIDDEN[Verb(data["verb"])]}
    assert not input_ids(card) & (sealed | {SIG, "verb"}), name


@pytest.mark.parametrize("name", list(CARDS))
def test_each_button_of_every_card_opens_with_its_seal_and_the_card_is_left_as_it_was(name):
    card = CARDS[name]
    before = repr(card)
    sealed = seal(card, KEYS)
    assert repr(card) == before
    pressed = buttons(sealed)
    assert len(pressed) == len(buttons(card))
    for data in pressed:
        assert data[SIG].startswith("1.")
        check({**data, "commentary": "anything typed", "actual": "12"}, KEYS)


def a_button(verb: Verb, **hidden: Any) -> dict[str, Any]:
    card = {
        "type": "AdaptiveCard",
        "actions": [{"type": "Action.Submit", "data": {"verb": verb.value, **hidden}}],
    }
    [data] = buttons(seal(card, KEYS))
    return data


def test_a_changed_or_added_hidden_value_breaks_the_seal():
    data = a_button(Verb.SUBMIT_RETURN, code="RB-01", period="2026/27 M7", confirmed="")
    check(data, KEYS)
    for changed in (
        {"period": "1900/01 M1"},
        {"code": "RB-03"},
        {"confirmed": "66.5"},  # would skip the plausibility question
        {"use_suggestion": "66.5"},  # a hidden value the card did not have
        {"verb": Verb.NOT_AVAILABLE.value},  # the same values under another verb
        {"period": ["2026/27 M7"]},
    ):
        with pytest.raises(Broken):
            check({**data, **changed}, KEYS)
    for seal_text in ("", "1.", "1.x", "x.y", "1.2.3", "1." + "A" * 200, 7, None):
        with pytest.raises(Broken):
            check({**data, SIG: seal_text}, KEYS)
    without = dict(data)
    del without[SIG]
    with pytest.raises(Broken, match="no seal"):
        check(without, KEYS)


def test_a_new_key_seals_and_the_older_still_opens_the_cards_it_sealed_until_retired():
    old = a_button(Verb.ACKNOWLEDGE, escalation="7")
    rotated = Keyring({1: "a" * 43, 2: "b" * 43}, 2)
    check(old, rotated)
    new = buttons(
        seal(
            {
                "actions": [
                    {
                        "type": "Action.Submit",
                        "data": {"verb": "acknowledge_escalation", "escalation": "7"},
                    }
                ]
            },
            rotated,
        )
    )[0]
    assert new[SIG].startswith("2.")
    retired = Keyring({2: "b" * 43}, 2)
    check(new, retired)
    with pytest.raises(UnknownKey):
        check(old, retired)
    with pytest.raises(Broken):  # the same key number under another council's secret
        check(new, Keyring({2: "c" * 43}, 2))
