"""The seal on a card's buttons (issue 17): every ``Action.Submit`` PerfBot sends carries, in
its data, a signature of its verb and of the hidden values that say what it acts on (the
measure and period, the escalation, the item...). What comes back is honoured only if the
signature still holds, so a card can act only on what it was issued for: a changed period,
another escalation's id or a hand-made card is refused.

The inputs a person types are not sealed (Teams adds them beside the data); only the
hidden values named in HIDDEN are, and a hidden value added or changed breaks the seal.
Pure rules: the keys come in as arguments."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cards.actions import Verb

SIG = "sig"  # the data key the seal is written under

# The hidden values of each verb's buttons, as the templates write them. A test renders every
# card and checks that no button carries a value not named here (it would go unsealed).
HIDDEN: dict[Verb, tuple[str, ...]] = {
    Verb.SUBMIT_RETURN: ("code", "period", "confirmed", "use_suggestion"),
    Verb.NOT_AVAILABLE: ("code", "period"),
    Verb.OPEN_RETURN: ("code", "period"),
    Verb.MY_MEASURES: (),
    Verb.ACKNOWLEDGE: ("escalation",),
    Verb.AGREE_REMEDIAL: ("escalation",),
    Verb.ASK_OWNER: ("escalation",),
    Verb.ANSWER_QUESTION: ("question",),
    Verb.REQUEST_DEEP_DIVE: ("escalation",),
    Verb.STOP_ACTIVITY: ("escalation",),
    Verb.OPEN_ESCALATION: ("escalation",),
    Verb.ACCEPT_DEEP_DIVE: ("deep_dive",),
    Verb.DECLINE_DEEP_DIVE: ("deep_dive",),
    Verb.OPEN_DEEP_DIVE: ("deep_dive",),
    Verb.MARK_DONE: ("item",),
    Verb.DROP_ACTION: ("item",),
    Verb.CHASE_FOR_ME: ("code", "period", "for"),
    Verb.ACKNOWLEDGE_OVERDUE: ("code", "period", "returns", "for"),
    Verb.APPROVE: ("returns", "period"),
    Verb.RETURN_TO_OWNER: ("return", "period"),
    Verb.LOCK_PERIOD: ("period",),
    Verb.UNLOCK_PERIOD: ("period",),
    Verb.OPEN_MEASURE: ("code",),
    Verb.OPEN_REPORT: ("kind", "period"),
    Verb.OPEN_MILESTONE: ("milestone",),
    Verb.UPDATE_MILESTONE: ("milestone",),
}

# Where a person gets a fresh card of each verb's kind, for the refusal of an altered or
# outdated one ("Type status for a fresh card.").
FRESH: dict[Verb, str] = {
    Verb.SUBMIT_RETURN: "my measures",
    Verb.NOT_AVAILABLE: "my measures",
    Verb.OPEN_RETURN: "my measures",
    Verb.MY_MEASURES: "my measures",
    Verb.ACKNOWLEDGE: "status",
    Verb.AGREE_REMEDIAL: "status",
    Verb.ASK_OWNER: "status",
    Verb.ANSWER_QUESTION: "my measures",
    Verb.REQUEST_DEEP_DIVE: "status",
    Verb.STOP_ACTIVITY: "status",
    Verb.OPEN_ESCALATION: "status",
    Verb.ACCEPT_DEEP_DIVE: "deep dives",
    Verb.DECLINE_DEEP_DIVE: "deep dives",
    Verb.OPEN_DEEP_DIVE: "deep dives",
    Verb.MARK_DONE: "actions",
    Verb.DROP_ACTION: "actions",
    Verb.CHASE_FOR_ME: "status",
    Verb.ACKNOWLEDGE_OVERDUE: "status",
    Verb.APPROVE: "review",
    Verb.RETURN_TO_OWNER: "review",
    Verb.LOCK_PERIOD: "period 2025/26 Q1 (with your period)",
    Verb.UNLOCK_PERIOD: "period 2025/26 Q1 (with your period)",
    Verb.OPEN_MEASURE: "summary",
    Verb.OPEN_REPORT: "board",
    Verb.OPEN_MILESTONE: "milestones",
    Verb.UPDATE_MILESTONE: "milestones",
}

VERBS = frozenset(verb.value for verb in Verb)
MAX_SIG = 100  # longer than any seal PerfBot writes: refused unread


@dataclass(frozen=True)
class Keyring:
    """The council's card keys by id; ``signing`` names the one new cards are sealed with."""

    keys: Mapping[int, str]
    signing: int

    def __post_init__(self) -> None:
        if self.signing not in self.keys:
            raise ValueError("the signing key must be one of the keys")


class Broken(ValueError):
    """A button's data whose seal does not hold; the message says why, for the audit log."""


class UnknownKey(Broken):
    """Sealed with a key this keyring does not hold (retired, or newer than it knows)."""

    def __init__(self, key_id: int) -> None:
        super().__init__(f"sealed with card key {key_id}, which is not in use")
        self.key_id = key_id


def _mac(secret: str, verb: str, data: Mapping[str, Any]) -> str:
    hidden = [data.get(name) for name in HIDDEN[Verb(verb)]]
    message = json.dumps([verb, hidden], separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    digest = hmac.new(secret.encode("utf-8"), message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def _submits(node: Any) -> Iterator[dict[str, Any]]:
    """Every Action.Submit's data in a card, however deep (ShowCards, select actions)."""
    if isinstance(node, dict):
        data = node.get("data")
        if node.get("type") == "Action.Submit" and isinstance(data, dict) and "verb" in data:
            yield data
        for value in node.values():
            yield from _submits(value)
    elif isinstance(node, list):
        for value in node:
            yield from _submits(value)


def seal(card: dict[str, Any], keyring: Keyring) -> dict[str, Any]:
    """The card with every button's data sealed (a copy; the card given is left as it is)."""
    sealed: dict[str, Any] = json.loads(json.dumps(card))
    secret = keyring.keys[keyring.signing]
    for data in _submits(sealed):
        verb = data["verb"]
        if verb in VERBS:
            data[SIG] = f"{keyring.signing}.{_mac(secret, verb, data)}"
    return sealed


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The data of every button in a card (for tests and checks)."""
    return list(_submits(card))


def key_of(value: Mapping[str, Any]) -> int | None:
    """The id of the key a button's data says it was sealed with (None if it names none)."""
    sig = value.get(SIG)
    if not isinstance(sig, str) or len(sig) > MAX_SIG or sig.count(".") != 1:
        return None
    key_text = sig.split(".")[0]
    if not (key_text.isascii() and key_text.isdigit() and len(key_text) <= 9):
        return None
    return int(key_text)


def check(value: Mapping[str, Any], keyring: Keyring) -> None:
    """Raise Broken unless ``value`` (what Teams sent for a button press: its data and the
    card's inputs) carries a seal that holds for its verb and hidden values."""
    verb = value.get("verb")
    if not isinstance(verb, str) or verb not in VERBS:
        raise Broken("not one of PerfBot's verbs")
    sig = value.get(SIG)
    if not isinstance(sig, str) or not sig:
        raise Broken("no seal")
    key_id = key_of(value)
    if key_id is None:
        raise Broken("a malformed seal")
    mac = sig.split(".")[1]
    secret = keyring.keys.get(key_id)
    if secret is None:
        raise UnknownKey(key_id)
    try:
        expected = _mac(secret, verb, value)
    except (TypeError, ValueError):  # a hidden value JSON cannot write (it came from JSON)
        raise Broken("hidden values that are not JSON") from None
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace")):
        raise Broken("the seal does not match the card's hidden values")
