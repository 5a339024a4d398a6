"""Use cases for returns: submitting a figure or a key action's progress, "not available
yet", snoozing and delegating. Each runs inside one transaction (domain/uow.py); no Teams here.

A card's use case answers with an outcome: the return stored, a refusal (its audit record is
kept), or the card's problems with what is needed to show the card again. A typed command's
use case raises Refused, having written nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain import (
    action_plans,
    benchmarks,
    cover,
    deep_dives,
    escalations,
    plausibility,
    signoff,
)
from domain.audit import record
from domain.dates import long_day, parse_day
from domain.locks import mark_restated, published_since
from domain.model import (
    Absence,
    Benchmark,
    Delegate,
    Measure,
    Milestone,
    Notification,
    NotificationState,
    PeriodLock,
    Person,
    Return,
    ReturnAnswer,
    ReturnState,
    Role,
    Snooze,
)
from domain.notifications import Kind, cancel, queue
from domain.numbers import FigureError, check_range, format_exact, parse_figure, quantize
from domain.people import why_unreachable
from domain.periods import Period, PeriodError
from domain.policy import Policy
from domain.profiles import period_words, plausibility_periods
from domain.questions import MAX_ANSWER, Question, answered, required_questions
from domain.ratings import Assessment, KeyActionStatus, RatingError, parse_progress
from domain.reminders import next_ask
from domain.reporting import answers_of, load_calendar, milestones_of, rate
from domain.text import has_visible
from domain.views import (
    OpenReturn,
    Receipt,
    Refused,
    build_open_return,
    current_period,
    deadline_of,
    directions,
    has_figure,
    history_labels,
    in_words,
    locked_sentence,
    may_send,
    measure_by_code,
    newest_by_period,
    open_periods,
    records,
    shown_value,
    still_open,
    targets_of,
    today_in_london,
    with_action_plan,
)

__all__ = ["Refused"]  # raised by the typed commands' use cases; defined with the views

# Input fields of a return, as the cards name them; problems are keyed by these.
ACTUAL, COMMENTARY, ACTION, ACTION_DUE, STATUS, REASON, CORRECTION_REASON = (
    "actual",
    "commentary",
    "action",
    "action_due",
    "status",
    "reason",
    "correction_reason",
)


@dataclass
class FormProblems(Exception):
    """What is wrong with a submitted card, field by field; nothing was stored."""

    errors: dict[str, str] = field(default_factory=dict)
    doubt: plausibility.Doubt | None = None
    summary: str = ""
    # The figure the person has already confirmed after a plausibility question: the card
    # that comes back (for other problems) carries it, so the question is never asked again.
    confirmed: str = ""
    off_track: bool = False  # the figure is off track: the card shows its review questions

    def __str__(self) -> str:
        return self.summary or "; ".join(self.errors.values())


@dataclass(frozen=True)
class Refusal:
    """The card's request was refused (and audited); nothing else was stored."""

    message: str


@dataclass(frozen=True)
class Rejected:
    """The card has problems: show it again with them. Nothing was stored."""

    open_return: OpenReturn
    problems: FormProblems


@dataclass(frozen=True)
class NotedNotAvailable:
    measure: Measure
    period: Period
    reason: str
    next_ask: date | None


@dataclass(frozen=True)
class Snoozed:
    measure: Measure
    period: Period
    until: date
    capped: bool  # brought forward to the deadline


@dataclass(frozen=True)
class Delegated:
    measure: Measure
    delegate: Person
    new: bool
    told: bool = False  # a message to them is queued
    note: str = ""  # who cannot be reached yet


# Built once (every press of a card reads it): its loader options cost more to build than
# the statement to run.
_MEASURE_FOR_CARD = (
    select(Measure)
    .where(Measure.code == bindparam("code"), Measure.active)
    .options(
        joinedload(Measure.owner).raiseload(Person.role_rows),
        joinedload(Measure.escalation_owner).raiseload(Person.role_rows),
        joinedload(Measure.delegates).raiseload(Person.role_rows),
        joinedload(Measure.priority_rows),
    )
)


async def _measure_for_card(session: AsyncSession, code: str) -> Measure | None:
    """The active measure with this code, in one statement (its owner, escalation owner,
    delegates and priorities joined: every press of a card reads it), without the roles of
    those people (a card needs only who they are); touching those roles then raises rather
    than answer wrongly."""
    found = await session.execute(_MEASURE_FOR_CARD, {"code": code.strip().upper()})
    return found.unique().scalar_one_or_none()


