"""Paid courses through the generic checkout: buy → pay → enrolled, settlement after the refund
window, refunds, disputes, and the ledger balancing in every case."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers import account
from tests.lessons.helpers import finish_course, published_course, user
from tests.lessons.sales import (
    FEE,
    PRICE,
    SHARE,
    bought,
    buy,
    end_refund_window,
    enrolment_of,
    order_of,
    paid_course,
    selling_tutor,
    settle,
    transfers,
)
from tests.payouts.flow import (
    Env,
    deliver,
    drain,
    intent_of,
    ledger_is_balanced,
    pay,
    reconciled_with_stripe,
)
from tests.scheduling.helpers import sql


def _item(env: Env, built: dict[str, Any], headers: dict[str, str]) -> Any:
    cid = built["course"]["id"]
    return env.client.post(
        f"/api/v1/courses/{cid}/items/{built['text']['id']}/progress",
        json={"completed": True},
        headers=headers,
    )


def _has_access(env: Env, built: dict[str, Any], headers: dict[str, str]) -> bool:
    """The course's content is served to this student (enrolled, access not ended)."""
    detail = env.client.get(f"/api/v1/courses/{built['course']['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    return bool(detail.json()["modules"][0]["items"][0]["body_html"])


def _charge(env: Env) -> str:
    assert env.double is not None
    return str(env.double.of_kind("charge")[0]["id"])


@pytest.mark.parametrize("gateway", ["demo", "stripe"])
def test_buy_pay_and_the_student_is_enrolled(gateway: str, request: pytest.FixtureRequest) -> None:
    env: Env = request.getfixturevalue("demo_env" if gateway == "demo" else "env")
    tutor_id, tutor = selling_tutor(env)
    built = paid_course(env, tutor, title="Jazz voicings")
    cid = built["course"]["id"]
    student_id, student = user(env.client, "student")
    assert not _has_access(env, built, student)  # not enrolled yet

    payment = buy(env, student, cid)
    assert payment["kind"] == "course" and payment["amount_minor"] == PRICE
    assert payment["mode"] == gateway and payment["checkout_url"] == f"/checkout/{payment['id']}"
    assert payment["client_secret"]  # for the payer only, while it is open
    order = order_of(env, student_id)
    assert order["status"] == "open" and order["price_minor"] == PRICE
    assert payment["ref"] == str(order["id"])

    pay(env, payment)
    order = order_of(env, student_id)
    assert order["status"] == "paid" and order["payment_id"] == payment["id"]
    enrolment = enrolment_of(env, student_id)
    assert (enrolment["source"], enrolment["reference"]) == ("purchase", str(payment["id"]))
    assert _has_access(env, built, student)
    [mine] = env.client.get("/api/v1/me/courses", headers=student).json()
    assert mine["course_id"] == cid and mine["refundable"] and mine["order_id"] == order["id"]
    [history] = env.client.get("/api/v1/me/course-orders", headers=student).json()
    assert history["status"] == "paid" and history["refundable_until"] and not history["settled"]

    again = env.client.post(f"/api/v1/courses/{cid}/buy", headers=student)
    assert again.status_code == 409 and again.json()["code"] == "already_enrolled"
    earnings = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()
    [line] = earnings["lines"]
    assert line["label"] == "Course: Jazz voicings" and line["lesson_status"] == "paid"
    assert line["earnings_minor"] == SHARE and line["url"] == f"/courses/{cid}"
    assert earnings["balances"]["pending_minor"] == SHARE
    assert ledger_is_balanced(env) == {
        "student/card": -PRICE,
        "tutor/pending": SHARE,
        "platform/fees": FEE,
    }
    if env.double is not None:
        reconciled_with_stripe(env)
    # The tutor was told of their approval, and now of the sale.
    kinds = sql(
        env.client, "SELECT kind FROM notifications WHERE user_id = $1 ORDER BY id", tutor_id
    )
    assert [row[0] for row in kinds] == ["profile.approve", "course_sold"]


def test_webhooks_twice_and_out_of_order_enrol_once(env: Env) -> None:
    tutor_id, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    student_id, student = user(env.client, "student")
    payment = buy(env, student, built["course"]["id"])
    double = env.double
    assert double is not None
    charge_ok, succeeded = double.confirm(intent_of(env, payment["id"]))
    double.take()
    for event in [charge_ok, succeeded, succeeded, charge_ok]:  # the charge first, then replays
        double.deliver(env.client, [event])
        drain(env)
    for replay in [succeeded, charge_ok]:  # Stripe retries with new deliveries of the same ids
        [response] = double.deliver(env.client, [replay])
        assert response.json()["duplicate"] is True
    deliver(env)
    assert sql(env.client, "SELECT count(*) FROM course_enrolments")[0][0] == 1
    assert [tuple(r) for r in sql(env.client, "SELECT status FROM course_orders")] == [("paid",)]
    assert sql(env.client, "SELECT count(*) FROM refunds")[0][0] == 0
    assert ledger_is_balanced(env)["student/card"] == -PRICE
    reconciled_with_stripe(env)
    assert enrolment_of(env, student_id)["reference"] == str(payment["id"])
    assert tutor_id


def test_two_buy_clicks_open_one_order_and_one_payment(demo_env: Env, live_api: str) -> None:
    _, tutor = selling_tutor(demo_env)
    cid = paid_course(demo_env, tutor)["course"]["id"]
    _, me = user(demo_env.client, "student")

    async def click(client: httpx.AsyncClient) -> Any:
        response = await client.post(f"/api/v1/courses/{cid}/buy", headers=me)
        return response.status_code, response.json().get("id")

    async def race() -> list[Any]:
        async with httpx.AsyncClient(base_url=live_api, timeout=30) as client:
            return list(await asyncio.gather(*(click(client) for _ in range(12))))

    answers = asyncio.run(race())
    assert {status for status, _ in answers} == {200}, answers
    assert len({payment for _, payment in answers}) == 1
    assert sql(demo_env.client, "SELECT count(*) FROM course_orders")[0][0] == 1
    assert sql(demo_env.client, "SELECT count(*) FROM payments")[0][0] == 1
    intents = sql(
        demo_env.client, "SELECT count(*) FROM demo_gateway_objects WHERE kind = 'payment_intent'"
    )
    assert intents[0][0] == 1


def test_every_refusal_has_its_code(demo_env: Env) -> None:
    env = demo_env
    client = env.client
    tutor_id, tutor = selling_tutor(env)
    paid = paid_course(env, tutor)["course"]["id"]
    free = published_course(client, tutor, title="Free one")["course"]["id"]
    draft = client.post(
        "/api/v1/tutor/courses",
        json={
            "title": "Draft",
            "instrument": "piano",
            "level": "beginner",
            "language": "en",
            "price_minor": 1000,
        },
        headers=tutor,
    ).json()["id"]
    _, student = user(client, "student")

    def code(course_id: int, headers: dict[str, str] = student, action: str = "buy") -> Any:
        r = client.post(f"/api/v1/courses/{course_id}/{action}", headers=headers)
        return r.status_code, r.json().get("code")

    assert code(draft) == (404, "course_not_found")
    assert code(999_999) == (404, "course_not_found")
    assert code(free) == (409, "course_free")
    assert code(paid, action="enrol") == (409, "payment_required")
    assert client.post("/api/v1/me/roles", json={"role": "student"}, headers=tutor).is_success
    assert code(paid, tutor) == (409, "own_course")
    _, unpaid_tutor = selling_tutor(env, payouts=False)
    unpaid = paid_course(env, unpaid_tutor)["course"]["id"]
    assert code(unpaid) == (409, "payouts_not_enabled")
    assert code(paid, account(client, "tutor")) == (403, "student_only")
    assert client.post(f"/api/v1/courses/{paid}/buy").status_code == 401
    pay(env, buy(env, student, paid))
    assert code(paid) == (409, "already_enrolled")
    assert sql(client, "SELECT count(*) FROM course_orders")[0][0] == 1  # refusals wrote nothing
    assert tutor_id


def test_a_price_change_closes_the_open_order(demo_env: Env) -> None:
    env = demo_env
    _, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    cid = built["course"]["id"]
    student_id, student = user(env.client, "student")
    first = buy(env, student, cid)
    changed = env.client.put(
        f"/api/v1/tutor/courses/{cid}",
        json={
            **{k: built["course"][k] for k in ("title", "instrument", "level", "language")},
            "price_minor": 3900,
        },
        headers=tutor,
    )
    assert changed.status_code == 200, changed.text
    stale = env.client.post(f"/api/v1/payments/{first['id']}/attempt", headers=student)
    assert stale.status_code == 409 and stale.json()["code"] == "price_changed"
    second = buy(env, student, cid)
    assert second["id"] != first["id"] and second["amount_minor"] == 3900
    rows = sql(env.client, "SELECT status, price_minor FROM course_orders ORDER BY id")
    assert [tuple(r) for r in rows] == [("cancelled", PRICE), ("open", 3900)]
    assert sql(env.client, "SELECT status FROM payments WHERE id = $1", first["id"])[0][0] == (
        "cancelled"
    )
    pay(env, second)
    assert order_of(env, student_id)["status"] == "paid"
    assert ledger_is_balanced(env)["student/card"] == -3900


def test_paid_after_access_another_way_is_refunded_in_full(env: Env) -> None:
    _, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    cid = built["course"]["id"]
    student_id, student = user(env.client, "student")
    payment = buy(env, student, cid)
    sql(  # meanwhile an admin gives the student the course
        env.client,
        "INSERT INTO course_enrolments (course_id, student_id, source) VALUES ($1, $2, 'admin')",
        cid,
        student_id,
    )
    pay(env, payment)
    order = order_of(env, student_id)
    assert order["status"] == "refunded" and "already had access" in order["closed_reason"]
    refund = sql(env.client, "SELECT amount_minor, initiated_by, status FROM refunds")
    assert [tuple(r) for r in refund] == [(PRICE, "system", "succeeded")]
    assert enrolment_of(env, student_id)["source"] == "admin"  # what they had stays
    assert enrolment_of(env, student_id)["ended_at"] is None
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)
    settle(env)
    end_refund_window(env, student_id)
    settle(env)
    assert transfers(env) == []


