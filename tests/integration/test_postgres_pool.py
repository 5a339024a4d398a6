"""PostgreSQL's pooled connections: tested before use only after being idle, and a dead one
replaced without the request seeing it (domain/db.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import db
from tests.conftest import (
    POSTGRES_URL,
    _admin,
    drop_postgres_database,
    fresh_postgres_database,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, str]]:
    if not POSTGRES_URL:
        pytest.skip("PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped")
    url, name = await fresh_postgres_database()
    try:
        yield url, name
    finally:
        await drop_postgres_database(name)


async def _cut_off(name: str) -> int:
    """End every server connection to the database, as a restart or failover would."""
    admin = await _admin(POSTGRES_URL)
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        )
    finally:
        await admin.close()


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_cut_off_while_idle_is_replaced_before_the_next_request_uses_it(
    database: tuple[str, str],
) -> None:
    url, name = database
    engine = db.create_engine(url, ping_idle_after=0.2)
    try:
        first = await _backend(engine)
        assert await _cut_off(name) == 1
        await asyncio.sleep(0.3)  # idle past the threshold
        second = await _backend(engine)  # would fail: "connection was closed"
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_tested_and_a_cut_mid_burst_fails_only_its_request(
    database: tuple[str, str],
) -> None:
    url, name = database
    engine = db.create_engine(url)  # the server's own: tested after 10 s idle
    try:
        first = await _backend(engine)
        assert await _backend(engine) == first  # the same connection, again at once
        await _cut_off(name)
        with pytest.raises(DBAPIError):
            await _backend(engine)  # in steady use: not tested first, so this one request fails
        assert await _backend(engine) != first  # and the pool has a fresh connection for the next
    finally:
        await engine.dispose()
