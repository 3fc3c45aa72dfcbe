"""search index changes: a short log of which tutors each index write changed

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "search_index_state",
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_table(
        "search_index_changes",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.Uuid(), nullable=False),
        sa.Column("tutor_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_index_changes")),
    )


def downgrade() -> None:
    op.drop_table("search_index_changes")
    op.drop_column("search_index_state", "seq")
