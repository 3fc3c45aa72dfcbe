"""Settlement: the tutor's share of a delivered line goes to their connected account, once.

``settle_item`` runs inside the transaction that settles the lesson (scheduling's ``settle``
and no-show transitions) and records a ``pending`` transfer: one per payment line, enforced by
a unique constraint, so settling twice finds the first. The job then asks the provider with
``duet-transfer-<id>`` as idempotency key and ``source_transaction`` = the charge (the money
the student paid funds the transfer even before it is available on our balance). If the job
dies after the provider answered but before our commit, the retry sends the same key and gets
the same transfer back; past the provider's 24-hour key lifetime it looks the transfer up by
our id in its metadata instead of creating another.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.uow import defer_job
from payouts import ledger
from payouts.gateway import GatewayError
from payouts.gateway import Transfer as GatewayTransfer
from payouts.ledger import Leg
from payouts.models import ConnectedAccount, Dispute, MoneyStatus, Payment, PaymentItem, Transfer
from payouts.refunds import paid_item, refunded_so_far, transfer_of
from payouts.runtime import Payments

logger = logging.getLogger(__name__)
TRANSFER_TASK = "payouts.execute_transfer"
# Stripe keeps idempotency keys for 24 hours; after this long, look the transfer up first.
KEY_LIFETIME_MARGIN = timedelta(hours=20)


async def tutor_share(session: AsyncSession, item: PaymentItem) -> int:
    """What the tutor earns on a line after refunds (done or on their way) and the fee."""
    refunded = await refunded_so_far(session, item.id)
    return (item.amount_minor - refunded) - ledger.fee_kept(
        item.amount_minor, item.fee_minor, refunded
    )


async def open_dispute(session: AsyncSession, payment_id: int) -> bool:
    found = await session.scalar(
        select(Dispute.id).where(Dispute.payment_id == payment_id, Dispute.closed.is_(False))
    )
    return found is not None


async def settle_item(session: AsyncSession, item_kind: str, item_id: int) -> Transfer | None:
    """Record the tutor's transfer for a delivered line (idempotent; None: nothing to send)."""
    found = await paid_item(session, item_kind, item_id)
    if found is None:
        return None
    payment, item = found
    await session.refresh(payment, with_for_update=True)
    existing = await transfer_of(session, item.id)
    if existing is not None:
        return existing
    if await open_dispute(session, payment.id):
        logger.info("payment %s is disputed; its transfer waits", payment.id)
        return None
    amount = await tutor_share(session, item)
    if amount <= 0:
        return None
    account = await session.get(ConnectedAccount, payment.payee_id)
    transfer = Transfer(
        item_id=item.id,
        payment_id=payment.id,
        tutor_id=payment.payee_id,
        destination=account.stripe_account_id if account else "",
        amount_minor=amount,
        currency=payment.currency,
        status=MoneyStatus.PENDING.value if account else MoneyStatus.FAILED.value,
        error="" if account else "The tutor has no payout account.",
        attempts=0,
    )
    session.add(transfer)
    await session.flush()
    await audit.record(
        session,
        action="transfer.created",
        actor_role="system",
        actor_id=None,
        subject_kind="transfer",
        subject_id=transfer.id,
        details={
            "payment_id": payment.id,
            "item": f"{item.item_kind}:{item.item_id}",
            "tutor_id": payment.payee_id,
            "amount_minor": amount,
            "currency": payment.currency,
            "status": transfer.status,
        },
    )
    if account is None:
        logger.error(
            "transfer %s: tutor %s has no connected account", transfer.id, payment.payee_id
        )
    else:
        defer_job(session, TRANSFER_TASK, transfer.id)
    return transfer


async def execute_transfer(pay: Payments, transfer_id: int, now: datetime | None = None) -> str:
    """Job body: send the transfer to the provider exactly once and book it."""
    now = now or datetime.now(UTC)
    async with pay.tx() as session:
        transfer = await session.get(Transfer, transfer_id)
        if transfer is None or transfer.status != MoneyStatus.PENDING.value:
            return "done"
        payment = await session.get(Payment, transfer.payment_id)
        assert payment is not None and payment.charge_id is not None
        charge_id, group = payment.charge_id, payment.transfer_group
    try:
        answer: GatewayTransfer | None = None
        if now - transfer.created_at > KEY_LIFETIME_MARGIN:
            answer = await pay.gateway.find_transfer(transfer_group=group, our_id=str(transfer_id))
        if answer is None:
            answer = await pay.gateway.create_transfer(
                key=f"duet-transfer-{transfer_id}",
                amount=transfer.amount_minor,
                currency=transfer.currency,
                destination=transfer.destination,
                source_transaction=charge_id,
                transfer_group=group,
                metadata={"duet_transfer": str(transfer_id), "duet_payment": str(payment.id)},
            )
    except GatewayError as exc:
        async with pay.tx() as session:
            row = await session.get(Transfer, transfer_id, with_for_update=True)
            assert row is not None
            row.attempts += 1
            row.error = exc.message[:500]
            if not exc.retryable:
                row.status = MoneyStatus.FAILED.value
                logger.error("transfer %s failed: %s", transfer_id, exc.message)
        if exc.retryable:
            raise
        return "failed"
    async with pay.tx() as session:
        row = await session.get(Transfer, transfer_id, with_for_update=True)
        assert row is not None
        if row.status != MoneyStatus.PENDING.value:
            return "done"
        row.status = MoneyStatus.SUCCEEDED.value
        row.stripe_transfer_id = answer.id
        row.attempts += 1
        row.error = ""
        await ledger.record(
            session,
            f"transfer:{row.id}",
            [
                Leg("tutor", row.tutor_id, "pending", -row.amount_minor, "transfer"),
                Leg("tutor", row.tutor_id, "available", row.amount_minor, "transfer"),
            ],
            currency=row.currency,
            payment_id=row.payment_id,
            item_id=row.item_id,
        )
    return "transferred"
