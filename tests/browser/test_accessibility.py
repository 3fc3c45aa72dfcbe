"""axe-core (pinned in package-lock.json, installed by ``make install``) on the main pages, in
Chromium: no serious or critical violations, for a visitor, a student and a tutor."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.test_lesson_changes import login
from tests.helpers import register
from tests.scheduling.helpers import approved_tutor, book, local_slot, sql

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def axe_script() -> Path:
    """The pinned axe-core; installed from the lock file when missing and npm is at hand."""
    if not AXE.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT, check=True
        )
    if not AXE.exists():
        message = "axe-core is not installed (run `make install` with npm available)"
        if os.environ.get("DUET_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE


def serious_violations(page: Any, script: Path) -> list[str]:
    # Evaluated through the DevTools protocol, not as a <script> element: the pages'
    # Content-Security-Policy (rightly) refuses an inline script, and the test must not weaken it.
    page.evaluate(script.read_text(encoding="utf-8") + "\n;true")
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + ": " + v.help + " — " + v.nodes.slice(0, 3)
                 .map(n => n.target.join(" ")).join(", "))"""
    )
    return [str(item) for item in found]


def test_main_pages_have_no_serious_accessibility_violations(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    script = axe_script()
    tutor_id, _ = approved_tutor(client)
    tutor_email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    register(client, "student", email="ada@example.com", time_zone="Europe/Berlin")
    from tests.helpers import login as api_login

    me = api_login(client, "ada@example.com")
    booking = book(client, me, tutor_id, local_slot("Europe/Berlin", 3, 10)).json()
    page = browser_page
    problems: dict[str, list[str]] = {}

    def check(path: str) -> None:
        page.goto(live_server + path)
        if found := serious_violations(page, script):
            problems[path] = found

    for path in ("/", "/tutors", "/search", f"/tutors/{tutor_id}", "/courses", "/login"):
        check(path)
    check("/signup")
    login(page, live_server, "ada@example.com")
    for path in (
        f"/tutors/{tutor_id}/book",
        "/lessons",
        f"/lessons/{booking['id']}",
        f"/lessons/{booking['id']}/reschedule",
        f"/lessons/{booking['id']}/cancel",
        "/account",
        "/account/delete",
    ):
        check(path)
    page.context.clear_cookies()
    login(page, live_server, tutor_email)
    for path in ("/tutor/profile", "/tutor/availability", "/account/calendar", "/teach/courses"):
        check(path)
    assert not problems, problems
