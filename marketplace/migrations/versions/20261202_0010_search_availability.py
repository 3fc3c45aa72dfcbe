"""search availability: free half-hours and their buckets per document; document freshness

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORDS = [f"free_w{i}" for i in range(12)] + [f"free_o{i}" for i in range(6)]


def upgrade() -> None:
    for name in _WORDS:
        op.add_column(
            "search_documents",
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False),
        )
    op.create_table(
        "search_freshness",
        sa.Column("tutor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tutor_id", name=op.f("pk_search_freshness")),
    )
    op.create_index(
        "ix_search_freshness_refresh_at", "search_freshness", ["refresh_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_search_freshness_refresh_at", table_name="search_freshness")
    op.drop_table("search_freshness")
    for name in reversed(_WORDS):
        op.drop_column("search_documents", name)