async def _checked_target(
    session: AsyncSession,
    person: Person,
    code: str,
    period_label: str,
    now: datetime,
    action: str,
) -> tuple[Measure, Period, PeriodLock | None]:
    """The measure and period a card names, re-checked on the server: the card's hidden data
    is never trusted. A mismatch is refused and audited (the caller keeps that record). A
    signed-off period is refused but to the performance team, who are given its lock (their
    correction needs a reason, and is a restatement)."""

    def refuse(reason: str, message: str) -> Refused:
        record(
            session,
            person.email,
            "refused",
            "return",
            f"{code} {period_label}",
            {"action": action, "reason": reason},
            now,
        )
        return Refused(message)

    measure = await _measure_for_card(session, code) if code else None
    if measure is None:
        raise refuse("unknown measure", f"There is no measure {code!r}. Nothing was saved.")
    try:
        period = Period.parse(period_label)
    except PeriodError:
        raise refuse("bad period", "That card names no valid period. Nothing was saved.") from None
    today = today_in_london(now)
    if period.frequency is not measure.frequency or period.end >= today:
        raise refuse(
            "period not reportable",
            f"{measure.code} cannot take a return for {period.label}. Nothing was saved.",
        )
    if not await may_send(session, person, measure, today):
        raise refuse(
            "not owner or delegate",
            f"Only the owner of {measure.code} ({measure.owner.name}), a delegate, whoever covers "
            "while its owner is away, or the performance team can send its return. Nothing was "
            "saved.",
        )
    lock = await session.get(PeriodLock, period.label)
    if lock is not None and not person.has_role(Role.ADMIN):
        raise refuse("period locked", locked_sentence(lock, measure.code))
    return measure, period, lock


@dataclass(frozen=True)
class SubmitReturn:
    """A return as typed on the card: every field a string, all re-checked here."""

    person_id: int
    code: str
    period: str
    actual: str = ""
    commentary: str = ""
    action: str = ""
    action_due: str = ""
    status: str = ""
    confirmed: str = ""
    card_id: str = ""  # the card's activity id: a double-click or retry sends the same one
    correction_reason: str = ""  # an admin's reason for changing a signed-off period
    too_long: tuple[str, ...] = ()  # fields the card sent over the length allowed
    # What the card found wrong with a field's text (too long, a character that cannot be
    # stored), by field: told against it, after the person's right to send it is checked.
    problems: tuple[tuple[str, str], ...] = ()
    # The card's word on the measure's action-plan items: progress by item id, and those done.
    progress: tuple[tuple[int, str], ...] = ()
    done: tuple[int, ...] = ()
    # The review questions' answers as typed, by question (domain/questions.py).
    answers: tuple[tuple[str, str], ...] = ()

    def answer(self, question: Question) -> str:
        return dict(self.answers).get(question.value, "")

    def idempotency_key(self) -> str:
        fields = [
            self.person_id,
            self.code,
            self.period,
            self.actual,
            self.commentary,
            self.action,
            self.action_due,
            self.status,
            self.card_id,
        ]
        if self.progress or self.done:
            fields.append([list(self.progress), list(self.done)])
        if self.correction_reason:
            fields.append(self.correction_reason)
        given = [[q.value, text] for q, text in answered(dict(self.answers))]
        if given:
            fields.append(given)
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:40]


SUBMIT_ATTEMPTS = 3  # a version stored by a concurrent request at the same moment: look again


