"""What PerfBot's cards send back: the one place a verb and an input id are spelled, and one
parser per verb that turns an ``Action.Submit`` value into a typed action.

Templates get the verbs and ids from their render context (never literals). Every value is
read as Teams sends it (strings) and nothing in it is trusted: each text is read through
``_text`` (domain/text.py's rules: its length first, then its characters, in NFC), and the
use cases check the rest. Text that cannot be stored refuses the action in one sentence
(``refused``), before anything else is done; on the return card it is a problem marked
against its field instead, so the card comes back with what was typed.
To add a card with a button: a template, a verb here, its parser in PARSERS, its handler in
bot/teams/card_actions.py's table, and a use case.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from domain import text as texts
from domain.questions import MAX_ANSWER, Question
from domain.text import TextError

MAX_TEXT = 4_000  # longest commentary, action or reason accepted from a card (keeps cards < 28 KB)
MAX_PROGRESS = 1_000  # longest progress note on one action-plan item (five fit in a card)
MAX_ITEMS = 20  # the most action-plan items one return card's submission is read for
MAX_FIGURE = 100  # longest figure, status or date read from the return card


class Verb(enum.StrEnum):
    """The ``verb`` in a card button's data."""

    SUBMIT_RETURN = "submit_return"
    NOT_AVAILABLE = "not_available"
    OPEN_RETURN = "open_return"
    MY_MEASURES = "my_measures"
    # The escalation card (domain/escalations.py) and the owner's question card:
    ACKNOWLEDGE = "acknowledge_escalation"
    AGREE_REMEDIAL = "agree_remedial"
    ASK_OWNER = "ask_owner"
    ANSWER_QUESTION = "answer_question"
    REQUEST_DEEP_DIVE = "request_deep_dive"
    STOP_ACTIVITY = "stop_activity"
    OPEN_ESCALATION = "open_escalation"
    ACCEPT_DEEP_DIVE = "accept_deep_dive"
    DECLINE_DEEP_DIVE = "decline_deep_dive"
    OPEN_DEEP_DIVE = "open_deep_dive"
    MARK_DONE = "mark_done"
    DROP_ACTION = "drop_action"
    CHASE_FOR_ME = "chase_for_me"
    ACKNOWLEDGE_OVERDUE = "acknowledge_overdue"
    # The review card (domain/signoff.py):
    APPROVE = "approve_return"
    RETURN_TO_OWNER = "return_to_owner"
    # The weekly summary's lines (domain/summary.py): a measure's detail, in one's own chat.
    OPEN_MEASURE = "open_measure"
    # The summary's and the status card's Open the board: a signed link to the board page.
    OPEN_REPORT = "open_report"
    # The performance team's period card (domain/locks.py):
    LOCK_PERIOD = "lock_period"
    UNLOCK_PERIOD = "unlock_period"
    # Key actions' milestones (domain/milestones.py): a milestone's card, and its Save.
    OPEN_MILESTONE = "open_milestone"
    UPDATE_MILESTONE = "update_milestone"


class ids:
    """The input ids of every card, shared by the templates and the parsers."""

    ACTUAL = "actual"
    COMMENTARY = "commentary"
    ACTION = "action"
    ACTION_DUE = "action_due"
    STATUS = "status"
    REASON = "reason"
    # The return card's review questions (domain/questions.py): an input a question, named as
    # the question is (why, implications, impact, risks, effective, forecast).
    ANSWERS = tuple(q.value for q in Question)
    OFF_TRACK = "off_track"  # the card's off-track part (a container shown or hidden)
    # The escalation card's forms (the same names as domain/escalations.py's errors):
    REMEDIAL = "remedial"
    REMEDIAL_OWNER = "remedial_owner"
    REMEDIAL_OWNER_EMAIL = "remedial_owner_email"
    REMEDIAL_DUE = "remedial_due"
    QUESTION = "question"
    ANSWER = "answer"
    STOP_REASON = "stop_reason"
    REVIEW_DATE = "review_date"  # the deep-dive card's Accept
    LEAD = "lead"
    LEAD_EMAIL = "lead_email"
    DECLINE_REASON = "decline_reason"
    DROP_REASON = "drop_reason_"  # drop_reason_<item id>: why an item is dropped
    CORRECTION_REASON = "correction_reason"  # an admin's reason for changing a signed-off period
    LOCK_REASON = "lock_reason"  # why a period is signed off (optional) or reopened (required)
    LOCK_FORCE = "lock_force"  # sign off with returns not yet approved ("true" when on)
    REVIEW_COMMENT = "comment_"  # comment_<return id>: why a reviewer returns it to its owner
    PROGRESS = "progress_"  # progress_<item id>: the return card's word on an action-plan item
    MILESTONE_STATUS = "milestone_status"  # the milestone card's status
    REVISED_DATE = "revised_date"  # and its revised date (needed when slipping)
    DONE = "done_"  # done_<item id>: its "done" toggle ("true" when on)

    @staticmethod
    def progress(item_id: int) -> str:
        return f"{ids.PROGRESS}{item_id}"

    @staticmethod
    def done(item_id: int) -> str:
        return f"{ids.DONE}{item_id}"

    @staticmethod
    def drop_reason(item_id: int) -> str:
        return f"{ids.DROP_REASON}{item_id}"

    @staticmethod
    def review_comment(return_id: int) -> str:
        return f"{ids.REVIEW_COMMENT}{return_id}"


