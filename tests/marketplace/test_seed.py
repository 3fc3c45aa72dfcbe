from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.accounts.models import User
from marketplace.accounts.passwords import verify_password
from marketplace.profiles.models import TutorProfile
from marketplace.seed.load import ADMIN_EMAIL, DEMO_PASSWORD, seed_demo


async def test_seed_is_idempotent_and_prints_working_logins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    progress: list[tuple[int, int]] = []
    first = await seed_demo(
        sessions, "EUR", tutor_count=30, progress=lambda d, t: progress.append((d, t))
    )
    assert first.created_tutors == 30 and first.created_admin
    assert progress[-1] == (30, 30)
    second = await seed_demo(sessions, "EUR", tutor_count=30)
    assert second.created_tutors == 0 and second.created_students == 0
    assert not second.created_admin
    async with sessions() as session:
        tutors = await session.scalar(
            select(func.count()).select_from(TutorProfile).where(TutorProfile.status == "approved")
        )
        assert tutors == 30
        admin = await session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        assert admin is not None and "admin" in admin.roles
        for _role, email, password in first.logins:
            user = await session.scalar(select(User).where(User.email == email))
            assert user is not None and verify_password(user.password_hash, password)
    assert password == DEMO_PASSWORD
