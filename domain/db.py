"""Database connection: the URL rules, the async engine, sessions and schema migrations."""

from __future__ import annotations

import ast
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from domain import sqlite_driver

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///perfbot.db"
MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUrlError(ValueError):
    """A database URL PerfBot cannot use."""


def database_url(text: str) -> URL:
    """Check a database URL and pick the async driver: ``sqlite:///perfbot.db`` and
    ``postgresql://user@host/db`` are accepted as well as their ``+aiosqlite`` and
    ``+asyncpg`` forms."""
    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise DatabaseUrlError(
            f"'{text}' is not a database URL: use sqlite:///perfbot.db or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
        if not url.database:
            raise DatabaseUrlError(
                f"'{url.render_as_string(hide_password=True)}' names no database: "
                "add it at the end, as in postgresql://user@host:5432/perfbot"
            )
    else:
        raise DatabaseUrlError(
            f"the database '{backend}' is not supported: use sqlite:///perfbot.db or "
            "postgresql://user@host:5432/dbname"
        )
    return url


def describe(url: URL) -> str:
    """The URL as it is safe to print: no password."""
    return url.render_as_string(hide_password=True)


def create_engine(url: URL | str, **kwargs: Any) -> AsyncEngine:
    url = database_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        # Writers wait for each other rather than fail at once; a SQLite file has one writer.
        kwargs.setdefault("connect_args", {"timeout": 30})
        # A connection going back to the pool is rolled back only if a transaction is open
        # (_sqlite_reset): after a commit the rollback would do nothing but still cost a
        # round trip to aiosqlite's thread, once a transaction.
        kwargs.setdefault("pool_reset_on_return", None)
        # One trip to aiosqlite's thread a statement, not four (domain/sqlite_driver.py).
        one_trip = sqlite_driver.module()
        if one_trip is not None:
            kwargs.setdefault("module", one_trip)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if kwargs["pool_reset_on_return"] is None:
            event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    # A pooled connection is tested before use only after it has been idle a while
    # (_ping_if_idle): SQLAlchemy's pool_pre_ping tests it at every checkout, which on
    # asyncpg is three round trips (BEGIN, a ping, ROLLBACK), twice a submission.
    ping_after = kwargs.pop("ping_idle_after", PING_IDLE_AFTER)
    # Room for a server's 50 turns at once (SQLAlchemy's default is 5, and 10 more): a turn
    # holds a connection only while its transaction runs, so 30 leave none waiting for one,
    # and a server, its dispatchers and the CLI stay well inside PostgreSQL's 100.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_if_idle(engine, ping_after)
    return engine


# A connection idle this long (seconds) is tested before it is used again: long enough that
# a busy server never pings, short enough that one left over a database restart, a
# failover or a firewall's idle cut is replaced before a request meets it.
PING_IDLE_AFTER = 10.0


def _ping_if_idle(engine: AsyncEngine, after: float) -> None:
    """Test a pooled PostgreSQL connection at checkout if it has been idle ``after`` seconds
    or more; a dead one is replaced by a fresh connection (the pool's documented answer to
    DisconnectionError from a checkout listener), so the request never sees it. In use
    without a break (a busy server), connections are not pinged: a connection that dies
    mid-burst fails its one request, and SQLAlchemy then replaces the pool's connections."""
    dialect = engine.sync_engine.dialect

    def idle_from_now(_dbapi: Any, record: Any) -> None:  # made, or back in the pool
        record.info["returned_at"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("returned_at", 0.0)
        if idle < after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # whatever the cause, a fresh connection says it plainly
            raise DisconnectionError("an idle pooled connection did not answer") from error

    event.listen(engine.sync_engine, "connect", idle_from_now)
    event.listen(engine.sync_engine, "checkin", idle_from_now)
    event.listen(engine.sync_engine, "checkout", checked_out)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
    """SQLAlchemy's custom reset on return to the pool: roll back what is still open (a
    transaction left uncommitted, or any doubt), nothing when none is."""
    inner = getattr(getattr(dbapi_connection, "_connection", None), "_connection", None)
    if inner is None or inner.in_transaction:
        dbapi_connection.rollback()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to the newest (or a given) revision; returns (before, after)."""
    from alembic import command

    async with engine.begin() as connection:
        before = await connection.run_sync(_current_revision)
        await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))
        after = await connection.run_sync(_current_revision)
    return before, after


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


# A migration script's own revision lines: ``revision: str = "0013"``, ``down_revision = ...``
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration shipped with this PerfBot (read from the scripts once).

    Read from the scripts' own ``revision`` and ``down_revision`` lines rather than through
    alembic: every command checks the schema before it starts, and importing alembic (with
    mako and its script loader) was a good part of each command's start-up. Alembic itself
    is asked only when those lines do not name exactly one head."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue  # not a migration (the package's __init__)
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (ValueError, SyntaxError):
            return _alembic_head()
        if not isinstance(revision, str):
            return _alembic_head()
        revisions.add(revision)
        if isinstance(down, str):
            downs.add(down)
        elif isinstance(down, tuple | list):
            downs.update(str(d) for d in down)
        elif down is not None:
            return _alembic_head()
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]  # no connection needed to read scripts
    return ScriptDirectory.from_config(config).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    """The database's schema revision: alembic_version's row read directly (alembic's
    MigrationContext, and its import, only if there is more than one row, which it refuses
    as before)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) <= 1:
        return str(rows[0]) if rows else None
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
