"""Sign-off of returns (issue 13 "Approve or return"): a submitted return is approved by its
measure's escalation owner or the performance team, or returned to its owner with a comment;
the owner's next version goes back to whoever returned it.

Reviewers get one card per period listing what awaits them, queued a few minutes after a
return arrives (so a service sending several at once makes one card) and drawn when it goes;
``review`` shows it on demand. Nobody approves their own return, and nothing in a signed-off
period changes here (domain/locks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.escalations import when
from domain.model import (
    Measure,
    Notification,
    NotificationState,
    PeriodLock,
    Person,
    Return,
    ReturnState,
    Role,
    Target,
)
from domain.notifications import Kind, queue
from domain.people import performance_team, why_unreachable
from domain.periods import Period, PeriodError
from domain.policy import Policy
from domain.questions import answered
from domain.ratings import Rating
from domain.reporting import answers_of, is_newest_version, rate
from domain.views import (
    OpenReturn,
    Refused,
    has_figure,
    in_words,
    locked_sentence,
    newest_by_period,
    open_return,
    shown_value,
    today_in_london,
)
from domain.workdays import WorkingCalendar

MAX_ITEMS = 8  # returns on one review card (the rest are counted): keeps it under 28 KB
MAX_PERIODS = 4  # cards `review` sends at once (the periods with most waiting are named)
BATCH = timedelta(minutes=10)  # a review card waits this long for more returns of its period
KINDS = frozenset({Kind.REVIEW, Kind.RETURNED, Kind.RESUBMITTED})


@dataclass(frozen=True)
class ReviewItem:
    """One return awaiting approval, as the review card shows it."""

    return_id: int
    measure: Measure
    period: Period
    version: int
    shown: str  # the figure (or status) as the council prints it
    rated: Rating | None
    rating: str  # the rating sentence
    off_track: bool
    commentary: str
    action: str | None
    action_due: date | None
    submitted_by: str
    submitted_at: datetime
    earlier_comment: str | None = None  # returned before with this comment; sent again since
    answers: tuple[tuple[str, str], ...] = ()  # the review questions': (heading, answer)


@dataclass(frozen=True)
class ReviewCard:
    """What awaits one reviewer for one period."""

    reviewer_id: int
    reviewer: str
    period: str
    items: list[ReviewItem]
    more: int = 0
    note: str = ""  # what the last press did, or why the card was sent
    errors: dict[int, str] = field(default_factory=dict)  # by return id: the comment's problem
    typed: dict[int, str] = field(default_factory=dict)  # by return id: the comment as typed


@dataclass(frozen=True)
class Outcome:
    """What a press did: the sentence to show, and the period whose card to draw again; a
    refusal is said and the card left as it was."""

    note: str
    period: str | None = None
    refused: bool = False
    errors: dict[int, str] = field(default_factory=dict)
    typed: dict[int, str] = field(default_factory=dict)


def may_review(person: Person, measure: Measure) -> bool:
    """The measure's escalation owner and the performance team approve its returns."""
    return measure.escalation_owner_id == person.id or person.has_role(Role.ADMIN)


def _own(person: Person, measure: Measure, ret: Return) -> bool:
    return ret.submitted_by_id == person.id or measure.owner_id == person.id


# ---- what awaits a reviewer ------------------------------------------------------------------


async def awaiting(
    session: AsyncSession,
    reviewer: Person,
    policy: Policy,
    period: str | None = None,
) -> list[ReviewItem]:
    """The newest versions awaiting approval that ``reviewer`` may approve (of the measures
    they are escalation owner for; every measure for the performance team), not their own,
    in periods not signed off; newest period first, then by code."""
    query = (
        select(Return, Measure)
        .join(Measure, Measure.id == Return.measure_id)
        .outerjoin(PeriodLock, PeriodLock.period == Return.period)
        .where(
            Measure.active,
            Return.state == ReturnState.SUBMITTED,
            PeriodLock.period.is_(None),
            is_newest_version(),
            Measure.owner_id != reviewer.id,
            (Return.submitted_by_id.is_(None)) | (Return.submitted_by_id != reviewer.id),
        )
    )
    if not reviewer.has_role(Role.ADMIN):
        query = query.where(Measure.escalation_owner_id == reviewer.id)
    if period is not None:
        query = query.where(Return.period == period)
    rows = [(r, m) for r, m in (await session.execute(query)).all() if has_figure(r)]
    return await _items(session, rows, policy)


