"""Card disputes (chargebacks): the network takes the money back until the dispute closes.

Opening one moves ``D`` from the student's card back to them and into ``platform/disputes``,
and freezes the line's settlement. Winning puts it back. Losing applies the tutor's share and
the fee to the loss: what was still pending comes out of ``tutor/pending``, what was already
transferred is reversed. Each step is a uniquely named ledger movement, so events arriving
twice or in any order end in the same ledger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from payouts import ledger
from payouts.checkout import items_of
from payouts.ledger import Leg
from payouts.models import Dispute, Payment
from payouts.purchases import KINDS
from payouts.refunds import _in_flight_transfer, reverse, transfer_of


async def upsert(
    session: AsyncSession, payment: Payment, obj: dict[str, object], at: datetime
) -> Dispute:
    await session.execute(
        insert(Dispute)
        .values(
            stripe_dispute_id=str(obj["id"]),
            payment_id=payment.id,
            amount_minor=int(obj.get("amount") or payment.amount_minor),  # type: ignore[call-overload]
            currency=str(obj.get("currency") or payment.currency).upper(),
            reason=str(obj.get("reason") or "")[:64],
            status=str(obj.get("status") or "needs_response")[:32],
            opened_at=at,
        )
        .on_conflict_do_nothing(index_elements=["stripe_dispute_id"])
    )
    found = await session.scalar(
        select(Dispute).where(Dispute.stripe_dispute_id == str(obj["id"])).with_for_update()
    )
    assert found is not None
    return found


async def opened(session: AsyncSession, payment: Payment, dispute: Dispute) -> str:
    await ledger.record(
        session,
        f"dispute:{dispute.id}",
        [
            Leg("student", payment.payer_id, "card", dispute.amount_minor, "dispute"),
            Leg("platform", None, "disputes", -dispute.amount_minor, "dispute"),
        ],
        currency=dispute.currency,
        payment_id=payment.id,
        item_id=None,
        memo=dispute.reason,
    )
    if dispute.closed:
        return "dispute already closed"
    items = await items_of(session, payment.id)
    await KINDS.get(payment.kind).dispute_changed(session, payment, items, "opened")
    return "dispute opened"


async def closed(
    session: AsyncSession, payment: Payment, dispute: Dispute, status: str, at: datetime
) -> str:
    await opened(session, payment, dispute)  # a close that overtook its open still opens first
    if dispute.closed:
        return "dispute already closed"
    dispute.closed = True
    dispute.status = status[:32]
    dispute.closed_at = at
    won = status == "won"
    items = await items_of(session, payment.id)
    await audit.record(
        session,
        action="dispute.won" if won else "dispute.lost",
        actor_role="payment",
        actor_id=None,
        subject_kind="dispute",
        subject_id=dispute.id,
        details={
            "payment_id": payment.id,
            "amount_minor": dispute.amount_minor,
            "currency": dispute.currency,
            "status": dispute.status,
        },
    )
    if won:
        await ledger.record(
            session,
            f"dispute_won:{dispute.id}",
            [
                Leg("student", payment.payer_id, "card", -dispute.amount_minor, "dispute"),
                Leg("platform", None, "disputes", dispute.amount_minor, "dispute"),
            ],
            currency=dispute.currency,
            payment_id=payment.id,
            item_id=None,
        )
    else:
        for item in items:
            pending = await ledger.item_balance(session, item.id, "tutor", "pending")
            pending -= await _in_flight_transfer(session, item.id)
            fees = await ledger.item_balance(session, item.id, "platform", "fees")
            transfer = await transfer_of(session, item.id)
            # What the student paid for the line and did not get back, less the platform's fee.
            remaining = -await ledger.item_balance(session, item.id, "student", "card")
            share = remaining - fees
            from_pending = max(0, min(pending, share))
            fronted = share - from_pending if transfer is not None else 0
            await ledger.record(
                session,
                f"dispute_lost:{dispute.id}:{item.id}",
                [
                    Leg("tutor", payment.payee_id, "pending", -from_pending, "dispute"),
                    Leg("platform", None, "fees", -fees, "dispute"),
                    Leg("platform", None, "fronted", -fronted, "dispute"),
                    Leg("platform", None, "disputes", from_pending + fees + fronted, "dispute"),
                ],
                currency=payment.currency,
                payment_id=payment.id,
                item_id=item.id,
            )
            if fronted > 0 and transfer is not None:
                await reverse(session, transfer, fronted, cause=f"dispute:{dispute.id}")
    await KINDS.get(payment.kind).dispute_changed(session, payment, items, "won" if won else "lost")
    return f"dispute {'won' if won else 'lost'}"
