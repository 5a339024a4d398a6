"""The SQLite engine PerfBot makes reads and writes as SQLAlchemy's own aiosqlite adapter
does, in one trip to aiosqlite's thread a statement instead of four (domain/sqlite_driver.py):
the rows, counts, new ids, errors and transactions a use case sees are the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import db, sqlite_driver

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, unique=True, nullable=False),
)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_the_sqlite_engine_uses_one_trip_cursors(sqlite):
    """If a new aiosqlite or SQLAlchemy no longer has what the one-trip cursor reads, the
    engine falls back to SQLAlchemy's adapter (correct, four times the trips): this says so."""
    assert sqlite_driver.module() is not None
    async with sqlite.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection.cursor(), sqlite_driver.OneTripCursor)


async def test_a_statement_is_one_trip_to_aiosqlites_thread(sqlite):
    async with sqlite.begin() as connection:
        aiosqlite_connection = (await connection.get_raw_connection()).driver_connection
        queue = aiosqlite_connection._tx  # what its thread takes calls from
        counting = _Counting(queue)
        aiosqlite_connection._tx = counting
        try:
            await connection.execute(insert(things).values(name="a"))
            assert counting.calls == 1
            await connection.execute(select(things.c.name))
            assert counting.calls == 2
        finally:
            aiosqlite_connection._tx = queue


class _Counting:
    """aiosqlite's queue of calls for its thread, counting what is put on it."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.calls = 0

    def put_nowait(self, item: Any) -> None:
        self.calls += 1
        self.queue.put_nowait(item)


async def test_rows_counts_ids_and_returning_read_as_sqlalchemy_reads_them(sqlite):
    async with sqlite.begin() as connection:
        first = await connection.execute(insert(things).values(name="first"))
        assert first.inserted_primary_key == (1,)  # from the cursor's lastrowid
        await connection.execute(insert(things), [{"name": f"n{i}"} for i in range(5)])  # many
        returned = await connection.execute(
            insert(things).values(name="last").returning(things.c.id, things.c.name)
        )
        assert returned.all() == [(7, "last")]
        changed = await connection.execute(
            update(things).where(things.c.name.like("n%")).values(name=things.c.name + "!")
        )
        assert changed.rowcount == 5
        result = await connection.execute(select(things.c.id, things.c.name).order_by(things.c.id))
        assert result.keys() == ["id", "name"]  # the cursor's description
        assert result.fetchone() == (1, "first")
        assert result.fetchmany(2) == [(2, "n0!"), (3, "n1!")]
        assert [tuple(row) for row in result] == [(4, "n2!"), (5, "n3!"), (6, "n4!"), (7, "last")]
        assert (await connection.execute(select(things).where(things.c.id == 99))).all() == []


async def test_a_failed_statement_raises_sqlalchemys_error_and_its_transaction_keeps_nothing(
    sqlite,
):
    async with sqlite.begin() as connection:
        await connection.execute(insert(things).values(name="kept"))

    async def clash() -> None:
        async with sqlite.begin() as connection:
            await connection.execute(insert(things).values(name="not kept"))
            await connection.execute(insert(things).values(name="kept"))

    with pytest.raises(IntegrityError, match="UNIQUE"):
        await clash()
    async with sqlite.connect() as connection:
        assert (await connection.execute(select(things.c.name))).scalars().all() == ["kept"]


async def test_results_streamed_a_batch_at_a_time_still_come_whole(sqlite):
    async with sqlite.begin() as connection:
        await connection.execute(insert(things), [{"name": f"s{i:03d}"} for i in range(250)])
    async with sqlite.connect() as connection:
        streamed = await connection.stream(select(things.c.name).order_by(things.c.name))
        names = [name async for name in streamed.scalars()]
    assert names == [f"s{i:03d}" for i in range(250)]
