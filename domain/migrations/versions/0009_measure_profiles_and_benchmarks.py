"""cumulative measures and the benchmarks sheet

A measure can be cumulative (a year-to-date figure). Benchmarks move from two columns of
measures (benchmark_england, benchmark_neighbours) to a table of their own, any number of
comparator groups a measure, a row per period, with optional quartile boundaries and a
source; each old column's figure becomes an undated row of its group ("England",
"Statistical nearest neighbours"), which stands for every period.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The old columns and the comparator group each one's figure becomes.
OLD_COLUMNS = (
    ("benchmark_england", "England"),
    ("benchmark_neighbours", "Statistical nearest neighbours"),
)


def upgrade() -> None:
    op.create_table(
        "benchmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("comparator", sa.String(length=255), nullable=False),
        sa.Column("value", sa.String(length=48), nullable=False),
        sa.Column("lower_quartile", sa.String(length=48), nullable=True),
        sa.Column("median", sa.String(length=48), nullable=True),
        sa.Column("upper_quartile", sa.String(length=48), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measures.id"],
            name=op.f("fk_benchmarks_measure_id_measures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benchmarks")),
        sa.UniqueConstraint(
            "measure_id", "comparator", "period", name=op.f("uq_benchmarks_measure_id")
        ),
    )
    for column, group in OLD_COLUMNS:  # column names from the tuple above, never from input
        op.execute(
            sa.text(
                "INSERT INTO benchmarks (measure_id, comparator, value) "
                f"SELECT id, :group, {column} FROM measures WHERE {column} IS NOT NULL"
            ).bindparams(group=group)
        )
    op.add_column(
        "measures",
        sa.Column("cumulative", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _drop_measure_column("benchmark_england")
    _drop_measure_column("benchmark_neighbours")


def _drop_measure_column(name: str) -> None:
    """Drop a plain column of measures in place. Not by a batch copy of the table on SQLite:
    dropping the old table, with foreign keys on, would take every target, return and
    delegate of every measure with it (ON DELETE CASCADE). SQLite 3.35 and later drop a
    column that no index or constraint names in place."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE measures DROP COLUMN {name}")
    else:
        op.drop_column("measures", name)


def downgrade() -> None:
    op.add_column("measures", sa.Column("benchmark_england", sa.String(length=48), nullable=True))
    op.add_column(
        "measures", sa.Column("benchmark_neighbours", sa.String(length=48), nullable=True)
    )
    _drop_measure_column("cumulative")
    for column, group in OLD_COLUMNS:  # what the two columns can hold: an undated row each
        op.execute(
            sa.text(
                f"UPDATE measures SET {column} = (SELECT value FROM benchmarks "
                "WHERE benchmarks.measure_id = measures.id AND comparator = :group "
                "AND period IS NULL)"
            ).bindparams(group=group)
        )
    op.drop_table("benchmarks")