def test_settlement_after_the_refund_window_exactly_once(env: Env) -> None:
    built, tutor_id, tutor, student_id, _, _ = bought(env)
    settle(env)  # inside the window: nothing moves
    assert transfers(env) == [] and order_of(env, student_id)["settled_at"] is None
    end_refund_window(env, student_id)
    settle(env, runs=3)  # the job runs more than once
    [transfer] = transfers(env)
    assert transfer["amount_minor"] == SHARE and transfer["status"] == "succeeded"
    assert env.double is not None
    [at_stripe] = env.double.of_kind("transfer")
    assert at_stripe["amount"] == SHARE
    assert at_stripe["source_transaction"] == _charge(env)
    assert order_of(env, student_id)["settled_at"] is not None
    settle(env)
    assert len(env.double.of_kind("transfer")) == 1
    balances = ledger_is_balanced(env)
    assert balances["tutor/available"] == SHARE and "tutor/pending" not in balances
    reconciled_with_stripe(env)
    [line] = env.client.get("/api/v1/tutors/me/earnings", headers=tutor).json()["lines"]
    assert line["lesson_status"] == "settled" and line["transfer_status"] == "succeeded"
    assert built and tutor_id


async def test_settling_the_same_order_at_once_records_one_transfer(
    demo_env: Env, sessions: Any
) -> None:
    from datetime import UTC, datetime

    from lessons.courses import settlement
    from marketplace.uow import unit_of_work

    _, _, _, student_id, _, _ = bought(demo_env)
    end_refund_window(demo_env, student_id)
    order_id = order_of(demo_env, student_id)["id"]
    services = demo_env.services

    async def once() -> str:
        async with unit_of_work(sessions, services.events, demo_env.queue) as session:
            return await settlement.settle_order(session, order_id, datetime.now(UTC))

    outcomes = await asyncio.gather(once(), once(), once())
    assert sorted(outcomes) == ["already settled", "already settled", "settled"]
    assert sql(demo_env.client, "SELECT count(*) FROM transfers")[0][0] == 1


