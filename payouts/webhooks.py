"""Provider events: verify, record once, enqueue, acknowledge; then process in a job.

``receive`` is what ``POST /webhooks/stripe`` (and the demo gateway) calls: it verifies the
signature, refuses events about connected accounts we do not know, stores the event id under
its primary key (a replay stores nothing and queues nothing) and queues
``payouts.process_event``. The job locks the event row, runs the handler for its type and marks
it processed in the same transaction, so an event is applied exactly once even when the job
runs twice. Handlers read state, not history: each is written so that any order of events ends
in the same state (see docs/payments.md for the table).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import BadRequest
from marketplace.observability import metrics
from marketplace.uow import defer_job
from payouts import accounts, charges, disputes, ledger, refunds
from payouts.gateway import WebhookEvent
from payouts.ledger import Leg
from payouts.models import (
    MoneyStatus,
    Payment,
    PaymentItem,
    PaymentStatus,
    ProviderPayout,
    Refund,
    Transfer,
    TransferReversal,
    WebhookEventRow,
)
from payouts.runtime import Payments

logger = logging.getLogger(__name__)
PROCESS_TASK = "payouts.process_event"
Handler = Callable[[AsyncSession, WebhookEvent], Awaitable[str]]


class UnknownAccount(BadRequest):
    code = "unknown_account"


async def receive(pay: Payments, payload: bytes, signature: str) -> str:
    """Verify and record one delivery; returns ``accepted`` or ``duplicate``."""
    try:
        event = pay.gateway.parse_webhook(payload, signature)
    except Exception:
        logger.warning("webhook refused: bad signature (%d bytes)", len(payload))
        metrics.webhook_received("unknown", "bad_signature")
        raise
    kind = metric_type(event.type)
    async with pay.tx() as session:
        if event.account and await accounts.by_stripe_id(session, event.account) is None:
            logger.warning("webhook %s refused: unknown account %s", event.id, event.account)
            metrics.webhook_received(kind, "unknown_account")
            raise UnknownAccount("This event is about an account Duet does not know.")
        inserted = await session.scalar(
            insert(WebhookEventRow)
            .values(
                id=event.id,
                type=event.type[:64],
                account=event.account,
                created=event.created,
                payload=json.loads(payload),
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(WebhookEventRow.id)
        )
        if inserted is None:
            outcome = "duplicate"
        else:
            defer_job(session, PROCESS_TASK, event.id)
            outcome = "accepted"
    logger.info("webhook %s (%s): %s", event.id, event.type, outcome)
    metrics.webhook_received(kind, outcome)
    return outcome


def metric_type(event_type: str) -> str:
    """The event type as a metric label: the types Duet handles, else ``other`` (the provider
    has hundreds; a label must stay a short list)."""
    return event_type if event_type in HANDLERS else "other"


async def process(pay: Payments, event_id: str) -> str:
    """Job body: apply one stored event, once."""
    async with pay.tx() as session:
        row = await session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is None:
            return "missing"
        if row.processed_at is not None:
            return "already processed"
        event = WebhookEvent.from_payload(json.dumps(row.payload))
        handler = HANDLERS.get(event.type)
        outcome = await handler(session, event) if handler else "ignored"
        row.processed_at = datetime.now(UTC)
        row.outcome = outcome[:200]
        row.attempts += 1
    logger.info("event %s (%s): %s", event_id, event.type, outcome)
    metrics.webhook_processed(metric_type(event.type), "handled" if handler else "ignored")
    return outcome


async def note_failure(pay: Payments, event_id: str, error: str) -> None:
    async with pay.tx() as session:
        row = await session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is not None and row.processed_at is None:
            row.attempts += 1
            row.outcome = ("error: " + error)[:200]
            metrics.webhook_processed(metric_type(row.type), "failed")


def _id(value: Any) -> str | None:
    """An expandable field: a string id or an object with one."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- payment intents


async def payment_succeeded(session: AsyncSession, event: WebhookEvent) -> str:
    obj = event.obj
    payment = await charges.find_payment(
        session, intent_id=_id(obj.get("id")), metadata=obj.get("metadata")
    )
    if payment is None:
        return "ignored: not one of our payments"
    if payment.intent_id is None:
        payment.intent_id = _id(obj.get("id"))
    return await charges.record_success(
        session, payment, charge_id=_id(obj.get("latest_charge")), paid_at=event.created
    )


