"""The one way PerfBot replies within a turn: what Teams asks to be retried is retried inside
the turn's time, and what still cannot go then is handed to the outbox, sent later by the
dispatcher. botbuilder-python does not retry replies (DESIGN.md), so without this a reply met
by a 429 or a 503 would be lost and the turn would end in an error."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes
from msrest.exceptions import ClientRequestError

from bot.delivery.failures import RETRYABLE, SendFailure, classify
from bot.references import reference_values
from cards import render as cards
from domain import conversations
from domain.uow import UnitOfWork

log = logging.getLogger("perfbot.bot")

# Teams waits 15 s for the answer to the activity it posted, then takes the turn as failed
# and posts it again. All of a turn's replies, with their retries, get 10 s from the turn's
# start, which leaves room for the turn's own database work and for handing over.
REPLY_BUDGET = 10.0


@dataclass(frozen=True)
class ReplyRetry:
    """How long a turn keeps trying its replies, and how it waits between tries: Retry-After
    when Teams gives one, else backoff doubling from ``first_backoff`` up to
    ``most_backoff``, each wait jittered down by up to a half (as the dispatcher's)."""

    budget: float = REPLY_BUDGET
    first_backoff: float = 0.5
    most_backoff: float = 4.0
    attempt_timeout: float = 5.0  # the Bot Connector answers in well under a second

    def backoff(self, attempt: int) -> float:
        return min(self.first_backoff * 2.0 ** (attempt - 1), self.most_backoff) * random.uniform(
            0.5, 1.0
        )


def _transient(error: BaseException, failure: SendFailure) -> bool:
    """Worth trying again: Teams said so (429, 412, 502, 503, 504 …) or did not answer."""
    if failure.status is not None:
        return failure.status in RETRYABLE
    return isinstance(error, TimeoutError | ClientRequestError)


@dataclass
class _Outcome:
    """How the tries of one reply ended: ``failure`` is None when it went."""

    failure: SendFailure | None = None
    transient: bool = False


class Replies:
    """The replies of one turn, made in order. Each is tried until it goes or the turn's
    budget is spent; then it, and every later reply of the turn (to keep their order), is
    queued for the dispatcher, once however often Teams posts the same activity. A reply
    Teams refuses for good (403, 404) is not retried; nor is anything more tried in a
    conversation Teams has refused."""

    KEY = "perfbot.replies"

    def __init__(
        self,
        ctx: TurnContext,
        uow: UnitOfWork,
        clock: Callable[[], datetime],
        retry: ReplyRetry,
        stopping: asyncio.Event,
    ) -> None:
        self.ctx = ctx
        self.uow = uow
        self.clock = clock
        self.retry = retry
        self._stopping = stopping
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + retry.budget
        self._count = 0
        self._handed_over: datetime | None = None  # when the last queued reply may go
        self._refused: SendFailure | None = None

    @classmethod
    def start(
        cls,
        ctx: TurnContext,
        uow: UnitOfWork,
        clock: Callable[[], datetime],
        retry: ReplyRetry,
        stopping: asyncio.Event,
    ) -> Replies:
        """The replies of the turn ``ctx`` begins now; ``Replies.of(ctx)`` finds them. Once
        ``stopping`` is set (the server is shutting down), a reply that has met a failure is
        not tried again but handed to the outbox at once, for the next start to send."""
        replies = cls(ctx, uow, clock, retry, stopping)
        ctx.turn_state[cls.KEY] = replies
        return replies

    @classmethod
    def of(cls, ctx: TurnContext) -> Replies:
        replies = ctx.turn_state.get(cls.KEY)
        if not isinstance(replies, Replies):
            raise LookupError("this turn did not come through PerfBot.on_turn")
        return replies

    async def say(self, text: str) -> None:
        await self._reply({"text": text}, lambda: self.ctx.send_activity(text))

    async def send_card(self, card: dict[str, Any]) -> None:
        await self._reply({"card": card}, lambda: self.ctx.send_activity(_card_message(card)))

    async def replace_card(self, card: dict[str, Any]) -> None:
        """Replace the card that was submitted, so it cannot be submitted twice; if Teams
        will not update it (an old or deleted card), send the new card instead. An update
        that cannot be made in time is queued as a new card: the outbox can only send."""
        reply_to = self.ctx.activity.reply_to_id
        if not reply_to or self._refused is not None or self._handed_over is not None:
            await self.send_card(card)
            return
        self._count += 1
        activity = Activity(
            type=ActivityTypes.message, id=reply_to, attachments=[cards.attachment(card)]
        )
        outcome = await self._tries(lambda: self.ctx.update_activity(activity))
        if outcome.failure is None:
            return
        if outcome.transient:
            await self._hand_over(self._count, {"card": card}, outcome.failure)
            return
        log.warning("could not update card %s: %s", reply_to, outcome.failure)
        await self._reply(
            {"card": card}, lambda: self.ctx.send_activity(_card_message(card)), self._count
        )

    async def _reply(
        self,
        payload: dict[str, Any],
        send: Callable[[], Awaitable[object]],
        number: int | None = None,
    ) -> None:
        """One reply: ``send`` tried, else queued as ``payload``. ``number`` is the reply's
        place in the turn when it is the fallback of one already counted."""
        if number is None:
            self._count += 1
            number = self._count
        if self._refused is not None:
            log.warning("not replying in %s: Teams refused it (%s)", self._where, self._refused)
            return
        if self._handed_over is not None:  # an earlier reply is waiting: this one goes after it
            await self._hand_over(number, payload, None)
            return
        outcome = await self._tries(send)
        if outcome.failure is None:
            return
        if outcome.transient:
            await self._hand_over(number, payload, outcome.failure)
        elif outcome.failure.permanent:
            self._refused = outcome.failure
            log.warning("Teams refused a reply in %s: %s", self._where, outcome.failure)
        else:
            log.error("Teams would not take a reply in %s: %s", self._where, outcome.failure)

    async def _tries(self, call: Callable[[], Awaitable[object]]) -> _Outcome:
        """``call`` until it succeeds, fails for good, or the budget would be overrun by
        waiting for another try. Errors that are not the Bot Connector's answer (a bug)
        are raised, for the adapter's turn error handler."""
        attempt = 0
        while True:
            left = self._deadline - self._loop.time()
            if left <= 0:
                return _Outcome(SendFailure(None, "no time left in the turn"), transient=True)
            attempt += 1
            try:
                async with asyncio.timeout(min(self.retry.attempt_timeout, left)):
                    await call()
                return _Outcome()
            except Exception as error:
                failure = classify(error)
                if not _transient(error, failure):
                    if failure.status is None:
                        raise
                    return _Outcome(failure)
            wait = (
                failure.retry_after
                if failure.retry_after is not None
                else self.retry.backoff(attempt)
            )
            if self._loop.time() + wait >= self._deadline or self._stopping.is_set():
                return _Outcome(failure, transient=True)
            log.info("reply in %s met %s; trying again in %.1f s", self._where, failure, wait)
            if await self._stopped_within(wait):
                log.info("reply in %s not tried again: PerfBot is stopping", self._where)
                return _Outcome(failure, transient=True)

    async def _stopped_within(self, wait: float) -> bool:
        """Wait ``wait`` seconds, or less if the server begins to stop: whether it did."""
        try:
            async with asyncio.timeout(wait):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    async def _hand_over(
        self, number: int, payload: dict[str, Any], failure: SendFailure | None
    ) -> None:
        """Queue the reply for the dispatcher, to the turn's conversation, not before Teams
        said (and not before a reply of this turn queued earlier)."""
        activity = self.ctx.activity
        now = self.clock()
        not_before = now
        if failure is not None and failure.retry_after is not None:
            not_before = now + timedelta(seconds=failure.retry_after)
        if self._handed_over is not None:
            not_before = max(not_before, self._handed_over)
        conversation_id = activity.conversation.id
        values = reference_values(activity, None)
        reason = f"{_turn_key(activity)}:{number}"
        queued = await self.uow.run(
            lambda tx: conversations.reply_later(
                tx, conversation_id, values, reason, payload, now, not_before
            )
        )
        self._handed_over = not_before
        log.warning(
            "reply %s in %s handed to the outbox (%s)%s",
            number,
            self._where,
            failure or "after an earlier one",
            "" if queued else ": it was queued already",
        )

    @property
    def _where(self) -> str:
        return str(self.ctx.activity.conversation.id)


def _card_message(card: dict[str, Any]) -> Activity:
    return MessageFactory.attachment(cards.attachment(card))


def _turn_key(activity: Activity) -> str:
    """The same for every time Teams posts one activity, and for no other activity."""
    if not activity.id:
        return uuid.uuid4().hex[:24]  # nothing to know it again by
    digest = hashlib.sha256(f"{activity.conversation.id}\n{activity.id}".encode())
    return digest.hexdigest()[:24]
