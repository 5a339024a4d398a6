"""Schema migrations: the model and the migrations agree, and upgrading keeps data."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from domain import db
from domain.model import Base, Measure, Person, Service, Target


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


async def test_0013_makes_each_measures_priority_its_first_and_keeps_its_returns(database_url):
    """measures.priority becomes a row of measure_priorities (position 1); dropping the
    column copies no table, so no return or target goes with it (SQLite's foreign keys are
    on); a downgrade puts the first priority back."""
    from alembic import command

    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine, "0012")
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO services (id, name) VALUES (1, 'Housing')"))
            await connection.execute(
                text("INSERT INTO people (id, email, name) VALUES (1, 'ann@council.gov.uk', 'Ann')")
            )
            for id_, code, priority in ((1, "HS-01", "Homes for everyone"), (2, "HS-02", None)):
                await connection.execute(
                    text(
                        "INSERT INTO measures (id, code, title, kind, service_id, priority, "
                        "owner_id, unit, polarity, frequency, decimals, data_only, "
                        "allow_negative, deadline_working_days, active) VALUES (:id, :code, "
                        "'Homes', 'measure', 1, :priority, 1, 'number', 'higher', 'quarterly', "
                        "0, false, false, 15, true)"
                    ),
                    {"id": id_, "code": code, "priority": priority},
                )
            await connection.execute(
                text(
                    "INSERT INTO targets (measure_id, period, value) VALUES (1, '2025/26 Q1', '90')"
                )
            )
        await db.upgrade(engine)
        async with db.session_factory(engine)() as session:
            measures = (await session.scalars(select(Measure).order_by(Measure.code))).all()
            assert [(m.code, m.priorities, m.portfolio) for m in measures] == [
                ("HS-01", ("Homes for everyone",), None),
                ("HS-02", (), None),
            ]
            assert await session.scalar(select(func.count()).select_from(Target)) == 1

        def down(sync: Any) -> None:
            command.downgrade(db._alembic_config(sync), "0012")

        async with engine.begin() as connection:
            await connection.run_sync(down)
            rows = await connection.execute(
                text("SELECT code, priority FROM measures ORDER BY code")
            )
            assert rows.all() == [("HS-01", "Homes for everyone"), ("HS-02", None)]
    finally:
        await engine.dispose()
