"""Lesson room tables: per-lesson room choices (bitrate, recording consent) and recordings.

Who is in a room right now lives in memory (``video.room``); only what must survive a restart or
a rejoin is here.
"""

from __future__ import annotations

from datetime import datetime

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
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base
from marketplace.settings import BITRATES_KBPS

_BITRATES_SQL = ", ".join(str(b) for b in BITRATES_KBPS)
RECORDING_STATES = ("recording", "processing", "ready", "failed", "deleted")


class LessonRoom(Base):
    """The tutor's bitrate choice and each side's recording consent for one lesson."""

    __tablename__ = "lesson_rooms"
    __table_args__ = (CheckConstraint(f"bitrate_kbps IN ({_BITRATES_SQL})", name="bitrate"),)

    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    bitrate_kbps: Mapped[int] = mapped_column(SmallInteger)
    tutor_consented_at: Mapped[datetime | None]
    student_consented_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    @property
    def both_consented(self) -> bool:
        return self.tutor_consented_at is not None and self.student_consented_at is not None


class Recording(Base):
    """One lesson's recording: tracks written while recording, then one file browsers play."""

    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in RECORDING_STATES) + ")",
            name="known_status",
        ),
        Index("ix_recordings_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default="recording")
    file_key: Mapped[str | None] = mapped_column(String(200))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ready_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]


class RecordingTrack(Base):
    """One participant's audio or video as it arrived, from ``started_at`` (a rejoin, or a pause
    in consent, starts a new track); muxed into the recording's file after the lesson."""

    __tablename__ = "recording_tracks"
    __table_args__ = (
        CheckConstraint("kind IN ('audio', 'video')", name="known_kind"),
        Index("ix_recording_tracks_recording", "recording_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    file_key: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    packets: Mapped[int] = mapped_column(Integer, server_default="0")
