"""Action plans: the corrective actions for an off-track measure, each an item with an
owner, a due date and a status (open, done, dropped; an open item past its date is late),
followed up on the owner's next return card (DESIGN.md "Action plan").

Items come from an off-track return's own action and date (``from_return``, called as the
return is stored) and from the remedial actions an escalation owner agrees (``add_item``,
source "agreed"). The return card asks for their progress (``report_progress``, in the
return's own transaction); ``actions`` lists a person's items, and ``mark_done`` and ``drop``
close one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from domain.audit import record
from domain.dates import LONDON, long_day
from domain.model import (
    ActionPlan,
    ActionPlanStatus,
    AuditEntry,
    Delegate,
    Escalation,
    Measure,
    Person,
    Return,
    Role,
)

RETURN, AGREED = "return", "agreed"  # where an item came from


def _key(code: str, period: str, item_id: int) -> str:
    return f"{code} {period} #{item_id}"


async def add_item(
    session: AsyncSession,
    measure: Measure,
    period: str,
    description: str,
    *,
    owner: Person | None,
    due: date | None,
    source: str,
    by: Person,
    now: datetime,
    return_id: int | None = None,
    escalation_id: int | None = None,
) -> ActionPlan:
    """Add an open item to the measure's action plan (``source``: "return" for the owner's
    own action on an off-track return, "agreed" for a remedial action the escalation owner
    agreed), audited in the same transaction."""
    item = ActionPlan(
        measure_id=measure.id,
        period=period,
        description=description.strip(),
        owner_id=owner.id if owner else None,
        due_date=due,
        created_at=now,
        status=ActionPlanStatus.OPEN.value,
        source=source,
        return_id=return_id,
        escalation_id=escalation_id,
        created_by_id=by.id,
    )
    session.add(item)
    await session.flush()
    record(
        session,
        by.email,
        "add action",
        "action_plan",
        _key(measure.code, period, item.id),
        {
            "description": item.description,
            "owner": owner.email if owner else None,
            "due": due.isoformat() if due else None,
            "source": source,
        },
        now,
    )
    return item


# ---- what people are shown -------------------------------------------------------------


@dataclass(frozen=True)
class ActionItem:
    """An action-plan item as people see it: "late" is an open item whose due day has passed
    (in London), never a stored state."""

    id: int
    measure_id: int
    code: str
    title: str
    period: str
    description: str
    owner: str  # the owner's name, or "" when nobody is named
    owner_id: int | None
    due: date | None
    stored: str  # open, done, dropped
    source: str  # return, agreed
    progress: str | None
    progress_at: datetime | None
    closed_at: datetime | None
    late: bool
    escalation_owner_id: int | None = None  # the measure's

    @property
    def status(self) -> str:
        """open, late, done or dropped."""
        return "late" if self.late else self.stored

    @property
    def is_open(self) -> bool:
        return self.stored == ActionPlanStatus.OPEN.value

    def urgency(self) -> tuple[int, date, int]:
        """Late first, then the soonest due (undated last), then the oldest."""
        return (0 if self.late else 1, self.due or date.max, self.id)


def london_day(now: datetime) -> date:
    return now.astimezone(LONDON).date()


def _view(item: ActionPlan, measure: Measure, owner: Person | None, today: date) -> ActionItem:
    is_open = item.status == ActionPlanStatus.OPEN.value
    return ActionItem(
        id=item.id,
        measure_id=measure.id,
        code=measure.code,
        title=measure.title,
        period=item.period,
        description=item.description,
        owner=owner.name if owner else "",
        owner_id=item.owner_id,
        due=item.due_date,
        stored=item.status,
        source=item.source,
        progress=item.progress,
        progress_at=item.progress_at,
        closed_at=item.closed_at,
        late=is_open and item.due_date is not None and item.due_date < today,
        escalation_owner_id=measure.escalation_owner_id,
    )


_Owner = aliased(Person)


async def _views(
    session: AsyncSession, query: Select[ActionPlan, Measure, Person], today: date
) -> list[ActionItem]:
    rows = (await session.execute(query)).all()
    return sorted(
        (_view(item, measure, owner, today) for item, measure, owner in rows),
        key=ActionItem.urgency,
    )


def _select() -> Select[ActionPlan, Measure, Person]:
    return (
        select(ActionPlan, Measure, _Owner)
        .join(Measure, Measure.id == ActionPlan.measure_id)
        .outerjoin(_Owner, _Owner.id == ActionPlan.owner_id)
    )


async def open_items(
    session: AsyncSession, measure_ids: Sequence[int], today: date
) -> dict[int, list[ActionItem]]:
    """The open items of these measures, by measure, most urgent first (one query)."""
    found: dict[int, list[ActionItem]] = {i: [] for i in measure_ids}
    if not measure_ids:
        return found
    query = _select().where(
        ActionPlan.measure_id.in_(measure_ids),
        ActionPlan.status == ActionPlanStatus.OPEN.value,
    )
    for item in await _views(session, query, today):
        found[item.measure_id].append(item)
    return found


def may_drop(person: Person, item: ActionItem) -> bool:
    """Whether the actions card offers ``person`` Drop on an item (``drop`` checks again)."""
    return person.has_role(Role.ADMIN) or item.escalation_owner_id == person.id


CLOSED_SHOWN = 5  # the most recently closed items a person's list still shows


async def items_of(session: AsyncSession, person: Person, today: date) -> list[ActionItem]:
    """A person's items: those they own, and those of the measures they own, deputise for or
    are the escalation owner of; open ones most urgent first, then the few closed last."""
    delegated = select(Delegate.measure_id).where(Delegate.person_id == person.id)
    mine = or_(
        ActionPlan.owner_id == person.id,
        Measure.owner_id == person.id,
        Measure.escalation_owner_id == person.id,
        Measure.id.in_(delegated),
    )
    items = await _views(session, _select().where(mine, Measure.active), today)
    still_open = [i for i in items if i.is_open]
    closed = sorted(
        (i for i in items if not i.is_open),
        key=lambda i: (i.closed_at or datetime.min.replace(tzinfo=UTC), i.id),
        reverse=True,
    )
    return still_open + closed[:CLOSED_SHOWN]


# ---- from a return, and its card's progress -------------------------------------------


def plan_line(measure: Measure, item: ActionPlan | None) -> str:
    """What the receipt can truly say of the return's action: it is in the action plan, and
    the next return card asks about it ("" when no item was made of it)."""
    if item is None:
        return ""
    if item.status != ActionPlanStatus.OPEN.value:
        return f"This action is already marked {item.status} in {measure.code}'s action plan."
    due = f", due {long_day(item.due_date, year=False)}" if item.due_date else ""
    return (
        f"Your action is in {measure.code}'s action plan{due}; PerfBot will ask you about it "
        "on your next return."
    )


async def from_return(
    session: AsyncSession,
    measure: Measure,
    ret: Return,
    off_track: bool,
    by: Person,
    now: datetime,
    progress: Sequence[tuple[int, str]] = (),
    done: Sequence[int] = (),
) -> str:
    """As a return is stored (``ret`` flushed): an off-track return's action and date become
    the measure's action-plan item for that period (a correction updates the open one, so a
    period never has two of its own), and the progress the card reported on the measure's
    other items is stored. Answers the receipt's line about the action plan ("" if none)."""
    noted = await report_progress(session, measure, by, now, progress, done)
    line = await _own_action(session, measure, ret, off_track, by, now)
    return " ".join(part for part in (noted, line) if part)


