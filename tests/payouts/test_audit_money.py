"""Every money decision reaches the audit trail once: refunds (by an admin, by policy),
transfers at settlement, and card dispute outcomes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.helpers import account, fetch_sql
from tests.payouts.flow import (
    PRICE,
    SHARE,
    Env,
    deliver,
    move_lesson,
    paid_booking,
    settle,
    sweep,
)


def _entries(env: Env, family: str) -> list[dict[str, Any]]:
    rows = fetch_sql(
        env.client,
        "SELECT * FROM audit_entries WHERE action LIKE $1 ORDER BY id",
        family + ".%",
    )
    return [{**r, "details": json.loads(r["details"])} for r in rows]


def test_settlement_and_an_admin_refund_are_recorded(env: Env) -> None:
    booking, payment, tutor_id, _, _ = paid_booking(env)
    settle(env, booking["id"])
    sweep(env)  # a second sweep decides nothing new
    [transfer] = _entries(env, "transfer")
    assert transfer["action"] == "transfer.created" and transfer["actor_role"] == "system"
    assert transfer["details"]["amount_minor"] == SHARE
    assert transfer["details"]["tutor_id"] == tutor_id

    admin = account(env.client, "admin")
    admin_id = env.client.get("/api/v1/me", headers=admin).json()["id"]
    made = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": 1000, "reason": "Sound problems for 10 minutes"},
        headers={**admin, "X-Request-ID": "refund-req-7"},
    )
    assert made.status_code == 201, made.text
    refused = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": PRICE, "reason": "Too much"},
        headers=admin,
    )
    assert refused.status_code == 422
    deliver(env)
    [refund] = _entries(env, "refund")
    assert (refund["actor_id"], refund["actor_role"]) == (admin_id, "admin")
    assert refund["reason"] == "Sound problems for 10 minutes"
    assert refund["request_id"] == "refund-req-7"
    assert refund["subject_kind"] == "refund" and refund["subject_id"] == str(made.json()[0]["id"])
    assert refund["details"]["amount_minor"] == 1000


def test_a_dispute_outcome_and_its_policy_refund_are_recorded(env: Env) -> None:
    booking, _, _, _, _ = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(hours=1))
    sweep(env)
    charge = str(env.double.of_kind("charge")[0]["id"])  # type: ignore[union-attr]
    env.double.dispute(charge, dispute_id="dp_audit")  # type: ignore[union-attr]
    env.double.dispute(charge, "lost", dispute_id="dp_audit")  # type: ignore[union-attr]
    deliver(env)
    deliver(env)  # webhooks delivered twice change nothing
    [outcome] = _entries(env, "dispute")
    assert outcome["action"] == "dispute.lost" and outcome["actor_role"] == "payment"
    assert outcome["details"]["amount_minor"] == PRICE
