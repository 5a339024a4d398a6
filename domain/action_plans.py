"""Action plans: the corrective actions for an off-track measure, each an item with an
owner, a due date and a status (open, done, dropped; an open item past its date is late),
followed up on the owner's next return card (DESIGN.md "Action plan")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import record
from domain.model import ActionPlan, ActionPlanStatus, Measure, Person


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
        f"{measure.code} {period} #{item.id}",
        {
            "description": item.description,
            "owner": owner.email if owner else None,
            "due": due.isoformat() if due else None,
            "source": source,
        },
        now,
    )
    return item
