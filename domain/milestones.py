"""Key actions' milestones (seed 002: owners of "project milestones", escalated to the
escalation owner when significantly off track): what a person's milestones are, the
milestone card's update (status and revised date), the export of the milestones sheet,
and the sweep that escalates a milestone past its date and not complete, once.

Each use case runs in one transaction (domain/uow.py); no Teams here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import escalations
from domain.audit import record
from domain.dates import long_day, parse_day
from domain.model import Delegate, Escalation, Measure, MeasureKind, Milestone, Person, Role
from domain.notifications import insert_ignoring_duplicates
from domain.periods import Period
from domain.ratings import KeyActionStatus, RatingError, done_by
from domain.reporting import latest_returns
from domain.views import Refused, completed_in, today_in_london

REASON = "milestone"  # Escalation.reason is "milestone:<id>": one escalation per milestone
SOON_DAYS = 14  # a milestone due within this many days is "due soon" on my measures
MILESTONE_COLUMNS = (
    "code",
    "milestone",
    "owner_email",
    "due_date",
    "status",
    "revised_date",
    "completed_on",
)
# Input fields of the milestone card, as the card names them; problems are keyed by these.
STATUS, REVISED_DATE = "milestone_status", "revised_date"


def reason_of(milestone: Milestone) -> str:
    return f"{REASON}:{milestone.id}"


def owner_of(milestone: Milestone) -> Person:
    """Who owns a milestone: its own owner, else its key action's."""
    return milestone.owner if milestone.owner is not None else milestone.measure.owner


def is_open(milestone: Milestone) -> bool:
    return milestone.completed_on is None and milestone.status != KeyActionStatus.COMPLETE.value


def past_due(milestone: Milestone, today: date) -> bool:
    """Past its date (the revised one, if it has one) and not complete today."""
    return milestone.expected < today and not done_by(milestone, today)


def may_update(person: Person, milestone: Milestone) -> bool:
    """The milestone's owner, its key action's owner or delegates, and the performance team."""
    measure = milestone.measure
    return (
        owner_of(milestone).id == person.id
        or measure.owner_id == person.id
        or any(d.id == person.id for d in measure.delegates)
        or person.has_role(Role.ADMIN)
    )


@dataclass(frozen=True)
class MilestoneLine:
    """One milestone as lists show it: "Contract awarded · due 30 Oct 2026 · PAST DUE"."""

    milestone: Milestone
    owner: str
    line: str
    past_due: bool
    due_soon: bool


def line_of(milestone: Milestone, today: date) -> MilestoneLine:
    owner = owner_of(milestone).name
    words = [f"due {long_day(milestone.due_date)}"]
    if milestone.revised_date and milestone.revised_date != milestone.due_date:
        words.append(f"revised to {long_day(milestone.revised_date)}")
    late = past_due(milestone, today)
    soon = not late and is_open(milestone) and milestone.expected <= today + timedelta(SOON_DAYS)
    if not is_open(milestone):
        done = f" on {long_day(milestone.completed_on)}" if milestone.completed_on else ""
        words.append(f"complete{done}")
    elif late:
        words.append("PAST DUE: counts as unlikely")
    else:
        words.append(milestone.status or "no status yet")
        if soon:
            words.append("due soon")
    return MilestoneLine(milestone, owner, " · ".join(words), late, soon)


async def of_person(session: AsyncSession, person: Person) -> list[Milestone]:
    """The milestones a person owns (their own, and those of their key actions without an
    owner of their own) or may update as a key action's delegate, by date."""
    delegated = select(Delegate.measure_id).where(Delegate.person_id == person.id)
    return list(
        (
            await session.scalars(
                select(Milestone)
                .join(Measure, Milestone.measure_id == Measure.id)
                .where(
                    Measure.active,
                    or_(
                        Milestone.owner_id == person.id,
                        Measure.owner_id == person.id,
                        Measure.id.in_(delegated),
                    ),
                )
                .order_by(Milestone.due_date, Measure.code, Milestone.id)
            )
        ).all()
    )


