"""Request and response shapes for payments (msgspec structs; Litestar documents them)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class PaymentOut(msgspec.Struct):
    id: int
    kind: str
    ref: str
    status: str
    amount_minor: int
    currency: str
    description: str
    mode: str
    """``stripe`` or ``demo`` (the embedded default: no real money moves)."""
    checkout_url: str
    created_at: datetime
    succeeded_at: datetime | None
    failure_message: str
    client_secret: str | None = None
    """Only for the payer, while the payment is open: give it to stripe.js."""
    publishable_key: str | None = None


class PayoutAccountOut(msgspec.Struct):
    connected: bool
    account_id: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements: list[str]
    mode: str


class LinkOut(msgspec.Struct):
    url: str


class BalancesOut(msgspec.Struct):
    currency: str
    upcoming_minor: int
    """Your share of paid lessons still to come."""
    pending_minor: int
    """Your share of taught lessons, paid after the dispute window."""
    available_minor: int
    """Transferred to your payout account, not yet paid out to your bank."""
    paid_out_minor: int


class EarningLineOut(msgspec.Struct):
    item_id: int
    payment_id: int
    label: str
    when: datetime | None
    student: str
    lesson_status: str
    price_minor: int
    fee_minor: int
    refunded_minor: int
    earnings_minor: int
    transfer_status: str | None
    currency: str
    url: str


class EarningsOut(msgspec.Struct):
    balances: BalancesOut
    lines: list[EarningLineOut]


class AdminRefundIn(msgspec.Struct, forbid_unknown_fields=True):
    amount_minor: int
    reason: str
    item_id: int | None = None


class RefundOut(msgspec.Struct):
    id: int
    payment_id: int
    item_id: int
    amount_minor: int
    reason: str
    initiated_by: str
    status: str
    error: str
    created_at: datetime


class DisputeOut(msgspec.Struct):
    id: int
    payment_id: int
    amount_minor: int
    currency: str
    reason: str
    status: str
    closed: bool
    opened_at: datetime


class TransferOut(msgspec.Struct):
    id: int
    payment_id: int
    tutor_id: int
    amount_minor: int
    currency: str
    status: str
    error: str
    created_at: datetime


class PlatformOut(msgspec.Struct):
    balances: dict[str, dict[str, int]]
    """currency → bucket (fees, fronted, disputes) → balance in minor units."""
    ledger_totals: dict[str, int]
    """currency → sum of the whole ledger; always 0."""
    refunds: list[RefundOut]
    disputes: list[DisputeOut]
    transfers_needing_attention: list[TransferOut]
