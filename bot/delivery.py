"""The dispatcher: sends the outbox's due rows proactively through the Bot Connector, within
Microsoft's rate limits, retrying what can be retried and giving up clearly on what cannot.

Teams facts (DESIGN.md): about 50 sends a second per tenant; per conversation 7 a second,
8 per 2 s, 60 per 30 s, 1,800 an hour. A 429 carries Retry-After; 412, 502, 503, 504 and
timeouts are worth retrying with backoff; a 403 (blocked, uninstalled, disabled) or a 404
ConversationNotFound is permanent: the person is marked unreachable and nobody retries.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.connector import read_model, write_model
from bot.settings import Settings
from cards import render as cards
from domain import outbox, returns
from domain.model import ConversationRef, Measure, Notification, NotificationState, Person
from domain.periods import Period
from domain.reporting import load_calendar
from domain.workdays import WorkingCalendar

log = logging.getLogger("perfbot.delivery")

RETRYABLE = {408, 412, 429, 500, 502, 503, 504}
PERMANENT = {403, 404}
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)
REFUSED = "Teams answered"


class RateLimiter:
    """Sliding windows per key: a send waits until every window for its keys has room."""

    def __init__(
        self,
        tenant: list[tuple[float, float]],
        conversation: list[tuple[float, float]],
        clock: Callable[[], float] = time.monotonic,
        margin: float = 1.03,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # A little slack on each window so jitter between here and Teams never adds up to
        # one send too many in Teams' own count.
        # A share of a limit (one of several dispatchers) is rounded down to whole sends.
        self.tenant = [(max(1, int(n)), p * margin) for n, p in tenant]
        self.conversation = [(max(1, int(n)), p * margin) for n, p in conversation]
        # Tenant sends are spaced evenly rather than let through in bursts: a burst leaves
        # here inside the window but can arrive bunched.
        self.gap = max((p / n for n, p in self.tenant), default=0.0)
        self._slot: dict[str, float] = {}  # each tenant's last timetabled send
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def _delay(self, key: str, windows: list[tuple[int, float]], now: float) -> float:
        sent = self._sent.setdefault(key, deque())
        longest = max((p for _, p in windows), default=0)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for limit, period in windows:
            first = bisect.bisect_right(sent, now - period)  # send times are in order
            if len(sent) - first >= limit:
                wait = max(wait, sent[len(sent) - limit] + period - now)
        return wait

    async def acquire(self, tenant: str, conversation: str) -> None:
        while True:
            now = self.clock()
            slot = self._slot.get(tenant)
            wait = max(
                slot + self.gap - now if slot is not None else 0.0,
                self._delay(f"tenant:{tenant}", self.tenant, now),
                self._delay(f"conversation:{conversation}", self.conversation, now),
            )
            if wait <= 0:
                self._sent[f"tenant:{tenant}"].append(now)
                self._sent[f"conversation:{conversation}"].append(now)
                # The even spacing keeps to its timetable: a wake-up a little late is not
                # carried into the next gap (it would add up to a few percent of the rate);
                # after a pause longer than a gap the timetable starts again from now.
                due = slot + self.gap if slot is not None else now
                self._slot[tenant] = due if now - due < self.gap else now
                return
            await self.sleep(wait)


@dataclass(frozen=True)
class SendFailure(Exception):
    status: int | None
    code: str
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        return self.status in PERMANENT

    def __str__(self) -> str:
        return f"{self.status or 'no answer'} {self.code}".strip()


def classify(error: BaseException) -> SendFailure:
    """What a failed send means, from botbuilder's exception (which carries the HTTP response)."""
    if isinstance(error, SendFailure):
        return error
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return SendFailure(None, "timeout")
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    if status is None:
        return SendFailure(None, type(error).__name__)
    headers = getattr(response, "headers", {}) or {}
    retry_after = None
    try:
        retry_after = float(headers.get("Retry-After")) if headers.get("Retry-After") else None
    except ValueError:
        retry_after = None
    code = ""
    inner = getattr(getattr(error, "error", None), "error", None)
    if inner is not None and getattr(inner, "code", None):
        code = str(inner.code)
    else:
        try:
            body = response.json()
            code = str((body.get("error") or {}).get("code") or body.get("message") or "")[:120]
        except Exception:  # a body that is not JSON says nothing more
            code = ""
    return SendFailure(int(status), code, retry_after)