async def _items(
    session: AsyncSession, rows: Sequence[tuple[Return, Measure]], policy: Policy
) -> list[ReviewItem]:
    if not rows:
        return []
    pairs = {(m.id, r.period) for r, m in rows}
    targets: dict[tuple[int, str], Decimal] = {}
    found = await session.execute(
        select(Target.measure_id, Target.period, Target.value).where(
            Target.measure_id.in_({m for m, _ in pairs})
        )
    )
    for measure_id, label, value in found:
        if (measure_id, label) in pairs:
            targets[(measure_id, label)] = value
    submitters = {r.submitted_by_id for r, _ in rows if r.submitted_by_id}
    names = {
        p.id: p.name for p in await session.scalars(select(Person).where(Person.id.in_(submitters)))
    }
    earlier = await _earlier_comments(session, rows)
    said = await answers_of(session, (r.id for r, _ in rows))
    items = []
    for ret, measure in rows:
        period = Period.parse(ret.period)
        target = None if measure.data_only else targets.get((measure.id, ret.period))
        assessment = rate(measure, period, target, ret, policy.scheme)
        items.append(
            ReviewItem(
                ret.id,
                measure,
                period,
                ret.version,
                shown_value(measure, ret),
                assessment.rating,
                assessment.explanation,
                assessment.off_track,
                (ret.commentary or "").strip(),
                (ret.remedial_action or "").strip() or None,
                ret.action_due,
                names.get(ret.submitted_by_id or 0, "the spreadsheet import"),
                ret.submitted_at,
                earlier.get(ret.id),
                tuple((q.heading, text) for q, text in answered(said.get(ret.id, {}))),
            )
        )
    items.sort(key=lambda i: (-i.period.end.toordinal(), i.measure.code))
    return items


async def _earlier_comments(
    session: AsyncSession, rows: Sequence[tuple[Return, Measure]]
) -> dict[int, str]:
    """For each return sent again after a reviewer returned the version before, that
    reviewer's comment (so the card can say what was asked)."""
    wanted = {(r.measure_id, r.period, r.version - 1): r.id for r, _ in rows if r.version > 1}
    if not wanted:
        return {}
    found = await session.execute(
        select(Return.measure_id, Return.period, Return.version, Return.review_comment).where(
            Return.measure_id.in_({m for m, _, _ in wanted}),
            Return.state == ReturnState.RETURNED,
        )
    )
    out = {}
    for measure_id, label, version, comment in found:
        key = (measure_id, label, version)
        if key in wanted and comment:
            out[wanted[key]] = comment
    return out


async def review_card(
    session: AsyncSession,
    reviewer: Person,
    period: str,
    policy: Policy,
    note: str = "",
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
) -> ReviewCard:
    """One reviewer's card for one period, as it stands now."""
    items = await awaiting(session, reviewer, policy, period)
    return ReviewCard(
        reviewer.id,
        reviewer.name,
        period,
        items[:MAX_ITEMS],
        max(0, len(items) - MAX_ITEMS),
        note,
        dict(errors or {}),
        dict(typed or {}),
    )


@dataclass(frozen=True)
class Reviews:
    """``review``: a card per period with returns awaiting, and how many periods more."""

    cards: list[ReviewCard]
    more_periods: list[str]


async def reviews(
    session: AsyncSession, reviewer: Person, policy: Policy, period: str | None = None
) -> Reviews:
    """What awaits a reviewer, a card per period (newest first). Refused for someone who
    reviews nothing, or for a period that cannot be read."""
    reviews_any = await session.scalar(
        select(Measure.id)
        .where(Measure.active, Measure.escalation_owner_id == reviewer.id)
        .limit(1)
    )
    if not (reviewer.has_role(Role.ADMIN) or reviews_any is not None):
        raise Refused(
            "review is for escalation owners and the performance team, who approve returns. "
            "Type my measures to see your own."
        )
    if period is not None:
        try:
            period = Period.parse(period).label
        except PeriodError as error:
            raise Refused(f"{error}. For example: review 2025/26 Q1.") from None
    items = await awaiting(session, reviewer, policy, period)
    by_period: dict[str, list[ReviewItem]] = {}
    for item in items:
        by_period.setdefault(item.period.label, []).append(item)
    labels = list(by_period)
    cards = [
        ReviewCard(
            reviewer.id,
            reviewer.name,
            label,
            by_period[label][:MAX_ITEMS],
            max(0, len(by_period[label]) - MAX_ITEMS),
        )
        for label in labels[:MAX_PERIODS]
    ]
    return Reviews(cards, labels[MAX_PERIODS:])


# ---- queueing ------------------------------------------------------------------------------


