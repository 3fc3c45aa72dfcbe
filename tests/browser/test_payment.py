"""A student books a demo tutor and pays through the demo gateway; the lesson is confirmed and
the tutor's earnings page shows it pending."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import PASSWORD, register
from tests.scheduling.helpers import approved_tutor, sql

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("DUET_SCREENSHOTS", "")) if os.environ.get("DUET_SCREENSHOTS") else None


def _shot(page: Any, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page: Any, live_server: str, email: str) -> None:
    page.goto(live_server + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def test_student_pays_with_the_demo_gateway_and_the_lesson_is_confirmed(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor_id, _ = approved_tutor(client)
    tutor_email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    register(client, "student", email="lena@example.com", time_zone="Europe/Berlin")
    page = browser_page
    _login(page, live_server, "lena@example.com")
    assert "Payments are in demo mode" in page.get_by_test_id("demo-payments").inner_text()

    page.goto(f"{live_server}/tutors/{tutor_id}/book")
    page.locator("section.day").nth(2).locator("button.slot").first.click()
    page.wait_for_url(re.compile(r".*/checkout/\d+$"))
    assert page.get_by_test_id("total").inner_text() == "€45"
    assert page.get_by_test_id("demo-payments").is_visible()
    _shot(page, "checkout-demo")
    page.get_by_role("button", name=re.compile(r"Pay €45 \(demo\)")).click()
    page.wait_for_url(re.compile(r".*/checkout/\d+/return$"))
    assert "refreshes by itself" in page.get_by_test_id("payment-status").inner_text()
    run_jobs(queue)  # the worker processes the payment event
    page.wait_for_selector("text=Booked!", timeout=15_000)  # the page follows the payment
    _shot(page, "checkout-booked")
    page.get_by_role("link", name="Go to the lesson").click()
    page.wait_for_url(re.compile(r".*/lessons/\d+$"))
    assert page.get_by_test_id("status").inner_text() == "confirmed"

    page.context.clear_cookies()
    _login(page, live_server, tutor_email)
    page.goto(live_server + "/tutor/earnings")
    assert page.get_by_test_id("payout-state").inner_text().startswith("ready")
    line = page.get_by_test_id("earning-line")
    assert line.count() == 1
    assert line.get_by_test_id("transfer-status").inner_text() == "pending"
    assert page.get_by_test_id("upcoming").inner_text() == "€38.25"
    _shot(page, "earnings")


def test_tutor_sets_up_demo_payouts_and_becomes_bookable(
    live_server: str, browser_page: Any, client: TestClient[Any], queue: DramatiqQueue
) -> None:
    tutor_id, _ = approved_tutor(client, payouts=False)
    tutor_email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    page = browser_page
    _login(page, live_server, tutor_email)
    page.goto(live_server + "/tutor/earnings")
    assert "Set up payouts" in page.get_by_test_id("payout-state").inner_text() + page.content()
    page.get_by_role("button", name="Set up payouts").click()
    page.wait_for_url(re.compile(r".*/payments/demo/onboarding/acct_demo_\w+$"))
    page.get_by_role("button", name="Complete demo onboarding").click()
    page.wait_for_url("**/tutor/earnings?notice=payouts_ready")
    assert page.get_by_test_id("payout-state").inner_text().startswith("ready")
    run_jobs(queue)  # account.updated, through the webhook pipeline
    page.get_by_role("button", name="Open your Stripe Express dashboard").click()
    page.wait_for_url(re.compile(r".*/payments/demo/dashboard/acct_demo_\w+$"))
    assert "Demo" in page.inner_text("h1")