async def payment_processing(session: AsyncSession, event: WebhookEvent) -> str:
    payment = await charges.find_payment(session, intent_id=_id(event.obj.get("id")))
    if payment is None:
        return "ignored: not one of our payments"
    if payment.status == PaymentStatus.REQUIRES_PAYMENT.value:
        payment.status = PaymentStatus.PROCESSING.value
    return f"payment is {payment.status}"


async def payment_failed(session: AsyncSession, event: WebhookEvent) -> str:
    obj = event.obj
    payment = await charges.find_payment(session, intent_id=_id(obj.get("id")))
    if payment is None:
        return "ignored: not one of our payments"
    error = obj.get("last_payment_error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    return await charges.record_failure(
        session, payment, message=str(message or "The payment failed."), at=event.created
    )


# ---------------------------------------------------------------- charges: refunds, disputes


async def _charged_payment(session: AsyncSession, charge: dict[str, Any]) -> Payment | None:
    """The payment of a charge; a charge event proves the payment succeeded, so a success
    that has not arrived yet is recorded from it (events may come in any order)."""
    payment = await charges.find_payment(
        session,
        charge_id=_id(charge.get("id")),
        intent_id=_id(charge.get("payment_intent")),
        metadata=charge.get("metadata"),
    )
    if payment is None:
        return None
    if payment.status != PaymentStatus.SUCCEEDED.value and charge.get("paid"):
        created = datetime.fromtimestamp(int(charge.get("created") or 0), UTC)
        await charges.record_success(
            session, payment, charge_id=_id(charge.get("id")), paid_at=created
        )
    if payment.charge_id is None:
        payment.charge_id = _id(charge.get("id"))
    return payment


async def charge_refunded(session: AsyncSession, event: WebhookEvent) -> str:
    obj = event.obj
    payment = await _charged_payment(session, obj)
    if payment is None:
        return "ignored: not one of our charges"
    total = int(obj.get("amount_refunded") or 0)
    ours = int(
        await session.scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.payment_id == payment.id,
                Refund.status.in_([MoneyStatus.PENDING.value, MoneyStatus.SUCCEEDED.value]),
            )
        )
        or 0
    )
    extra = total - ours
    if extra <= 0:
        return "refunds match"
    # Refunded outside Duet (the provider's dashboard): record and book it like ours.
    items = list(
        await session.scalars(
            select(PaymentItem).where(PaymentItem.payment_id == payment.id).order_by(PaymentItem.id)
        )
    )
    for item in items:
        left = item.amount_minor - await refunds.refunded_so_far(session, item.id)
        part = min(extra, left)
        if part <= 0:
            continue
        refund = Refund(
            payment_id=payment.id,
            item_id=item.id,
            amount_minor=part,
            reason="Refunded at the payment provider.",
            initiated_by="provider",
            status=MoneyStatus.SUCCEEDED.value,
            error="",
            attempts=0,
        )
        session.add(refund)
        await session.flush()
        await refunds.book_refund(session, payment, item, refund)
        await refunds.tell_seller(session, payment, item, "provider")
        extra -= part
        if extra <= 0:
            break
    return "external refund recorded"


async def dispute_created(session: AsyncSession, event: WebhookEvent) -> str:
    payment = await _dispute_payment(session, event.obj)
    if payment is None:
        return "ignored: not one of our charges"
    dispute = await disputes.upsert(session, payment, event.obj, event.created)
    return await disputes.opened(session, payment, dispute)


async def dispute_closed(session: AsyncSession, event: WebhookEvent) -> str:
    payment = await _dispute_payment(session, event.obj)
    if payment is None:
        return "ignored: not one of our charges"
    dispute = await disputes.upsert(session, payment, event.obj, event.created)
    return await disputes.closed(
        session, payment, dispute, str(event.obj.get("status") or "lost"), event.created
    )


