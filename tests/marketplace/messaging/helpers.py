"""A tutor and a student who can talk, and small API helpers."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.scheduling.helpers import approved_tutor, student


def pair(client: TestClient[Any]) -> tuple[int, dict[str, str], int, dict[str, str]]:
    """(tutor_id, tutor headers, student_id, student headers) for a public tutor."""
    tutor_id, tutor = approved_tutor(client)
    student_id, student_headers = student(client)
    return tutor_id, tutor, student_id, student_headers


def start(
    client: TestClient[Any], headers: dict[str, str], to: int, body: str = "Hello!", **extra: Any
) -> Any:
    return client.post(
        "/api/v1/conversations", json={"user_id": to, "body": body, **extra}, headers=headers
    )


def conversation(client: TestClient[Any]) -> tuple[int, int, dict[str, str], int, dict[str, str]]:
    """A conversation the student started: (conversation_id, tutor_id, tutor, student_id,
    student)."""
    tutor_id, tutor, student_id, student_headers = pair(client)
    response = start(client, student_headers, tutor_id, "Do you teach adults who read no music?")
    assert response.status_code == 201, response.text
    return response.json()["conversation"]["id"], tutor_id, tutor, student_id, student_headers


def send(
    client: TestClient[Any], headers: dict[str, str], conversation_id: int, body: str, **extra: Any
) -> Any:
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": body, **extra},
        headers=headers,
    )


__all__ = ["account", "conversation", "pair", "send", "start"]
