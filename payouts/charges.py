"""A payment succeeded or failed: record it, write the ledger, and let the seller deliver.

Called from webhook processing, in the transaction that marks the event processed, so the
payment, its ledger legs and the delivery (a confirmed lesson) commit together. Recording a
success twice does nothing the second time; a failure reported after a success is ignored.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payouts import ledger
from payouts.checkout import cancel, items_of
from payouts.ledger import Leg
from payouts.models import OPEN_PAYMENT_STATES, Payment, PaymentStatus
from payouts.purchases import KINDS
from payouts.refunds import refund_line

logger = logging.getLogger(__name__)
NOT_DELIVERED = "It could not be delivered (the hold had ended); refunded in full."


async def find_payment(
    session: AsyncSession,
    *,
    intent_id: str | None = None,
    charge_id: str | None = None,
    metadata: dict[str, object] | None = None,
) -> Payment | None:
    """The payment an event is about, locked (by intent, charge, or our id in metadata)."""
    for column, value in ((Payment.intent_id, intent_id), (Payment.charge_id, charge_id)):
        if value:
            found = await session.scalar(select(Payment).where(column == value).with_for_update())
            if found is not None:
                return found
    ours = (metadata or {}).get("duet_payment")
    if isinstance(ours, str) and ours.isdigit():
        found = await session.get(Payment, int(ours), with_for_update=True)
        if found is not None and (intent_id is None or found.intent_id in (None, intent_id)):
            return found
    return None


async def record_success(
    session: AsyncSession, payment: Payment, *, charge_id: str | None, paid_at: datetime
) -> str:
    if payment.status == PaymentStatus.SUCCEEDED.value:
        if charge_id and not payment.charge_id:
            payment.charge_id = charge_id
        return "already recorded"
    payment.status = PaymentStatus.SUCCEEDED.value
    payment.charge_id = payment.charge_id or charge_id
    payment.succeeded_at = paid_at
    payment.failure_message = ""
    items = await items_of(session, payment.id)
    for item in items:
        await ledger.record(
            session,
            f"charge:{item.id}",
            [
                Leg("student", payment.payer_id, "card", -item.amount_minor, "charge"),
                Leg(
                    "tutor",
                    payment.payee_id,
                    "pending",
                    item.amount_minor - item.fee_minor,
                    "charge",
                ),
                Leg("platform", None, "fees", item.fee_minor, "fee"),
            ],
            currency=payment.currency,
            payment_id=payment.id,
            item_id=item.id,
            memo=item.description,
        )
    undelivered = await KINDS.get(payment.kind).fulfil(session, payment, items, paid_at)
    for item in undelivered:
        logger.warning("payment %s line %s could not be delivered; refunding", payment.id, item.id)
        await refund_line(
            session, payment, item, item.amount_minor, reason=NOT_DELIVERED, initiated_by="system"
        )
    return "succeeded" if not undelivered else f"succeeded, {len(undelivered)} refunded"


async def record_failure(
    session: AsyncSession, payment: Payment, *, message: str, at: datetime
) -> str:
    if payment.status not in {s.value for s in OPEN_PAYMENT_STATES}:
        return f"ignored: payment is {payment.status}"
    payment.status = PaymentStatus.REQUIRES_PAYMENT.value
    payment.failure_message = (message or "The payment failed.")[:500]
    items = await items_of(session, payment.id)
    still_payable = await KINDS.get(payment.kind).payment_failed(session, payment, items, at)
    if not still_payable:
        cancel(session, payment, payment.failure_message)
        return "failed; released"
    return "failed; may retry"
