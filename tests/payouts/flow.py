"""Steps of the money flow for tests, the same in Stripe mode (the double) and demo mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dramatiq.brokers.stub import StubBroker
from litestar.testing import TestClient

from marketplace import db
from marketplace.app import wire_subscribers
from marketplace.events import EventBus
from marketplace.tasks import DramatiqQueue
from payouts.demo_gateway import DemoGateway
from payouts.runtime import Payments, open_payments
from tests.conftest import run_jobs
from tests.helpers import run_async
from tests.payouts.accounts import enable_payouts
from tests.scheduling.helpers import approved_tutor, book, local_slot, sql, student
from tests.stripe_double import StripeDouble

BERLIN = "Europe/Berlin"
PRICE = 4500  # the 60-minute price of tests.helpers.COMPLETE_PROFILE
FEE = PRICE * 1500 // 10_000  # PLATFORM_FEE_BPS 1500
SHARE = PRICE - FEE


@dataclass
class Env:
    client: TestClient[Any]
    queue: DramatiqQueue
    double: StripeDouble | None  # None: the demo gateway

    @property
    def services(self) -> Any:
        return self.client.app.state.services


def drain(env: Env, rounds: int = 6) -> None:
    """Run jobs until none are left (jobs queue more jobs: events → transfers → events)."""
    broker = env.queue.broker
    assert isinstance(broker, StubBroker)
    for _ in range(rounds):
        run_jobs(env.queue)
        if all(q.qsize() == 0 for q in broker.queues.values()):
            return
    raise AssertionError("jobs kept coming")


def deliver(env: Env) -> None:
    """Send what Stripe has to say to the webhook endpoint, then run the jobs."""
    if env.double is not None:
        env.double.deliver(env.client)
    drain(env)
    if env.double is not None and env.double.outbox:  # our jobs made Stripe say more
        env.double.deliver(env.client)
        drain(env)


def bookable_tutor(env: Env, **kwargs: Any) -> tuple[int, dict[str, str], str]:
    tutor_id, headers = approved_tutor(env.client, payouts=False, **kwargs)
    account = env.double.enabled_account() if env.double else None
    return tutor_id, headers, enable_payouts(env.client, tutor_id, account)


def hold(env: Env, headers: dict[str, str], tutor_id: int, days: int = 3, hour: int = 10) -> Any:
    response = book(env.client, headers, tutor_id, local_slot(BERLIN, days, hour))
    assert response.status_code == 201, response.text
    return response.json()


def checkout(env: Env, headers: dict[str, str], booking_id: int) -> Any:
    response = env.client.post(f"/api/v1/bookings/{booking_id}/checkout", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def intent_of(env: Env, payment_id: int) -> str:
    rows = sql(env.client, "SELECT intent_id FROM payments WHERE id = $1", payment_id)
    return str(rows[0]["intent_id"])


def pay(env: Env, payment: Any, *, card: str = "ok", deliver_now: bool = True) -> None:
    """The student confirms the card (stripe.js, or the demo payment step)."""
    intent = intent_of(env, payment["id"])
    if env.double is not None:
        env.double.confirm(intent, card=card)
    else:
        run_async(_demo_pay(env, intent, card == "ok"))
    if deliver_now:
        deliver(env)


@asynccontextmanager
async def payments(env: Env) -> AsyncIterator[Payments]:
    """The app's payment context on this event loop (its own engine, the app's queue)."""
    settings = env.services.settings
    engine = db.create_engine(settings.database.url, pooled=False)
    events = EventBus()
    wire_subscribers(events, env.queue)
    try:
        async with open_payments(
            settings, db.create_session_factory(engine), events, env.queue
        ) as pay:
            yield pay
    finally:
        await engine.dispose()


async def _demo_pay(env: Env, intent: str, succeed: bool) -> None:
    async with payments(env) as pay:
        assert isinstance(pay.gateway, DemoGateway)
        await pay.gateway.complete_payment(intent, succeed=succeed)


def paid_booking(env: Env, **kwargs: Any) -> tuple[Any, Any, int, dict[str, str], dict[str, str]]:
    """A tutor, a student and a lesson they paid for (confirmed): (booking, payment, tutor id,
    tutor headers, student headers)."""
    tutor_id, tutor, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id, **kwargs)
    payment = checkout(env, me, booking["id"])
    pay(env, payment)
    return booking, payment, tutor_id, tutor, me


def status_of(env: Env, booking_id: int) -> str:
    return str(sql(env.client, "SELECT status FROM bookings WHERE id = $1", booking_id)[0][0])


def move_lesson(env: Env, booking_id: int, ended_ago: timedelta) -> None:
    """Put the lesson in the past: it ended ``ended_ago`` ago (one hour long)."""
    sql(
        env.client,
        "UPDATE bookings SET starts_at = now() - $2::interval - interval '1 hour', "
        "ends_at = now() - $2::interval, "
        "period = tstzrange(now() - $2::interval - interval '1 hour', now() - $2::interval), "
        "blocked = tstzrange(now() - $2::interval - interval '1 hour', now() - $2::interval), "
        "created_at = now() - $2::interval - interval '2 days' WHERE id = $1",
        booking_id,
        ended_ago,
    )


def sweep(env: Env) -> None:
    """The scheduling sweep (timed transitions: complete, settle) and what follows from it."""
    env.queue.enqueue("scheduling.sweep")
    deliver(env)


def settle(env: Env, booking_id: int) -> None:
    """Past the dispute window: the sweep completes and settles the lesson."""
    window = env.services.settings.scheduling.dispute_window_hours
    move_lesson(env, booking_id, timedelta(hours=window + 1))
    sweep(env)


def ledger_is_balanced(env: Env) -> dict[str, int]:
    """Every movement sums to zero, so the whole ledger does; returns bucket balances."""
    unbalanced = sql(
        env.client,
        "SELECT movement FROM ledger_entries GROUP BY movement HAVING sum(amount_minor) <> 0",
    )
    assert unbalanced == [], unbalanced
    totals = sql(env.client, "SELECT sum(amount_minor) FROM ledger_entries")
    assert (totals[0][0] or 0) == 0
    rows = sql(
        env.client,
        "SELECT party || '/' || bucket, sum(amount_minor) FROM ledger_entries GROUP BY 1",
    )
    return {name: int(total) for name, total in rows if total}


def reconciled_with_stripe(env: Env, chargebacks: int = 0) -> None:
    """What the ledger says the students paid and the tutors received is what Stripe holds
    (``chargebacks``: what card disputes took back, which Stripe's charges do not show)."""
    assert env.double is not None
    charges = env.double.of_kind("charge")
    transfers = env.double.of_kind("transfer")
    net_charged = sum(c["amount"] - c["amount_refunded"] for c in charges)
    net_transferred = sum(t["amount"] - t["amount_reversed"] for t in transfers)
    balances = ledger_is_balanced(env)
    assert -balances.get("student/card", 0) == net_charged - chargebacks
    tutor_has = balances.get("tutor/available", 0) + balances.get("tutor/paid_out", 0)
    assert tutor_has == net_transferred
