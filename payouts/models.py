"""Payment tables: connected accounts, payments and their items, refunds, transfers,
reversals, disputes, provider payouts, received webhook events, and the append-only ledger.

Amounts are integer minor units with an ISO 4217 currency. Rows that mirror a provider object
keep its id under a unique constraint, so recording the same object twice is impossible.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, Timestamped


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT = "requires_payment"  # created; the payer has not paid yet
    PROCESSING = "processing"  # the payer submitted; the provider is working on it
    SUCCEEDED = "succeeded"  # the money is on the platform's balance
    FAILED = "failed"  # the last attempt failed; a new checkout may start
    CANCELLED = "cancelled"  # abandoned (the purchase cannot be paid any more)


# A purchase has at most one open checkout; a second one reuses it.
OPEN_PAYMENT_STATES = (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING)


class MoneyStatus(StrEnum):
    """Of a refund, transfer or reversal we asked the provider for."""

    PENDING = "pending"  # recorded, not yet confirmed by the provider
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_OPEN_SQL = ", ".join(f"'{s.value}'" for s in OPEN_PAYMENT_STATES)
_PAYMENT_STATES_SQL = ", ".join(f"'{s.value}'" for s in PaymentStatus)
_MONEY_STATES_SQL = ", ".join(f"'{s.value}'" for s in MoneyStatus)


class ConnectedAccount(Timestamped, Base):
    """A tutor's Stripe Express account and what Stripe last told us about it."""

    __tablename__ = "connected_accounts"

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    details_submitted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    requirements: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    links_made: Mapped[int] = mapped_column(Integer, server_default="0")
    # ``created`` of the newest account.updated applied: older events arriving late are ignored.
    synced_at: Mapped[datetime | None]


class Payment(Timestamped, Base):
    """One checkout of something purchasable (a booking, a weekly series, a course)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(f"status IN ({_PAYMENT_STATES_SQL})", name="known_status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        Index(
            "uq_payments_open_purchase",
            "kind",
            "ref",
            unique=True,
            postgresql_where=text(f"status IN ({_OPEN_SQL})"),
        ),
        Index("ix_payments_purchase", "kind", "ref"),
        Index("ix_payments_payee", "payee_id", "created_at"),
        Index("ix_payments_payer", "payer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    payer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    payee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    fee_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(24))
    gateway: Mapped[str] = mapped_column(String(8))  # stripe or demo
    intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(200))
    charge_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure_message: Mapped[str] = mapped_column(String(500), server_default="")
    succeeded_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")

    @property
    def transfer_group(self) -> str:
        return f"payment_{self.id}"


class PaymentItem(Base):
    """What one payment bought, line by line (a lesson each): settled and refunded per line."""

    __tablename__ = "payment_items"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("fee_minor BETWEEN 0 AND amount_minor", name="fee_within_amount"),
        UniqueConstraint("payment_id", "item_kind", "item_id", name="uq_payment_items_line"),
        Index("ix_payment_items_item", "item_kind", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    item_kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(Integer)
    fee_minor: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(f"status IN ({_MONEY_STATES_SQL})", name="known_status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "initiated_by IN ('policy', 'admin', 'system', 'provider')", name="known_initiator"
        ),
        Index("ix_refunds_payment", "payment_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    item_id: Mapped[int] = mapped_column(ForeignKey("payment_items.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    initiated_by: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str] = mapped_column(String(500), server_default="")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Transfer(Base):
    """The tutor's share of one item, sent to their connected account: at most one per item."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint(f"status IN ({_MONEY_STATES_SQL})", name="known_status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_transfers_tutor", "tutor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("payment_items.id", ondelete="RESTRICT"), unique=True
    )
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    destination: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str] = mapped_column(String(500), server_default="")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class TransferReversal(Base):
    """Taking (part of) a transfer back from the tutor, for a refund or a lost dispute."""

    __tablename__ = "transfer_reversals"
    __table_args__ = (
        CheckConstraint(f"status IN ({_MONEY_STATES_SQL})", name="known_status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        UniqueConstraint("transfer_id", "cause", name="uq_transfer_reversals_cause"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id", ondelete="RESTRICT"))
    cause: Mapped[str] = mapped_column(String(32))  # refund:<id>, dispute:<id>, provider
    amount_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    stripe_reversal_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str] = mapped_column(String(500), server_default="")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Dispute(Base):
    """A card dispute (chargeback) as the provider reports it."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(64), server_default="")
    status: Mapped[str] = mapped_column(String(32))
    closed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    opened_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]


class ProviderPayout(Base):
    """A payout from a tutor's connected balance to their bank (``payout.*`` events)."""

    __tablename__ = "provider_payouts"

    stripe_payout_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    arrival_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class WebhookEventRow(Base):
    """Every provider event we accepted, once (its id is the primary key)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index(
            "ix_webhook_events_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(200), server_default="")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")


class LedgerEntry(Base):
    """One leg of a money movement. Append-only: never updated, never deleted.

    Every movement writes legs that sum to zero (money moves, it is not made), so the sum of
    the whole ledger is zero in each currency. ``party`` is ``student``, ``tutor`` or
    ``platform``; ``bucket`` says where the money sits for that party. ``movement`` names the
    cause uniquely (``charge:<payment item>``, ``transfer:<id>`` ...), so writing the same
    movement twice is refused by the database.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("party IN ('student', 'tutor', 'platform')", name="known_party"),
        CheckConstraint(
            "kind IN ('charge', 'fee', 'refund', 'transfer', 'reversal', 'payout', 'dispute')",
            name="known_kind",
        ),
        UniqueConstraint("movement", "party", "bucket", name="uq_ledger_entries_leg"),
        Index("ix_ledger_entries_party", "party", "party_id", "bucket"),
        Index("ix_ledger_entries_item", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    movement: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int | None] = mapped_column(BigInteger)
    bucket: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("payment_items.id", ondelete="RESTRICT"))
    memo: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DemoObject(Base):
    """The demo gateway's own store (the embedded default only): what Stripe would keep."""

    __tablename__ = "demo_gateway_objects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
