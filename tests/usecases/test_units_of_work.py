"""The unit of work, the outbox's one way to queue a message, and the one way to store a
conversation reference: commit on success, nothing on failure, a duplicate stored once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from domain import conversations, db
from domain import uow as unit_of_work
from domain.model import ConversationRef, Notification, Service
from domain.notifications import Kind, queue
from domain.outbox import Timetable
from domain.policy import Policy
from domain.uow import UnitOfWork
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


async def test_a_read_goes_ahead_while_a_writer_is_mid_transaction_and_sees_what_is_committed(
    uow,
):
    """Who sent a message is read with ``uow.read``: it does not wait for a writer's
    transaction to end (on SQLite, the process's writers take turns), sees only what is
    committed, and refuses a change (on PostgreSQL it runs in autocommit, where a change
    would be kept at once)."""
    before = await services(uow)
    writing, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with uow() as tx:
            tx.add(Service(name="Being written"))
            await tx.flush()
            writing.set()
            await done.wait()

    task = asyncio.create_task(writer())
    await writing.wait()
    counted = await asyncio.wait_for(
        uow.read(lambda tx: tx.scalar(select(func.count()).select_from(Service))), 2
    )
    assert counted == before  # not the writer's uncommitted row, and not after waiting for it
    done.set()
    await task
    assert await services(uow) == before + 1

    async def adds(tx) -> None:
        tx.add(Service(name="Never kept"))
        await tx.flush()

    with pytest.raises(unit_of_work.ReadOnly):
        await uow.read(adds)
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


async def test_fifty_writers_at_once_never_wait_in_sqlites_busy_handler(council_engine):
    """As fifty submissions at once, each writing and then waiting a moment before its
    commit. On SQLite the process's transactions take turns, so none meets another's write
    lock: with SQLite's busy timeout cut to 50 ms (it is 30 s), every one still commits,
    where without turns most would be told the database is locked."""
    sqlite = council_engine.dialect.name == "sqlite"
    engine = (
        db.create_engine(council_engine.url, connect_args={"timeout": 0.05})
        if sqlite
        else council_engine
    )
    uow = UnitOfWork(db.session_factory(engine))
    before = await services(uow)

    async def writes(n: int) -> None:
        async def work(tx) -> None:
            tx.add(Service(name=f"Concurrent service {n}"))
            await tx.flush()
            await asyncio.sleep(0.01)  # others run meanwhile, as at 50 concurrent

        await uow.run(work)

    try:
        await asyncio.gather(*(writes(n) for n in range(50)))
        assert await services(uow) == before + 50
    finally:
        if sqlite:
            await engine.dispose()


async def test_a_transaction_inside_another_of_the_same_task_does_not_wait_for_it(uow, monkeypatch):
    monkeypatch.setattr(unit_of_work, "TURN_WAIT", 60.0)
    async with asyncio.timeout(10), uow() as outer:
        outer.add(Service(name="Outer service"))
        await outer.flush()
        async with uow() as inner:  # reads only: SQLite lets it beside the outer's write
            assert await inner.scalar(select(func.count()).select_from(Service)) is not None
    assert await services(uow) >= 1


async def test_a_transaction_waiting_on_another_tasks_goes_ahead_after_a_while(uow, monkeypatch):
    """A use case that awaits another task's transaction inside its own is not stuck for
    ever: after TURN_WAIT the other goes ahead (SQLite's busy handler orders them)."""
    monkeypatch.setattr(unit_of_work, "TURN_WAIT", 0.2)

    async def count() -> int:
        return await uow.run(lambda tx: tx.scalar(select(func.count()).select_from(Service)))

    async with asyncio.timeout(10), uow() as tx:
        seen = await asyncio.create_task(count())
        assert seen == await tx.scalar(select(func.count()).select_from(Service))


async def test_a_connection_given_back_with_its_transaction_open_is_rolled_back(council_engine):
    """SQLite's connections go back to the pool with no rollback after a commit (it would
    do nothing); one given back with a write still open is rolled back all the same, so the
    write is not kept and the next transaction is not blocked by it."""
    uow = UnitOfWork(db.session_factory(council_engine))
    before = await services(uow)

    def write_behind_sqlalchemys_back(sync_connection) -> None:
        cursor = sync_connection.connection.dbapi_connection.cursor()
        cursor.execute("INSERT INTO services (name) VALUES ('Never committed')")
        cursor.close()

    async with council_engine.connect() as connection:  # written, never committed
        await connection.run_sync(write_behind_sqlalchemys_back)
    async with asyncio.timeout(10):
        assert await services(uow) == before
        async with uow() as tx:
            tx.add(Service(name="Committed"))
        assert await services(uow) == before + 1