async def reviewers_of(session: AsyncSession, measure: Measure, ret: Return) -> list[Person]:
    """Who is sent a return to approve: the measure's escalation owner, or (when it has none,
    or it is their own return) the performance team; never the person who sent it."""
    own = {measure.owner_id, ret.submitted_by_id}
    if measure.escalation_owner is not None and measure.escalation_owner_id not in own:
        return [measure.escalation_owner]
    return [a for a in await performance_team(session) if a.id not in own]


def _prefix(reviewer_id: int, period: str) -> str:
    return f"{reviewer_id}:{period}:"


async def _pending_card(
    session: AsyncSession, reviewer_id: int, period: str, now: datetime
) -> int | None:
    """A review card for this reviewer and period still waiting for its time (so it will be
    drawn later and list this return too); one already due may be going out this moment,
    drawn before this return, so it does not count."""
    return await session.scalar(
        select(Notification.id)
        .where(
            Notification.kind == Kind.REVIEW.value,
            Notification.state == NotificationState.PENDING,
            Notification.not_before > now,
            Notification.reason_key.startswith(
                f"{Kind.REVIEW}:{_prefix(reviewer_id, period)}", autoescape=True
            ),
        )
        .order_by(Notification.id)
        .limit(1)
    )


async def on_submitted(
    session: AsyncSession,
    measure: Measure,
    ret: Return,
    previous: Return | None,
    person: Person,
    now: datetime,
) -> str | None:
    """A new version awaits approval: queue its reviewers' cards (one per period, a few
    minutes on, unless one is already waiting to go); a version sent again after a reviewer
    returned it goes back to that reviewer at once. The receipt's sentence about it."""
    returned_by = None
    if previous is not None and previous.state is ReturnState.RETURNED and previous.reviewed_by_id:
        returned_by = await session.get(Person, previous.reviewed_by_id)
    if returned_by is not None and returned_by.id != person.id:
        await queue(
            session,
            Kind.RESUBMITTED,
            str(ret.id),
            person_id=returned_by.id,
            payload={
                "reviewer": returned_by.id,
                "period": ret.period,
                "return": ret.id,
                "code": measure.code,
                "by": person.name,
            },
            now=now,
        )
        return f"{returned_by.name}, who returned it, is sent it again to approve."
    reviewers = await reviewers_of(session, measure, ret)
    for reviewer in reviewers:
        if await _pending_card(session, reviewer.id, ret.period, now) is not None:
            continue  # the card waiting to go will list this one too
        await queue(
            session,
            Kind.REVIEW,
            f"{_prefix(reviewer.id, ret.period)}{ret.id}",
            person_id=reviewer.id,
            payload={"reviewer": reviewer.id, "period": ret.period},
            not_before=now + BATCH,
            now=now,
        )
    if not reviewers:
        return None
    first = reviewers[0]
    if measure.escalation_owner is None or first.id != measure.escalation_owner_id:
        return "It goes to the performance team to approve."
    if await why_unreachable(session, first) is not None:
        return (
            f"It waits for {first.name} (the escalation owner) to approve once they install "
            "PerfBot; the performance team can approve it meanwhile."
        )
    return f"It goes to {first.name} (the escalation owner) to approve."


async def still_wanted(
    session: AsyncSession, notification: Notification, policy: Policy
) -> str | None:
    """Checked at send time: why a review card, or a returned return, should not go now."""
    payload = notification.payload or {}
    if notification.kind == Kind.RETURNED:
        ret = await session.get(Return, int(payload.get("return", 0)))
        if ret is None or ret.state is not ReturnState.RETURNED:
            return "the return is no longer returned"
        if await session.get(PeriodLock, ret.period) is not None:
            return "the period has been signed off since"
        if (await _newest_version(session, ret)).id != ret.id:
            return "it has been sent again since"
        return None
    reviewer = await session.get(Person, int(payload.get("reviewer", 0)))
    if reviewer is None:
        return "the reviewer is no longer known"
    period = str(payload.get("period", ""))
    if notification.kind == Kind.RESUBMITTED:
        ret = await session.get(Return, int(payload.get("return", 0)))
        if ret is None or ret.state is not ReturnState.SUBMITTED:
            return "it has been decided since"
    elif notification.kind == Kind.REVIEW:
        earlier = await session.scalar(
            select(Notification.id).where(
                Notification.kind == Kind.REVIEW.value,
                Notification.state == NotificationState.PENDING,
                Notification.id < notification.id,
                Notification.reason_key.startswith(
                    f"{Kind.REVIEW}:{_prefix(reviewer.id, period)}", autoescape=True
                ),
            )
        )
        if earlier is not None:
            return "an earlier card for the same period lists it"
    if not await awaiting(session, reviewer, policy, period):
        return "nothing awaits approval for that period now"
    return None


