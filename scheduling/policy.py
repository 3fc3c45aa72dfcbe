"""Cancellation policy: how much of a lesson's price goes back to the student.

Pure arithmetic. Moving money is the payments package's job; scheduling only computes the
amount and carries it on the ``BookingTransitioned`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduling.lifecycle import State

# Platform bounds a tutor's own policy must stay within.
MIN_FREE_CANCEL_HOURS = 0
MAX_FREE_CANCEL_HOURS = 72
DEFAULT_FREE_CANCEL_HOURS = 24


@dataclass(frozen=True)
class Policy:
    free_cancel_hours: int = DEFAULT_FREE_CANCEL_HOURS
    late_refund_percent: int = 0


@dataclass(frozen=True)
class RefundQuote:
    refund_minor: int
    free_until: datetime
    reason: str


def paid(status: str) -> bool:
    """A hold has not been paid yet, so cancelling it refunds nothing."""
    return status != State.HELD.value


def quote(
    event: str,
    *,
    status: str,
    price_minor: int,
    starts_at: datetime,
    now: datetime,
    policy: Policy,
    already_refunded: int = 0,
) -> RefundQuote:
    """The refund for ``event`` on a booking in ``status``."""
    free_until = starts_at - timedelta(hours=policy.free_cancel_hours)
    if event == "student_cancel":
        if not paid(status):
            return RefundQuote(0, free_until, "Nothing was paid for this hold.")
        if now <= free_until:
            return RefundQuote(price_minor, free_until, "Free cancellation: a full refund.")
        late = price_minor * policy.late_refund_percent // 100
        return RefundQuote(
            late,
            free_until,
            f"Late cancellation: {policy.late_refund_percent} % back, unless the tutor waives "
            "the fee.",
        )
    if event == "waive_fee":
        return RefundQuote(
            max(0, price_minor - already_refunded), free_until, "The tutor waived the fee."
        )
    if event in {"tutor_cancel", "tutor_no_show", "resolve_for_student"}:
        amount = price_minor if paid(status) else 0
        return RefundQuote(amount, free_until, "A full refund.")
    return RefundQuote(0, free_until, "No refund.")