# Kinds whose sending depends on data that can change while they wait (a return submitted,
# a snooze set), so they are checked against the database again just before each goes.
CHECKED_AT_SEND = frozenset({"reminder", "chaser", "overdue"})


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
        self._writer: asyncio.Task[None] | None = None

    async def mark(self, row: dict[str, Any]) -> None:
        done = asyncio.get_running_loop().create_future()
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
            except Exception as error:
                for _, done in group:
                    if not done.done():
                        done.set_exception(error)
            except BaseException:  # cancelled (shutting down): nobody is left to write
                for _, done in group + self._waiting:
                    done.cancel()
                self._waiting = []
                raise
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)


@dataclass
class _Job:
    """A claimed row, with what sending it needs, read for the whole batch at once."""

    id: int
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
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.adapter = adapter
        self.clock = clock
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
        async with self.sessions() as session:
            ids = await outbox.claim(session, now, self.worker, self.batch, self.lease, self.shard)
            if not ids:
                return report
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
            async with self.sessions() as session:
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
                notification.not_before = allowed
                notification.claimed_until = None
            await session.commit()
            report.postponed += len(rows)
            return []
        wanted = {n.person_id for n in rows if n.person_id is not None}
        people = {
            p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(wanted)))
        }
        targets = await self._targets(session, rows, people)
        await session.commit()
        return [
            _Job(n.id, n.kind, n.payload or {}, people.get(n.person_id or 0), targets.get(n.id))
            for n in rows
        ]

    async def _deliver(
        self, job: _Job, report: DeliveryReport, calendar: WorkingCalendar, renew_after: datetime
    ) -> None:
        now = self.clock()
        if now >= renew_after:
            async with self.sessions() as session:
                if not await outbox.renew(session, job.id, self.worker, now, self.lease):
                    return  # sent, cancelled, or taken by another dispatcher after our lease ran out
        person, target = job.person, job.target
        if (
            self.settings.send_window.next_allowed(now, calendar) > now
            or job.kind in CHECKED_AT_SEND
            or target is None
            or target[0].conversation is None  # a chat opened for an earlier row may serve
            or (person is not None and (person.unreachable_reason or person.id in self._refused))
        ):
            checked = await self._checked(job, report, calendar, now)
            if checked is None:
                return
            message, (reference, tenant) = checked
        else:  # a notice to a known chat: nothing it depends on can have changed meanwhile
            message = _notice_activity(job.kind, job.payload, person)
            reference, tenant = target
        try:
            await self.limiter.acquire(
                tenant or "-", reference.conversation.id if reference.conversation else "-"
            )
            activity_id = await asyncio.wait_for(
                self._send(reference, tenant, person, message), self.send_timeout
            )
        except Exception as error:
            failure = classify(error)
            await self._failed_send(job.id, failure, report)
            if failure.permanent and person is not None:
                self._refused.add(person.id)
            return
        await self._marks.mark({"row": job.id, "activity": activity_id, "at": self.clock()})
        report.sent += 1

    async def _checked(
        self, job: _Job, report: DeliveryReport, calendar: WorkingCalendar, now: datetime
    ) -> tuple[Activity, tuple[ConversationReference, str | None]] | None:
        """The message and where it goes, with everything that can stop a row checked again
        at send time from the database afresh: quiet hours, a return submitted or snoozed
        since the row was queued, a person found unreachable; None when it is not to go."""
        async with self.sessions() as session:
            notification = await session.get(Notification, job.id)
            if notification is None or notification.state is not NotificationState.PENDING:
                return None
            allowed = self.settings.send_window.next_allowed(now, calendar)
            if allowed > now:
                await self._release(session, notification, allowed)
                report.postponed += 1
                return None
            why_not = await outbox.still_wanted(session, notification, returns.today_in_london(now))
            if why_not:
                notification.state = NotificationState.CANCELLED
                notification.last_error = why_not
                notification.claimed_until = None
                await session.commit()
                report.cancelled += 1
                return None
            person = (
                await session.get(Person, notification.person_id)
                if notification.person_id
                else None
            )
            if person is not None and person.unreachable_reason:
                await self._fail(session, notification, f"unreachable: {person.unreachable_reason}")
                report.failed += 1
                return None
            target = (
                await self._targets(session, [notification], {person.id: person} if person else {})
            ).get(notification.id)
            if target is None:
                reason = "PerfBot has not been installed for them in Teams"
                if person is not None:
                    person.unreachable_reason = reason
                    person.unreachable_since = now
                await self._fail(session, notification, reason)
                report.failed += 1
                return None
            message = await self._message(session, notification, person, now, calendar)
            await session.commit()  # no transaction held over the network
        return message, target

    async def _release(
        self, session: AsyncSession, notification: Notification, at: datetime
    ) -> None:
        notification.not_before = at
        notification.claimed_until = None
        await session.commit()

    async def _fail(self, session: AsyncSession, notification: Notification, reason: str) -> None:
        notification.state = NotificationState.FAILED
        notification.last_error = reason
        notification.claimed_until = None
        await session.commit()
        log.warning("gave up on %s: %s", notification.reason_key, reason)

    async def _failed_send(
        self, notification_id: int, failure: SendFailure, report: DeliveryReport
    ) -> None:
        now = self.clock()
        async with self.sessions() as session:
            notification = await session.get(Notification, notification_id)
            assert notification is not None
            notification.attempts += 1
            notification.last_error = str(failure)
            report.errors.append(str(failure))
            if failure.permanent:
                person = (
                    await session.get(Person, notification.person_id)
                    if notification.person_id
                    else None
                )
                if person is not None:
                    person.unreachable_reason = f"{REFUSED} {failure}"
                    person.unreachable_since = now
                await self._fail(session, notification, f"{REFUSED} {failure}")
                report.failed += 1
                return
            if notification.attempts >= MAX_ATTEMPTS or (
                failure.status is not None and failure.status not in RETRYABLE
            ):
                await self._fail(
                    session, notification, f"{failure} after {notification.attempts} attempts"
                )
                report.failed += 1
                return
            if failure.retry_after is not None:
                wait = timedelta(seconds=min(failure.retry_after, MAX_BACKOFF.total_seconds()))
            else:
                base = min(2**notification.attempts, MAX_BACKOFF.total_seconds())
                wait = timedelta(seconds=base * random.uniform(0.5, 1.0))
            await self._release(session, notification, now + wait)
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
            by_conversation = {ref.conversation_id: ref for ref in found}
        by_person: dict[int, ConversationRef] = {}
        if people:
            found = await session.scalars(
                select(ConversationRef)
                .where(ConversationRef.person_id.in_(people), ConversationRef.scope == "personal")
                .order_by(ConversationRef.updated_at.desc())
            )
            for ref in found:
                by_person.setdefault(ref.person_id or 0, ref)  # the newest chat of each
        newest: ConversationRef | None = None
        looked = False
        targets: dict[int, tuple[ConversationReference, str | None]] = {}
        for notification in rows:
            person = people.get(notification.person_id or 0)
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
    ) -> str:
        sent: list[str] = []
        failed: list[BaseException] = []

        async def callback(turn_context: TurnContext) -> None:
            # An error raised in here would go to the adapter's on_turn_error, which is for
            # conversations (it apologises to the person); keep it and raise it out there.
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
            await self._remember_created(turn_context, person)
            await callback(turn_context)

        await self.adapter.create_conversation(
            self.settings.app_id, created, parameters, "msteams", reference.service_url, None
        )
        return outcome()

    async def _remember_created(self, turn_context: TurnContext, person: Person | None) -> None:
        reference = TurnContext.get_conversation_reference(turn_context.activity)
        reference.activity_id = None
        async with self.sessions() as session:
            known = await session.scalar(
                select(ConversationRef.id).where(
                    ConversationRef.conversation_id == turn_context.activity.conversation.id
                )
            )
            if known is not None:  # Teams gives back the existing 1:1 chat
                return
            session.add(
                ConversationRef(
                    conversation_id=turn_context.activity.conversation.id,
                    scope="personal",
                    person_id=person.id if person else None,
                    tenant_id=(turn_context.activity.conversation.tenant_id or None),
                    user_id=person.teams_user_id if person else None,
                    service_url=turn_context.activity.service_url,
                    bot_id=turn_context.activity.recipient.id
                    if turn_context.activity.recipient
                    else None,
                    reference=write_model(reference),
                    updated_at=self.clock(),
                )
            )
            try:
                await session.commit()
            except IntegrityError:  # another send opened it a moment ago
                await session.rollback()

    async def _message(
        self,
        session: AsyncSession,
        notification: Notification,
        person: Person | None,
        now: datetime,
        calendar: WorkingCalendar,
    ) -> Activity:
        """The message for a row, rendered fresh at send time from the current data (the
        working calendar is the batch's, read once)."""
        payload = notification.payload or {}
        kind = notification.kind
        if kind in ("reminder", "chaser") and payload.get("code"):
            measure = await session.scalar(select(Measure).where(Measure.code == payload["code"]))
            assert measure is not None  # still_wanted checked it
            period = Period.parse(payload["period"])
            item = await returns.open_return(
                session,
                measure,
                returns.today_in_london(now),
                self.settings.default_scheme,
                calendar,
                period,
            )
            due = f"{item.deadline:%A} {item.deadline.day} {item.deadline:%B}"
            if kind == "reminder":
                text = (
                    f"Reminder: {measure.code} {measure.title} for {period.label} is due "
                    f"{'today' if payload.get('step') == 'T' else 'on ' + due}. The card below takes the figure."
                )
            else:
                text = (
                    f"{measure.code} {measure.title} for {period.label} was due on {due} and hasn't "
                    "arrived yet. Please send it today, or choose Not available yet and say why."
                )
            activity = MessageFactory.attachment(
                cards.attachment(cards.return_card(item, returns.today_in_london(now)))
            )
            activity.text = text
            activity.summary = text
            return activity
        return _notice_activity(kind, payload, person)


