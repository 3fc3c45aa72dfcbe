"""Monthly figures of the dashboards, on real bookings and payments and on placed ledger rows;
who may see which dashboard."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from litestar.testing import TestClient

from dashboards.figures import Months, marketplace_figures, tutor_figures
from marketplace import db
from payouts.ledger import fee_kept
from search.counts import count_search
from tests.helpers import account, fetch_sql, login, register, run_async, run_sql
from tests.payouts.flow import FEE, PRICE, SHARE, Env, deliver, paid_booking

CURRENCY = "EUR"


def _bars(html: str, testid: str) -> int:
    section = html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]
    return len(re.findall(r'<rect class="chart-bar', section))


def _figures(env: Env, tutor_id: int) -> tuple[Any, Any]:
    async def read() -> tuple[Any, Any]:
        months = Months.ending(datetime.now(UTC).date())
        engine = db.create_engine(env.services.settings.database.url, pooled=False)
        try:
            async with db.create_session_factory(engine)() as session:
                return (
                    await marketplace_figures(session, CURRENCY, months),
                    await tutor_figures(session, tutor_id, CURRENCY, months),
                )
        finally:
            await engine.dispose()

    return run_async(read())


def test_a_paid_lesson_and_a_refund_in_this_months_figures(demo_env: Env) -> None:
    env = demo_env
    _, payment, tutor_id, tutor, _ = paid_booking(env)
    admin = account(env.client, "admin")
    refund = env.client.post(
        f"/api/v1/admin/payments/{payment['id']}/refunds",
        json={"amount_minor": 1000, "reason": "Sound problems for 10 minutes"},
        headers=admin,
    )
    assert refund.status_code == 201, refund.text
    deliver(env)

    market, mine = _figures(env, tutor_id)
    kept = fee_kept(PRICE, FEE, 1000)
    assert market.bookings[-1] == 1 and sum(market.bookings) == 1
    assert market.gross_minor[-1] == PRICE
    assert market.take_minor[-1] == kept
    assert market.refunds_minor[-1] == -1000
    assert market.tutors_approved[-1] == 1  # approved_tutor's approval, once
    # The tutor's share, less their part of the refund (the fee's part stays with the platform).
    assert mine.earnings_minor[-1] == SHARE - (1000 - (FEE - kept))
    assert sum(mine.earnings_minor[:-1]) == 0 and mine.lessons == [0] * 12

    # The pages show the same, formatted by money.py, with a bar per month.
    env.client.cookies.clear()
    admin_page = env.client.get("/admin/dashboard", headers=admin)
    assert admin_page.status_code == 200
    html = admin_page.text
    for chart in ("chart-bookings", "chart-gross", "chart-take", "chart-refunds", "chart-tutors"):
        assert _bars(html, chart) == 12, chart
    assert "€45" in html and "-€10" in html
    assert "negative" in html.split('data-testid="chart-refunds"', 1)[1].split("</section>")[0]
    tutor_page = env.client.get("/tutor/dashboard", headers=tutor)
    assert tutor_page.status_code == 200
    assert _bars(tutor_page.text, "chart-earnings") == 12
    assert _bars(tutor_page.text, "chart-lessons") == 12


def _ledger(
    client: TestClient[Any], at: str, party: str, bucket: str, kind: str, amount: int
) -> None:
    # Placed rows: the ledger is append-only and takes its time from the database, so months
    # in the past can only be written as inserts with a chosen time.
    run_sql(
        client,
        "INSERT INTO ledger_entries (movement, kind, party, party_id, bucket, amount_minor,"
        " currency, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)",
        f"test:{at}:{party}:{bucket}",
        kind,
        party,
        None if party == "platform" else 1,
        bucket,
        amount,
        CURRENCY,
        datetime.fromisoformat(at),
    )


def _tutor_with_profile(client: TestClient[Any]) -> int:
    user = register(client, "tutor")
    opened = client.get("/api/v1/tutors/me/profile", headers=login(client, user["email"]))
    assert opened.status_code == 200, opened.text  # a draft profile, made on first opening
    return int(user["id"])


def test_months_are_utc_calendar_months_and_the_window_is_bounded(
    client: TestClient[Any], database_url: str
) -> None:
    months = Months.ending(date(2026, 6, 15))
    assert months.start == date(2025, 7, 1) and months.end == date(2026, 7, 1)
    assert months.labels[0] == "July 2025" and months.labels[-1] == "June 2026"
    assert months.axis_labels[:2] == ["Jul\n2025", "Aug"] and months.axis_labels[6] == "Jan\n2026"
    for at, amount in [
        ("2025-06-30T23:59:00+00:00", 111),  # the month before the window
        ("2025-07-01T00:00:00+00:00", 200),  # the first instant inside
        ("2026-03-31T23:30:00+00:00", 300),  # March in UTC (already April in Berlin)
        ("2026-04-01T00:10:00+00:00", 400),
        ("2026-07-01T00:00:00+00:00", 999),  # after the window
    ]:
        _ledger(client, at, "platform", "fees", "fee", amount)
    _ledger(client, "2026-04-02T10:00:00+00:00", "platform", "fees", "refund", -50)
    _ledger(client, "2026-04-02T10:00:00+00:00", "student", "card", "refund", 330)

    # First approvals only: a tutor approved again after a suspension is not new.
    tutor, other = _tutor_with_profile(client), _tutor_with_profile(client)
    for tutor_id, action, at in [
        (tutor, "approve", "2026-01-10T12:00:00+00:00"),
        (tutor, "suspend", "2026-02-01T12:00:00+00:00"),
        (tutor, "approve", "2026-03-01T12:00:00+00:00"),
        (other, "reject", "2026-03-02T12:00:00+00:00"),
        (other, "approve", "2026-03-20T12:00:00+00:00"),
    ]:
        run_sql(
            client,
            "INSERT INTO moderation_decisions (tutor_id, action, reason, created_at)"
            " VALUES ($1, $2, 'test', $3::timestamptz)",
            tutor_id,
            action,
            datetime.fromisoformat(at),
        )

    async def read() -> Any:
        engine = db.create_engine(database_url, pooled=False)
        sessions = db.create_session_factory(engine)
        try:
            for _ in range(4):
                await count_search(sessions, date(2026, 4, 3))
            await count_search(sessions, date(2026, 3, 31))
            async with sessions() as session:
                return await marketplace_figures(session, CURRENCY, months)
        finally:
            await engine.dispose()

    figures = run_async(read())
    by_label = dict(zip(months.labels, figures.take_minor, strict=True))
    assert by_label["July 2025"] == 200
    assert by_label["March 2026"] == 300 and by_label["April 2026"] == 400 - 50
    assert sum(figures.take_minor) == 200 + 300 + 350  # 111 and 999 are outside
    assert dict(zip(months.labels, figures.refunds_minor, strict=True))["April 2026"] == -330
    assert sum(figures.bookings) == 0  # no booking item behind these rows
    approved = dict(zip(months.labels, figures.tutors_approved, strict=True))
    assert (
        approved["January 2026"] == 1
        and approved["March 2026"] == 1
        and sum(approved.values()) == 2
    )
    searches = dict(zip(months.labels, figures.searches, strict=True))
    assert searches["April 2026"] == 4 and searches["March 2026"] == 1
    conversion = dict(zip(months.labels, figures.conversion_percent, strict=True))
    assert conversion["April 2026"] == 0.0 and conversion["May 2026"] is None


def test_opening_the_search_page_counts_one_search(client: TestClient[Any]) -> None:
    def total() -> int:
        rows = fetch_sql(client, "SELECT coalesce(sum(searches), 0) AS n FROM search_daily_counts")
        return int(rows[0]["n"])

    assert client.get("/search?q=guitar").status_code == 200
    assert client.get("/search").status_code == 200
    assert total() == 2
    assert client.get("/search?q=guitar&page=2").status_code == 200  # the same search, paged
    assert client.get("/api/v1/tutors/search?q=guitar").status_code == 200  # typing refines it
    assert total() == 2


def test_each_dashboard_is_for_its_role_only(client: TestClient[Any]) -> None:
    student = account(client, "student")
    tutor = account(client, "tutor")
    admin = account(client, "admin")
    assert client.get("/tutor/dashboard", headers=student).status_code == 403
    assert client.get("/tutor/dashboard", headers=admin).status_code == 403
    assert client.get("/admin/dashboard", headers=student).status_code == 403
    assert client.get("/admin/dashboard", headers=tutor).status_code == 403
    anonymous = client.get("/admin/dashboard", follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    assert client.get("/tutor/dashboard", headers=tutor).status_code == 200
    assert client.get("/admin/dashboard", headers=admin).status_code == 200


def test_a_tutor_sees_only_their_own_figures(demo_env: Env) -> None:
    env = demo_env
    paid_booking(env)  # someone else's lesson
    other = register(env.client, "tutor")
    headers = login(env.client, other["email"])
    page = env.client.get("/tutor/dashboard", headers=headers)
    assert page.status_code == 200
    earned = page.text.split('data-testid="earned-total">', 1)[1].split("<", 1)[0]
    assert earned == "€0"
    assert 'data-testid="lessons-total">0<' in page.text
    # Nothing in the request chooses whose figures: extra parameters change nothing.
    again = env.client.get(f"/tutor/dashboard?tutor_id=1&user={other['id'] - 1}", headers=headers)
    assert again.status_code == 200
    assert again.text.split('data-testid="earned-total">', 1)[1].startswith("€0<")
