"""Demo tutors get weekly hours, so a student can book one on the embedded default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.app import demo_extras
from marketplace.seed.load import seed_demo
from payouts import accounts as payout_accounts
from scheduling import service
from scheduling.models import AvailabilityRule


async def test_demo_tutors_have_open_slots(sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions, "EUR", tutor_count=6, extras=demo_extras())
    await seed_demo(sessions, "EUR", tutor_count=6, extras=demo_extras())  # idempotent
    async with sessions() as session:
        tutors = list(await session.scalars(select(AvailabilityRule.tutor_id).distinct()))
        assert len(tutors) == 6
        rules = await session.scalar(select(func.count()).select_from(AvailabilityRule))
        now = datetime.now(UTC)
        found = 0
        for tutor_id in tutors:
            _, open_slots = await service.open_slots(
                session, tutor_id, now, now + timedelta(days=14), None, now
            )
            found += len(open_slots)
    assert rules and rules <= 6 * 4
    assert found > 6 * 10
    async with sessions() as session:
        # Bookable: every demo tutor has a demo payout account that may receive payouts.
        assert await payout_accounts.payout_ready(session, tutors) == set(tutors)
