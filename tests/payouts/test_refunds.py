"""Refunds from the cancellation policy and by admins, before and after settlement."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import account
from tests.payouts.flow import (
    FEE,
    PRICE,
    SHARE,
    Env,
    bookable_tutor,
    checkout,
    deliver,
    hold,
    ledger_is_balanced,
    move_lesson,
    paid_booking,
    pay,
    reconciled_with_stripe,
    settle,
    status_of,
)
from tests.scheduling.helpers import sql, student


def _refunds(env: Env) -> list[tuple[int, str, str]]:
    rows = sql(env.client, "SELECT amount_minor, status, initiated_by FROM refunds ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


def test_free_cancellation_refunds_in_full_from_the_platform(env: Env) -> None:
    booking, _, _, _, me = paid_booking(env, days=5)
    response = env.client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=me)
    assert response.status_code == 200 and response.json()["refund_minor"] == PRICE
    deliver(env)
    assert _refunds(env) == [(PRICE, "succeeded", "policy")]
    [charge] = env.double.of_kind("charge")  # type: ignore[union-attr]
    assert charge["amount_refunded"] == PRICE
    assert env.double.of_kind("transfer") == []  # type: ignore[union-attr]
    assert ledger_is_balanced(env) == {}  # everything went back where it came from
    reconciled_with_stripe(env)


def test_tutor_cancellation_refunds_in_full(env: Env) -> None:
    booking, _, _, tutor, _ = paid_booking(env, days=2)  # inside the free-cancellation window
    response = env.client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=tutor)
    assert response.status_code == 200
    deliver(env)
    assert _refunds(env) == [(PRICE, "succeeded", "policy")]
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)


def test_late_cancellation_pays_the_tutor_their_share_and_a_waived_fee_reverses_it(
    env: Env,
) -> None:
    tutor_id, tutor, account_id = bookable_tutor(
        env, rules={"late_cancel_refund_percent": 50, "free_cancel_hours": 72}
    )
    _, me = student(env.client)
    booking = hold(env, me, tutor_id, days=2)  # within 72 hours: a late cancellation
    payment = checkout(env, me, booking["id"])
    pay(env, payment)
    response = env.client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=me)
    assert response.status_code == 200, response.text
    assert response.json()["refund_minor"] == PRICE // 2
    deliver(env)
    kept = PRICE - PRICE // 2
    tutor_kept = kept - FEE * kept // PRICE
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount"] == tutor_kept and transfer["destination"] == account_id
    balances = ledger_is_balanced(env)
    assert balances == {
        "student/card": -kept,
        "tutor/available": tutor_kept,
        "platform/fees": kept - tutor_kept,
    }
    reconciled_with_stripe(env)

    waived = env.client.post(
        f"/api/v1/bookings/{booking['id']}/events", json={"event": "waive_fee"}, headers=tutor
    )
    assert waived.status_code == 200, waived.text
    deliver(env)
    assert [r[0] for r in _refunds(env)] == [PRICE // 2, kept]
    assert transfer["amount_reversed"] == tutor_kept  # the double's transfer, updated
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)


def test_admin_refund_after_settlement_reverses_the_transfer(env: Env) -> None:
    booking, payment, _, tutor, me = paid_booking(env)
    settle(env, booking["id"])
    assert status_of(env, booking["id"]) == "settled"
    admin = account(env.client, "admin")
    part = 1000
    refused = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": PRICE + 1, "reason": "Too much"},
        headers=admin,
    )
    assert refused.status_code == 422
    no_reason = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": part, "reason": " "},
        headers=admin,
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    not_admin = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": part, "reason": "Sound problems"},
        headers=tutor,
    )
    assert not_admin.status_code == 403
    made = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": part, "reason": "Sound problems for 10 minutes"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json()[0]["reason"] == "Sound problems for 10 minutes"
    deliver(env)
    fee_back = FEE - FEE * (PRICE - part) // PRICE
    tutor_back = part - fee_back
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount"] == SHARE and transfer["amount_reversed"] == tutor_back
    assert ledger_is_balanced(env) == {
        "student/card": -(PRICE - part),
        "tutor/available": SHARE - tutor_back,
        "platform/fees": FEE - fee_back,
    }
    reconciled_with_stripe(env)
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["lines"][0]["refunded_minor"] == part
    overview = env.client.get("/api/v1/admin/payments", headers=admin).json()
    assert overview["ledger_totals"] == {"EUR": 0}
    assert overview["refunds"][0]["initiated_by"] == "admin"
    assert me


def test_a_refund_made_in_stripe_dashboard_is_recorded(env: Env) -> None:
    booking, payment, _, _, _ = paid_booking(env)
    from tests.payouts.flow import intent_of

    env.double.refund_in_dashboard(intent_of(env, payment["id"]), 500)  # type: ignore[union-attr]
    deliver(env)
    assert _refunds(env) == [(500, "succeeded", "provider")]
    reconciled_with_stripe(env)
    # The late lesson then settles for what is left.
    settle(env, booking["id"])
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount"] == (PRICE - 500) - FEE * (PRICE - 500) // PRICE
    reconciled_with_stripe(env)


def test_a_tutor_no_show_refunds_in_full(env: Env) -> None:
    booking, _, _, _, me = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(minutes=30))
    response = env.client.post(
        f"/api/v1/bookings/{booking['id']}/events", json={"event": "tutor_no_show"}, headers=me
    )
    assert response.status_code == 200, response.text
    deliver(env)
    assert _refunds(env) == [(PRICE, "succeeded", "policy")]
    assert ledger_is_balanced(env) == {}


def test_a_student_no_show_pays_the_tutor_at_once(env: Env) -> None:
    booking, _, _, tutor, _ = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(minutes=30))
    response = env.client.post(
        f"/api/v1/bookings/{booking['id']}/events", json={"event": "student_no_show"}, headers=tutor
    )
    assert response.status_code == 200, response.text
    deliver(env)
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount"] == SHARE
    reconciled_with_stripe(env)
