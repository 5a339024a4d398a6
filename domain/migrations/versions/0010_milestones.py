"""key actions' milestones: owner, status, revised date

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing references milestones yet, so its batch copy on SQLite takes nothing with it.
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("revised_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_milestones_owner_id_people"), "people", ["owner_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_milestones_updated_by_id_people"), "people", ["updated_by_id"], ["id"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_milestones_measure_id"), ["measure_id", "title"]
        )
    _alter_escalations(_add_milestone_id)


# escalations is altered by a batch copy on SQLite (its new foreign key has to be a table
# constraint, so that it reflects as the model declares it, ON DELETE CASCADE and all:
# SQLAlchemy reads neither the name nor ON DELETE of a REFERENCES clause that ALTER TABLE
# ADD COLUMN writes). The copy drops the old table, and with foreign keys on (domain/db.py)
# that deletes every escalation question (ON DELETE CASCADE) and unlinks every deep dive and
# action plan from its escalation (ON DELETE SET NULL). So what references escalations is
# kept aside first and put back after, in the same transaction; the copy keeps every
# escalation's id. PostgreSQL alters the table in place.
ESCALATIONS_MILESTONE_FK = "fk_escalations_milestone_id_milestones"
KEPT = (
    ("kept_escalation_questions", "SELECT * FROM escalation_questions"),
    ("kept_deep_dive_links", "SELECT id, escalation_id FROM deep_dives"),
    ("kept_action_plan_links", "SELECT id, escalation_id FROM action_plans"),
)


def _alter_escalations(alter: Callable[[Any], None]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name, query in KEPT:  # names and queries from the tuple above, never from input
            op.execute(f"CREATE TEMP TABLE {name} AS {query} WHERE escalation_id IS NOT NULL")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        alter(batch_op)
    if not sqlite:
        return
    op.execute("INSERT INTO escalation_questions SELECT * FROM temp.kept_escalation_questions")
    for table, kept in (
        ("deep_dives", "kept_deep_dive_links"),
        ("action_plans", "kept_action_plan_links"),
    ):
        op.execute(
            f"UPDATE {table} SET escalation_id = (SELECT k.escalation_id FROM temp.{kept} k "
            f"WHERE k.id = {table}.id) WHERE id IN (SELECT id FROM temp.{kept})"
        )
    for name, _query in KEPT:
        op.execute(f"DROP TABLE temp.{name}")


def _add_milestone_id(batch_op: Any) -> None:
    batch_op.add_column(sa.Column("milestone_id", sa.Integer(), nullable=True))
    batch_op.create_foreign_key(
        batch_op.f(ESCALATIONS_MILESTONE_FK),
        "milestones",
        ["milestone_id"],
        ["id"],
        ondelete="CASCADE",
    )


def _drop_milestone_id(batch_op: Any) -> None:
    batch_op.drop_constraint(batch_op.f(ESCALATIONS_MILESTONE_FK), type_="foreignkey")
    batch_op.drop_column("milestone_id")


def downgrade() -> None:
    _alter_escalations(_drop_milestone_id)
    # Nothing references milestones now, so its batch copy on SQLite takes nothing with it.
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_milestones_measure_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_milestones_updated_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_milestones_owner_id_people"), type_="foreignkey")
        batch_op.drop_column("updated_by_id")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("revised_date")
        batch_op.drop_column("status")
        batch_op.drop_column("owner_id")
