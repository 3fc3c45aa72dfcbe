"""The append-only ledger: every money movement as legs that sum to zero.

Where money sits, per party and bucket:

- ``student/card``: what students paid (negative) and got back (positive);
- ``tutor/pending``: a tutor's share of paid lessons, still on the platform's balance;
- ``tutor/available``: transferred to the tutor's connected account, not yet paid out;
- ``tutor/paid_out``: paid out to the tutor's bank;
- ``platform/fees``: the platform's fee (revenue);
- ``platform/fronted``: money the platform advanced and expects back (a refund of money
  already transferred, until the transfer is reversed);
- ``platform/disputes``: money held by the card network for an open or lost dispute.

Balances are sums over these rows, never stored counters. A movement's name is unique per leg
(``uq_ledger_entries_leg``), so recording it twice is refused by PostgreSQL; ``record`` skips a
movement that is already there, which makes every caller idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from payouts.models import LedgerEntry


@dataclass(frozen=True)
class Leg:
    party: str
    party_id: int | None
    bucket: str
    amount: int
    kind: str


async def record(
    session: AsyncSession,
    movement: str,
    legs: Sequence[Leg],
    *,
    currency: str,
    payment_id: int | None,
    item_id: int | None,
    memo: str = "",
) -> bool:
    """Write ``movement`` once; returns False when it was already recorded."""
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs:
        return False
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"movement {movement} does not balance: {legs}")
    result = await session.execute(
        insert(LedgerEntry)
        .values(
            [
                {
                    "movement": movement,
                    "kind": leg.kind,
                    "party": leg.party,
                    "party_id": leg.party_id,
                    "bucket": leg.bucket,
                    "amount_minor": leg.amount,
                    "currency": currency,
                    "payment_id": payment_id,
                    "item_id": item_id,
                    "memo": memo[:200],
                }
                for leg in legs
            ]
        )
        .on_conflict_do_nothing(constraint="uq_ledger_entries_leg")
        .returning(LedgerEntry.id)
    )
    written = len(result.all())
    if written not in (0, len(legs)):
        raise RuntimeError(f"movement {movement} was partly recorded before")
    return written > 0


async def item_balance(session: AsyncSession, item_id: int, party: str, bucket: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.item_id == item_id,
            LedgerEntry.party == party,
            LedgerEntry.bucket == bucket,
        )
    )
    return int(total or 0)


async def balances(session: AsyncSession, party: str, party_id: int | None) -> dict[str, int]:
    """Bucket → balance for one party (``party_id`` None: the platform)."""
    query = (
        select(LedgerEntry.bucket, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.party == party)
        .group_by(LedgerEntry.bucket)
    )
    query = query.where(
        LedgerEntry.party_id.is_(None) if party_id is None else LedgerEntry.party_id == party_id
    )
    return {bucket: int(total) for bucket, total in await session.execute(query)}


async def totals_by_currency(session: AsyncSession) -> dict[str, int]:
    """The sum of the whole ledger per currency: zero when every movement balances."""
    rows = await session.execute(
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor)).group_by(
            LedgerEntry.currency
        )
    )
    return {currency: int(total) for currency, total in rows}


def fee_kept(amount: int, fee: int, refunded: int) -> int:
    """The fee the platform keeps on a line of ``amount`` once ``refunded`` of it went back.

    Computed on the cumulative refund, so several partial refunds round exactly like one.
    """
    return fee * (amount - refunded) // amount if amount else 0
