"""The unit of work: each use case runs in one transaction of its own, committed when it
returns and rolled back when it raises (cosmicpython's unit of work). Callers outside
``domain/`` never commit or roll back themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class UnitOfWork:
    """``async with uow() as tx:`` gives a session inside a transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

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
