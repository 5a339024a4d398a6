"""Deep dives: a measure put to the Leadership Team for a deep-dive review, because it has
been off track for several periods running or because its escalation owner asked
(DESIGN.md "Deep dive"); and the Leadership Team's decision."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.dates import long_day, parse_day
from domain.model import ActionPlan, ActionPlanStatus, DeepDive, Measure, Person, Return, Role
from domain.notifications import Kind, queue
from domain.numbers import format_figure
from domain.people import people_by_role, performance_team, why_unreachable
from domain.periods import Period, PeriodError, periods_back
from domain.policy import Policy
from domain.questions import answered
from domain.ratings import Rating
from domain.reporting import answers_of, rate
from domain.views import Refused, newest_by_period, shown_value, targets_of, today_in_london

PERSISTENT, REQUESTED = "persistent", "requested"
ACCEPTED, DECLINED = "accepted", "declined"
HISTORY_PERIODS = 6  # shown on the card: the flagged period and the five before it
LOOKBACK = 24  # how far back an off-track run is followed to find an earlier deep dive
LISTED = 25  # deep dives on the `deep dives` card (a card stays under 28 KB)
MAX_ITEMS = 10  # action-plan items shown on the card (the rest are counted)
WORDS = 600  # the most of a decision flagged_words repeats


# ---- who is told -----------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who is sent a deep-dive candidate: the people, and (for a copy that is not theirs by
    role) why the performance team is sent it."""

    people: list[Person]
    note_for_admins: str = ""
    admins: frozenset[int] = frozenset()


async def leadership_audience(session: AsyncSession) -> Audience:
    """The Leadership Team: each member (people sheet role "leadership"). When the weekly
    summary issue adds the Leadership Team's channel (`set leadership channel`), post to it
    here instead and keep the people as the fallback. With nobody holding the role the
    performance team is told, and also when none of the Leadership Team can be reached yet:
    never nobody."""
    leaders = await people_by_role(session, Role.LEADERSHIP)
    if not leaders:
        admins = await performance_team(session)
        return Audience(
            admins,
            "Nobody in the people sheet has the leadership role, so this comes to the "
            "performance team: please pass it on, or give the Leadership Team that role.",
            frozenset(a.id for a in admins),
        )
    reachable = [p for p in leaders if await why_unreachable(session, p) is None]
    if reachable:
        return Audience(leaders)
    ids = {p.id for p in leaders}
    admins = [a for a in await performance_team(session) if a.id not in ids]
    return Audience(
        leaders + admins,
        "PerfBot cannot reach the Leadership Team yet (PerfBot is not installed for them), "
        "so this comes to the performance team too: please pass it on. They will get it as "
        "soon as they install PerfBot.",
        frozenset(a.id for a in admins),
    )


# ---- flagging --------------------------------------------------------------------------


@dataclass(frozen=True)
class Flagged:
    """What flagging did: ``dive`` is the deep dive flagged now (its card queued to the
    Leadership Team); or it is None and ``existing`` is the deep dive that stopped it: the
    one for that very period (waiting, accepted or declined), or, for a request, an earlier
    one still waiting for the Leadership Team's decision."""

    dive: DeepDive | None
    existing: DeepDive | None = None


async def flag(
    session: AsyncSession,
    measure: Measure,
    period: str,
    reason: str,
    now: datetime,
    *,
    requested_by: Person | None = None,
    escalation_id: int | None = None,
) -> DeepDive | None:
    """Flag ``measure`` for a deep dive as of ``period`` (``reason``: "persistent" or
    "requested"), once, and queue its card to the Leadership Team. None if it is already
    flagged for that period, or (a request) while an earlier flag of it is still waiting
    for the Leadership Team's decision: ``try_flag`` says which."""
    flagged = await try_flag(
        session,
        measure,
        period,
        reason,
        now,
        requested_by=requested_by,
        escalation_id=escalation_id,
    )
    return flagged.dive


