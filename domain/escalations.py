"""Escalations: an off-track return put to its measure's escalation owner at once, and what
they decide from the escalation card (DESIGN.md "Escalation"): acknowledge it, agree a
remedial action (it joins the measure's action plan), ask the owner a question, request a
deep dive, or stop a key action or project. A correction that brings the measure back on
track closes it; one left unacknowledged is reminded once.

Each use case runs in one transaction (domain/uow.py) and answers with what the card should
now show; only the escalation owner or the performance team may act, and every step, a
refusal too, is audited. No Teams here: the card is drawn by cards/render.py from the
``EscalationView`` built here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import action_plans, benchmarks, deep_dives
from domain.audit import record
from domain.dates import LONDON, long_day, parse_day
from domain.model import (
    ActionPlan,
    ActionPlanStatus,
    Escalation,
    EscalationQuestion,
    Measure,
    Milestone,
    Notification,
    NotificationState,
    Person,
    Return,
    Role,
)
from domain.notifications import Kind, queue
from domain.people import NOT_INSTALLED, performance_team, why_unreachable
from domain.periods import Period
from domain.policy import Policy
from domain.questions import answered
from domain.ratings import (
    Assessment,
    KeyActionStatus,
    assess_key_action,
    first_past_due,
)
from domain.reporting import answers_of, load_calendar, rate
from domain.views import (
    build_open_return,
    direction_facts,
    directions,
    history_labels,
    newest_by_period,
    open_return,
    shown_value,
    targets_of,
    today_in_london,
)

OFF_TRACK = "off-track"
MAX_TEXT = 4_000  # as cards/actions.py: the longest text a card may send

# The kinds of message this module queues; outbox.still_wanted asks ``still_wanted`` of them.
KINDS = frozenset(
    {
        Kind.ESCALATION,
        Kind.ESCALATION_UPDATE,
        Kind.ESCALATION_REMINDER,
        Kind.QUESTION,
        Kind.ANSWER,
    }
)

# Input fields of the escalation card's forms, as the cards name them; errors are keyed by these.
REMEDIAL, REMEDIAL_OWNER, REMEDIAL_DUE = "remedial", "remedial_owner", "remedial_due"
QUESTION, ANSWER, STOP_REASON = "question", "answer", "stop_reason"


def when(moment: datetime) -> str:
    """A moment as PerfBot writes it: "10:04 on Monday 23 November"."""
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M} on {long_day(local.date(), year=False)}"


def escalation_reason(measure: Measure, period: Period | str) -> str:
    label = period.label if isinstance(period, Period) else period
    return f"{measure.code}:{label}:{OFF_TRACK}"


def escalation_key(measure: Measure, period: Period | str) -> str:
    """The reason key of the escalation card's outbox row (whose sent activity an update
    replaces)."""
    return f"{Kind.ESCALATION.value}:{escalation_reason(measure, period)}"


# ---- raised by a return ----------------------------------------------------------------


async def on_return(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    assessment: Assessment,
    ret: Return,
    submitter: Person,
    now: datetime,
    policy: Policy,
) -> str | None:
    """What a stored return does to the measure's escalation: a rating that escalates raises
    one (once per measure and period), sent to the escalation owner at once with the owner's
    own words (DESIGN.md "Cycle"); a correction back on track closes an open one, and one
    off track again opens it again. Answers "escalated", "reopened", "recovered", "closed"
    (stopped: nothing more goes) or None."""
    escalates = policy.escalates(assessment.rating)
    if ret.version == 1 and not escalates:
        return None  # the period's first return: there is no escalation of it to close
    open_one = await session.scalar(
        select(Escalation).where(
            Escalation.measure_id == measure.id,
            Escalation.period == period.label,
            Escalation.reason == OFF_TRACK,
        )
    )
    if escalates:
        if open_one is None and await _milestone_says_it(session, measure, ret, period, policy):
            return None  # its late milestone's escalation is with the escalation owner already
        if open_one is None:
            await _raise(session, measure, period, assessment, ret, submitter, now)
        elif open_one.closed_reason == "recovered":  # off track again after a recovery
            await _reopen(session, measure, period, open_one, assessment, ret, submitter, now)
            return "reopened"
        elif open_one.closed_at is not None:
            return "closed"  # the activity was stopped: nothing more goes
        return "escalated"
    if open_one is not None and open_one.closed_at is None and not assessment.off_track:
        await _recover(session, measure, period, open_one, assessment, ret, submitter, now)
        return "recovered"
    return None


async def _milestone_says_it(
    session: AsyncSession, measure: Measure, ret: Return, period: Period, policy: Policy
) -> bool:
    """Whether a key action's return escalates only for a late milestone whose own
    escalation is open already (so the escalation owner is not sent the same news twice)."""
    if not measure.is_key_action:
        return False
    alone = rate(measure, period, None, ret, policy.scheme)  # as if it had no milestones
    if policy.escalates(alone.rating):
        return False
    found = await session.scalar(
        select(Escalation.id).where(
            Escalation.measure_id == measure.id,
            Escalation.milestone_id.is_not(None),
            Escalation.closed_at.is_(None),
        )
    )
    return found is not None


async def _raise(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    assessment: Assessment,
    ret: Return,
    submitter: Person,
    now: datetime,
) -> None:
    """If PerfBot cannot reach the escalation owner yet, it waits for them (it is sent when
    they install PerfBot) and the performance team is sent a copy meanwhile."""
    escalation_owner = measure.escalation_owner
    rating = assessment.rating
    if escalation_owner is None or rating is None:
        return
    await session.flush()  # the return's id
    escalation = Escalation(
        measure_id=measure.id,
        period=period.label,
        reason=OFF_TRACK,
        escalation_owner_id=escalation_owner.id,
        raised_at=now,
        return_id=ret.id,
    )
    session.add(escalation)
    await session.flush()
    record(
        session,
        submitter.email,
        "escalate",
        "escalation",
        f"{measure.code} {period.label}",
        {"to": escalation_owner.email, "rating": rating.word},
        now,
    )
    await _send(session, measure, period, escalation, assessment, ret, submitter, now)


async def _reopen(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    escalation: Escalation,
    assessment: Assessment,
    ret: Return,
    submitter: Person,
    now: datetime,
) -> None:
    escalation.closed_at = None
    escalation.closed_reason = None
    await session.flush()  # the return's id
    escalation.return_id = ret.id
    record(
        session,
        submitter.email,
        "reopen",
        "escalation",
        f"{measure.code} {period.label}",
        {"closed": ["recovered", None], "version": ret.version},
        now,
    )
    await _send(
        session,
        measure,
        period,
        escalation,
        assessment,
        ret,
        submitter,
        now,
        f"again:{ret.version}",
    )


def reopened_key(measure: Measure, period: Period, version: int) -> str:
    return f"{escalation_key(measure, period)}:again:{version}"


async def _send(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    escalation: Escalation,
    assessment: Assessment,
    ret: Return,
    submitter: Person,
    now: datetime,
    again: str = "",
) -> None:
    escalation_owner = measure.escalation_owner
    rating = assessment.rating
    if escalation_owner is None or rating is None:
        return
    # The card is drawn from the database when it goes; the owner's words are kept too, so
    # a copy is never without them.
    payload: dict[str, Any] = {
        "escalation_id": escalation.id,
        "code": measure.code,
        "title": measure.title,
        "period": period.label,
        "rating": rating.word,
        "explanation": assessment.explanation,
        "owner": measure.owner.name,
        "sent_by": submitter.name,
        "commentary": ret.commentary or "",
        "action": ret.remedial_action or "",
        "action_due": ret.action_due.isoformat() if ret.action_due else "",
        # The review questions' answers, by question (stored with the version just before).
        "answers": (await answers_of(session, [ret.id])).get(ret.id, {}),
    }
    reason = escalation_reason(measure, period) + (f":{again}" if again else "")
    await _queue_card(session, escalation_owner, reason, payload, now)


async def _queue_card(
    session: AsyncSession,
    escalation_owner: Person,
    reason: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """The escalation card to its escalation owner; while PerfBot cannot reach them, a copy
    to each of the performance team, naming them and why."""
    await queue(
        session, Kind.ESCALATION, reason, person_id=escalation_owner.id, payload=payload, now=now
    )
    why = await why_unreachable(session, escalation_owner)
    if why is None:
        return
    for admin in await performance_team(session):
        if admin.id == escalation_owner.id:
            continue
        await queue(
            session,
            Kind.ESCALATION,
            f"{reason}:via:{admin.id}",
            person_id=admin.id,
            payload={**payload, "for": escalation_owner.name, "why": why},
            now=now,
        )


async def send_milestone(
    session: AsyncSession,
    measure: Measure,
    milestone: Milestone,
    escalation: Escalation,
    now: datetime,
) -> None:
    """A milestone past its date, escalated (domain/milestones.py raised it): its card to
    the key action's escalation owner, as an off-track measure's goes."""
    if measure.escalation_owner is None:
        return
    payload: dict[str, Any] = {
        "escalation_id": escalation.id,
        "code": measure.code,
        "title": measure.title,
        "period": escalation.period,
        "milestone": milestone.title,
        "due": milestone.due_date.isoformat(),
        "revised": milestone.revised_date.isoformat() if milestone.revised_date else "",
        "owner": measure.owner.name,
    }
    reason = f"{measure.code}:{escalation.reason}"
    await _queue_card(session, measure.escalation_owner, reason, payload, now)


async def _recover(
    session: AsyncSession,
    measure: Measure,
    period: Period,
    escalation: Escalation,
    assessment: Assessment,
    ret: Return,
    submitter: Person,
    now: datetime,
) -> None:
    """A correction back on track (``assessment``, as the submission rated it) closes the
    escalation and tells its escalation owner."""
    escalation.closed_at = now
    escalation.closed_reason = "recovered"
    record(
        session,
        submitter.email,
        "recovered",
        "escalation",
        f"{measure.code} {period.label}",
        {"closed": [None, "recovered"], "actual": shown_value(measure, ret)},
        now,
    )
    if escalation.escalation_owner_id is None:
        return
    await queue(
        session,
        Kind.RECOVERED,
        f"{escalation_reason(measure, period)}:{ret.version}",
        person_id=escalation.escalation_owner_id,
        payload={
            "escalation_id": escalation.id,
            "code": measure.code,
            "title": measure.title,
            "period": period.label,
            "shown": shown_value(measure, ret),
            "explanation": assessment.explanation,
            "by": submitter.name,
        },
        now=now,
    )


async def escalation_steps(
    session: AsyncSession, measure: Measure, period: Period, key: str | None = None
) -> str | None:
    """What the receipt can truly say of the escalation of this return: whom it has been
    queued for (or sent to), read from the outbox (the row of ``key``, by default the first
    escalation's); None if there is none."""
    reason = key or escalation_key(measure, period)
    rows = list(
        await session.scalars(
            select(Notification).where(
                or_(
                    Notification.reason_key == reason,
                    Notification.reason_key.startswith(f"{reason}:via:"),
                )
            )
        )
    )
    mine = next((n for n in rows if n.reason_key == reason), None)
    if mine is None or measure.escalation_owner is None:
        return None
    who = measure.escalation_owner.name
    rating = (mine.payload or {}).get("rating", "")
    instead = [n for n in rows if n is not mine]
    failed = mine.state is NotificationState.FAILED
    if not instead and not failed:
        done = "has been sent" if mine.state is NotificationState.SENT else "is being sent"
        return (
            f"Because it is rated {rating}, {who} {done} an escalation with your commentary "
            "and action."
        )
    why = (instead[0].payload or {}).get("why") if instead else mine.last_error
    why = why or NOT_INSTALLED
    copies = {n.person_id: n for n in instead}
    told, unreached = [], []
    for admin in await performance_team(session):
        copy = copies.get(admin.id)
        if copy is None:
            continue
        if copy.state is NotificationState.FAILED or await why_unreachable(session, admin):
            unreached.append(admin.name)
        else:
            told.append((admin.name, copy.state is NotificationState.SENT))
    if not told:
        nor = (
            f"nor anyone in the performance team ({', '.join(unreached)})"
            if unreached
            else "and there is nobody in the performance team to tell instead"
        )
        return (
            f"Because it is rated {rating}, it is escalated to {who}, but PerfBot cannot reach "
            f"{who} ({why}) {nor}: please tell {who} yourself. {who} will get it as soon as "
            "PerfBot can reach them."
        )
    done = "has been sent it" if all(sent for _, sent in told) else "is being sent it"
    return (
        f"Because it is rated {rating}, it is escalated to {who}, but PerfBot cannot reach "
        f"{who} yet ({why}), so the performance team "
        f"({', '.join(name for name, _ in told)}) {done} instead. {who} will get it as soon "
        "as they install PerfBot."
    )


async def recovery_steps(session: AsyncSession, measure: Measure) -> str:
    """The receipt's words for a correction that closed the escalation."""
    who = measure.escalation_owner
    if who is None:
        return "It is back on track, so its escalation is closed."
    why = await why_unreachable(session, who)
    if why is None:
        return (
            f"It is back on track, so the escalation to {who.name} is closed and {who.name} "
            "is being told it recovered."
        )
    return (
        f"It is back on track, so the escalation to {who.name} is closed. PerfBot cannot reach "
        f"{who.name} yet ({why}); they will be told it recovered as soon as they install PerfBot."
    )


# ---- the card ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionView:
    asked: str  # "Mark Taylor asked at 10:04 on Monday 23 November"
    question: str
    answered: str | None  # "Amina Hussain answered at ..."
    answer: str | None


@dataclass(frozen=True)
class EscalationView:
    """The escalation card as it stands now, read from the database."""

    id: int
    code: str
    title: str
    service: str
    owner: str
    sent_by: str | None  # the delegate who sent the return, if not the owner
    period: str
    headline: str  # "78.0% against a target of 90.0%"
    rating: str  # "🚩 Action"
    explanation: str
    history: list[tuple[str, str]]
    travel: list[tuple[str, str]]  # direction of travel and benchmarks
    commentary: str
    action: str
    action_due: str
    state: list[str]  # who did what and when
    questions: list[QuestionView]
    owners: list[tuple[str, str]]  # (email, name): whom a remedial action may be given to
    can_acknowledge: bool
    can_agree: bool
    can_ask: bool
    can_request_deep_dive: bool
    can_stop: bool
    closed: bool
    is_key_action: bool
    note: str = ""  # a line above the card: what just happened, or whom a copy is for
    # A milestone's escalation: the milestone, its owner, its dates and status, as facts.
    milestone: list[tuple[str, str]] = field(default_factory=list)
    # The owner's answers to the review questions (domain/questions.py): (heading, answer).
    answers: tuple[tuple[str, str], ...] = ()


def _may_act(person: Person, escalation: Escalation) -> bool:
    return escalation.escalation_owner_id == person.id or person.has_role(Role.ADMIN)


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(wanted)))}


