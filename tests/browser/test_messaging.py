"""Two people chat in real time in two browsers: a student asks a tutor before booking."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.conftest import ARTIFACTS, CHROMIUM_FLAGS, CspWatch, chromium_path
from tests.helpers import PASSWORD, register
from tests.scheduling.helpers import approved_tutor

pytestmark = pytest.mark.browser


@pytest.fixture
def two_browsers(request: pytest.FixtureRequest, csp_watch: CspWatch) -> Iterator[tuple[Any, Any]]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        contexts = [
            csp_watch.new_context(browser, viewport={"width": 390, "height": 844}) for _ in "ab"
        ]
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(15_000)
        try:
            yield pages[0], pages[1]
        finally:
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                for name, page in zip(("student", "tutor"), pages, strict=True):
                    page.screenshot(path=str(ARTIFACTS / f"messaging-{name}.png"), full_page=True)
            for context in contexts:
                context.close()
            browser.close()


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def test_student_and_tutor_chat_live(
    live_server: str, two_browsers: tuple[Any, Any], client: TestClient[Any]
) -> None:
    tutor_id, tutor_headers = approved_tutor(client)
    tutor_email = client.get("/api/v1/me", headers=tutor_headers).json()["email"]
    register(client, "student", email="olivia@example.com", full_name="Olivia Bennett")
    student, tutor = two_browsers
    log_in(student, live_server, "olivia@example.com")
    log_in(tutor, live_server, tutor_email)

    # The student asks from the tutor's page, before booking.
    student.goto(f"{live_server}/tutors/{tutor_id}")
    student.get_by_role("link", name=re.compile(r"^Message ")).click()
    student.get_by_label("Your message").fill("Do you teach adults who read no music?")
    student.get_by_role("button", name="Send").click()
    student.wait_for_url(re.compile(r".*/messages/\d+#m1"))
    conversation_url = student.url.split("#")[0]

    # The tutor, on another page, sees the badge go up without reloading.
    tutor.goto(f"{live_server}/lessons")
    badge = tutor.locator("[data-unread-total]")
    badge.wait_for(state="visible")
    assert badge.inner_text().endswith("1")
    tutor.goto(conversation_url)
    tutor.locator("#m1").get_by_text("Do you teach adults").wait_for()
    assert tutor.locator("[data-unread-total]").is_hidden()  # opening it read it

    # Typing shows on the other side; the reply arrives live; the student's reading shows.
    tutor.get_by_label("Message", exact=True).press_sequentially("Abso")
    student.get_by_text(re.compile(r"is typing…")).wait_for()
    tutor.get_by_label("Message", exact=True).fill("Absolutely! We start **by ear**.")
    tutor.get_by_role("button", name="Send").click()
    student.locator("#m2 strong", has_text="by ear").wait_for()
    assert student.url.startswith(conversation_url)  # no reload happened
    tutor.locator("#m2 [data-seen]").wait_for(state="visible")

    # And back: the student answers over the socket, the tutor sees it arrive.
    student.get_by_label("Message", exact=True).fill("Lovely, thank you!")
    student.get_by_label("Message", exact=True).press("Control+Enter")
    tutor.locator("#m3", has_text="Lovely, thank you!").wait_for()
    assert student.locator(".message").count() == 3
    student.reload()
    assert student.locator(".message").count() == 3  # stored once, not duplicated
