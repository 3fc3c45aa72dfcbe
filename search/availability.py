"""What the index knows about a tutor's free time, from scheduling's real slot computation.

``next_free_at`` is the start of the tutor's first open slot (availability − bookings and holds
− buffers − busy times − time off, after the notice, inside the booking window, under the
daily cap) for the shortest lesson they offer: any longer lesson that fits also leaves room
for the shortest at the same start, so that is the earliest start of any lesson. It is
searched for up to ``HORIZON_DAYS`` ahead (the longest "free within" a student can ask for);
a tutor with nothing open in that time has none.

``free_half_hours`` number the half-hours in which such a slot starts during the next
``buckets.WINDOW_DAYS`` days (see ``search.buckets``).

Search sits above scheduling in the dependency graph, so it reads scheduling directly, for a
whole batch of tutors in the same handful of queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from scheduling import slots
from scheduling.availability import load_calendars
from search import buckets
from search.query import MAX_FREE_WITHIN_DAYS

HORIZON_DAYS = MAX_FREE_WITHIN_DAYS


@dataclass(frozen=True)
class FreeTime:
    next_free_at: datetime | None = None
    free_half_hours: tuple[int, ...] = ()


async def free_time(
    session: AsyncSession, durations: Mapping[int, Sequence[int]], now: datetime
) -> dict[int, FreeTime]:
    """Free time of each tutor in ``durations`` (tutor id → the lesson lengths they offer)."""
    offered = {tutor_id: min(d) for tutor_id, d in durations.items() if d}
    if not offered:
        return {}
    zones = dict(
        (await session.execute(select(User.id, User.time_zone).where(User.id.in_(offered)))).all()
    )
    end = now + timedelta(days=HORIZON_DAYS)
    calendars = await load_calendars(session, zones, now, end)
    return {
        tutor_id: summarise(calendar, offered[tutor_id], now)
        for tutor_id, calendar in calendars.items()
    }


def summarise(calendar: slots.Calendar, duration: int, now: datetime) -> FreeTime:
    """The first open slot and the half-hours with open slot starts, for one tutor."""
    soon_end = now + timedelta(days=buckets.WINDOW_DAYS)
    soon = slots.open_slots(calendar, now, soon_end, duration, now)
    first: datetime | None
    if soon:
        first = soon[0][0]
    else:
        horizon = now + timedelta(days=HORIZON_DAYS)
        later = slots.open_slots(calendar, soon_end, horizon, duration, now)
        first = later[0][0] if later else None
    return FreeTime(next_free_at=first, free_half_hours=buckets.free_half_hours(s for s, _ in soon))
