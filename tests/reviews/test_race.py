"""Real concurrent requests over a real server and PostgreSQL: one review per lesson, one reply
per review, and aggregates that count every review however the writes interleave."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from tests.helpers import account, run_async
from tests.reviews.helpers import completed_lesson, review, tutor
from tests.scheduling.helpers import sql

pytestmark = pytest.mark.slow
CLIENTS = 24


async def _burst(
    base: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[tuple[int, str, float, float]]:
    """Send every (path, body, headers) at the same instant; (status, code, sent, done)."""
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def one(path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
            await start.wait()
            sent = time.monotonic()
            response = await http.post(path, json=body, headers=headers)
            code = response.json().get("code", "") if response.status_code != 201 else ""
            return response.status_code, code, sent, time.monotonic()

        tasks = [asyncio.create_task(one(*r)) for r in requests]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


def _peak(results: list[tuple[int, str, float, float]]) -> int:
    events = sorted([(s, 1) for _, _, s, _ in results] + [(d, -1) for *_, d in results])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    return peak


def test_duplicate_submissions_racing_give_one_201(
    client: TestClient[Any], live_api: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reviews.service")
    lesson = completed_lesson(client)
    path = f"/api/v1/lessons/{lesson.booking_id}/review"
    bodies = [{"rating": 1 + i % 5, "text": f"attempt {i}"} for i in range(CLIENTS)]
    results = run_async(_burst(live_api, [(path, b, lesson.student) for b in bodies]))
    statuses = sorted(status for status, *_ in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == CLIENTS - 1, statuses
    assert {code for status, code, *_ in results if status == 409} == {"already_reviewed"}
    assert _peak(results) >= 8
    rows = sql(client, "SELECT count(*) AS n FROM reviews WHERE booking_id = $1", lesson.booking_id)
    assert rows[0]["n"] == 1
    stats = sql(
        client, "SELECT review_count FROM tutor_review_stats WHERE tutor_id = $1", lesson.tutor.id
    )
    assert stats[0]["review_count"] == 1
    by_constraint = sum("unique constraint" in r.getMessage() for r in caplog.records)
    print(f"peak in flight {_peak(results)}; {by_constraint} of {CLIENTS - 1} refused by it")


def test_concurrent_reviews_of_one_tutor_are_all_counted(
    client: TestClient[Any], live_api: str
) -> None:
    teacher = tutor(client)
    admin = account(client, "admin")
    lessons = [completed_lesson(client, teacher, admin=admin) for _ in range(16)]
    ratings = [1 + (i * 3) % 5 for i in range(len(lessons))]
    requests = [
        (f"/api/v1/lessons/{lesson.booking_id}/review", {"rating": stars}, lesson.student)
        for lesson, stars in zip(lessons, ratings, strict=True)
    ]
    results = run_async(_burst(live_api, requests))
    assert sorted(status for status, *_ in results) == [201] * len(lessons)
    stats = sql(
        client,
        "SELECT review_count, rating_sum, stars_1, stars_5 FROM tutor_review_stats "
        "WHERE tutor_id = $1",
        teacher.id,
    )[0]
    assert stats["review_count"] == len(lessons) and stats["rating_sum"] == sum(ratings)
    assert (stats["stars_1"], stats["stars_5"]) == (ratings.count(1), ratings.count(5))


def test_concurrent_replies_give_one_201(client: TestClient[Any], live_api: str) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 4).json()["id"]
    path = f"/api/v1/reviews/{review_id}/reply"
    requests = [(path, {"text": f"Thanks #{i}"}, lesson.tutor.headers) for i in range(12)]
    results = run_async(_burst(live_api, requests))
    statuses = sorted(status for status, *_ in results)
    assert statuses == [201] + [409] * 11, statuses
    assert {code for status, code, *_ in results if status == 409} == {"already_replied"}