def decision_lines(
    escalation: Escalation, escalated_to: str, name: Callable[[int | None], str]
) -> list[str]:
    """Who did what with an escalation and when, a sentence each (the card's "where it
    stands", and the board's and the exception report's escalation owner's decisions)."""
    state = [f"Escalated to {escalated_to} at {when(escalation.raised_at)}."]
    if escalation.acknowledged_at:
        state.append(
            f"{name(escalation.acknowledged_by_id)} acknowledged it at "
            f"{when(escalation.acknowledged_at)}."
        )
    if escalation.remedial_agreed_at:
        due = f", due {long_day(escalation.remedial_due)}" if escalation.remedial_due else ""
        owner = f" (owner {name(escalation.remedial_owner_id)}{due})"
        state.append(
            f"{name(escalation.remedial_agreed_by_id)} agreed remedial action at "
            f"{when(escalation.remedial_agreed_at)}{owner}: {escalation.remedial_action}"
        )
    if escalation.deep_dive_requested_at:
        state.append(
            f"{name(escalation.deep_dive_requested_by_id)} requested a deep dive at "
            f"{when(escalation.deep_dive_requested_at)}."
        )
    if escalation.stopped_at:
        state.append(
            f"{name(escalation.stopped_by_id)} stopped the activity at "
            f"{when(escalation.stopped_at)}: {escalation.stop_reason}"
        )
    if escalation.closed_reason == "recovered" and escalation.closed_at:
        state.append(f"Back on track: closed at {when(escalation.closed_at)}.")
    return state


