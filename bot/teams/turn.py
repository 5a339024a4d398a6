"""One incoming activity from a person PerfBot knows, and the ways to answer it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes
from sqlalchemy.ext.asyncio import AsyncSession

from bot.references import References
from bot.settings import Settings
from cards import render as cards
from domain import people
from domain.model import Person
from domain.policy import Policy
from domain.uow import UnitOfWork
from domain.views import Refused, today_in_london

log = logging.getLogger("perfbot.bot")
T = TypeVar("T")


@dataclass(frozen=True)
class BotServices:
    """What every turn may use: the settings, the unit of work, the clock, the references."""

    settings: Settings
    uow: UnitOfWork
    clock: Callable[[], datetime]
    references: References

    @property
    def policy(self) -> Policy:
        return self.settings.policy


async def contact_line(uow: UnitOfWork) -> str:
    """Whom to ask about one's measures: the first two of the performance team."""
    async with uow() as tx:
        admins = await people.performance_team(tx)
    return ", ".join(f"{a.name} ({a.email})" for a in admins[:2]) or "the performance team"


async def send_card(ctx: TurnContext, card: dict[str, Any]) -> None:
    await ctx.send_activity(MessageFactory.attachment(cards.attachment(card)))


@dataclass
class Turn:
    """The handler's view of an activity: who sent it, and how to reply. Handlers parse, call
    a use case inside ``services.uow``, render and reply; they never commit."""

    ctx: TurnContext
    person: Person
    services: BotServices

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @property
    def today(self) -> date:
        return today_in_london(self.now)

    @property
    def uow(self) -> UnitOfWork:
        return self.services.uow

    @property
    def policy(self) -> Policy:
        return self.services.policy

    async def attempt(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T | None:
        """A typed command's use case in a transaction of its own; if it refuses (having
        written nothing), the person is told why and the answer is None."""
        try:
            return await self.uow.run(work)
        except Refused as refusal:
            await self.say(str(refusal))
            return None

    async def contact(self) -> str:
        return await contact_line(self.uow)

    async def say(self, text: str) -> None:
        await self.ctx.send_activity(text)

    async def send_card(self, card: dict[str, Any]) -> None:
        await send_card(self.ctx, card)

    async def replace_card(self, card: dict[str, Any]) -> None:
        """Replace the card that was submitted, so it cannot be submitted twice; if Teams
        will not update it, send the new card instead."""
        reply_to = self.ctx.activity.reply_to_id
        if reply_to:
            activity = Activity(
                type=ActivityTypes.message, id=reply_to, attachments=[cards.attachment(card)]
            )
            try:
                await self.ctx.update_activity(activity)
                return
            except Exception as error:  # an old or deleted card: say it afresh
                log.warning("could not update card %s: %s", reply_to, error)
        await self.send_card(card)
