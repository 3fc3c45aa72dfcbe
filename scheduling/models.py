"""Scheduling tables: availability, booking rules, bookings, calendars.

Times are ``timestamptz`` in UTC, except availability, which lives in the tutor's own zone:
a weekly window is an iCalendar RRULE with a *local* DTSTART and the IANA zone beside it, so
17:00 in Berlin stays 17:00 in Berlin across daylight-saving changes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped
from scheduling.lifecycle import LIVE_STATES, State

_LIVE_SQL = ", ".join(f"'{state.value}'" for state in LIVE_STATES)
_STATES_SQL = ", ".join(f"'{state.value}'" for state in State)


class BookingRules(Timestamped, Base):
    """A tutor's booking rules; lesson durations come from the tutor's prices (profiles)."""

    __tablename__ = "booking_rules"
    __table_args__ = (
        CheckConstraint("buffer_before_minutes BETWEEN 0 AND 240", name="buffer_before"),
        CheckConstraint("buffer_after_minutes BETWEEN 0 AND 240", name="buffer_after"),
        CheckConstraint("min_notice_minutes BETWEEN 0 AND 20160", name="min_notice"),
        CheckConstraint("booking_window_days BETWEEN 1 AND 365", name="booking_window"),
        CheckConstraint(
            "max_lessons_per_day IS NULL OR max_lessons_per_day BETWEEN 1 AND 24", name="daily_cap"
        ),
        CheckConstraint("slot_granularity_minutes IN (5, 10, 15, 20, 30, 60)", name="granularity"),
        CheckConstraint("free_cancel_hours BETWEEN 0 AND 168", name="free_cancel"),
        CheckConstraint("late_cancel_refund_percent BETWEEN 0 AND 100", name="late_refund"),
    )

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    buffer_before_minutes: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    buffer_after_minutes: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, server_default="720")
    booking_window_days: Mapped[int] = mapped_column(SmallInteger, server_default="60")
    max_lessons_per_day: Mapped[int | None] = mapped_column(SmallInteger)
    slot_granularity_minutes: Mapped[int] = mapped_column(SmallInteger, server_default="30")
    free_cancel_hours: Mapped[int] = mapped_column(SmallInteger, server_default="24")
    late_cancel_refund_percent: Mapped[int] = mapped_column(SmallInteger, server_default="0")


class AvailabilityRule(Base):
    """One recurring window: ``RRULE`` text expanded from a local ``dtstart`` in ``time_zone``."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("duration_minutes BETWEEN 15 AND 1440", name="duration"),
        Index("ix_availability_rules_tutor", "tutor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rrule: Mapped[str] = mapped_column(Text)
    dtstart: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    time_zone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AvailabilityOverride(Base):
    """A local date with extra hours (``available``) or hours off (``unavailable``; no times:
    the whole day)."""

    __tablename__ = "availability_overrides"
    __table_args__ = (
        CheckConstraint("kind IN ('available', 'unavailable')", name="known_kind"),
        CheckConstraint(
            "(start_time IS NULL) = (end_time IS NULL) AND (start_time IS NULL OR "
            "start_time < end_time) AND (kind = 'unavailable' OR start_time IS NOT NULL)",
            name="times",
        ),
        Index("ix_availability_overrides_tutor_date", "tutor_id", "on_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    on_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    time_zone: Mapped[str] = mapped_column(String(64))


class TimeOff(Base):
    __tablename__ = "time_off"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="order"),
        Index("ix_time_off_tutor", "tutor_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), server_default="")


class Booking(Timestamped, Base):
    """A held or booked lesson. ``period`` is the lesson; ``blocked`` adds the tutor's buffers.

    PostgreSQL refuses two live bookings whose ``blocked`` ranges overlap for one tutor, or whose
    ``period`` ranges overlap for one student; that is what settles a race for a slot.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATES_SQL})", name="known_status"),
        CheckConstraint("period = tstzrange(starts_at, ends_at, '[)')", name="period_matches"),
        CheckConstraint("blocked @> period", name="blocked_covers_period"),
        CheckConstraint("tutor_id <> student_id", name="not_self"),
        ExcludeConstraint(
            (text("tutor_id"), "="),
            (text("blocked"), "&&"),
            name="ex_bookings_tutor_blocked",
            using="gist",
            where=text(f"status IN ({_LIVE_SQL})"),
        ),
        ExcludeConstraint(
            (text("student_id"), "="),
            (text("period"), "&&"),
            name="ex_bookings_student_period",
            using="gist",
            where=text(f"status IN ({_LIVE_SQL})"),
        ),
        Index("ix_bookings_tutor_starts", "tutor_id", "starts_at"),
        Index("ix_bookings_student_starts", "student_id", "starts_at"),
        Index("ix_bookings_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    period: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    blocked: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    tutor_time_zone: Mapped[str] = mapped_column(String(64))
    hold_expires_at: Mapped[datetime | None]
    series_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    uid: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=func.gen_random_uuid())
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    cancel_reason: Mapped[str] = mapped_column(String(500), server_default="")
    refund_minor: Mapped[int | None] = mapped_column(Integer)
    trial: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Priced at the tutor's trial price (a student's first lesson with this tutor)."""


class BookingTransition(Base):
    """Every state change, for the record (who, what, when)."""

    __tablename__ = "booking_transitions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key``: a retry returns the bookings made the first time."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    booking_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RescheduleRequest(Base):
    __tablename__ = "reschedule_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'withdrawn')", name="known_status"
        ),
        Index(
            "uq_reschedule_requests_pending",
            "booking_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    requested_by: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    decided_at: Mapped[datetime | None]


class BookingReminder(Base):
    """A reminder sent for one start time: a moved lesson gets new reminders, never two."""

    __tablename__ = "booking_reminders"
    __table_args__ = (
        PrimaryKeyConstraint("booking_id", "kind", "starts_at", name="pk_booking_reminders"),
    )

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    starts_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CalendarFeed(Base):
    """A private ICS feed address; only the token's SHA-256 is kept. Rotating revokes the old."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]


class ExternalCalendar(Base):
    """A tutor's own calendar whose busy times block slots (an upload or a URL we fetch)."""

    __tablename__ = "external_calendars"
    __table_args__ = (
        CheckConstraint("source IN ('upload', 'url')", name="known_source"),
        CheckConstraint("status IN ('pending', 'ok', 'failing')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ics_data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """An upload's file, kept so the periodic job can read it again as the horizon rolls."""
    notes: Mapped[str] = mapped_column(Text, server_default="")
    """What the last read left out and why (events without a start, an unknown zone)."""
    expanded_until: Mapped[datetime | None]
    """Busy times are stored up to here; the periodic job moves it forward."""


class BusyTime(Base):
    """An imported busy interval; only times are kept, never titles (privacy)."""

    __tablename__ = "busy_times"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="order"),
        Index("ix_busy_times_tutor_starts", "tutor_id", "starts_at"),
        UniqueConstraint("calendar_id", "starts_at", "ends_at", name="uq_busy_times_interval"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("external_calendars.id", ondelete="CASCADE")
    )
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