async def submit_return(
    session: AsyncSession,
    cmd: SubmitReturn,
    person: Person,
    now: datetime,
    policy: Policy,
    max_text: int,
) -> Receipt | Refusal | Rejected:
    """Validate, store, rate. A refusal stores only its audit record, problems nothing.

    Run it with ``uow.run(..., attempts=SUBMIT_ATTEMPTS)``: when another request stores a
    version of the same return at the same moment (the same card twice, or another
    correction), the unique version fails and a second look finds the first by its
    idempotency key (and answers with its receipt) or takes the next version. ``person`` is
    who sent it, as the Teams layer identified them (``cmd.person_id``), roles loaded."""
    try:
        measure, period, lock = await _checked_target(
            session, person, cmd.code, cmd.period, now, "submit"
        )
    except Refused as refusal:
        return Refusal(str(refusal))
    # The submission reads this period and those around it: for plausibility (the eight
    # before it, or a cumulative measure's same period of earlier years), direction of
    # travel and, if the card must come back, its history; and the measure's benchmarks.
    history = await newest_by_period(session, measure.id, _labels_around(period, measure))
    compared = (await benchmarks.rows_of(session, [measure.id]))[measure.id]
    # Read before anything is written: on SQLite a write holds the database's one write lock
    # until the commit, so nothing more is read after it.
    waiting, targets = await still_open(session, measure, today_in_london(now), policy.open_from)
    still_waiting = tuple(p.label for p in waiting if p != period)
    target = None if measure.data_only else targets.get(period.label)
    milestones = (
        (await milestones_of(session, [measure.id])).get(measure.id, [])
        if measure.is_key_action
        else []
    )
    try:
        if cmd.too_long or cmd.problems:
            raise FormProblems(
                {
                    **{
                        name: f"This is over {max_text:,} characters: please shorten it."
                        for name in cmd.too_long
                    },
                    **dict(cmd.problems),
                }
            )
        earlier = await _sent_before(session, cmd, history.get(period.label))
        if earlier is not None:
            was = rate(measure, period, target, earlier, policy.scheme, milestones).rating
            steps = (
                await escalations.escalation_steps(session, measure, period)
                if policy.escalates(was)
                else None
            )
            said = (await answers_of(session, [earlier.id])).get(earlier.id, {})
            receipt = _receipt(
                measure,
                period,
                earlier,
                None,
                policy,
                target,
                history,
                steps,
                compared,
                said,
                duplicate=True,
                milestones=milestones,
            )
            plan = await action_plans.receipt_line(session, measure, earlier)
            return replace(receipt, waiting=tuple(p.label for p in waiting), action_plan=plan)
        doubt = None
        exceeding = False
        if measure.is_key_action:
            value = None
            status, exceeding, assessment = _key_action_fields(
                cmd, measure, period, policy, milestones
            )
        else:
            value = _figure(cmd, measure)
            status = None
            assessment = rate(measure, period, target, Return(value=value), policy.scheme)
            doubt = _doubt(cmd, measure, period, history, target)
        # One card back with every problem: the question about the figure and whatever
        # else is missing, so that answering one never brings the other up afterwards.
        _required_fields(
            cmd,
            measure,
            status,
            assessment,
            lock is not None,
            max_text,
            policy,
            today_in_london(now),
            doubt,
        )
    except FormProblems as problems:
        if not problems.doubt and _confirmed(cmd):
            problems = replace(problems, confirmed=cmd.actual.strip())
        calendar = await load_calendar(session)
        item = build_open_return(
            measure, period, today_in_london(now), policy, calendar, history, targets
        )
        if lock is not None:
            item = replace(item, locked=locked_sentence(lock, measure.code))
        return Rejected(await with_action_plan(session, item, today_in_london(now)), problems)

    previous = history.get(period.label)
    version = previous.version + 1 if previous else 1
    ret = Return(
        measure_id=measure.id,
        period=period.label,
        version=version,
        value=value,
        status=status.value if status else None,
        exceeding_expectations=exceeding,
        commentary=cmd.commentary.strip(),
        remedial_action=cmd.action.strip() or None,
        action_due=parse_day(cmd.action_due) if cmd.action_due.strip() else None,
        state=ReturnState.SUBMITTED,
        submitted_by_id=person.id,
        submitted_at=now,
        source="teams",
        idempotency_key=cmd.idempotency_key(),
    )
    replaced = shown_value(measure, previous) if has_figure(previous) else None
    changes: dict[str, object] = {
        "actual": [shown_value(measure, previous) if previous else None, shown_value(measure, ret)],
        "version": version,
    }
    if previous is not None and (previous.commentary or "") != ret.commentary:
        changes["commentary"] = [previous.commentary, ret.commentary]
    published = None
    if lock is not None:  # the performance team correcting a signed-off figure, with a reason
        mark_restated(ret, replaced, cmd.correction_reason.strip(), previous)
        changes.update(reason=cmd.correction_reason.strip(), source="teams")
        # Signed off already: it needs no approval, and is the corrector's own.
        ret.state, ret.reviewed_by_id, ret.reviewed_at = ReturnState.APPROVED, person.id, now
    elif previous is not None and has_figure(previous):
        published = await published_since(session, period.label, previous.submitted_at)
        if published is not None:  # the figure was in a summary: changing it restates it
            when = long_day(today_in_london(published.published_at))
            mark_restated(ret, replaced, None, previous)
            changes.update(reason=f"changed after the {published.kind} of {when}", source="teams")
        elif previous.restated:  # a restated figure changed again: still a restatement
            mark_restated(ret, replaced, None, previous)
            changes.update(reason="a restated figure changed again", source="teams")
    given = dict(answered(dict(cmd.answers)))
    if previous is not None:  # as the commentary: what changed from the version before
        said_before = (await answers_of(session, [previous.id])).get(previous.id, {})
        changed = {
            q.value: [said_before.get(q.value), given.get(q)]
            for q in Question
            if said_before.get(q.value) != given.get(q)
        }
        if changed:
            changes["answers"] = changed
    session.add(ret)
    if given:
        # The answers are stored apart, a row a question, for this version only: the
        # version's id is needed first (and its escalation, queued next, reads them).
        await session.flush()
        session.add_all(
            ReturnAnswer(return_id=ret.id, question=q.value, answer=text)
            for q, text in given.items()
        )
    action = "restate" if ret.restated else "submit" if version == 1 else "correct"
    record(session, person.email, action, "return", f"{measure.code} {period.label}", changes, now)
    escalated = await escalations.on_return(
        session, measure, period, assessment, ret, person, now, policy
    )
    await session.flush()
    if assessment.off_track:
        await deep_dives.flag_if_persistent(session, measure, period, policy, now)
    plan = await action_plans.from_return(
        session, measure, ret, assessment.off_track, person, now, cmd.progress, cmd.done
    )
    review = (
        None
        if lock is not None
        else await signoff.on_submitted(session, measure, ret, previous, person, now)
    )
    steps = None
    if escalated == "escalated":
        steps = await escalations.escalation_steps(session, measure, period)
    elif escalated == "reopened":
        key = escalations.reopened_key(measure, period, version)
        steps = await escalations.escalation_steps(session, measure, period, key)
    elif escalated == "recovered":
        steps = await escalations.recovery_steps(session, measure)
    elif escalated == "closed":
        steps = "Its escalation was closed when the activity was stopped, so nothing more is sent."
    if status is KeyActionStatus.COMPLETE and steps is None:
        steps = (
            f"It is recorded as complete, so PerfBot will not ask for {measure.code} again. To "
            f"reopen it, type submit {measure.code} and send a status other than complete."
        )
    receipt = _receipt(
        measure,
        period,
        ret,
        replaced,
        policy,
        target,
        history,
        steps,
        compared,
        {q.value: text for q, text in given.items()},
        milestones=milestones,
    )
    if lock is not None:
        what = f"a restatement of {replaced}" if replaced else "a new figure"
        review = (
            f"Recorded as {what} in the signed-off {period.label} (reason: "
            f"{cmd.correction_reason.strip()}); the audit trail shows it."
        )
    elif published is not None:
        when = long_day(today_in_london(published.published_at))
        review = (
            f"{replaced} was in the {published.kind} of {when}, so this is recorded as a "
            f"restatement and listed in the next one. {review or ''}"
        ).strip()
    if review:
        receipt = replace(receipt, next_steps=f"{receipt.next_steps} {review}")
    return replace(receipt, waiting=still_waiting, action_plan=plan)


