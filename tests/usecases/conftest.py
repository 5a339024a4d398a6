"""The use-case tier: PerfBot's use cases run against a real database holding the sample
council (a SQLite file, and PostgreSQL when PERFBOT_TEST_POSTGRES_URL is set), each in the
unit of work the Teams layer and the jobs use; no botbuilder, no web server."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import db
from domain.model import Person
from domain.uow import UnitOfWork


@pytest.fixture
def uow(council_engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(db.session_factory(council_engine))


@pytest.fixture
def person(uow: UnitOfWork):
    async def find(email: str) -> Person:
        async with uow() as tx:
            found = await tx.scalar(select(Person).where(Person.email == email))
        assert found is not None, email
        return found

    return find
