"""phone numbers: one confirmed mobile number per account, for SMS

Moves the unconfirmed student phone numbers into ``phone_numbers``; they must be confirmed with
a texted code before any SMS goes to them.

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-02 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_numbers",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("attempts BETWEEN 0 AND 100", name=op.f("ck_phone_numbers_attempts")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_phone_numbers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_phone_numbers")),
    )
    op.execute(
        "INSERT INTO phone_numbers (user_id, e164) "
        "SELECT user_id, phone_e164 FROM student_profiles WHERE phone_e164 IS NOT NULL"
    )
    op.drop_column("student_profiles", "phone_e164")


def downgrade() -> None:
    op.add_column(
        "student_profiles",
        sa.Column("phone_e164", sa.String(length=16), autoincrement=False, nullable=True),
    )
    op.execute(
        "UPDATE student_profiles s SET phone_e164 = p.e164 "
        "FROM phone_numbers p WHERE p.user_id = s.user_id"
    )
    op.drop_table("phone_numbers")