async def _own_action(
    session: AsyncSession, measure: Measure, ret: Return, off_track: bool, by: Person, now: datetime
) -> str:
    action = (ret.remedial_action or "").strip()
    if not (off_track and action and ret.action_due):
        return ""  # back on track: the items stay until their owner closes them
    own = list(
        await session.scalars(
            select(ActionPlan)
            .where(
                ActionPlan.measure_id == measure.id,
                ActionPlan.period == ret.period,
                ActionPlan.source == RETURN,
            )
            .order_by(ActionPlan.id)
        )
    )
    same = next((i for i in own if i.description == action and i.due_date == ret.action_due), None)
    if same is not None:  # the same action again (a corrected figure): nothing new
        if same.status == ActionPlanStatus.OPEN.value:
            same.return_id = ret.id
        return plan_line(measure, same)
    current = next((i for i in own if i.status == ActionPlanStatus.OPEN.value), None)
    if current is None:
        item = await add_item(
            session,
            measure,
            ret.period,
            action,
            owner=measure.owner,
            due=ret.action_due,
            source=RETURN,
            by=by,
            now=now,
            return_id=ret.id,
        )
        return plan_line(measure, item)
    record(
        session,
        by.email,
        "change action",
        "action_plan",
        _key(measure.code, current.period, current.id),
        {
            "description": [current.description, action],
            "due": [
                current.due_date.isoformat() if current.due_date else None,
                ret.action_due.isoformat(),
            ],
            "return version": ret.version,
        },
        now,
    )
    current.description = action
    current.due_date = ret.action_due
    current.return_id = ret.id
    return plan_line(measure, current)


