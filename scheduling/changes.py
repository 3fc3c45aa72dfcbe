"""Changes to a booking after it is held: lifecycle events (cancel, no-show, dispute, ...),
reschedule requests and answers, and the timed transitions run by the sweep job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.uow import emit
from scheduling import availability, lifecycle, payments, policy, slots
from scheduling.lifecycle import LIVE_STATES, Action, Actor
from scheduling.models import Booking, RescheduleRequest
from scheduling.service import (
    Caller,
    RescheduleRequested,
    actor_for,
    booking_for,
    check_offered,
    pending_reschedule,
    utc,
)

# ---------------------------------------------------------------- events and cancellation


async def _refunded_so_far(session: AsyncSession, booking: Booking) -> int:
    return booking.refund_minor or 0


async def refund_quote(
    session: AsyncSession, booking: Booking, event: str, now: datetime
) -> policy.RefundQuote:
    rules = await availability.booking_rules(session, booking.tutor_id)
    return policy.quote(
        event,
        status=booking.status,
        price_minor=booking.price_minor,
        starts_at=booking.starts_at,
        now=now,
        policy=availability.cancel_policy(rules),
        already_refunded=await _refunded_so_far(session, booking),
    )


def cancel_event(booking: Booking, caller: Caller) -> str:
    """The caller's own cancellation; 403 for an admin, who refunds the payment instead of
    cancelling in someone's name."""
    actor = actor_for(booking, caller)
    event = "student_cancel" if actor is Actor.STUDENT else "tutor_cancel"
    lifecycle.require_actor(event, actor)
    return event


async def apply_event(
    session: AsyncSession,
    booking_id: int,
    caller: Caller,
    event: str,
    *,
    reason: str = "",
    dispute_window: timedelta,
    now: datetime | None = None,
) -> Booking:
    """Any lifecycle event requested by a person (cancel, no-show, dispute, waive, ...)."""
    now = now or datetime.now(UTC)
    booking = await booking_for(session, booking_id, caller, lock=True)
    actor = actor_for(booking, caller)
    rule = lifecycle.BY_EVENT.get(event)
    refund: int | None = None
    if rule is not None and Action.REFUND in rule.actions:
        refund = (await refund_quote(session, booking, event, now)).refund_minor
    applied = await lifecycle.transition(
        session,
        booking,
        event,
        actor,
        actor_id=caller.id,
        dispute_window=dispute_window,
        refund_minor=refund,
        reason=reason.strip(),
        now=now,
    )
    await payments.carry_out(session, booking, applied, refund, reason.strip())
    if event in ("student_cancel", "tutor_cancel"):
        booking.cancelled_by = actor.value
        booking.cancel_reason = reason.strip()[:500]
        booking.refund_minor = refund
        if (pending := await pending_reschedule(session, booking.id)) is not None:
            pending.status = "withdrawn"
            pending.decided_at = now
    elif refund is not None:
        booking.refund_minor = (booking.refund_minor or 0) + refund
    return booking


# ---------------------------------------------------------------- reschedule


