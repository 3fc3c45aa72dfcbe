"""Refunds, and the transfer reversals that follow a refund of money already transferred.

A refund is recorded as ``pending`` in the transaction that decides it (a cancellation, an
admin's decision), then a job asks the provider with the refund's id as idempotency key. Only
the provider's answer writes the ledger: before settlement the money comes out of the tutor's
pending share and the platform's fee; after settlement the platform pays the tutor's part
up front (``platform/fronted``) and reverses that much of the transfer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.errors import ValidationFailed
from marketplace.money import format_money
from marketplace.uow import defer_job
from payouts import ledger
from payouts.gateway import GatewayError
from payouts.ledger import Leg
from payouts.models import (
    MoneyStatus,
    Payment,
    PaymentItem,
    PaymentStatus,
    Refund,
    Transfer,
    TransferReversal,
)
from payouts.purchases import KINDS
from payouts.runtime import Payments

logger = logging.getLogger(__name__)
REFUND_TASK = "payouts.execute_refund"
REVERSAL_TASK = "payouts.execute_reversal"
_LIVE_MONEY = [MoneyStatus.PENDING.value, MoneyStatus.SUCCEEDED.value]


async def paid_item(
    session: AsyncSession, item_kind: str, item_id: int
) -> tuple[Payment, PaymentItem] | None:
    """The succeeded payment line for what was bought (the latest, should there be two)."""
    row = (
        await session.execute(
            select(Payment, PaymentItem)
            .join(PaymentItem, PaymentItem.payment_id == Payment.id)
            .where(
                PaymentItem.item_kind == item_kind,
                PaymentItem.item_id == item_id,
                Payment.status == PaymentStatus.SUCCEEDED.value,
            )
            .order_by(Payment.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def refunded_so_far(session: AsyncSession, item_id: int) -> int:
    """Refunds of the line that are done or on their way (failed ones do not count)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.item_id == item_id, Refund.status.in_(_LIVE_MONEY)
        )
    )
    return int(total or 0)


AUDIT_ROLES = {"admin": "admin", "policy": "policy", "provider": "payment", "system": "system"}
"""Who decided a refund, as the audit trail names it (``initiated_by`` → actor role)."""


async def refund_line(
    session: AsyncSession,
    payment: Payment,
    item: PaymentItem,
    amount: int,
    *,
    reason: str,
    initiated_by: str,
    actor_id: int | None = None,
) -> Refund | None:
    """Record a refund of up to ``amount`` (never more than is left) and queue it."""
    await session.refresh(payment, with_for_update=True)  # one money decision per payment
    left = item.amount_minor - await refunded_so_far(session, item.id)
    amount = min(amount, left)
    if amount <= 0:
        return None
    refund = Refund(
        payment_id=payment.id,
        item_id=item.id,
        amount_minor=amount,
        reason=reason.strip()[:500] or "Refund",
        initiated_by=initiated_by,
        actor_id=actor_id,
        status=MoneyStatus.PENDING.value,
        error="",
        attempts=0,
    )
    session.add(refund)
    await session.flush()
    await audit.record(
        session,
        action="refund.issued",
        actor_role=AUDIT_ROLES.get(initiated_by, "system"),
        actor_id=actor_id,
        subject_kind="refund",
        subject_id=refund.id,
        reason=refund.reason,
        details={
            "initiated_by": initiated_by,
            "payment_id": payment.id,
            "item": f"{item.item_kind}:{item.item_id}",
            "amount_minor": amount,
            "currency": payment.currency,
        },
    )
    defer_job(session, REFUND_TASK, refund.id)
    await tell_seller(session, payment, item, initiated_by)
    return refund


async def tell_seller(
    session: AsyncSession, payment: Payment, item: PaymentItem, initiated_by: str
) -> None:
    """Let the seller react to a refund in its transaction (a course ends its enrolment)."""
    full = await refunded_so_far(session, item.id) >= item.amount_minor
    await KINDS.get(payment.kind).refunded(
        session, payment, item, full=full, initiated_by=initiated_by
    )


async def refund_item(
    session: AsyncSession,
    item_kind: str,
    item_id: int,
    amount: int,
    *,
    reason: str,
    initiated_by: str,
    actor_id: int | None = None,
) -> Refund | None:
    """Refund part of what was paid for ``item`` (nothing when it was never paid)."""
    found = await paid_item(session, item_kind, item_id)
    if found is None or amount <= 0:
        return None
    return await refund_line(
        session,
        found[0],
        found[1],
        amount,
        reason=reason,
        initiated_by=initiated_by,
        actor_id=actor_id,
    )


