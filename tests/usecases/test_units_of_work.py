"""The unit of work, the outbox's one way to queue a message, and the one way to store a
conversation reference: commit on success, nothing on failure, a duplicate stored once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from domain import conversations
from domain.model import ConversationRef, Notification, Service
from domain.notifications import Kind, queue
from domain.outbox import Timetable
from domain.policy import Policy
from scheduler.jobs import JOBS, JobContext
from tests.conftest import NOW


async def services(uow) -> int:
    async with uow() as tx:
        return await tx.scalar(select(func.count()).select_from(Service)) or 0


async def test_a_use_case_that_raises_leaves_nothing_behind(uow):
    before = await services(uow)

    async def fails_after_writing() -> None:
        async with uow() as tx:
            tx.add(Service(name="Half-made service"))
            await tx.flush()
            raise RuntimeError("the use case failed after writing")

    with pytest.raises(RuntimeError):
        await fails_after_writing()
    assert await services(uow) == before
    async with uow() as tx:
        tx.add(Service(name="Whole service"))
    assert await services(uow) == before + 1


async def test_a_conflict_is_tried_again_in_a_fresh_transaction_then_given_up(uow):
    tries = []

    async def clash(tx):
        tries.append(1)
        tx.add(Service(name="Revenues and Benefits"))  # already in the sample council
        await tx.flush()

    with pytest.raises(IntegrityError):
        await uow.run(clash, attempts=3)
    assert len(tries) == 3


async def test_the_same_reason_queued_twice_is_one_message(uow):
    async with uow() as tx:
        first = await queue(tx, Kind.DELEGATED, "RB-01:x", payload={}, now=NOW, person_id=None)
        second = await queue(tx, Kind.DELEGATED, "RB-01:x", payload={}, now=NOW, person_id=None)
    assert (first, second) == ("delegated:RB-01:x", None)
    async with uow() as tx:
        assert await tx.scalar(select(func.count()).select_from(Notification)) == 1


async def test_a_conversation_is_stored_once_and_refreshed_when_teams_moves_it(uow):
    values = {"scope": "personal", "service_url": "http://one", "reference": {"a": 1}}
    async with uow() as tx:
        assert await conversations.store(tx, "a:chat", values, NOW)
    async with uow() as tx:
        assert not await conversations.store(tx, "a:chat", values, NOW)
    async with uow() as tx:
        await conversations.store(tx, "a:chat", {**values, "service_url": "http://two"}, NOW)
        await conversations.store(
            tx, "a:chat", {**values, "service_url": "http://three"}, NOW, refresh=False
        )
    async with uow() as tx:
        [stored] = list(await tx.scalars(select(ConversationRef)))
    assert stored.service_url == "http://two"
    async with uow() as tx:
        await conversations.forget(tx, "a:chat", NOW)
    async with uow() as tx:
        assert await tx.scalar(select(func.count()).select_from(ConversationRef)) == 0


async def test_a_job_from_the_table_queues_its_messages_once_however_often_it_runs(uow):
    context = JobContext(uow, Timetable(), Policy())
    chasers = JOBS["chasers"]
    first = await chasers.run(context, NOW)
    again = await chasers.run(context, NOW)
    assert first.queued
    assert all(key.startswith(("chaser:", "overdue:")) for key in first.queued)
    assert again.queued == []
