"""A student pays for a trial lesson, moves it by picking one of the tutor's offered times, and
cancels it only after a page has said what the refund will be."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import PASSWORD, register
from tests.scheduling.helpers import approved_tutor

pytestmark = pytest.mark.browser


def login(page: Any, live_server: str, email: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def test_student_moves_then_cancels_a_paid_trial_lesson(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor_id, tutor = approved_tutor(client, trial_price_minor=2000)
    register(client, "student", email="noor@example.com", time_zone="Europe/Berlin")
    page = browser_page
    login(page, live_server, "noor@example.com")

    # The listing and the booking page show lesson prices with their length, and say that
    # the first lesson is a trial.
    page.goto(f"{live_server}/tutors/{tutor_id}/book?duration=60")
    assert "€20" in page.get_by_test_id("trial-note").inner_text()
    page.locator("section.day").nth(2).locator("button.slot").first.click()
    page.wait_for_url(re.compile(r".*/checkout/\d+$"))
    assert page.get_by_test_id("total").inner_text() == "€20"
    note = page.get_by_test_id("price-note").inner_text()
    assert "Trial price" in note and "usually €45" in note
    page.get_by_role("button", name=re.compile(r"Pay €20 \(demo\)")).click()
    page.wait_for_url(re.compile(r".*/checkout/\d+/return$"))
    run_jobs(queue)
    page.wait_for_selector("text=Booked!", timeout=15_000)
    page.get_by_role("link", name="Go to the lesson").click()
    page.wait_for_url(re.compile(r".*/lessons/\d+$"))
    lesson_url = page.url
    booking_id = int(lesson_url.rsplit("/", 1)[1])
    when_before = page.get_by_test_id("when").inner_text()

    # Move: the tutor's open times for the lesson's length, not a free date field.
    page.get_by_test_id("move-lesson").click()
    page.wait_for_url(f"**/lessons/{booking_id}/reschedule")
    assert page.locator("input[type=datetime-local]").count() == 0
    target = page.locator("section.day").nth(4).locator("button.slot").first
    chosen = target.locator("xpath=..").locator("input[name=starts_at]").get_attribute("value")
    target.click()
    page.wait_for_url("**notice=reschedule_requested")
    proposal = datetime.fromisoformat(chosen)
    assert proposal.strftime("%d %b %Y") in page.inner_text("main")
    accepted = client.get(f"/api/v1/bookings/{booking_id}", headers=tutor).json()
    request_id = accepted["reschedule"]["id"]
    answer = client.post(
        f"/api/v1/bookings/{booking_id}/reschedule/{request_id}/accept", headers=tutor
    )
    assert answer.status_code == 200, answer.text
    page.goto(lesson_url)
    assert page.get_by_test_id("when").inner_text() != when_before

    # Cancel: a page says what comes back and until when cancelling is free; leaving it
    # changes nothing; only the button cancels.
    page.get_by_test_id("cancel-lesson").click()
    page.wait_for_url(f"**/lessons/{booking_id}/cancel")
    assert page.get_by_test_id("refund").inner_text() == "€20"
    assert "free until" in page.get_by_test_id("policy").inner_text()
    page.get_by_role("link", name="Keep the lesson").click()
    page.wait_for_url(lesson_url)
    assert page.get_by_test_id("status").inner_text() == "confirmed"
    page.get_by_test_id("cancel-lesson").click()
    page.get_by_label(re.compile("Reason")).fill("Exam week")
    page.get_by_role("button", name="Yes, cancel the lesson and refund €20").click()
    page.wait_for_url("**notice=lesson_cancelled")
    assert page.get_by_test_id("status").inner_text() == "cancelled by you"
    assert "€20 refunded" in page.inner_text("main")