async def reschedule_slots(
    session: AsyncSession,
    booking_id: int,
    caller: Caller,
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[Booking, list[tuple[datetime, datetime]]]:
    """The tutor's open slots in [start, end) this booking could move to: the same computation
    as booking (rules, buffers, notice, daily cap), with the booking's own time counted free."""
    booking = await booking_for(session, booking_id, caller)
    actor_for(booking, caller)
    cal = await availability.load_calendar(
        session, booking.tutor_id, start, end, ignore_booking=booking.id
    )
    found = slots.open_slots(cal, start, end, booking.duration_minutes, now)
    return booking, [(s, e) for s, e in found if s != booking.starts_at]


async def request_reschedule(
    session: AsyncSession, booking_id: int, caller: Caller, starts_at: datetime
) -> RescheduleRequest:
    now = datetime.now(UTC)
    booking = await booking_for(session, booking_id, caller, lock=True)
    lifecycle.require_actor("reschedule", actor_for(booking, caller))
    if booking.status not in {s.value for s in LIVE_STATES} or booking.starts_at <= now:
        raise lifecycle.IllegalTransition(
            f"This booking is {booking.status}; it cannot be rescheduled now.",
            fields={"status": booking.status},
        )
    start = utc(starts_at)
    cal = await availability.load_calendar(
        session,
        booking.tutor_id,
        start,
        start + timedelta(minutes=booking.duration_minutes),
        ignore_booking=booking.id,
    )
    check_offered(cal, start, booking.duration_minutes, now)
    if await pending_reschedule(session, booking.id) is not None:
        raise Conflict(
            "A reschedule request is already waiting for an answer.", code="reschedule_pending"
        )
    request = RescheduleRequest(
        booking_id=booking.id,
        requested_by=caller.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=booking.duration_minutes),
        status="pending",
    )
    session.add(request)
    await session.flush()
    emit(session, RescheduleRequested(booking.id, request.id, caller.id))
    return request


async def answer_reschedule(
    session: AsyncSession, booking_id: int, request_id: int, caller: Caller, *, accept: bool
) -> Booking:
    """The other side accepts or declines; the requester may decline to withdraw."""
    now = datetime.now(UTC)
    booking = await booking_for(session, booking_id, caller, lock=True)
    lifecycle.require_actor("reschedule", actor_for(booking, caller))
    request = await session.get(RescheduleRequest, request_id, with_for_update=True)
    if request is None or request.booking_id != booking.id or request.status != "pending":
        raise NotFound("No such pending request.", code="reschedule_not_found")
    if not accept:
        request.status = "withdrawn" if caller.id == request.requested_by else "declined"
        request.decided_at = now
        return booking
    if caller.id == request.requested_by:
        raise Forbidden("The other side accepts a reschedule.", code="not_your_answer")
    cal = await availability.load_calendar(
        session, booking.tutor_id, request.starts_at, request.ends_at, ignore_booking=booking.id
    )
    check_offered(cal, request.starts_at, booking.duration_minutes, now)
    await lifecycle.transition(
        session, booking, "reschedule", actor_for(booking, caller), actor_id=caller.id, now=now
    )
    rules = cal.rules
    booking.starts_at, booking.ends_at = request.starts_at, request.ends_at
    booking.period = Range(request.starts_at, request.ends_at, bounds="[)")
    booking.blocked = Range(
        request.starts_at - timedelta(minutes=rules.buffer_before),
        request.ends_at + timedelta(minutes=rules.buffer_after),
        bounds="[)",
    )
    request.status = "accepted"
    request.decided_at = now
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("That time has just been taken.", code="slot_taken") from None
    return booking


# ---------------------------------------------------------------- timed transitions


async def run_timed_transitions(
    session: AsyncSession,
    *,
    dispute_window: timedelta,
    now: datetime | None = None,
    batch: int = 500,
) -> dict[str, int]:
    """Fire every due timed transition (hold expiry, completion, settlement). Idempotent."""
    now = now or datetime.now(UTC)
    done: dict[str, int] = {}
    for rule in lifecycle.TIMED:
        assert rule.opens is not None
        column = {
            lifecycle.Anchor.HOLD_EXPIRES: Booking.hold_expires_at,
            lifecycle.Anchor.ENDS: Booking.ends_at,
            lifecycle.Anchor.SETTLES: Booking.ends_at,
        }[rule.opens]
        due = now - dispute_window if rule.opens is lifecycle.Anchor.SETTLES else now
        rows = await session.scalars(
            select(Booking)
            .where(Booking.status.in_([s.value for s in rule.sources]), column <= due)
            .order_by(column)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        count = 0
        for booking in rows:
            await lifecycle.transition(
                session, booking, rule.event, Actor.SYSTEM, dispute_window=dispute_window, now=now
            )
            await payments.carry_out(session, booking, rule, None, "")
            count += 1
        done[rule.event] = count
    return done
