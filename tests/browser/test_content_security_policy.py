"""Chromium enforces our Content-Security-Policy on the main pages of every role, the lesson room
and a demo checkout, and reports no violation (``csp_watch`` in conftest fails the test on one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.settings import Settings
from marketplace.tasks import DramatiqQueue
from tests.browser.conftest import CspWatch, chromium_path
from tests.browser.test_lesson_room import log_in, media_flags, stereo_wav
from tests.helpers import run_async
from tests.scheduling.helpers import approved_tutor, sql
from tests.video.lessons import make_lesson
from tests.video.server import LiveRoomServer, live_room_server, loopback_room_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def live(settings: Settings, queue: DramatiqQueue) -> Iterator[LiveRoomServer]:
    with live_room_server(loopback_room_settings(settings), queue) as server:
        yield server


def _visit(page: Any, url: str, status: int = 200) -> Any:
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, (url, policy)
    page.wait_for_load_state("load")
    return response


def test_no_page_violates_the_content_security_policy(
    live: LiveRoomServer,
    database_url: str,
    client: TestClient[Any],
    tmp_path: Path,
    csp_watch: CspWatch,
) -> None:
    base = live.url
    tutor_id, _ = approved_tutor(client)
    tutor_email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    lesson = run_async(make_lesson(database_url))
    admin_email = lesson.student_email.replace("student", "admin")
    wav = stereo_wav(tmp_path / "tone.wav", 440, 880, seconds=1)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=media_flags(wav)
        )
        try:
            context = csp_watch.new_context(browser, viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.set_default_timeout(20_000)

            # The watch itself: an injected inline script and a style attribute are refused and
            # reported, so a page that broke the policy could not pass unnoticed.
            _visit(page, base + "/")
            page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.injected = 1'; document.body.append(s);"
                " document.body.setAttribute('style', 'color: red'); }"
            )
            assert page.evaluate("() => window.injected") is None
            assert any("script-src" in v for v in csp_watch.violations), csp_watch.violations
            assert any("style-src" in v for v in csp_watch.violations), csp_watch.violations
            csp_watch.violations.clear()

            # Anyone.
            for path in ("/", "/search", f"/tutors/{tutor_id}", "/courses", "/login", "/signup"):
                _visit(page, base + path)
            _visit(page, base + "/no/such/page", status=404)

            # A student: account, lessons, the lesson room, messages, a demo checkout.
            log_in(page, base, lesson.student_email)
            for path in (
                "/account",
                "/account/delete",
                "/lessons",
                f"/lessons/{lesson.booking_id}",
                f"/lessons/{lesson.booking_id}/check",
                "/messages",
                "/notifications",
                "/my/courses",
            ):
                _visit(page, base + path)
            _visit(page, f"{base}/lessons/{lesson.booking_id}/room")
            page.wait_for_function("() => window.duetRoom && window.duetRoom.ws")
            page.wait_for_function("() => window.duetRoom.ws.readyState === 1")
            _visit(page, f"{base}/tutors/{tutor_id}/book")
            page.locator("section.day").nth(2).locator("button.slot").first.click()
            page.wait_for_url(re.compile(r".*/checkout/\d+$"))
            page.get_by_role("button", name=re.compile(r"\(demo\)")).click()
            page.wait_for_url(re.compile(r".*/checkout/\d+/return$"))

            # A tutor.
            context.clear_cookies()
            log_in(page, base, tutor_email)
            for path in (
                "/tutor/profile",
                "/tutor/availability",
                "/tutor/earnings",
                "/tutor/reviews",
                "/teach/courses",
                "/account/calendar",
            ):
                _visit(page, base + path)

            # An admin.
            context.clear_cookies()
            log_in(page, base, admin_email)
            for path in ("/admin/tutors", "/admin/reviews", "/admin/payments", "/admin/reports"):
                _visit(page, base + path)
            context.close()
        finally:
            browser.close()
    assert csp_watch.violations == []