async def view(
    session: AsyncSession, escalation: Escalation, now: datetime, policy: Policy, note: str = ""
) -> EscalationView:
    measure = await session.get(Measure, escalation.measure_id)
    assert measure is not None  # the escalation is deleted with its measure
    period = Period.parse(escalation.period)
    labels = history_labels(period)
    last_year = period.same_period_last_year().label
    returns = await newest_by_period(session, measure.id, [*labels, last_year])
    targets = await targets_of(session, measure.id, labels)
    calendar = await load_calendar(session)
    item = build_open_return(
        measure, period, today_in_london(now), policy, calendar, returns, targets
    )
    ret = item.latest
    said = (await answers_of(session, [ret.id])).get(ret.id, {}) if ret is not None else {}
    questions = list(
        await session.scalars(
            select(EscalationQuestion)
            .where(EscalationQuestion.escalation_id == escalation.id)
            .order_by(EscalationQuestion.id)
        )
    )
    people = await _names(
        session,
        {
            escalation.acknowledged_by_id,
            escalation.remedial_agreed_by_id,
            escalation.remedial_owner_id,
            escalation.deep_dive_requested_by_id,
            escalation.stopped_by_id,
            ret.submitted_by_id if ret else None,
            *(q.asked_by_id for q in questions),
            *(q.answered_by_id for q in questions),
        },
    )

    def name(person_id: int | None) -> str:
        person = people.get(person_id or 0)
        return person.name if person else "someone"

    a = item.assessment
    shown = shown_value(measure, ret)
    milestone_facts: list[tuple[str, str]] = []
    milestone = (
        await session.get(Milestone, escalation.milestone_id) if escalation.milestone_id else None
    )
    if milestone is not None:
        a, milestone_facts = _milestone_facts(milestone, now, policy)
        shown = milestone.status or "no status reported"
    if measure.is_key_action:
        headline = shown
    elif item.target_shown:
        headline = f"{shown} against a target of {item.target_shown}"
    else:
        headline = shown
    travel: list[tuple[str, str]] = []
    if not measure.is_key_action and ret is not None:
        travel = direction_facts(directions(measure, period, ret.value, returns))
    standing = benchmarks.standing_of(
        measure,
        period,
        None if ret is None else ret.value,
        (await benchmarks.rows_of(session, [measure.id]))[measure.id],
    )
    if standing:
        travel.append(("Benchmarks", standing))
    history = [
        (p.period.label, f"{p.shown}  {p.rating.symbol} {p.rating.word}" if p.rating else p.shown)
        for p in item.history
    ]
    escalated_to = measure.escalation_owner.name if measure.escalation_owner else "nobody"
    state = decision_lines(escalation, escalated_to, name)
    closed = escalation.closed_at is not None
    owners = [(measure.owner.email, measure.owner.name)]
    owners += [(d.email, d.name) for d in measure.delegates if d.id != measure.owner_id]
    if measure.escalation_owner and measure.escalation_owner.email not in dict(owners):
        owners.append((measure.escalation_owner.email, measure.escalation_owner.name))
    submitter = ret.submitted_by_id if ret else None
    return EscalationView(
        id=escalation.id,
        code=measure.code,
        title=measure.title,
        service=measure.service.name,
        owner=measure.owner.name,
        sent_by=name(submitter) if submitter and submitter != measure.owner_id else None,
        period=period.label,
        headline=headline,
        rating=f"{a.rating.symbol} {a.rating.word}" if a.rating else "unrated",
        explanation=a.explanation,
        history=history,
        travel=travel,
        commentary=(ret.commentary or "") if ret else "",
        action=(ret.remedial_action or "") if ret else "",
        action_due=long_day(ret.action_due) if ret and ret.action_due else "",
        state=state,
        questions=[
            QuestionView(
                f"{name(q.asked_by_id)} asked at {when(q.asked_at)}",
                q.question,
                f"{name(q.answered_by_id)} answered at {when(q.answered_at)}"
                if q.answered_at
                else None,
                q.answer,
            )
            for q in questions
        ],
        owners=owners,
        can_acknowledge=not closed and escalation.acknowledged_at is None,
        can_agree=not closed and escalation.remedial_agreed_at is None,
        can_ask=not closed,
        can_request_deep_dive=not closed and not escalation.deep_dive_requested,
        can_stop=not closed and measure.is_key_action and escalation.stopped_at is None,
        closed=closed,
        is_key_action=measure.is_key_action,
        note=note,
        milestone=milestone_facts,
        answers=tuple((q.heading, text) for q, text in answered(said)),
    )