async def _sent_before(
    session: AsyncSession, cmd: SubmitReturn, newest: Return | None
) -> Return | None:
    """The version this very press stored already (the same card sent twice), if any. Its
    key names the measure and period, so with no version of the period stored there is none
    to look for (a period's first return, most of them), and the newest version is looked
    at before the older ones."""
    if newest is None:
        return None
    key = cmd.idempotency_key()
    if newest.idempotency_key == key:
        return newest
    return await session.scalar(select(Return).where(Return.idempotency_key == key))


def _figure(cmd: SubmitReturn, measure: Measure) -> Decimal:
    try:
        value = parse_figure(cmd.actual)
        check_range(value, measure.unit, allow_negative=measure.allow_negative)
    except FigureError as error:
        message = str(error)
        if message == "no figure was given":
            message = "Enter the figure for this period (or choose Not available yet)."
        raise FormProblems({ACTUAL: message[0].upper() + message[1:]}) from None
    return quantize(value, measure.decimals)


def _key_action_fields(
    cmd: SubmitReturn,
    measure: Measure,
    period: Period,
    policy: Policy,
    milestones: list[Milestone],
) -> tuple[KeyActionStatus, bool, Assessment]:
    if not cmd.status.strip():
        raise FormProblems({STATUS: "Choose a status: complete, on track, some risk or unlikely."})
    try:
        status, exceeding = parse_progress(cmd.status)
    except RatingError as error:
        raise FormProblems({STATUS: str(error)[0].upper() + str(error)[1:]}) from None
    reported = Return(status=status.value, exceeding_expectations=exceeding)
    return (
        status,
        exceeding,
        rate(measure, period, None, reported, policy.scheme, milestones),
    )


def _required_fields(
    cmd: SubmitReturn,
    measure: Measure,
    status: KeyActionStatus | None,
    assessment: Assessment,
    locked: bool,
    max_text: int,
    policy: Policy,
    today: date,
    doubt: plausibility.Doubt | None = None,
) -> None:
    """Raise FormProblems with every field that needs putting right (and ``doubt``, the
    question about the figure, first)."""
    errors = {ACTUAL: doubt.message} if doubt else {}
    if locked and not cmd.correction_reason.strip():
        errors[CORRECTION_REASON] = (
            "This period is signed off: say why the figure is being corrected (it is recorded "
            "as a restatement)."
        )
    elif len(cmd.correction_reason.strip()) > max_text:
        errors[CORRECTION_REASON] = f"This is over {max_text:,} characters: please shorten it."
    if not has_visible(cmd.commentary):
        errors[COMMENTARY] = "Add a short commentary: what the figure shows and why."
    slipping = status in (KeyActionStatus.SOME_RISK, KeyActionStatus.UNLIKELY)
    # A figure in question is not yet asked for what its rating needs: it is probably a
    # slip, and the suggestion (or the figure confirmed) decides the rating.
    off_track = assessment.off_track and not measure.is_key_action and doubt is None
    if off_track and policy.action_required:
        if not cmd.action.strip():
            errors[ACTION] = "It is off track: say what action will bring it back on track."
        if not cmd.action_due.strip():
            errors[ACTION_DUE] = "It is off track: say by when it should be back on track."
    unanswered = [
        q
        for q in required_questions(policy.required)
        if off_track and not has_visible(cmd.answer(q))
    ]
    for question in unanswered:
        errors[question.value] = question.missing
    for question in Question:
        if len(cmd.answer(question)) > MAX_ANSWER:
            errors[question.value] = f"This is over {MAX_ANSWER:,} characters: please shorten it."
    if slipping and not cmd.action_due.strip():
        errors[ACTION_DUE] = "It is slipping: give the revised date."
    if cmd.action_due.strip():
        try:
            due = parse_day(cmd.action_due)
        except ValueError as error:
            errors[ACTION_DUE] = str(error)[0].upper() + str(error)[1:]
        else:
            # A date already gone promises nothing; a signed-off period's correction may
            # keep the date its return gave at the time.
            if due < today and not locked:
                what = "revised date" if measure.is_key_action else "date it will be back on track"
                errors[ACTION_DUE] = f"{long_day(due)} has passed: give the {what}, today or later."
    if errors:
        summary = None
        if doubt is not None:
            summary = doubt.message
        elif off_track:
            summary = f"{assessment.explanation} {_off_track_needs(policy)}"
        raise FormProblems(
            errors,
            doubt=doubt,
            summary=summary or "Please complete the fields marked below.",
            off_track=off_track,
        )