async def card_for(
    session: AsyncSession, payload: dict[str, Any], policy: Policy
) -> ReviewCard | None:
    """A queued review card (or a resubmission's), drawn at send time."""
    reviewer = await session.get(Person, int(payload.get("reviewer", 0)))
    if reviewer is None:
        return None
    note = ""
    if payload.get("return"):
        note = f"{payload.get('by', 'Its owner')} sent {payload.get('code', 'a return')} again."
    return await review_card(session, reviewer, str(payload.get("period", "")), policy, note)


async def returned_card(
    session: AsyncSession,
    payload: dict[str, Any],
    now: datetime,
    policy: Policy,
    calendar: WorkingCalendar,
) -> tuple[OpenReturn, dict[str, str], str] | None:
    """The owner's card for a returned return: the return card as it was sent (values by
    input id) and the reviewer's comment, drawn at send time."""
    ret = await session.get(Return, int(payload.get("return", 0)))
    if ret is None:
        return None
    measure = await session.get(Measure, ret.measure_id)
    if measure is None:
        return None
    item = await open_return(
        session, measure, today_in_london(now), policy, calendar, Period.parse(ret.period)
    )
    said = (await answers_of(session, [ret.id])).get(ret.id, {})
    return item, sent_values(measure, ret, said), str(payload.get("comment", ""))


def sent_values(measure: Measure, ret: Return, said: dict[str, str]) -> dict[str, str]:
    """A return's fields as the return card's inputs hold them, to send it again changed;
    ``said``, its answers to the review questions, by question."""
    values = {
        "commentary": ret.commentary or "",
        "action": ret.remedial_action or "",
        "action_due": ret.action_due.isoformat() if ret.action_due else "",
        **said,
    }
    if measure.is_key_action:
        values["status"] = ret.status or ""
    elif ret.value is not None:
        values["actual"] = f"{ret.value:f}"
    return values


# ---- decisions -----------------------------------------------------------------------------


@dataclass
class _Found:
    ret: Return
    measure: Measure
    title: str


async def _check(
    session: AsyncSession, person: Person, return_id: int, action: str, now: datetime
) -> _Found | str:
    """The return a press names, re-checked: a sentence when it cannot be decided by this
    person now (refusals of who may are audited)."""
    ret = await session.get(Return, return_id) if return_id else None
    measure = await session.get(Measure, ret.measure_id) if ret is not None else None
    if ret is None or measure is None or not measure.active:
        return "I can't find that return: nothing was changed. Type review to see what awaits you."
    title = f"{measure.code} for {ret.period}"

    def refuse(reason: str, message: str) -> str:
        audit.record(
            session,
            person.email,
            "refused",
            "return",
            f"{measure.code} {ret.period}",
            {"action": action, "reason": reason, "version": ret.version},
            now,
        )
        return message

    if not may_review(person, measure):
        owner = measure.escalation_owner
        who = f"its escalation owner ({owner.name})" if owner else "its escalation owner"
        outside = (
            f"{measure.code} is a {measure.service.name} measure, outside your service: "
            if person.service_id is not None and person.service_id != measure.service_id
            else ""
        )
        only = f"only {who} or the performance team can approve or return it"
        return refuse(
            "not a reviewer",
            f"{outside}{only if outside else only[0].upper() + only[1:]}. Nothing was changed.",
        )
    if _own(person, measure, ret):
        return refuse(
            "own return",
            f"{title} is your own return, so someone else must approve it: its escalation owner "
            "or the performance team. Nothing was changed.",
        )
    lock = await session.get(PeriodLock, ret.period)
    if lock is not None:
        return refuse("period locked", locked_sentence(lock, measure.code))
    return _Found(ret, measure, title)


async def _newest_version(session: AsyncSession, ret: Return) -> Return:
    newest = await newest_by_period(session, ret.measure_id, [ret.period])
    return newest.get(ret.period, ret)


async def _not_awaiting(session: AsyncSession, found: _Found) -> str | None:
    """Why this version cannot be decided now (decided already, or replaced), or None."""
    ret, title = found.ret, found.title
    newest = await _newest_version(session, ret)
    if newest.id != ret.id:
        by = await session.get(Person, newest.submitted_by_id) if newest.submitted_by_id else None
        who = f" by {by.name}" if by else ""
        return (
            f"{title} was sent again{who} at {when(newest.submitted_at)} (version "
            f"{newest.version}), after the one you were shown: look at the new one."
        )
    if ret.state in (ReturnState.APPROVED, ReturnState.RETURNED):
        by = await session.get(Person, ret.reviewed_by_id) if ret.reviewed_by_id else None
        verb = "approved" if ret.state is ReturnState.APPROVED else "returned to its owner"
        at = f" at {when(ret.reviewed_at)}" if ret.reviewed_at else ""
        return f"{title} was already {verb} by {by.name if by else 'someone'}{at}."
    if not has_figure(ret):
        return f"{title} has no figure yet, so there is nothing to approve."
    return None


