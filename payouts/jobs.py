"""Payment jobs: thin, take ids, open their own transactions, safe to run twice.

Every job that talks to the provider sends an idempotency key derived from the row it works
on, so a retry (dramatiq's, or the sweep's after a lost message) never moves money twice.
``payouts.sweep`` runs every minute and re-queues work whose message was lost: events not yet
processed, refunds, transfers and reversals still pending.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from marketplace.tasks import JobContext, TaskSpec
from marketplace.uow import defer_job, unit_of_work
from payouts import checkout, refunds, settlement, webhooks
from payouts.gateway import GatewayError
from payouts.models import (
    MoneyStatus,
    Payment,
    Refund,
    Transfer,
    TransferReversal,
    WebhookEventRow,
)
from payouts.runtime import Payments, open_payments

logger = logging.getLogger(__name__)
SWEEP_TASK = "payouts.sweep"
STALE = timedelta(minutes=2)


def _open(ctx: JobContext) -> AbstractAsyncContextManager[Payments]:
    return open_payments(ctx.settings, ctx.sessions, ctx.events, ctx.queue)


async def process_event(ctx: JobContext, event_id: str) -> None:
    async with _open(ctx) as pay:
        try:
            await webhooks.process(pay, event_id)
        except Exception as exc:
            await webhooks.note_failure(pay, event_id, f"{type(exc).__name__}: {exc}")
            raise


async def execute_refund(ctx: JobContext, refund_id: int) -> None:
    async with _open(ctx) as pay:
        await refunds.execute_refund(pay, refund_id)


async def execute_reversal(ctx: JobContext, reversal_id: int) -> None:
    async with _open(ctx) as pay:
        await refunds.execute_reversal(pay, reversal_id)


async def execute_transfer(ctx: JobContext, transfer_id: int) -> None:
    async with _open(ctx) as pay:
        await settlement.execute_transfer(pay, transfer_id)


async def cancel_intent(ctx: JobContext, payment_id: int) -> None:
    async with _open(ctx) as pay:
        await cancel_payment_intent(pay, payment_id)


async def cancel_payment_intent(pay: Payments, payment_id: int) -> None:
    """A closed checkout's intent is cancelled so it can no longer be paid (a late payment
    would be refunded anyway)."""
    async with pay.tx() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None or not payment.intent_id or payment.status != "cancelled":
            return
        intent_id = payment.intent_id
    try:
        await pay.gateway.cancel_payment_intent(
            key=f"duet-cancel-{payment_id}", intent_id=intent_id
        )
    except GatewayError as exc:
        if exc.retryable:
            raise
        logger.info("intent of payment %s not cancelled: %s", payment_id, exc.message)


async def sweep(ctx: JobContext) -> None:
    before = datetime.now(UTC) - STALE
    async with unit_of_work(ctx.sessions, ctx.events, ctx.queue) as session:
        events = list(
            await session.scalars(
                select(WebhookEventRow.id)
                .where(WebhookEventRow.processed_at.is_(None), WebhookEventRow.received_at < before)
                .limit(500)
            )
        )
        pending = MoneyStatus.PENDING.value
        work: dict[str, type[Refund] | type[TransferReversal] | type[Transfer]] = {
            refunds.REFUND_TASK: Refund,
            refunds.REVERSAL_TASK: TransferReversal,
            settlement.TRANSFER_TASK: Transfer,
        }
        for task, model in work.items():
            ids = await session.scalars(
                select(model.id)
                .where(model.status == pending, model.updated_at < before)
                .limit(500)
            )
            for row_id in ids:
                defer_job(session, task, row_id)
        for event_id in events:
            defer_job(session, webhooks.PROCESS_TASK, event_id)


TASKS = [
    TaskSpec(webhooks.PROCESS_TASK, process_event, queue="payments", max_retries=20),
    TaskSpec(refunds.REFUND_TASK, execute_refund, queue="payments", max_retries=20),
    TaskSpec(refunds.REVERSAL_TASK, execute_reversal, queue="payments", max_retries=20),
    TaskSpec(settlement.TRANSFER_TASK, execute_transfer, queue="payments", max_retries=20),
    TaskSpec(checkout.CANCEL_INTENT_TASK, cancel_intent, queue="payments", max_retries=10),
    TaskSpec(SWEEP_TASK, sweep, queue="payments", max_retries=0, time_limit_ms=60_000),
]
PERIODIC = [(SWEEP_TASK, 60)]
