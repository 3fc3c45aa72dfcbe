from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class ReportReason(StrEnum):
    SPAM = "spam"
    HARASSMENT = "harassment"
    OFF_PLATFORM_PAYMENT = "off_platform_payment"
    INAPPROPRIATE = "inappropriate"
    SCAM = "scam"
    OTHER = "other"


REASON_LABELS = {
    ReportReason.SPAM: "Spam or advertising",
    ReportReason.HARASSMENT: "Harassment or threats",
    ReportReason.OFF_PLATFORM_PAYMENT: "Asks to pay outside Duet",
    ReportReason.INAPPROPRIATE: "Inappropriate or sexual content",
    ReportReason.SCAM: "Scam or fraud",
    ReportReason.OTHER: "Something else",
}


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # an admin acted on it
    DISMISSED = "dismissed"  # an admin found nothing wrong


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="known_status"),
        CheckConstraint(
            "reason IN ('spam', 'harassment', 'off_platform_payment', 'inappropriate', 'scam', "
            "'other')",
            name="known_reason",
        ),
        # One open report per reporter and subject: a second click changes nothing.
        Index(
            "uq_reports_open_per_reporter",
            "reporter_id",
            "subject_kind",
            "subject_id",
            unique=True,
            postgresql_where="status = 'open'",
        ),
        Index("ix_reports_context", "context_kind", "context_id"),
        Index("ix_reports_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    context_kind: Mapped[str] = mapped_column(String(40))
    context_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    excerpt: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(16), server_default=ReportStatus.OPEN.value)
    resolution_note: Mapped[str] = mapped_column(Text, server_default="")
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
