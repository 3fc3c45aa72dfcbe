"""The embedded default's demo gateway: the same events through the same code path."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.settings import Settings
from tests.payouts.flow import (
    PRICE,
    SHARE,
    Env,
    bookable_tutor,
    checkout,
    deliver,
    hold,
    ledger_is_balanced,
    paid_booking,
    pay,
    settle,
    status_of,
)
from tests.scheduling.helpers import sql, student


def test_demo_payment_confirms_settles_and_pays_out(demo_env: Env) -> None:
    env = demo_env
    booking, payment, _, tutor, me = paid_booking(env)
    assert payment["mode"] == "demo" and payment["publishable_key"] is None
    assert status_of(env, booking["id"]) == "confirmed"
    # It came in as a signed event through the webhook pipeline, like Stripe's.
    types = [r[0] for r in sql(env.client, "SELECT type FROM webhook_events ORDER BY received_at")]
    assert types == ["payment_intent.succeeded"]
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["balances"]["upcoming_minor"] == SHARE

    settle(env, booking["id"])
    assert status_of(env, booking["id"]) == "settled"
    assert sql(env.client, "SELECT status FROM transfers")[0][0] == "succeeded"
    balances = ledger_is_balanced(env)
    assert balances["tutor/paid_out"] == SHARE  # demo payouts are instant
    assert me


def test_demo_declines_and_refunds(demo_env: Env) -> None:
    env = demo_env
    tutor_id, _, _ = bookable_tutor(env)
    _, me = student(env.client)
    booking = hold(env, me, tutor_id, days=5)
    payment = checkout(env, me, booking["id"])
    pay(env, payment, card="declined")
    assert status_of(env, booking["id"]) == "held"
    shown = env.client.get(f"/api/v1/payments/{payment['id']}", headers=me).json()
    assert "declined" in shown["failure_message"]
    pay(env, payment)
    assert status_of(env, booking["id"]) == "confirmed"
    env.client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=me)
    deliver(env)
    refunds = sql(env.client, "SELECT amount_minor, status FROM refunds")
    assert [tuple(r) for r in refunds] == [(PRICE, "succeeded")]
    assert ledger_is_balanced(env) == {}


def test_a_forged_demo_event_is_refused(client: TestClient[Any]) -> None:
    payload = b'{"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    response = client.post(
        "/webhooks/stripe", content=payload, headers={"Stripe-Signature": "t=1,v1=abc"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_signature"


def test_every_page_says_payments_are_in_demo_mode(
    client: TestClient[Any], settings: Settings
) -> None:
    for path in ["/", "/search", "/login"]:
        page = client.get(path)
        assert "Payments are in demo mode" in page.text, path
    assert settings.payments.uses_stripe is False


@pytest.fixture
def stripe_page_client(stripe_client: TestClient[Any]) -> TestClient[Any]:
    return stripe_client


def test_no_demo_banner_with_stripe(stripe_page_client: TestClient[Any]) -> None:
    assert "Payments are in demo mode" not in stripe_page_client.get("/").text