def _milestone_facts(
    milestone: Milestone, now: datetime, policy: Policy
) -> tuple[Assessment, list[tuple[str, str]]]:
    """A milestone's escalation card: the milestone rated as it stands today (past its date
    and not complete: unlikely), and its facts."""
    today = today_in_london(now)
    status = KeyActionStatus.parse(milestone.status) if milestone.status else None
    late = first_past_due([milestone], today)
    assessment = assess_key_action(
        status or KeyActionStatus.ON_TRACK, policy.scheme, milestone=late
    )
    owner = milestone.owner or milestone.measure.owner
    facts = [
        ("Milestone", milestone.title),
        ("Milestone owner", owner.name),
        ("Due", long_day(milestone.due_date)),
    ]
    if milestone.revised_date:
        facts.append(("Revised date", long_day(milestone.revised_date)))
    if milestone.completed_on:
        facts.append(("Completed", long_day(milestone.completed_on)))
    return assessment, facts


# ---- what the card's buttons do -----------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """The card as it now stands, with a line saying what happened (or what is wrong with
    the form, field by field, and what was typed, when nothing was stored)."""

    view: EscalationView
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Denied:
    """Nothing changed; the message says why (the attempt is audited)."""

    message: str


Outcome = Shown | Denied


async def _checked(
    session: AsyncSession, person: Person, escalation_id: int, action: str, now: datetime
) -> Escalation | Denied:
    """The escalation a card names, if this person may act on it; otherwise a refusal, kept
    in the audit log."""
    escalation = await session.get(Escalation, escalation_id) if escalation_id else None
    if escalation is None:
        record(
            session,
            person.email,
            f"refused {action}",
            "escalation",
            str(escalation_id),
            {"reason": "unknown escalation"},
            now,
        )
        return Denied("That escalation is not in PerfBot any more. Nothing was changed.")
    if not _may_act(person, escalation):
        owner = await session.get(Person, escalation.escalation_owner_id or 0)
        measure = await session.get(Measure, escalation.measure_id)
        code = measure.code if measure else "this measure"
        record(
            session,
            person.email,
            f"refused {action}",
            "escalation",
            f"{code} {escalation.period}",
            {"reason": "not the escalation owner or an admin"},
            now,
        )
        who = f" ({owner.name})" if owner else ""
        return Denied(
            f"Sorry: only the escalation owner of {code}{who} or the performance team can act "
            "on its escalation. Nothing was changed."
        )
    return escalation


async def _measure(session: AsyncSession, escalation: Escalation) -> Measure:
    measure = await session.get(Measure, escalation.measure_id)
    assert measure is not None
    return measure


def _key(measure: Measure, escalation: Escalation) -> str:
    return f"{measure.code} {escalation.period}"


async def _claim(
    session: AsyncSession, escalation: Escalation, unset: list[Any], **values: Any
) -> bool:
    """Set ``values`` only while every column of ``unset`` is still empty, in one statement:
    of two presses at the same moment one wins and the other finds the button spent."""
    done = await session.execute(
        update(Escalation)
        .where(Escalation.id == escalation.id, *(column.is_(None) for column in unset))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(escalation)
    return bool(cast(CursorResult[Any], done).rowcount)


async def _closed(
    session: AsyncSession, escalation: Escalation, now: datetime, policy: Policy
) -> Shown | None:
    if escalation.closed_at is None:
        return None
    why = "it is back on track" if escalation.closed_reason == "recovered" else "it was stopped"
    if escalation.closed_reason not in ("recovered", "stopped"):
        why = "it was closed"
    note = f"This escalation closed at {when(escalation.closed_at)}: {why}. Nothing was changed."
    return Shown(await view(session, escalation, now, policy, note))


async def _spent(
    session: AsyncSession,
    escalation: Escalation,
    did: str,
    by_id: int | None,
    at: datetime | None,
    now: datetime,
    policy: Policy,
) -> Shown:
    """A button pressed again (from an old copy of the card, or by someone else since): who
    did it and when, and that nothing was changed."""
    who = await session.get(Person, by_id or 0)
    moment = f" at {when(at)}" if at else ""
    note = f"{who.name if who else 'Someone'} {did}{moment}. Nothing was changed."
    return Shown(await view(session, escalation, now, policy, note))


async def acknowledge(
    session: AsyncSession, person: Person, escalation_id: int, now: datetime, policy: Policy
) -> Outcome:
    escalation = await _checked(session, person, escalation_id, "acknowledge", now)
    if isinstance(escalation, Denied):
        return escalation
    if escalation.acknowledged_at is not None:
        return await _spent(
            session,
            escalation,
            "acknowledged this",
            escalation.acknowledged_by_id,
            escalation.acknowledged_at,
            now,
            policy,
        )
    if (closed := await _closed(session, escalation, now, policy)) is not None:
        return closed
    measure = await _measure(session, escalation)
    if not await _claim(
        session,
        escalation,
        [Escalation.acknowledged_at, Escalation.closed_at],
        acknowledged_at=now,
        acknowledged_by_id=person.id,
    ):
        return await acknowledge(session, person, escalation_id, now, policy)
    record(session, person.email, "acknowledge", "escalation", _key(measure, escalation), {}, now)
    return Shown(await view(session, escalation, now, policy, f"Acknowledged by {person.name}."))


@dataclass(frozen=True)
class RemedialForm:
    text: str
    owner: str  # an email chosen from the card
    owner_email: str  # or one typed
    due: str


async def agree_remedial(
    session: AsyncSession,
    person: Person,
    escalation_id: int,
    form: RemedialForm,
    now: datetime,
    policy: Policy,
) -> Outcome:
    """The remedial action agreed, with its owner and date; it joins the measure's action
    plan. Anything wrong comes back on the card and nothing is stored."""
    escalation = await _checked(session, person, escalation_id, "agree remedial action", now)
    if isinstance(escalation, Denied):
        return escalation
    if escalation.remedial_agreed_at is not None:
        return await _spent(
            session,
            escalation,
            "agreed the remedial action",
            escalation.remedial_agreed_by_id,
            escalation.remedial_agreed_at,
            now,
            policy,
        )
    if (closed := await _closed(session, escalation, now, policy)) is not None:
        return closed
    measure = await _measure(session, escalation)
    errors: dict[str, str] = {}
    text = form.text.strip()
    if not text:
        errors[REMEDIAL] = "Say what remedial action is agreed."
    elif len(text) > MAX_TEXT:
        errors[REMEDIAL] = f"This is over {MAX_TEXT:,} characters: please shorten it."
    due: date | None = None
    if not form.due.strip():
        errors[REMEDIAL_DUE] = "Give the date it should be done by."
    else:
        try:
            due = parse_day(form.due)
        except ValueError as error:
            errors[REMEDIAL_DUE] = str(error)[0].upper() + str(error)[1:] + "."
        else:
            if due < today_in_london(now):
                errors[REMEDIAL_DUE] = f"{long_day(due)} has passed: choose a later date."
    email = (form.owner_email or form.owner).strip().lower()
    owner = None
    if not email:
        errors[REMEDIAL_OWNER] = "Choose who owns the action, or type their email."
    else:
        owner = await session.scalar(select(Person).where(Person.email == email))
        if owner is None:
            errors[REMEDIAL_OWNER] = (
                f"{email} is not someone PerfBot knows: choose from the list or ask the "
                "performance team to add them."
            )
    if errors or owner is None or due is None:
        values = {
            REMEDIAL: form.text,
            REMEDIAL_OWNER: form.owner,
            "remedial_owner_email": form.owner_email,
            REMEDIAL_DUE: form.due,
        }
        note = "Please put right what is marked below: nothing was saved."
        return Shown(await view(session, escalation, now, policy, note), errors, values)
    if not await _claim(
        session,
        escalation,
        [Escalation.remedial_agreed_at, Escalation.closed_at],
        remedial_action=text,
        remedial_owner_id=owner.id,
        remedial_due=due,
        remedial_agreed_at=now,
        remedial_agreed_by_id=person.id,
    ):
        return await agree_remedial(session, person, escalation_id, form, now, policy)
    record(
        session,
        person.email,
        "agree remedial action",
        "escalation",
        _key(measure, escalation),
        {"action": text, "owner": owner.email, "due": due.isoformat()},
        now,
    )
    await action_plans.add_item(
        session,
        measure,
        escalation.period,
        text,
        owner=owner,
        due=due,
        source="agreed",
        by=person,
        now=now,
        escalation_id=escalation.id,
    )
    note = (
        f"Remedial action agreed: {owner.name} by {long_day(due)}. It is on "
        f"{measure.code}'s action plan."
    )
    return Shown(await view(session, escalation, now, policy, note))


async def ask_owner(
    session: AsyncSession,
    person: Person,
    escalation_id: int,
    question: str,
    now: datetime,
    policy: Policy,
) -> Outcome:
    """A question to the measure's owner, who gets it as a card with an answer box."""
    escalation = await _checked(session, person, escalation_id, "ask the owner", now)
    if isinstance(escalation, Denied):
        return escalation
    if (closed := await _closed(session, escalation, now, policy)) is not None:
        return closed
    measure = await _measure(session, escalation)
    text = question.strip()
    error = None
    if not text:
        error = "Type your question for the owner."
    elif len(text) > MAX_TEXT:
        error = f"This is over {MAX_TEXT:,} characters: please shorten it."
    if error:
        note = "Nothing was sent."
        shown = await view(session, escalation, now, policy, note)
        return Shown(shown, {QUESTION: error}, {QUESTION: question})
    same = await session.scalar(
        select(EscalationQuestion.id).where(
            EscalationQuestion.escalation_id == escalation.id,
            EscalationQuestion.asked_by_id == person.id,
            EscalationQuestion.question == text,
            EscalationQuestion.answered_at.is_(None),
        )
    )
    if same is not None:  # a double press, or Teams sending the press again: asked once
        note = f"You have asked {measure.owner.name} this already; it waits for an answer."
        return Shown(await view(session, escalation, now, policy, note))
    asked = EscalationQuestion(
        escalation_id=escalation.id,
        asked_by_id=person.id,
        asked_of_id=measure.owner_id,
        question=text,
        asked_at=now,
    )
    session.add(asked)
    await session.flush()
    record(
        session,
        person.email,
        "ask the owner",
        "escalation",
        _key(measure, escalation),
        {"question": text, "to": measure.owner.email},
        now,
    )
    await queue(
        session,
        Kind.QUESTION,
        str(asked.id),
        person_id=measure.owner_id,
        payload={"question_id": asked.id, "escalation_id": escalation.id},
        now=now,
    )
    why = await why_unreachable(session, measure.owner)
    if why is None:
        note = f"Your question has been sent to {measure.owner.name}."
    else:
        note = (
            f"PerfBot cannot reach {measure.owner.name} yet ({why}); they will get your "
            "question as soon as they install PerfBot."
        )
    return Shown(await view(session, escalation, now, policy, note))


