"""50 students click the same slot at the same moment: PostgreSQL lets exactly one hold it."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from marketplace import db
from marketplace.accounts import service as accounts
from marketplace.accounts.models import Role, TokenKind, User
from marketplace.accounts.passwords import hash_password
from tests.helpers import run_async
from tests.scheduling.helpers import approved_tutor, iso, local_slot, sql

pytestmark = pytest.mark.slow
CLIENTS = 50


async def _students(url: str, count: int) -> list[str]:
    """Students with API tokens, made directly (50 password hashes would take seconds)."""
    engine = db.create_engine(url, pool_size=1)
    password = hash_password("correct horse battery")
    try:
        async with db.create_session_factory(engine)() as session, session.begin():
            tokens = []
            for i in range(count):
                user = User(
                    email=f"racer{i}@example.com",
                    password_hash=password,
                    full_name=f"Racer {i}",
                    time_zone="Europe/Lisbon",
                    roles=[Role.STUDENT.value],
                )
                session.add(user)
                await session.flush()
                issued = await accounts.issue_token(
                    session, user, TokenKind.API, lifetime=timedelta(hours=1)
                )
                tokens.append(issued.secret)
            return tokens
    finally:
        await engine.dispose()


async def _race(
    base: str, tokens: list[str], body: dict[str, Any]
) -> list[tuple[int, str, float, float]]:
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def one(token: str) -> tuple[int, str, float, float]:
            await start.wait()
            sent = time.monotonic()
            response = await http.post(
                "/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            return (
                response.status_code,
                response.json()["code"] if response.status_code != 201 else "",
                sent,
                time.monotonic(),
            )

        tasks = [asyncio.create_task(one(t)) for t in tokens]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


def test_fifty_concurrent_requests_one_hold(
    client: TestClient[Any], live_api: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduling.service")
    tutor_id, _ = approved_tutor(client)
    tokens = run_async(_students(database_url, CLIENTS))
    body = {
        "tutor_id": tutor_id,
        "starts_at": iso(local_slot("Europe/Berlin", 3, 10)),
        "duration_minutes": 60,
    }
    results = run_async(_race(live_api, tokens, body))
    statuses = sorted(status for status, *_ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == CLIENTS - 1
    assert {code for status, code, *_ in results if status == 409} == {"slot_taken"}
    # Real concurrency: many requests were in flight at the same instant.
    events = sorted([(sent, 1) for _, _, sent, _ in results] + [(done, -1) for *_, done in results])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    assert peak >= 10, peak
    rows = sql(client, "SELECT count(*) AS n FROM bookings WHERE tutor_id = $1", tutor_id)
    assert rows[0]["n"] == 1
    by_constraint = sum("exclusion constraint" in r.getMessage() for r in caplog.records)
    print(f"peak in flight {peak}; {by_constraint} of {CLIENTS - 1} refused by the constraint")