def test_student_refund_inside_the_rules_ends_the_enrolment(env: Env) -> None:
    built, _, tutor, student_id, student, _ = bought(env)
    cid = built["course"]["id"]
    r = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded"
    deliver(env)
    assert env.double is not None
    [charge] = env.double.of_kind("charge")
    assert charge["amount_refunded"] == PRICE
    enrolment = enrolment_of(env, student_id)
    assert enrolment["ended_at"] is not None and enrolment["end_reason"] == "refunded"
    assert _item(env, built, student).status_code == 404
    assert not _has_access(env, built, student)
    assert env.client.get("/api/v1/me/courses", headers=student).json() == []
    again = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert again.status_code == 404 and again.json()["code"] == "not_enrolled"
    students = env.client.get(f"/api/v1/tutor/courses/{cid}/students", headers=tutor).json()
    assert students[0]["end_reason"] == "refunded"  # the tutor still sees the history
    end_refund_window(env, student_id)
    settle(env)
    assert transfers(env) == []
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)


def test_buying_again_after_a_refund_reopens_the_enrolment_with_its_progress(
    demo_env: Env,
) -> None:
    env = demo_env
    built, _, _, student_id, student, _ = bought(env)
    cid = built["course"]["id"]
    first = enrolment_of(env, student_id)
    assert env.client.post(f"/api/v1/courses/{cid}/refund", headers=student).status_code == 200
    deliver(env)
    sql(env.client, "UPDATE course_enrolments SET progress_percent = 10")
    second = buy(env, student, cid)
    pay(env, second)
    reopened = enrolment_of(env, student_id)
    assert reopened["id"] == first["id"] and reopened["ended_at"] is None
    assert reopened["reference"] == str(second["id"]) and reopened["progress_percent"] == 10
    [mine] = env.client.get("/api/v1/me/courses", headers=student).json()
    assert not mine["refundable"] and "before" in mine["refund_refusal"]  # once per course
    refused = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert refused.status_code == 409 and refused.json()["code"] == "refund_not_allowed"
    assert ledger_is_balanced(env)["student/card"] == -PRICE