@dataclass(frozen=True)
class QuestionCard:
    """The card a measure's owner answers a question on."""

    id: int
    code: str
    title: str
    period: str
    asked: str  # "Mark Taylor asked at 10:04 on Monday 23 November"
    question: str
    answer: str | None
    answered: str | None
    note: str = ""
    asked_by: str = "Someone"  # who asked, by name
    answered_by: str = "Someone"  # who answered, by name


async def question_card(
    session: AsyncSession, question_id: int, note: str = ""
) -> QuestionCard | None:
    asked = await session.get(EscalationQuestion, question_id)
    if asked is None:
        return None
    escalation = await session.get(Escalation, asked.escalation_id)
    assert escalation is not None
    measure = await _measure(session, escalation)
    people = await _names(session, {asked.asked_by_id, asked.answered_by_id})
    asker = people.get(asked.asked_by_id or 0)
    answerer = people.get(asked.answered_by_id or 0)
    return QuestionCard(
        asked.id,
        measure.code,
        measure.title,
        escalation.period,
        f"{asker.name if asker else 'Someone'} asked at {when(asked.asked_at)}",
        asked.question,
        asked.answer,
        f"{answerer.name if answerer else 'Someone'} answered at {when(asked.answered_at)}"
        if asked.answered_at
        else None,
        note,
        asker.name if asker else "Someone",
        answerer.name if answerer else "Someone",
    )


