"""A student asks in a course's discussions from the browser; the tutor answers and marks it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.test_course import _login
from tests.lessons.helpers import published_course, user

pytestmark = pytest.mark.browser


def test_student_asks_tutor_answers_in_the_course_discussions(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    _, tutor = user(client, "tutor")
    cid = published_course(client, tutor, title="Slide guitar basics")["course"]["id"]
    _, student = user(client, "student")
    assert client.post(f"/api/v1/courses/{cid}/enrol", headers=student).status_code == 201
    emails = {
        who: client.get("/api/v1/me", headers=h).json()["email"]
        for who, h in (("tutor", tutor), ("student", student))
    }
    page = browser_page

    _login(page, live_server, emails["student"])
    page.goto(f"{live_server}/courses/{cid}")
    page.get_by_test_id("discussions-link").click()
    page.wait_for_url(f"**/courses/{cid}/discussions")
    page.get_by_label("Title").fill("Which slide material?")
    page.get_by_label("Your question or topic").fill("Glass or **brass** for a beginner?")
    page.get_by_role("button", name="Post").click()
    page.wait_for_url(re.compile(rf".*/courses/{cid}/discussions/\d+$"))
    thread_url = page.url
    assert page.locator(".post.opening strong").nth(1).inner_text() == "brass"

    _login(page, live_server, emails["tutor"])
    page.goto(thread_url)
    page.get_by_label("Your reply").fill("Start with glass: lighter, and a softer tone.")
    page.get_by_role("button", name="Reply").click()
    page.wait_for_url(re.compile(r".*#p\d+$"))
    reply = page.locator(".post").nth(1)
    assert reply.get_by_test_id("tutor-mark").is_visible()
    page.get_by_role("button", name="Pin to the top").click()
    page.wait_for_url("**notice=thread_pinned")

    _login(page, live_server, emails["student"])
    page.goto(f"{live_server}/courses/{cid}/discussions")
    row = page.locator(".thread-row").first
    assert "Pinned" in row.inner_text() and "Tutor replied" in row.inner_text()
    row.get_by_role("link", name="Which slide material?").click()
    assert "softer tone" in page.locator(".post.by-tutor").inner_text()
