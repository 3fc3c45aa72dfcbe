"""Helpers for scheduling tests: an approved tutor with availability, students, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import TestClient

from tests.helpers import COMPLETE_PROFILE, account, login, register
from tests.payouts.accounts import enable_payouts

ALL_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
OPEN_RULES: dict[str, Any] = {
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 0,
    "min_notice_minutes": 60,
    "booking_window_days": 60,
    "max_lessons_per_day": None,
    "slot_granularity_minutes": 30,
    "free_cancel_hours": 24,
    "late_cancel_refund_percent": 0,
}


def approved_tutor(
    client: TestClient[Any],
    *,
    time_zone: str = "Europe/Berlin",
    windows: list[tuple[str, str, str]] | None = None,
    rules: dict[str, Any] | None = None,
    payouts: bool = True,
    trial_price_minor: int | None = None,
) -> tuple[int, dict[str, str]]:
    """A public tutor (30 and 60 minute prices) open 09:00–21:00 local every day by default,
    with a payout account that may receive payouts (``payouts=False``: not bookable)."""
    user = register(client, "tutor", time_zone=time_zone)
    headers = login(client, user["email"])
    body = {**COMPLETE_PROFILE, "formats": ["online"], "trial_price_minor": trial_price_minor}
    assert client.put("/api/v1/tutors/me/profile", json=body, headers=headers).status_code == 200
    assert client.post("/api/v1/tutors/me/submit", headers=headers).status_code == 200
    admin = account(client, "admin")
    approved = client.post(
        f"/api/v1/admin/tutors/{user['id']}/moderation", json={"action": "approve"}, headers=admin
    )
    assert approved.status_code == 200, approved.text
    windows = windows if windows is not None else [(d, "09:00", "21:00") for d in ALL_DAYS]
    weekly = client.put(
        "/api/v1/tutors/me/availability/weekly",
        json={"windows": [{"weekday": d, "start": s, "end": e} for d, s, e in windows]},
        headers=headers,
    )
    assert weekly.status_code == 200, weekly.text
    put = client.put(
        "/api/v1/tutors/me/availability/rules",
        json={**OPEN_RULES, **(rules or {})},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    if payouts:
        enable_payouts(client, user["id"])
    return user["id"], headers


def student(
    client: TestClient[Any], time_zone: str = "Europe/Lisbon"
) -> tuple[int, dict[str, str]]:
    user = register(client, "student", time_zone=time_zone)
    return user["id"], login(client, user["email"])


def local_slot(zone: str, days_ahead: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in ``zone`` ``days_ahead`` days from now, as UTC."""
    from zoneinfo import ZoneInfo

    day = (datetime.now(ZoneInfo(zone)) + timedelta(days=days_ahead)).date()
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def book(
    client: TestClient[Any],
    headers: dict[str, str],
    tutor_id: int,
    starts_at: datetime,
    duration: int = 60,
    **extra_headers: str,
) -> Any:
    return client.post(
        "/api/v1/bookings",
        json={"tutor_id": tutor_id, "starts_at": iso(starts_at), "duration_minutes": duration},
        headers={**headers, **extra_headers},
    )


def sql(client: TestClient[Any], statement: str, *args: Any) -> Any:
    """Run one SQL statement against the test database (to move time, set states)."""
    import asyncpg

    from tests.helpers import run_async

    url = client.app.state.services.settings.database.url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def run() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    return run_async(run())