@pytest.mark.parametrize("case", ["progress", "window", "certificate", "free"])
def test_student_refund_outside_the_rules_is_refused(demo_env: Env, case: str) -> None:
    env = demo_env
    built, _, _, student_id, student, _ = bought(env)
    cid = built["course"]["id"]
    if case == "progress":
        assert _item(env, built, student).status_code == 200  # 1 of 2 required items: 50 %
        expected = "20%"
    elif case == "window":
        end_refund_window(env, student_id)
        expected = "window has ended"
    elif case == "certificate":
        sql(
            env.client,
            "INSERT INTO certificates (enrolment_id, course_id, student_id, tutor_id, code, "
            "number, student_name, course_title, tutor_name, credential, key_id) "
            "SELECT e.id, e.course_id, e.student_id, c.tutor_id, 'TESTCODE2345', 'DUET-2026-1', "
            "'s', 'c', 't', '{}', 'k' "
            "FROM course_enrolments e JOIN courses c ON c.id = e.course_id",
        )
        expected = "certificate"
    else:
        free = published_course(env.client, selling_tutor(env)[1], title="Free")["course"]["id"]
        assert env.client.post(f"/api/v1/courses/{free}/enrol", headers=student).is_success
        r = env.client.post(f"/api/v1/courses/{free}/refund", headers=student)
        assert r.status_code == 404 and r.json()["code"] == "not_enrolled"
        return
    r = env.client.post(f"/api/v1/courses/{cid}/refund", headers=student)
    assert r.status_code == 409 and r.json()["code"] == "refund_not_allowed"
    assert expected in r.json()["message"]
    assert enrolment_of(env, student_id)["ended_at"] is None
    assert sql(env.client, "SELECT count(*) FROM refunds")[0][0] == 0