async def checked(session: AsyncSession, person: Person, milestone_id: int) -> Milestone:
    """The milestone a card or button names, if this person may update it; else Refused."""
    milestone = await session.get(Milestone, milestone_id) if milestone_id else None
    if milestone is None or not milestone.measure.active:
        raise Refused("That milestone is not in PerfBot any more. Type milestones to see yours.")
    if not may_update(person, milestone):
        raise Refused(
            f"'{milestone.title}' ({milestone.measure.code}) is {owner_of(milestone).name}'s to "
            "update, or its key action's owner's. Nothing was changed."
        )
    return milestone


@dataclass(frozen=True)
class UpdateMilestone:
    """The milestone card's Save, as typed: every field a string, re-checked here."""

    milestone_id: int
    status: str
    revised_date: str


@dataclass
class MilestoneProblems(Exception):
    """What is wrong with the milestone card, field by field; nothing was stored."""

    milestone: Milestone
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MilestoneUpdated:
    milestone: Milestone
    note: str


async def update(
    session: AsyncSession, person: Person, cmd: UpdateMilestone, now: datetime
) -> MilestoneUpdated:
    """A milestone's status and revised date: a revised date is needed when it is slipping
    (some risk or unlikely) and may not be in the past; complete records the day. Raises
    Refused, or MilestoneProblems with the card's problems; either way nothing is stored."""
    milestone = await checked(session, person, cmd.milestone_id)
    today = today_in_london(now)
    errors: dict[str, str] = {}
    status: KeyActionStatus | None = None
    if not cmd.status.strip():
        errors[STATUS] = "Choose a status: complete, on track, some risk or unlikely."
    else:
        try:
            status = KeyActionStatus.parse(cmd.status)
        except RatingError as error:
            errors[STATUS] = str(error)[0].upper() + str(error)[1:] + "."
    revised: date | None = None
    if cmd.revised_date.strip():
        try:
            revised = parse_day(cmd.revised_date)
        except ValueError as error:
            errors[REVISED_DATE] = str(error)[0].upper() + str(error)[1:] + "."
        else:
            # The card comes filled with the stored date: left as it was on a milestone now
            # complete, a date gone by no longer matters.
            kept = status is KeyActionStatus.COMPLETE and revised == milestone.revised_date
            if revised < today and not kept:
                errors[REVISED_DATE] = (
                    f"{long_day(revised)} has passed: a revised date is when it is now "
                    "expected, so choose today or a later day."
                )
    slipping = status in (KeyActionStatus.SOME_RISK, KeyActionStatus.UNLIKELY)
    if slipping and revised is None and REVISED_DATE not in errors:
        errors[REVISED_DATE] = "It is slipping: give the revised date it is now expected by."
    if errors or status is None:
        raise MilestoneProblems(milestone, errors)
    before = {
        "status": milestone.status,
        "revised_date": milestone.revised_date,
        "completed_on": milestone.completed_on,
    }
    milestone.status = status.value
    if revised is not None:
        milestone.revised_date = revised
    if status is KeyActionStatus.COMPLETE:
        milestone.completed_on = milestone.completed_on or today
    else:
        milestone.completed_on = None  # reopened
    milestone.updated_at, milestone.updated_by_id = now, person.id
    after = {
        "status": milestone.status,
        "revised_date": milestone.revised_date,
        "completed_on": milestone.completed_on,
    }
    changes = {
        name: [_iso(before[name]), _iso(after[name])]
        for name in before
        if before[name] != after[name]
    }
    key = f"{milestone.measure.code} {milestone.title}"
    record(session, person.email, "update", "milestone", key, changes, now)
    note = f"Saved: '{milestone.title}' is {status.value}"
    if status is KeyActionStatus.COMPLETE:
        note += f" (completed {long_day(milestone.completed_on or today)})"
        if await _close_escalation(session, milestone, now):
            note += "; its escalation is closed"
    elif milestone.revised_date:
        note += f", now expected by {long_day(milestone.revised_date)}"
    return MilestoneUpdated(milestone, note + ".")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


async def _close_escalation(session: AsyncSession, milestone: Milestone, now: datetime) -> bool:
    escalation = await session.scalar(
        select(Escalation).where(
            Escalation.milestone_id == milestone.id, Escalation.closed_at.is_(None)
        )
    )
    if escalation is None:
        return False
    escalation.closed_at, escalation.closed_reason = now, "recovered"
    return True


