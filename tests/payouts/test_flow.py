"""The money path end to end against the Stripe double: held → paid → confirmed → completed
→ settled, exactly once, whatever repeats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.payouts.flow import (
    FEE,
    PRICE,
    SHARE,
    Env,
    checkout,
    deliver,
    hold,
    intent_of,
    ledger_is_balanced,
    move_lesson,
    paid_booking,
    pay,
    reconciled_with_stripe,
    settle,
    status_of,
    sweep,
)
from tests.scheduling.helpers import sql, student


def test_full_flow_held_paid_confirmed_completed_settled(env: Env) -> None:
    from tests.payouts.flow import bookable_tutor

    tutor_id, tutor, account = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    assert booking["status"] == "held" and booking["price_minor"] == PRICE
    payment = checkout(env, me, booking["id"])
    assert payment["status"] == "requires_payment" and payment["mode"] == "stripe"
    assert payment["amount_minor"] == PRICE and payment["client_secret"]
    assert payment["publishable_key"] == "pk_test_double"
    intent = env.double.find("payment_intent", intent_of(env, payment["id"]))  # type: ignore[union-attr]
    assert intent["amount"] == PRICE and intent["transfer_group"] == f"payment_{payment['id']}"

    pay(env, payment)
    assert status_of(env, booking["id"]) == "confirmed"
    shown = env.client.get(f"/api/v1/payments/{payment['id']}", headers=me).json()
    assert shown["status"] == "succeeded"
    assert ledger_is_balanced(env) == {
        "student/card": -PRICE,
        "tutor/pending": SHARE,
        "platform/fees": FEE,
    }
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["balances"]["upcoming_minor"] == SHARE
    assert earnings["balances"]["pending_minor"] == 0

    move_lesson(env, booking["id"], timedelta(hours=1))
    sweep(env)
    assert status_of(env, booking["id"]) == "completed"
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["balances"]["pending_minor"] == SHARE  # taught, in the dispute window
    assert env.double.of_kind("transfer") == []  # type: ignore[union-attr]

    settle(env, booking["id"])
    assert status_of(env, booking["id"]) == "settled"
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    charge = env.double.of_kind("charge")[0]  # type: ignore[union-attr]
    assert transfer["amount"] == SHARE and transfer["destination"] == account
    assert transfer["source_transaction"] == charge["id"]
    assert transfer["transfer_group"] == f"payment_{payment['id']}"
    assert ledger_is_balanced(env) == {
        "student/card": -PRICE,
        "tutor/available": SHARE,
        "platform/fees": FEE,
    }
    reconciled_with_stripe(env)
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["balances"]["available_minor"] == SHARE
    [line] = earnings["lines"]
    assert line["transfer_status"] == "succeeded" and line["earnings_minor"] == SHARE

    # Settling again, or the sweep running again, sends nothing more.
    sweep(env)
    assert len(env.double.of_kind("transfer")) == 1  # type: ignore[union-attr]
    # Every POST to Stripe carried an idempotency key derived from our ids.
    posts = [(path, key) for method, path, key in env.double.requests if method == "POST"]  # type: ignore[union-attr]
    assert posts and all(key and key.startswith("duet-") for _, key in posts), posts

    # Stripe pays the tutor out to their bank.
    env.double.payout(account, SHARE)  # type: ignore[union-attr]
    deliver(env)
    assert ledger_is_balanced(env)["tutor/paid_out"] == SHARE


def test_a_webhook_delivered_twice_is_applied_once(env: Env) -> None:
    from tests.payouts.flow import bookable_tutor

    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    payment = checkout(env, me, booking["id"])
    pay(env, payment, deliver_now=False)
    events = env.double.take()  # type: ignore[union-attr]
    first = env.double.deliver(env.client, events)  # type: ignore[union-attr]
    again = env.double.deliver(env.client, events)  # type: ignore[union-attr]
    assert all(not r.json()["duplicate"] for r in first)
    assert all(r.json()["duplicate"] for r in again)
    deliver(env)
    assert status_of(env, booking["id"]) == "confirmed"
    confirms = sql(
        env.client,
        "SELECT count(*) FROM booking_transitions WHERE booking_id = $1 AND event = 'confirm'",
        booking["id"],
    )
    assert confirms[0][0] == 1
    assert ledger_is_balanced(env)["student/card"] == -PRICE
    # The job itself running twice for one event changes nothing either.
    for (event_id,) in sql(env.client, "SELECT id FROM webhook_events"):
        env.queue.enqueue("payouts.process_event", event_id)
    deliver(env)
    assert ledger_is_balanced(env)["student/card"] == -PRICE


def test_settling_twice_and_a_settlement_killed_after_stripe_answered(env: Env) -> None:
    from payouts import settlement
    from tests.helpers import run_async
    from tests.payouts.flow import payments

    booking, payment, _, _, _ = paid_booking(env)
    window = env.services.settings.scheduling.dispute_window_hours
    move_lesson(env, booking["id"], timedelta(hours=window + 1))

    class Killed(Exception):
        pass

    async def settle_and_die() -> None:
        from scheduling import changes

        async with payments(env) as pay_:
            async with pay_.tx() as session:
                await changes.run_timed_transitions(session, dispute_window=timedelta(hours=window))
            real = pay_.gateway.create_transfer

            async def answered_then_killed(**kwargs: object) -> object:
                await real(**kwargs)  # type: ignore[arg-type]
                raise Killed  # the worker dies before our commit

            pay_.gateway.create_transfer = answered_then_killed  # type: ignore[method-assign]
            [transfer_id] = [r[0] for r in sql(env.client, "SELECT id FROM transfers")]
            with pytest.raises(Killed):
                await settlement.execute_transfer(pay_, transfer_id)

    run_async(settle_and_die())
    assert status_of(env, booking["id"]) == "settled"
    assert len(env.double.of_kind("transfer")) == 1  # type: ignore[union-attr]
    assert sql(env.client, "SELECT status FROM transfers")[0][0] == "pending"
    # The retry (dramatiq's, or the sweep's) sends the same key and records Stripe's answer.
    sweep(env)
    env.queue.enqueue("payouts.execute_transfer", sql(env.client, "SELECT id FROM transfers")[0][0])
    env.queue.enqueue("payouts.execute_transfer", sql(env.client, "SELECT id FROM transfers")[0][0])
    deliver(env)
    assert len(env.double.of_kind("transfer")) == 1  # type: ignore[union-attr]
    assert sql(env.client, "SELECT status FROM transfers")[0][0] == "succeeded"
    assert ledger_is_balanced(env)["tutor/available"] == SHARE
    reconciled_with_stripe(env)
    assert payment["id"]
