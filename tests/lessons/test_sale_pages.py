"""Buying a course through the pages (forms with CSRF, the demo payment step), the refund
action while it is allowed, "My courses" and the tutor's earnings page."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.lessons.helpers import published_course, user
from tests.lessons.test_pages import _csrf, _page_login
from tests.payouts.accounts import enable_payouts
from tests.payouts.flow import Env


def _post(client: TestClient[Any], path: str, form_page: str, **data: str) -> Any:
    return client.post(
        path, data={"_csrf_token": _csrf(client, form_page), **data}, follow_redirects=False
    )


def test_a_student_buys_refunds_and_sees_it_everywhere(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor_id, tutor = user(client, "tutor")
    enable_payouts(client, tutor_id)
    built = published_course(client, tutor, title="Walking bass lines", price_minor=2900)
    cid = built["course"]["id"]
    _, student = user(client, "student")
    _page_login(client, student)
    page = client.get(f"/courses/{cid}").text
    assert "Buy for €29" in page and "full refund within 14 days" in page

    r = _post(client, f"/courses/{cid}/buy", f"/courses/{cid}")
    assert r.status_code == 303
    checkout = r.headers["location"]
    assert re.fullmatch(r"/checkout/\d+", checkout)
    page = client.get(checkout).text
    assert "Buy this course" in page and "Back to the course" in page and "Demo payment" in page
    assert "Course: Walking bass lines" in page and "€29" in page
    again = _post(client, f"/courses/{cid}/buy", f"/courses/{cid}")
    assert again.headers["location"] == checkout  # a second click reaches the same checkout

    paid = _post(client, f"{checkout}/demo", checkout, outcome="pay")
    assert paid.status_code == 303 and paid.headers["location"] == f"{checkout}/return"
    run_jobs(queue)  # the worker processes the payment event
    done = client.get(f"{checkout}/return").text
    assert "Enrolled!" in done and "The course is yours." in done
    assert f'href="/courses/{cid}"' in done and "My courses" in done

    mine = client.get("/my/courses").text
    assert "Walking bass lines" in mine and "refundable" in mine
    course_page = client.get(f"/courses/{cid}").text
    assert "Ask for a refund" in course_page and "Start the course" in course_page

    refunded = _post(client, f"/courses/{cid}/refund", f"/courses/{cid}")
    assert refunded.status_code == 303
    assert refunded.headers["location"] == f"/courses/{cid}?notice=course_refunded"
    run_jobs(queue)
    course_page = client.get(f"/courses/{cid}").text
    assert "Your access to this course ended" in course_page and "Buy for €29" in course_page
    mine = client.get("/my/courses").text
    assert "Access ended" in mine and "refunded" in mine
    assert client.get(f"/courses/{cid}/items/{built['text']['id']}").status_code == 404
    twice = _post(client, f"/courses/{cid}/refund", f"/courses/{cid}")
    assert twice.status_code == 404 and "no purchase of this course" in twice.text

    client.cookies.clear()
    _page_login(client, tutor)
    earnings = client.get("/tutor/earnings").text
    assert "Course: Walking bass lines" in earnings and "refunded" in earnings
    students = client.get(f"/teach/courses/{cid}/students").text
    assert "access ended (refunded)" in students


def test_a_course_whose_tutor_cannot_be_paid_says_so(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    cid = published_course(client, tutor, price_minor=1500)["course"]["id"]
    _, student = user(client, "student")
    _page_login(client, student)
    page = client.get(f"/courses/{cid}").text
    assert "cannot be bought yet" in page and "Buy for" not in page


def test_with_stripe_keys_the_buy_button_opens_the_payment_element(env: Env) -> None:
    client = env.client
    tutor_id, tutor = user(client, "tutor")
    assert env.double is not None
    enable_payouts(client, tutor_id, env.double.enabled_account())
    cid = published_course(client, tutor, price_minor=2900)["course"]["id"]
    _, student = user(client, "student")
    _page_login(client, student)
    r = _post(client, f"/courses/{cid}/buy", f"/courses/{cid}")
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert 'id="payment-element"' in page and "https://js.stripe.com/v3/" in page
    assert 'data-publishable-key="pk_test_double"' in page
    [intent] = env.double.of_kind("payment_intent")
    assert intent["amount"] == 2900 and f'data-client-secret="{intent["client_secret"]}"' in page
    assert "Demo payment" not in page
