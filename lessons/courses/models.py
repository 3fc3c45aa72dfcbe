"""Course tables: course → modules → items, uploaded media, orders, enrolments and progress."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped


class CourseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class ItemKind(StrEnum):
    TEXT = "text"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"
    QUIZ = "quiz"


class MediaState(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class EnrolmentSource(StrEnum):
    FREE = "free"
    PURCHASE = "purchase"
    ADMIN = "admin"


class EnrolmentEnd(StrEnum):
    """Why an enrolment ended (the row and its progress stay; access is gone)."""

    REFUNDED = "refunded"  # the order that granted it was refunded in full
    DISPUTE_LOST = "dispute_lost"  # the student's bank took the payment back


class OrderStatus(StrEnum):
    OPEN = "open"  # the checkout is open; nothing paid yet
    PAID = "paid"  # paid: the student is enrolled through this order
    DISPUTED = "disputed"  # the card payment is disputed; access stays until it is decided
    REFUNDED = "refunded"  # refunded in full (on request, by an admin, or never delivered)
    CHARGED_BACK = "charged_back"  # a dispute was lost: the bank took the money back
    CANCELLED = "cancelled"  # abandoned or replaced before it was paid


_ORDER_STATES_SQL = ", ".join(f"'{s.value}'" for s in OrderStatus)


class Course(Timestamped, Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published')", name="known_status"),
        CheckConstraint("price_minor >= 0", name="price"),
        Index("ix_courses_status_published", "status", "published_at"),
        Index("ix_courses_tutor", "tutor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), server_default=CourseStatus.DRAFT.value)
    title: Mapped[str] = mapped_column(String(140))
    summary: Mapped[str] = mapped_column(String(300), server_default="")
    description_markdown: Mapped[str] = mapped_column(Text, server_default="")
    description_html: Mapped[str] = mapped_column(Text, server_default="")
    instrument: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))
    price_minor: Mapped[int] = mapped_column(Integer, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    published_at: Mapped[datetime | None]

    @property
    def is_free(self) -> bool:
        return self.price_minor == 0

    @property
    def is_published(self) -> bool:
        return self.status == CourseStatus.PUBLISHED.value


class CourseModule(Base):
    __tablename__ = "course_modules"
    __table_args__ = (Index("ix_course_modules_course", "course_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(140))
    position: Mapped[int] = mapped_column(Integer)


class CourseItem(Timestamped, Base):
    """One step of a module: a text, an audio or video lesson, a download, or a quiz."""

    __tablename__ = "course_items"
    __table_args__ = (
        CheckConstraint("kind IN ('text', 'audio', 'video', 'file', 'quiz')", name="known_kind"),
        Index("ix_course_items_module", "module_id", "position"),
        Index("ix_course_items_course", "course_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(140))
    position: Mapped[int] = mapped_column(Integer)
    required: Mapped[bool] = mapped_column(Boolean, server_default="true")
    body_markdown: Mapped[str] = mapped_column(Text, server_default="")
    body_html: Mapped[str] = mapped_column(Text, server_default="")


class CourseMedia(Timestamped, Base):
    """The upload behind an audio, video or file item, and its playable renditions."""

    __tablename__ = "course_media"
    __table_args__ = (
        CheckConstraint("status IN ('processing', 'ready', 'failed')", name="known_status"),
        CheckConstraint("kind IN ('audio', 'video', 'file')", name="known_kind"),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress"),
        Index("ix_course_media_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("course_items.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), server_default=MediaState.PROCESSING.value)
    original_key: Mapped[str] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(200), server_default="")
    content_type: Mapped[str] = mapped_column(String(100), server_default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    playable_key: Mapped[str | None] = mapped_column(String(200))
    hls_key: Mapped[str | None] = mapped_column(String(200))
    progress_percent: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    error: Mapped[str] = mapped_column(Text, server_default="")


class CourseOrder(Timestamped, Base):
    """One student's attempt to buy one course, priced by the server when it opened.

    Payments address the order (its id is the payment's reference and line), never the
    course, so settlement, refunds and disputes reach exactly one student's purchase. A
    student has at most one open order per course (a partial unique index).
    """

    __tablename__ = "course_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_ORDER_STATES_SQL})", name="known_status"),
        CheckConstraint("price_minor > 0", name="price_positive"),
        CheckConstraint("refund_days >= 0", name="refund_days"),
        Index(
            "uq_course_orders_open",
            "course_id",
            "student_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_course_orders_student", "student_id", "created_at"),
        Index("ix_course_orders_settlement", "status", "refundable_until"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(140))  # the course's title when ordered
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), server_default=OrderStatus.OPEN.value)
    # The refund window promised when the order opened (COURSE_REFUND_DAYS at the time).
    refund_days: Mapped[int] = mapped_column(SmallInteger)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)  # the payment that paid it
    paid_at: Mapped[datetime | None]
    refundable_until: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]  # the tutor's transfer was recorded
    refund_requested_at: Mapped[datetime | None]  # the student asked for their money back
    closed_reason: Mapped[str] = mapped_column(String(300), server_default="")


class Enrolment(Base):
    __tablename__ = "course_enrolments"
    __table_args__ = (
        UniqueConstraint("course_id", "student_id", name="uq_course_enrolments_course_student"),
        CheckConstraint("source IN ('free', 'purchase', 'admin')", name="known_source"),
        CheckConstraint("end_reason IN ('', 'refunded', 'dispute_lost')", name="known_end_reason"),
        Index("ix_course_enrolments_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(100), server_default="")
    enrolled_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_items.id", ondelete="SET NULL")
    )
    last_activity_at: Mapped[datetime | None]
    progress_percent: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    completed_at: Mapped[datetime | None]
    # An ended enrolment gives no access (the course is gone from "My courses", items and
    # quizzes refuse), but keeps its progress and certificate; buying again reopens it.
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(16), server_default="")

    @property
    def active(self) -> bool:
        return self.ended_at is None


class ItemProgress(Base):
    """A student's state on one item: where the player stopped, and whether it is done."""

    __tablename__ = "course_item_progress"
    __table_args__ = (
        PrimaryKeyConstraint("enrolment_id", "item_id", name="pk_course_item_progress"),
        CheckConstraint("position_seconds >= 0", name="position"),
    )

    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("course_enrolments.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("course_items.id", ondelete="CASCADE"))
    position_seconds: Mapped[float] = mapped_column(Float, server_default=text("0"))
    completed_at: Mapped[datetime | None]
    # The first download or play of the item's media (counts toward the course refund rule).
    media_fetched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
