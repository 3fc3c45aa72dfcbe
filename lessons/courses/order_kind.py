"""Payments' view of course orders: the ``course`` purchase kind (registered by ``app.py``).

Payments call these methods inside the transaction that records the money, so "paid" and
"enrolled" (or "refunded" and "access ended") commit together. Locks are taken in one order
everywhere — payment, then order, then enrolment — so a webhook, the settlement job and a
student's refund request never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.courses.enrolment import AlreadyEnrolled, end_enrolment, enrolment_of, grant_enrolment
from lessons.courses.models import (
    Course,
    CourseOrder,
    EnrolmentEnd,
    EnrolmentSource,
    OrderStatus,
)
from lessons.courses.orders import OrderClosed, PriceChanged, same_terms
from lessons.courses.service import tutor_is_approved
from marketplace.accounts.models import User
from marketplace.errors import Forbidden, NotFound
from marketplace.notifications import service as notifications
from payouts.models import Payment, PaymentItem
from payouts.purchases import LineView, Purchase, Wording

WORDING = Wording(
    heading="Buy this course",
    back="Back to the course",
    go="Open the course",
    done_title="Enrolled!",
    done_text="The course is yours.",
    waiting_text="Opening the course for you…",
    note="The price is set by the tutor. You are enrolled as soon as the payment goes through; "
    "the course page says until when you can ask for a refund.",
    list_url="/my/courses",
    list_label="My courses",
)
ALREADY_HAD_ACCESS = "You already had access to this course when the payment arrived; refunded."
_DELIVERED = {OrderStatus.PAID.value, OrderStatus.DISPUTED.value}


async def _orders(session: AsyncSession, ids: Sequence[int]) -> list[CourseOrder]:
    return list(
        await session.scalars(
            select(CourseOrder)
            .where(CourseOrder.id.in_(ids))
            .order_by(CourseOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


async def _check_open(session: AsyncSession, order: CourseOrder, payer_id: int) -> None:
    """What "Buy" checked, again, now that money is about to move."""
    if order.student_id != payer_id:
        raise Forbidden("This is someone else's order.", code="not_your_order")
    if order.status != OrderStatus.OPEN.value:
        raise OrderClosed(order.closed_reason or "This order is closed; buy the course again.")
    course = await session.get(Course, order.course_id)
    if (
        course is None
        or not course.is_published
        or not await tutor_is_approved(session, course.tutor_id)
    ):
        raise NotFound("This course is not published any more.", code="course_not_found")
    if not same_terms(order, course):
        raise PriceChanged("The course's price changed; buy it again to see the new price.")
    if await enrolment_of(session, order.course_id, order.student_id) is not None:
        raise AlreadyEnrolled("You are already enrolled in this course.")


async def _end_access(
    session: AsyncSession, order: CourseOrder, payment: Payment, reason: EnrolmentEnd
) -> None:
    """End the enrolment if this order's payment is what granted it (access that came some
    other way — a free enrolment, another order — is not this order's to take)."""
    enrolment = await enrolment_of(session, order.course_id, order.student_id)
    if (
        enrolment is not None
        and enrolment.source == EnrolmentSource.PURCHASE.value
        and enrolment.reference == str(payment.id)
    ):
        await end_enrolment(session, enrolment.id, reason, datetime.now(UTC))


