"""the review questions' answers, stored apart from the commentary

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "return_answers",
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["returns.id"],
            name=op.f("fk_return_answers_return_id_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("return_id", "question", name=op.f("pk_return_answers")),
    )


def downgrade() -> None:
    op.drop_table("return_answers")
