"""The unit of work: each use case runs in one transaction of its own, committed when it
returns and rolled back when it raises (cosmicpython's unit of work). Callers outside
``domain/`` never commit or roll back themselves.

On SQLite the transactions of one process take turns (``TurnTaking``): a SQLite file has one
writer, and a transaction that finds the write lock taken waits in SQLite's busy handler,
which sleeps in steps of up to 100 ms however soon the lock is free. At 50 submissions at
once that wait, not the work, was most of a submission's time (issue 19). Taking turns in
the process instead, each transaction starts the moment the one before it ends. Other
processes (the CLI, dispatcher shards) still meet at SQLite's lock, as before."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

T = TypeVar("T")

# How long a transaction waits for its turn before it goes ahead anyway and leaves the
# ordering to SQLite's busy handler (as without turns): so that no transaction can wait
# for ever on one that waits on it (a use case awaiting another task's transaction).
TURN_WAIT = 5.0


class _Turns:
    """One event loop's turn-taking on one SQLite database."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None


class TurnTaking:
    """The transactions of this process on one SQLite database, one at a time. A transaction
    begun inside another by the same task (a use case reading in a second session) does not
    wait for itself."""

    def __init__(self) -> None:
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = _Turns()
        task = asyncio.current_task()
        if turns.holder is not None and turns.holder is task:
            yield  # nested in this task's own turn
            return
        try:
            async with asyncio.timeout(TURN_WAIT):
                await turns.lock.acquire()
        except TimeoutError:
            waited_too_long = True
        else:
            waited_too_long = False
        if waited_too_long:
            yield  # SQLite's busy handler orders it, as without turns
            return
        turns.holder = task
        try:
            yield
        finally:
            turns.holder = None
            turns.lock.release()


_TURN_TAKING: weakref.WeakKeyDictionary[Any, TurnTaking] = weakref.WeakKeyDictionary()


def turn_taking(sessions: async_sessionmaker[AsyncSession]) -> TurnTaking | None:
    """The turn-taking of the SQLite database these sessions are bound to (one for every
    UnitOfWork on the same engine); None on PostgreSQL, whose rows lock one by one."""
    bind = sessions.kw.get("bind")
    sync_engine = getattr(bind, "sync_engine", None)
    if sync_engine is None or sync_engine.dialect.name != "sqlite":
        return None
    found = _TURN_TAKING.get(sync_engine)
    if found is None:
        found = _TURN_TAKING[sync_engine] = TurnTaking()
    return found


class ReadOnly(RuntimeError):
    """A write was tried in ``UnitOfWork.read`` (a bug: writes go through ``run``)."""


class _ReadSession(Session):
    """A session that refuses to flush a change: ``UnitOfWork.read`` keeps nothing."""

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise ReadOnly("UnitOfWork.read is for reads; a change goes through UnitOfWork.run")
        super().flush(objects)


def _read_sessions(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for ``UnitOfWork.read``, on the same pool, refusing changes; on PostgreSQL in
    autocommit (no transaction is begun); on SQLite as they are, since pysqlite begins a
    transaction only at the first write."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(bind, expire_on_commit=False, sync_session_class=_ReadSession)


class UnitOfWork:
    """``async with uow() as tx:`` gives a session inside a transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._turns = turn_taking(sessions)
        self._reads: async_sessionmaker[AsyncSession] | None = None  # made at the first read

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        if self._turns is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._turns.turn(), self.sessions() as session, session.begin():
            yield session

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work`` that only reads, outside any transaction: each statement sees what is
        committed as it runs, and nothing it does is kept (the session is closed, not
        committed; a change to an ORM object in it is refused, ReadOnly). On SQLite it does not wait for the writers' turns (a WAL file's readers
        never wait for its writer); on PostgreSQL its statements run without BEGIN and
        COMMIT, two round trips fewer. For a single read, such as who sent a message."""
        if self._reads is None:
            self._reads = _read_sessions(self.sessions)
        async with self._reads() as session:
            return await work(session)

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]], attempts: int = 1) -> T:
        """``work`` in a transaction of its own. A unique-constraint conflict with a writer
        that committed first (IntegrityError) is tried again in a fresh transaction, up to
        ``attempts`` times in all, where the use case knows a second look resolves it."""
        for attempt in range(1, attempts + 1):
            try:
                async with self() as session:
                    return await work(session)
            except IntegrityError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable: attempts must be 1 or more")
