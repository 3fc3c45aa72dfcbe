"""paid courses: course orders, and enrolments that can end

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "'open', 'paid', 'disputed', 'refunded', 'charged_back', 'cancelled'"


def upgrade() -> None:
    op.create_table(
        "course_orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("course_id", sa.BigInteger(), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("tutor_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("refund_days", sa.SmallInteger(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refundable_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(length=300), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"status IN ({_STATES})", name=op.f("ck_course_orders_known_status")),
        sa.CheckConstraint("price_minor > 0", name=op.f("ck_course_orders_price_positive")),
        sa.CheckConstraint("refund_days >= 0", name=op.f("ck_course_orders_refund_days")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_orders_course_id_courses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["users.id"],
            name=op.f("fk_course_orders_student_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tutor_id"],
            ["users.id"],
            name=op.f("fk_course_orders_tutor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_orders")),
    )
    op.create_index(
        "uq_course_orders_open",
        "course_orders",
        ["course_id", "student_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_course_orders_student", "course_orders", ["student_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_course_orders_settlement",
        "course_orders",
        ["status", "refundable_until"],
        unique=False,
    )
    op.add_column(
        "course_enrolments", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "course_enrolments",
        sa.Column("end_reason", sa.String(length=16), server_default="", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_course_enrolments_known_end_reason"),
        "course_enrolments",
        "end_reason IN ('', 'refunded', 'dispute_lost')",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_course_enrolments_known_end_reason"), "course_enrolments", type_="check"
    )
    op.drop_column("course_enrolments", "end_reason")
    op.drop_column("course_enrolments", "ended_at")
    op.drop_index("ix_course_orders_settlement", table_name="course_orders")
    op.drop_index("ix_course_orders_student", table_name="course_orders")
    op.drop_index("uq_course_orders_open", table_name="course_orders")
    op.drop_table("course_orders")
