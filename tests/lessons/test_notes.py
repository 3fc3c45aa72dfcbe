"""Lesson notes: only the lesson's tutor and student, each in their own role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account, fetch_sql, login, register
from tests.lessons import media
from tests.media_factory import png
from tests.scheduling.helpers import approved_tutor, book, local_slot


def _lesson(client: TestClient[Any], days: int = 2) -> tuple[int, dict[str, str], dict[str, str]]:
    tutor_id, tutor = approved_tutor(client)
    student_user = register(client, "student")
    student = login(client, student_user["email"])
    r = book(client, student, tutor_id, local_slot("Europe/Berlin", days, 10))
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), tutor, student


def test_notes_homework_practice_and_files(client: TestClient[Any]) -> None:
    booking, tutor, student = _lesson(client)
    base = f"/api/v1/bookings/{booking}"
    saved = client.put(f"{base}/notes", json={"body": "Worked on **barre chords**."}, headers=tutor)
    assert saved.status_code == 200
    assert "<strong>barre chords</strong>" in saved.json()["lesson"]["notes_html"]
    assert client.put(f"{base}/notes", json={"body": "mine"}, headers=student).status_code == 403
    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    hw = client.post(
        f"{base}/homework",
        json={"title": "F major barre, 5 min a day", "due_on": due},
        headers=tutor,
    )
    assert hw.status_code == 201
    homework_id = hw.json()["lesson"]["homework"][0]["id"]
    assert client.post(f"{base}/homework", json={"title": "x"}, headers=student).status_code == 403
    done = client.post(f"/api/v1/homework/{homework_id}/done", json={"done": True}, headers=student)
    assert done.status_code == 200 and done.json()["done"] is True
    today = datetime.now(UTC).date().isoformat()
    logged = client.post(
        f"{base}/practice",
        json={"practiced_on": today, "minutes": 25, "pieces": "Wonderwall"},
        headers=student,
    )
    assert logged.status_code == 201
    assert (
        client.post(
            f"{base}/practice", json={"practiced_on": today, "minutes": 25}, headers=tutor
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{base}/practice", json={"practiced_on": today, "minutes": 0}, headers=student
        ).status_code
        == 422
    )
    sheet = client.post(
        f"{base}/files",
        files={"file": ("scale.pdf", media.pdf(), "application/pdf")},
        headers=tutor,
    )
    assert sheet.status_code == 201, sheet.text
    photo = client.post(
        f"{base}/files", files={"file": ("hand.png", png(), "image/png")}, headers=student
    )
    assert photo.status_code == 201
    for name, data, declared in [
        ("virus.exe", b"MZ\x90\x00" * 100, "application/octet-stream"),
        ("fake.pdf", png(), "application/pdf"),
        ("empty.pdf", b"", "application/pdf"),
    ]:
        r = client.post(f"{base}/files", files={"file": (name, data, declared)}, headers=student)
        assert r.status_code == 422, (name, r.text)
    view = client.get(f"{base}/notes", headers=student).json()
    assert view["role"] == "student" and view["minutes_7_days"] == 25
    assert [f["filename"] for f in view["lesson"]["files"]] == ["scale.pdf", "hand.png"]
    download = client.get(view["lesson"]["files"][0]["url"], headers=student)
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")


def test_only_the_pair_sees_the_notes(client: TestClient[Any]) -> None:
    booking, tutor, _ = _lesson(client)
    client.put(f"/api/v1/bookings/{booking}/notes", json={"body": "private"}, headers=tutor)
    files = client.post(
        f"/api/v1/bookings/{booking}/files",
        files={"file": ("s.pdf", media.pdf(), "application/pdf")},
        headers=tutor,
    ).json()
    strangers = [account(client, "student"), account(client, "tutor"), account(client, "admin")]
    for who in strangers:
        for method, path, body in [
            ("GET", f"/api/v1/bookings/{booking}/notes", None),
            ("PUT", f"/api/v1/bookings/{booking}/notes", {"body": "x"}),
            (
                "POST",
                f"/api/v1/bookings/{booking}/practice",
                {"practiced_on": "2026-01-01", "minutes": 5},
            ),
            ("GET", files["url"], None),
            ("GET", f"/lessons/{booking}/notes", None),
        ]:
            r = client.request(method, path, json=body, headers=who)
            assert r.status_code == 404, (method, path, r.status_code)
    # The stored file is not reachable at /media either, by anyone.
    (stored,) = fetch_sql(client, "SELECT key FROM lesson_files WHERE booking_id = $1", booking)
    assert stored["key"].startswith("lesson-files/")
    assert client.get(f"/media/{stored['key']}").status_code == 404
    assert client.get(f"/media/{stored['key']}", headers=tutor).status_code == 404
    assert client.get(f"/api/v1/bookings/{booking}/notes").status_code == 401


def test_history_spans_the_pairs_lessons(client: TestClient[Any]) -> None:
    tutor_id, tutor = approved_tutor(client)
    student_user = register(client, "student")
    student = login(client, student_user["email"])
    ids = []
    for days in (2, 4):
        r = book(client, student, tutor_id, local_slot("Europe/Berlin", days, 10))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    client.put(f"/api/v1/bookings/{ids[0]}/notes", json={"body": "First lesson"}, headers=tutor)
    view = client.get(f"/api/v1/bookings/{ids[1]}/notes", headers=student).json()
    assert [h["booking_id"] for h in view["history"]] == [ids[1], ids[0]]
    assert "First lesson" in view["history"][1]["notes_html"]
    page = client.get(f"/lessons/{ids[1]}/notes", headers=student)
    assert page.status_code == 200 and "First lesson" in page.text
    lesson = client.get(f"/lessons/{ids[1]}", headers=student)
    assert f'href="/lessons/{ids[1]}/notes"' in lesson.text
