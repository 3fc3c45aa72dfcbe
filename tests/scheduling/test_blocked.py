"""A block between two people (either way round) stops bookings, not only messages."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.scheduling.helpers import approved_tutor, book, iso, local_slot, student


def test_a_blocked_pair_cannot_book(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    student_id, headers = student(client)
    start = local_slot("Europe/Berlin", 4, 11)
    assert (
        client.post("/api/v1/me/blocks", json={"user_id": tutor_id}, headers=headers).status_code
        == 204
    )
    refused = book(client, headers, tutor_id, start)
    assert refused.status_code == 403
    assert refused.json()["code"] == "blocked"
    series = client.post(
        "/api/v1/bookings/series",
        json={"tutor_id": tutor_id, "starts_at": iso(start), "duration_minutes": 60, "weeks": 3},
        headers=headers,
    )
    assert series.status_code == 403 and series.json()["code"] == "blocked"
    assert client.get("/api/v1/bookings", headers=headers).json() == []
    # Lifted by the student, then placed by the tutor: the other direction blocks too.
    assert client.delete(f"/api/v1/me/blocks/{tutor_id}", headers=headers).status_code == 204
    assert (
        client.post("/api/v1/me/blocks", json={"user_id": student_id}, headers=tutor).status_code
        == 204
    )
    assert book(client, headers, tutor_id, start).json()["code"] == "blocked"
    assert client.delete(f"/api/v1/me/blocks/{student_id}", headers=tutor).status_code == 204
    assert book(client, headers, tutor_id, start).status_code == 201
