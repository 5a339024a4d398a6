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


async def test_the_schema_check_reads_the_same_revisions_as_alembic(engine):
    """Every command checks the schema without importing alembic: the head read from the
    scripts' lines, and the database's revision read from alembic_version, are alembic's."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(db._alembic_config(None))  # type: ignore[arg-type]
    assert db.head_revision() == scripts.get_current_head()
    async with engine.connect() as connection:
        theirs = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    assert await db.current_revision(engine) == theirs == scripts.get_current_head()


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


async def test_0010_keeps_every_escalations_questions_deep_dive_and_action_plan(database_url):
    """0010 adds escalations.milestone_id. SQLite's batch copy of escalations drops the old
    table, and with foreign keys on that deletes every escalation question (ON DELETE
    CASCADE) and unlinks every deep dive and action plan (SET NULL): all of them are still
    there and linked after the upgrade, and after a downgrade too."""
    from alembic import command

    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine, "0009")
        async with engine.begin() as connection:
            for statement in (
                "INSERT INTO services (id, name) VALUES (1, 'Housing')",
                "INSERT INTO people (id, email, name) VALUES (1, 'ann@council.gov.uk', 'Ann')",
                "INSERT INTO measures (id, code, title, kind, service_id, owner_id, unit, "
                "polarity, frequency, decimals, data_only, allow_negative, "
                "deadline_working_days, active, cumulative) VALUES (1, 'HS-01', 'Homes', "
                "'measure', 1, 1, 'number', 'higher', 'quarterly', 0, false, false, 15, true, "
                "false)",
                "INSERT INTO escalations (id, measure_id, period, reason, raised_at, "
                "deep_dive_requested) VALUES (7, 1, '2026/27 Q1', 'off-track', "
                "'2026-07-20 09:00:00', false)",
                "INSERT INTO escalation_questions (id, escalation_id, asked_by_id, question, "
                "asked_at) VALUES (1, 7, 1, 'When will it recover?', '2026-07-21 09:00:00')",
                "INSERT INTO deep_dives (id, measure_id, period, reason, escalation_id, "
                "flagged_at) VALUES (1, 1, '2026/27 Q1', 'requested', 7, "
                "'2026-07-22 09:00:00')",
                "INSERT INTO action_plans (id, measure_id, period, description, created_at, "
                "escalation_id) VALUES (1, 1, '2026/27 Q1', 'More lettings', "
                "'2026-07-23 09:00:00', 7)",
            ):
                await connection.execute(text(statement))

        async def linked() -> list[Any]:
            async with engine.connect() as connection:
                return [
                    (
                        await connection.execute(
                            text(f"SELECT id, escalation_id FROM {table} ORDER BY id")
                        )
                    ).all()
                    for table in ("escalation_questions", "deep_dives", "action_plans")
                ]

        await db.upgrade(engine)
        assert await linked() == [[(1, 7)], [(1, 7)], [(1, 7)]]
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT id, milestone_id FROM escalations"))
            assert rows.all() == [(7, None)]

        def down(sync: Any) -> None:
            command.downgrade(db._alembic_config(sync), "0009")

        async with engine.begin() as connection:
            await connection.run_sync(down)
        assert await linked() == [[(1, 7)], [(1, 7)], [(1, 7)]]
    finally:
        await engine.dispose()