async def _dispute_payment(session: AsyncSession, obj: dict[str, Any]) -> Payment | None:
    charge_id = _id(obj.get("charge"))
    payment = await charges.find_payment(
        session, charge_id=charge_id, intent_id=_id(obj.get("payment_intent"))
    )
    if payment is not None and payment.status != PaymentStatus.SUCCEEDED.value:
        await charges.record_success(
            session, payment, charge_id=charge_id, paid_at=datetime.now(UTC)
        )
    return payment


# ---------------------------------------------------------------- connected accounts


async def account_updated(session: AsyncSession, event: WebhookEvent) -> str:
    row = await accounts.by_stripe_id(session, str(event.obj.get("id", "")))
    if row is None:
        return "ignored: unknown account"
    await session.refresh(row, with_for_update=True)
    snap = accounts.snapshot_from_json(event.obj)
    applied = accounts.apply_snapshot(session, row, snap, event.created)
    return "account updated" if applied else "ignored: older than what we have"


async def transfer_reversed(session: AsyncSession, event: WebhookEvent) -> str:
    obj = event.obj
    transfer = await session.scalar(
        select(Transfer).where(Transfer.stripe_transfer_id == _id(obj.get("id"))).with_for_update()
    )
    if transfer is None:
        return "ignored: not one of our transfers"
    total = int(obj.get("amount_reversed") or 0)
    ours = int(
        await session.scalar(
            select(func.coalesce(func.sum(TransferReversal.amount_minor), 0)).where(
                TransferReversal.transfer_id == transfer.id,
                TransferReversal.status.in_(
                    [MoneyStatus.PENDING.value, MoneyStatus.SUCCEEDED.value]
                ),
            )
        )
        or 0
    )
    if total <= ours:
        return "reversals match"
    reversal = TransferReversal(
        transfer_id=transfer.id,
        cause=f"provider:{total}",
        amount_minor=total - ours,
        status=MoneyStatus.SUCCEEDED.value,
        error="",
        attempts=0,
    )
    session.add(reversal)
    await session.flush()
    await refunds.book_reversal(session, reversal)
    return "external reversal recorded"


async def _payout(session: AsyncSession, event: WebhookEvent, status: str) -> str:
    if not event.account:
        return "ignored: a platform payout"
    row = await accounts.by_stripe_id(session, event.account)
    if row is None:
        return "ignored: unknown account"
    obj = event.obj
    payout_id = str(obj.get("id"))
    amount = int(obj.get("amount") or 0)
    currency = str(obj.get("currency") or "").upper()
    arrival = obj.get("arrival_date")
    await session.execute(
        insert(ProviderPayout)
        .values(
            stripe_payout_id=payout_id,
            tutor_id=row.tutor_id,
            amount_minor=amount,
            currency=currency,
            status=status,
            arrival_at=datetime.fromtimestamp(int(arrival), UTC) if arrival else None,
        )
        .on_conflict_do_nothing(index_elements=["stripe_payout_id"])
    )
    payout = await session.get(ProviderPayout, payout_id, with_for_update=True)
    assert payout is not None
    if status == "failed" or payout.status != "failed":
        payout.status = status  # failed is final: a paid that arrives late does not undo it
    # Each outcome is its own movement: paid then failed (a bank returned it) nets to zero in
    # either order.
    sign = 1 if status == "paid" else -1
    await ledger.record(
        session,
        f"payout_{status}:{payout_id}",
        [
            Leg("tutor", row.tutor_id, "available", -sign * amount, "payout"),
            Leg("tutor", row.tutor_id, "paid_out", sign * amount, "payout"),
        ],
        currency=currency,
        payment_id=None,
        item_id=None,
    )
    return f"payout {payout.status}"


async def payout_paid(session: AsyncSession, event: WebhookEvent) -> str:
    return await _payout(session, event, "paid")


async def payout_failed(session: AsyncSession, event: WebhookEvent) -> str:
    return await _payout(session, event, "failed")


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_succeeded,
    "payment_intent.processing": payment_processing,
    "payment_intent.payment_failed": payment_failed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
    "account.updated": account_updated,
    "transfer.reversed": transfer_reversed,
    "payout.paid": payout_paid,
    "payout.failed": payout_failed,
}