def _off_track_needs(policy: Policy) -> str:
    """What the council requires of an off-track figure, as the card's summary says it."""
    asked = required_questions(policy.required)
    if policy.action_required and not asked:
        return "Off-track figures need an action and a date."
    needs = ["an action and a date"] if policy.action_required else []
    if asked:
        needs.append(
            "the review question"
            + (" marked below answered" if len(asked) == 1 else "s marked below answered")
        )
    if not needs:
        return "Please complete the fields marked below."
    return f"Off-track figures need {' and '.join(needs)}."


def _labels_around(period: Period, measure: Measure) -> list[str]:
    """The periods a submission reads: this one and the four before it (the card's
    history), those its plausibility is judged against (domain/profiles.py) and the same
    period last year (direction of travel)."""
    labels = history_labels(period)
    wanted = [*plausibility_periods(period, measure.cumulative), period.same_period_last_year()]
    for earlier in wanted:
        if earlier.label not in labels:
            labels.append(earlier.label)
    return labels


def _confirmed(cmd: SubmitReturn) -> bool:
    """Whether the person has already seen the question and confirmed this very figure."""
    return bool(cmd.confirmed.strip()) and cmd.confirmed.strip() == cmd.actual.strip()


def _doubt(
    cmd: SubmitReturn,
    measure: Measure,
    period: Period,
    history: dict[str, Return],
    target: Decimal | None,
) -> plausibility.Doubt | None:
    """The question to ask about a figure far from what the measure's profile expects: an
    ordinary measure's recent figures; a cumulative one's same period in earlier years (one
    is enough to judge by), or with none of those its target for the period (a target set
    flat at the year's end, not profiled, would otherwise query every early month)."""
    if _confirmed(cmd):
        return None
    earlier = [history.get(p.label) for p in plausibility_periods(period, measure.cumulative)]
    values = [r.value for r in earlier if r is not None and r.value is not None]
    against, minimum = "recent figures", plausibility.MINIMUM_HISTORY
    if measure.cumulative:
        against, minimum = f"{period_words(period)} in earlier years", 1
        if not values and target is not None:
            values, against = [target], f"its target for {period_words(period)}"
    return plausibility.check(
        parse_figure(cmd.actual),  # as typed: a slip's digits before rounding (1.07, not 1.1)
        values,
        cmd.actual.strip(),
        lambda d: format_exact(d, measure.unit, measure.decimals),
        fit=plausibility.fitting(measure.unit, measure.decimals, measure.allow_negative),
        minimum=minimum,
        against=against,
    )


def _receipt(
    measure: Measure,
    period: Period,
    ret: Return,
    replaced: str | None,
    policy: Policy,
    target: Decimal | None,
    history: dict[str, Return],
    escalation: str | None,
    compared: list[Benchmark],
    said: dict[str, str],
    duplicate: bool = False,
    milestones: list[Milestone] | None = None,
) -> Receipt:
    assessment = rate(measure, period, target, ret, policy.scheme, milestones or ())
    travel = directions(measure, period, ret.value, history)
    words = [("Commentary", ret.commentary)] if ret.commentary else []
    words += [(q.heading, text) for q, text in answered(said)]
    if ret.remedial_action:
        words.append(("Action", ret.remedial_action))
    if ret.action_due:
        words.append(
            ("Revised date" if measure.is_key_action else "By when", long_day(ret.action_due))
        )
    if escalation is not None:
        steps = escalation
    elif assessment.off_track:
        steps = "It is off track: what you sent is recorded."
    else:
        steps = "Nothing more is needed for this period. Thank you."
    return Receipt(
        measure,
        period,
        shown_value(measure, ret),
        assessment,
        travel.since_last_period,
        travel.since_last_year,
        ret.version,
        replaced,
        steps,
        duplicate,
        last_year_words=travel.last_year_words,
        benchmarks=benchmarks.standing_of(measure, period, ret.value, compared),
        words=tuple(words),
    )


async def not_available(
    session: AsyncSession,
    person: Person,
    code: str,
    period_label: str,
    reason: str,
    now: datetime,
    policy: Policy,
    max_text: int,
    problem: str = "",
) -> NotedNotAvailable | Refusal | Rejected:
    """Record why a figure is not available yet, and when PerfBot will ask again. ``problem``
    is what the card found wrong with the reason's text, told once the person's right to send
    it is checked."""
    try:
        measure, period, lock = await _checked_target(
            session, person, code, period_label, now, "not available"
        )
    except Refused as refusal:
        return Refusal(str(refusal))
    if lock is not None:
        record(
            session,
            person.email,
            "refused",
            "return",
            f"{measure.code} {period.label}",
            {"action": "not available", "reason": "period locked"},
            now,
        )
        return Refusal(
            f'{locked_sentence(lock, measure.code)} A signed-off period takes no "not '
            'available": correct its figure instead, giving a reason.'
        )
    calendar = await load_calendar(session)
    today = today_in_london(now)
    if problem or len(reason.strip()) > max_text or not has_visible(reason):
        message = problem or (
            f"This is over {max_text:,} characters: please shorten it."
            if has_visible(reason)
            else "Say why the figure is not available yet."
        )
        labels = history_labels(period)
        item = build_open_return(
            measure,
            period,
            today,
            policy,
            calendar,
            await newest_by_period(session, measure.id, labels),
            await targets_of(session, measure.id, labels),
        )
        return Rejected(
            await with_action_plan(session, item, today), FormProblems({REASON: message})
        )
    previous = (await newest_by_period(session, measure.id, [period.label])).get(period.label)
    if has_figure(previous):
        return Refusal(
            f"{measure.code} {period.label} already has a figure ({shown_value(measure, previous)}). "
            "Send a correction instead."
        )
    if previous is None or previous.not_available_reason != reason.strip():
        session.add(
            Return(
                measure_id=measure.id,
                period=period.label,
                version=previous.version + 1 if previous else 1,
                not_available_reason=reason.strip(),
                state=ReturnState.DUE,
                submitted_by_id=person.id,
                submitted_at=now,
                source="teams",
            )
        )
        record(
            session,
            person.email,
            "not available",
            "return",
            f"{measure.code} {period.label}",
            {"reason": reason.strip()},
            now,
        )
    cadence = policy.cadence.for_measure(measure.reminder_days)
    ask = next_ask(deadline_of(measure, period, calendar), today, calendar, cadence)
    return NotedNotAvailable(measure, period, reason.strip(), ask)


