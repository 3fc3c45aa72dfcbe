"""Sign up as a tutor, fill the profile, get approved by an admin, see the public page."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import PASSWORD, make_admin, register
from tests.media_factory import png

pytestmark = pytest.mark.browser


def test_tutor_signs_up_is_approved_and_goes_public(
    live_server: str, browser_page: Any, client: TestClient[Any], tmp_path: Any
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

    page.get_by_role("button", name="Send for review").click()
    page.wait_for_url("**notice=submitted")
    assert "Status: Pending" in page.content()
    tutor_id = int(page.get_by_role("link", name="Preview").get_attribute("href").rsplit("/", 1)[1])

    admin = register(client, "student", email="admin@example.com")
    make_admin(client, admin["id"])
    page.get_by_role("button", name="Log out").click()
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
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
    page.goto(live_server + "/tutors")
    assert page.get_by_role("link", name="Inês Carvalho").is_visible()
