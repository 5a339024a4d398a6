"""Open the board pressed in a channel (issue 15): a link to the board is someone's own, so
it is never posted where others read it; it is queued to the presser's personal chat, and the
channel is told only what is true: on its way, when it will go, or why it cannot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.board import ReportKind
from domain.dates import long_day
from domain.model import Person
from domain.notifications import Kind, queue
from domain.people import why_unreachable
from domain.periods import Period
from domain.reminders import SendWindow
from domain.reporting import load_calendar


async def send_link(
    session: AsyncSession,
    person: Person,
    kind: ReportKind,
    period: Period,
    pressed: str,
    now: datetime,
    window: SendWindow,
) -> str:
    """Queue a link to the report to ``person``'s personal chat (made when it goes, so its
    hours start then); what to say in the channel."""
    what = f"a link to the {kind.heading.lower()} for {period.label}"
    why = await why_unreachable(session, person)
    if why is not None:
        return (
            f"{person.name}, I can't send you {what} in your chat with PerfBot ({why}). Open "
            "PerfBot in Teams (search Apps for PerfBot and add it), then press the button "
            "again; I never post links to the board in a channel."
        )
    await queue(
        session,
        Kind.REPORT_LINK,
        f"{kind.value}:{period.label}:{person.id}:{pressed or now.isoformat()}",
        person_id=person.id,
        payload={"kind": kind.value, "period": period.label},
        now=now,
    )
    allowed = window.next_allowed(now, await load_calendar(session))
    if allowed > now:
        local = allowed.astimezone(window.zone)
        return (
            f"{person.name}, I'll send you {what} in your chat with PerfBot at {local:%H:%M} on "
            f"{long_day(local.date(), year=False)}: PerfBot sends nothing out of hours."
        )
    return f"{person.name}, {what} is on its way to your chat with PerfBot."
