"""What PerfBot's cards send back: the one place a verb and an input id are spelled, and one
parser per verb that turns an ``Action.Submit`` value into a typed action.

Templates get the verbs and ids from their render context (never literals). Every value is
read as Teams sends it (strings) and nothing in it is trusted: the use cases check it all.
To add a card with a button: a template, a verb here, its parser in PARSERS, its handler in
bot/teams/card_actions.py's table, and a use case.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

MAX_TEXT = 4_000  # longest commentary, action or reason accepted from a card (keeps cards < 28 KB)


class Verb(enum.StrEnum):
    """The ``verb`` in a card button's data."""

    SUBMIT_RETURN = "submit_return"
    NOT_AVAILABLE = "not_available"
    OPEN_RETURN = "open_return"
    MY_MEASURES = "my_measures"
    CHASE_FOR_ME = "chase_for_me"
    ACKNOWLEDGE_OVERDUE = "acknowledge_overdue"


class ids:
    """The input ids of every card, shared by the templates and the parsers."""

    ACTUAL = "actual"
    COMMENTARY = "commentary"
    ACTION = "action"
    ACTION_DUE = "action_due"
    STATUS = "status"
    REASON = "reason"


RETURN_INPUTS = (ids.ACTUAL, ids.COMMENTARY, ids.ACTION, ids.ACTION_DUE, ids.STATUS)
INPUTS = (*RETURN_INPUTS, ids.REASON)


@dataclass(frozen=True)
class ReturnForm:
    """The return card's Submit (or "Use 8.5"): the figure or status and the commentary."""

    verb: ClassVar[Verb] = Verb.SUBMIT_RETURN
    code: str
    period: str
    fields: dict[str, str] = field(default_factory=dict)
    confirmed: str = ""  # the figure the person confirmed after a plausibility query
    use_suggestion: str = ""  # the figure PerfBot suggested, which the person chose
    too_long: tuple[str, ...] = ()  # fields over MAX_TEXT: flagged, never silently cut


@dataclass(frozen=True)
class NotAvailableForm:
    """ "Not available yet" with the reason."""

    verb: ClassVar[Verb] = Verb.NOT_AVAILABLE
    code: str
    period: str
    reason: str
    fields: dict[str, str] = field(default_factory=dict)  # all the card's inputs, as typed


@dataclass(frozen=True)
class OpenReturnCard:
    """A button asking for a measure's return card (from my measures)."""

    verb: ClassVar[Verb] = Verb.OPEN_RETURN
    code: str
    period: str


@dataclass(frozen=True)
class ShowMeasures:
    """The help card's My measures button."""

    verb: ClassVar[Verb] = Verb.MY_MEASURES


@dataclass(frozen=True)
class ChaseForMe:
    """An overdue digest's "Chase for me": a firmer chaser to the return's owner."""

    verb: ClassVar[Verb] = Verb.CHASE_FOR_ME
    code: str
    period: str
    escalation_owner_id: int | None  # whose digest the card is (to draw it again)


@dataclass(frozen=True)
class AcknowledgeOverdue:
    """An overdue digest's "Acknowledge" (one return) or "Acknowledge all" (every one listed)."""

    verb: ClassVar[Verb] = Verb.ACKNOWLEDGE_OVERDUE
    returns: tuple[tuple[str, str], ...]  # (code, period)
    escalation_owner_id: int | None


MAX_LISTED = 50  # returns one "Acknowledge all" may name

CardAction = (
    ReturnForm | NotAvailableForm | OpenReturnCard | ShowMeasures | ChaseForMe | AcknowledgeOverdue
)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""  # objects, lists and booleans are not what our cards send


def _code(value: Mapping[str, Any]) -> str:
    return _text(value.get("code")).strip()[:64]


def _period(value: Mapping[str, Any]) -> str:
    return _text(value.get("period")).strip()[:32]


def _return_form(value: Mapping[str, Any]) -> ReturnForm:
    fields = {name: _text(value.get(name)).strip() for name in RETURN_INPUTS}
    return ReturnForm(
        code=_code(value),
        period=_period(value),
        fields=fields,
        confirmed=_text(value.get("confirmed")).strip()[:64],
        use_suggestion=_text(value.get("use_suggestion")).strip()[:64],
        too_long=tuple(name for name, text in fields.items() if len(text) > MAX_TEXT),
    )


def _not_available(value: Mapping[str, Any]) -> NotAvailableForm:
    # Teams sends the whole card's inputs with the button of a card shown inside it, so what
    # was typed above "Not available yet" comes too, and is kept if the card comes back.
    fields = {name: _text(value.get(name)).strip() for name in INPUTS}
    return NotAvailableForm(_code(value), _period(value), fields[ids.REASON], fields)


def _open_return(value: Mapping[str, Any]) -> OpenReturnCard:
    return OpenReturnCard(_code(value), _period(value))


def _show_measures(value: Mapping[str, Any]) -> ShowMeasures:
    return ShowMeasures()


def _person_id(value: Mapping[str, Any]) -> int | None:
    text = _text(value.get("for")).strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _chase_for_me(value: Mapping[str, Any]) -> ChaseForMe:
    return ChaseForMe(_code(value), _period(value), _person_id(value))


def _acknowledge_overdue(value: Mapping[str, Any]) -> AcknowledgeOverdue:
    listed = value.get("returns")
    pairs: list[tuple[str, str]] = []
    if isinstance(listed, list):
        for entry in listed[:MAX_LISTED]:
            if isinstance(entry, Mapping) and _code(entry):
                pairs.append((_code(entry), _period(entry)))
    elif _code(value):
        pairs.append((_code(value), _period(value)))
    return AcknowledgeOverdue(tuple(dict.fromkeys(pairs)), _person_id(value))


PARSERS: dict[Verb, Callable[[Mapping[str, Any]], CardAction]] = {
    Verb.SUBMIT_RETURN: _return_form,
    Verb.NOT_AVAILABLE: _not_available,
    Verb.OPEN_RETURN: _open_return,
    Verb.MY_MEASURES: _show_measures,
    Verb.CHASE_FOR_ME: _chase_for_me,
    Verb.ACKNOWLEDGE_OVERDUE: _acknowledge_overdue,
}


def parse_action(value: Any) -> CardAction | None:
    """Read an ``Action.Submit`` value; None if it is not one of PerfBot's cards."""
    if not isinstance(value, Mapping):
        return None
    verb = _text(value.get("verb"))
    if verb not in PARSERS:
        return None
    return PARSERS[Verb(verb)](value)