def test_admin_refund_after_settlement_reverses_and_ends_access(env: Env) -> None:
    built, _, _, student_id, student, payment = bought(env)
    end_refund_window(env, student_id)
    settle(env)
    admin = account(env.client, "admin")
    partial = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": 900, "reason": "Audio item was broken for a week"},
        headers=admin,
    )
    assert partial.status_code == 201, partial.text
    deliver(env)
    assert enrolment_of(env, student_id)["ended_at"] is None  # a partial refund keeps access
    rest = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": PRICE - 900, "reason": "The student was charged by mistake"},
        headers=admin,
    )
    assert rest.status_code == 201, rest.text
    deliver(env)
    enrolment = enrolment_of(env, student_id)
    assert enrolment["end_reason"] == "refunded"
    assert _item(env, built, student).status_code == 404
    assert not _has_access(env, built, student)
    assert order_of(env, student_id)["status"] == "refunded"
    assert env.double is not None
    [transfer] = env.double.of_kind("transfer")
    assert transfer["amount_reversed"] == SHARE
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)


def test_an_issued_certificate_stays_valid_when_access_ends(demo_env: Env) -> None:
    env = demo_env
    built, _, _, student_id, student, payment = bought(env)
    cid = built["course"]["id"]
    finish_course(env.client, student, built)
    [mine] = env.client.get("/api/v1/me/courses", headers=student).json()
    code = mine["certificate_code"]
    assert code and not mine["refundable"]
    refund = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": PRICE, "reason": "Goodwill after a complaint"},
        headers=account(env.client, "admin"),
    )
    assert refund.status_code == 201
    deliver(env)
    assert enrolment_of(env, student_id)["ended_at"] is not None
    assert env.client.get(f"/api/v1/certificates/{code}").json()["status"] == "valid"
    page = env.client.get(f"/courses/{cid}/items/{built['text']['id']}", headers=student)
    assert page.status_code == 404 and not _has_access(env, built, student)
    assert ledger_is_balanced(env) == {}


def test_a_lost_dispute_ends_the_enrolment(env: Env) -> None:
    built, _, _, student_id, student, _ = bought(env)
    assert env.double is not None
    env.double.dispute(_charge(env), dispute_id="dp_course")
    deliver(env)
    assert order_of(env, student_id)["status"] == "disputed"
    assert _has_access(env, built, student)  # access stays while it is open
    end_refund_window(env, student_id)
    settle(env)
    assert transfers(env) == []  # a disputed sale waits
    env.double.dispute(_charge(env), "lost", dispute_id="dp_course")
    deliver(env)
    assert order_of(env, student_id)["status"] == "charged_back"
    enrolment = enrolment_of(env, student_id)
    assert enrolment["end_reason"] == "dispute_lost"
    assert _item(env, built, student).status_code == 404
    assert not _has_access(env, built, student)
    settle(env)
    assert transfers(env) == []
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env, chargebacks=PRICE)


