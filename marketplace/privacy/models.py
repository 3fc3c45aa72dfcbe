from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base

EXPORT_STATES = ("pending", "ready", "failed", "expired")


class DataExport(Base):
    """One "download my data" request: a ZIP built by a job, kept privately until it expires."""

    __tablename__ = "data_exports"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in EXPORT_STATES) + ")", name="known_status"
        ),
        # One export in progress per user: a second request while one runs is refused.
        Index(
            "uq_data_exports_one_pending",
            "user_id",
            unique=True,
            postgresql_where="status = 'pending'",
        ),
        Index("ix_data_exports_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    file_key: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class AccountDeletion(Base):
    """A confirmed account deletion: the account is closed at once, the erasure job fills
    ``erased_at`` when its one transaction commits."""

    __tablename__ = "account_deletions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    requested_at: Mapped[datetime] = mapped_column(server_default=func.now())
    erased_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    pending_files: Mapped[list[list[str]]] = mapped_column(JSONB, server_default="[]")
    """Files to delete once the erasure committed ([store, key] pairs); emptied when done, so
    a rerun finishes what a crash between the commit and the deletion left."""
