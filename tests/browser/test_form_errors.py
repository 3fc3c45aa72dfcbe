"""A failed form comes back as a page (never its source as JSON), with each problem under its
field and everything typed still there: the tutor's availability, calendar, course, review and
profile forms."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.test_lesson_changes import login
from tests.reviews.helpers import completed_lesson
from tests.scheduling.helpers import approved_tutor, sql

pytestmark = pytest.mark.browser


def email_of(client: TestClient[Any], user_id: int) -> str:
    return str(sql(client, "SELECT email FROM users WHERE id = $1", user_id)[0][0])


def _field_error(page: Any, control_id: str) -> str:
    """The problem tied to a control (aria-describedby), as a screen reader would hear it."""
    control = page.locator(f"#{control_id}")
    assert control.get_attribute("aria-invalid") == "true"
    return str(page.locator(f"#{control.get_attribute('aria-describedby')}").inner_text())


def test_form_problems_show_by_their_fields_and_keep_what_was_typed(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    tutor_id, _ = approved_tutor(client)
    email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    page = browser_page
    login(page, live_server, email)

    # Time off: the last day before the first.
    page.goto(live_server + "/tutor/availability")
    page.locator("#off-first").fill("2031-03-20")
    page.locator("#off-last").fill("2031-03-10")
    page.locator("#off-reason").fill("Tour in Japan")
    with page.expect_response("**/tutor/availability/time-off") as posted:
        page.get_by_role("button", name="Add time off").click()
    assert posted.value.status == 422
    assert posted.value.headers["content-type"].startswith("text/html")
    assert "before the first" in _field_error(page, "off-last")
    assert page.locator("#off-first").input_value() == "2031-03-20"
    assert page.locator("#off-reason").input_value() == "Tour in Japan"
    assert page.get_by_test_id("form-problem").is_visible()

    # Booking rules: a value the server refuses (the browser's own check switched off, as in
    # a browser without it); the other typed values stay as typed, not as saved.
    page.locator("#rule-buffer_after_minutes").fill("15")
    page.locator("#rule-min_notice_minutes").fill("50000")
    page.eval_on_selector("#rule-min_notice_minutes", "el => { el.form.noValidate = true; }")
    page.get_by_role("button", name="Save rules").click()
    page.wait_for_selector("#rule-min_notice_minutes[aria-invalid=true]")
    assert "0 to 20160" in _field_error(page, "rule-min_notice_minutes")
    assert page.locator("#rule-min_notice_minutes").input_value() == "50000"
    assert page.locator("#rule-buffer_after_minutes").input_value() == "15"
    assert "min_notice_minutes" not in page.inner_text("main")

    # Calendar import: an address that is not http(s) or webcal.
    page.goto(live_server + "/account/calendar")
    page.locator("#cal-name").fill("Orchestra rehearsals")
    page.locator("#cal-url").fill("ftp://example.com/busy.ics")
    page.get_by_role("button", name="Add calendar").click()
    page.wait_for_selector("#cal-url[aria-invalid=true]")
    assert "webcal" in _field_error(page, "cal-url")
    assert page.locator("#cal-name").input_value() == "Orchestra rehearsals"
    assert page.locator("#cal-url").input_value() == "ftp://example.com/busy.ics"

    # New course: a price that is not an amount.
    page.goto(live_server + "/teach/courses")
    page.locator("#course-title").fill("Blues guitar in ten licks")
    page.locator("#course-instrument").select_option("electric-guitar")
    page.locator("#course-price").fill("twelve")
    page.locator("#course-description").fill("From **shuffle** to turnaround.")
    with page.expect_response("**/teach/courses") as created:
        page.get_by_role("button", name="Create course").click()
    assert created.value.status == 422
    assert created.value.headers["content-type"].startswith("text/html")
    assert "49.50" in _field_error(page, "course-price")
    assert page.locator("#course-title").input_value() == "Blues guitar in ten licks"
    assert page.locator("#course-price").input_value() == "twelve"
    assert page.locator("#course-description").input_value() == "From **shuffle** to turnaround."
    assert page.locator("#course-instrument").input_value() == "electric-guitar"


def test_review_and_profile_forms_keep_what_was_typed_and_link_the_summary_to_the_field(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    lesson = completed_lesson(client)
    page = browser_page

    # The review: text typed, no star chosen (the browser's own check switched off).
    login(page, live_server, email_of(client, lesson.student_id))
    page.goto(f"{live_server}/lessons/{lesson.booking_id}/review")
    page.locator("textarea[name=text]").fill("Patient and clear ✨ — Zoë")
    page.locator("select[name=teaching]").select_option("4")
    with page.expect_response(f"**/lessons/{lesson.booking_id}/review") as posted:
        page.get_by_role("button", name="Publish review").click()
    assert posted.value.status == 422
    assert posted.value.headers["content-type"].startswith("text/html")
    assert page.locator("#rating-1").get_attribute("aria-invalid") == "true"
    assert page.locator("#rating-error").is_visible()
    assert page.locator("textarea[name=text]").input_value() == "Patient and clear ✨ — Zoë"
    assert page.locator("select[name=teaching]").input_value() == "4"
    summary = page.get_by_test_id("form-problem")
    assert summary.get_attribute("role") == "alert"
    summary.get_by_role("link").first.click()
    assert page.url.endswith("#rating-error")

    # The tutor's prices: typed in major units, a word refused by the field, nothing lost.
    page.context.clear_cookies()
    login(page, live_server, email_of(client, lesson.tutor.id))
    page.goto(live_server + "/tutor/profile")
    page.locator("input[name=price_30]").fill("twenty-nine fifty")
    page.locator("input[name=price_60]").fill("49.50")
    page.locator("input[name=headline]").fill("Fado for grown-ups 🎸")
    with page.expect_response("**/tutor/profile") as saved:
        page.get_by_role("button", name="Save profile").click()
    assert saved.value.status == 422
    price = page.locator("input[name=price_30]")
    assert price.get_attribute("aria-invalid") == "true"
    problem = page.locator(f"#{price.get_attribute('aria-describedby')}").inner_text()
    assert "45.50" in problem and "minor" not in problem and "price_30" not in problem
    assert price.input_value() == "twenty-nine fifty"
    assert page.locator("input[name=price_60]").input_value() == "49.50"
    assert page.locator("input[name=headline]").input_value() == "Fado for grown-ups 🎸"
