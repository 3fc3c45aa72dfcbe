from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, Timestamped


class TutorStatus(StrEnum):
    DRAFT = "draft"  # being written; not yet sent for review
    PENDING = "pending"  # waiting for an admin
    APPROVED = "approved"  # public
    REJECTED = "rejected"  # sent back with a reason; the tutor may fix and resubmit
    SUSPENDED = "suspended"  # taken down by an admin


class MediaStatus(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class TutorProfile(Timestamped, Base):
    __tablename__ = "tutor_profiles"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'pending', 'approved', 'rejected', 'suspended')",
            name="known_status",
        ),
        CheckConstraint(
            "formats <@ ARRAY['online', 'studio', 'student_home']::varchar[]", name="known_formats"
        ),
        CheckConstraint("trial_price_minor IS NULL OR trial_price_minor > 0", name="trial_price"),
        Index("ix_tutor_profiles_status", "status"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default=TutorStatus.DRAFT.value)
    status_reason: Mapped[str] = mapped_column(Text, server_default="")
    display_name: Mapped[str] = mapped_column(String(80))
    headline: Mapped[str] = mapped_column(String(140), server_default="")
    bio_markdown: Mapped[str] = mapped_column(Text, server_default="")
    bio_html: Mapped[str] = mapped_column(Text, server_default="")
    genres: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(3)), server_default="{}")
    formats: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    travel_radius_km: Mapped[int | None] = mapped_column(SmallInteger)
    city_geoname_id: Mapped[int | None] = mapped_column(Integer)
    city_name: Mapped[str] = mapped_column(String(120), server_default="")
    country_code: Mapped[str] = mapped_column(String(2), server_default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    trial_price_minor: Mapped[int | None] = mapped_column(Integer)
    photo_key: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]

    instruments: Mapped[list[TutorInstrument]] = relationship(
        cascade="all, delete-orphan", order_by="TutorInstrument.position", lazy="selectin"
    )
    prices: Mapped[list[LessonPrice]] = relationship(
        cascade="all, delete-orphan", order_by="LessonPrice.duration_minutes", lazy="selectin"
    )
    audio_sample: Mapped[AudioSample | None] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_public(self) -> bool:
        return self.status == TutorStatus.APPROVED.value


class TutorInstrument(Base):
    __tablename__ = "tutor_instruments"

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    instrument: Mapped[str] = mapped_column(String(40), primary_key=True)
    levels: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class LessonPrice(Base):
    """The price of one lesson of a given length, in minor units of the tutor's currency."""

    __tablename__ = "lesson_prices"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 15 AND 240", name="duration_range"),
        CheckConstraint("price_minor > 0", name="price_positive"),
    )

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    duration_minutes: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    price_minor: Mapped[int] = mapped_column(Integer)


class AudioSample(Timestamped, Base):
    """A short recording of the tutor playing; transcoded in a job for every browser."""

    __tablename__ = "audio_samples"
    __table_args__ = (
        CheckConstraint("status IN ('processing', 'ready', 'failed')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_profiles.user_id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default=MediaStatus.PROCESSING.value)
    original_key: Mapped[str] = mapped_column(String(200))
    original_filename: Mapped[str] = mapped_column(String(200), server_default="")
    playable_key: Mapped[str | None] = mapped_column(String(200))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str] = mapped_column(Text, server_default="")


class ModerationDecision(Base):
    """Every admin decision about a tutor profile, kept for the record."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (
        CheckConstraint("action IN ('approve', 'reject', 'suspend')", name="known_action"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_profiles.user_id", ondelete="CASCADE"), index=True
    )
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PendingProfileChange(Timestamped, Base):
    """Edits to an approved profile that wait for an admin (``profiles/changes.py``); the
    approved version stays live meanwhile. ``changes`` holds only the reviewed fields:
    ``display_name``, ``photo_key``, ``prices`` ([[minutes, minor], ...]), ``trial_price_minor``."""

    __tablename__ = "pending_profile_changes"

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("tutor_profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)


class StudentProfile(Timestamped, Base):
    __tablename__ = "student_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    instruments: Mapped[list[StudentInstrument]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StudentInstrument.instrument"
    )


class StudentInstrument(Base):
    __tablename__ = "student_instruments"

    student_id: Mapped[int] = mapped_column(
        ForeignKey("student_profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    instrument: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
