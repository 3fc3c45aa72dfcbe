"""Who may be in a lesson's room, and when.

The room of a booked lesson is open from ``ROOM_OPENS_MINUTES`` before its start until
``ROOM_CLOSES_MINUTES`` after its end, while the booking is confirmed (or completed by the clock:
the timed ``complete`` fires at the end, and people who run a few minutes over may still rejoin).
It closes for good when the tutor ends the lesson (``end_lesson``) or the booking is cancelled.
Only the lesson's tutor and student may join; an admin may observe when ``ROOM_ADMIN_OBSERVE``
is on. The video package asks here and never decides this itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Forbidden, NotFound
from marketplace.settings import SchedulingSettings
from marketplace.wording import plural
from scheduling.lifecycle import State
from scheduling.models import Booking, BookingTransition

# The event that ends a lesson from the room; afterwards the room stays closed.
END_EVENT = "end_lesson"


class RoomRole(StrEnum):
    TUTOR = "tutor"
    STUDENT = "student"
    OBSERVER = "observer"  # an admin: receives both sides, sends nothing


class RoomState(StrEnum):
    NOT_YET = "not_yet"  # confirmed, the window has not opened
    OPEN = "open"
    CLOSED = "closed"  # the window passed, the tutor ended it, or the lesson is off
    UNAVAILABLE = "unavailable"  # not confirmed (an unpaid hold): no room


@dataclass(frozen=True)
class RoomWindow:
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class RoomPass:
    """What the room needs to know about one person allowed in, detached from the session."""

    booking_id: int
    user_id: int
    role: RoomRole
    tutor_id: int
    student_id: int
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime


class RoomNotOpen(Forbidden):
    code = "room_not_open"


class RoomClosed(Forbidden):
    code = "room_closed"


def room_window(booking: Booking, settings: SchedulingSettings) -> RoomWindow:
    return RoomWindow(
        opens_at=booking.starts_at - timedelta(minutes=settings.room_opens_minutes),
        closes_at=booking.ends_at + timedelta(minutes=settings.room_closes_minutes),
    )


def room_state(
    booking: Booking, *, ended_by_tutor: bool, now: datetime, settings: SchedulingSettings
) -> RoomState:
    """Pure: the state of a booking's room at ``now``."""
    window = room_window(booking, settings)
    if booking.status == State.HELD.value:
        return RoomState.UNAVAILABLE
    if booking.status == State.CONFIRMED.value or (
        booking.status == State.COMPLETED.value and not ended_by_tutor
    ):
        if now < window.opens_at:
            return RoomState.NOT_YET
        if now < window.closes_at:
            return RoomState.OPEN
    return RoomState.CLOSED


async def ended_by_tutor(session: AsyncSession, booking: Booking) -> bool:
    if booking.status != State.COMPLETED.value:
        return False
    last = await session.scalar(
        select(BookingTransition.event)
        .where(BookingTransition.booking_id == booking.id)
        .order_by(BookingTransition.id.desc())
        .limit(1)
    )
    return last == END_EVENT


async def current_state(
    session: AsyncSession, booking: Booking, now: datetime, settings: SchedulingSettings
) -> RoomState:
    return room_state(
        booking,
        ended_by_tutor=await ended_by_tutor(session, booking),
        now=now,
        settings=settings,
    )


def role_of(booking: Booking, user_id: int, *, is_admin: bool, admin_observe: bool) -> RoomRole:
    if user_id == booking.tutor_id:
        return RoomRole.TUTOR
    if user_id == booking.student_id:
        return RoomRole.STUDENT
    if is_admin and admin_observe:
        return RoomRole.OBSERVER
    raise Forbidden("Only this lesson's tutor and student may join its room.", code="not_in_lesson")


async def room_pass(
    session: AsyncSession,
    booking_id: int,
    *,
    user_id: int,
    is_admin: bool,
    now: datetime,
    settings: SchedulingSettings,
) -> RoomPass:
    """Let ``user_id`` into the room of ``booking_id`` now, or raise 404/403 saying why not."""
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such lesson.", code="booking_not_found")
    role = role_of(booking, user_id, is_admin=is_admin, admin_observe=settings.room_admin_observe)
    state = await current_state(session, booking, now, settings)
    window = room_window(booking, settings)
    if state is RoomState.NOT_YET:
        minutes = settings.room_opens_minutes
        raise RoomNotOpen(
            f"The lesson room opens {plural(minutes, 'minute')} before the lesson, at "
            f"{window.opens_at.isoformat()}.",
            fields={"opens_at": window.opens_at.isoformat()},
        )
    if state is RoomState.UNAVAILABLE:
        raise Forbidden(
            "This lesson is not confirmed yet, so it has no room.", code="lesson_not_confirmed"
        )
    if state is RoomState.CLOSED:
        raise RoomClosed("This lesson's room is closed.", fields={"status": booking.status})
    return RoomPass(
        booking_id=booking.id,
        user_id=user_id,
        role=role,
        tutor_id=booking.tutor_id,
        student_id=booking.student_id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        opens_at=window.opens_at,
        closes_at=window.closes_at,
    )
