"""The webhook endpoint: signatures, replays, unknown accounts, ignored types, any order."""

from __future__ import annotations

import itertools

import pytest

from tests.payouts.flow import (
    PRICE,
    Env,
    bookable_tutor,
    checkout,
    deliver,
    drain,
    hold,
    intent_of,
    ledger_is_balanced,
    pay,
    status_of,
)
from tests.scheduling.helpers import sql, student


def _post(env: Env, payload: bytes, header: str) -> object:
    return env.client.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def test_a_bad_signature_is_400_and_stores_nothing(env: Env) -> None:
    double = env.double
    assert double is not None
    event = double.event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})
    payload, _ = double.signed(event, secret="whsec_someone_else")
    for header in [double.signed(event, secret="whsec_someone_else")[1], "", "t=1,v1=00"]:
        response = _post(env, payload, header)
        assert response.status_code == 400, response.text  # type: ignore[attr-defined]
        assert response.json()["code"] == "invalid_signature"  # type: ignore[attr-defined]
    tampered, header = double.signed(event)
    response = _post(env, tampered.replace(b"pi_x", b"pi_y"), header)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert sql(env.client, "SELECT count(*) FROM webhook_events")[0][0] == 0


def test_an_unknown_connected_account_is_refused(env: Env) -> None:
    double = env.double
    assert double is not None
    event = double.event("payout.paid", {"id": "po_1", "amount": 100}, account="acct_stranger")
    payload, header = double.signed(event)
    response = _post(env, payload, header)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert response.json()["code"] == "unknown_account"  # type: ignore[attr-defined]


def test_types_we_ignore_are_stored_and_answered_200(env: Env) -> None:
    double = env.double
    assert double is not None
    event = double.event("customer.created", {"id": "cus_1", "object": "customer"})
    double.take()
    [response] = double.deliver(env.client, [event])
    assert response.json() == {"received": True, "duplicate": False}
    drain(env)
    rows = sql(env.client, "SELECT outcome, processed_at IS NOT NULL FROM webhook_events")
    assert [tuple(r) for r in rows] == [("ignored", True)]


ORDERS = list(itertools.permutations(range(3)))


@pytest.mark.parametrize("order", ORDERS, ids=[",".join(map(str, o)) for o in ORDERS])
def test_payment_events_in_any_order_end_the_same(env: Env, order: tuple[int, ...]) -> None:
    """A declined attempt, the success, and a refund's charge.refunded, in every order."""
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id, days=5)
    payment = checkout(env, me, booking["id"])
    double = env.double
    assert double is not None
    intent = intent_of(env, payment["id"])
    [failed] = double.confirm(intent, card="declined")
    charge_ok, succeeded = double.confirm(intent)
    double._create_refund({"payment_intent": intent, "amount": "1000"})  # in the dashboard
    refunded = double.outbox[-1]
    double.take()
    events = [failed, succeeded, refunded]
    for i in order:
        double.deliver(env.client, [events[i]])
        drain(env)
    double.deliver(env.client, [charge_ok])
    deliver(env)
    assert status_of(env, booking["id"]) == "confirmed"
    assert sql(env.client, "SELECT status FROM payments")[0][0] == "succeeded"
    refunds = sql(env.client, "SELECT amount_minor FROM refunds")
    assert [r[0] for r in refunds] == [1000]
    balances = ledger_is_balanced(env)
    assert balances["student/card"] == -(PRICE - 1000)


def test_payouts_paid_then_failed_in_either_order(env: Env) -> None:
    _, _, account = bookable_tutor(env)
    double = env.double
    assert double is not None
    paid = double.payout(account, 2000, "paid", payout_id="po_bank")
    failed = double.payout(account, 2000, "failed", payout_id="po_bank")
    double.take()
    double.deliver(env.client, [failed, paid, paid])
    drain(env)
    assert sql(env.client, "SELECT status FROM provider_payouts")[0][0] == "failed"
    assert ledger_is_balanced(env) == {}
    other = double.payout(account, 1500, "paid")
    double.take()
    double.deliver(env.client, [other])
    drain(env)
    assert ledger_is_balanced(env) == {"tutor/available": -1500, "tutor/paid_out": 1500}
    assert pay  # the module's helpers stay imported for the permutations above


def test_the_sweep_requeues_an_event_whose_job_was_lost(env: Env) -> None:
    from dramatiq.brokers.stub import StubBroker

    double = env.double
    assert double is not None
    event = double.event("customer.created", {"id": "cus_2", "object": "customer"})
    double.take()
    double.deliver(env.client, [event])
    broker = env.queue.broker
    assert isinstance(broker, StubBroker)
    broker.flush_all()  # the message is lost
    sql(env.client, "UPDATE webhook_events SET received_at = now() - interval '10 minutes'")
    env.queue.enqueue("payouts.sweep")
    drain(env)
    assert sql(env.client, "SELECT outcome FROM webhook_events")[0][0] == "ignored"