async def try_flag(
    session: AsyncSession,
    measure: Measure,
    period: str,
    reason: str,
    now: datetime,
    *,
    requested_by: Person | None = None,
    escalation_id: int | None = None,
) -> Flagged:
    """``flag``, saying why nothing was flagged when nothing was (``Flagged.existing``);
    ``flagged_words`` puts it in words for the one who asked."""
    existing = await session.scalar(
        select(DeepDive).where(DeepDive.measure_id == measure.id, DeepDive.period == period)
    )
    if existing is not None:
        return Flagged(None, existing)
    if reason == REQUESTED:
        waiting = await session.scalar(
            select(DeepDive)
            .where(DeepDive.measure_id == measure.id, DeepDive.decision.is_(None))
            .order_by(DeepDive.flagged_at.desc(), DeepDive.id.desc())
            .limit(1)
        )
        if waiting is not None:
            return Flagged(None, waiting)
    dive = DeepDive(
        measure_id=measure.id,
        period=period,
        reason=reason,
        escalation_id=escalation_id,
        requested_by_id=requested_by.id if requested_by else None,
        flagged_at=now,
    )
    session.add(dive)
    await session.flush()
    audience = await leadership_audience(session)
    for person in audience.people:
        await queue(
            session,
            Kind.DEEP_DIVE,
            f"{measure.code}:{period}:{person.id}",
            person_id=person.id,
            # Not "code"/"period": the outbox's send-time check reads those as a return's.
            payload={
                "deep_dive_id": dive.id,
                "measure": measure.code,
                "label": period,
                "note": audience.note_for_admins if person.id in audience.admins else "",
            },
            now=now,
        )
    record(
        session,
        requested_by.email if requested_by else "perfbot",
        "flag deep dive",
        "deep_dive",
        f"{measure.code} {period}",
        {"reason": reason, "told": [p.email for p in audience.people]},
        now,
    )
    return Flagged(dive)


async def flagged_words(session: AsyncSession, flagged: Flagged, code: str) -> str:
    """What a request for a deep dive did, for the one who asked: flagged now, or why
    nothing new went to the Leadership Team (and what they decided, if they have)."""
    if flagged.dive is not None:
        return f"{code} is flagged for the Leadership Team."
    dive = flagged.existing
    if dive is None:
        return f"{code} was not flagged for the Leadership Team."
    of = f"a deep dive of {code} for {dive.period}"
    if dive.decision is None:
        day = long_day(today_in_london(dive.flagged_at))
        return (
            f"{of[0].upper()}{of[1:]} is already before the Leadership Team (flagged on {day}), "
            "waiting for their decision: nothing new was sent."
        )
    people = await _people(session, [dive.decided_by_id, dive.lead_id])
    words = decision_words(dive, people) or ""
    if len(words) > WORDS:  # a decline's reason may be long (up to MAX_TEXT)
        words = words[: WORDS - 1].rstrip() + "…"
    return f"The Leadership Team has already decided on {of}, so nothing was sent to them. {words}"


async def flag_if_persistent(
    session: AsyncSession, measure: Measure, period: Period, policy: Policy, now: datetime
) -> DeepDive | None:
    """Persistent under-performance (DESIGN.md "Cycle"): if this period and the
    ``policy.deep_dive_after - 1`` before it are all off track, flag a deep dive.

    Once per off-track run: while a deep dive flagged for an earlier period of the same run
    (no on-track period since) is waiting for a decision or was accepted, nothing more is
    flagged; after a decline, the run counts again from the period after the declined one,
    so the Leadership Team is asked again only after another ``deep_dive_after`` periods
    off track."""
    after = max(1, policy.deep_dive_after)
    earlier: tuple[Period, DeepDive] | None = None
    for dive in await session.scalars(select(DeepDive).where(DeepDive.measure_id == measure.id)):
        try:
            flagged = Period.parse(dive.period)
        except PeriodError:
            continue
        same = flagged.frequency is measure.frequency and flagged <= period
        if same and (earlier is None or flagged > earlier[0]):
            earlier = (flagged, dive)
    count = after
    if earlier is not None:
        count = max(count, min(LOOKBACK, len(_periods_between(earlier[0], period))))
    window = periods_back(period, count)
    labels = [p.label for p in window]
    returns = await newest_by_period(session, measure.id, labels)
    targets = await targets_of(session, measure.id, labels)
    run: list[Period] = []
    for p in window:
        target = None if measure.data_only else targets.get(p.label)
        if not rate(measure, p, target, returns.get(p.label), policy.scheme).off_track:
            break
        run.append(p)
    if earlier is not None and earlier[0] in run:
        flagged, dive = earlier
        if dive.decision != DECLINED:
            return None  # already before the Leadership Team for this run, or accepted
        run = [p for p in run if p > flagged]
    if len(run) < after:
        return None
    return await flag(session, measure, period.label, PERSISTENT, now)