async def snooze(
    session: AsyncSession,
    person: Person,
    code: str,
    until_text: str,
    now: datetime,
    policy: Policy,
) -> Snoozed:
    """No reminders for a return until a day; never past its deadline."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(
            f"There is no measure {code.strip().upper()!r}. Type my measures to see yours."
        )
    if not await may_send(session, person, measure, today_in_london(now)):
        raise Refused(
            f"You are not the owner or a delegate of {measure.code}, so there is nothing to snooze."
        )
    try:
        until = parse_day(until_text)
    except ValueError as error:
        raise Refused(f"{error}, as in snooze {measure.code} until 2025-07-18.") from None
    today = today_in_london(now)
    if until <= today:
        raise Refused(f"{until:%d %B %Y} is not in the future: choose a later day.")
    calendar = await load_calendar(session)
    # The open return whose reminders are still to come (an overdue one is chased, not
    # reminded, so it cannot be snoozed); with none open, the latest period's.
    [read] = (await records(session, [measure])).values()
    waiting = open_periods(measure, read, today, policy.open_from)
    coming = [p for p in waiting if deadline_of(measure, p, calendar) >= today]
    period = coming[0] if coming else waiting[0] if waiting else current_period(measure, today)
    deadline = deadline_of(measure, period, calendar)
    if deadline < today:
        raise Refused(
            f"{measure.code}'s return for {period.label} was due on {long_day(deadline)}, "
            f"so it can't be snoozed now. Send it with submit {measure.code}."
        )
    capped = until > deadline
    if capped:
        until = deadline
    existing = await session.scalar(
        select(Snooze).where(
            Snooze.measure_id == measure.id,
            Snooze.period == period.label,
            Snooze.person_id == person.id,
        )
    )
    if existing is None:
        session.add(
            Snooze(
                measure_id=measure.id,
                period=period.label,
                person_id=person.id,
                until=until,
                created_at=now,
            )
        )
    else:
        existing.until = until
    record(
        session,
        person.email,
        "snooze",
        "return",
        f"{measure.code} {period.label}",
        {"until": until.isoformat()},
        now,
    )
    return Snoozed(measure, period, until, capped)


async def _known_person(session: AsyncSession, email: str, then: str) -> Person:
    """The person an email names; Refused if PerfBot does not know them (``then``: what to
    do instead, after "Ask the performance team to add them")."""
    target = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if target is None:
        raise Refused(
            f"{email.strip()} is not someone PerfBot knows. Ask the performance team to add "
            f"them first{then}."
        )
    return target


async def _delegable(session: AsyncSession, person: Person, code: str, verb: str) -> Measure:
    """The measure a delegate is added to or removed from: its owner's, or the performance
    team's, to change."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(
            f"There is no measure {code.strip().upper()!r}. Type my measures to see yours."
        )
    if measure.owner_id != person.id and not person.has_role(Role.ADMIN):
        raise Refused(
            f"Only the owner of {measure.code} ({measure.owner.name}) or the performance team can "
            f"{verb} a delegate."
        )
    return measure


async def _reach(session: AsyncSession, people: Sequence[Person]) -> str:
    """What a reply adds about telling these people: who cannot be reached yet gets it when
    they can ("" if everyone can)."""
    waiting = [p.name for p in people if await why_unreachable(session, p) is not None]
    if not waiting:
        return ""
    verb = "has" if len(waiting) == 1 else "have"
    return (
        f" {in_words(waiting)} {verb} not got PerfBot in Teams yet: the message waits until "
        "they have it."
    )


