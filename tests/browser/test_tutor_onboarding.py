"""Sign up as a tutor, fill the profile, get approved by an admin, then follow the checklist
until students can find and book them."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import PASSWORD, make_admin, register
from tests.media_factory import png

pytestmark = pytest.mark.browser


def log_in(page: Any, live_server: str, email: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def step_state(page: Any, key: str) -> str:
    return str(page.locator(f"[data-step={key}]").get_attribute("class"))


def test_tutor_follows_the_checklist_until_bookable(
    live_server: str,
    browser_page: Any,
    client: TestClient[Any],
    queue: DramatiqQueue,
    tmp_path: Any,
) -> None:
    page = browser_page
    page.goto(live_server + "/")
    page.get_by_role("link", name="Teach on Duet").first.click()
    page.get_by_label("Your name").fill("Inês Carvalho")
    page.get_by_label("E-mail").fill("ines@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/tutor/profile?notice=registered")
    assert "Welcome to Duet" in page.content()

    page.get_by_label("Headline").fill("Fado guitarist teaching Portuguese guitar")
    page.get_by_label("About your teaching").fill(
        "I have played fado in Porto for fifteen years and teach beginners and "
        "intermediate players to accompany singers. **Lessons in Portuguese or English.**"
    )
    page.select_option("select[name=instrument_0]", "acoustic-guitar")
    page.locator("input[name=levels_0][value=beginner]").check()
    page.locator("input[name=levels_0][value=intermediate]").check()
    page.locator("input[name=genres][value=fado]").check()
    page.select_option("select[name=languages]", ["pt", "en"])
    page.locator("input[name=formats][value=online]").check()
    page.locator("input[name=formats][value=studio]").check()
    page.get_by_label("Your city").fill("Porto, PT")
    page.get_by_label("60 minutes").fill("45")
    page.get_by_label("30 minutes").fill("25.50")
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_url("**notice=profile_saved")

    photo = tmp_path / "me.png"
    photo.write_bytes(png(500, 500))
    page.set_input_files("input[name=photo]", str(photo))
    page.get_by_role("button", name="Upload photo").click()
    page.wait_for_url("**notice=photo_saved")

    # Before review the checklist says plainly that students cannot find the tutor.
    checklist = page.locator("#readiness")
    assert "Students cannot find you yet: 3 steps to go." in checklist.inner_text()
    assert "step-done" in step_state(page, "profile") and "step-done" in step_state(page, "photo")
    assert "step-todo" in step_state(page, "payouts")

    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url("**notice=submitted")
    assert "Status: Pending" in page.content()
    tutor_id = int(page.get_by_role("link", name="Preview").get_attribute("href").rsplit("/", 1)[1])

    admin = register(client, "student", email="admin@example.com")
    make_admin(client, admin["id"])
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "admin@example.com")
    page.goto(live_server + "/admin/tutors")
    card = page.locator(f"#tutor-{tutor_id}")
    assert "Fado guitarist" in card.inner_text()
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url("**notice=moderated")
    assert page.locator(f"#tutor-{tutor_id}").count() == 0

    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server}/tutors/{tutor_id}")
    assert page.get_by_role("heading", name="Inês Carvalho").is_visible()
    text = page.inner_text("main")
    assert "Porto, PT" in text and "Acoustic Guitar" in text and "Fado" in text
    assert "€45" in text and "€25.50" in text
    assert page.locator("img.avatar").first.is_visible()

    # Approved is not yet bookable: the tutor is told, and the checklist says what is left.
    log_in(page, live_server, "ines@example.com")
    page.goto(live_server + "/notifications")
    assert "Your tutor profile is approved" in page.inner_text("main")
    page.goto(live_server + "/tutor/profile")
    checklist = page.locator("#readiness")
    assert "Students cannot find you yet: 2 steps to go." in checklist.inner_text()
    assert "your profile is public" not in page.content().lower()
    assert "step-done" in step_state(page, "review")

    page.locator("[data-step=payouts]").get_by_role("link", name="Set up payouts").click()
    page.get_by_role("button", name="Set up payouts").click()
    page.get_by_role("button", name="Complete demo onboarding").click()
    page.wait_for_url("**/tutor/earnings?notice=payouts_ready")

    page.goto(live_server + "/tutor/profile")
    # Found in search now (search needs no free time), but nothing to book yet.
    assert page.locator("[data-readiness=searchable]").inner_text() == (
        "Students can find you in search, but have no free time to book."
    )
    page.locator("[data-step=availability]").get_by_role(
        "link", name="Set your availability"
    ).click()
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        page.get_by_label(f"{day} window 1 from").fill("08:00")
        page.get_by_label(f"{day} window 1 to").fill("20:00")
    page.get_by_role("button", name="Save weekly hours").click()
    page.wait_for_url("**notice=availability_saved")

    page.goto(live_server + "/tutor/profile")
    assert page.locator("[data-readiness=bookable]").inner_text() == (
        "Students can find you in search and book a lesson."
    )
    run_jobs(queue)  # the search index follows the profile and payout changes
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server + "/tutors")  # the old list now leads to search
    page.wait_for_url("**/search")
    assert page.get_by_role("link", name="Inês Carvalho").first.is_visible()