class CoursePurchases:
    """Registered for the ``course`` kind; every payment line is one ``course_order``."""

    async def check_payable(self, session: AsyncSession, purchase: Purchase, now: datetime) -> None:
        orders = await _orders(session, [line.item_id for line in purchase.lines])
        if len(orders) != len(purchase.lines):
            raise NotFound("No such order.", code="order_not_found")
        for order in orders:
            await _check_open(session, order, purchase.payer_id)

    async def payment_started(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        until: datetime,
    ) -> None:
        for order in await _orders(session, [i.item_id for i in items]):
            await _check_open(session, order, payment.payer_id)

    async def fulfil(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        paid_at: datetime,
    ) -> list[PaymentItem]:
        """Enrol, in the payment's transaction. A line is not delivered (and is refunded in
        full by payments) when the order was already paid by another payment, or when the
        student got access some other way meanwhile. A cancelled order (its price changed)
        whose payment still went through is honoured at the price paid."""
        by_id = {o.id: o for o in await _orders(session, [i.item_id for i in items])}
        paid_at = min(paid_at, datetime.now(UTC))
        undelivered = []
        for item in items:
            order = by_id.get(item.item_id)
            if order is None or order.paid_at is not None:
                undelivered.append(item)
                continue
            order.payment_id = payment.id
            order.paid_at = paid_at
            if await enrolment_of(session, order.course_id, order.student_id) is not None:
                order.status = OrderStatus.REFUNDED.value
                order.closed_reason = ALREADY_HAD_ACCESS
                undelivered.append(item)
                continue
            await grant_enrolment(
                session,
                order.course_id,
                order.student_id,
                source=EnrolmentSource.PURCHASE.value,
                reference=str(payment.id),
            )
            order.status = OrderStatus.PAID.value
            order.closed_reason = ""
            order.refundable_until = paid_at + timedelta(days=order.refund_days)
            await notifications.notify(
                session,
                order.student_id,
                kind="course_enrolled",
                title=f"You are enrolled in “{order.title}”",
                body="Your payment went through. Enjoy the course!",
                link=f"/courses/{order.course_id}",
            )
            await notifications.notify(
                session,
                order.tutor_id,
                kind="course_sold",
                title=f"New student in “{order.title}”",
                body="A student bought your course. Your share is paid after the refund window.",
                link="/tutor/earnings",
            )
        return undelivered

    async def payment_failed(
        self, session: AsyncSession, payment: Payment, items: Sequence[PaymentItem], now: datetime
    ) -> bool:
        orders = await _orders(session, [i.item_id for i in items])
        return all(o.status == OrderStatus.OPEN.value for o in orders)

    async def refunded(
        self,
        session: AsyncSession,
        payment: Payment,
        item: PaymentItem,
        *,
        full: bool,
        initiated_by: str,
    ) -> None:
        """A full refund (the student's request, an admin's, at the provider) closes the order
        and ends the access it gave; a partial one is a gesture and keeps it."""
        if not full:
            return
        for order in await _orders(session, [item.item_id]):
            # A second payment of a paid order was refunded as undelivered: the order stands.
            if order.payment_id != payment.id or order.status not in _DELIVERED:
                continue
            order.status = OrderStatus.REFUNDED.value
            order.closed_reason = {
                "policy": "Refunded at your request.",
                "admin": "Refunded by Duet.",
                "provider": "Refunded at the payment provider.",
            }.get(initiated_by, "Refunded.")
            await _end_access(session, order, payment, EnrolmentEnd.REFUNDED)

    async def dispute_changed(
        self, session: AsyncSession, payment: Payment, items: Sequence[PaymentItem], outcome: str
    ) -> None:
        """Access stays while a dispute is open; a won dispute keeps it, a lost one ends it."""
        for order in await _orders(session, [i.item_id for i in items]):
            if order.payment_id != payment.id:
                continue  # a duplicate payment of the order, refunded when it arrived
            if outcome in ("opened", "lost") and order.status == OrderStatus.PAID.value:
                order.status = OrderStatus.DISPUTED.value
            if order.status != OrderStatus.DISPUTED.value:
                continue
            if outcome == "won":
                order.status = OrderStatus.PAID.value
            elif outcome == "lost":
                order.status = OrderStatus.CHARGED_BACK.value
                order.closed_reason = "Your bank took the payment back (a card dispute)."
                await _end_access(session, order, payment, EnrolmentEnd.DISPUTE_LOST)

    async def describe(
        self, session: AsyncSession, items: Sequence[PaymentItem]
    ) -> dict[int, LineView]:
        rows = await session.scalars(
            select(CourseOrder).where(CourseOrder.id.in_([i.item_id for i in items]))
        )
        orders = {o.id: o for o in rows}
        names = dict(
            (
                await session.execute(
                    select(User.id, User.full_name).where(
                        User.id.in_({o.student_id for o in orders.values()})
                    )
                )
            ).all()
        )
        out: dict[int, LineView] = {}
        for item in items:
            order = orders.get(item.item_id)
            if order is None:
                continue
            out[item.id] = LineView(
                label=f"Course: {order.title}",
                when=order.paid_at,
                state=state_of(order),
                upcoming=False,
                url=f"/courses/{order.course_id}",
                counterpart=names.get(order.student_id, ""),
            )
        return out


def state_of(order: CourseOrder) -> str:
    """How an order reads: ``settled`` once the tutor's share was sent, else its status."""
    if order.status == OrderStatus.PAID.value and order.settled_at is not None:
        return "settled"
    return order.status
