"""SQLite through aiosqlite, one trip to its thread a statement.

aiosqlite runs each SQLite connection in a thread of its own, and every call made to it from
the event loop is a round trip: handed to the thread, answered through the loop's self-pipe.
SQLAlchemy's adapter makes four a statement (open a cursor, execute, fetch, close), and on
this project's machines a trip costs about 100 µs of CPU, waking both threads: 0.49 ms a
statement against SQLite's own 0.03 ms, and 0.2 ms in one trip (issue 19; `python bench/submit.py` shows it whole).
This cursor does the four on the thread in one trip, and keeps the rows, the description,
the row count and the last row id as SQLAlchemy's own cursor keeps them after its fetch.

It is passed to SQLAlchemy as the engine's DBAPI module (``create_async_engine(module=...)``,
a documented argument); nothing else changes: the same aiosqlite connection and thread, the
same transactions, errors raised and translated as before. Server-side cursors (results
streamed a batch at a time) stay SQLAlchemy's own. It reads two members aiosqlite keeps for
its own use, ``_execute`` (queue a call on the connection's thread) and ``_conn`` (the
sqlite3 connection), as SQLAlchemy's adapter itself reads ``_tx`` and ``_conn``; where an
aiosqlite lacks them, ``module()`` gives None and the engine uses SQLAlchemy's adapter as it
is (tests/integration/test_sqlite_driver.py fails then, so that it is noticed)."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_only


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None]:
    """On aiosqlite's thread: the statement executed and read whole, its cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """A DBAPI cursor over an aiosqlite connection whose every statement is one trip to the
    connection's thread; its rows are read there whole, as SQLAlchemy's buffered cursor
    reads them."""

    server_side = False
    __slots__ = (
        "_adapt_connection",
        "_connection",
        "_rows",
        "arraysize",
        "description",
        "lastrowid",
        "rowcount",
    )

    def __init__(self, adapt_connection: OneTripConnection) -> None:
        self._adapt_connection = adapt_connection
        self._connection: Any = adapt_connection._connection  # an aiosqlite.Connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            description, rows, rowcount, lastrowid = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self.description, self.rowcount, self.lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        try:
            await_only(self._trip(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        try:
            await_only(self._trip(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio results call this to close the cursor early: it was closed on
        the thread already, and what it read stays readable."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    def __enter__(self) -> OneTripCursor:
        return self

    def __exit__(self, *exc_details: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection, with one-trip cursors."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            return super().cursor(server_side=True)
        return OneTripCursor(self)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI module, connecting with one-trip cursors."""

    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        stock = super().connect(*args, **kwargs)
        return OneTripConnection(self, stock._connection)


def module() -> OneTripDBAPI | None:
    """The DBAPI module for ``create_async_engine(module=...)``, or None where this aiosqlite
    does not have what the one-trip cursor reads."""
    if not (hasattr(aiosqlite.Connection, "_execute") and hasattr(aiosqlite.Connection, "_conn")):
        return None
    return OneTripDBAPI(aiosqlite, sqlite3)
