"""Reading the ledger: a tutor's earnings (balances and per-lesson lines) and the admin view."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from payouts import ledger
from payouts.models import (
    Dispute,
    LedgerEntry,
    MoneyStatus,
    Payment,
    PaymentItem,
    PaymentStatus,
    Refund,
    Transfer,
)
from payouts.purchases import KINDS, LineView
from payouts.schemas import (
    BalancesOut,
    DisputeOut,
    EarningLineOut,
    EarningsOut,
    PlatformOut,
    RefundOut,
    TransferOut,
)


async def _item_sums(
    session: AsyncSession, item_ids: list[int], party: str, bucket: str
) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = await session.execute(
        select(LedgerEntry.item_id, func.sum(LedgerEntry.amount_minor))
        .where(
            LedgerEntry.item_id.in_(item_ids),
            LedgerEntry.party == party,
            LedgerEntry.bucket == bucket,
        )
        .group_by(LedgerEntry.item_id)
    )
    return {int(item): int(total) for item, total in rows if item is not None}


async def earnings(
    session: AsyncSession, tutor_id: int, currency: str, limit: int = 500
) -> EarningsOut:
    rows = (
        await session.execute(
            select(Payment, PaymentItem)
            .join(PaymentItem, PaymentItem.payment_id == Payment.id)
            .where(Payment.payee_id == tutor_id, Payment.status == PaymentStatus.SUCCEEDED.value)
            .order_by(Payment.succeeded_at.desc(), PaymentItem.id.desc())
            .limit(limit)
        )
    ).all()
    items_by_kind: dict[str, list[PaymentItem]] = defaultdict(list)
    for payment, item in rows:
        items_by_kind[payment.kind].append(item)
    views: dict[int, LineView] = {}
    for kind, items in items_by_kind.items():
        views.update(await KINDS.get(kind).describe(session, items))
    ids = [item.id for _, item in rows]
    refunded = _sum_by_item(
        await session.execute(
            select(Refund.item_id, func.sum(Refund.amount_minor))
            .where(Refund.item_id.in_(ids), Refund.status == MoneyStatus.SUCCEEDED.value)
            .group_by(Refund.item_id)
        )
    )
    fees = await _item_sums(session, ids, "platform", "fees")
    pending = await _item_sums(session, ids, "tutor", "pending")
    transfers = {
        t.item_id: t
        for t in await session.scalars(select(Transfer).where(Transfer.item_id.in_(ids)))
    }
    lines = []
    upcoming = 0
    for payment, item in rows:
        view = views.get(item.id)
        back = refunded.get(item.id, 0)
        fee = fees.get(item.id, 0)
        if view is not None and view.upcoming:
            upcoming += pending.get(item.id, 0)
        transfer = transfers.get(item.id)
        lines.append(
            EarningLineOut(
                item_id=item.id,
                payment_id=payment.id,
                label=view.label if view else item.description,
                when=view.when if view else payment.succeeded_at,
                student=view.counterpart if view else "",
                lesson_status=view.state if view else "",
                price_minor=item.amount_minor,
                fee_minor=fee,
                refunded_minor=back,
                earnings_minor=item.amount_minor - back - fee,
                transfer_status=transfer.status if transfer else None,
                currency=payment.currency,
                url=view.url if view else "",
            )
        )
    buckets = await ledger.balances(session, "tutor", tutor_id)
    return EarningsOut(
        balances=BalancesOut(
            currency=currency,
            upcoming_minor=upcoming,
            pending_minor=buckets.get("pending", 0) - upcoming,
            available_minor=buckets.get("available", 0),
            paid_out_minor=buckets.get("paid_out", 0),
        ),
        lines=lines,
    )


def _sum_by_item(rows: object) -> dict[int, int]:
    return {int(item): int(total) for item, total in rows}  # type: ignore[attr-defined]


CSV_COLUMNS = [
    "date",
    "lesson",
    "student",
    "lesson_status",
    "price",
    "fee",
    "refunded",
    "earnings",
    "transfer",
    "currency",
]


def earnings_csv(report: EarningsOut) -> str:
    """The per-lesson lines as CSV (amounts in minor units, times in UTC ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in report.lines:
        writer.writerow(
            [
                line.when.astimezone(UTC).isoformat() if line.when else "",
                _cell(line.label),
                _cell(line.student),
                line.lesson_status,
                line.price_minor,
                line.fee_minor,
                line.refunded_minor,
                line.earnings_minor,
                line.transfer_status or "",
                line.currency,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """No formula injection when the file is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def platform(session: AsyncSession) -> PlatformOut:
    rows = await session.execute(
        select(LedgerEntry.currency, LedgerEntry.bucket, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.party == "platform")
        .group_by(LedgerEntry.currency, LedgerEntry.bucket)
    )
    balances: dict[str, dict[str, int]] = defaultdict(dict)
    for currency, bucket, total in rows:
        balances[currency][bucket] = int(total)
    refunds = await session.scalars(select(Refund).order_by(Refund.id.desc()).limit(100))
    disputes = await session.scalars(select(Dispute).order_by(Dispute.id.desc()).limit(100))
    stuck = await session.scalars(
        select(Transfer)
        .where(
            or_(
                Transfer.status == MoneyStatus.FAILED.value,
                (Transfer.status == MoneyStatus.PENDING.value)
                & (Transfer.created_at < datetime.now(UTC) - timedelta(hours=1)),
            )
        )
        .order_by(Transfer.id.desc())
        .limit(100)
    )
    return PlatformOut(
        balances=dict(balances),
        ledger_totals=await ledger.totals_by_currency(session),
        refunds=[
            RefundOut(
                r.id,
                r.payment_id,
                r.item_id,
                r.amount_minor,
                r.reason,
                r.initiated_by,
                r.status,
                r.error,
                r.created_at,
            )
            for r in refunds
        ],
        disputes=[
            DisputeOut(
                d.id,
                d.payment_id,
                d.amount_minor,
                d.currency,
                d.reason,
                d.status,
                d.closed,
                d.opened_at,
            )
            for d in disputes
        ],
        transfers_needing_attention=[
            TransferOut(
                t.id,
                t.payment_id,
                t.tutor_id,
                t.amount_minor,
                t.currency,
                t.status,
                t.error,
                t.created_at,
            )
            for t in stuck
        ],
    )


async def recent_payments(session: AsyncSession, limit: int = 50) -> list[Payment]:
    return list(
        await session.scalars(
            select(Payment)
            .where(Payment.status == PaymentStatus.SUCCEEDED.value)
            .order_by(Payment.succeeded_at.desc())
            .limit(limit)
        )
    )
