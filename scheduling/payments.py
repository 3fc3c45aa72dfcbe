"""Lessons as purchases: what scheduling tells payments, and what payments ask of it.

Scheduling sits above payouts, so it calls payments directly: it prices a held booking on the
server, opens the checkout, and carries out the ``refund`` and ``transfer`` actions of its
lifecycle transitions in the same transaction. Payments reach back only through
``BookingPurchases``, registered for the booking kinds by the composition root; every booking
state change it asks for goes through ``lifecycle.transition`` with the ``payment`` actor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.money import format_money
from marketplace.profiles.models import LessonPrice
from payouts import checkout, refunds, settlement
from payouts.models import Payment, PaymentItem
from payouts.purchases import Line, LineView, Purchase, Wording
from payouts.runtime import Payments
from scheduling import lifecycle
from scheduling.lifecycle import HOLD_DURATION, Action, Actor, State, Transition
from scheduling.models import Booking
from scheduling.presenters import names
from scheduling.service import Caller, booking_for

BOOKING = "booking"  # one lesson
SERIES = "booking_series"  # a weekly series, paid at once
ITEM = "booking"  # every line is one booking
# However often a payment is retried, a slot is never held longer than this.
MAX_HOLD = timedelta(minutes=60)
_PAID = {State.CONFIRMED, State.COMPLETED, State.SETTLED}
WORDING = Wording(
    heading="Pay for your booking",
    back="Back to the lesson",
    go="Go to the lesson",
    done_title="Booked!",
    done_text="Your lesson is confirmed.",
    waiting_text="Confirming your lesson…",
    note="The price is set by the tutor; the lesson is confirmed as soon as the payment goes "
    "through. Free cancellation follows the tutor's policy shown on the lesson page.",
    list_url="/lessons",
    list_label="My lessons",
)


class HoldExpired(Conflict):
    code = "hold_expired"


class NotPayable(Conflict):
    code = "booking_not_payable"


def check_booking_payable(booking: Booking, now: datetime) -> None:
    status = State(booking.status)
    if status in _PAID:
        raise checkout.AlreadyPaid("This lesson is paid for already.")
    if status is not State.HELD:
        raise NotPayable(
            f"This booking is {status.value.replace('_', ' ')}; it cannot be paid for.",
            fields={"status": status.value},
        )
    if booking.hold_expires_at is None or booking.hold_expires_at <= now:
        raise HoldExpired("The time was held for 15 minutes and has been released; book again.")


async def purchase_for(session: AsyncSession, booking: Booking, now: datetime) -> Purchase:
    """The lesson (or every held week of its series) priced as held, on the server."""
    check_booking_payable(booking, now)
    if booking.series_id is not None:
        bookings = list(
            await session.scalars(
                select(Booking)
                .where(
                    Booking.series_id == booking.series_id,
                    Booking.student_id == booking.student_id,
                    Booking.status == State.HELD.value,
                )
                .order_by(Booking.starts_at)
            )
        )
        kind, ref = SERIES, str(booking.series_id)
    else:
        bookings, kind, ref = [booking], BOOKING, str(booking.id)
    who = await names(session, {booking.tutor_id})
    tutor = who.get(booking.tutor_id, "your tutor")
    lines = tuple(
        Line(
            ITEM,
            b.id,
            b.price_minor,
            f"{b.duration_minutes}-minute {'trial lesson' if b.trial else 'lesson'} "
            f"with {tutor}, {b.starts_at:%Y-%m-%d %H:%M} UTC",
        )
        for b in bookings
    )
    count = len(lines)
    return Purchase(
        kind=kind,
        ref=ref,
        payer_id=booking.student_id,
        payee_id=booking.tutor_id,
        currency=booking.currency,
        description=(f"{count} weekly lessons" if count > 1 else "A lesson") + f" with {tutor}",
        lines=lines,
    )


async def start_checkout(pay: Payments, booking_id: int, caller: Caller) -> Payment:
    """Open (or reuse) the checkout for a held booking; only its student may pay."""
    now = datetime.now(UTC)
    async with pay.tx() as session:
        booking = await booking_for(session, booking_id, caller)
        if booking.student_id != caller.id:
            raise Forbidden(
                "Only the student who booked pays for a lesson.", code="not_your_booking"
            )
        purchase = await purchase_for(session, booking, now)
    return await checkout.start(pay, purchase, now)


async def carry_out(
    session: AsyncSession, booking: Booking, rule: Transition, refund_minor: int | None, reason: str
) -> None:
    """Make a transition's money actions real, in its transaction: the refund first (so a
    transfer pays only the tutor's share of what is kept), then the transfer."""
    if Action.REFUND in rule.actions and refund_minor:
        await refunds.refund_item(
            session,
            ITEM,
            booking.id,
            refund_minor,
            reason=reason or (rule.label or rule.event).capitalize(),
            initiated_by="policy",
        )
    if Action.TRANSFER in rule.actions:
        await settlement.settle_item(session, ITEM, booking.id)


