"""Helpers for API tests: accounts in each role and authenticated headers."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
from litestar.testing import TestClient

PASSWORD = "correct horse battery"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh loop in a worker thread.

    Works whether or not this thread already runs an event loop (Playwright's sync API does).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


_counter = itertools.count(1)
T = TypeVar("T")


def register(client: TestClient[Any], role: str = "student", **overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    body = {
        "email": f"{role}{n}@example.com",
        "password": PASSWORD,
        "full_name": f"{role.title()} Number {n}",
        "role": role,
        "time_zone": "Europe/Lisbon",
        **overrides,
    }
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "password": body["password"]}


def login(client: TestClient[Any], email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # API tests authenticate with the bearer token only
    return {"Authorization": f"Bearer {response.json()['token']}"}


def account(client: TestClient[Any], role: str = "student") -> dict[str, str]:
    """A fresh account with ``role`` ("admin" included) and its bearer header."""
    if role == "admin":
        user = register(client, "student")
        make_admin(client, user["id"])
    else:
        user = register(client, role)
    return login(client, user["email"])


def run_sql(client: TestClient[Any], sql: str, *args: Any) -> None:
    """Execute one statement on the app's database, outside the app."""
    url = client.app.state.services.settings.database.url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def execute() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    run_async(execute())


def fetch_sql(client: TestClient[Any], sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run one query on the app's database, outside the app, and return its rows."""
    url = client.app.state.services.settings.database.url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return run_async(fetch())


def texted_code(client: TestClient[Any], number: str) -> str:
    """The confirmation code in the latest SMS queued for ``number``."""
    rows = fetch_sql(
        client, "SELECT body FROM sms_messages WHERE to_number = $1 ORDER BY id DESC", number
    )
    assert rows, f"no SMS was queued for {number}"
    match = re.search(r"\b(\d{6})\b", rows[0]["body"])
    assert match, rows[0]["body"]
    return match.group(1)


def confirm_phone(client: TestClient[Any], headers: dict[str, str], number: str) -> None:
    """Give ``number`` and confirm it with the texted code, as a user would."""
    sent = client.put("/api/v1/me/phone", json={"phone": number}, headers=headers)
    assert sent.status_code == 202, sent.text
    confirmed = client.post(
        "/api/v1/me/phone/confirm", json={"code": texted_code(client, number)}, headers=headers
    )
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"], confirmed.text


def make_admin(client: TestClient[Any], user_id: int) -> None:
    """Turn the account into an admin-only account."""
    run_sql(client, "UPDATE users SET roles = ARRAY['admin'] WHERE id = $1", user_id)


COMPLETE_PROFILE: dict[str, Any] = {
    "display_name": "Ana Sousa",
    "headline": "Fado guitarist teaching Portuguese guitar and voice",
    "bio": "I have played fado in Porto's casas for fifteen years. " * 4,
    "instruments": [{"instrument": "acoustic-guitar", "levels": ["beginner", "intermediate"]}],
    "genres": ["fado", "folk"],
    "languages": ["pt", "en"],
    "formats": ["online", "studio"],
    "city_geoname_id": None,
    "prices": [
        {"duration_minutes": 30, "price_minor": 2500},
        {"duration_minutes": 60, "price_minor": 4500},
    ],
    "trial_price_minor": 1500,
}
