"""Demo lesson: a confirmed lesson of the first demo tutor and the first demo student whose room
is open, renewed on every ``duet run`` and ``duet seed-demo``, so two browsers can try the room.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.profiles.models import LessonPrice, TutorProfile
from marketplace.seed.demo_data import demo_students, demo_tutors
from marketplace.seed.load import DEMO_PASSWORD
from scheduling import lifecycle
from scheduling.lifecycle import Actor, State
from scheduling.models import Booking, BookingTransition

STARTS_IN = timedelta(minutes=5)


async def seed_demo_lesson(session: AsyncSession, tutor_ids: list[int]) -> Sequence[str]:
    tutor = await session.scalar(select(User).where(User.email == demo_tutors(1)[0].email))
    student = await session.scalar(select(User).where(User.email == demo_students()[0].email))
    if tutor is None or student is None:
        return []
    now = datetime.now(UTC)
    booking = await session.scalar(
        select(Booking)
        .where(
            Booking.tutor_id == tutor.id,
            Booking.student_id == student.id,
            Booking.status == State.CONFIRMED.value,
            Booking.ends_at > now + timedelta(minutes=15),
        )
        .order_by(Booking.starts_at)
        .limit(1)
    )
    if booking is None:
        booking = await _new_lesson(session, tutor, student, now)
    if booking is None:
        return ["Demo lesson: the demo tutor and student are busy now; none was added."]
    return [
        f"Demo lesson #{booking.id}: {tutor.full_name} ({tutor.email}) teaches "
        f"{student.full_name} ({student.email}), password {DEMO_PASSWORD}; it starts at "
        f"{booking.starts_at:%H:%M} UTC and its room is open now: log in as each in two "
        f"browsers and open /lessons/{booking.id}",
    ]


async def _new_lesson(
    session: AsyncSession, tutor: User, student: User, now: datetime
) -> Booking | None:
    prices = dict(
        (
            await session.execute(
                select(LessonPrice.duration_minutes, LessonPrice.price_minor).where(
                    LessonPrice.tutor_id == tutor.id
                )
            )
        ).all()
    )
    if not prices:
        return None
    duration = min(prices, key=lambda d: abs(d - 60))
    start = (now + STARTS_IN).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=duration)
    live = (State.HELD.value, State.CONFIRMED.value)
    clash = await session.scalar(
        select(Booking.id).where(
            (Booking.tutor_id == tutor.id) | (Booking.student_id == student.id),
            Booking.status.in_(live),
            Booking.blocked.overlaps(Range(start, end, bounds="[)")),
        )
    )
    if clash is not None:
        return None
    booking = Booking(
        tutor_id=tutor.id,
        student_id=student.id,
        status=State.HELD.value,
        starts_at=start,
        ends_at=end,
        period=Range(start, end, bounds="[)"),
        blocked=Range(start, end, bounds="[)"),
        duration_minutes=duration,
        price_minor=prices[duration],
        currency=await session.scalar(
            select(TutorProfile.currency).where(TutorProfile.user_id == tutor.id)
        )
        or "EUR",
        tutor_time_zone=tutor.time_zone,
        hold_expires_at=now + lifecycle.HOLD_DURATION,
        sequence=0,
        cancel_reason="",
    )
    session.add(booking)
    await session.flush()
    session.add(
        BookingTransition(
            booking_id=booking.id,
            event=lifecycle.HOLD.event,
            from_status="",
            to_status=State.HELD.value,
            actor=Actor.STUDENT.value,
            actor_id=student.id,
        )
    )
    # Demo data without payment: the hold is confirmed through the lifecycle as payments would
    # after a successful charge (not as an admin, whose decisions go to the audit trail).
    # Nothing is charged and no payment record exists.
    await lifecycle.transition(session, booking, "confirm", Actor.PAYMENT, now=now)
    return booking
