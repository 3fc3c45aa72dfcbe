"""Demo availability: believable weekly hours for demo tutors, so a student can book one."""

from __future__ import annotations

import random
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from scheduling.availability import Window, parse_clock, rules_from_windows
from scheduling.models import AvailabilityRule, BookingRules

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
# (weekday windows, weekend windows): after-work teachers, full-timers, morning people.
PATTERNS = [
    ([("16:00", "21:00")], [("10:00", "14:00")]),
    ([("09:00", "12:00"), ("14:00", "19:00")], []),
    ([("08:00", "13:00")], [("09:00", "12:00")]),
    ([("12:00", "20:00")], [("15:00", "19:00")]),
]


async def seed_availability(session: AsyncSession, tutor_ids: list[int]) -> None:
    """Weekly windows and booking rules for every demo tutor that has none yet."""
    have = set(
        await session.scalars(
            select(AvailabilityRule.tutor_id).where(AvailabilityRule.tutor_id.in_(tutor_ids))
        )
    )
    zones = dict(
        (await session.execute(select(User.id, User.time_zone).where(User.id.in_(tutor_ids)))).all()
    )
    for tutor_id in sorted(set(tutor_ids) - have):
        rng = random.Random(tutor_id)  # noqa: S311 - demo data: the same hours on every run
        weekday_windows, weekend_windows = rng.choice(PATTERNS)
        days = [d for d in WEEKDAYS if rng.random() > 0.2] or ["WE"]
        weekend = ["SA"] if weekend_windows and rng.random() > 0.3 else []
        windows = [
            Window(day, clock(start), clock(end))
            for day_list, spans in ((days, weekday_windows), (weekend, weekend_windows))
            for day in day_list
            for start, end in spans
        ]
        session.add_all(rules_from_windows(tutor_id, windows, zones.get(tutor_id, "UTC")))
        if await session.get(BookingRules, tutor_id) is None:
            session.add(
                BookingRules(
                    tutor_id=tutor_id,
                    buffer_before_minutes=0,
                    buffer_after_minutes=rng.choice((0, 10, 15)),
                    min_notice_minutes=rng.choice((120, 720, 1440)),
                    booking_window_days=60,
                    max_lessons_per_day=rng.choice((None, 4, 6)),
                    slot_granularity_minutes=30,
                    free_cancel_hours=24,
                    late_cancel_refund_percent=rng.choice((0, 50)),
                )
            )
    await session.flush()


def clock(text: str) -> time:
    parsed = parse_clock(text, allow_midnight_end=True)
    assert parsed is not None
    return parsed
