"""Buying a course: one order per purchase attempt, priced by the server, paid through the
generic checkout in ``payouts``.

"Buy" opens (or reuses) the student's open order for the course, then asks
``payouts.checkout.start`` for its payment. The order is what payments address (its id is the
payment's reference and its only line), so settlement, refunds and disputes reach exactly one
student's purchase. The price and currency are the course's when the order opens; a student
has at most one open order per course (a partial unique index), and its payment is unique per
order in ``payouts``, so two clicks at once end on one order and one payment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.enrolment import AlreadyEnrolled, enrolment_of
from lessons.courses.models import Course, CourseOrder, OrderStatus
from lessons.courses.service import load_course, tutor_is_approved, tutor_name
from marketplace.errors import Conflict, NotFound
from payouts import accounts, checkout
from payouts.models import OPEN_PAYMENT_STATES, Payment
from payouts.purchases import Line, Purchase
from payouts.runtime import Payments

COURSE = "course"  # the purchase kind
ITEM = "course_order"  # its one line: the order
_OPEN_PAYMENTS = [s.value for s in OPEN_PAYMENT_STATES]


class CourseIsFree(Conflict):
    code = "course_free"


class OwnCourse(Conflict):
    code = "own_course"


class PriceChanged(Conflict):
    code = "price_changed"


class OrderClosed(Conflict):
    code = "order_closed"


async def check_buyable(session: AsyncSession, course: Course, student_id: int) -> None:
    """Raise the refusal a student gets for "Buy" on this course, if any."""
    if not course.is_published or not await tutor_is_approved(session, course.tutor_id):
        raise NotFound("This course is not published.", code="course_not_found")
    if course.tutor_id == student_id:
        raise OwnCourse("You cannot buy your own course.")
    if course.is_free:
        raise CourseIsFree("This course is free: enrol instead.")
    if await enrolment_of(session, course.id, student_id) is not None:
        raise AlreadyEnrolled("You are already enrolled in this course.")
    if not await accounts.can_receive_payouts(session, course.tutor_id):
        raise accounts.PayoutsNotEnabled(
            "This course cannot be bought yet: its tutor's payout account is not set up."
        )


def same_terms(order: CourseOrder, course: Course) -> bool:
    return (order.price_minor, order.currency, order.tutor_id) == (
        course.price_minor,
        course.currency,
        course.tutor_id,
    )


async def open_order(
    session: AsyncSession, course: Course, student_id: int, refund_days: int
) -> CourseOrder:
    """The student's open order for the course at today's price (reused, or made now)."""
    current = await session.scalar(
        select(CourseOrder)
        .where(
            CourseOrder.course_id == course.id,
            CourseOrder.student_id == student_id,
            CourseOrder.status == OrderStatus.OPEN.value,
        )
        .with_for_update()
    )
    if current is not None:
        if same_terms(current, course):
            return current
        await close_order(session, current, "The course's price changed before it was paid.")
    order_id = await session.scalar(
        insert(CourseOrder)
        .values(
            course_id=course.id,
            student_id=student_id,
            tutor_id=course.tutor_id,
            title=course.title[:140],
            price_minor=course.price_minor,
            currency=course.currency,
            status=OrderStatus.OPEN.value,
            refund_days=refund_days,
        )
        .on_conflict_do_nothing(
            index_elements=["course_id", "student_id"],
            index_where=CourseOrder.status == OrderStatus.OPEN.value,
        )
        .returning(CourseOrder.id)
    )
    # Nothing inserted: another click opened it a moment ago (and has committed by now).
    found = await session.scalar(
        select(CourseOrder)
        .where(
            CourseOrder.id == order_id
            if order_id is not None
            else (CourseOrder.course_id == course.id)
            & (CourseOrder.student_id == student_id)
            & (CourseOrder.status == OrderStatus.OPEN.value)
        )
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise Conflict(
            "Another checkout for this course has just started; reload the page.",
            code="checkout_in_progress",
        )
    return found


async def close_order(session: AsyncSession, order: CourseOrder, reason: str) -> None:
    """An open order that will not be paid: it and its open payment are cancelled."""
    order.status = OrderStatus.CANCELLED.value
    order.closed_reason = reason[:300]
    payment = await session.scalar(
        select(Payment)
        .where(
            Payment.kind == COURSE,
            Payment.ref == str(order.id),
            Payment.status.in_(_OPEN_PAYMENTS),
        )
        .with_for_update()
    )
    if payment is not None:
        checkout.cancel(session, payment, reason)
    await session.flush()


async def purchase_for(session: AsyncSession, order: CourseOrder) -> Purchase:
    tutor = await tutor_name(session, order.tutor_id)
    return Purchase(
        kind=COURSE,
        ref=str(order.id),
        payer_id=order.student_id,
        payee_id=order.tutor_id,
        currency=order.currency,
        description=f"Course “{order.title}” by {tutor}",
        lines=(Line(ITEM, order.id, order.price_minor, f"Course: {order.title}"),),
    )


async def buy(pay: Payments, course_id: int, student_id: int) -> Payment:
    """ "Buy": open (or reuse) the order and its checkout. Refusals: 404 ``course_not_found``
    (not published), 409 ``own_course``, ``course_free``, ``already_enrolled``,
    ``payouts_not_enabled``."""
    now = datetime.now(UTC)
    async with pay.tx() as session:
        course = await load_course(session, course_id)
        await check_buyable(session, course, student_id)
        order = await open_order(session, course, student_id, pay.settings.courses.refund_days)
        purchase = await purchase_for(session, order)
    return await checkout.start(pay, purchase, now)


async def orders_of(
    session: AsyncSession, student_id: int, course_id: int | None = None
) -> list[CourseOrder]:
    """A student's orders that were paid (newest first), for their purchase history."""
    query = select(CourseOrder).where(
        CourseOrder.student_id == student_id, CourseOrder.paid_at.is_not(None)
    )
    if course_id is not None:
        query = query.where(CourseOrder.course_id == course_id)
    return list(await session.scalars(query.order_by(CourseOrder.paid_at.desc())))
