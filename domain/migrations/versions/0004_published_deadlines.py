"""published deadlines

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:49:13.538076
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "frequency",
            sa.Enum(
                "monthly",
                "quarterly",
                "half-yearly",
                "annual",
                name="frequency",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("review", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "(frequency IS NULL) <> (measure_id IS NULL)",
            name=op.f("ck_deadlines_frequency_or_measure"),
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measures.id"],
            name=op.f("fk_deadlines_measure_id_measures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint("frequency", "period", name=op.f("uq_deadlines_frequency")),
        sa.UniqueConstraint("measure_id", "period", name=op.f("uq_deadlines_measure_id")),
    )


def downgrade() -> None:
    op.drop_table("deadlines")