def test_a_won_dispute_keeps_the_enrolment_and_then_settles(env: Env) -> None:
    built, _, _, student_id, student, _ = bought(env)
    assert env.double is not None
    env.double.dispute(_charge(env), dispute_id="dp_won")
    env.double.dispute(_charge(env), "won", dispute_id="dp_won")
    deliver(env)
    assert order_of(env, student_id)["status"] == "paid"
    assert enrolment_of(env, student_id)["ended_at"] is None
    end_refund_window(env, student_id)
    settle(env)
    [transfer] = env.double.of_kind("transfer")
    assert transfer["amount"] == SHARE
    assert _has_access(env, built, student)
    reconciled_with_stripe(env)


def test_a_refund_in_the_stripe_dashboard_ends_access(env: Env) -> None:
    _, _, _, student_id, _, payment = bought(env)
    assert env.double is not None
    env.double.refund_in_dashboard(intent_of(env, payment["id"]), PRICE)
    deliver(env)
    assert order_of(env, student_id)["status"] == "refunded"
    assert enrolment_of(env, student_id)["end_reason"] == "refunded"
    assert ledger_is_balanced(env) == {}
    reconciled_with_stripe(env)


def test_a_declined_card_keeps_the_order_open_for_another_try(demo_env: Env) -> None:
    env = demo_env
    _, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    student_id, student = user(env.client, "student")
    payment = buy(env, student, built["course"]["id"])
    pay(env, payment, card="declined")
    assert order_of(env, student_id)["status"] == "open"
    assert enrolment_of(env, student_id) is None
    retry = buy(env, student, built["course"]["id"])
    assert retry["id"] == payment["id"] and retry["failure_message"]
    pay(env, retry)
    assert order_of(env, student_id)["status"] == "paid"
    assert ledger_is_balanced(env)["student/card"] == -PRICE


def test_strangers_cannot_pay_see_or_refund_someone_elses_purchase(demo_env: Env) -> None:
    env = demo_env
    _, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    cid = built["course"]["id"]
    _, student = user(env.client, "student")
    payment = buy(env, student, cid)
    _, other = user(env.client, "student")
    attempt = env.client.post(f"/api/v1/payments/{payment['id']}/attempt", headers=other)
    assert attempt.status_code == 403 and attempt.json()["code"] == "not_your_payment"
    assert env.client.get(f"/api/v1/payments/{payment['id']}", headers=other).status_code == 404
    assert env.client.get(f"/api/v1/payments/{payment['id']}", headers=tutor).status_code == 200
    pay(env, payment)
    refund = env.client.post(f"/api/v1/courses/{cid}/refund", headers=other)
    assert refund.status_code == 404 and refund.json()["code"] == "not_enrolled"
    assert env.client.get("/api/v1/me/course-orders", headers=other).json() == []
    assert not _has_access(env, built, other)


def test_a_second_payment_of_a_paid_order_is_refunded_and_the_order_stands(env: Env) -> None:
    """A checkout closed without reaching Stripe (its intent still payable) is paid late,
    after a new checkout of the same order went through."""
    _, tutor = selling_tutor(env)
    built = paid_course(env, tutor)
    student_id, student = user(env.client, "student")
    first = buy(env, student, built["course"]["id"])
    sql(env.client, "UPDATE payments SET status = 'cancelled' WHERE id = $1", first["id"])
    second = buy(env, student, built["course"]["id"])
    assert second["id"] != first["id"] and second["ref"] == first["ref"]  # the same order
    pay(env, second)
    pay(env, first)  # the old intent is confirmed late
    order = order_of(env, student_id)
    assert order["status"] == "paid" and order["payment_id"] == second["id"]
    refunds = sql(env.client, "SELECT payment_id, amount_minor, initiated_by FROM refunds")
    assert [tuple(r) for r in refunds] == [(first["id"], PRICE, "system")]
    assert enrolment_of(env, student_id)["ended_at"] is None
    assert _has_access(env, built, student)
    assert ledger_is_balanced(env)["student/card"] == -PRICE
    reconciled_with_stripe(env)
