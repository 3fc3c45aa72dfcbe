"""The demo student has asked the demo tutor something before booking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marketplace.accounts.models import User
from marketplace.app import demo_extras
from marketplace.messaging import service
from marketplace.messaging.models import Conversation, Message
from marketplace.seed.load import seed_demo


async def test_demo_conversation(sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await seed_demo(sessions, "EUR", tutor_count=3, extras=demo_extras())
    await seed_demo(sessions, "EUR", tutor_count=3, extras=demo_extras())  # idempotent
    logins = {role: email for role, email, _ in reversed(result.logins)}
    async with sessions() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1
        student = await session.get(User, conversation.student_id)
        tutor = await session.get(User, conversation.tutor_id)
        assert student is not None and tutor is not None
        # Both sides of it can log in with the printed demo credentials.
        assert student.email == logins["student"] and tutor.email == logins["tutor"]
        messages = list(await session.scalars(select(Message).order_by(Message.seq)))
        assert [m.seq for m in messages] == [1, 2, 3, 4]
        assert "don't read music" in messages[0].body
        assert messages[1].body_html.count("<strong>") == 1
        assert await service.unread_total(session, tutor.id) == 1
        assert await service.unread_total(session, student.id) == 0
