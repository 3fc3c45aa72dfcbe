"""A student in New York picks a Berlin tutor's slot in their own time and sees the hold."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from tests.helpers import PASSWORD, register
from tests.scheduling.helpers import approved_tutor

pytestmark = pytest.mark.browser


def test_student_picks_a_slot_in_their_zone_and_sees_the_hold(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    tutor_id, _ = approved_tutor(
        client, windows=[(d, "17:00", "19:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    )
    register(client, "student", email="maya@example.com", time_zone="America/New_York")
    page = browser_page
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("maya@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")

    page.goto(f"{live_server}/tutors/{tutor_id}")
    page.get_by_role("button", name="See open times").click()
    page.wait_for_url(f"**/tutors/{tutor_id}/book**")
    assert "America/New York" in page.get_by_test_id("zone").inner_text()
    first = page.locator("button.slot").first
    label = first.inner_text()
    starts_at = first.locator("xpath=..").locator("input[name=starts_at]").get_attribute("value")
    local = datetime.fromisoformat(starts_at).astimezone(ZoneInfo("America/New_York"))
    assert label == local.strftime("%H:%M")  # 17:00 in Berlin, shown as New York time
    assert datetime.fromisoformat(starts_at).astimezone(ZoneInfo("Europe/Berlin")).hour in (17, 18)
    first.click()
    page.wait_for_url(re.compile(r".*/checkout/\d+$"))  # straight on to paying
    page.get_by_role("link", name="← Back to the lesson").click()
    page.wait_for_url(re.compile(r".*/lessons/\d+$"))
    assert page.get_by_test_id("status").inner_text() == "held"
    assert "Held for you until" in page.get_by_test_id("hold").inner_text()
    assert local.strftime("%H:%M") in page.get_by_test_id("when").inner_text()
    assert "America/New York" in page.inner_text("main")
    page.goto(live_server + "/lessons")
    assert page.locator(".lesson").count() == 1
