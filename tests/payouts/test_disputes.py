"""Card disputes freeze settlement; winning releases it, losing takes the money back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.payouts.flow import (
    PRICE,
    SHARE,
    Env,
    deliver,
    ledger_is_balanced,
    move_lesson,
    paid_booking,
    reconciled_with_stripe,
    settle,
    status_of,
    sweep,
)
from tests.scheduling.helpers import sql


def _charge(env: Env) -> str:
    return str(env.double.of_kind("charge")[0]["id"])  # type: ignore[union-attr]


def test_a_dispute_freezes_settlement_until_it_is_won(env: Env) -> None:
    booking, _, _, _, _ = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(hours=1))
    sweep(env)
    assert status_of(env, booking["id"]) == "completed"
    env.double.dispute(_charge(env), dispute_id="dp_freeze")  # type: ignore[union-attr]
    deliver(env)
    assert status_of(env, booking["id"]) == "disputed"
    assert ledger_is_balanced(env)["platform/disputes"] == -PRICE

    settle(env, booking["id"])  # past the dispute window: still nothing is transferred
    assert status_of(env, booking["id"]) == "disputed"
    assert env.double.of_kind("transfer") == []  # type: ignore[union-attr]

    env.double.dispute(_charge(env), "won", dispute_id="dp_freeze")  # type: ignore[union-attr]
    deliver(env)
    assert status_of(env, booking["id"]) == "completed"
    sweep(env)
    assert status_of(env, booking["id"]) == "settled"
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount"] == SHARE
    assert "platform/disputes" not in ledger_is_balanced(env)
    reconciled_with_stripe(env)


def test_a_lost_dispute_before_settlement_pays_the_tutor_nothing(env: Env) -> None:
    booking, _, _, tutor, _ = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(hours=1))
    sweep(env)
    env.double.dispute(_charge(env), dispute_id="dp_lost")  # type: ignore[union-attr]
    env.double.dispute(_charge(env), "lost", dispute_id="dp_lost")  # type: ignore[union-attr]
    deliver(env)
    assert status_of(env, booking["id"]) == "refunded"
    settle(env, booking["id"])
    assert env.double.of_kind("transfer") == []  # type: ignore[union-attr]
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env, chargebacks=PRICE)
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    assert earnings["balances"]["pending_minor"] == 0


def test_a_lost_dispute_after_settlement_reverses_the_transfer(env: Env) -> None:
    booking, _, _, _, _ = paid_booking(env)
    settle(env, booking["id"])
    assert status_of(env, booking["id"]) == "settled"
    env.double.dispute(_charge(env), dispute_id="dp_late")  # type: ignore[union-attr]
    deliver(env)
    assert status_of(env, booking["id"]) == "disputed"
    env.double.dispute(_charge(env), "lost", dispute_id="dp_late")  # type: ignore[union-attr]
    deliver(env)
    assert status_of(env, booking["id"]) == "refunded"
    [transfer] = env.double.of_kind("transfer")  # type: ignore[union-attr]
    assert transfer["amount_reversed"] == SHARE
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env, chargebacks=PRICE)


@pytest.mark.parametrize("order", ["in order", "closed first", "twice each"])
def test_dispute_events_in_any_order_end_the_same(env: Env, order: str) -> None:
    booking, _, _, _, _ = paid_booking(env)
    move_lesson(env, booking["id"], timedelta(hours=1))
    sweep(env)
    opened = env.double.dispute(_charge(env), dispute_id="dp_order")  # type: ignore[union-attr]
    closed = env.double.dispute(_charge(env), "lost", dispute_id="dp_order")  # type: ignore[union-attr]
    env.double.take()  # type: ignore[union-attr]
    events = {
        "in order": [opened, closed],
        "closed first": [closed, opened],
        "twice each": [opened, closed, closed, opened],
    }[order]
    for event in events:
        env.double.deliver(env.client, [event])  # type: ignore[union-attr]
        deliver(env)
    assert status_of(env, booking["id"]) == "refunded"
    assert ledger_is_balanced(env) == {}
    assert sql(env.client, "SELECT status, closed FROM disputes")[0][:] == ("lost", True)
