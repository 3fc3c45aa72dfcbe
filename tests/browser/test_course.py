"""A tutor builds a course with a quiz in the browser; a student enrols, completes it, downloads
the certificate and opens its verification page (at phone width)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import PASSWORD
from tests.lessons.helpers import user

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def test_tutor_builds_student_completes_and_verifies(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    _, tutor_headers = user(client, "tutor")
    tutor_email = client.get("/api/v1/me", headers=tutor_headers).json()["email"]
    _, student_headers = user(client, "student")
    student_email = client.get("/api/v1/me", headers=student_headers).json()["email"]
    page = browser_page

    _login(page, live_server, tutor_email)
    page.goto(live_server + "/teach/courses")
    form = page.locator("form[action='/teach/courses']")
    form.get_by_label("Title").fill("Fingerstyle in a weekend")
    form.get_by_label("Summary").fill("Travis picking from the first pattern to a full song.")
    form.get_by_label("Instrument").select_option("acoustic-guitar")
    form.get_by_label("Level").select_option("beginner")
    form.get_by_label("Language").select_option("en")
    form.get_by_role("button", name="Create course").click()
    page.wait_for_url(re.compile(r".*/teach/courses/\d+\?notice=course_created"))
    editor_url = page.url.split("?")[0]

    page.get_by_label("New module").fill("The thumb")
    page.get_by_role("button", name="Add module").click()
    page.wait_for_url("**notice=module_added")
    page.get_by_label("New item").fill("Alternating bass")
    page.get_by_label("Kind").select_option("text")
    page.get_by_role("button", name="Add item").click()
    page.wait_for_url("**notice=item_added")
    page.get_by_label("Text (Markdown)").fill("Keep the **thumb** steady on strings 6 and 4.")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**notice=item_saved")

    page.goto(editor_url)
    page.get_by_label("New item").fill("Thumb quiz")
    page.get_by_label("Kind").select_option("quiz")
    page.get_by_role("button", name="Add item").click()
    page.wait_for_url("**notice=item_added")
    assert "has no questions" in page.get_by_test_id("quiz-problems").inner_text()
    qform = page.locator("[data-question-form]")
    qform.get_by_label("Type").select_option("single")
    qform.get_by_label("Question").fill("Which finger plays the bass notes?")
    qform.get_by_label("Option 1", exact=True).fill("The thumb")
    qform.get_by_label("Option 1 is correct").check()
    qform.get_by_label("Option 2", exact=True).fill("The ring finger")
    assert qform.get_by_label("Correct value").is_hidden()  # only this type's fields show
    qform.get_by_role("button", name="Add question").click()
    page.wait_for_url("**notice=question_added")
    assert page.locator("[data-testid=quiz-problems]").count() == 0

    page.goto(editor_url)
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**notice=published")
    assert page.get_by_test_id("course-status").inner_text() == "published"

    _login(page, live_server, student_email)
    page.goto(live_server + "/courses?instrument=acoustic-guitar")
    page.get_by_role("link", name="Fingerstyle in a weekend").click()
    page.get_by_role("button", name="Enrol for free").click()
    page.wait_for_url(re.compile(r".*/items/\d+\?notice=enrolled"))
    assert "thumb" in page.locator(".prose").inner_text()
    page.get_by_role("button", name=re.compile("Mark as done")).click()
    page.wait_for_url(re.compile(r".*/items/\d+$"))
    page.get_by_role("button", name="Start the quiz").click()
    page.wait_for_url(re.compile(r".*/quiz-attempts/\d+$"))
    page.get_by_label("The thumb").check()
    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_url(re.compile(r".*/quiz-attempts/\d+$"))
    assert page.get_by_test_id("score").inner_text().startswith("100%")
    page.get_by_role("link", name="Back to the course").click()
    page.get_by_role("link", name="Your certificate").click()
    page.wait_for_url(re.compile(r".*/certificates/[A-Z0-9]+$"))
    assert page.get_by_test_id("cert-status").inner_text() == "Valid"
    verify_url = page.url
    with page.expect_download() as info:
        page.get_by_test_id("download-pdf").click()
    download = info.value
    path = download.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF-")

    # Anyone can open the verification page (the QR code's target), logged in or not.
    page.context.clear_cookies()
    page.goto(verify_url)
    assert page.get_by_test_id("cert-status").inner_text() == "Valid"
    assert page.get_by_test_id("cert-student").inner_text().startswith("Student Number")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