# What each input is called in a sentence about it ("The commentary has ..."); per-item
# inputs by their prefix.
NAMES = {
    ids.ACTUAL: "The figure",
    ids.COMMENTARY: "The commentary",
    ids.ACTION: "The action",
    ids.ACTION_DUE: "The date",
    ids.STATUS: "The status",
    ids.REASON: "The reason",
    ids.REMEDIAL: "The remedial action",
    ids.REMEDIAL_OWNER: "The action's owner",
    ids.REMEDIAL_OWNER_EMAIL: "The owner's email address",
    ids.REMEDIAL_DUE: "The date",
    ids.QUESTION: "The question",
    ids.ANSWER: "The answer",
    ids.STOP_REASON: "The reason",
    ids.REVIEW_DATE: "The review date",
    ids.LEAD: "The lead",
    ids.LEAD_EMAIL: "The lead's email address",
    ids.DECLINE_REASON: "The reason",
    ids.DROP_REASON: "The reason",
    ids.CORRECTION_REASON: "The reason for the correction",
    ids.LOCK_REASON: "The reason",
    ids.REVIEW_COMMENT: "The comment",
    ids.PROGRESS: "The progress note",
    ids.MILESTONE_STATUS: "The status",
    ids.REVISED_DATE: "The revised date",
    **{q.value: f'The answer to "{q.asked}"' for q in Question},
}
CARD_DATA = "That card's data"  # what the card carries unseen: its code, period, ids


def name_of(input_id: str) -> str:
    """What an input is called in a sentence, as "The commentary"."""
    if input_id in NAMES:
        return NAMES[input_id]
    for prefix in (ids.PROGRESS, ids.DROP_REASON, ids.REVIEW_COMMENT):
        if input_id.startswith(prefix):
            return NAMES[prefix]
    return CARD_DATA


DEEP_DIVE_INPUTS = (ids.REVIEW_DATE, ids.LEAD, ids.LEAD_EMAIL, ids.DECLINE_REASON)
RETURN_INPUTS = (
    ids.ACTUAL,
    ids.COMMENTARY,
    ids.ACTION,
    ids.ACTION_DUE,
    ids.STATUS,
    ids.CORRECTION_REASON,
    *ids.ANSWERS,
)
INPUTS = (*RETURN_INPUTS, ids.REASON)


@dataclass(frozen=True)
class _Action:
    """What every card action carries besides its own fields: ``refused``, the sentence that
    answers it when its text cannot be stored (it is then not acted on at all)."""

    refused: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class ReturnForm(_Action):
    """The return card's Submit (or "Use 8.5"): the figure or status and the commentary."""

    verb: ClassVar[Verb] = Verb.SUBMIT_RETURN
    code: str
    period: str
    fields: dict[str, str] = field(default_factory=dict)
    confirmed: str = ""  # the figure the person confirmed after a plausibility query
    use_suggestion: str = ""  # the figure PerfBot suggested, which the person chose
    too_long: tuple[str, ...] = ()  # fields over MAX_TEXT: flagged, never silently cut
    progress: dict[int, str] = field(default_factory=dict)  # by action-plan item id, as typed
    done: tuple[int, ...] = ()  # the items toggled done
    # What is wrong with a field's text, by its id (too long, or a character that cannot be
    # stored): marked against it when the card comes back. Such a field holds the text cut
    # short, or with each such character shown as U+FFFD.
    problems: dict[str, str] = field(default_factory=dict)

    def typed(self) -> dict[str, str]:
        """Every input as typed, by its id (to show the card again as it was)."""
        typed = dict(self.fields)
        typed.update({ids.progress(i): text for i, text in self.progress.items()})
        typed.update({ids.done(i): "true" for i in self.done})
        return typed


