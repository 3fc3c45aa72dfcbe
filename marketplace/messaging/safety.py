"""Blocking between two people (no messages, no bookings) and contact-detail reminders."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Exists, and_, delete, exists, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.errors import NotFound, ValidationFailed
from marketplace.messaging.models import Block


def blocked_either_way(a: int | ColumnElement[int], b: int | ColumnElement[int]) -> Exists:
    """True when either of the two has blocked the other, as a clause other statements embed."""
    return exists().where(
        or_(
            and_(Block.blocker_id == a, Block.blocked_id == b),
            and_(Block.blocker_id == b, Block.blocked_id == a),
        )
    )


async def is_blocked(session: AsyncSession, a: int, b: int) -> bool:
    """Whether either of the two has blocked the other."""
    return bool(await session.scalar(select(blocked_either_way(a, b))))


async def blocked_by_me(session: AsyncSession, me: int, other: int) -> bool:
    return (
        await session.scalar(
            select(exists().where(Block.blocker_id == me, Block.blocked_id == other))
        )
    ) is True


async def block(session: AsyncSession, me: int, other: int) -> None:
    """Block ``other`` (idempotent)."""
    if me == other:
        raise ValidationFailed({"user_id": "You cannot block yourself."})
    if await session.get(User, other) is None:
        raise NotFound("No such person.", code="user_not_found")
    await session.execute(
        insert(Block).values(blocker_id=me, blocked_id=other).on_conflict_do_nothing()
    )


async def unblock(session: AsyncSession, me: int, other: int) -> None:
    """Lift a block ``me`` placed (a block the other placed stays theirs to lift)."""
    result = await session.execute(
        delete(Block).where(Block.blocker_id == me, Block.blocked_id == other)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("You have not blocked this person.", code="block_not_found")


async def blocks_of(session: AsyncSession, me: int) -> list[tuple[Block, str]]:
    rows = await session.execute(
        select(Block, User.full_name)
        .join(User, User.id == Block.blocked_id)
        .where(Block.blocker_id == me)
        .order_by(Block.created_at.desc())
    )
    return [(row[0], row[1]) for row in rows]
