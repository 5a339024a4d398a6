"""The dispatcher: sends the outbox's due rows proactively through the Bot Connector, within
Microsoft's rate limits, retrying what can be retried and giving up clearly on what cannot.

Teams facts (DESIGN.md): about 50 sends a second per tenant; per conversation 7 a second,
8 per 2 s, 60 per 30 s, 1,800 an hour. A 429 carries Retry-After; 412, 502, 503, 504 and
timeouts are worth retrying with backoff; a 403 (blocked, uninstalled, disabled) or a 404
ConversationNotFound is permanent: the person is marked unreachable and nobody retries.
Each change to a row is a use case of domain/outbox.py in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from bot.connector import read_model, request_gate
from bot.delivery.failures import RETRYABLE, SendFailure, classify
from bot.delivery.limiter import RateLimiter
from bot.delivery.messages import Reading, Refusal, Sent, message_for
from bot.edge import Refusal as EdgeRefusal
from bot.edge import check_service_url
from bot.references import References
from bot.settings import Settings
from domain import notifications, outbox
from domain.model import ConversationRef, Notification, NotificationState, Person
from domain.people import NOT_INSTALLED, REFUSED, UNREACHABLE, mark_unreachable
from domain.reporting import load_calendar
from domain.uow import UnitOfWork
from domain.views import today_in_london
from domain.workdays import WorkingCalendar

log = logging.getLogger("perfbot.delivery")

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)


# Built once: constructing the statement anew for each send cost as much as running it.
_MARK_SENT = (
    update(Notification)
    .where(Notification.id == bindparam("row"))
    .values(
        state=NotificationState.SENT,
        activity_id=bindparam("activity"),
        sent_at=bindparam("at"),
        claimed_until=None,
        attempts=Notification.attempts + 1,
    )
    .execution_options(synchronize_session=False)
)


class _SentMarks:
    """Marks rows sent, as a group commit: the rows of senders that finish while a commit is
    being written go together in the next one. Each sender still waits until its own row is
    stored before it sends again, so after a crash no more rows can go twice than there are
    senders, one in flight each, as before."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._after: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def mark(
        self,
        row: dict[str, Any],
        after: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> None:
        """Mark ``row`` sent; ``after`` (its kind's ``after_sent``) is written in the same
        transaction, so what it records stands or falls with the mark."""
        done = asyncio.get_running_loop().create_future()
        if after is not None:
            self._after[row["row"]] = after
        self._waiting.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                async with self.engine.begin() as connection:
                    await connection.execute(_MARK_SENT, [row for row, _ in group])
                    for row, _ in group:
                        after = self._after.pop(row["row"], None)
                        if after is not None:
                            await _after_sent(connection, row["row"], after)
            except Exception as error:
                for row, done in group:
                    self._after.pop(row["row"], None)
                    if not done.done():
                        done.set_exception(error)
            except BaseException:  # cancelled (shutting down): nobody is left to write
                for _, done in group + self._waiting:
                    done.cancel()
                self._waiting = []
                self._after.clear()
                raise
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)


async def _after_sent(
    connection: AsyncConnection, row: int, after: Callable[[AsyncConnection], Awaitable[None]]
) -> None:
    """A kind's after-sent record, in a savepoint: if it fails, the row is still marked sent
    (it went), and the failure is logged rather than the message sent again."""
    try:
        async with connection.begin_nested():
            await after(connection)
    except Exception:
        log.exception("row %s was sent, but what is recorded after it went failed", row)


@dataclass
class _Job:
    """A claimed row, with what sending it needs, read for the whole batch at once."""

    id: int
    reason_key: str
    kind: str
    payload: dict[str, Any]
    person: Person | None
    target: tuple[ConversationReference, str | None] | None


