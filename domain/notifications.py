"""The kinds of proactive message, and the one way to queue one: an outbox row whose reason
key is unique, inserted in the transaction of the change that causes it (DESIGN.md "How it
fits together"). Queueing the same reason twice, or from two servers, stores one row."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from domain.model import Notification, NotificationState


class Kind(enum.StrEnum):
    """What a queued message is for; its message is built by bot/delivery/messages.py."""

    REMINDER = "reminder"  # before the deadline, to the owner and delegates
    CHASER = "chaser"  # after the deadline
    OVERDUE = "overdue"  # badly overdue, to the escalation owner
    ESCALATION = "escalation"  # rated Action (or Red), to the escalation owner
    DELEGATED = "delegated"  # to someone just made a delegate (of one measure, or all)
    UNDELEGATED = "undelegated"  # to someone no longer a delegate
    # Cover (domain/cover.py): an owner away until a day.
    COVER = "cover"  # to each who covers: whose measures, which, and until when
    COVER_ENDED = "cover-ended"  # to each who covered: the owner is back, or chose others
    UNKNOWN_USER = "unknown-user"  # to the performance team: someone not in the staff list
    UNREACHABLE = "unreachable"  # to the performance team, daily: who PerfBot cannot reach
    REPLY = "reply"  # an answer Teams would not take during the turn, sent to its chat later
    # The escalation card's follow-ups (domain/escalations.py):
    ESCALATION_UPDATE = "escalation-update"  # the escalation card sent earlier, updated in place
    ESCALATION_REMINDER = "escalation-reminder"  # not acknowledged in time: once, to its owner
    QUESTION = "question"  # the escalation owner's question, to the measure's owner
    ANSWER = "answer"  # the owner's answer, to whoever asked
    RECOVERED = "recovered"  # a correction brought it back on track, to the escalation owner
    STOPPED = "stopped"  # the escalation owner stopped a key action, to its owner
    DEEP_DIVE = "deep-dive"  # a deep-dive candidate, to each of the Leadership Team
    DEEP_DIVE_DECIDED = "deep-dive-decided"  # to the owner, escalation owner and lead (or asker)
    # Sign-off (domain/signoff.py):
    REVIEW = "review"  # returns awaiting approval, one card per period, to a reviewer
    RETURNED = "returned"  # a return sent back with the reviewer's comment, to its owner
    RESUBMITTED = "resubmitted"  # sent again after a reviewer returned it, to that reviewer
    # The weekly summary's buttons (domain/summary.py):
    MEASURE_DETAIL = "measure-detail"  # a measure's history and commentary, to who asked
    # Open the board pressed in a channel (domain/report_links.py):
    REPORT_LINK = "report-link"  # a signed link to the board, to who pressed it, in person
    # The Leadership Team's weekly summary (domain/leadership.py):
    WEEKLY_SUMMARY = "weekly-summary"  # to the leadership channel, or each of them in person
    NO_CHANNEL = "no-channel"  # to each admin: no leadership channel is set, and how to set one


def insert_ignoring_duplicates(
    session: AsyncSession, model: Any, values: dict[str, Any] | None = None
) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING, which both databases speak: a duplicate is no error.
    Without ``values``, executed with a list of rows (one statement for many; with
    RETURNING, only the rows inserted come back)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model)
    if values is not None:
        statement = statement.values(**values)
    return statement.on_conflict_do_nothing()


async def queue(
    session: AsyncSession,
    kind: Kind,
    reason: str,
    *,
    payload: dict[str, Any],
    now: datetime,
    person_id: int | None = None,
    conversation_id: str | None = None,
    not_before: datetime | None = None,
) -> str | None:
    """Queue a message of ``kind`` for ``reason`` (the rest of its reason key), to a person or
    a conversation, to go at ``not_before`` (default now). Returns the reason key if the row
    is new, None if a message was queued for the same reason before."""
    key = f"{kind.value}:{reason}"
    inserted = await session.execute(
        insert_ignoring_duplicates(
            session,
            Notification,
            {
                "reason_key": key,
                "kind": kind.value,
                "person_id": person_id,
                "conversation_id": conversation_id,
                "payload": payload,
                "not_before": not_before or now,
                "state": NotificationState.PENDING.value,
                "attempts": 0,
                "created_at": now,
            },
        )
    )
    return key if cast(CursorResult[Any], inserted).rowcount else None


def postpone(notification: Notification, until: datetime) -> None:
    """Not now (quiet hours, or a retry after a wait): back in the outbox until then."""
    notification.not_before = until
    notification.claimed_until = None


def cancel(notification: Notification, why: str) -> None:
    """No longer to go (the return arrived, a snooze was set): kept, with why."""
    notification.state = NotificationState.CANCELLED
    notification.last_error = why
    notification.claimed_until = None


def give_up(notification: Notification, why: str) -> None:
    """It cannot be sent (the person cannot be reached, or every attempt failed): kept as
    failed, with why, so that it is reported, never silently lost."""
    notification.state = NotificationState.FAILED
    notification.last_error = why
    notification.claimed_until = None
