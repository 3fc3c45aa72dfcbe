"""What scheduling tells an account deletion: lessons still to come, and lessons whose money is
not settled yet, each with what to do (and, for a student, the refund cancelling gives now)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.models import User
from marketplace.money import format_money
from marketplace.privacy.blockers import Blocker
from scheduling import policy
from scheduling.availability import cancel_policy
from scheduling.lifecycle import State
from scheduling.models import Booking, BookingRules

UNSETTLED = (State.COMPLETED.value, State.DISPUTED.value)
"""Lessons whose payment is not final: the tutor's transfer or a dispute is still to come."""


async def deletion_blockers(session: AsyncSession, user_id: int) -> list[Blocker]:
    now = datetime.now(UTC)
    user = await session.get(User, user_id)
    zone = ZoneInfo(user.time_zone if user else "UTC")
    mine = or_(Booking.student_id == user_id, Booking.tutor_id == user_id)
    found: list[Blocker] = []
    upcoming = await session.scalars(
        select(Booking)
        .where(
            mine,
            Booking.status.in_((State.HELD.value, State.CONFIRMED.value)),
            Booking.ends_at > now,
        )
        .order_by(Booking.starts_at)
    )
    for booking in upcoming:
        when = booking.starts_at.astimezone(zone).strftime("%d %b %Y, %H:%M")
        price = format_money(booking.price_minor, booking.currency)
        if booking.tutor_id == user_id:
            what = (
                f"Your lesson on {when} is booked. Cancel it first: your student gets "
                f"the full {price} back."
            )
        elif booking.status == State.HELD.value:
            what = (
                f"Your lesson on {when} is waiting for payment. Cancel it first (nothing was paid)."
            )
        else:
            rules = await session.get(BookingRules, booking.tutor_id)
            quote = policy.quote(
                "student_cancel",
                status=booking.status,
                price_minor=booking.price_minor,
                starts_at=booking.starts_at,
                now=now,
                policy=cancel_policy(rules) if rules else policy.Policy(),
            )
            back = format_money(quote.refund_minor, booking.currency)
            what = (
                f"Your lesson on {when} is paid. Cancel it first: under the cancellation "
                f"policy you get {back} of {price} back."
            )
        found.append(Blocker("future_lesson", what, f"/lessons/{booking.id}"))
    waiting = await session.scalar(
        select(Booking.id).where(mine, Booking.status.in_(UNSETTLED)).limit(1)
    )
    if waiting is not None:
        found.append(
            Blocker(
                "unsettled_lesson",
                "A past lesson's payment is not settled yet (the dispute window, or a "
                "dispute, is still open). You can delete your account once it is: usually "
                "within two days of the lesson.",
                "/lessons",
            )
        )
    return found