@dataclass(frozen=True)
class NotAvailableForm(_Action):
    """ "Not available yet" with the reason."""

    verb: ClassVar[Verb] = Verb.NOT_AVAILABLE
    code: str
    period: str
    reason: str
    fields: dict[str, str] = field(default_factory=dict)  # all the card's inputs, as typed
    problems: dict[str, str] = field(default_factory=dict)  # as ReturnForm's


@dataclass(frozen=True)
class OpenReturnCard(_Action):
    """A button asking for a measure's return card (from my measures)."""

    verb: ClassVar[Verb] = Verb.OPEN_RETURN
    code: str
    period: str


@dataclass(frozen=True)
class ShowMeasures(_Action):
    """The help card's My measures button."""

    verb: ClassVar[Verb] = Verb.MY_MEASURES


@dataclass(frozen=True)
class Acknowledge(_Action):
    verb: ClassVar[Verb] = Verb.ACKNOWLEDGE
    escalation: int


@dataclass(frozen=True)
class AgreeRemedial(_Action):
    """Agree remedial action: what, who owns it (chosen, or an email typed), by when."""

    verb: ClassVar[Verb] = Verb.AGREE_REMEDIAL
    escalation: int
    text: str = ""
    owner: str = ""
    owner_email: str = ""
    due: str = ""


@dataclass(frozen=True)
class AskOwner(_Action):
    verb: ClassVar[Verb] = Verb.ASK_OWNER
    escalation: int
    question: str = ""


@dataclass(frozen=True)
class AnswerQuestion(_Action):
    """The measure owner's answer, from the question card."""

    verb: ClassVar[Verb] = Verb.ANSWER_QUESTION
    question: int
    answer: str = ""


@dataclass(frozen=True)
class RequestDeepDive(_Action):
    verb: ClassVar[Verb] = Verb.REQUEST_DEEP_DIVE
    escalation: int


@dataclass(frozen=True)
class StopActivity(_Action):
    verb: ClassVar[Verb] = Verb.STOP_ACTIVITY
    escalation: int
    reason: str = ""


@dataclass(frozen=True)
class OpenEscalation(_Action):
    """A button asking for an escalation card again (from status)."""

    verb: ClassVar[Verb] = Verb.OPEN_ESCALATION
    escalation: int


@dataclass(frozen=True)
class AcceptDeepDive(_Action):
    """The deep-dive card's Accept: the review date and the lead (chosen, or an email typed,
    which wins)."""

    verb: ClassVar[Verb] = Verb.ACCEPT_DEEP_DIVE
    deep_dive_id: int
    review_date: str
    lead: str
    fields: dict[str, str] = field(default_factory=dict)  # as typed, for the card again


@dataclass(frozen=True)
class DeclineDeepDive(_Action):
    """The deep-dive card's Decline, with the reason."""

    verb: ClassVar[Verb] = Verb.DECLINE_DEEP_DIVE
    deep_dive_id: int
    reason: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenDeepDive(_Action):
    """A button asking for a deep dive's card again (from `deep dives`)."""

    verb: ClassVar[Verb] = Verb.OPEN_DEEP_DIVE
    deep_dive_id: int


@dataclass(frozen=True)
class MarkDone(_Action):
    """The actions card's Mark done on one item."""

    verb: ClassVar[Verb] = Verb.MARK_DONE
    item_id: int


@dataclass(frozen=True)
class DropAction(_Action):
    """The actions card's Drop on one item, with the reason."""

    verb: ClassVar[Verb] = Verb.DROP_ACTION
    item_id: int
    reason: str
    too_long: bool = False


