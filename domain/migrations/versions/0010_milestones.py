"""key actions' milestones: owner, status, revised date

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("milestone_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_milestone_id_milestones"),
            "milestones",
            ["milestone_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_milestone_id_milestones"), type_="foreignkey"
        )
        batch_op.drop_column("milestone_id")
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
