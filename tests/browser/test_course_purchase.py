"""A student buys a paid course (like the demo's "Jazz harmony for pianists") through the demo
gateway, lands back on the course and opens its first item; the refund action is offered."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import PASSWORD
from tests.lessons.helpers import item, module, user
from tests.payouts.accounts import enable_payouts

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("DUET_SCREENSHOTS", "")) if os.environ.get("DUET_SCREENSHOTS") else None


def _shot(page: Any, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _jazz_course(client: TestClient[Any], tutor: dict[str, str]) -> int:
    """A paid piano course shaped like the demo one: a text, then a quiz-free practice item."""
    r = client.post(
        "/api/v1/tutor/courses",
        json={
            "title": "Jazz harmony for pianists",
            "instrument": "piano",
            "level": "intermediate",
            "language": "en",
            "summary": "Shell voicings and guide tones through the ii–V–I.",
            "description": "From **shell voicings** to smooth guide-tone lines.",
            "price_minor": 2900,
        },
        headers=tutor,
    )
    assert r.status_code == 201, r.text
    cid = int(r.json()["id"])
    m = module(client, tutor, cid, "Shells")
    item(client, tutor, cid, m, "text", "Root, third and seventh", body="Keep the **3rd and 7th**.")
    item(client, tutor, cid, m, "text", "Guide tones", body="Move by step from chord to chord.")
    published = client.post(f"/api/v1/tutor/courses/{cid}/publish", headers=tutor)
    assert published.status_code == 200, published.text
    return cid


def test_student_buys_a_paid_course_with_the_demo_gateway_and_opens_it(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor_id, tutor = user(client, "tutor")
    enable_payouts(client, tutor_id)
    cid = _jazz_course(client, tutor)
    _, student = user(client, "student")
    email = client.get("/api/v1/me", headers=student).json()["email"]
    page = browser_page
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")

    page.goto(f"{live_server}/courses/{cid}")
    _shot(page, "course-buy")
    page.get_by_role("button", name="Buy for €29").click()
    page.wait_for_url(re.compile(r".*/checkout/\d+$"))
    assert page.get_by_role("heading", name="Buy this course").is_visible()
    assert page.get_by_test_id("total").inner_text() == "€29"
    assert page.get_by_test_id("demo-payments").is_visible()
    _shot(page, "course-checkout")
    page.get_by_role("button", name=re.compile(r"Pay €29 \(demo\)")).click()
    page.wait_for_url(re.compile(r".*/checkout/\d+/return$"))
    run_jobs(queue)  # the worker processes the payment event
    page.wait_for_selector("text=Enrolled!", timeout=15_000)  # the page follows the payment
    page.get_by_role("link", name="Open the course").click()
    page.wait_for_url(re.compile(rf".*/courses/{cid}$"))
    assert page.get_by_test_id("progress").inner_text() == "0% complete"
    assert page.get_by_test_id("refund").is_visible()
    _shot(page, "course-bought")
    page.get_by_role("link", name="Start the course").click()
    page.wait_for_url(re.compile(rf".*/courses/{cid}/items/\d+$"))
    assert page.get_by_role("heading", name="Root, third and seventh").is_visible()
    assert "3rd and 7th" in page.locator("article.item-body").inner_text()

    page.goto(live_server + "/my/courses")
    assert page.get_by_test_id("my-course").count() == 1
    assert "refundable" in page.get_by_test_id("my-course").inner_text()
    _shot(page, "my-courses-bought")