# ---- the milestones sheet, as export writes it ------------------------------------------------


async def sheet_rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Every milestone of the active key actions as a row of MILESTONE_COLUMNS (what
    `perfbot import` reads back unchanged): by key action code, then date."""
    rows = []
    for milestone in (
        await session.scalars(
            select(Milestone)
            .join(Measure, Milestone.measure_id == Measure.id)
            .where(Measure.active)
            .order_by(Measure.code, Milestone.due_date, Milestone.id)
        )
    ).all():
        rows.append(
            (
                milestone.measure.code,
                milestone.title,
                milestone.owner.email if milestone.owner is not None else None,
                milestone.due_date,
                milestone.status,
                milestone.revised_date,
                milestone.completed_on,
            )
        )
    return rows


# ---- the sweep ----------------------------------------------------------------------------------


async def escalate_past_due(session: AsyncSession, now: datetime) -> list[str]:
    """Raise an escalation, once, for each milestone past its date and not complete, of an
    active key action not itself complete, to the key action's escalation owner (domain/
    escalations.py sends the card, as for a measure off track). Returns "code:milestone id"
    of those raised now."""
    today = today_in_london(now)
    candidates = [
        m
        for m in (
            await session.scalars(
                select(Milestone)
                .join(Measure, Milestone.measure_id == Measure.id)
                .where(
                    Measure.active,
                    Measure.kind == MeasureKind.KEY_ACTION,
                    Measure.escalation_owner_id.is_not(None),
                    Milestone.completed_on.is_(None),
                )
            )
        ).all()
        if past_due(m, today)
    ]
    if not candidates:
        return []
    ids = sorted({m.measure_id for m in candidates})
    newest = await latest_returns(session, ids)
    by_measure: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for (measure_id, label), ret in newest.items():
        by_measure[measure_id][label] = ret
    raised: list[str] = []
    for milestone in sorted(candidates, key=lambda m: (m.expected, m.id)):
        measure = milestone.measure
        if completed_in(measure, by_measure[measure.id]):
            continue  # the key action is complete: its milestones no longer matter
        await _raise(session, measure, milestone, now, raised)
    return raised


async def _raise(
    session: AsyncSession,
    measure: Measure,
    milestone: Milestone,
    now: datetime,
    raised: list[str],
) -> None:
    period = Period.containing(milestone.expected, measure.frequency)
    off_track = await session.scalar(
        select(Escalation.id).where(
            Escalation.measure_id == measure.id,
            Escalation.period == period.label,
            Escalation.reason == escalations.OFF_TRACK,
            Escalation.closed_at.is_(None),
        )
    )
    if off_track is not None:
        return  # the escalation owner has that period's key action before them already
    inserted = await session.execute(
        insert_ignoring_duplicates(
            session,
            Escalation,
            {
                "measure_id": measure.id,
                "period": period.label,
                "reason": reason_of(milestone),
                "milestone_id": milestone.id,
                "escalation_owner_id": measure.escalation_owner_id,
                "raised_at": now,
                "deep_dive_requested": False,
            },
        )
    )
    if not cast(CursorResult[Any], inserted).rowcount:
        return  # raised before: once is enough
    escalation = await session.scalar(
        select(Escalation).where(
            Escalation.measure_id == measure.id,
            Escalation.period == period.label,
            Escalation.reason == reason_of(milestone),
        )
    )
    assert escalation is not None
    assert measure.escalation_owner is not None
    record(
        session,
        "system",
        "escalate",
        "escalation",
        f"{measure.code} {milestone.title}",
        {
            "to": measure.escalation_owner.email,
            "milestone": milestone.title,
            "due": milestone.due_date.isoformat(),
            "revised": milestone.revised_date.isoformat() if milestone.revised_date else None,
        },
        now,
    )
    await escalations.send_milestone(session, measure, milestone, escalation, now)
    raised.append(f"{measure.code}:{milestone.id}")


def lines(milestones: Sequence[Milestone], today: date) -> list[MilestoneLine]:
    return [line_of(m, today) for m in milestones]
