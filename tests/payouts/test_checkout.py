"""Checkout: server prices, one intent per purchase, the hold, clear refusals, Stripe errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import account
from tests.payouts.flow import (
    PRICE,
    Env,
    bookable_tutor,
    checkout,
    deliver,
    hold,
    intent_of,
    ledger_is_balanced,
    paid_booking,
    pay,
    status_of,
)
from tests.scheduling.helpers import book, local_slot, sql, student


def test_the_same_purchase_gets_one_payment_and_one_intent(env: Env) -> None:
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    first = checkout(env, me, booking["id"])
    again = checkout(env, me, booking["id"])
    assert first["id"] == again["id"] and first["client_secret"] == again["client_secret"]
    assert len(env.double.of_kind("payment_intent")) == 1  # type: ignore[union-attr]
    assert first["amount_minor"] == PRICE  # the server's price, not the client's


def test_refusals_have_clear_codes(env: Env) -> None:
    tutor_id, tutor, _ = bookable_tutor(env)
    _, me = student(env.client)
    _, stranger = student(env.client)
    booking = hold(env, me, tutor_id)
    url = f"/api/v1/bookings/{booking['id']}/checkout"
    assert env.client.post(url, headers=stranger).status_code == 404  # not theirs to see
    not_mine = env.client.post(url, headers=tutor)
    assert not_mine.status_code == 403
    admin = account(env.client, "admin")
    assert env.client.post(url, headers=admin).status_code == 403

    expired = hold(env, me, tutor_id, days=4)
    sql(env.client, "UPDATE bookings SET hold_expires_at = now() WHERE id = $1", expired["id"])
    response = env.client.post(f"/api/v1/bookings/{expired['id']}/checkout", headers=me)
    assert response.status_code == 409 and response.json()["code"] == "hold_expired"

    cancelled = hold(env, me, tutor_id, days=5)
    env.client.post(f"/api/v1/bookings/{cancelled['id']}/cancel", json={}, headers=me)
    response = env.client.post(f"/api/v1/bookings/{cancelled['id']}/checkout", headers=me)
    assert response.status_code == 409 and response.json()["code"] == "booking_not_payable"

    payment = checkout(env, me, booking["id"])
    pay(env, payment)
    response = env.client.post(url, headers=me)
    assert response.status_code == 409 and response.json()["code"] == "already_paid"
    attempt = env.client.post(f"/api/v1/payments/{payment['id']}/attempt", headers=me)
    assert attempt.status_code == 409 and attempt.json()["code"] == "already_paid"
    other = env.client.post(f"/api/v1/payments/{payment['id']}/attempt", headers=stranger)
    assert other.status_code == 403 and other.json()["code"] == "not_your_payment"
    assert env.client.get(f"/api/v1/payments/{payment['id']}", headers=stranger).status_code == 404
    seen = env.client.get(f"/api/v1/payments/{payment['id']}", headers=tutor).json()
    assert seen["client_secret"] is None  # only the payer gets it


def test_a_tutor_without_payouts_cannot_be_booked_or_found(env: Env) -> None:
    from tests.scheduling.helpers import approved_tutor

    tutor_id, _ = approved_tutor(env.client, payouts=False)
    _, me = student(env.client)
    response = book(env.client, me, tutor_id, local_slot("Europe/Berlin", 3, 10))
    assert response.status_code == 409 and response.json()["code"] == "payouts_not_enabled"
    from tests.payouts.flow import drain

    drain(env)
    found = env.client.get("/api/v1/tutors/search").json()
    assert tutor_id not in [hit["id"] for hit in found["hits"]]
    page = env.client.get(f"/tutors/{tutor_id}/book", headers=me)
    assert page.status_code == 200 and "cannot take bookings yet" in page.text


def test_the_hold_is_extended_while_paying_and_set_back_when_the_card_is_declined(
    env: Env,
) -> None:
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    payment = checkout(env, me, booking["id"])
    # Ten minutes into the hold, with five left.
    sql(
        env.client,
        "UPDATE bookings SET created_at = now() - interval '10 minutes', "
        "hold_expires_at = now() + interval '5 minutes' WHERE id = $1",
        booking["id"],
    )
    first_expiry = sql(
        env.client, "SELECT hold_expires_at FROM bookings WHERE id = $1", booking["id"]
    )[0][0]
    attempt = env.client.post(f"/api/v1/payments/{payment['id']}/attempt", headers=me)
    assert attempt.status_code == 200 and attempt.json()["status"] == "processing"
    extended = sql(env.client, "SELECT hold_expires_at FROM bookings WHERE id = $1", booking["id"])
    assert extended[0][0] - first_expiry > timedelta(minutes=4)  # ten minutes from now
    pay(env, payment, card="declined")
    assert status_of(env, booking["id"]) == "held"  # still within the first 15 minutes
    back = sql(env.client, "SELECT hold_expires_at FROM bookings WHERE id = $1", booking["id"])
    assert abs(back[0][0] - first_expiry) < timedelta(seconds=1)
    shown = env.client.get(f"/api/v1/payments/{payment['id']}", headers=me).json()
    assert shown["status"] == "requires_payment" and "declined" in shown["failure_message"]
    # The student tries another card on the same intent.
    pay(env, payment)
    assert status_of(env, booking["id"]) == "confirmed"
    assert ledger_is_balanced(env)["student/card"] == -PRICE


def test_a_failed_payment_after_the_hold_releases_the_slot(env: Env) -> None:
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    payment = checkout(env, me, booking["id"])
    sql(
        env.client,
        "UPDATE bookings SET created_at = now() - interval '20 minutes', "
        "hold_expires_at = now() + interval '5 minutes' WHERE id = $1",
        booking["id"],
    )
    pay(env, payment, card="declined")
    assert status_of(env, booking["id"]) == "expired"
    assert sql(env.client, "SELECT status FROM payments")[0][0] == "cancelled"
    intent = env.double.find("payment_intent", intent_of(env, payment["id"]))  # type: ignore[union-attr]
    assert intent["status"] == "canceled"  # so it can no longer be paid


def test_a_payment_that_arrives_after_the_hold_is_refunded_in_full(env: Env) -> None:
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    payment = checkout(env, me, booking["id"])
    sql(
        env.client,
        "UPDATE bookings SET status = 'expired', hold_expires_at = $2 WHERE id = $1",
        booking["id"],
        datetime.now(UTC) - timedelta(minutes=1),
    )
    pay(env, payment)
    assert status_of(env, booking["id"]) == "expired"
    refunds = sql(env.client, "SELECT amount_minor, initiated_by, status FROM refunds")
    assert [tuple(r) for r in refunds] == [(PRICE, "system", "succeeded")]
    assert ledger_is_balanced(env) == {}


def test_stripe_errors_are_clear_and_retries_make_one_intent(env: Env) -> None:
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id)
    url = f"/api/v1/bookings/{booking['id']}/checkout"
    double = env.double
    assert double is not None
    double.fail("/v1/payment_intents", "rate_limit")
    busy = env.client.post(url, headers=me)
    assert busy.status_code == 503 and busy.json()["code"] == "payment_provider_unavailable"
    assert "try again" in busy.json()["message"]
    double.fail("/v1/payment_intents", "server_error", times=3)  # more than the SDK retries
    assert env.client.post(url, headers=me).status_code == 503
    double.fail("/v1/payment_intents", "server_error")  # once: the SDK's retry succeeds
    assert env.client.post(url, headers=me).status_code == 200
    assert len(double.of_kind("payment_intent")) == 1
    keys = {key for method, path, key in double.requests if path == "/v1/payment_intents"}
    assert len(keys) == 1  # every attempt sent the same idempotency key


def test_a_lost_answer_is_replayed_not_repeated(env: Env) -> None:
    booking, payment, _, _, _ = paid_booking(env)
    double = env.double
    assert double is not None
    double.fail("/v1/refunds", "timeout")  # Stripe refunds, but its answer never arrives
    admin = account(env.client, "admin")
    made = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": 700, "reason": "Late start"},
        headers=admin,
    )
    assert made.status_code == 201
    deliver(env)
    assert len(double.of_kind("refund")) == 1
    assert double.of_kind("charge")[0]["amount_refunded"] == 700
    assert sql(env.client, "SELECT status FROM refunds")[0][0] == "succeeded"
    assert booking


def test_a_declined_card_on_the_server_is_a_clear_402(env: Env) -> None:
    from payouts import gateway
    from tests.helpers import run_async
    from tests.payouts.flow import payments

    double = env.double
    assert double is not None
    double.fail("/v1/payment_intents", "declined")

    async def create() -> None:
        async with payments(env) as pay_:
            await pay_.gateway.create_payment_intent(
                key="duet-test-declined",
                amount=100,
                currency="EUR",
                transfer_group="g",
                description="d",
                metadata={},
            )

    try:
        run_async(create())
    except gateway.CardDeclined as exc:
        assert exc.status_code == 402 and exc.code == "card_declined"
        assert "declined" in exc.message
    else:
        raise AssertionError("expected CardDeclined")