async def admin_refund(
    session: AsyncSession,
    payment_id: int,
    *,
    amount: int,
    reason: str,
    admin_id: int,
    item_id: int | None = None,
) -> list[Refund]:
    """An admin refunds a paid payment (partly), spread over its lines from the first."""
    if not reason.strip():
        raise ValidationFailed({"reason": "Say why the money goes back."})
    if amount <= 0:
        raise ValidationFailed({"amount_minor": "Refund more than nothing."})
    payment = await session.get(Payment, payment_id, with_for_update=True)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED.value:
        raise ValidationFailed({"payment_id": "Only a succeeded payment can be refunded."})
    query = select(PaymentItem).where(PaymentItem.payment_id == payment.id)
    if item_id is not None:
        query = query.where(PaymentItem.id == item_id)
    items = list(await session.scalars(query.order_by(PaymentItem.id)))
    left = {i.id: i.amount_minor - await refunded_so_far(session, i.id) for i in items}
    if amount > sum(left.values()):
        raise ValidationFailed(
            {
                "amount_minor": f"At most {format_money(sum(left.values()), payment.currency)} "
                "can still be refunded."
            }
        )
    made: list[Refund] = []
    for item in items:
        part = min(amount, left[item.id])
        if part <= 0:
            continue
        refund = await refund_line(
            session, payment, item, part, reason=reason, initiated_by="admin", actor_id=admin_id
        )
        if refund is not None:
            made.append(refund)
            amount -= refund.amount_minor
        if amount <= 0:
            break
    return made


async def transfer_of(session: AsyncSession, item_id: int) -> Transfer | None:
    return await session.scalar(select(Transfer).where(Transfer.item_id == item_id))


async def _in_flight_transfer(session: AsyncSession, item_id: int) -> int:
    """A pending transfer still holds the tutor's share in ``pending`` until it succeeds."""
    transfer = await transfer_of(session, item_id)
    if transfer is not None and transfer.status == MoneyStatus.PENDING.value:
        return transfer.amount_minor
    return 0


async def book_refund(
    session: AsyncSession, payment: Payment, item: PaymentItem, refund: Refund
) -> None:
    """The provider refunded: write the ledger, and reverse the transferred part if any."""
    paid_back_before = item.amount_minor + await ledger.item_balance(
        session, item.id, "student", "card"
    )
    fee_part = ledger.fee_kept(item.amount_minor, item.fee_minor, paid_back_before) - (
        ledger.fee_kept(item.amount_minor, item.fee_minor, paid_back_before + refund.amount_minor)
    )
    tutor_part = refund.amount_minor - fee_part
    pending = await ledger.item_balance(session, item.id, "tutor", "pending")
    free = max(0, pending - await _in_flight_transfer(session, item.id))
    transfer = await transfer_of(session, item.id)
    from_pending = tutor_part if transfer is None else min(tutor_part, free)
    fronted = tutor_part - from_pending
    await ledger.record(
        session,
        f"refund:{refund.id}",
        [
            Leg("student", payment.payer_id, "card", refund.amount_minor, "refund"),
            Leg("platform", None, "fees", -fee_part, "refund"),
            Leg("tutor", payment.payee_id, "pending", -from_pending, "refund"),
            Leg("platform", None, "fronted", -fronted, "refund"),
        ],
        currency=payment.currency,
        payment_id=payment.id,
        item_id=item.id,
        memo=refund.reason,
    )
    if fronted > 0 and transfer is not None:
        await reverse(session, transfer, fronted, cause=f"refund:{refund.id}")


async def reverse(session: AsyncSession, transfer: Transfer, amount: int, *, cause: str) -> None:
    reversal = TransferReversal(
        transfer_id=transfer.id,
        cause=cause,
        amount_minor=amount,
        status=MoneyStatus.PENDING.value,
        error="",
        attempts=0,
    )
    session.add(reversal)
    await session.flush()
    defer_job(session, REVERSAL_TASK, reversal.id)


async def _fail(
    pay: Payments, model: type[Refund] | type[TransferReversal], row_id: int, exc: GatewayError
) -> None:
    async with pay.tx() as session:
        row: Refund | TransferReversal | None = await session.get(
            model, row_id, with_for_update=True
        )
        assert row is not None
        row.attempts += 1
        row.error = exc.message[:500]
        if not exc.retryable:
            row.status = MoneyStatus.FAILED.value
            logger.error("%s %s failed: %s", model.__tablename__, row_id, exc.message)