class BookingPurchases:
    """Payments' view of lessons (registered for ``booking`` and ``booking_series``)."""

    async def _bookings(self, session: AsyncSession, ids: Sequence[int]) -> list[Booking]:
        return list(
            await session.scalars(
                select(Booking).where(Booking.id.in_(ids)).order_by(Booking.id).with_for_update()
            )
        )

    async def _move(
        self, session: AsyncSession, booking: Booking, event: str, now: datetime | None = None
    ) -> None:
        # These transitions open and close at the hold's expiry at most, never at the
        # dispute window, so the window does not matter here.
        await lifecycle.transition(session, booking, event, Actor.PAYMENT, now=now)

    async def check_payable(self, session: AsyncSession, purchase: Purchase, now: datetime) -> None:
        bookings = await self._bookings(session, [line.item_id for line in purchase.lines])
        if len(bookings) != len(purchase.lines):
            raise NotFound("No such booking.", code="booking_not_found")
        for booking in bookings:
            if booking.student_id != purchase.payer_id:
                raise Forbidden(
                    "Only the student who booked pays for a lesson.", code="not_your_booking"
                )
            check_booking_payable(booking, now)

    async def payment_started(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        until: datetime,
    ) -> None:
        now = datetime.now(UTC)
        for booking in await self._bookings(session, [i.item_id for i in items]):
            check_booking_payable(booking, now)
            assert booking.hold_expires_at is not None
            longest = booking.created_at + MAX_HOLD
            extended = min(max(booking.hold_expires_at, until), longest)
            if extended != booking.hold_expires_at:
                await self._move(session, booking, "adjust_hold", now)
                booking.hold_expires_at = extended

    async def fulfil(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        paid_at: datetime,
    ) -> list[PaymentItem]:
        by_id = {b.id: b for b in await self._bookings(session, [i.item_id for i in items])}
        undelivered = []
        for item in items:
            booking = by_id.get(item.item_id)
            if booking is None or booking.status != State.HELD.value:
                undelivered.append(item)
                continue
            try:
                # The moment the student paid decides, not when the event reached us.
                await self._move(session, booking, "confirm", min(paid_at, datetime.now(UTC)))
            except lifecycle.IllegalTransition:
                undelivered.append(item)
        return undelivered

    async def payment_failed(
        self, session: AsyncSession, payment: Payment, items: Sequence[PaymentItem], now: datetime
    ) -> bool:
        """The extension ends: the hold goes back to its first 15 minutes, and if those are
        over, the slot is released now."""
        now = datetime.now(UTC)
        payable = True
        for booking in await self._bookings(session, [i.item_id for i in items]):
            if booking.status != State.HELD.value:
                payable = False
                continue
            first_expiry = booking.created_at + HOLD_DURATION
            if now >= first_expiry:
                await self._move(session, booking, "release", now)
                payable = False
            elif booking.hold_expires_at and booking.hold_expires_at > first_expiry:
                await self._move(session, booking, "adjust_hold", now)
                booking.hold_expires_at = first_expiry
        return payable

    async def refunded(
        self,
        session: AsyncSession,
        payment: Payment,
        item: PaymentItem,
        *,
        full: bool,
        initiated_by: str,
    ) -> None:
        """Nothing to do: the lifecycle decides lesson refunds, and an admin's refund is money
        only (the lesson keeps its state)."""

    async def dispute_changed(
        self, session: AsyncSession, payment: Payment, items: Sequence[PaymentItem], outcome: str
    ) -> None:
        for booking in await self._bookings(session, [i.item_id for i in items]):
            status = State(booking.status)
            if outcome in ("opened", "lost") and status in _PAID:
                await self._move(session, booking, "card_dispute")
                status = State.DISPUTED
            if status is State.DISPUTED and outcome == "won":
                await self._move(session, booking, "dispute_won")
            elif status is State.DISPUTED and outcome == "lost":
                await self._move(session, booking, "dispute_lost")

    async def describe(
        self, session: AsyncSession, items: Sequence[PaymentItem]
    ) -> dict[int, LineView]:
        rows = await session.scalars(
            select(Booking).where(Booking.id.in_([i.item_id for i in items]))
        )
        bookings = {b.id: b for b in rows}
        who = await names(session, {b.student_id for b in bookings.values()})
        listed = await _listed_prices(session, [b for b in bookings.values() if b.trial])
        out: dict[int, LineView] = {}
        for item in items:
            booking = bookings.get(item.item_id)
            if booking is None:
                continue
            out[item.id] = LineView(
                label=f"{booking.duration_minutes}-minute trial lesson"
                if booking.trial
                else f"{booking.duration_minutes}-minute lesson",
                when=booking.starts_at,
                state=booking.status,
                upcoming=booking.status in (State.HELD.value, State.CONFIRMED.value),
                url=f"/lessons/{booking.id}",
                counterpart=who.get(booking.student_id, ""),
                note=_trial_note(booking, listed.get((booking.tutor_id, booking.duration_minutes))),
            )
        return out


async def _listed_prices(
    session: AsyncSession, bookings: Sequence[Booking]
) -> dict[tuple[int, int], int]:
    """(tutor, minutes) → the tutor's listed price, for the trial lessons among ``bookings``."""
    if not bookings:
        return {}
    rows = await session.execute(
        select(LessonPrice.tutor_id, LessonPrice.duration_minutes, LessonPrice.price_minor).where(
            LessonPrice.tutor_id.in_({b.tutor_id for b in bookings})
        )
    )
    return {(t, m): p for t, m, p in rows}


def _trial_note(booking: Booking, listed_minor: int | None) -> str:
    """Say plainly that a trial price applies, and what the lesson usually costs."""
    if not booking.trial:
        return ""
    usual = (
        f" (usually {format_money(listed_minor, booking.currency)})"
        if listed_minor is not None and listed_minor != booking.price_minor
        else ""
    )
    return (
        f"Trial price: your first lesson with this tutor{usual}. "
        "Later lessons cost the listed price."
    )
