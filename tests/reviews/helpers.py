"""Completed lessons for review tests: booked and confirmed through the API, moved into the past
with SQL (time cannot be waited for), then completed by the lifecycle's own transition."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.scheduling.helpers import approved_tutor, book, local_slot, sql, student

_slots = itertools.count(0)
MOVE = (
    "UPDATE bookings SET starts_at = $2, ends_at = $3, period = tstzrange($2, $3), "
    "blocked = tstzrange($2, $3) WHERE id = $1"
)


@dataclass
class Tutor:
    id: int
    headers: dict[str, str]


@dataclass
class Lesson:
    booking_id: int
    tutor: Tutor
    student_id: int
    student: dict[str, str]


def tutor(client: TestClient[Any]) -> Tutor:
    all_day = [(d, "00:00", "24:00") for d in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]]
    tutor_id, headers = approved_tutor(client, windows=all_day, rules={"min_notice_minutes": 0})
    return Tutor(tutor_id, headers)


def completed_lesson(
    client: TestClient[Any],
    teacher: Tutor | None = None,
    *,
    learner: tuple[int, dict[str, str]] | None = None,
    ended_ago: timedelta = timedelta(hours=1),
    admin: dict[str, str] | None = None,
) -> Lesson:
    """A lesson that ended ``ended_ago`` and is ``completed``."""
    teacher = teacher or tutor(client)
    student_id, headers = learner or student(client)
    n = next(_slots)
    held = book(client, headers, teacher.id, local_slot("Europe/Berlin", 2 + n // 20, n % 20 + 2))
    assert held.status_code == 201, held.text
    booking_id = held.json()["id"]
    admin = admin or account(client, "admin")
    event(client, admin, booking_id, "confirm")
    end = datetime.now(UTC) - ended_ago
    sql(client, MOVE, booking_id, end - timedelta(hours=1), end)
    event(client, admin, booking_id, "complete")
    return Lesson(booking_id, teacher, student_id, headers)


def event(client: TestClient[Any], admin: dict[str, str], booking_id: int, name: str) -> None:
    response = client.post(
        f"/api/v1/bookings/{booking_id}/events", json={"event": name}, headers=admin
    )
    assert response.status_code == 200, response.text


def review(
    client: TestClient[Any], lesson: Lesson, rating: int = 5, text: str = "", **extra: Any
) -> Any:
    return client.post(
        f"/api/v1/lessons/{lesson.booking_id}/review",
        json={"rating": rating, "text": text, **extra},
        headers=lesson.student,
    )