async def delegate(
    session: AsyncSession, person: Person, code: str, email: str, now: datetime
) -> Delegated:
    """The owner (or an admin) adds a delegate, who is told."""
    measure = await _delegable(session, person, code, "add")
    target = await _known_person(session, email, "")
    if target.id == measure.owner_id:
        raise Refused(f"{target.name} already owns {measure.code}.")
    if any(d.id == target.id for d in measure.delegates):
        return Delegated(measure, target, False)
    _add_delegate(session, person, measure, target, now)
    told = await queue(
        session,
        Kind.DELEGATED,
        f"{measure.code}:{target.email}:{now.isoformat()}",
        person_id=target.id,
        payload={"code": measure.code, "codes": [measure.code], "by": person.name},
        now=now,
    )
    await session.flush()
    await session.refresh(measure, ["delegates"])
    note = await _reach(session, [target]) if told else ""
    return Delegated(measure, target, True, told is not None, note)


def _add_delegate(
    session: AsyncSession, person: Person, measure: Measure, target: Person, now: datetime
) -> None:
    """``target`` made a delegate for ``measure`` by ``person``, and the audit record of it."""
    session.add(Delegate(measure_id=measure.id, person_id=target.id))
    record(
        session,
        person.email,
        "add delegate",
        "measure",
        measure.code,
        {"delegates": [None, target.email]},
        now,
    )


@dataclass(frozen=True)
class DelegatedAll:
    delegate: Person
    added: tuple[str, ...]  # the codes they are a delegate for now
    already: tuple[str, ...]  # those they were a delegate for before
    told: bool
    note: str = ""  # who cannot be reached yet


async def delegate_all(
    session: AsyncSession, person: Person, email: str, now: datetime
) -> DelegatedAll:
    """Make someone a delegate for every measure ``person`` owns; they are told once, with
    the list."""
    measures = await cover.owned(session, person.id)
    if not measures:
        raise Refused(
            "You don't own any measures, so there is nothing to delegate. Type my measures to "
            "see what you deputise for."
        )
    target = await _known_person(session, email, "")
    if target.id == person.id:
        raise Refused(
            "You own these measures already: name someone else, as in delegate all "
            "to name@council.gov.uk."
        )
    added, already = [], []
    for measure in measures:
        if any(d.id == target.id for d in measure.delegates):
            already.append(measure.code)
            continue
        _add_delegate(session, person, measure, target, now)
        added.append(measure.code)
    told = None
    if added:
        told = await queue(
            session,
            Kind.DELEGATED,
            f"all:{person.id}:{target.email}:{now.isoformat()}",
            person_id=target.id,
            payload={"code": added[0], "codes": added, "by": person.name},
            now=now,
        )
    note = await _reach(session, [target]) if told else ""
    return DelegatedAll(target, tuple(added), tuple(already), told is not None, note)


@dataclass(frozen=True)
class Undelegated:
    measure: Measure
    delegate: Person
    told: bool
    note: str = ""


async def undelegate(
    session: AsyncSession, person: Person, code: str, email: str, now: datetime
) -> Undelegated:
    """The owner (or an admin) removes a delegate, who is told."""
    measure = await _delegable(session, person, code, "remove")
    target = await _known_person(session, email, "")
    row = await session.get(Delegate, (measure.id, target.id))
    if row is None:
        others = [d.name for d in measure.delegates]
        has = f"its delegates are {in_words(others)}" if others else "it has no delegates"
        raise Refused(
            f"{target.name} is not a delegate for {measure.code} ({has}), so nothing was changed."
        )
    await session.delete(row)
    record(
        session,
        person.email,
        "remove delegate",
        "measure",
        measure.code,
        {"delegates": [target.email, None]},
        now,
    )
    told = await queue(
        session,
        Kind.UNDELEGATED,
        f"{measure.code}:{target.email}:{now.isoformat()}",
        person_id=target.id,
        payload={"code": measure.code, "by": person.name},
        now=now,
    )
    await session.flush()
    await session.refresh(measure, ["delegates"])
    note = await _reach(session, [target]) if told else ""
    return Undelegated(measure, target, told is not None, note)


MAX_AWAY_DAYS = 366  # cover is for leave, not for good: a longer absence is a new owner


def back_example(today: date) -> str:
    return (today + timedelta(days=14)).isoformat()


@dataclass(frozen=True)
class WentAway:
    until: date
    plan: cover.Plan
    told: tuple[str, ...]  # who is told they cover (new, or their share changed)
    ended: tuple[str, ...]  # who covered before and no longer does (told so)
    unchanged: bool  # the same absence was set before: nothing changed, nobody told again
    note: str = ""  # who cannot be reached yet


