"""A failed form comes back as a page (never its source as JSON), with each problem under its
field and everything typed still there: the tutor's availability, calendar and course forms."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.test_lesson_changes import login
from tests.scheduling.helpers import approved_tutor, sql

pytestmark = pytest.mark.browser


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
