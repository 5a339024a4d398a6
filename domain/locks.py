"""Signed-off periods: a locked period takes no change from Teams or from an import, except
an admin's correction with a reason, which is recorded as a restatement.

The use cases here sign a period off (``lock``), reopen it (``unlock``) and say where its
returns stand (``period_status``): approved, awaiting approval, returned to their owner,
missing, and restated. The performance team runs them from the command line; an admin's
card passes ``person``, who must be an admin."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.dates import LONDON, long_day
from domain.model import Measure, PeriodLock, Person, Publication, Return, ReturnState, Role
from domain.periods import Period, PeriodError
from domain.reporting import latest_returns
from domain.views import (
    Refused,
    has_figure,
    lock_of,
    shown_value,
    today_in_london,
)

# The headings of a period's groups, while open and once signed off.
OPEN_TITLES = {
    "awaiting": "Awaiting approval",
    "returned": "Returned to their owner",
    "missing": "Missing (no figure)",
    "restated": "Restated (changed after sign-off)",
    "approved": "Approved",
}
SIGNED_OFF_TITLES = {
    "awaiting": "Signed off while awaiting approval",
    "returned": "Signed off while returned to their owner",
    "missing": "Signed off without a figure",
}

# What is wrong with an unapproved return, as a refusal to lock names it.
AWAITING = "awaiting approval"
RETURNED = "returned"
MISSING = "missing"


async def all_locks(session: AsyncSession) -> dict[str, PeriodLock]:
    """Every signed-off period's lock, by period label, in one read."""
    return {lock.period: lock for lock in await session.scalars(select(PeriodLock))}


def mark_restated(
    ret: Return, earlier: str | None, reason: str | None, previous: Return | None = None
) -> None:
    """Mark a new version as a restatement of a signed-off (or published) figure:
    ``earlier`` is the figure it replaces as people saw it (None if there was none),
    ``reason`` the corrector's. A restatement of a restatement keeps the figure first
    signed off or published, which is what the export and the summary compare with."""
    ret.restated = True
    ret.restated_from = previous.restated_from if previous and previous.restated else earlier
    ret.correction_reason = reason


async def published_since(
    session: AsyncSession, period: str, since: datetime
) -> Publication | None:
    """The first summary or board that went out after ``since`` showing ``period``: a figure
    sent before it and changed after it is a restatement."""
    found = await session.scalars(
        select(Publication)
        .where(Publication.published_at > since)
        .order_by(Publication.published_at, Publication.id)
    )
    for publication in found:
        if period in (publication.periods or {}).get("periods", []):
            return publication
    return None


@dataclass(frozen=True)
class StatusLine:
    """One measure's return for the period, as the sign-off lists it."""

    code: str
    title: str
    service: str
    owner: str
    shown: str  # the figure as the council prints it ("—" with no return at all)
    reviewed_by: str | None = None  # who approved or returned it (a name)
    reviewed_at: datetime | None = None
    comment: str | None = None  # the reviewer's comment (a returned return's reason)
    restated_from: str | None = None  # a restatement: the figure it replaced, as shown
    correction_reason: str | None = None


@dataclass(frozen=True)
class PeriodStatus:
    """Where a period's returns stand, for its sign-off: one line per active measure of the
    period's frequency in approved, awaiting, returned or missing; a restated return is
    also listed in ``restated``."""

    period: Period
    lock: PeriodLock | None
    approved: tuple[StatusLine, ...]
    awaiting: tuple[StatusLine, ...]
    returned: tuple[StatusLine, ...]
    missing: tuple[StatusLine, ...]
    restated: tuple[StatusLine, ...]

    def title(self, group: str) -> str:
        """A group's heading: once the period is signed off, nobody is asked to act on its
        unapproved returns any more, so they are named for what they were when it was."""
        if self.lock is None:
            return OPEN_TITLES[group]
        return SIGNED_OFF_TITLES.get(group, OPEN_TITLES[group])

    @property
    def unapproved(self) -> tuple[StatusLine, ...]:
        return self.awaiting + self.returned + self.missing

    def problems(self) -> list[tuple[str, str]]:
        """Each unapproved return's code and what is wrong with it, by code."""
        found = [
            *((line.code, AWAITING) for line in self.awaiting),
            *((line.code, RETURNED) for line in self.returned),
            *((line.code, MISSING) for line in self.missing),
        ]
        return sorted(found)

    def unapproved_summary(self) -> str:
        """The unapproved returns by what is wrong: "awaiting approval: HS-01, HS-02;
        missing: HS-04"."""
        groups = [(AWAITING, self.awaiting), (RETURNED, self.returned), (MISSING, self.missing)]
        return "; ".join(
            f"{what}: {', '.join(line.code for line in lines)}" for what, lines in groups if lines
        )


def parse_period(label: str) -> Period:
    """A period label as typed; Refused with an example if it is not one."""
    try:
        return Period.parse(label)
    except PeriodError as error:
        raise Refused(f"{error}, as in 2025/26 Q1.") from None