async def execute_refund(pay: Payments, refund_id: int) -> str:
    """Job body: ask the provider for the refund, once, and book its answer."""
    async with pay.tx() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None or refund.status != MoneyStatus.PENDING.value:
            return "done"
        payment = await session.get(Payment, refund.payment_id)
        assert payment is not None and payment.intent_id is not None
        intent_id, amount = payment.intent_id, refund.amount_minor
    try:
        answer = await pay.gateway.create_refund(
            key=f"duet-refund-{refund_id}",
            payment_intent=intent_id,
            amount=amount,
            metadata={"duet_refund": str(refund_id), "duet_payment": str(payment.id)},
        )
    except GatewayError as exc:
        await _fail(pay, Refund, refund_id, exc)
        if exc.retryable:
            raise
        return "failed"
    async with pay.tx() as session:
        await session.get(Payment, payment.id, with_for_update=True)
        refund = await session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        if refund.status != MoneyStatus.PENDING.value:
            return "done"
        refund.attempts += 1
        refund.stripe_refund_id = answer.id
        if answer.status in ("failed", "canceled"):
            refund.status = MoneyStatus.FAILED.value
            refund.error = f"The provider reports the refund {answer.status}."
            return "failed"
        refund.status = MoneyStatus.SUCCEEDED.value
        refund.error = ""
        item = await session.get(PaymentItem, refund.item_id)
        locked_payment = await session.get(Payment, payment.id)
        assert item is not None and locked_payment is not None
        await book_refund(session, locked_payment, item, refund)
    return "refunded"


async def execute_reversal(pay: Payments, reversal_id: int) -> str:
    """Job body: take the tutor's part of a refund back from their transfer, once."""
    async with pay.tx() as session:
        reversal = await session.get(TransferReversal, reversal_id)
        if reversal is None or reversal.status != MoneyStatus.PENDING.value:
            return "done"
        transfer = await session.get(Transfer, reversal.transfer_id)
        assert transfer is not None
        if transfer.status == MoneyStatus.FAILED.value:
            # The transfer never happened: the tutor's share is still pending with us.
            await _void_reversal(session, reversal, transfer)
            return "void"
        if transfer.status != MoneyStatus.SUCCEEDED.value or not transfer.stripe_transfer_id:
            raise RuntimeError(f"transfer {transfer.id} is not done yet; reversal waits")
        stripe_transfer, amount = transfer.stripe_transfer_id, reversal.amount_minor
    try:
        answer = await pay.gateway.create_reversal(
            key=f"duet-reversal-{reversal_id}",
            transfer_id=stripe_transfer,
            amount=amount,
            metadata={"duet_reversal": str(reversal_id)},
        )
    except GatewayError as exc:
        await _fail(pay, TransferReversal, reversal_id, exc)
        if exc.retryable:
            raise
        return "failed"
    async with pay.tx() as session:
        reversal = await session.get(TransferReversal, reversal_id, with_for_update=True)
        assert reversal is not None
        if reversal.status != MoneyStatus.PENDING.value:
            return "done"
        reversal.status = MoneyStatus.SUCCEEDED.value
        reversal.stripe_reversal_id = answer.id
        reversal.attempts += 1
        reversal.error = ""
        await book_reversal(session, reversal)
    return "reversed"


async def book_reversal(session: AsyncSession, reversal: TransferReversal) -> None:
    transfer = await session.get(Transfer, reversal.transfer_id)
    assert transfer is not None
    await ledger.record(
        session,
        f"reversal:{reversal.id}",
        [
            Leg("tutor", transfer.tutor_id, "available", -reversal.amount_minor, "reversal"),
            Leg("platform", None, "fronted", reversal.amount_minor, "reversal"),
        ],
        currency=transfer.currency,
        payment_id=transfer.payment_id,
        item_id=transfer.item_id,
        memo=reversal.cause,
    )


async def _void_reversal(
    session: AsyncSession, reversal: TransferReversal, transfer: Transfer
) -> None:
    reversal.status = MoneyStatus.FAILED.value
    reversal.error = "The transfer never happened; nothing to reverse."
    reversal.updated_at = datetime.now(UTC)
    await ledger.record(
        session,
        f"reversal_void:{reversal.id}",
        [
            Leg("tutor", transfer.tutor_id, "pending", -reversal.amount_minor, "reversal"),
            Leg("platform", None, "fronted", reversal.amount_minor, "reversal"),
        ],
        currency=transfer.currency,
        payment_id=transfer.payment_id,
        item_id=transfer.item_id,
        memo="void: " + reversal.cause,
    )
