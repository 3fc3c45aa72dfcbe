"""Quiz tables: settings per quiz item, questions (with their bank), attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped


class ReviewPolicy(StrEnum):
    AFTER_SUBMISSION = "after_submission"
    AFTER_LAST_ATTEMPT = "after_last_attempt"
    NEVER = "never"


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    EXPIRED = "expired"


class Quiz(Timestamped, Base):
    __tablename__ = "quizzes"
    __table_args__ = (
        CheckConstraint("pass_percent BETWEEN 0 AND 100", name="pass_percent"),
        CheckConstraint(
            "time_limit_seconds IS NULL OR time_limit_seconds BETWEEN 30 AND 86400",
            name="time_limit",
        ),
        CheckConstraint("max_attempts IS NULL OR max_attempts BETWEEN 1 AND 100", name="attempts"),
        CheckConstraint(
            "review_policy IN ('after_submission', 'after_last_attempt', 'never')",
            name="known_review_policy",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("course_items.id", ondelete="CASCADE"), unique=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    pass_percent: Mapped[int] = mapped_column(SmallInteger, server_default="70")
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    max_attempts: Mapped[int | None] = mapped_column(SmallInteger)
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, server_default="true")
    shuffle_options: Mapped[bool] = mapped_column(Boolean, server_default="true")
    review_policy: Mapped[str] = mapped_column(
        String(24), server_default=ReviewPolicy.AFTER_SUBMISSION.value
    )
    # [{"bank": "intervals", "count": 3}, ...]; empty: every question, every time.
    draw_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class Question(Timestamped, Base):
    """One question. ``spec`` holds the kind's options and answer key; it never leaves the
    server before the attempt is submitted (see ``quizzes.presenters``)."""

    __tablename__ = "quiz_questions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('single', 'multiple', 'true_false', 'short', 'numeric', 'ordering', "
            "'matching', 'music')",
            name="known_kind",
        ),
        CheckConstraint("points BETWEEN 1 AND 100", name="points"),
        Index("ix_quiz_questions_quiz", "quiz_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    bank: Mapped[str] = mapped_column(String(40), server_default="main")
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    points: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    feedback_correct: Mapped[str] = mapped_column(Text, server_default="")
    feedback_incorrect: Mapped[str] = mapped_column(Text, server_default="")
    audio_key: Mapped[str | None] = mapped_column(String(200))


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("quiz_id", "student_id", "number", name="uq_quiz_attempts_number"),
        CheckConstraint("status IN ('in_progress', 'submitted', 'expired')", name="known_status"),
        # At most one open attempt per student and quiz, even when two tabs start at once.
        Index(
            "uq_quiz_attempts_open",
            "quiz_id",
            "student_id",
            unique=True,
            postgresql_where=text("status = 'in_progress'"),
        ),
        Index("ix_quiz_attempts_student", "student_id", "quiz_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_enrolments.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), server_default=AttemptStatus.IN_PROGRESS.value)
    question_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    # The order each question's options were shown in, keyed by question id.
    layout: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    results: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    score_points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[int] = mapped_column(Integer, server_default="0")
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    preview: Mapped[bool] = mapped_column(Boolean, server_default="false")
    comment: Mapped[str] = mapped_column(String(200), server_default="")
