"""Scheduling's answer to the kernel's ``BookingFacts`` port (wired in ``marketplace/app.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.messaging.bookings import BookingRef
from scheduling.lifecycle import State
from scheduling.models import Booking, BookingTransition


class SchedulingBookingFacts:
    async def have_booked(self, session: AsyncSession, student_id: int, tutor_id: int) -> bool:
        """A booking of the pair (either way round) that reached ``confirmed`` at some point."""
        pair = ((Booking.student_id == student_id) & (Booking.tutor_id == tutor_id)) | (
            (Booking.student_id == tutor_id) & (Booking.tutor_id == student_id)
        )
        found = await session.scalar(
            select(
                exists()
                .where(pair)
                .where(
                    exists().where(
                        BookingTransition.booking_id == Booking.id,
                        BookingTransition.to_status == State.CONFIRMED.value,
                    )
                )
            )
        )
        return bool(found)

    async def bookings_between(
        self, session: AsyncSession, student_id: int, tutor_id: int, ids: Sequence[int] = ()
    ) -> list[BookingRef]:
        pair = ((Booking.student_id == student_id) & (Booking.tutor_id == tutor_id)) | (
            (Booking.student_id == tutor_id) & (Booking.tutor_id == student_id)
        )
        query = select(Booking).where(pair).order_by(Booking.starts_at.desc()).limit(50)
        if ids:
            query = query.where(Booking.id.in_(list(ids)))
        return [
            BookingRef(b.id, b.starts_at, b.ends_at, b.status, f"/lessons/{b.id}")
            for b in await session.scalars(query)
        ]
