"""Schema migrations: the model and the migrations agree, and upgrading keeps data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from domain import db
from domain.model import Base, Person, Service


async def test_the_migrations_build_exactly_the_schema_the_model_describes(engine):
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )
    assert differences == []
    assert await db.current_revision(engine) == db.head_revision()


async def test_upgrading_a_current_database_again_keeps_its_data(engine, sessions):
    async with sessions() as session, session.begin():
        service = Service(name="Housing")
        session.add(service)
        await session.flush()
        session.add(Person(email="ann@council.gov.uk", name="Ann", service_id=service.id))
    before, after = await db.upgrade(engine)
    assert before == after == db.head_revision()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1
