"""Reviews of completed lessons, reports, moderation decisions and per-tutor aggregates.

One review per lesson is the database's rule (a unique constraint on ``booking_id``), so two
submissions racing each other cannot both land. Aggregates (``tutor_review_stats``) are derived
data: recomputed from the published reviews in the same transaction as every change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped

TEXT_MAX = 2000
REPLY_MAX = 2000
REPORT_DETAILS_MAX = 1000
MODERATION_REASON_MAX = 1000


class ReviewStatus(StrEnum):
    PUBLISHED = "published"
    HIDDEN = "hidden"  # by an admin, with a recorded reason; out of the page and the aggregates


class ReportReason(StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    NOT_ABOUT_LESSON = "not_about_lesson"
    PERSONAL_INFO = "personal_info"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    OTHER = "other"


class ModerationAction(StrEnum):
    HIDE = "hide"
    RESTORE = "restore"
    DISMISS_REPORTS = "dismiss_reports"  # the review stays; its open reports are closed


def _one_to_five(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR {column} BETWEEN 1 AND 5", name=column)


class Review(Timestamped, Base):
    """A student's review of one completed lesson, and the tutor's one public reply."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("booking_id", name="uq_reviews_booking_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        _one_to_five("teaching"),
        _one_to_five("communication"),
        _one_to_five("punctuality"),
        CheckConstraint(f"char_length(body) <= {TEXT_MAX}", name="body_length"),
        CheckConstraint(
            f"reply IS NULL OR char_length(reply) BETWEEN 1 AND {REPLY_MAX}", name="reply_length"
        ),
        CheckConstraint("(reply IS NULL) = (replied_at IS NULL)", name="reply_time"),
        CheckConstraint("status IN ('published', 'hidden')", name="known_status"),
        CheckConstraint("tutor_id <> student_id", name="not_self"),
        # The tutor's page: published reviews, newest first or by rating.
        Index("ix_reviews_tutor_status_created", "tutor_id", "status", "created_at"),
        Index("ix_reviews_tutor_status_rating", "tutor_id", "status", "rating", "created_at"),
        # The tutor's dashboard: published reviews still waiting for a reply.
        Index(
            "ix_reviews_awaiting_reply",
            "tutor_id",
            "created_at",
            postgresql_where=text("reply IS NULL AND status = 'published'"),
        ),
        Index("ix_reviews_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    teaching: Mapped[int | None] = mapped_column(SmallInteger)
    communication: Mapped[int | None] = mapped_column(SmallInteger)
    punctuality: Mapped[int | None] = mapped_column(SmallInteger)
    body: Mapped[str] = mapped_column(Text, server_default="")
    # The lesson it is about, copied for display ("verified lesson, 60 minutes, March 2026").
    lesson_starts_at: Mapped[datetime]
    lesson_minutes: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), server_default=ReviewStatus.PUBLISHED.value)
    edited_at: Mapped[datetime | None]
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]


class ReviewReport(Base):
    """Someone's report that a review breaks the rules; one per person and review."""

    __tablename__ = "review_reports"
    __table_args__ = (
        UniqueConstraint("review_id", "reporter_id", name="uq_review_reports_review_reporter"),
        CheckConstraint(
            "reason IN (" + ", ".join(f"'{r.value}'" for r in ReportReason) + ")",
            name="known_reason",
        ),
        CheckConstraint(f"char_length(details) <= {REPORT_DETAILS_MAX}", name="details_length"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('hidden', 'dismissed')", name="known_resolution"
        ),
        # The moderation queue: open reports grouped by review.
        Index("ix_review_reports_open", "review_id", postgresql_where=text("resolved_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))


class ReviewModeration(Base):
    """Every moderation decision, with who took it and why (kept when a review is restored)."""

    __tablename__ = "review_moderations"
    __table_args__ = (
        CheckConstraint(
            "action IN (" + ", ".join(f"'{a.value}'" for a in ModerationAction) + ")",
            name="known_action",
        ),
        CheckConstraint(
            f"char_length(reason) BETWEEN 1 AND {MODERATION_REASON_MAX}", name="reason_length"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TutorReviewStats(Base):
    """A tutor's aggregates over their published reviews: count, sum, distribution, sub-ratings.

    The average and the ranking score are computed from these on read (``reviews.ranking``), so
    they can never disagree with the counts they come from.
    """

    __tablename__ = "tutor_review_stats"
    __table_args__ = (
        CheckConstraint(
            "review_count = stars_1 + stars_2 + stars_3 + stars_4 + stars_5", name="distribution"
        ),
        CheckConstraint(
            "rating_sum = stars_1 + 2 * stars_2 + 3 * stars_3 + 4 * stars_4 + 5 * stars_5",
            name="sum",
        ),
    )

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    review_count: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, server_default="0")
    stars_1: Mapped[int] = mapped_column(Integer, server_default="0")
    stars_2: Mapped[int] = mapped_column(Integer, server_default="0")
    stars_3: Mapped[int] = mapped_column(Integer, server_default="0")
    stars_4: Mapped[int] = mapped_column(Integer, server_default="0")
    stars_5: Mapped[int] = mapped_column(Integer, server_default="0")
    teaching_sum: Mapped[int] = mapped_column(Integer, server_default="0")
    teaching_count: Mapped[int] = mapped_column(Integer, server_default="0")
    communication_sum: Mapped[int] = mapped_column(Integer, server_default="0")
    communication_count: Mapped[int] = mapped_column(Integer, server_default="0")
    punctuality_sum: Mapped[int] = mapped_column(Integer, server_default="0")
    punctuality_count: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
