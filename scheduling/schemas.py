"""Request and response shapes for scheduling (msgspec structs; Litestar documents them)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class SlotOut(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime


class SlotsOut(msgspec.Struct):
    tutor_id: int
    duration_minutes: int
    time_zone: str
    """The tutor's zone; times are UTC, show them in the viewer's zone."""
    slots: list[SlotOut]


class BookingIn(msgspec.Struct, forbid_unknown_fields=True):
    tutor_id: int
    starts_at: datetime
    duration_minutes: int


class SeriesIn(BookingIn, forbid_unknown_fields=True):
    weeks: int


class PersonOut(msgspec.Struct):
    id: int
    name: str


class RescheduleOut(msgspec.Struct):
    id: int
    requested_by: int
    starts_at: datetime
    ends_at: datetime
    status: str


class BookingOut(msgspec.Struct):
    id: int
    status: str
    tutor: PersonOut
    student: PersonOut
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    price_minor: int
    currency: str
    tutor_time_zone: str
    hold_expires_at: datetime | None
    series_id: str | None
    cancelled_by: str | None
    cancel_reason: str
    refund_minor: int | None
    reschedule: RescheduleOut | None
    trial: bool = False
    """Priced at the tutor's trial price (a first lesson together)."""


class CancelIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = ""


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    event: str
    reason: str = ""


class RefundQuoteOut(msgspec.Struct):
    event: str
    refund_minor: int
    currency: str
    free_until: datetime
    reason: str


class RescheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime


class WindowIO(msgspec.Struct, forbid_unknown_fields=True):
    weekday: str
    """MO, TU, WE, TH, FR, SA or SU."""
    start: str
    """Local 24-hour time, "09:00"."""
    end: str
    """Local 24-hour time, "17:30" ("24:00" for midnight)."""


class WeeklyIn(msgspec.Struct, forbid_unknown_fields=True):
    windows: list[WindowIO]
    time_zone: str | None = None
    """Defaults to the tutor's account zone."""


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    date: date
    kind: str
    """``available`` (extra hours) or ``unavailable`` (hours off; no times: the whole day)."""
    start: str | None = None
    end: str | None = None


class OverrideOut(msgspec.Struct):
    id: int
    date: date
    kind: str
    start: str | None
    end: str | None
    time_zone: str


class TimeOffIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime
    ends_at: datetime
    reason: str = ""


class TimeOffOut(msgspec.Struct):
    id: int
    starts_at: datetime
    ends_at: datetime
    reason: str


class RulesIO(msgspec.Struct, forbid_unknown_fields=True):
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 720
    booking_window_days: int = 60
    max_lessons_per_day: int | None = None
    slot_granularity_minutes: int = 30
    free_cancel_hours: int = 24
    late_cancel_refund_percent: int = 0


class AvailabilityOut(msgspec.Struct):
    time_zone: str
    windows: list[WindowIO]
    rrules: list[str]
    """The weekly windows as iCalendar (DTSTART;TZID=... and RRULE lines)."""
    overrides: list[OverrideOut]
    time_off: list[TimeOffOut]
    rules: RulesIO
    durations: list[int]
    """Lesson lengths offered: the tutor's prices (edit them in the profile)."""


class FeedOut(msgspec.Struct):
    active: bool
    url: str | None
    """Shown once, when created; only a hash is kept."""
    created_at: datetime | None


class CalendarIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    url: str


class CalendarOut(msgspec.Struct):
    id: int
    name: str
    source: str
    url: str | None
    status: str
    """``pending`` until the first read, then ``ok`` or ``failing`` (see ``last_error``)."""
    last_error: str
    notes: str
    """What the last read left out and why: events without a start, an unknown time zone."""
    last_success_at: datetime | None
    expanded_until: datetime | None
    """Busy times are known up to here; a daily job moves it forward."""
    busy_count: int
