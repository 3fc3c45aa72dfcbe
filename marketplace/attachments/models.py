from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class Attachment(Base):
    """A checked file in the private media storage. Unbound rows are uploads not sent yet."""

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("kind IN ('pdf', 'image', 'audio')", name="known_kind"),
        Index("ix_attachments_unbound", "created_at", postgresql_where="bound_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    purpose: Mapped[str] = mapped_column(String(40), server_default="")
    """What it was uploaded for (``message``, later ``discussion``), set when it is bound."""
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    bound_at: Mapped[datetime | None]