@dataclass(frozen=True)
class ChaseForMe(_Action):
    """An overdue digest's "Chase for me": a firmer chaser to the return's owner."""

    verb: ClassVar[Verb] = Verb.CHASE_FOR_ME
    code: str
    period: str
    escalation_owner_id: int | None  # whose digest the card is (to draw it again)


@dataclass(frozen=True)
class AcknowledgeOverdue(_Action):
    """An overdue digest's "Acknowledge" (one return) or "Acknowledge all" (every one listed)."""

    verb: ClassVar[Verb] = Verb.ACKNOWLEDGE_OVERDUE
    returns: tuple[tuple[str, str], ...]  # (code, period)
    escalation_owner_id: int | None


@dataclass(frozen=True)
class Approve(_Action):
    """The review card's Approve (one return) or "Approve all shown" (every one it listed)."""

    verb: ClassVar[Verb] = Verb.APPROVE
    returns: tuple[int, ...]  # return (version) ids
    period: str  # the card's period, to draw it again


@dataclass(frozen=True)
class ReturnToOwner(_Action):
    """The review card's "Return with comment" on one return."""

    verb: ClassVar[Verb] = Verb.RETURN_TO_OWNER
    return_id: int
    comment: str
    period: str


@dataclass(frozen=True)
class LockPeriod(_Action):
    """The period card's Sign off (with "as it stands" when returns await approval)."""

    verb: ClassVar[Verb] = Verb.LOCK_PERIOD
    period: str
    reason: str
    force: bool


@dataclass(frozen=True)
class UnlockPeriod(_Action):
    """The period card's Reopen, with the reason."""

    verb: ClassVar[Verb] = Verb.UNLOCK_PERIOD
    period: str
    reason: str


@dataclass(frozen=True)
class OpenMeasure(_Action):
    """A weekly summary line's button: the measure's history and commentary, sent to the
    personal chat of whoever pressed it (never into the channel)."""

    verb: ClassVar[Verb] = Verb.OPEN_MEASURE
    code: str


@dataclass(frozen=True)
class OpenReport(_Action):
    """Open the board: a link to a report (``kind``, a ReportKind's value; ``period`` as the
    card had it, or blank for the last quarter), in the presser's own chat."""

    verb: ClassVar[Verb] = Verb.OPEN_REPORT
    kind: str
    period: str


@dataclass(frozen=True)
class OpenMilestone(_Action):
    """A milestone's card (from `milestones`, the key action's return card or my measures)."""

    verb: ClassVar[Verb] = Verb.OPEN_MILESTONE
    milestone_id: int


@dataclass(frozen=True)
class MilestoneForm(_Action):
    """The milestone card's Save: its status and revised date, as typed."""

    verb: ClassVar[Verb] = Verb.UPDATE_MILESTONE
    milestone_id: int
    status: str
    revised_date: str


MAX_LISTED = 50  # returns one "Acknowledge all" (or "Approve all shown") may name

CardAction = (
    ReturnForm
    | NotAvailableForm
    | OpenReturnCard
    | ShowMeasures
    | Acknowledge
    | AgreeRemedial
    | AskOwner
    | AnswerQuestion
    | RequestDeepDive
    | StopActivity
    | OpenEscalation
    | AcceptDeepDive
    | DeclineDeepDive
    | MarkDone
    | DropAction
    | OpenDeepDive
    | ChaseForMe
    | AcknowledgeOverdue
    | Approve
    | ReturnToOwner
    | LockPeriod
    | UnlockPeriod
    | OpenMeasure
    | OpenReport
    | OpenMilestone
    | MilestoneForm
)


