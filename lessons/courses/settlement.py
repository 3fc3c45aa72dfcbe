"""Paying the tutor for a course sale: once, after the order's refund window.

The periodic job ``lessons.settle_course_orders`` looks for paid orders whose refund window has
passed and records the tutor's transfer through ``payouts.settlement.settle_item`` (one
transfer per payment line, under a unique constraint; the provider call happens in a job with
the transfer's id as idempotency key). Each order settles in its own transaction with the
payment and the order locked, so two runs at once, or a run racing a student's refund request,
settle once or refund once, never both. A disputed payment waits (the dispute decides); a
fully refunded one has nothing to send.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.models import CourseOrder, OrderStatus
from lessons.courses.orders import ITEM
from payouts import settlement
from payouts.models import Payment

logger = logging.getLogger(__name__)
SETTLE_TASK = "lessons.settle_course_orders"
BATCH = 200


async def due_orders(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[int]:
    return list(
        await session.scalars(
            select(CourseOrder.id)
            .where(
                CourseOrder.status == OrderStatus.PAID.value,
                CourseOrder.settled_at.is_(None),
                CourseOrder.refundable_until <= now,
            )
            .order_by(CourseOrder.refundable_until)
            .limit(limit)
        )
    )


async def settle_order(session: AsyncSession, order_id: int, now: datetime) -> str:
    """Record the tutor's share of one order if it is due (idempotent)."""
    order = await session.get(CourseOrder, order_id)
    if order is None or order.payment_id is None:
        return "missing"
    # Locks in the order used everywhere: payment, order, enrolment.
    await session.get(Payment, order.payment_id, with_for_update=True)
    await session.refresh(order, with_for_update=True)
    if order.settled_at is not None:
        return "already settled"
    if order.status != OrderStatus.PAID.value:
        return f"not settled: the order is {order.status}"
    if order.refundable_until is None or order.refundable_until > now:
        return "not due"
    transfer = await settlement.settle_item(session, ITEM, order.id)
    if transfer is None and await settlement.open_dispute(session, order.payment_id):
        return "waits for the dispute"
    order.settled_at = now
    return "settled" if transfer is not None else "nothing to transfer"
