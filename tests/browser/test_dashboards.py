"""The tutor's and the admin's dashboards in Chromium: reached from the menu, their SVG charts
drawn (a bar per month), the numbers' tables open, no serious axe-core finding, and no
Content-Security-Policy violation (``csp_watch`` fails the test on one: the charts are coloured
by classes, never style attributes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.browser.test_accessibility import axe_script, serious_violations
from tests.helpers import PASSWORD, make_admin, register, run_sql
from tests.scheduling.helpers import approved_tutor, sql

pytestmark = pytest.mark.browser


def _login(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**notice=logged_in")


def _leg(client: TestClient[Any], name: str, party: str, party_id: int | None, bucket: str,
         kind: str, amount: int, days_ago: int) -> None:  # fmt: skip
    run_sql(
        client,
        "INSERT INTO ledger_entries (movement, kind, party, party_id, bucket, amount_minor,"
        " currency, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'EUR', $7)",
        name,
        kind,
        party,
        party_id,
        bucket,
        amount,
        datetime.now(UTC) - timedelta(days=days_ago),
    )


def _bars(page: Any, testid: str) -> int:
    return int(page.get_by_test_id(testid).locator("svg rect.chart-bar").count())


def test_both_dashboards_draw_their_charts(
    live_server: str, browser_page: Any, client: TestClient[Any]
) -> None:
    tutor_id, _ = approved_tutor(client)
    tutor_email = sql(client, "SELECT email FROM users WHERE id = $1", tutor_id)[0][0]
    # Money in three months: a charge two months ago, one now, and a refund now.
    for n, (days, amount) in enumerate([(62, 4500), (0, 3000)]):
        _leg(client, f"charge:t{n}", "student", 99, "card", "charge", -amount, days)
        _leg(
            client, f"charge:t{n}", "tutor", tutor_id, "pending", "charge", amount * 85 // 100, days
        )
        _leg(client, f"charge:t{n}", "platform", None, "fees", "fee", amount * 15 // 100, days)
    _leg(client, "refund:t", "student", 99, "card", "refund", 1000, 0)
    _leg(client, "refund:t", "tutor", tutor_id, "pending", "refund", -850, 0)
    _leg(client, "refund:t", "platform", None, "fees", "refund", -150, 0)

    page = browser_page
    _login(page, live_server, tutor_email)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Dashboard", exact=True
    ).click()
    page.wait_for_url("**/tutor/dashboard")
    assert page.locator("main svg.chart").count() == 3
    assert _bars(page, "chart-earnings") == 12 and _bars(page, "chart-lessons") == 12
    assert page.get_by_test_id("earned-total").inner_text() == "€55.25"  # 38.25 + 25.50 - 8.50
    assert page.locator("svg.chart title").first.text_content() == "Earnings by month"
    table = page.get_by_test_id("chart-earnings").locator("details")
    table.locator("summary").click()
    assert table.locator("tbody tr").count() == 12
    script = axe_script()
    assert serious_violations(page, script) == []

    page.context.clear_cookies()
    admin = register(client, "student")
    make_admin(client, admin["id"])
    _login(page, live_server, admin["email"])
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Marketplace dashboard"
    ).click()
    page.wait_for_url("**/admin/dashboard")
    assert page.locator("main svg.chart").count() == 6
    for chart in ("chart-bookings", "chart-gross", "chart-take", "chart-refunds", "chart-tutors"):
        assert _bars(page, chart) == 12, chart
    assert page.get_by_test_id("chart-refunds").locator("rect.chart-bar.negative").count() == 1
    assert page.get_by_test_id("gross-total").inner_text() == "€75"
    assert page.get_by_test_id("refunds-total").inner_text() == "-€10"
    assert page.get_by_test_id("tutors-total").inner_text() == "1"
    # The bars are coloured by duet.css, so the stylesheet reached them.
    fill = page.locator("rect.chart-bar").first.evaluate("e => getComputedStyle(e).fill")
    assert fill not in ("", "none", "rgb(0, 0, 0)")
    assert serious_violations(page, script) == []
