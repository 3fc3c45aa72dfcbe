"""pending profile changes: edits to approved profiles that wait for review

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-06 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_profile_changes",
        sa.Column("tutor_id", sa.BigInteger(), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tutor_id"],
            ["tutor_profiles.user_id"],
            name=op.f("fk_pending_profile_changes_tutor_id_tutor_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tutor_id", name=op.f("pk_pending_profile_changes")),
    )


def downgrade() -> None:
    op.drop_table("pending_profile_changes")
