"""What can be bought, and who fulfils it: the seam between payments and the higher packages.

Payments know nothing of bookings or courses. A purchase is a kind (``booking``,
``booking_series``, ``course``), a reference, a payer, a payee and lines with
server-computed amounts. The package that sells a kind registers a ``PurchaseKind`` (wired by
the composition root, ``marketplace/app.py``); payments call it *inside the transaction that
records the money*, so "payment recorded" and "lesson confirmed" commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from payouts.models import Payment, PaymentItem


@dataclass(frozen=True)
class Line:
    item_kind: str
    item_id: int
    amount_minor: int
    description: str


@dataclass(frozen=True)
class Purchase:
    kind: str
    ref: str
    payer_id: int
    payee_id: int
    currency: str
    description: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class LineView:
    """How a paid line reads on the earnings and admin pages."""

    label: str
    when: datetime | None
    state: str
    upcoming: bool  # not delivered yet (a lesson still to come)
    url: str
    counterpart: str = ""  # the other person (the student, for a tutor)
    # Why the line costs what it does when that differs from the listed price (a trial).
    note: str = ""


@dataclass(frozen=True)
class Wording:
    """How the checkout pages speak of what a kind sells (a lesson, a course)."""

    heading: str = "Pay"
    back: str = "Back"  # the link back to what is bought
    go: str = "Continue"  # the link to it once paid
    done_title: str = "Paid!"
    done_text: str = "Thank you."
    waiting_text: str = "Confirming your purchase…"
    note: str = ""  # the small print under the price
    list_url: str = "/"
    list_label: str = "Home"


class PurchaseKind(Protocol):
    async def check_payable(self, session: AsyncSession, purchase: Purchase, now: datetime) -> None:
        """Lock what is bought and raise (403/409) if it cannot be paid for now."""
        ...

    async def payment_started(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        until: datetime,
    ) -> None:
        """The payer submitted their card: keep what is bought for them until ``until``;
        raise (409) if it cannot be paid any more."""
        ...

    async def fulfil(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        paid_at: datetime,
    ) -> list[PaymentItem]:
        """The money arrived: deliver. Returns the lines that could not be delivered (they
        are refunded in full)."""
        ...

    async def payment_failed(
        self, session: AsyncSession, payment: Payment, items: Sequence[PaymentItem], now: datetime
    ) -> bool:
        """An attempt failed. Returns whether the purchase may still be paid (a retry)."""
        ...

    async def refunded(
        self,
        session: AsyncSession,
        payment: Payment,
        item: PaymentItem,
        *,
        full: bool,
        initiated_by: str,
    ) -> None:
        """A refund of the line was recorded (by the seller's policy, an admin, the system or
        at the provider); ``full``: nothing of the line is left to refund."""
        ...

    async def dispute_changed(
        self,
        session: AsyncSession,
        payment: Payment,
        items: Sequence[PaymentItem],
        outcome: str,  # "opened", "won" or "lost"
    ) -> None: ...

    async def describe(
        self, session: AsyncSession, items: Sequence[PaymentItem]
    ) -> dict[int, LineView]:
        """Payment item id → how it reads for people."""
        ...


class Registry:
    """Purchase kinds by name; filled by the composition root before anything is paid."""

    def __init__(self) -> None:
        self._kinds: dict[str, PurchaseKind] = {}
        self._wording: dict[str, Wording] = {}

    def register(self, kind: str, handler: PurchaseKind, wording: Wording | None = None) -> None:
        self._kinds[kind] = handler
        self._wording[kind] = wording or Wording()

    def wording(self, kind: str) -> Wording:
        return self._wording.get(kind) or Wording()

    def get(self, kind: str) -> PurchaseKind:
        try:
            return self._kinds[kind]
        except KeyError:
            raise RuntimeError(f"no purchase kind {kind!r} is registered (see app.py)") from None

    def kinds(self) -> list[str]:
        return sorted(self._kinds)


KINDS = Registry()