def _periods_between(first: Period, last: Period) -> list[Period]:
    periods = [last]
    while periods[-1] > first and len(periods) < LOOKBACK:
        periods.append(periods[-1].previous())
    return periods


# ---- what the Leadership Team is shown -------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    period: str
    shown: str
    target: str
    rating: Rating | None


@dataclass(frozen=True)
class PlanItem:
    description: str
    owner: str | None
    due: date | None
    late: bool


@dataclass(frozen=True)
class DiveView:
    """A deep dive as its card shows it, read afresh from the database."""

    dive: DeepDive
    measure: Measure
    why: str
    history: list[HistoryLine]
    commentary: str | None
    action: str | None
    action_due: date | None
    commentary_period: str | None
    plan: list[PlanItem]
    more_items: int
    leads: list[tuple[str, str]]  # (email, label) to choose a lead from
    decision: str | None  # who decided what and when, in words; None while undecided
    note: str = ""
    answers: tuple[tuple[str, str], ...] = ()  # the latest words' review questions' answers


async def _people(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    found = await session.scalars(select(Person).where(Person.id.in_(wanted)))
    return {p.id: p for p in found}


def decision_words(dive: DeepDive, people: dict[int, Person]) -> str | None:
    """Who decided what and when, for the card and for a second decision's answer."""
    if dive.decision is None:
        return None
    who = people[dive.decided_by_id].name if dive.decided_by_id in people else "Someone"
    when = long_day(today_in_london(dive.decided_at)) if dive.decided_at else "an earlier day"
    if dive.decision == ACCEPTED:
        lead = people[dive.lead_id].name if dive.lead_id in people else "someone not named"
        review = long_day(dive.review_date) if dive.review_date else "a date to be set"
        return f"Accepted by {who} on {when}: the review is on {review}, led by {lead}."
    return f"Declined by {who} on {when}: {dive.decline_reason or 'no reason given'}"


@dataclass(frozen=True)
class MeasureRecord:
    """A measure's recent history, its owner's latest words and its open action plan, as
    the deep-dive card and the weekly summary's detail show them."""

    history: list[HistoryLine]  # oldest first; periods with neither a return nor a target left out
    latest: Return | None  # the newest return in the window with a commentary
    plan: list[PlanItem]  # the first ``items`` open items, soonest due first
    open_items: int  # how many are open in all


async def measure_record(
    session: AsyncSession,
    measure: Measure,
    window: list[Period],
    today: date,
    policy: Policy,
    items: int,
) -> MeasureRecord:
    """What the cards show of a measure over ``window`` (newest first)."""
    labels = [p.label for p in window]
    returns = await newest_by_period(session, measure.id, labels)
    targets = await targets_of(session, measure.id, labels)
    history = []
    for p in reversed(window):
        ret, target = returns.get(p.label), targets.get(p.label)
        if ret is None and target is None:
            continue
        history.append(
            HistoryLine(
                p.label,
                shown_value(measure, ret),
                "none"
                if target is None or measure.data_only
                else format_figure(target, measure.unit, measure.decimals),
                rate(measure, p, target, ret, policy.scheme).rating,
            )
        )
    latest: Return | None = next(
        (returns[p.label] for p in window if p.label in returns and returns[p.label].commentary),
        None,
    )
    found = list(
        await session.scalars(
            select(ActionPlan)
            .where(
                ActionPlan.measure_id == measure.id,
                ActionPlan.status == ActionPlanStatus.OPEN.value,
            )
            .order_by(ActionPlan.due_date.is_(None), ActionPlan.due_date, ActionPlan.id)
        )
    )
    owners = await _people(session, [i.owner_id for i in found[:items]])
    plan = [
        PlanItem(
            i.description,
            owners[i.owner_id].name if i.owner_id in owners else None,
            i.due_date,
            i.due_date is not None and i.due_date < today,
        )
        for i in found[:items]
    ]
    return MeasureRecord(history, latest, plan, len(found))


async def view(
    session: AsyncSession, dive: DeepDive, today: date, policy: Policy, note: str = ""
) -> DiveView:
    """Everything the deep dive's card shows: why it is flagged, the measure's recent
    history, the owner's latest words, its open action-plan items, and any decision."""
    measure = await session.get(Measure, dive.measure_id)
    assert measure is not None  # a deep dive's measure is deleted with it (cascade)
    record = await measure_record(
        session,
        measure,
        periods_back(Period.parse(dive.period), HISTORY_PERIODS),
        today,
        policy,
        MAX_ITEMS,
    )
    history, latest, plan, items = record.history, record.latest, record.plan, record.open_items
    said = (await answers_of(session, [latest.id])).get(latest.id, {}) if latest else {}
    people = await _people(session, [dive.requested_by_id, dive.decided_by_id, dive.lead_id])
    if dive.reason == REQUESTED:
        who = people[dive.requested_by_id].name if dive.requested_by_id in people else "Someone"
        why = (
            f"Requested by {who} from the escalation of {dive.period} on "
            f"{long_day(today_in_london(dive.flagged_at))}."
        )
    else:
        run = 0
        for line in reversed(history):
            if line.rating is None or not line.rating.off_track:
                break
            run += 1
        run = max(run, policy.deep_dive_after)
        why = f"Off track for {run} periods running, up to {dive.period}."
    leads: list[tuple[str, str]] = []
    seen: set[int] = set()
    for person, role in [
        *((p, "Leadership Team") for p in await people_by_role(session, Role.LEADERSHIP)),
        (measure.escalation_owner, "escalation owner"),
        (measure.owner, "owner"),
    ]:
        if person is not None and person.id not in seen:
            seen.add(person.id)
            leads.append((person.email, f"{person.name} ({role})"))
    return DiveView(
        dive,
        measure,
        why,
        history,
        latest.commentary if latest else None,
        latest.remedial_action if latest else None,
        latest.action_due if latest else None,
        latest.period if latest else None,
        plan,
        max(0, items - MAX_ITEMS),
        leads,
        decision_words(dive, people),
        note,
        tuple((q.heading, text) for q, text in answered(said)),
    )


# ---- the Leadership Team's decision ----------------------------------------------------


@dataclass(frozen=True)
class DiveRefusal:
    """Not carried out (and audited); nothing else changed."""

    message: str


@dataclass(frozen=True)
class DiveProblems:
    """The card comes back with what is wrong; nothing was stored."""

    view: DiveView
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DiveDecided:
    """The decision was recorded now (``again`` False), or had already been made by someone
    (``again`` True: nothing changed)."""

    view: DiveView
    again: bool = False


# The fields problems are keyed by, as the card names its inputs (cards/actions.py ids).
REVIEW_DATE, LEAD, REASON = "review_date", "lead", "decline_reason"
QUOTED = 40  # the most of someone's typed text an error message repeats


def quoted(text: str, *, marks: bool = True) -> str:
    """Typed text as an error message repeats it: at most ``QUOTED`` characters, so a long
    or forged value cannot make the card that says so too large."""
    raw = " ".join(text.split())
    shown = raw if len(raw) <= QUOTED else raw[: QUOTED - 1].rstrip() + "…"
    return f"'{shown}'" if marks else shown


DiveOutcome = DiveRefusal | DiveProblems | DiveDecided


def may_decide(person: Person) -> bool:
    return person.has_role(Role.LEADERSHIP) or person.has_role(Role.ADMIN)


async def _decidable(
    session: AsyncSession, person: Person, dive_id: int, action: str, now: datetime
) -> DeepDive | DiveRefusal:
    dive = await session.get(DeepDive, dive_id) if dive_id > 0 else None
    key = f"deep dive #{dive_id}"
    if dive is not None:
        code = await session.scalar(select(Measure.code).where(Measure.id == dive.measure_id))
        key = f"{code} {dive.period}"
    if dive is None:
        reason, message = (
            "unknown deep dive",
            "That deep dive is not one PerfBot knows. Nothing was changed.",
        )
    elif not may_decide(person):
        reason = "not leadership"
        message = (
            "Only the Leadership Team or the performance team can decide on a deep dive. "
            "Nothing was changed."
        )
    else:
        return dive
    record(
        session,
        person.email,
        "refused",
        "deep_dive",
        key,
        {"action": action, "reason": reason},
        now,
    )
    return DiveRefusal(message)


async def _decide(session: AsyncSession, dive: DeepDive, **values: Any) -> bool:
    """Record the decision only while none is recorded, in one statement: of two decisions
    at the same moment one is stored (and its people told), the other finds it made."""
    done = await session.execute(
        update(DeepDive)
        .where(DeepDive.id == dive.id, DeepDive.decision.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(dive)
    return bool(cast(CursorResult[Any], done).rowcount)


async def _already(
    session: AsyncSession, person: Person, dive: DeepDive, now: datetime, policy: Policy
) -> DiveDecided:
    """A decision already made (by someone else, or a second press): who decided what and
    when is on the card, and that nothing was changed."""
    shown = await view(session, dive, today_in_london(now), policy)
    record(
        session,
        person.email,
        "refused",
        "deep_dive",
        f"{shown.measure.code} {dive.period}",
        {"reason": f"already {dive.decision}"},
        now,
    )
    return DiveDecided(replace(shown, note="Already decided, so nothing was changed."), again=True)


async def accept(
    session: AsyncSession,
    person: Person,
    dive_id: int,
    review_date: str,
    lead: str,
    now: datetime,
    policy: Policy,
) -> DiveOutcome:
    """The Leadership Team accepts a deep dive: its review date (today or later) and its
    lead (someone in the people sheet). The owner, the escalation owner and the lead are
    told."""
    found = await _decidable(session, person, dive_id, "accept", now)
    if isinstance(found, DiveRefusal):
        return found
    dive = found
    if dive.decision is not None:
        return await _already(session, person, dive, now, policy)
    today = today_in_london(now)
    errors: dict[str, str] = {}
    day = None
    if not review_date.strip():
        errors[REVIEW_DATE] = "Give the date of the deep-dive review."
    else:
        try:
            day = parse_day(review_date)
        except ValueError:
            errors[REVIEW_DATE] = (
                f"{quoted(review_date)} is not a date: write it as 2025-07-18 or 18/07/2025."
            )
        else:
            if day < today:
                errors[REVIEW_DATE] = f"{long_day(day)} has passed: choose today or a later day."
    chosen = None
    if not lead.strip():
        errors[LEAD] = "Choose who will lead the deep dive, or give their email."
    else:
        chosen = await session.scalar(select(Person).where(Person.email == lead.strip().lower()))
        if chosen is None:
            errors[LEAD] = (
                f"PerfBot doesn't know {quoted(lead, marks=False)}. Choose someone from the "
                "list, or give the email of someone in the people sheet."
            )
    if errors or day is None or chosen is None:
        return DiveProblems(await view(session, dive, today, policy), errors)
    if not await _decide(
        session,
        dive,
        decision=ACCEPTED,
        decided_by_id=person.id,
        decided_at=now,
        review_date=day,
        lead_id=chosen.id,
    ):
        return await _already(session, person, dive, now, policy)
    shown = await view(session, dive, today, policy)
    measure = shown.measure
    record(
        session,
        person.email,
        "accept deep dive",
        "deep_dive",
        f"{measure.code} {dive.period}",
        {"review_date": day.isoformat(), "lead": chosen.email},
        now,
    )
    payload = {
        "measure": measure.code,
        "title": measure.title,
        "label": dive.period,
        "decision": ACCEPTED,
        "by": person.name,
        "review_date": day.isoformat(),
        "lead": chosen.name,
    }
    told = [measure.owner, measure.escalation_owner, chosen]
    await _tell(session, [p for p in told if p is not None], person, dive, payload, now)
    return DiveDecided(shown)


async def decline(
    session: AsyncSession,
    person: Person,
    dive_id: int,
    reason: str,
    now: datetime,
    policy: Policy,
    max_text: int,
) -> DiveOutcome:
    """The Leadership Team declines a deep dive, with a reason (recorded; the escalation
    owner who asked for it is told)."""
    found = await _decidable(session, person, dive_id, "decline", now)
    if isinstance(found, DiveRefusal):
        return found
    dive = found
    if dive.decision is not None:
        return await _already(session, person, dive, now, policy)
    today = today_in_london(now)
    why = reason.strip()
    if not why or len(why) > max_text:
        error = (
            f"This is over {max_text:,} characters: please shorten it."
            if why
            else "Say why the deep dive is declined."
        )
        return DiveProblems(await view(session, dive, today, policy), {REASON: error})
    if not await _decide(
        session,
        dive,
        decision=DECLINED,
        decided_by_id=person.id,
        decided_at=now,
        decline_reason=why,
    ):
        return await _already(session, person, dive, now, policy)
    shown = await view(session, dive, today, policy)
    measure = shown.measure
    record(
        session,
        person.email,
        "decline deep dive",
        "deep_dive",
        f"{measure.code} {dive.period}",
        {"reason": why},
        now,
    )
    if dive.requested_by_id is not None:
        asker = await session.get(Person, dive.requested_by_id)
        payload = {
            "measure": measure.code,
            "title": measure.title,
            "label": dive.period,
            "decision": DECLINED,
            "by": person.name,
            "reason": why,
        }
        await _tell(session, [asker] if asker else [], person, dive, payload, now)
    return DiveDecided(shown)


async def _tell(
    session: AsyncSession,
    people: list[Person],
    decider: Person,
    dive: DeepDive,
    payload: dict[str, str],
    now: datetime,
) -> None:
    """Tell the people a decision concerns (once each; not the one who made it)."""
    code = payload["measure"]
    for p in {p.id: p for p in people if p.id != decider.id}.values():
        await queue(
            session,
            Kind.DEEP_DIVE_DECIDED,
            f"{code}:{dive.period}:{p.id}",
            person_id=p.id,
            payload=payload,
            now=now,
        )


# ---- the list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedDive:
    dive: DeepDive
    code: str
    title: str
    line: str


async def listing(session: AsyncSession, person: Person, today: date) -> list[ListedDive]:
    """The deep dives waiting for a decision and those accepted (the review not yet more
    than a period past), for the Leadership Team and the performance team; Refused for
    anyone else."""
    if not may_decide(person):
        raise Refused(
            "deep dives is for the Leadership Team and the performance team. "
            "Type status or my measures instead."
        )
    rows = (
        await session.execute(
            select(DeepDive, Measure.code, Measure.title)
            .join(Measure, Measure.id == DeepDive.measure_id)
            .where((DeepDive.decision.is_(None)) | (DeepDive.decision == ACCEPTED))
            .order_by(DeepDive.decision.is_not(None), DeepDive.flagged_at.desc())
            .limit(LISTED)
        )
    ).all()
    people = await _people(session, [d.lead_id for d, _, _ in rows])
    listed = []
    for dive, code, title in rows:
        why = "off track" if dive.reason == PERSISTENT else "requested from the escalation"
        if dive.decision is None:
            state = "waiting for a decision"
        else:
            lead = people[dive.lead_id].name if dive.lead_id in people else "someone not named"
            review = long_day(dive.review_date) if dive.review_date else "a date to be set"
            state = f"accepted: review on {review}, led by {lead}"
        listed.append(ListedDive(dive, code, title, f"{dive.period} · {why} · {state}"))
    return listed


async def open_view(
    session: AsyncSession, person: Person, dive_id: int, now: datetime, policy: Policy
) -> DiveView:
    """A deep dive's card again (from the list); Refused for anyone who may not decide."""
    if not may_decide(person):
        raise Refused("Deep dives are for the Leadership Team and the performance team.")
    dive = await session.get(DeepDive, dive_id) if dive_id > 0 else None
    if dive is None:
        raise Refused("That deep dive is not one PerfBot knows. Type deep dives to see them.")
    return await view(session, dive, today_in_london(now), policy)
