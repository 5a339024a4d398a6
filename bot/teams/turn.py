"""One incoming activity from a person PerfBot knows, and the ways to answer it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from botbuilder.core import TurnContext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.references import References
from bot.sealing import CardKeys
from bot.settings import Settings
from bot.teams.replies import Replies, ReplyRetry
from domain import people
from domain.model import Person
from domain.policy import Policy
from domain.uow import UnitOfWork
from domain.views import Refused, today_in_london

T = TypeVar("T")


@dataclass(frozen=True)
class BotServices:
    """What every turn may use: the settings, the unit of work, the clock, the references,
    and how long its replies are tried."""

    settings: Settings
    uow: UnitOfWork
    clock: Callable[[], datetime]
    references: References
    keys: CardKeys  # the card keys every press is checked with (bot/sealing.py)
    reply_retry: ReplyRetry = field(default_factory=ReplyRetry)
    # Set when the server begins to stop: replies then go to the outbox, not round again.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def policy(self) -> Policy:
        return self.settings.policy


def contact_of(admins: Sequence[Person]) -> str:
    """Whom to ask about one's measures: the first two of the performance team."""
    return ", ".join(f"{a.name} ({a.email})" for a in admins[:2]) or "the performance team"


async def contact_line(uow: UnitOfWork) -> str:
    async with uow() as tx:
        return contact_of(await people.performance_team(tx))


async def send_card(ctx: TurnContext, card: dict[str, Any]) -> None:
    """A card in reply, through the turn's replies (bot/teams/replies.py)."""
    await Replies.of(ctx).send_card(card)


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
        await Replies.of(self.ctx).say(text)

    async def send_card(self, card: dict[str, Any]) -> None:
        await Replies.of(self.ctx).send_card(card)

    async def replace_card(self, card: dict[str, Any]) -> None:
        """Replace the card that was submitted, so it cannot be submitted twice; if Teams
        will not update it, send the new card instead."""
        await Replies.of(self.ctx).replace_card(card)
