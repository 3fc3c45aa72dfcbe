"""The booking lifecycle, declared once as data, and the one function that moves a booking.

Every state change — from the API, from jobs, from payment webhooks — goes through
``transition()``. It checks the event is allowed from the current state, by this actor, at this
time; records it; and emits ``BookingTransitioned`` carrying the named side effects
(``notify``, ``refund``, ``transfer``) for whichever package carries them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from marketplace.audit import service as audit
from marketplace.errors import Conflict, Forbidden, ValidationFailed
from marketplace.uow import emit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from scheduling.models import Booking


class State(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    SETTLED = "settled"
    CANCELLED_BY_STUDENT = "cancelled_by_student"
    CANCELLED_BY_TUTOR = "cancelled_by_tutor"
    EXPIRED = "expired"
    NO_SHOW_STUDENT = "no_show_student"
    NO_SHOW_TUTOR = "no_show_tutor"
    DISPUTED = "disputed"
    REFUNDED = "refunded"


class Actor(StrEnum):
    STUDENT = "student"
    TUTOR = "tutor"
    ADMIN = "admin"
    SYSTEM = "system"  # timed transitions, run by jobs
    PAYMENT = "payment"  # the payments package, from its webhooks


class Action(StrEnum):
    """Side effects, carried out by subscribers of ``BookingTransitioned``."""

    NOTIFY = "notify"  # tell both sides (in-app, SMS)
    REFUND = "refund"  # give back ``refund_minor`` (payments)
    TRANSFER = "transfer"  # pay the tutor (payments)


class Anchor(StrEnum):
    """Points in a booking's life that open or close a transition."""

    HOLD_EXPIRES = "hold_expires_at"
    STARTS = "starts_at"
    ENDS = "ends_at"
    SETTLES = "settles_at"  # ends_at + the dispute window


# States in which a booking occupies its time (the exclusion constraints cover exactly these).
LIVE_STATES = (State.HELD, State.CONFIRMED)
HOLD_DURATION = timedelta(minutes=15)


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[State]
    target: State | None  # None: the state stays (a reschedule, a waived fee)
    actors: frozenset[Actor]
    actions: tuple[Action, ...] = ()
    opens: Anchor | None = None  # allowed from this moment on
    closes: Anchor | None = None  # allowed only before this moment
    timed: bool = False  # also fired by the system when ``opens`` passes
    label: str = ""


def _t(
    event: str,
    sources: set[State],
    target: State | None,
    actors: set[Actor],
    actions: tuple[Action, ...] = (),
    **kw: object,
) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(actors), actions, **kw)  # type: ignore[arg-type]