async def period_status(session: AsyncSession, label: str, now: datetime) -> PeriodStatus:
    """The period's lock, if any, and the newest return of each active measure reported at
    its frequency, in groups (by measure code), as they stand now (``now`` is when it is
    asked; where a return stands does not depend on the day)."""
    period = parse_period(label)
    measures = (
        await session.scalars(
            select(Measure)
            .where(Measure.active, Measure.frequency == period.frequency)
            .order_by(Measure.code)
        )
    ).all()
    newest = await latest_returns(session, [m.id for m in measures], [period.label])
    reviewers = {r.reviewed_by_id for r in newest.values() if r.reviewed_by_id is not None}
    names: dict[int, str] = {}
    if reviewers:
        names = {
            person_id: name
            for person_id, name in await session.execute(
                select(Person.id, Person.name).where(Person.id.in_(reviewers))
            )
        }
    groups: dict[str, list[StatusLine]] = {
        "approved": [],
        "awaiting": [],
        "returned": [],
        "missing": [],
        "restated": [],
    }
    for measure in measures:
        ret = newest.get((measure.id, period.label))
        line = StatusLine(
            measure.code,
            measure.title,
            measure.service.name,
            measure.owner.name,
            shown_value(measure, ret),
        )
        if ret is not None:
            line = replace(
                line,
                reviewed_by=names.get(ret.reviewed_by_id) if ret.reviewed_by_id else None,
                reviewed_at=ret.reviewed_at,
                comment=ret.review_comment,
                restated_from=ret.restated_from,
                correction_reason=ret.correction_reason,
            )
        if ret is None or not has_figure(ret) or ret.state is ReturnState.DUE:
            groups["missing"].append(line)
        elif ret.state is ReturnState.APPROVED:
            groups["approved"].append(line)
        elif ret.state is ReturnState.RETURNED:
            groups["returned"].append(line)
        else:
            groups["awaiting"].append(line)
        if ret is not None and ret.restated:
            groups["restated"].append(line)
    return PeriodStatus(
        period,
        await lock_of(session, period.label),
        **{name: tuple(lines) for name, lines in groups.items()},
    )


def _may_sign_off(person: Person | None, what: str) -> None:
    if person is not None and not person.has_role(Role.ADMIN):
        raise Refused(f"Only the performance team can {what} a period. Nothing was changed.")


def _signed_off(lock: PeriodLock) -> str:
    why = f', reason: "{lock.reason}"' if lock.reason else ""
    return (
        f"{lock.locked_by} on {long_day(today_in_london(lock.locked_at))} at "
        f"{lock.locked_at.astimezone(LONDON):%H:%M}{why}"
    )


async def lock(
    session: AsyncSession,
    label: str,
    actor_email: str,
    now: datetime,
    reason: str | None,
    force: bool,
    person: Person | None = None,
    force_hint: str = "lock it with --force",
) -> PeriodStatus:
    """Sign a period off: no return for it changes after this but by the performance team's
    correction, with a reason. Refused, having written nothing, if it is signed off already,
    has not ended, or (unless ``force``) has returns not yet approved, which the refusal
    lists, with ``force_hint`` (how to sign off regardless). ``person``, when given (an
    admin's card), must be an admin. Gives the status as
    it was signed off, with its new lock."""
    _may_sign_off(person, "sign off")
    status = await period_status(session, label, now)
    period = status.period
    if status.lock is not None:
        raise Refused(
            f"{period.label} is already signed off: locked by {_signed_off(status.lock)}. "
            "Nothing was changed."
        )
    if period.end >= today_in_london(now):
        raise Refused(
            f"{period.label} runs until {long_day(period.end)}, so it cannot be signed off "
            "yet: a period is signed off once it has ended."
        )
    if not (status.approved or status.unapproved):
        raise Refused(
            f"No active measure is reported {period.frequency.value}, so there is nothing in "
            f"{period.label} to sign off."
        )
    problems = status.problems()
    if problems and not force:
        count = len(problems)
        raise Refused(
            f"{period.label} has {count} return{'s' if count != 1 else ''} not yet approved "
            f"({status.unapproved_summary()}): approve them first, or {force_hint} to "
            "sign it off as it stands. Nothing was changed."
        )
    reason = reason.strip() if reason and reason.strip() else None
    new = PeriodLock(period=period.label, locked_at=now, locked_by=actor_email, reason=reason)
    session.add(new)
    record(
        session,
        actor_email,
        "lock",
        "period",
        period.label,
        {"reason": reason, "unapproved": [code for code, _ in problems], "forced": force},
        now,
    )
    await session.flush()
    return replace(status, lock=new)


async def unlock(
    session: AsyncSession,
    label: str,
    actor_email: str,
    now: datetime,
    reason: str,
    person: Person | None = None,
) -> None:
    """Reopen a signed-off period, saying why (the reason is required and audited). Refused,
    having written nothing, without a reason or if the period is not signed off.
    ``person``, when given (an admin's card), must be an admin."""
    _may_sign_off(person, "reopen")
    period = parse_period(label)
    if not (reason or "").strip():
        raise Refused(
            f"Give a reason for reopening {period.label}, as in --reason \"HS-04's figure was "
            'wrong"; it goes into the audit log. Nothing was changed.'
        )
    found = await lock_of(session, period.label)
    if found is None:
        raise Refused(f"{period.label} is not signed off, so there is nothing to unlock.")
    await session.delete(found)
    record(
        session,
        actor_email,
        "unlock",
        "period",
        period.label,
        {"reason": reason.strip()},
        now,
    )
    await session.flush()
