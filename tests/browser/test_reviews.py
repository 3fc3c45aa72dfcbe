"""A student reviews a completed lesson in the browser and finds it on the tutor's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import PASSWORD, login, register
from tests.reviews.helpers import completed_lesson

pytestmark = pytest.mark.browser


def test_student_reviews_a_completed_lesson_and_sees_it_on_the_tutors_page(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    me = register(client, "student", email="olivia@example.com", full_name="Olivia Bennett")
    lesson = completed_lesson(client, learner=(me["id"], login(client, me["email"])))
    page = browser_page
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("olivia@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")

    page.goto(f"{live_server}/lessons/{lesson.booking_id}")
    assert page.get_by_test_id("status").inner_text() == "completed"
    page.get_by_test_id("leave-review").click()
    page.wait_for_url(f"**/lessons/{lesson.booking_id}/review")

    # The star picker is a radio group: the keyboard moves through it like any other.
    page.locator("#rating-1").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.locator("#rating-4").is_checked()
    assert (
        page.locator(".rv-star-caption").evaluate("el => getComputedStyle(el, '::after').content")
        == '"Very good"'
    )
    page.get_by_label("Teaching").select_option("5")
    page.get_by_label("Your review").fill("We worked on scales; patient and clear.")
    page.get_by_role("button", name="Publish review").click()
    page.wait_for_url(re.compile(rf".*/lessons/{lesson.booking_id}\?notice=review_published"))
    assert "Thank you! Your review is published" in page.inner_text("main")
    assert "We worked on scales; patient and clear." in page.inner_text("#review")

    page.get_by_role("link", name=re.compile("See it on .*'s page")).click()
    page.wait_for_url(f"**/tutors/{lesson.tutor.id}#review-*")
    item = page.get_by_test_id("review").first
    assert "We worked on scales; patient and clear." in item.inner_text()
    assert "Olivia B." in item.inner_text() and "Verified lesson" in item.inner_text()
    assert "Teaching 5/5" in item.inner_text()
    assert page.get_by_test_id("review-average").inner_text() == "4.0"
    assert page.get_by_test_id("stars-4").inner_text() == "1"
