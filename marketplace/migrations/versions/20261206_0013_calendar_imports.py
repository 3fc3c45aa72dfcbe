"""calendar imports: the uploaded file kept for re-reading, notes, the expansion horizon

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("external_calendars", sa.Column("ics_data", sa.LargeBinary(), nullable=True))
    op.add_column(
        "external_calendars", sa.Column("notes", sa.Text(), server_default="", nullable=False)
    )
    op.add_column(
        "external_calendars",
        sa.Column("expanded_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("external_calendars", "expanded_until")
    op.drop_column("external_calendars", "notes")
    op.drop_column("external_calendars", "ics_data")
