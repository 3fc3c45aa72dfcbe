"""What messaging needs to know about bookings, behind a port.

Bookings belong to scheduling, which sits above the kernel, so the kernel cannot query them.
``BookingFacts`` is the question messaging asks; scheduling answers it
(``scheduling/messaging_facts.py``) and the composition root (``marketplace/app.py``) plugs the
answer in. A provider (not an event-fed copy) because the answer must be right inside the same
transaction as the message it decides about, with no lag and nothing to backfill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class BookingRef:
    """A lesson as a conversation shows it."""

    id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    link: str


class BookingFacts(Protocol):
    async def have_booked(self, session: AsyncSession, student_id: int, tutor_id: int) -> bool:
        """Whether the pair has a booking that was confirmed (paid) at some point."""
        ...

    async def bookings_between(
        self, session: AsyncSession, student_id: int, tutor_id: int, ids: Sequence[int] = ()
    ) -> list[BookingRef]:
        """The pair's bookings (all of them, or only ``ids``), newest first."""
        ...


class NoBookings:
    """For a kernel without scheduling (tools, some tests): nobody has booked anybody."""

    async def have_booked(self, session: AsyncSession, student_id: int, tutor_id: int) -> bool:
        return False

    async def bookings_between(
        self, session: AsyncSession, student_id: int, tutor_id: int, ids: Sequence[int] = ()
    ) -> list[BookingRef]:
        return []
