"""The review questions Derbyshire County Council's framework (seed 001, "Performance
review") asks of a measure that is not on track, and which of them a council requires.

Seed 001 asks: "Why is this the case? What are the implications of the current level of
performance? What impact will this have on service users, local people and partner
agencies? How will this affect the achievement of the Council's priorities and key risk
areas? Are actions to bring performance back on track, that are already in place, proving
to be effective? What is the predicted performance if no additional actions are taken?"
The return card asks each, shortened to fit a phone; the answers are stored apart from the
commentary, one row a question answered, for each version of a return. What action will
bring it back on track, and by when, are the return's own action and date (``action``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

MAX_ANSWER = 500  # longest answer to one question: six fit on a phone's card with the commentary


class Question(enum.StrEnum):
    """A review question; its value names its card input, its table row and its column in
    the export and the actuals sheet."""

    WHY = "why"
    IMPLICATIONS = "implications"
    IMPACT = "impact"
    RISKS = "risks"  # the Council's priorities and key risk areas
    EFFECTIVE = "effective"
    FORECAST = "forecast"

    @property
    def asked(self) -> str:
        """The question as the return card asks it (seed 001's words, shortened)."""
        return _ASKED[self]

    @property
    def heading(self) -> str:
        """What the answer is called where it is shown (receipt, escalation, board)."""
        return _HEADINGS[self]

    @property
    def missing(self) -> str:
        """What the card says against the question when a required answer is not given."""
        return _MISSING[self]


_ASKED = {
    Question.WHY: "Why is this the case?",
    Question.IMPLICATIONS: "What are the implications of the current level of performance?",
    Question.IMPACT: "What impact will this have on service users, local people and partners?",
    Question.RISKS: "How will this affect the Council's priorities and key risk areas?",
    Question.EFFECTIVE: "Are the actions already in place proving to be effective?",
    Question.FORECAST: "What is the predicted performance if no additional actions are taken?",
}
_HEADINGS = {
    Question.WHY: "Why",
    Question.IMPLICATIONS: "Implications",
    Question.IMPACT: "Impact on service users",
    Question.RISKS: "Priorities and key risks",
    Question.EFFECTIVE: "Are actions working",
    Question.FORECAST: "Predicted without more action",
}
_MISSING = {
    Question.WHY: "It is off track: say why.",
    Question.IMPLICATIONS: "It is off track: say what the implications are.",
    Question.IMPACT: "It is off track: say what impact it will have on service users.",
    Question.RISKS: "It is off track: say how it affects the Council's priorities.",
    Question.EFFECTIVE: "It is off track: say whether the actions in place are working.",
    Question.FORECAST: "It is off track: say what performance is predicted with no more action.",
}

# The council's choice of what an off-track figure must have: any of the questions, and
# ``action``, the action that will bring it back on track with its date (required unless the
# council's choice leaves it out). ``none``: nothing beyond the commentary.
ACTION = "action"
NONE = "none"
CHOICES = (*(q.value for q in Question), ACTION)
DEFAULT_REQUIRED = frozenset({ACTION})


class ChoiceError(ValueError):
    """A required-questions setting that names something PerfBot does not ask."""


def parse_required(text: str) -> frozenset[str]:
    """``why,impact,action`` -> those choices (any case, comma-separated); ``none`` -> none;
    blank -> DEFAULT_REQUIRED. An unknown word raises ChoiceError, naming the choices."""
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words:
        return DEFAULT_REQUIRED
    if words == [NONE]:
        return frozenset()
    for word in words:
        if word not in CHOICES:
            raise ChoiceError(
                f"'{word}' is not a review question PerfBot asks: choose from "
                f"{', '.join(CHOICES)} (comma-separated), or {NONE}"
            )
    return frozenset(words)


def required_questions(required: Iterable[str]) -> list[Question]:
    """The questions of a required set, in the card's order."""
    chosen = set(required)
    return [q for q in Question if q.value in chosen]


def answered(answers: Mapping[str, str | None]) -> list[tuple[Question, str]]:
    """The answers given, in the card's order: (question, answer), blanks left out."""
    return [(q, text) for q in Question if (text := (answers.get(q.value) or "").strip())]