@dataclass
class DeliveryReport:
    sent: int = 0
    cancelled: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    """Takes due notifications and sends them. Run ``run_once`` from a job, or ``run`` as a
    background task; several dispatchers (on several servers) share the work safely."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        adapter: CloudAdapter,
        clock: Callable[[], datetime],
        limiter: RateLimiter | None = None,
        concurrency: int | None = None,
        send_timeout: float = 15.0,
        shard: tuple[int, int] = (0, 1),
        references: References | None = None,
    ) -> None:
        self.settings = settings
        self.uow = UnitOfWork(sessions)
        self.policy = settings.policy
        self.adapter = adapter
        self.clock = clock
        self.references = references or References(self.uow, clock)
        # One of several dispatchers takes its share of the people (see outbox.shard_of), so
        # each conversation's limits are counted whole here, and its share of the tenant rate.
        self.shard = shard
        self.limiter = limiter or RateLimiter(
            [(count / shard[1], period) for count, period in settings.tenant_limits],
            settings.conversation_limits,
        )
        # Eight sends in flight: each waits on the network most of its time, and the rows
        # they finish together are marked sent in one commit (see _SentMarks).
        self.concurrency = concurrency or 8
        self.send_timeout = send_timeout
        self.worker = f"dispatcher-{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self._refused: set[int] = set()  # people Teams refused (403/404) in this batch
        self._marks = _SentMarks(sessions.kw["bind"])
        self._stopping = False

    async def run(self, poll: float = 1.0) -> None:
        """Send whatever is due until stopped; wake early when told that rows were queued."""
        while not self._stopping:
            try:
                report = await self.run_once()
                busy = report.sent or report.retried or report.cancelled
            except Exception:
                log.exception("the dispatcher failed; trying again shortly")
                busy = False
            if not busy and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), poll)
                self.wake.clear()

    def stop(self) -> None:
        """Finish the sends in flight (and mark them sent), start no more, and let ``run``
        return; the rest of the batch is released for the next start."""
        self._stopping = True
        self.wake.set()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.claim_lease)

    @property
    def batch(self) -> int:
        """As many rows as can surely be sent within a third of the lease at the tenant rate."""
        per_second = min(n / p for n, p in self.limiter.tenant)
        return max(10, min(200, int(per_second * self.settings.claim_lease / 3)))

    async def run_once(self) -> DeliveryReport:
        """Claim a batch, read what it needs in a few queries, then send row by row."""
        report = DeliveryReport()
        now = self.clock()
        async with self.uow() as session:
            ids = await outbox.claim(session, now, self.worker, self.batch, self.lease, self.shard)
        if not ids:
            return report
        async with self.uow() as session:
            calendar = await load_calendar(session)
            jobs = await self._prepare(session, ids, now, calendar, report)
        self._refused.clear()
        # Well inside the lease nobody else can take a row; past half of it, each row's claim
        # is renewed (and checked) before it goes, so a slow batch never sends one twice.
        renew_after = now + self.lease / 2
        queue: asyncio.Queue[_Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)

        async def worker() -> None:
            while not queue.empty() and not self._stopping:
                await self._deliver(queue.get_nowait(), report, calendar, renew_after)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(jobs)))))
        if not queue.empty():  # stopped: the next start need not wait for the lease to end
            async with self.uow() as session:
                await outbox.release(
                    session, [queue.get_nowait().id for _ in range(queue.qsize())], self.worker
                )
        return report

    async def _prepare(
        self,
        session: AsyncSession,
        ids: list[int],
        now: datetime,
        calendar: WorkingCalendar,
        report: DeliveryReport,
    ) -> list[_Job]:
        """The claimed rows with their people and where each goes, read for the whole batch
        in a handful of queries."""
        rows = list(
            await session.scalars(
                select(Notification)
                .where(
                    Notification.id.in_(ids),
                    Notification.claimed_by == self.worker,
                    Notification.state == NotificationState.PENDING,
                )
                .order_by(Notification.id)
            )
        )
        allowed = self.settings.send_window.next_allowed(now, calendar)
        if allowed > now:  # quiet hours began since they were queued: keep them for the morning
            for notification in rows:
                notifications.postpone(notification, allowed)
            report.postponed += len(rows)
            return []
        wanted = {n.person_id for n in rows if n.person_id is not None}
        people = {
            p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(wanted)))
        }
        targets = await self._targets(session, rows, people)
        return [
            _Job(
                n.id,
                n.reason_key,
                n.kind,
                n.payload or {},
                people.get(n.person_id or 0),
                targets.get(n.id),
            )
            for n in rows
        ]

    async def _deliver(
        self, job: _Job, report: DeliveryReport, calendar: WorkingCalendar, renew_after: datetime
    ) -> None:
        now = self.clock()
        if now >= renew_after:
            async with self.uow() as session:
                if not await outbox.renew(session, job.id, self.worker, now, self.lease):
                    return  # sent, cancelled, or taken by another dispatcher after our lease ran out
        person, target, spec = job.person, job.target, message_for(job.kind)
        if (
            self.settings.send_window.next_allowed(now, calendar) > now
            or spec.checked_at_send
            or target is None
            or target[0].conversation is None  # a chat opened for an earlier row may serve
            or (person is not None and (person.unreachable_reason or person.id in self._refused))
        ):
            checked = await self._checked(job, report, calendar, now)
            if checked is None:
                return
            message, (reference, tenant), update_of, kept = checked
        else:  # a notice to a known chat: nothing it depends on can have changed meanwhile
            reading = Reading(None, now, self.policy, calendar, settings=self.settings)
            message = await spec.build(reading, job.payload, person)
            reference, tenant = target
            update_of, kept = None, reading.kept
        try:
            permit = await self.limiter.acquire(
                tenant or "-", reference.conversation.id if reference.conversation else "-"
            )
            # Its requests are let through again as they are written (see the limiter).
            gate = request_gate.set(functools.partial(self.limiter.sending, permit))
            try:
                activity_id = await asyncio.wait_for(
                    self._send(reference, tenant, person, message, update_of), self.send_timeout
                )
            finally:
                request_gate.reset(gate)
        except Exception as error:
            failure = classify(error)
            await self._failed_send(job.id, failure, report)
            if failure.permanent and person is not None:
                self._refused.add(person.id)
            return
        at = self.clock()
        after = None
        if spec.after_sent is not None:
            hook, sent = spec.after_sent, Sent(job.reason_key, at, kept)

            async def after(connection: AsyncConnection) -> None:
                await hook(connection, sent)

        await self._marks.mark({"row": job.id, "activity": activity_id, "at": at}, after)
        report.sent += 1

    async def _checked(
        self, job: _Job, report: DeliveryReport, calendar: WorkingCalendar, now: datetime
    ) -> (
        tuple[Activity, tuple[ConversationReference, str | None], str | None, dict[str, Any]] | None
    ):
        """The message and where it goes, with everything that can stop a row checked again
        at send time from the database afresh: quiet hours, a return submitted or snoozed
        since the row was queued, a person found unreachable; None when it is not to go.
        Third, the activity it replaces in place, if it updates one sent earlier; fourth,
        what its builder kept for its ``after_sent``."""
        async with self.uow() as session:
            notification = await session.get(Notification, job.id)
            if notification is None or notification.state is not NotificationState.PENDING:
                return None
            allowed = self.settings.send_window.next_allowed(now, calendar)
            if allowed > now:
                notifications.postpone(notification, allowed)
                report.postponed += 1
                return None
            spec = message_for(notification.kind)
            why_not = (
                await outbox.still_wanted(session, notification, today_in_london(now), self.policy)
                if spec.checked_at_send
                else None
            )
            if why_not:
                notifications.cancel(notification, why_not)
                report.cancelled += 1
                return None
            person = (
                await session.get(Person, notification.person_id)
                if notification.person_id
                else None
            )
            if person is not None and person.unreachable_reason:
                self._give_up(notification, f"{UNREACHABLE}{person.unreachable_reason}")
                report.failed += 1
                return None
            target = (
                await self._targets(session, [notification], {person.id: person} if person else {})
            ).get(notification.id)
            if target is None:
                await mark_unreachable(session, notification.person_id, NOT_INSTALLED, now)
                self._give_up(notification, NOT_INSTALLED)
                report.failed += 1
                return None
            reading = Reading(session, now, self.policy, calendar, settings=self.settings)
            message = await spec.build(reading, notification.payload or {}, person)
            update_of = await _sent_activity(session, notification)
        return (
            message,
            target,
            update_of,
            reading.kept,
        )  # the transaction ended: none is held over the network

    def _give_up(self, notification: Notification, reason: str) -> None:
        notifications.give_up(notification, reason)
        log.warning("gave up on %s: %s", notification.reason_key, reason)

    async def _failed_send(
        self, notification_id: int, failure: SendFailure, report: DeliveryReport
    ) -> None:
        now = self.clock()
        report.errors.append(str(failure))
        async with self.uow() as session:
            notification = await session.get(Notification, notification_id)
            assert notification is not None
            notification.attempts += 1
            notification.last_error = str(failure)
            if failure.permanent:
                why = f"{REFUSED} {failure}"
                await mark_unreachable(session, notification.person_id, why, now)
                self._give_up(notification, why)
                report.failed += 1
                then = message_for(notification.kind).after_refused
                if then is not None:
                    await then(
                        Refusal(session, notification, str(failure), now, self.settings.summary)
                    )
                return
            if notification.attempts >= MAX_ATTEMPTS or (
                failure.status is not None and failure.status not in RETRYABLE
            ):
                self._give_up(notification, f"{failure} after {notification.attempts} attempts")
                report.failed += 1
                return
            if failure.retry_after is not None:
                wait = timedelta(seconds=min(failure.retry_after, MAX_BACKOFF.total_seconds()))
            else:
                base = min(2**notification.attempts, MAX_BACKOFF.total_seconds())
                wait = timedelta(seconds=base * random.uniform(0.5, 1.0))
            notifications.postpone(notification, now + wait)
            report.retried += 1

    async def _targets(
        self, session: AsyncSession, rows: list[Notification], people: dict[int, Person]
    ) -> dict[int, tuple[ConversationReference, str | None]]:
        """Where each row goes: the person's stored personal chat, a team channel by id, or
        (for someone PerfBot has seen but never chatted with) a new 1:1 chat. Rows with
        nowhere to go are left out."""
        by_conversation: dict[str, ConversationRef] = {}
        named = {n.conversation_id for n in rows if n.conversation_id}
        if named:
            found = await session.scalars(
                select(ConversationRef).where(ConversationRef.conversation_id.in_(named))
            )
            by_conversation = {chat.conversation_id: chat for chat in found}
        by_person: dict[int, ConversationRef] = {}
        if people:
            found = await session.scalars(
                select(ConversationRef)
                .where(ConversationRef.person_id.in_(people), ConversationRef.scope == "personal")
                .order_by(ConversationRef.updated_at.desc())
            )
            for chat in found:
                by_person.setdefault(chat.person_id or 0, chat)  # the newest chat of each
        newest: ConversationRef | None = None
        looked = False
        targets: dict[int, tuple[ConversationReference, str | None]] = {}
        for notification in rows:
            person = people.get(notification.person_id or 0)
            ref: ConversationRef | None
            if notification.conversation_id:
                ref = by_conversation.get(notification.conversation_id)
            else:
                ref = by_person.get(person.id) if person is not None else None
            if ref is not None:
                targets[notification.id] = (_reference(ref.reference), ref.tenant_id)
                continue
            if person is None or not person.teams_user_id:
                continue
            # A 1:1 chat can be created for someone whose Teams id is known, in a tenant where
            # PerfBot already talks to someone (for the service URL).
            if not looked:
                newest = await session.scalar(
                    select(ConversationRef).order_by(ConversationRef.updated_at.desc()).limit(1)
                )
                looked = True
            if newest is None:
                continue
            targets[notification.id] = (
                ConversationReference(
                    service_url=newest.service_url,
                    channel_id="msteams",
                    bot=ChannelAccount(id=newest.bot_id),
                    user=ChannelAccount(id=person.teams_user_id),
                    conversation=None,
                ),
                newest.tenant_id,
            )
        return targets

    async def _send(
        self,
        reference: ConversationReference,
        tenant: str | None,
        person: Person | None,
        message: Activity,
        update_of: str | None = None,
    ) -> str:
        try:  # one stored before the edge checked it: never called, and the person is
            check_service_url(reference.service_url)  # reachable again once they write
        except EdgeRefusal:
            raise SendFailure(404, "ServiceUrlRefused: not an http(s) Bot Connector") from None
        sent: list[str] = []
        failed: list[BaseException] = []

        async def callback(turn_context: TurnContext) -> None:
            # An error raised in here would go to the adapter's on_turn_error, which is for
            # conversations (it apologises to the person); keep it and raise it out there.
            if update_of is not None and reference.conversation is not None:
                # In place of the card sent earlier; if Teams will not, a new card instead.
                message.id = update_of
                try:
                    await turn_context.update_activity(message)
                except Exception as error:
                    log.warning("could not update %s, sending it anew: %s", update_of, error)
                    message.id = None
                else:
                    sent.append(update_of)
                    return
            try:
                response = await turn_context.send_activity(message)
            except Exception as error:
                failed.append(error)
                return
            sent.append(response.id if response else "")

        def outcome() -> str:
            if failed:
                raise failed[0]
            if not sent:
                raise SendFailure(None, "no answer from the Bot Connector")
            return sent[0]

        if reference.conversation is not None:
            await self.adapter.continue_conversation(reference, callback, self.settings.app_id)
            return outcome()
        parameters = ConversationParameters(
            is_group=False,
            bot=reference.bot,
            members=[reference.user],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},  # CloudAdapter does not add it
        )

        async def created(turn_context: TurnContext) -> None:
            await self.references.remember_created(turn_context.activity, person)
            await callback(turn_context)

        await self.adapter.create_conversation(
            self.settings.app_id, created, parameters, "msteams", reference.service_url, None
        )
        return outcome()


async def _sent_activity(session: AsyncSession, notification: Notification) -> str | None:
    """The activity a message updates in place: that of the row its payload names by reason
    key (``updates``), if that row went to the same person and Teams gave it an id."""
    key = (notification.payload or {}).get("updates")
    if not isinstance(key, str) or not key:
        return None
    earlier = await session.scalar(select(Notification).where(Notification.reason_key == key))
    if (
        earlier is None
        or earlier.state is not NotificationState.SENT
        or not earlier.activity_id
        or earlier.person_id != notification.person_id
    ):
        return None
    return earlier.activity_id


def _reference(stored: dict[str, Any]) -> ConversationReference:
    return read_model(ConversationReference, stored)
