"""Use cases for returns: submitting a figure or a key action's progress, "not available
yet", snoozing and delegating. Each runs inside one transaction (domain/uow.py); no Teams here.

A card's use case answers with an outcome: the return stored, a refusal (its audit record is
kept), or the card's problems with what is needed to show the card again. A typed command's
use case raises Refused, having written nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from domain import action_plans, deep_dives, escalations, plausibility, signoff
from domain.audit import record
from domain.dates import long_day, parse_day
from domain.locks import mark_restated, published_since
from domain.model import (
    Delegate,
    Measure,
    PeriodLock,
    Person,
    Return,
    ReturnAnswer,
    ReturnState,
    Role,
    Snooze,
)
from domain.notifications import Kind, queue
from domain.numbers import FigureError, check_range, format_exact, parse_figure, quantize
from domain.periods import Period, PeriodError
from domain.policy import Policy
from domain.questions import MAX_ANSWER, Question, answered, required_questions
from domain.ratings import Assessment, KeyActionStatus, RatingError, direction
from domain.reminders import next_ask
from domain.reporting import answers_of, load_calendar, rate
from domain.text import has_visible
from domain.views import (
    OpenReturn,
    Receipt,
    Refused,
    build_open_return,
    can_submit,
    current_period,
    deadline_of,
    has_figure,
    history_labels,
    locked_sentence,
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


async def _measure_for_card(session: AsyncSession, code: str) -> Measure | None:
    """The active measure with this code, without the roles of its owner, escalation owner
    and delegates (two queries fewer: a card needs only who they are); touching those roles
    then raises rather than answer wrongly."""
    return await session.scalar(
        select(Measure)
        .where(Measure.code == code.strip().upper(), Measure.active)
        .options(
            joinedload(Measure.owner).raiseload(Person.role_rows),
            joinedload(Measure.escalation_owner).raiseload(Person.role_rows),
            selectinload(Measure.delegates).raiseload(Person.role_rows),
        )
    )


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
    if not can_submit(person, measure):
        raise refuse(
            "not owner or delegate",
            f"Only the owner of {measure.code} ({measure.owner.name}), a delegate or the performance "
            "team can send its return. Nothing was saved.",
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
    # The submission reads this period, the eight before it and the same period last year:
    # plausibility, direction of travel and, if the card must come back, its history.
    history = await newest_by_period(session, measure.id, _labels_around(period))
    # Read before anything is written: on SQLite a write holds the database's one write lock
    # until the commit, so nothing more is read after it.
    waiting, targets = await still_open(session, measure, today_in_london(now), policy.open_from)
    still_waiting = tuple(p.label for p in waiting if p != period)
    target = None if measure.data_only else targets.get(period.label)
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
        earlier = await session.scalar(
            select(Return).where(Return.idempotency_key == cmd.idempotency_key())
        )
        if earlier is not None:
            was = rate(measure, period, target, earlier, policy.scheme).rating
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
                said,
                duplicate=True,
            )
            plan = await action_plans.receipt_line(session, measure, earlier)
            return replace(receipt, waiting=tuple(p.label for p in waiting), action_plan=plan)
        if measure.is_key_action:
            value, status, assessment = None, *_key_action_fields(cmd, measure, period, policy)
        else:
            value = _figure(cmd, measure)
            status = None
            assessment = rate(measure, period, target, Return(value=value), policy.scheme)
            _plausible(cmd, measure, period, value, history)
        _required_fields(cmd, measure, assessment, lock is not None, max_text, policy)
    except FormProblems as problems:
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
    said = {q.value: text for q, text in given.items()}
    receipt = _receipt(measure, period, ret, replaced, policy, target, history, steps, said)
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
    cmd: SubmitReturn, measure: Measure, period: Period, policy: Policy
) -> tuple[KeyActionStatus, Assessment]:
    if not cmd.status.strip():
        raise FormProblems({STATUS: "Choose a status: complete, on track, some risk or unlikely."})
    try:
        status = KeyActionStatus.parse(cmd.status)
    except RatingError as error:
        raise FormProblems({STATUS: str(error)[0].upper() + str(error)[1:]}) from None
    return status, rate(measure, period, None, Return(status=status.value), policy.scheme)


def _required_fields(
    cmd: SubmitReturn,
    measure: Measure,
    assessment: Assessment,
    locked: bool,
    max_text: int,
    policy: Policy,
) -> None:
    errors = {}
    if locked and not cmd.correction_reason.strip():
        errors[CORRECTION_REASON] = (
            "This period is signed off: say why the figure is being corrected (it is recorded "
            "as a restatement)."
        )
    elif len(cmd.correction_reason.strip()) > max_text:
        errors[CORRECTION_REASON] = f"This is over {max_text:,} characters: please shorten it."
    if not has_visible(cmd.commentary):
        errors[COMMENTARY] = "Add a short commentary: what the figure shows and why."
    slipping = measure.is_key_action and cmd.status.strip().lower() in ("some risk", "unlikely")
    off_track = assessment.off_track and not measure.is_key_action
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
            parse_day(cmd.action_due)
        except ValueError as error:
            errors[ACTION_DUE] = str(error)[0].upper() + str(error)[1:]
    if errors:
        summary = None
        if off_track:
            summary = f"{assessment.explanation} {_off_track_needs(policy)}"
        raise FormProblems(
            errors,
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


PLAUSIBILITY_PERIODS = 8  # how far back a new figure is compared with


def _labels_around(period: Period) -> list[str]:
    """The periods a submission reads: this one, the eight before it (plausibility, direction
    of travel and the card's history) and the same period last year."""
    labels = [period.label]
    current = period
    for _ in range(PLAUSIBILITY_PERIODS):
        current = current.previous()
        labels.append(current.label)
    last_year = period.same_period_last_year().label
    if last_year not in labels:
        labels.append(last_year)
    return labels


def _plausible(
    cmd: SubmitReturn,
    measure: Measure,
    period: Period,
    value: Decimal,
    history: dict[str, Return],
) -> None:
    if cmd.confirmed.strip() and cmd.confirmed.strip() == cmd.actual.strip():
        return  # the person has already seen the query and confirmed this figure
    earlier = [history.get(p) for p in _labels_around(period)[1 : PLAUSIBILITY_PERIODS + 1]]
    values = [r.value for r in earlier if r is not None and r.value is not None]
    doubt = plausibility.check(
        value,
        values,
        cmd.actual.strip(),
        lambda d: format_exact(d, measure.unit, measure.decimals),
    )
    if doubt is not None:
        raise FormProblems({ACTUAL: doubt.message}, doubt=doubt, summary=doubt.message)


def _receipt(
    measure: Measure,
    period: Period,
    ret: Return,
    replaced: str | None,
    policy: Policy,
    target: Decimal | None,
    history: dict[str, Return],
    escalation: str | None,
    said: dict[str, str],
    duplicate: bool = False,
) -> Receipt:
    assessment = rate(measure, period, target, ret, policy.scheme)
    words = [("Commentary", ret.commentary)] if ret.commentary else []
    words += [(q.heading, text) for q, text in answered(said)]
    if ret.remedial_action:
        words.append(("Action", ret.remedial_action))
    if ret.action_due:
        words.append(
            ("Revised date" if measure.is_key_action else "By when", long_day(ret.action_due))
        )
    before = history.get(period.previous().label)
    last_year = history.get(period.same_period_last_year().label)
    value = ret.value
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
        None
        if measure.is_key_action
        else direction(value, before.value if before else None, measure.polarity),
        None
        if measure.is_key_action
        else direction(value, last_year.value if last_year else None, measure.polarity),
        ret.version,
        replaced,
        steps,
        duplicate,
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
    if not can_submit(person, measure):
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


async def delegate(
    session: AsyncSession, person: Person, code: str, email: str, now: datetime
) -> Delegated:
    """The owner (or an admin) adds a delegate, who is told."""
    measure = await measure_by_code(session, code)
    if measure is None:
        raise Refused(
            f"There is no measure {code.strip().upper()!r}. Type my measures to see yours."
        )
    if measure.owner_id != person.id and not person.has_role(Role.ADMIN):
        raise Refused(
            f"Only the owner of {measure.code} ({measure.owner.name}) or the performance team can "
            "add a delegate."
        )
    target = await session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if target is None:
        raise Refused(
            f"{email.strip()} is not someone PerfBot knows. Ask the performance team to add them first."
        )
    if target.id == measure.owner_id:
        raise Refused(f"{target.name} already owns {measure.code}.")
    if any(d.id == target.id for d in measure.delegates):
        return Delegated(measure, target, False)
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
    await queue(
        session,
        Kind.DELEGATED,
        f"{measure.code}:{target.email}:{now.date().isoformat()}",
        person_id=target.id,
        payload={"code": measure.code, "by": person.name},
        now=now,
    )
    await session.flush()
    await session.refresh(measure, ["delegates"])
    return Delegated(measure, target, True)
