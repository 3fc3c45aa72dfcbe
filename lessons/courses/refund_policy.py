"""A student's own refund of a course they bought.

The rule: within the order's refund window (``COURSE_REFUND_DAYS`` after paying, 14 by
default, fixed when the order opened), while the student has used less than
``COURSE_REFUND_MAX_PROGRESS`` percent of the course (20 by default) and holds no certificate
for it, the student may ask for their money back once per course. An item counts as used when
it is completed or when its media was downloaded or played (``media_grant``), counted once per
item, over the same items as progress (the required ones, or all when none is required): a
course downloaded whole cannot be refunded. The refund is in full and ends the enrolment
(payments tell the course kind, which ends the access in the same transaction). The window
ends when the tutor's share is settled, so a refund on request never needs a transfer reversal;
refunds after that are an admin's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons import progress
from lessons.certificates.models import Certificate
from lessons.courses import service
from lessons.courses.models import (
    CourseOrder,
    Enrolment,
    EnrolmentSource,
    ItemProgress,
    OrderStatus,
)
from lessons.courses.orders import ITEM
from marketplace.errors import Conflict, NotFound
from payouts import refunds
from payouts.models import Payment

REASON = "Refund requested by the student within the refund window."


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"


@dataclass(frozen=True)
class RefundOffer:
    """Whether the student may ask for a refund now, until when, or why not."""

    allowed: bool
    until: datetime | None
    reason: str
    order_id: int | None


async def paid_order_of(session: AsyncSession, enrolment: Enrolment) -> CourseOrder | None:
    """The order whose payment granted this enrolment (None for free or admin enrolments)."""
    if enrolment.source != EnrolmentSource.PURCHASE.value or not enrolment.reference.isdigit():
        return None
    return await session.scalar(
        select(CourseOrder).where(
            CourseOrder.payment_id == int(enrolment.reference),
            CourseOrder.course_id == enrolment.course_id,
            CourseOrder.student_id == enrolment.student_id,
        )
    )


async def used_percent(session: AsyncSession, enrolment: Enrolment) -> int:
    """The share of the course's counted items completed or fetched (downloaded, played)."""
    course = await service.load_course(session, enrolment.course_id)
    plan = await service.outline(session, course)
    used = set(
        await session.scalars(
            select(ItemProgress.item_id).where(
                ItemProgress.enrolment_id == enrolment.id,
                or_(
                    ItemProgress.completed_at.is_not(None),
                    ItemProgress.media_fetched_at.is_not(None),
                ),
            )
        )
    )
    return progress.percent(plan, used)


async def offer(
    session: AsyncSession, enrolment: Enrolment, max_progress: int, now: datetime
) -> RefundOffer:
    order = await paid_order_of(session, enrolment)
    if order is None or not enrolment.active:
        return RefundOffer(False, None, "Only a course you bought can be refunded.", None)

    def no(reason: str) -> RefundOffer:
        return RefundOffer(False, order.refundable_until, reason, order.id)

    if order.status != OrderStatus.PAID.value:
        return no("This purchase cannot be refunded any more.")
    if order.settled_at is not None or order.refundable_until is None:
        return no("The refund window has ended.")
    if now >= order.refundable_until:
        return no("The refund window has ended.")
    if enrolment.progress_percent >= max_progress:
        return no(f"You have completed {max_progress}% or more of the course.")
    used = await used_percent(session, enrolment)
    if used >= max_progress:
        return no(
            f"You have downloaded, played or completed {used}% of the course; a course can be "
            f"refunded only while less than {max_progress}% of it is used."
        )
    certificate = await session.scalar(
        select(Certificate.id).where(Certificate.enrolment_id == enrolment.id)
    )
    if certificate is not None:
        return no("You have a certificate for this course.")
    asked_before = await session.scalar(
        select(CourseOrder.id).where(
            CourseOrder.course_id == order.course_id,
            CourseOrder.student_id == order.student_id,
            CourseOrder.refund_requested_at.is_not(None),
        )
    )
    if asked_before is not None:
        return no("You have had a refund for this course before.")
    return RefundOffer(True, order.refundable_until, "", order.id)


async def request_refund(
    session: AsyncSession, course_id: int, student_id: int, max_progress: int, now: datetime
) -> CourseOrder:
    """Refund the student's purchase in full and end the enrolment, if the rule allows it:
    409 ``refund_not_allowed`` (with the reason) otherwise, 404 ``not_enrolled``."""
    enrolment = await session.scalar(
        select(Enrolment).where(
            Enrolment.course_id == course_id,
            Enrolment.student_id == student_id,
            Enrolment.ended_at.is_(None),
        )
    )
    order = await paid_order_of(session, enrolment) if enrolment else None
    if enrolment is None or order is None:
        raise NotFound("You have no purchase of this course to refund.", code="not_enrolled")
    # Locks in the order used everywhere: payment, order, enrolment.
    assert order.payment_id is not None
    await session.get(Payment, order.payment_id, with_for_update=True)
    await session.refresh(order, with_for_update=True)
    await session.refresh(enrolment, with_for_update=True)
    decision = await offer(session, enrolment, max_progress, now)
    if not decision.allowed:
        raise RefundNotAllowed(decision.reason)
    order.refund_requested_at = now
    refund = await refunds.refund_item(
        session,
        ITEM,
        order.id,
        order.price_minor,
        reason=REASON,
        initiated_by="policy",
        actor_id=student_id,
    )
    if refund is None:  # nothing left to refund (an admin refunded it meanwhile)
        raise RefundNotAllowed("This purchase has been refunded already.")
    return order
