"""sign-off of returns, reasons for locks, restatements

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review_comment", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("restated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("restated_from", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("correction_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_returns_reviewed_by_id_people"), "people", ["reviewed_by_id"], ["id"]
        )
    with op.batch_alter_table("period_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
    # Figures imported before sign-off existed are the performance team's own, as imports
    # are from now on: approved, so that years of history do not await anyone's approval.
    op.execute(
        "UPDATE returns SET state = 'approved' WHERE source = 'import' AND state = 'submitted'"
    )


def downgrade() -> None:
    with op.batch_alter_table("period_locks", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_returns_reviewed_by_id_people"), type_="foreignkey")
        batch_op.drop_column("correction_reason")
        batch_op.drop_column("restated_from")
        batch_op.drop_column("restated")
        batch_op.drop_column("review_comment")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by_id")