S, A = State, Actor
# Admins refund and moderate; they never act as one of the lesson's two people. A participant's
# transition (cancel, reschedule, no-show claims, dispute, waive a fee) lists only that person;
# admins keep the decisions that are theirs: confirm a paid hold the webhook missed, complete,
# end a lesson's room, settle, and resolve a dispute. Their money tool is the payment refund.
# A hold is created by a student (``hold``), not moved into; every other change is listed here.
HOLD = _t("hold", set(), S.HELD, {A.STUDENT}, label="hold")
TRANSITIONS: tuple[Transition, ...] = (
    _t(
        "confirm",
        {S.HELD},
        S.CONFIRMED,
        {A.PAYMENT, A.ADMIN},
        (Action.NOTIFY,),
        closes=Anchor.HOLD_EXPIRES,
        label="confirmed",
    ),
    # While a payment is in progress the hold is extended (and set back when it fails), so a
    # slow 3-D Secure step does not lose the slot; a failed payment past the hold releases it.
    _t(
        "adjust_hold",
        {S.HELD},
        None,
        {A.PAYMENT},
        closes=Anchor.HOLD_EXPIRES,
        label="hold adjusted for a payment",
    ),
    _t("release", {S.HELD}, S.EXPIRED, {A.PAYMENT}, label="released: the payment failed"),
    _t(
        "expire",
        {S.HELD},
        S.EXPIRED,
        {A.SYSTEM},
        opens=Anchor.HOLD_EXPIRES,
        timed=True,
        label="expired",
    ),
    _t(
        "student_cancel",
        {S.HELD, S.CONFIRMED},
        S.CANCELLED_BY_STUDENT,
        {A.STUDENT},
        # A late cancellation keeps part of the price; the tutor's share of it is paid out now.
        (Action.REFUND, Action.TRANSFER, Action.NOTIFY),
        closes=Anchor.STARTS,
        label="cancelled by the student",
    ),
    _t(
        "tutor_cancel",
        {S.HELD, S.CONFIRMED},
        S.CANCELLED_BY_TUTOR,
        {A.TUTOR},
        (Action.REFUND, Action.NOTIFY),
        closes=Anchor.STARTS,
        label="cancelled by the tutor",
    ),
    _t(
        "waive_fee",
        {S.CANCELLED_BY_STUDENT},
        None,
        {A.TUTOR},
        (Action.REFUND, Action.NOTIFY),
        label="late-cancellation fee waived",
    ),
    _t(
        "reschedule",
        {S.HELD, S.CONFIRMED},
        None,
        {A.STUDENT, A.TUTOR},
        (Action.NOTIFY,),
        closes=Anchor.STARTS,
        label="rescheduled",
    ),
    _t(
        "complete",
        {S.CONFIRMED},
        S.COMPLETED,
        {A.SYSTEM, A.ADMIN},
        opens=Anchor.ENDS,
        timed=True,
        label="completed",
    ),
    _t(
        # The tutor's "End lesson" in the lesson room; from the start, possibly before the end.
        "end_lesson",
        {S.CONFIRMED},
        S.COMPLETED,
        {A.TUTOR, A.ADMIN},
        opens=Anchor.STARTS,
        label="ended by the tutor",
    ),
    _t(
        "student_no_show",
        {S.CONFIRMED, S.COMPLETED},
        S.NO_SHOW_STUDENT,
        {A.TUTOR},
        (Action.TRANSFER, Action.NOTIFY),
        opens=Anchor.STARTS,
        closes=Anchor.SETTLES,
        label="student did not show up",
    ),
    _t(
        "tutor_no_show",
        {S.CONFIRMED, S.COMPLETED},
        S.NO_SHOW_TUTOR,
        {A.STUDENT},
        (Action.REFUND, Action.NOTIFY),
        opens=Anchor.STARTS,
        closes=Anchor.SETTLES,
        label="tutor did not show up",
    ),
    _t(
        "dispute",
        {S.COMPLETED},
        S.DISPUTED,
        {A.STUDENT, A.PAYMENT},
        (Action.NOTIFY,),
        closes=Anchor.SETTLES,
        label="disputed",
    ),
    _t(
        "settle",
        {S.COMPLETED},
        S.SETTLED,
        {A.SYSTEM, A.ADMIN},
        (Action.TRANSFER,),
        opens=Anchor.SETTLES,
        timed=True,
        label="settled",
    ),
    _t(
        "resolve_for_tutor",
        {S.DISPUTED},
        S.SETTLED,
        {A.ADMIN},
        (Action.TRANSFER, Action.NOTIFY),
        label="dispute resolved for the tutor",
    ),
    _t(
        "resolve_for_student",
        {S.DISPUTED},
        S.REFUNDED,
        {A.ADMIN, A.PAYMENT},
        (Action.REFUND, Action.NOTIFY),
        label="dispute resolved for the student",
    ),
    # Card disputes (chargebacks), driven by the payment provider's webhooks. The money is
    # already held by the card network, so losing one is no refund of ours.
    _t(
        "card_dispute",
        {S.CONFIRMED, S.COMPLETED, S.SETTLED},
        S.DISPUTED,
        {A.PAYMENT},
        (Action.NOTIFY,),
        label="disputed with the card issuer",
    ),
    _t(
        "dispute_won",
        {S.DISPUTED},
        S.COMPLETED,
        {A.PAYMENT},
        (Action.NOTIFY,),
        label="card dispute closed for the tutor",
    ),
    _t(
        "dispute_lost",
        {S.DISPUTED},
        S.REFUNDED,
        {A.PAYMENT},
        (Action.NOTIFY,),
        label="card dispute closed for the student",
    ),
)
BY_EVENT: Mapping[str, Transition] = {t.event: t for t in TRANSITIONS}
TIMED: tuple[Transition, ...] = tuple(t for t in TRANSITIONS if t.timed)