async def away(
    session: AsyncSession,
    person: Person,
    until_text: str,
    cover_email: str,
    now: datetime,
) -> WentAway:
    """``away until DATE [delegate EMAIL]``: until that day (the day they are back) the
    person's reminders and chasers go to their covers (domain/cover.py), who are told and may
    send those returns. Setting it again replaces it."""
    today = today_in_london(now)
    example = back_example(today)
    try:
        until = parse_day(until_text)
    except ValueError as error:
        raise Refused(f"{error}. Type the day you are back, as in away until {example}.") from None
    if until <= today:
        raise Refused(
            f"{long_day(until)} is not in the future: type the day you are back, as in away "
            f"until {example}. Type back when you return early."
        )
    if (until - today).days > MAX_AWAY_DAYS:
        raise Refused(
            f"{long_day(until)} is more than a year away: PerfBot takes cover for up to a year. "
            "For longer, ask the performance team to give your measures another owner."
        )
    found = await cover.away_on(session, today)
    named = None
    if cover_email.strip():
        named = await _known_person(
            session, cover_email, ", or leave delegate out to have your delegates cover"
        )
        if named.id == person.id:
            raise Refused(
                "You can't cover for yourself: name someone else, as in away until "
                f"{until.isoformat()} delegate name@council.gov.uk."
            )
        theirs = found.absences.get(named.id)
        if theirs is not None:
            raise Refused(
                f"{named.name} is away too, until {long_day(theirs.until)}: name someone else."
            )
    measures = await cover.owned(session, person.id)
    manager = await session.get(Person, person.manager_id) if person.manager_id else None
    planned = cover.plan(measures, named, manager, found.absences)
    if planned.uncovered:
        whom = (
            f"your manager, {manager.name}, is away too"
            if manager is not None and found.is_away(manager.id)
            else "the people sheet names no manager for you"
        )
        raise Refused(
            f"Nobody would get the reminders for {in_words(list(planned.uncovered))}: "
            f"{'it has' if len(planned.uncovered) == 1 else 'they have'} no delegate and "
            f"{whom}. Name who covers, as in away until {until.isoformat()} delegate "
            "name@council.gov.uk."
        )
    before = await session.scalar(select(Absence).where(Absence.person_id == person.id))
    current = before if before is not None and before.until > today else None
    if (
        current is not None
        and current.until == until
        and current.cover_id == (named.id if named else None)
    ):
        return WentAway(until, planned, (), (), True)
    old_plan = cover.plan(measures, current.cover, manager, found.absences) if current else None
    record(
        session,
        person.email,
        "away",
        "person",
        person.email,
        {
            "until": [current.until.isoformat() if current else None, until.isoformat()],
            "cover": [
                current.cover.email if current and current.cover else None,
                named.email if named else None,
            ],
        },
        now,
    )
    if before is None:
        before = Absence(person_id=person.id, until=until, set_by=person.email, set_at=now)
        session.add(before)
    before.until, before.cover_id, before.cover = until, named.id if named else None, named
    before.set_by, before.set_at = person.email, now
    told, reached = [], []
    for share in planned.covers:
        had = old_plan.of(share.person.id) if old_plan else None
        if had is not None and had.codes == share.codes and current and current.until == until:
            continue
        key = await queue(
            session,
            Kind.COVER,
            f"{person.id}:{share.person.id}:{until.isoformat()}:{now.isoformat()}",
            person_id=share.person.id,
            payload={
                "for": person.name,
                "for_id": person.id,
                "until": until.isoformat(),
                "codes": list(share.codes),
                "as_delegate": list(share.as_delegate),
            },
            now=now,
        )
        if key is not None:
            told.append(share.person.name)
            reached.append(share.person)
    ended = []
    if old_plan is not None and current is not None:
        for share in old_plan.covers:
            if planned.of(share.person.id) is None and await _cover_ended(
                session, person, current, share, "chose others", now
            ):
                ended.append(share.person.name)
                reached.append(share.person)
    return WentAway(
        until, planned, tuple(told), tuple(ended), False, await _reach(session, reached)
    )


async def _cover_ended(
    session: AsyncSession,
    owner: Person,
    absence: Absence,
    share: cover.Covering,
    why: str,
    now: datetime,
) -> bool:
    """Tell someone their cover has ended; if the notice that it began has not gone yet, it
    is withdrawn instead and nothing is sent (False)."""
    unsent = (
        await session.scalars(
            select(Notification).where(
                Notification.kind == Kind.COVER.value,
                Notification.person_id == share.person.id,
                Notification.state == NotificationState.PENDING,
                Notification.reason_key.startswith(f"{Kind.COVER.value}:{owner.id}:"),
            )
        )
    ).all()
    for notice in unsent:
        cancel(notice, "the cover ended before this went")
    if unsent:
        return False
    await queue(
        session,
        Kind.COVER_ENDED,
        f"{owner.id}:{share.person.id}:{absence.until.isoformat()}:{now.isoformat()}",
        person_id=share.person.id,
        payload={
            "for": owner.name,
            "codes": list(share.codes),
            "as_delegate": list(share.as_delegate),
            "why": why,
        },
        now=now,
    )
    return True


@dataclass(frozen=True)
class CameBack:
    was_away: bool
    until: date | None = None
    ended: tuple[str, ...] = ()  # who covered, and is told it has ended
    note: str = ""


async def back(session: AsyncSession, person: Person, now: datetime) -> CameBack:
    """``back``: the person's absence ends now; whoever covered is told."""
    today = today_in_london(now)
    absence = await session.scalar(select(Absence).where(Absence.person_id == person.id))
    if absence is None or absence.until <= today:
        return CameBack(False)
    found = await cover.away_on(session, today)
    manager = found.managers.get(person.id)
    planned = cover.plan(
        await cover.owned(session, person.id), absence.cover, manager, found.absences
    )
    record(
        session,
        person.email,
        "back",
        "person",
        person.email,
        {"until": [absence.until.isoformat(), None]},
        now,
    )
    told = [
        share.person
        for share in planned.covers
        if await _cover_ended(session, person, absence, share, "back", now)
    ]
    until = absence.until
    await session.delete(absence)
    return CameBack(True, until, tuple(p.name for p in told), await _reach(session, told))
