"""Checkout: open (or reuse) the payment for a purchase and its PaymentIntent.

The amount comes from the caller, which computed it on the server from its own prices; the
client never sends one. One purchase has at most one open payment (a partial unique index), and
the PaymentIntent is created with the payment's id as idempotency key, so double clicks, two
tabs and retries after a timeout all land on the same intent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Conflict, Forbidden, NotFound, ValidationFailed
from marketplace.uow import defer_job
from payouts import accounts
from payouts.models import (
    OPEN_PAYMENT_STATES,
    Payment,
    PaymentItem,
    PaymentStatus,
)
from payouts.purchases import KINDS, Purchase
from payouts.runtime import Payments

logger = logging.getLogger(__name__)
CANCEL_INTENT_TASK = "payouts.cancel_intent"
_OPEN = [s.value for s in OPEN_PAYMENT_STATES]


class AlreadyPaid(Conflict):
    code = "already_paid"


def fee_for(amount: int, fee_bps: int) -> int:
    return amount * fee_bps // 10_000


def _validate(purchase: Purchase) -> None:
    if not purchase.lines:
        raise ValidationFailed({"lines": "Nothing to pay for."})
    if any(line.amount_minor <= 0 for line in purchase.lines):
        raise ValidationFailed({"amount_minor": "Every line must cost more than nothing."})
    if purchase.payer_id == purchase.payee_id:
        raise Forbidden("You cannot pay yourself.", code="own_purchase")
    if len(purchase.currency) != 3:
        raise ValidationFailed({"currency": "Use an ISO 4217 code."})


async def items_of(session: AsyncSession, payment_id: int) -> list[PaymentItem]:
    return list(
        await session.scalars(
            select(PaymentItem).where(PaymentItem.payment_id == payment_id).order_by(PaymentItem.id)
        )
    )


def _same_lines(purchase: Purchase, items: Sequence[PaymentItem]) -> bool:
    wanted = {(line.item_kind, line.item_id, line.amount_minor) for line in purchase.lines}
    return wanted == {(i.item_kind, i.item_id, i.amount_minor) for i in items}


async def _open_payment(
    session: AsyncSession, purchase: Purchase, fee_bps: int, mode: str, now: datetime
) -> Payment:
    _validate(purchase)
    await accounts.require_payouts(session, purchase.payee_id)
    await KINDS.get(purchase.kind).check_payable(session, purchase, now)
    paid = await session.scalar(
        select(Payment.id).where(
            Payment.kind == purchase.kind,
            Payment.ref == purchase.ref,
            Payment.status == PaymentStatus.SUCCEEDED.value,
        )
    )
    if paid is not None:
        raise AlreadyPaid("This is paid for already.")
    current = await session.scalar(
        select(Payment)
        .where(
            Payment.kind == purchase.kind, Payment.ref == purchase.ref, Payment.status.in_(_OPEN)
        )
        .with_for_update()
    )
    if current is not None:
        if current.payer_id != purchase.payer_id:
            raise Forbidden("Someone else is paying for this.", code="not_your_payment")
        if current.gateway == mode and _same_lines(purchase, await items_of(session, current.id)):
            return current
        # What is bought changed (a week of a series was cancelled): start again.
        cancel(session, current, "The purchase changed before it was paid.")
    fees = [fee_for(line.amount_minor, fee_bps) for line in purchase.lines]
    payment = Payment(
        kind=purchase.kind,
        ref=purchase.ref,
        payer_id=purchase.payer_id,
        payee_id=purchase.payee_id,
        amount_minor=sum(line.amount_minor for line in purchase.lines),
        fee_minor=sum(fees),
        currency=purchase.currency.upper(),
        description=purchase.description[:300],
        status=PaymentStatus.REQUIRES_PAYMENT.value,
        gateway=mode,
        failure_message="",
        attempts=0,
    )
    try:
        async with session.begin_nested():
            session.add(payment)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "Another checkout for this has just started; reload the page.",
            code="checkout_in_progress",
        ) from None
    session.add_all(
        PaymentItem(
            payment_id=payment.id,
            item_kind=line.item_kind,
            item_id=line.item_id,
            amount_minor=line.amount_minor,
            fee_minor=fee,
            description=line.description[:300],
        )
        for line, fee in zip(purchase.lines, fees, strict=True)
    )
    await session.flush()
    return payment


def cancel(session: AsyncSession, payment: Payment, reason: str) -> None:
    """Close an open payment; its intent is cancelled at the provider after the commit."""
    payment.status = PaymentStatus.CANCELLED.value
    payment.failure_message = reason[:500]
    if payment.intent_id:
        defer_job(session, CANCEL_INTENT_TASK, payment.id)


async def start(pay: Payments, purchase: Purchase, now: datetime | None = None) -> Payment:
    """Open or reuse the purchase's payment and make sure it has a PaymentIntent."""
    now = now or datetime.now(UTC)
    async with pay.tx() as session:
        payment = await _open_payment(session, purchase, pay.fee_bps, pay.gateway.mode, now)
        if payment.intent_id:
            return payment
        payment_id = payment.id
    intent = await pay.gateway.create_payment_intent(
        key=f"duet-payment-{payment_id}",
        amount=payment.amount_minor,
        currency=payment.currency,
        transfer_group=payment.transfer_group,
        description=payment.description,
        metadata={
            "duet_payment": str(payment_id),
            "duet_kind": payment.kind,
            "duet_ref": payment.ref,
        },
    )
    async with pay.tx() as session:
        locked = await session.get(Payment, payment_id, with_for_update=True)
        assert locked is not None
        if locked.intent_id is None:
            locked.intent_id = intent.id
            locked.client_secret = intent.client_secret
        elif locked.intent_id != intent.id:  # cannot happen with one idempotency key
            logger.error("payment %s got a second intent %s", payment_id, intent.id)
        return locked


async def payment_for(
    session: AsyncSession, payment_id: int, user_id: int, *, is_admin: bool = False
) -> Payment:
    """A payment its payer, its payee or an admin may see; 404 for anyone else."""
    payment = await session.get(Payment, payment_id)
    if payment is None or not (is_admin or user_id in (payment.payer_id, payment.payee_id)):
        raise NotFound("No such payment.", code="payment_not_found")
    return payment


async def begin_attempt(
    pay: Payments, payment_id: int, payer_id: int, now: datetime | None = None
) -> Payment:
    """The payer submits the card: check it can still be paid and extend the hold."""
    now = now or datetime.now(UTC)
    async with pay.tx() as session:
        payment = await session.get(Payment, payment_id, with_for_update=True)
        if payment is None:
            raise NotFound("No such payment.", code="payment_not_found")
        if payment.payer_id != payer_id:
            raise Forbidden("This is not your payment.", code="not_your_payment")
        if payment.status == PaymentStatus.SUCCEEDED.value:
            raise AlreadyPaid("This is paid for already.")
        if payment.status not in _OPEN:
            raise Conflict(
                payment.failure_message or "This checkout has ended; start again.",
                code="checkout_closed",
            )
        items = await items_of(session, payment.id)
        kind = KINDS.get(payment.kind)
        await kind.payment_started(
            session,
            payment,
            items,
            now + timedelta(minutes=pay.settings.payments.hold_extension_minutes),
        )
        payment.status = PaymentStatus.PROCESSING.value
        payment.attempts += 1
        payment.failure_message = ""
        return payment
