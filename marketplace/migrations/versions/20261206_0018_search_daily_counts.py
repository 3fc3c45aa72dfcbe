"""search daily counts: searches started per day, for the admin dashboard

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("searches", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day", "shard", name=op.f("pk_search_daily_counts")),
    )


def downgrade() -> None:
    op.drop_table("search_daily_counts")