async def receipt_line(session: AsyncSession, measure: Measure, ret: Return) -> str:
    """The receipt's action-plan line for a return already stored (a card sent twice)."""
    item = await session.scalar(
        select(ActionPlan).where(ActionPlan.return_id == ret.id, ActionPlan.source == RETURN)
    )
    return plan_line(measure, item)


async def report_progress(
    session: AsyncSession,
    measure: Measure,
    by: Person,
    now: datetime,
    progress: Sequence[tuple[int, str]],
    done: Sequence[int],
) -> str:
    """The return card's word on the measure's open items: its progress text stored on each
    (audited), and those toggled done closed. ``by`` may send the measure's return (checked
    by the caller). The card's ids are not trusted: an id that is not an open item of this
    measure is passed over, and the attempt audited. Answers what the receipt can say of it."""
    said = {item_id: text.strip() for item_id, text in progress if text.strip()}
    wanted = set(said) | set(done)
    if not wanted:
        return ""
    items = {
        i.id: i
        for i in await session.scalars(
            select(ActionPlan).where(
                ActionPlan.id.in_(wanted),
                ActionPlan.measure_id == measure.id,
                ActionPlan.status == ActionPlanStatus.OPEN.value,
            )
        )
    }
    stray = sorted(wanted - set(items))
    if stray:
        record(
            session,
            by.email,
            "refused",
            "action_plan",
            measure.code,
            {"reason": "not an open item of this measure", "items": stray},
            now,
        )
    noted = closed = 0
    for item_id, item in sorted(items.items()):
        key = _key(measure.code, item.period, item.id)
        noted += item_id in said
        if item_id in said and said[item_id] != (item.progress or ""):
            record(
                session,
                by.email,
                "action progress",
                "action_plan",
                key,
                {"progress": [item.progress, said[item_id]]},
                now,
            )
            item.progress = said[item_id]
            item.progress_at = now
        if item_id in done:
            # One statement, as Mark done: a press of Mark done at the same moment and this
            # close it once, and it is audited once.
            changed = await session.execute(
                update(ActionPlan)
                .where(ActionPlan.id == item.id, ActionPlan.status == ActionPlanStatus.OPEN.value)
                .values(status=ActionPlanStatus.DONE.value, closed_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0) == 1:
                # As stored, without a second read (and keeping the progress set above).
                set_committed_value(item, "status", ActionPlanStatus.DONE.value)
                set_committed_value(item, "closed_at", now)
                record(session, by.email, "action done", "action_plan", key, {"via": "return"}, now)
                closed += 1
    parts = []
    if noted:
        parts.append(f"progress noted on {noted} action{'s' if noted != 1 else ''}")
    if closed:
        parts.append(f"{closed} marked done")
    return ("; ".join(parts) + ".").capitalize() if parts else ""


# ---- closing an item from the actions card ---------------------------------------------


@dataclass(frozen=True)
class Closed:
    """The item was marked done (or dropped) now."""

    item: ActionItem


@dataclass(frozen=True)
class AlreadyClosed:
    """Someone had already closed it: nothing changed."""

    item: ActionItem
    by: str  # their name, or "" if not known
    at: datetime | None


@dataclass(frozen=True)
class ActionRefusal:
    """Refused (and audited); nothing changed."""

    message: str


ActionOutcome = Closed | AlreadyClosed | ActionRefusal


async def _item(session: AsyncSession, item_id: int) -> tuple[ActionPlan, Measure] | None:
    if item_id <= 0:
        return None
    row = (
        await session.execute(
            select(ActionPlan, Measure)
            .join(Measure, Measure.id == ActionPlan.measure_id)
            .where(ActionPlan.id == item_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def _escalation_owner_ids(
    session: AsyncSession, item: ActionPlan, measure: Measure
) -> set[int]:
    ids = {measure.escalation_owner_id} if measure.escalation_owner_id else set()
    if item.escalation_id is not None:
        owner = await session.scalar(
            select(Escalation.escalation_owner_id).where(Escalation.id == item.escalation_id)
        )
        if owner is not None:
            ids.add(owner)
    return ids


async def _closed_by(
    session: AsyncSession, measure: Measure, item: ActionPlan
) -> tuple[str, datetime | None]:
    """Who closed an item and when, from the audit log (the item keeps only when)."""
    entry = await session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "action_plan",
            AuditEntry.key == _key(measure.code, item.period, item.id),
            AuditEntry.action.in_(("action done", "drop action")),
        )
        .order_by(AuditEntry.id)
        .limit(1)
    )
    if entry is None:
        return "", item.closed_at
    name = await session.scalar(select(Person.name).where(Person.email == entry.actor))
    return name or entry.actor, item.closed_at or entry.at


async def _close(
    session: AsyncSession,
    person: Person,
    item_id: int,
    now: datetime,
    status: ActionPlanStatus,
    reason: str = "",
) -> ActionOutcome:
    dropping = status is ActionPlanStatus.DROPPED
    found = await _item(session, item_id)
    what = "drop" if dropping else "mark done"
    if found is None:
        record(
            session,
            person.email,
            "refused",
            "action_plan",
            f"#{item_id}",
            {"action": what, "reason": "no such item"},
            now,
        )
        return ActionRefusal(
            "That action is no longer in any action plan. Type actions to see yours."
        )
    item, measure = found
    key = _key(measure.code, item.period, item.id)
    chiefs = await _escalation_owner_ids(session, item, measure)
    admin = person.has_role(Role.ADMIN)
    if dropping:
        allowed = admin or person.id in chiefs
        who = "its escalation owner or the performance team"
    else:
        delegates = set(
            await session.scalars(
                select(Delegate.person_id).where(Delegate.measure_id == measure.id)
            )
        )
        allowed = admin or person.id in {item.owner_id, measure.owner_id, *chiefs, *delegates}
        who = "its owner, the measure's owner or delegate, its escalation owner or the performance team"
    if not allowed:
        record(
            session,
            person.email,
            "refused",
            "action_plan",
            key,
            {"action": what, "reason": "not allowed"},
            now,
        )
        return ActionRefusal(
            f"Sorry, only {who} can {what} this {measure.code} action. Nothing was changed."
        )
    if dropping and not reason.strip() and item.status == ActionPlanStatus.OPEN.value:
        return ActionRefusal("Say why the action is being dropped, then press Drop again.")
    # One statement, so that two presses at the same moment close it once.
    changed = await session.execute(
        update(ActionPlan)
        .where(ActionPlan.id == item.id, ActionPlan.status == ActionPlanStatus.OPEN.value)
        .values(status=status.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(item)
    owner = await session.get(Person, item.owner_id) if item.owner_id else None
    today = london_day(now)
    if getattr(changed, "rowcount", 0) != 1:
        by, at = await _closed_by(session, measure, item)
        return AlreadyClosed(_view(item, measure, owner, today), by, at)
    changes: dict[str, Any] = {"status": [ActionPlanStatus.OPEN.value, status.value]}
    if dropping:
        changes["reason"] = reason.strip()
    record(
        session,
        person.email,
        "drop action" if dropping else "action done",
        "action_plan",
        key,
        changes,
        now,
    )
    return Closed(_view(item, measure, owner, today))


async def mark_done(
    session: AsyncSession, person: Person, item_id: int, now: datetime
) -> ActionOutcome:
    """Mark an item done: its owner, the measure's owner or a delegate, its escalation owner
    or an admin may; anyone else is refused (audited). A second press changes nothing and
    says who closed it, and when."""
    return await _close(session, person, item_id, now, ActionPlanStatus.DONE)


async def drop(
    session: AsyncSession, person: Person, item_id: int, reason: str, now: datetime
) -> ActionOutcome:
    """Drop an item with a reason: only its escalation owner or an admin may."""
    return await _close(session, person, item_id, now, ActionPlanStatus.DROPPED, reason)