def _reference(stored: dict[str, Any]) -> ConversationReference:
    return read_model(ConversationReference, stored)


def _notice_activity(kind: str, payload: dict[str, Any], person: Person | None) -> Activity:
    title, body = _notice(kind, payload, person)
    activity = MessageFactory.attachment(
        cards.attachment(cards.notice_card(title, body, warning=kind != "delegated"))
    )
    activity.summary = title
    return activity


def _notice(kind: str, payload: dict[str, Any], person: Person | None) -> tuple[str, str]:
    code, period = payload.get("code", ""), payload.get("period", "")
    if kind == "overdue":
        return (
            f"Overdue: {code} for {period}",
            f"The return for {code} ({period}) was due on {payload.get('deadline', '')} and has not "
            "been received after two chasers. Please follow it up with the measure's owner.",
        )
    if kind == "escalation":
        return (
            f"Escalation: {code} for {period} is rated {payload.get('rating', '')}",
            f"{payload.get('explanation', '')} The owner's commentary and action are in PerfBot; "
            "please agree the remedial action with them.",
        )
    if kind == "delegated":
        return (
            f"You can now send {code}'s returns",
            f"{payload.get('by', 'The owner')} has made you a delegate for {code}. You'll get its "
            f"reminders too; type submit {code} when the figure is ready.",
        )
    if kind == "unknown-user":
        return (
            "Someone not in the staff list tried PerfBot",
            f"{payload.get('name') or 'Someone'} {('(' + payload['email'] + ') ') if payload.get('email') else ''}"
            "messaged PerfBot but is not in the people sheet. Add them if they should report.",
        )
    return ("PerfBot", str(payload.get("text", "")))