@dataclass(frozen=True)
class Answered:
    card: QuestionCard
    errors: dict[str, str] = field(default_factory=dict)


async def answer_question(
    session: AsyncSession, person: Person, question_id: int, answer: str, now: datetime
) -> Answered | Denied:
    """The owner's answer: stored, sent to whoever asked, and shown on the escalation card
    in place."""
    asked = await session.get(EscalationQuestion, question_id) if question_id else None
    escalation = await session.get(Escalation, asked.escalation_id) if asked else None
    if asked is None or escalation is None:
        record(
            session,
            person.email,
            "refused answer",
            "escalation",
            str(question_id),
            {"reason": "unknown question"},
            now,
        )
        return Denied("That question is not in PerfBot any more. Nothing was sent.")
    measure = await _measure(session, escalation)
    allowed = (
        person.id in (asked.asked_of_id, measure.owner_id)
        or any(d.id == person.id for d in measure.delegates)
        or person.has_role(Role.ADMIN)
    )
    if not allowed:
        record(
            session,
            person.email,
            "refused answer",
            "escalation",
            _key(measure, escalation),
            {"reason": "not the owner, a delegate or an admin"},
            now,
        )
        return Denied(
            f"Sorry: only {measure.owner.name}, as owner of {measure.code}, a delegate or the "
            "performance team can answer this question. Nothing was sent."
        )
    if asked.answered_at is not None:
        card = await question_card(
            session, asked.id, "This was answered already: nothing was changed."
        )
        assert card is not None
        return Answered(card)
    text = answer.strip()
    error = None
    if not text:
        error = "Type your answer."
    elif len(text) > MAX_TEXT:
        error = f"This is over {MAX_TEXT:,} characters: please shorten it."
    if error:
        card = await question_card(session, asked.id, "Nothing was sent.")
        assert card is not None
        return Answered(card, {ANSWER: error})
    answered = await session.execute(
        update(EscalationQuestion)
        .where(EscalationQuestion.id == asked.id, EscalationQuestion.answered_at.is_(None))
        .values(answer=text, answered_by_id=person.id, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(asked)
    if not cast(CursorResult[Any], answered).rowcount:  # answered at this moment from elsewhere
        return await answer_question(session, person, question_id, answer, now)
    record(
        session,
        person.email,
        "answer",
        "escalation",
        _key(measure, escalation),
        {"question": asked.question, "answer": text},
        now,
    )
    asker = asked.asked_by_id or escalation.escalation_owner_id
    if asker is not None:
        await queue(
            session,
            Kind.ANSWER,
            str(asked.id),
            person_id=asker,
            payload={"question_id": asked.id, "escalation_id": escalation.id},
            now=now,
        )
    if escalation.escalation_owner_id is not None:
        await queue(
            session,
            Kind.ESCALATION_UPDATE,
            f"{escalation.id}:answer:{asked.id}",
            person_id=escalation.escalation_owner_id,
            payload={
                "escalation_id": escalation.id,
                "updates": escalation_key(measure, escalation.period),
            },
            now=now,
        )
    who = await session.get(Person, asker or 0)
    note = f"Thank you: your answer has gone to {who.name if who else 'the escalation owner'}."
    card = await question_card(session, asked.id, note)
    assert card is not None
    return Answered(card)


async def request_deep_dive(
    session: AsyncSession, person: Person, escalation_id: int, now: datetime, policy: Policy
) -> Outcome:
    escalation = await _checked(session, person, escalation_id, "request deep dive", now)
    if isinstance(escalation, Denied):
        return escalation
    if escalation.deep_dive_requested:
        return await _spent(
            session,
            escalation,
            "requested a deep dive",
            escalation.deep_dive_requested_by_id,
            escalation.deep_dive_requested_at,
            now,
            policy,
        )
    if (closed := await _closed(session, escalation, now, policy)) is not None:
        return closed
    measure = await _measure(session, escalation)
    if not await _claim(
        session,
        escalation,
        [Escalation.deep_dive_requested_at, Escalation.closed_at],
        deep_dive_requested=True,
        deep_dive_requested_at=now,
        deep_dive_requested_by_id=person.id,
    ):
        return await request_deep_dive(session, person, escalation_id, now, policy)
    flagged = await deep_dives.try_flag(
        session,
        measure,
        escalation.period,
        deep_dives.REQUESTED,
        now,
        requested_by=person,
        escalation_id=escalation.id,
    )
    record(
        session,
        person.email,
        "request deep dive",
        "escalation",
        _key(measure, escalation),
        {"flagged": flagged.dive is not None},
        now,
    )
    # What truly happened: flagged now, or already before the Leadership Team (waiting,
    # accepted or declined), said with who decided what.
    words = await deep_dives.flagged_words(session, flagged, measure.code)
    note = f"Deep dive requested: {words}" if flagged.dive is not None else words
    return Shown(await view(session, escalation, now, policy, note))


async def stop_activity(
    session: AsyncSession,
    person: Person,
    escalation_id: int,
    reason: str,
    now: datetime,
    policy: Policy,
) -> Outcome:
    """A key action or project stopped (seed 002's "terminate"), with the reason: the
    escalation closes and the owner is told. The measure itself stays as it is (the
    performance team retires it in the measures sheet)."""
    escalation = await _checked(session, person, escalation_id, "stop the activity", now)
    if isinstance(escalation, Denied):
        return escalation
    if escalation.stopped_at is not None:
        return await _spent(
            session,
            escalation,
            "stopped this activity",
            escalation.stopped_by_id,
            escalation.stopped_at,
            now,
            policy,
        )
    if (closed := await _closed(session, escalation, now, policy)) is not None:
        return closed
    measure = await _measure(session, escalation)
    if not measure.is_key_action:
        record(
            session,
            person.email,
            "refused stop the activity",
            "escalation",
            _key(measure, escalation),
            {"reason": "not a key action or project"},
            now,
        )
        note = f"{measure.code} is a measure, not a key action or project, so it cannot be stopped here. Nothing was changed."
        return Shown(await view(session, escalation, now, policy, note))
    text = reason.strip()
    error = None
    if not text:
        error = "Say why the activity is to stop."
    elif len(text) > MAX_TEXT:
        error = f"This is over {MAX_TEXT:,} characters: please shorten it."
    if error:
        shown = await view(session, escalation, now, policy, "Nothing was changed.")
        return Shown(shown, {STOP_REASON: error}, {STOP_REASON: reason})
    if not await _claim(
        session,
        escalation,
        [Escalation.stopped_at, Escalation.closed_at],
        stopped_at=now,
        stopped_by_id=person.id,
        stop_reason=text,
        closed_at=now,
        closed_reason="stopped",
    ):
        return await stop_activity(session, person, escalation_id, reason, now, policy)
    record(
        session,
        person.email,
        "stop the activity",
        "escalation",
        _key(measure, escalation),
        {"reason": text, "closed": [None, "stopped"]},
        now,
    )
    await queue(
        session,
        Kind.STOPPED,
        f"{escalation.id}",
        person_id=measure.owner_id,
        payload={
            "code": measure.code,
            "title": measure.title,
            "period": escalation.period,
            "by": person.name,
            "reason": text,
        },
        now=now,
    )
    note = f"Stopped. {measure.owner.name} is being told, with your reason."
    return Shown(await view(session, escalation, now, policy, note))


async def open_card(
    session: AsyncSession, person: Person, escalation_id: int, now: datetime, policy: Policy
) -> Outcome:
    """The escalation card again (from status); reading it changes nothing."""
    escalation = await _checked(session, person, escalation_id, "open escalation", now)
    if isinstance(escalation, Denied):
        return escalation
    return Shown(await view(session, escalation, now, policy))


# ---- reminders and what the outbox asks ---------------------------------------------------


async def remind_unacknowledged(session: AsyncSession, now: datetime, policy: Policy) -> list[str]:
    """One reminder to the escalation owner of each open escalation not acknowledged within
    ``policy.acknowledge_within`` working days; the reason keys queued."""
    calendar = await load_calendar(session)
    today = today_in_london(now)
    if not calendar.is_working_day(today):
        return []
    waiting = await session.scalars(
        select(Escalation).where(
            Escalation.reason == OFF_TRACK,
            Escalation.acknowledged_at.is_(None),
            Escalation.closed_at.is_(None),
            Escalation.escalation_owner_id.is_not(None),
        )
    )
    queued = []
    for escalation in waiting:
        raised = today_in_london(escalation.raised_at)
        if calendar.working_days_between(raised, today) < policy.acknowledge_within:
            continue
        key = await queue(
            session,
            Kind.ESCALATION_REMINDER,
            str(escalation.id),
            person_id=escalation.escalation_owner_id,
            payload={"escalation_id": escalation.id, "raised": raised.isoformat()},
            now=now,
        )
        if key:
            queued.append(key)
    return queued


async def still_wanted(session: AsyncSession, notification: Notification) -> str | None:
    """Why a queued escalation message should no longer go (None if it should)."""
    payload: dict[str, Any] = notification.payload or {}
    if notification.kind in (Kind.QUESTION, Kind.ANSWER):
        asked = await session.get(EscalationQuestion, int(payload.get("question_id") or 0))
        if asked is None:
            return "the question is no longer in PerfBot"
        if notification.kind == Kind.QUESTION and asked.answered_at is not None:
            return "the question has been answered"
        return None
    if "escalation_id" not in payload:
        return None  # queued before escalation cards (its words are in the payload): it goes
    escalation = await session.get(Escalation, int(payload.get("escalation_id") or 0))
    if escalation is None:
        return "the escalation is no longer in PerfBot"
    if notification.kind == Kind.ESCALATION and escalation.closed_reason == "recovered":
        if escalation.milestone_id is not None:
            return "the milestone is complete"
        return "the measure is back on track"
    if notification.kind == Kind.ESCALATION_REMINDER and (
        escalation.acknowledged_at is not None or escalation.closed_at is not None
    ):
        return "the escalation has been acknowledged or closed"
    return None


async def for_card(
    session: AsyncSession, payload: dict[str, Any], now: datetime, policy: Policy, note: str = ""
) -> EscalationView | None:
    """The card a queued message shows, drawn from the database when it goes."""
    escalation = await session.get(Escalation, int(payload.get("escalation_id") or 0))
    if escalation is None:
        return None
    return await view(session, escalation, now, policy, note)


# ---- status for an escalation owner -----------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """An off-track measure on an escalation owner's status."""

    code: str
    title: str
    period: str
    line: str  # rating and figure
    commentary: str
    plan: list[str]  # open action-plan items
    state: str  # the escalation's state, in words
    escalation_id: int | None


async def watched(
    session: AsyncSession, person: Person, items: list[Any], now: datetime, policy: Policy
) -> list[Watched]:
    """Each off-track measure ``person`` is escalation owner for (among the status's
    ``items``, and every escalation of theirs still open, whatever its period), with its
    commentary, open action-plan items and escalation state."""
    mine = [
        i
        for i in items
        if i.measure.escalation_owner_id == person.id
        and i.latest is not None
        and i.assessment.off_track
    ]
    shown = {(i.measure.id, i.period.label) for i in mine}
    still_open = await session.scalars(
        select(Escalation)
        .where(
            Escalation.escalation_owner_id == person.id,
            Escalation.reason == OFF_TRACK,
            Escalation.closed_at.is_(None),
        )
        .order_by(Escalation.raised_at)
    )
    calendar = None
    for escalation in still_open:
        if (escalation.measure_id, escalation.period) in shown:
            continue
        measure = await session.get(Measure, escalation.measure_id)
        if measure is None or not measure.active:
            continue
        calendar = calendar or await load_calendar(session)
        mine.append(
            await open_return(
                session,
                measure,
                today_in_london(now),
                policy,
                calendar,
                Period.parse(escalation.period),
            )
        )
    if not mine:
        return []
    # One line a measure, for its newest off-track period: a measure off track for a year has
    # one escalation open a period, and the newest says where it stands.
    newest: dict[int, Any] = {}
    for item in mine:
        if item.measure.id not in newest or item.period > newest[item.measure.id].period:
            newest[item.measure.id] = item
    mine = list(newest.values())
    ids = {i.measure.id for i in mine}
    escalations = {
        (e.measure_id, e.period): e
        for e in await session.scalars(
            select(Escalation).where(Escalation.measure_id.in_(ids), Escalation.reason == OFF_TRACK)
        )
    }
    plans: dict[int, list[ActionPlan]] = {}
    for item in await session.scalars(
        select(ActionPlan)
        .where(ActionPlan.measure_id.in_(ids), ActionPlan.status == ActionPlanStatus.OPEN.value)
        .order_by(ActionPlan.due_date, ActionPlan.id)
    ):
        plans.setdefault(item.measure_id, []).append(item)
    owners = await _names(session, {p.owner_id for group in plans.values() for p in group})
    today = today_in_london(now)
    found = []
    for item in mine:
        m = item.measure
        lines = []
        for p in plans.get(m.id, []):
            owner = owners.get(p.owner_id or 0)
            line = p.description
            if owner:
                line += f" ({owner.name}"
                line += f", due {long_day(p.due_date, year=False)})" if p.due_date else ")"
            elif p.due_date:
                line += f" (due {long_day(p.due_date, year=False)})"
            if p.due_date and p.due_date < today:
                line = "LATE: " + line
            lines.append(line)
        raised = escalations.get((m.id, item.period.label))
        if raised is None:
            state = "Not escalated (its rating does not escalate)."
        elif raised.closed_at is not None:
            state = f"Closed ({raised.closed_reason or 'closed'}) at {when(raised.closed_at)}."
        else:
            parts = ["acknowledged" if raised.acknowledged_at else "NOT acknowledged"]
            if raised.remedial_agreed_at:
                parts.append("remedial action agreed")
            if raised.deep_dive_requested:
                parts.append("deep dive requested")
            state = f"Escalated at {when(raised.raised_at)}: " + ", ".join(parts) + "."
        rating = item.assessment.rating
        found.append(
            Watched(
                m.code,
                m.title,
                item.period.label,
                f"{item.period.label} · {shown_value(m, item.latest)}"
                + (f" · {rating.symbol} {rating.word}" if rating else ""),
                (item.latest.commentary or "") if item.latest is not None else "",
                lines,
                state,
                raised.id if raised is not None else None,
            )
        )
    return found
