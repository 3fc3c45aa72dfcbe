"""Helpers for lessons tests: a tutor with a course, students, quick question definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from tests.helpers import COMPLETE_PROFILE, account, login, register

COURSE = {
    "title": "Blues guitar in twelve bars",
    "instrument": "electric-guitar",
    "level": "beginner",
    "language": "en",
    "summary": "Shuffle rhythm, the minor pentatonic and your first solo.",
    "description": "We start with the **shuffle** and end with a solo.",
    "price_minor": 0,
}


def user(client: TestClient[Any], role: str) -> tuple[int, dict[str, str]]:
    """A new account; a tutor's profile is approved, so their courses can be published."""
    u = register(client, role)
    headers = login(client, u["email"])
    if role == "tutor":
        profile = {**COMPLETE_PROFILE, "formats": ["online"]}
        assert client.put("/api/v1/tutors/me/profile", json=profile, headers=headers).is_success
        assert client.post("/api/v1/tutors/me/submit", headers=headers).is_success
        approved = client.post(
            f"/api/v1/admin/tutors/{u['id']}/moderation",
            json={"action": "approve"},
            headers=account(client, "admin"),
        )
        assert approved.status_code == 200, approved.text
    return u["id"], headers


def course(client: TestClient[Any], tutor: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/tutor/courses", json={**COURSE, **overrides}, headers=tutor)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def module(client: TestClient[Any], tutor: dict[str, str], course_id: int, title: str) -> int:
    r = client.post(
        f"/api/v1/tutor/courses/{course_id}/modules", json={"title": title}, headers=tutor
    )
    assert r.status_code == 201, r.text
    return int(r.json()["modules"][-1]["id"])


def item(
    client: TestClient[Any],
    tutor: dict[str, str],
    course_id: int,
    module_id: int,
    kind: str,
    title: str,
    **extra: Any,
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/tutor/courses/{course_id}/items",
        json={"kind": kind, "title": title, "module_id": module_id, **extra},
        headers=tutor,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def question(
    client: TestClient[Any], tutor: dict[str, str], course_id: int, quiz_id: int, **q: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/tutor/courses/{course_id}/quizzes/{quiz_id}/questions", json=q, headers=tutor
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def quiz_settings(
    client: TestClient[Any], tutor: dict[str, str], course_id: int, quiz_id: int, **s: Any
) -> dict[str, Any]:
    r = client.put(f"/api/v1/tutor/courses/{course_id}/quizzes/{quiz_id}", json=s, headers=tutor)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


SINGLE = {
    "kind": "single",
    "prompt": "Which scale is the blues built on?",
    "options": [
        {"text": "Minor pentatonic", "correct": True, "feedback": "Yes, plus the blue note."},
        {"text": "Lydian", "feedback": "Bright, but not bluesy."},
        {"text": "Whole tone"},
    ],
}
NUMERIC = {
    "kind": "numeric",
    "prompt": "How many bars in a standard blues?",
    "value": 12,
    "tolerance": 0,
}


def published_course(
    client: TestClient[Any], tutor: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    """A published course: one text item and one quiz (single choice + numeric)."""
    c = course(client, tutor, **overrides)
    m = module(client, tutor, c["id"], "The shuffle")
    text = item(client, tutor, c["id"], m, "text", "Feel the shuffle", body="Swing the eighths.")
    quiz = item(client, tutor, c["id"], m, "quiz", "Check yourself")
    question(client, tutor, c["id"], quiz["quiz_id"], **SINGLE)
    question(client, tutor, c["id"], quiz["quiz_id"], **NUMERIC)
    r = client.post(f"/api/v1/tutor/courses/{c['id']}/publish", headers=tutor)
    assert r.status_code == 200, r.text
    return {"course": r.json(), "text": text, "quiz": quiz}


def finish_course(client: TestClient[Any], student: dict[str, str], built: dict[str, Any]) -> Any:
    """Complete the course of ``published_course`` (the text, then pass the quiz)."""
    cid = built["course"]["id"]
    done = client.post(
        f"/api/v1/courses/{cid}/items/{built['text']['id']}/progress",
        json={"completed": True},
        headers=student,
    )
    assert done.status_code == 200, done.text
    assert done.json()["progress_percent"] == 50 and done.json()["certificate_code"] is None
    a = client.post(f"/api/v1/quizzes/{built['quiz']['quiz_id']}/attempts", headers=student).json()
    answers = {}
    for q in a["questions"]:
        if q["kind"] == "single":
            answers[str(q["id"])] = next(
                c["id"] for c in q["choices"] if c["text"] == "Minor pentatonic"
            )
        else:
            answers[str(q["id"])] = "12"
    r = client.post(
        f"/api/v1/quiz-attempts/{a['id']}/submit", json={"answers": answers}, headers=student
    )
    assert r.status_code == 200 and r.json()["passed"], r.text
    return r


def stored_path(root: Path, url: str) -> Path:
    """The file behind a media URL, public (``/media/<key>``) or signed
    (``/media/private/<expires>/<signature>/<key>``)."""
    if url.startswith("/media/private/"):
        key = url.removeprefix("/media/private/").split("/", 2)[2]
    else:
        key = url.removeprefix("/media/")
    return root / key