@dataclass(frozen=True)
class BookingTransitioned:
    """Published after commit for every change (and for a new hold, with ``event="hold"``)."""

    booking_id: int
    tutor_id: int
    student_id: int
    event: str
    from_state: str
    to_state: str
    actor: str
    actions: tuple[str, ...]
    refund_minor: int | None = None
    currency: str = ""


class IllegalTransition(Conflict):
    code = "illegal_transition"


class ActorNotAllowed(Forbidden):
    code = "actor_not_allowed"


def require_actor(event: str, actor: Actor) -> Transition:
    """The rule for ``event`` if ``actor`` may trigger it; 403 ``actor_not_allowed`` otherwise.

    Checked before anything else (also by the reschedule request, which proposes the
    ``reschedule`` transition before it happens), so an admin is refused whatever the state."""
    rule = BY_EVENT.get(event)
    if rule is None:
        raise ValidationFailed({"event": f"Unknown event {event!r}."})
    if actor not in rule.actors:
        if actor is Actor.ADMIN:
            raise ActorNotAllowed(
                "Admins do not act for a lesson's student or tutor; refund the payment or "
                "resolve a dispute instead.",
            )
        raise ActorNotAllowed(f"A {actor.value} cannot do this ({event}).")
    return rule


def anchor_time(booking: Booking, anchor: Anchor, dispute_window: timedelta) -> datetime | None:
    if anchor is Anchor.HOLD_EXPIRES:
        return booking.hold_expires_at
    if anchor is Anchor.STARTS:
        return booking.starts_at
    if anchor is Anchor.ENDS:
        return booking.ends_at
    return booking.ends_at + dispute_window


async def transition(
    session: AsyncSession,
    booking: Booking,
    event: str,
    actor: Actor,
    *,
    actor_id: int | None = None,
    dispute_window: timedelta = timedelta(hours=48),
    refund_minor: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Transition:
    """Move ``booking`` (locked by the caller) by ``event``; 409 when not allowed now.

    ``refund_minor`` is required for transitions with the ``refund`` action; the caller computes
    it with ``scheduling.policy``. An admin's transition is also written to the audit trail
    (the booking's own log keeps every transition).
    """
    from scheduling.models import BookingTransition  # models import this module's states

    rule = require_actor(event, actor)
    current = State(booking.status)
    if current not in rule.sources:
        raise IllegalTransition(
            f"This booking is {current.value}; it cannot be {rule.label or event} now.",
            fields={"status": current.value},
        )
    now = now or datetime.now(UTC)
    if rule.opens is not None:
        opens = anchor_time(booking, rule.opens, dispute_window)
        if opens is not None and now < opens:
            raise IllegalTransition(
                f"This booking is {current.value}; {event} is possible from {opens.isoformat()}.",
                code="too_early",
                fields={"status": current.value},
            )
    if rule.closes is not None:
        closes = anchor_time(booking, rule.closes, dispute_window)
        if closes is not None and now >= closes:
            raise IllegalTransition(
                f"This booking is {current.value}; it is too late to {event.replace('_', ' ')}.",
                code="too_late",
                fields={"status": current.value},
            )
    if Action.REFUND in rule.actions and refund_minor is None:
        raise ValueError(f"{event} refunds: pass refund_minor")
    target = rule.target or current
    booking.status = target.value
    booking.sequence += 1
    booking.updated_at = now
    session.add(
        BookingTransition(
            booking_id=booking.id,
            event=event,
            from_status=current.value,
            to_status=target.value,
            actor=actor.value,
            actor_id=actor_id,
        )
    )
    if actor is Actor.ADMIN:
        await audit.record(
            session,
            action=f"booking.{event}",
            actor_role="admin",
            actor_id=actor_id,
            subject_kind="booking",
            subject_id=booking.id,
            reason=reason,
            details={"from": current.value, "to": target.value},
        )
    emit(
        session,
        BookingTransitioned(
            booking_id=booking.id,
            tutor_id=booking.tutor_id,
            student_id=booking.student_id,
            event=event,
            from_state=current.value,
            to_state=target.value,
            actor=actor.value,
            actions=tuple(a.value for a in rule.actions),
            refund_minor=refund_minor if Action.REFUND in rule.actions else None,
            currency=booking.currency,
        ),
    )
    return rule
