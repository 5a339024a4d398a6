"""Cabinet portfolios and several Council Plan priorities per measure

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("measures", sa.Column("portfolio", sa.String(length=255), nullable=True))
    op.create_table(
        "measure_priorities",
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measures.id"],
            name=op.f("fk_measure_priorities_measure_id_measures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_id", "position", name=op.f("pk_measure_priorities")),
        sa.UniqueConstraint("measure_id", "name", name=op.f("uq_measure_priorities_measure_id")),
    )
    # Each measure's one priority becomes its first (and only) one.
    op.execute(
        "INSERT INTO measure_priorities (measure_id, position, name) "
        "SELECT id, 1, priority FROM measures WHERE priority IS NOT NULL AND priority <> ''"
    )
    # Not in batch mode: on SQLite that copies the table and drops the old one, and with
    # foreign keys on, dropping measures would cascade to every return and target.
    # SQLite (3.35 and later) and PostgreSQL both drop a plain column in place.
    op.drop_column("measures", "priority")


def downgrade() -> None:
    op.add_column("measures", sa.Column("priority", sa.String(length=255), nullable=True))
    op.execute(
        "UPDATE measures SET priority = (SELECT name FROM measure_priorities "
        "WHERE measure_priorities.measure_id = measures.id AND position = 1)"
    )
    op.drop_table("measure_priorities")
    op.drop_column("measures", "portfolio")
