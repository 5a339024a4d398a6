"""Shared fixtures: a real database for each test, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import db
from domain.importing import import_workbook
from domain.workbook import read_sheets

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample" / "council"
POSTGRES_URL = os.environ.get("PERFBOT_TEST_POSTGRES_URL", "")

# Monday 23 November 2026, 10:00 in London: monthly October returns (2026/27 M7) were due on
# Friday 20 November; quarterly Q2 returns are in.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _admin(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )


async def fresh_postgres_database(template: str | None = None) -> tuple[str, str]:
    """Create a database beside the one in PERFBOT_TEST_POSTGRES_URL, empty or a copy of the
    template database named; its URL and name."""
    name = f"perfbot_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    connection = await _admin(POSTGRES_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await connection.close()
    url = make_url(db.database_url(POSTGRES_URL)).set(database=name)
    return url.render_as_string(hide_password=False), name


async def drop_postgres_database(name: str) -> None:
    connection = await _admin(POSTGRES_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test's captured output as pytest-xdist can send it: the hostile-input tests log
    what they were sent, which may hold a lone surrogate (U+DFFF), and a report holding one
    cannot be encoded as UTF-8, so the worker would die and the test's result be lost from
    the count without a failure (tests/test_suite_reports.py). Escaped, as stderr shows it."""
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        for title, text in report.sections
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'perfbot.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped")
    url, name = await fresh_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database at the current schema, on both backends."""
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.session_factory(engine)


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A copy of the sample council's CSV folder that a test may edit."""
    target = tmp_path / "council"
    shutil.copytree(SAMPLE, target)
    return target


async def _load_sample(url: str) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        await import_workbook(session, read_sheets(SAMPLE), now=NOW)
    await engine.dispose()


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample council in a SQLite file, made once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "perfbot.db"
    asyncio.run(_load_sample(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_sample_template() -> Iterator[str | None]:
    """The sample council in a PostgreSQL database, made once (in each pytest-xdist worker) and
    copied for each test with CREATE DATABASE ... TEMPLATE: its name (None without
    PERFBOT_TEST_POSTGRES_URL). Nothing connects to it after it is made, as PostgreSQL requires
    of a template."""
    if not POSTGRES_URL:
        yield None
        return
    url, name = asyncio.run(fresh_postgres_database())
    try:
        asyncio.run(_load_sample(url))
        yield name
    finally:
        asyncio.run(drop_postgres_database(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def council_engine(
    request: pytest.FixtureRequest,
    sample_template: Path,
    postgres_sample_template: str | None,
    tmp_path: Path,
) -> AsyncIterator[AsyncEngine]:
    """The sample council as of NOW, in a database of the test's own: a copy of the template."""
    if request.param == "sqlite":
        shutil.copy(sample_template, tmp_path / "perfbot.db")
        engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'perfbot.db'}")
        yield engine
        await engine.dispose()
        return
    if postgres_sample_template is None:
        pytest.skip("PERFBOT_TEST_POSTGRES_URL is not set, so the PostgreSQL variant is skipped")
    url, name = await fresh_postgres_database(postgres_sample_template)
    engine = db.create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_postgres_database(name)
