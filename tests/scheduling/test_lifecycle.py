"""Every legal and illegal transition, driven by the lifecycle table itself; refund amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import Forbidden
from scheduling import lifecycle, policy
from scheduling.lifecycle import TRANSITIONS, Actor, Anchor, IllegalTransition, State, Transition
from scheduling.models import Booking

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)
WINDOW = timedelta(hours=72)


def booking_for(rule: Transition, status: State) -> Booking:
    """A booking in ``status`` whose times make ``rule`` open right now."""
    if rule.opens is Anchor.SETTLES:
        start = NOW - WINDOW - timedelta(hours=3)
    elif rule.opens in (Anchor.STARTS, Anchor.ENDS) or rule.closes is Anchor.SETTLES:
        start = NOW - timedelta(hours=2)
    else:
        start = NOW + timedelta(days=3)
    expires = (
        NOW - timedelta(minutes=1)
        if rule.opens is Anchor.HOLD_EXPIRES
        else NOW + timedelta(minutes=10)
    )
    return Booking(
        id=1,
        tutor_id=2,
        student_id=3,
        status=status.value,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        hold_expires_at=expires,
        sequence=0,
        currency="EUR",
        price_minor=4500,
    )


def allowed_actor(rule: Transition) -> Actor:
    return sorted(rule.actors)[0]


CASES = [(rule, state) for rule in TRANSITIONS for state in State]


@pytest.mark.parametrize(
    ("rule", "state"), CASES, ids=[f"{r.event}-from-{s.value}" for r, s in CASES]
)
async def test_transition_table(rule: Transition, state: State) -> None:
    session = AsyncSession()  # never touches the database: transition only adds and emits
    booking = booking_for(rule, state)
    refund = 0 if lifecycle.Action.REFUND in rule.actions else None
    call = lifecycle.transition(
        session,
        booking,
        rule.event,
        allowed_actor(rule),
        dispute_window=WINDOW,
        refund_minor=refund,
        now=NOW,
    )
    if state in rule.sources:
        await call
        assert booking.status == (rule.target or state).value
        assert booking.sequence == 1
        emitted = session.info["duet_events"][0]
        assert emitted.event == rule.event and emitted.from_state == state.value
        assert emitted.actions == tuple(a.value for a in rule.actions)
    else:
        with pytest.raises(IllegalTransition) as info:
            await call
        assert info.value.status_code == 409 and info.value.code == "illegal_transition"
        assert info.value.fields == {"status": state.value} and state.value in info.value.message
        assert booking.status == state.value


@pytest.mark.parametrize("rule", TRANSITIONS, ids=[r.event for r in TRANSITIONS])
async def test_actors_outside_the_table_are_refused(rule: Transition) -> None:
    for actor in set(Actor) - rule.actors:
        booking = booking_for(rule, sorted(rule.sources)[0])
        with pytest.raises(Forbidden):
            await lifecycle.transition(
                AsyncSession(), booking, rule.event, actor, now=NOW, refund_minor=0
            )


async def test_timed_transitions_wait_for_their_moment() -> None:
    hold = booking_for(lifecycle.BY_EVENT["confirm"], State.HELD)  # expires in 10 minutes
    with pytest.raises(IllegalTransition) as early:
        await lifecycle.transition(AsyncSession(), hold, "expire", Actor.SYSTEM, now=NOW)
    assert early.value.code == "too_early"
    later = NOW + timedelta(minutes=11)
    with pytest.raises(IllegalTransition) as late:  # an expired hold cannot be paid
        await lifecycle.transition(AsyncSession(), hold, "confirm", Actor.PAYMENT, now=later)
    assert late.value.code == "too_late"
    await lifecycle.transition(AsyncSession(), hold, "expire", Actor.SYSTEM, now=later)
    assert hold.status == "expired"


def test_declared_once_and_consistent() -> None:
    events = [t.event for t in TRANSITIONS]
    assert len(events) == len(set(events))
    assert {t.event for t in lifecycle.TIMED} == {"expire", "complete", "settle"}
    assert all(Actor.SYSTEM in t.actors for t in lifecycle.TIMED)
    reachable = {State.HELD} | {t.target for t in TRANSITIONS if t.target}
    assert reachable == set(State)
    assert timedelta(minutes=15) == lifecycle.HOLD_DURATION


START = datetime(2026, 6, 10, 18, tzinfo=UTC)
P = policy.Policy(free_cancel_hours=24, late_refund_percent=0)


@pytest.mark.parametrize(
    ("event", "status", "now", "pol", "refund"),
    [
        ("student_cancel", "confirmed", START - timedelta(hours=25), P, 4500),
        ("student_cancel", "confirmed", START - timedelta(hours=24), P, 4500),  # boundary: free
        ("student_cancel", "confirmed", START - timedelta(hours=23), P, 0),
        ("student_cancel", "confirmed", START - timedelta(hours=2), policy.Policy(24, 50), 2250),
        ("student_cancel", "held", START - timedelta(hours=2), P, 0),  # nothing paid yet
        ("tutor_cancel", "confirmed", START - timedelta(hours=1), P, 4500),
        ("tutor_cancel", "held", START - timedelta(hours=1), P, 0),
        ("tutor_no_show", "confirmed", START + timedelta(hours=1), P, 4500),
        ("resolve_for_student", "disputed", START + timedelta(days=1), P, 4500),
        ("student_no_show", "confirmed", START + timedelta(hours=1), P, 0),
    ],
)
def test_refund_amounts(
    event: str, status: str, now: datetime, pol: policy.Policy, refund: int
) -> None:
    quote = policy.quote(
        event, status=status, price_minor=4500, starts_at=START, now=now, policy=pol
    )
    assert quote.refund_minor == refund
    assert quote.free_until == START - timedelta(hours=pol.free_cancel_hours)


def test_waiving_the_fee_refunds_the_rest() -> None:
    quote = policy.quote(
        "waive_fee",
        status="cancelled_by_student",
        price_minor=4500,
        starts_at=START,
        now=START,
        policy=policy.Policy(24, 50),
        already_refunded=2250,
    )
    assert quote.refund_minor == 2250