async def _decide(
    session: AsyncSession,
    ret: Return,
    person: Person,
    state: ReturnState,
    now: datetime,
    comment: str | None,
) -> bool:
    """Record the decision only while the version still awaits one, in one statement: of
    two presses at the same moment one is stored, the other finds it decided."""
    done = await session.execute(
        update(Return)
        .where(and_(Return.id == ret.id, Return.state == ReturnState.SUBMITTED))
        .values(state=state, reviewed_by_id=person.id, reviewed_at=now, review_comment=comment)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(ret)
    return bool(cast(CursorResult[Any], done).rowcount)


async def approve(
    session: AsyncSession,
    person: Person,
    return_ids: Sequence[int],
    now: datetime,
) -> Outcome:
    """Approve these returns (one, or every one a card showed): each is checked on its own;
    the sentence says what was approved and why any was not."""
    approved: list[str] = []
    others: list[str] = []
    refusals: list[str] = []
    period = None
    for return_id in dict.fromkeys(return_ids):
        found = await _check(session, person, return_id, "approve", now)
        if isinstance(found, str):
            refusals.append(found)
            continue
        period = period or found.ret.period
        why_not = await _not_awaiting(session, found)
        if why_not is None and await _decide(
            session, found.ret, person, ReturnState.APPROVED, now, None
        ):
            audit.record(
                session,
                person.email,
                "approve",
                "return",
                f"{found.measure.code} {found.ret.period}",
                {"state": ["submitted", "approved"], "version": found.ret.version},
                now,
            )
            approved.append(found.measure.code)
            continue
        others.append(why_not or await _not_awaiting(session, found) or "")
    lines = []
    if approved:
        lines.append(f"Approved {in_words(approved)} at {when(now)}.")
    lines += [line for line in others if line]
    if not approved and not others:
        return Outcome(" ".join(refusals) or "There was nothing to approve.", refused=True)
    lines += refusals
    return Outcome(" ".join(lines), period)


async def return_to_owner(
    session: AsyncSession,
    person: Person,
    return_id: int,
    comment: str,
    now: datetime,
    max_text: int,
) -> Outcome:
    """Return a return to its owner with a comment: they are sent it with the comment and
    their return card as they sent it, to change and send again."""
    found = await _check(session, person, return_id, "return to owner", now)
    if isinstance(found, str):
        return Outcome(found, refused=True)
    ret, measure = found.ret, found.measure
    comment = comment.strip()
    problem = None
    if not comment:
        problem = "Say what needs changing: the owner is sent your comment with their return."
    elif len(comment) > max_text:
        problem = f"This is over {max_text:,} characters: please shorten it."
    if problem:
        return Outcome(
            f"{found.title} was not returned.",
            ret.period,
            errors={ret.id: problem},
            typed={ret.id: comment[: max_text * 2]},
        )
    why_not = await _not_awaiting(session, found)
    if why_not is not None or not await _decide(
        session, ret, person, ReturnState.RETURNED, now, comment
    ):
        return Outcome(why_not or await _not_awaiting(session, found) or "", ret.period)
    audit.record(
        session,
        person.email,
        "return to owner",
        "return",
        f"{measure.code} {ret.period}",
        {"state": ["submitted", "returned"], "version": ret.version, "comment": comment},
        now,
    )
    told = {measure.owner_id}
    if ret.submitted_by_id:
        told.add(ret.submitted_by_id)
    names = []
    for person_id in sorted(told):
        if person_id == person.id:
            continue
        recipient = await session.get(Person, person_id)
        if recipient is None:
            continue
        await queue(
            session,
            Kind.RETURNED,
            f"{ret.id}:{person_id}",
            person_id=person_id,
            payload={
                "return": ret.id,
                "code": measure.code,
                "period": ret.period,
                "by": person.name,
                "comment": comment,
            },
            now=now,
        )
        names.append(recipient.name)
    verb = "is" if len(names) == 1 else "are"
    sent = (
        f": {in_words(names)} {verb} sent your comment with the return to change" if names else ""
    )
    return Outcome(f"Returned {found.title}{sent}.", ret.period)
