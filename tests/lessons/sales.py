"""Steps of a course sale for tests, the same with the Stripe double and the demo gateway."""

from __future__ import annotations

from typing import Any

from tests.lessons.helpers import published_course, user
from tests.payouts.accounts import enable_payouts
from tests.payouts.flow import Env, deliver, pay
from tests.scheduling.helpers import sql

PRICE = 2900
FEE = PRICE * 1500 // 10_000  # PLATFORM_FEE_BPS 1500
SHARE = PRICE - FEE


def selling_tutor(env: Env, payouts: bool = True) -> tuple[int, dict[str, str]]:
    """An approved tutor who can receive payouts (at the Stripe double, or a demo account)."""
    tutor_id, headers = user(env.client, "tutor")
    if payouts:
        enable_payouts(env.client, tutor_id, env.double.enabled_account() if env.double else None)
    return tutor_id, headers


def paid_course(
    env: Env, tutor: dict[str, str], price: int = PRICE, **overrides: Any
) -> dict[str, Any]:
    """A published paid course (one text item, one quiz): {"course", "text", "quiz"}."""
    return published_course(env.client, tutor, price_minor=price, **overrides)


def buy(env: Env, student: dict[str, str], course_id: int) -> dict[str, Any]:
    r = env.client.post(f"/api/v1/courses/{course_id}/buy", headers=student)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bought(env: Env) -> tuple[dict[str, Any], int, dict[str, str], int, dict[str, str], Any]:
    """A student who bought a course and paid: (course, tutor id, tutor headers, student id,
    student headers, payment)."""
    tutor_id, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    student_id, student = user(env.client, "student")
    payment = buy(env, student, built["course"]["id"])
    pay(env, payment)
    return built, tutor_id, tutor, student_id, student, payment


def order_of(env: Env, student_id: int) -> Any:
    rows = sql(
        env.client, "SELECT * FROM course_orders WHERE student_id = $1 ORDER BY id", student_id
    )
    return rows[-1] if rows else None


def enrolment_of(env: Env, student_id: int) -> Any:
    rows = sql(env.client, "SELECT * FROM course_enrolments WHERE student_id = $1", student_id)
    return rows[0] if rows else None


def end_refund_window(env: Env, student_id: int) -> None:
    sql(
        env.client,
        "UPDATE course_orders SET refundable_until = now() - interval '1 minute', "
        "paid_at = now() - interval '15 days' WHERE student_id = $1 AND paid_at IS NOT NULL",
        student_id,
    )


def settle(env: Env, runs: int = 1) -> None:
    """The periodic settlement job (``runs`` times), and what follows from it."""
    for _ in range(runs):
        env.queue.enqueue("lessons.settle_course_orders")
    deliver(env)


def transfers(env: Env) -> list[Any]:
    return list(sql(env.client, "SELECT * FROM transfers ORDER BY id"))