def _raw(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""  # objects, lists and booleans are not what our cards send


def _text(value: Any, input_id: str = "", limit: int = MAX_TEXT * 2) -> str:
    """A card's value as text fit to store (domain/text.py). Its length first: only the first
    ``limit`` characters are read (a caller that must tell "too long" reads one more). Raises
    TextError, a sentence naming the input, for a character that cannot be stored."""
    raw = _raw(value)[:limit]
    if input_id:
        return texts.clean(raw, name_of(input_id))[:limit]  # NFC may lengthen it
    wrong = texts.problem(raw)
    if wrong:
        raise TextError(
            f"{CARD_DATA} has {wrong}, so nothing was saved: type my measures for a fresh card."
        )
    return texts.clean(raw, CARD_DATA)[:limit]


@dataclass(frozen=True)
class _Typed:
    text: str
    problem: str = ""
    too_long: bool = False


def _typed(value: Any, input_id: str, limit: int) -> _Typed:
    """A typed input of the return card, never refusing: the text and what is wrong with it.
    Too long is told first, with the text cut to ``limit`` (so the card that shows it again
    stays within its size); a character that cannot be stored is shown as U+FFFD."""
    raw = _raw(value)
    too_long = f"This is over {limit:,} characters, so it is cut short here: please shorten it."
    if len(raw) > limit:
        raw = texts.trim(raw)
        if len(raw) > limit:
            return _Typed(texts.shown(raw[:limit]), too_long, too_long=True)
    try:
        cleaned = texts.clean(raw, name_of(input_id))
    except TextError as error:
        return _Typed(texts.shown(texts.trim(raw)), str(error))
    if len(cleaned) > limit:  # NFC lengthened it (one character can become three)
        return _Typed(cleaned[:limit], too_long, too_long=True)
    return _Typed(cleaned)


def _limit(input_id: str) -> int:
    if input_id in (ids.ACTUAL, ids.STATUS, ids.ACTION_DUE):
        return MAX_FIGURE
    if input_id in ids.ANSWERS:
        return MAX_ANSWER
    return MAX_PROGRESS if input_id.startswith(ids.PROGRESS) else MAX_TEXT


def _code(value: Mapping[str, Any]) -> str:
    return _text(value.get("code"), limit=64)


def _period(value: Mapping[str, Any]) -> str:
    return _text(value.get("period"), limit=32)


MAX_ID = 2**31 - 1  # the largest id either database's integer keys hold


def _id(value: Any) -> int:
    """An id from a card's data: a whole number a key can hold, else 0 (which names
    nothing). ASCII digits only: "²".isdigit() is true, but it is not a number."""
    text = _raw(value)[:12].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return 0
    number = int(text)
    return number if number <= MAX_ID else 0


_PER_ITEM = re.compile(rf"^({re.escape(ids.PROGRESS)}|{re.escape(ids.DONE)})([0-9]{{1,10}})$")


def _per_item(
    value: Mapping[str, Any], problems: dict[str, str], too_long: list[str]
) -> tuple[dict[int, str], tuple[int, ...]]:
    """The progress text and done toggles of the card's action-plan items, by item id (at
    most MAX_ITEMS of them; anything else is not read); what is wrong with a text goes into
    ``problems`` (and ``too_long``)."""
    progress: dict[int, str] = {}
    done: list[int] = []
    for name, raw in value.items():
        found = _PER_ITEM.match(name) if isinstance(name, str) else None
        if found is None or len(progress) + len(done) >= MAX_ITEMS:
            continue
        item_id = _id(found.group(2))
        if not item_id:
            continue
        if found.group(1) == ids.PROGRESS:
            typed = _typed(raw, name, MAX_PROGRESS)
            if typed.text:
                progress[item_id] = typed.text
            if typed.problem:
                problems[ids.progress(item_id)] = typed.problem
            if typed.too_long:
                too_long.append(ids.progress(item_id))
        elif _raw(raw)[:8].strip().lower() == "true":
            done.append(item_id)
    return progress, tuple(sorted(set(done)))


def _typed_fields(
    value: Mapping[str, Any], names: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The typed inputs ``names``: their texts, their problems and those too long."""
    fields: dict[str, str] = {}
    problems: dict[str, str] = {}
    too_long: list[str] = []
    for name in names:
        typed = _typed(value.get(name), name, _limit(name))
        fields[name] = typed.text
        if typed.problem:
            problems[name] = typed.problem
        if typed.too_long:
            too_long.append(name)
    return fields, problems, too_long


def _return_form(value: Mapping[str, Any]) -> ReturnForm:
    code, period = _code(value), _period(value)  # the card's own data first: refused if bad
    confirmed = _text(value.get("confirmed"), limit=64)
    use_suggestion = _text(value.get("use_suggestion"), limit=64)
    fields, problems, too_long = _typed_fields(value, RETURN_INPUTS)
    progress, done = _per_item(value, problems, too_long)
    return ReturnForm(
        code=code,
        period=period,
        fields=fields,
        confirmed=confirmed,
        use_suggestion=use_suggestion,
        too_long=tuple(too_long),
        progress=progress,
        done=done,
        problems=problems,
    )


def _not_available(value: Mapping[str, Any]) -> NotAvailableForm:
    # Teams sends the whole card's inputs with the button of a card shown inside it, so what
    # was typed above "Not available yet" comes too, and is kept if the card comes back.
    code, period = _code(value), _period(value)
    fields, problems, _ = _typed_fields(value, INPUTS)
    return NotAvailableForm(code, period, fields[ids.REASON], fields, problems)


def _open_return(value: Mapping[str, Any]) -> OpenReturnCard:
    return OpenReturnCard(_code(value), _period(value))


def _show_measures(value: Mapping[str, Any]) -> ShowMeasures:
    return ShowMeasures()


def _long(value: Mapping[str, Any], name: str) -> str:
    # Read to twice the length allowed (the use case says if it is too long).
    return _text(value.get(name), name)


def _acknowledge(value: Mapping[str, Any]) -> Acknowledge:
    return Acknowledge(_id(value.get("escalation")))


def _agree_remedial(value: Mapping[str, Any]) -> AgreeRemedial:
    return AgreeRemedial(
        _id(value.get("escalation")),
        _long(value, ids.REMEDIAL),
        _text(value.get(ids.REMEDIAL_OWNER), ids.REMEDIAL_OWNER, 320),
        _text(value.get(ids.REMEDIAL_OWNER_EMAIL), ids.REMEDIAL_OWNER_EMAIL, 320),
        _text(value.get(ids.REMEDIAL_DUE), ids.REMEDIAL_DUE, 32),
    )


def _ask_owner(value: Mapping[str, Any]) -> AskOwner:
    return AskOwner(_id(value.get("escalation")), _long(value, ids.QUESTION))


def _answer_question(value: Mapping[str, Any]) -> AnswerQuestion:
    return AnswerQuestion(_id(value.get("question")), _long(value, ids.ANSWER))


def _request_deep_dive(value: Mapping[str, Any]) -> RequestDeepDive:
    return RequestDeepDive(_id(value.get("escalation")))


def _stop_activity(value: Mapping[str, Any]) -> StopActivity:
    return StopActivity(_id(value.get("escalation")), _long(value, ids.STOP_REASON))


def _open_escalation(value: Mapping[str, Any]) -> OpenEscalation:
    return OpenEscalation(_id(value.get("escalation")))


def _deep_dive_id(value: Mapping[str, Any]) -> int:
    return _id(value.get("deep_dive"))


# What each deep-dive input can hold: longer is not a date or an email, and is cut here.
_DEEP_DIVE_LIMITS = {ids.REVIEW_DATE: 100, ids.LEAD: 320, ids.LEAD_EMAIL: 320}


def _deep_dive_fields(value: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: _text(value.get(name), name, _DEEP_DIVE_LIMITS.get(name, MAX_TEXT + 1))
        for name in DEEP_DIVE_INPUTS
    }


def _accept_deep_dive(value: Mapping[str, Any]) -> AcceptDeepDive:
    fields = _deep_dive_fields(value)
    lead = fields[ids.LEAD_EMAIL] or fields[ids.LEAD]
    return AcceptDeepDive(_deep_dive_id(value), fields[ids.REVIEW_DATE], lead[:320], fields)


def _decline_deep_dive(value: Mapping[str, Any]) -> DeclineDeepDive:
    fields = _deep_dive_fields(value)
    return DeclineDeepDive(_deep_dive_id(value), fields[ids.DECLINE_REASON], fields)


def _open_deep_dive(value: Mapping[str, Any]) -> OpenDeepDive:
    return OpenDeepDive(_deep_dive_id(value))


def _mark_done(value: Mapping[str, Any]) -> MarkDone:
    return MarkDone(_id(value.get("item")))


def _drop_action(value: Mapping[str, Any]) -> DropAction:
    item_id = _id(value.get("item"))
    reason = _text(value.get(ids.drop_reason(item_id)), ids.DROP_REASON, MAX_TEXT * 2)
    return DropAction(item_id, reason, len(reason) > MAX_TEXT)


def _person_id(value: Mapping[str, Any]) -> int | None:
    return _id(value.get("for")) or None


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


def _approve(value: Mapping[str, Any]) -> Approve:
    listed = value.get("returns")
    found = [_id(v) for v in listed[:MAX_LISTED]] if isinstance(listed, list) else []
    return Approve(tuple(dict.fromkeys(i for i in found if i)), _period(value))


def _return_to_owner(value: Mapping[str, Any]) -> ReturnToOwner:
    return_id = _id(value.get("return"))
    comment = _text(value.get(ids.review_comment(return_id)), ids.REVIEW_COMMENT)
    return ReturnToOwner(return_id, comment, _period(value))


def _lock_period(value: Mapping[str, Any]) -> LockPeriod:
    force = _raw(value.get(ids.LOCK_FORCE))[:8].strip().lower() == "true"
    return LockPeriod(_period(value), _long(value, ids.LOCK_REASON), force)


def _unlock_period(value: Mapping[str, Any]) -> UnlockPeriod:
    return UnlockPeriod(_period(value), _long(value, ids.LOCK_REASON))


def _open_measure(value: Mapping[str, Any]) -> OpenMeasure:
    return OpenMeasure(_code(value))


def _open_report(value: Mapping[str, Any]) -> OpenReport:
    return OpenReport(_text(value.get("kind"), limit=32) or "board", _period(value))


def _open_milestone(value: Mapping[str, Any]) -> OpenMilestone:
    return OpenMilestone(_id(value.get("milestone")))


def _milestone_form(value: Mapping[str, Any]) -> MilestoneForm:
    return MilestoneForm(
        _id(value.get("milestone")),
        _text(value.get(ids.MILESTONE_STATUS), ids.MILESTONE_STATUS, MAX_FIGURE),
        _text(value.get(ids.REVISED_DATE), ids.REVISED_DATE, MAX_FIGURE),
    )


PARSERS: dict[Verb, Callable[[Mapping[str, Any]], CardAction]] = {
    Verb.SUBMIT_RETURN: _return_form,
    Verb.NOT_AVAILABLE: _not_available,
    Verb.OPEN_RETURN: _open_return,
    Verb.MY_MEASURES: _show_measures,
    Verb.ACKNOWLEDGE: _acknowledge,
    Verb.AGREE_REMEDIAL: _agree_remedial,
    Verb.ASK_OWNER: _ask_owner,
    Verb.ANSWER_QUESTION: _answer_question,
    Verb.REQUEST_DEEP_DIVE: _request_deep_dive,
    Verb.STOP_ACTIVITY: _stop_activity,
    Verb.OPEN_ESCALATION: _open_escalation,
    Verb.ACCEPT_DEEP_DIVE: _accept_deep_dive,
    Verb.DECLINE_DEEP_DIVE: _decline_deep_dive,
    Verb.OPEN_DEEP_DIVE: _open_deep_dive,
    Verb.MARK_DONE: _mark_done,
    Verb.DROP_ACTION: _drop_action,
    Verb.CHASE_FOR_ME: _chase_for_me,
    Verb.ACKNOWLEDGE_OVERDUE: _acknowledge_overdue,
    Verb.APPROVE: _approve,
    Verb.RETURN_TO_OWNER: _return_to_owner,
    Verb.LOCK_PERIOD: _lock_period,
    Verb.UNLOCK_PERIOD: _unlock_period,
    Verb.OPEN_MEASURE: _open_measure,
    Verb.OPEN_REPORT: _open_report,
    Verb.OPEN_MILESTONE: _open_milestone,
    Verb.UPDATE_MILESTONE: _milestone_form,
}


def parse_action(value: Any) -> CardAction | None:
    """Read an ``Action.Submit`` value; None if it is not one of PerfBot's cards."""
    if not isinstance(value, Mapping):
        return None
    verb = _raw(value.get("verb"))
    if verb not in PARSERS:
        return None
    parse = PARSERS[Verb(verb)]
    try:
        return parse(value)
    except TextError as error:
        # Nothing of it is read further: the action as a blank card gives it, refused.
        return replace(parse({}), refused=str(error))
