"""escalations, questions, action plans and deep dives

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:59:35.264924
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "deep_dives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["people.id"], name=op.f("fk_deep_dives_decided_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_deep_dives_escalation_id_escalations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["people.id"], name=op.f("fk_deep_dives_lead_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measures.id"],
            name=op.f("fk_deep_dives_measure_id_measures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["people.id"], name=op.f("fk_deep_dives_requested_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deep_dives")),
        sa.UniqueConstraint("measure_id", "period", name=op.f("uq_deep_dives_measure_id")),
    )
    op.create_table(
        "escalation_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=True),
        sa.Column("asked_of_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["people.id"],
            name=op.f("fk_escalation_questions_answered_by_id_people"),
        ),
        sa.ForeignKeyConstraint(
            ["asked_by_id"], ["people.id"], name=op.f("fk_escalation_questions_asked_by_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["asked_of_id"], ["people.id"], name=op.f("fk_escalation_questions_asked_of_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_questions_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_questions")),
    )
    with op.batch_alter_table("action_plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="open")
        )
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="return")
        )
        batch_op.add_column(sa.Column("return_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("progress", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_action_plans_return_id_returns"),
            "returns",
            ["return_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_action_plans_escalation_id_escalations"),
            "escalations",
            ["escalation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_action_plans_created_by_id_people"), "people", ["created_by_id"], ["id"]
        )

    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("return_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("remedial_owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("remedial_due", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("remedial_agreed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("remedial_agreed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("deep_dive_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deep_dive_requested_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stopped_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stop_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_remedial_owner_id_people"),
            "people",
            ["remedial_owner_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_remedial_agreed_by_id_people"),
            "people",
            ["remedial_agreed_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_stopped_by_id_people"), "people", ["stopped_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_return_id_returns"),
            "returns",
            ["return_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_deep_dive_requested_by_id_people"),
            "people",
            ["deep_dive_requested_by_id"],
            ["id"],
        )

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leadership_contact_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_services_leadership_contact_id_people"),
            "people",
            ["leadership_contact_id"],
            ["id"],
            use_alter=True,
        )


def downgrade() -> None:

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_services_leadership_contact_id_people"), type_="foreignkey"
        )
        batch_op.drop_column("leadership_contact_id")

    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_deep_dive_requested_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_escalations_return_id_returns"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_stopped_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_remedial_agreed_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_escalations_remedial_owner_id_people"), type_="foreignkey"
        )
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("stop_reason")
        batch_op.drop_column("stopped_by_id")
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("deep_dive_requested_by_id")
        batch_op.drop_column("deep_dive_requested_at")
        batch_op.drop_column("remedial_agreed_by_id")
        batch_op.drop_column("remedial_agreed_at")
        batch_op.drop_column("remedial_due")
        batch_op.drop_column("remedial_owner_id")
        batch_op.drop_column("return_id")

    with op.batch_alter_table("action_plans", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_action_plans_created_by_id_people"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_action_plans_escalation_id_escalations"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_action_plans_return_id_returns"), type_="foreignkey"
        )
        batch_op.drop_column("progress_at")
        batch_op.drop_column("progress")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("escalation_id")
        batch_op.drop_column("return_id")
        batch_op.drop_column("source")
        batch_op.drop_column("status")

    op.drop_table("escalation_questions")
    op.drop_table("deep_dives")
