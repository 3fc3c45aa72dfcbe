"""Writing, editing, replying to and listing reviews through the JSON API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from tests.helpers import account
from tests.reviews.helpers import Lesson, completed_lesson, review, tutor
from tests.scheduling.helpers import book, local_slot, sql, student


def test_the_student_reviews_a_completed_lesson_and_it_is_public(
    client: TestClient[Any],
) -> None:
    lesson = completed_lesson(client)
    created = review(
        client,
        lesson,
        4,
        "  Patient and clear.\r\nWe worked on scales.  ",
        teaching=5,
        punctuality=3,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["rating"] == 4 and body["text"] == "Patient and clear.\nWe worked on scales."
    assert body["sub_ratings"] == {"teaching": 5, "communication": None, "punctuality": 3}
    assert body["verified_lesson"] is True and body["booking_id"] == lesson.booking_id
    assert body["editable_until"] is not None and body["reply"] is None
    assert body["author"].endswith(".") and body["status"] == "published"

    public = client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews").json()
    assert public["total"] == 1 and public["pages"] == 1
    shown = public["reviews"][0]
    assert shown["id"] == body["id"] and shown["booking_id"] is None  # not for strangers
    assert shown["editable_until"] is None
    summary = public["summary"]
    assert summary["count"] == 1 and summary["average"] == 4.0
    assert summary["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert summary["sub_ratings"]["teaching"] == {"average": 5.0, "count": 1}
    assert summary["sub_ratings"]["communication"] == {"average": None, "count": 0}
    assert summary["ranking_score"] == round((10 * 4.0 + 4) / 11, 4)

    mine = client.get(f"/api/v1/lessons/{lesson.booking_id}/review", headers=lesson.student)
    assert mine.status_code == 200 and mine.json()["id"] == body["id"]
    theirs = client.get(f"/api/v1/lessons/{lesson.booking_id}/review", headers=lesson.tutor.headers)
    assert theirs.status_code == 200
    stranger = client.get(f"/api/v1/lessons/{lesson.booking_id}/review", headers=student(client)[1])
    assert stranger.status_code == 404
    notes = client.get("/api/v1/me/notifications", headers=lesson.tutor.headers).json()
    assert "review.new" in [n["kind"] for n in notes["items"]]


def test_only_the_lessons_student_may_review_it(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    stranger_id, stranger = student(client)
    other = review(client, Lesson(lesson.booking_id, lesson.tutor, stranger_id, stranger))
    assert other.status_code == 403 and other.json()["code"] == "not_your_lesson"
    as_tutor = client.post(
        f"/api/v1/lessons/{lesson.booking_id}/review",
        json={"rating": 5},
        headers=lesson.tutor.headers,
    )
    assert as_tutor.status_code == 403 and as_tutor.json()["code"] == "student_only"
    as_admin = client.post(
        f"/api/v1/lessons/{lesson.booking_id}/review",
        json={"rating": 5},
        headers=account(client, "admin"),
    )
    assert as_admin.status_code == 403
    anonymous = client.post(f"/api/v1/lessons/{lesson.booking_id}/review", json={"rating": 5})
    assert anonymous.status_code == 401
    missing = client.post(
        "/api/v1/lessons/999999/review", json={"rating": 5}, headers=lesson.student
    )
    assert missing.status_code == 404 and missing.json()["code"] == "booking_not_found"
    assert client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews").json()["total"] == 0


def test_a_lesson_that_is_not_completed_cannot_be_reviewed(client: TestClient[Any]) -> None:
    teacher = tutor(client)
    _, me = student(client)
    held = book(client, me, teacher.id, local_slot("Europe/Berlin", 5, 10)).json()
    refused = client.post(f"/api/v1/lessons/{held['id']}/review", json={"rating": 5}, headers=me)
    assert refused.status_code == 409
    assert refused.json()["code"] == "lesson_not_completed"
    assert refused.json()["fields"] == {"status": "held"}


def test_the_review_window_closes(client: TestClient[Any]) -> None:
    late = completed_lesson(client, ended_ago=timedelta(days=14, minutes=5))
    refused = review(client, late)
    assert refused.status_code == 409 and refused.json()["code"] == "review_window_closed"
    just_in_time = completed_lesson(client, late.tutor, ended_ago=timedelta(days=13, hours=23))
    assert review(client, just_in_time).status_code == 201


def test_a_settled_lesson_can_still_be_reviewed(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client, ended_ago=timedelta(days=4))
    settled = client.post(
        f"/api/v1/bookings/{lesson.booking_id}/events",
        json={"event": "settle"},
        headers=account(client, "admin"),
    )
    assert settled.status_code == 200 and settled.json()["status"] == "settled"
    assert review(client, lesson).status_code == 201


def test_a_second_review_of_the_same_lesson_is_refused(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    assert review(client, lesson, 5).status_code == 201
    again = review(client, lesson, 1)
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    assert client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews").json()["summary"]["count"] == 1


def test_bad_input_is_a_422_naming_the_field(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    for rating in (0, 6, -1):
        response = review(client, lesson, rating)
        assert response.status_code == 422 and "rating" in response.json()["fields"]
    wrong_type = review(client, lesson, "five")  # type: ignore[arg-type]
    assert wrong_type.status_code == 422 and "rating" in wrong_type.json()["fields"]
    too_long = review(client, lesson, 5, "x" * 2001)
    assert too_long.status_code == 422 and "2000" in too_long.json()["fields"]["text"]
    sub = review(client, lesson, 5, teaching=9)
    assert sub.status_code == 422 and set(sub.json()["fields"]) == {"teaching"}
    unknown = review(client, lesson, 5, stars=5)
    assert unknown.status_code == 422 and "stars" in unknown.json()["fields"]
    assert review(client, lesson, 5, "y" * 2000).status_code == 201  # the limit itself is fine


def test_the_author_edits_within_48_hours_only(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 2, "Meh").json()["id"]
    edited = client.put(
        f"/api/v1/reviews/{review_id}",
        json={"rating": 5, "text": "Second lesson changed my mind"},
        headers=lesson.student,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["rating"] == 5 and edited.json()["edited_at"] is not None
    summary = client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews").json()["summary"]
    assert summary["average"] == 5.0 and summary["distribution"]["2"] == 0
    other = client.put(
        f"/api/v1/reviews/{review_id}", json={"rating": 1}, headers=student(client)[1]
    )
    assert other.status_code == 403 and other.json()["code"] == "not_your_review"
    bad = client.put(f"/api/v1/reviews/{review_id}", json={"rating": 7}, headers=lesson.student)
    assert bad.status_code == 422
    sql(
        client,
        "UPDATE reviews SET created_at = now() - interval '48 hours 1 minute' WHERE id = $1",
        review_id,
    )
    late = client.put(f"/api/v1/reviews/{review_id}", json={"rating": 1}, headers=lesson.student)
    assert late.status_code == 409 and late.json()["code"] == "edit_window_closed"
    shown = client.get(f"/api/v1/reviews/{review_id}", headers=lesson.student).json()
    assert shown["rating"] == 5 and shown["editable_until"] is None


def test_the_tutor_replies_once_publicly(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 3, "Fine").json()["id"]
    waiting = client.get(
        "/api/v1/tutors/me/reviews?awaiting_reply=true", headers=lesson.tutor.headers
    )
    assert [r["id"] for r in waiting.json()] == [review_id]
    empty = client.post(
        f"/api/v1/reviews/{review_id}/reply", json={"text": "   "}, headers=lesson.tutor.headers
    )
    assert empty.status_code == 422 and "text" in empty.json()["fields"]
    someone_else = client.post(
        f"/api/v1/reviews/{review_id}/reply", json={"text": "Hi"}, headers=tutor(client).headers
    )
    assert someone_else.status_code == 403 and someone_else.json()["code"] == "not_your_review"
    as_student = client.post(
        f"/api/v1/reviews/{review_id}/reply", json={"text": "Hi"}, headers=lesson.student
    )
    assert as_student.status_code == 403 and as_student.json()["code"] == "tutor_only"
    replied = client.post(
        f"/api/v1/reviews/{review_id}/reply",
        json={"text": "Thanks, see you next week!"},
        headers=lesson.tutor.headers,
    )
    assert replied.status_code == 201
    assert replied.json()["reply"]["text"] == "Thanks, see you next week!"
    again = client.post(
        f"/api/v1/reviews/{review_id}/reply", json={"text": "Also"}, headers=lesson.tutor.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "already_replied"
    public = client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews").json()["reviews"][0]
    assert public["reply"]["text"] == "Thanks, see you next week!"
    waiting = client.get(
        "/api/v1/tutors/me/reviews?awaiting_reply=true", headers=lesson.tutor.headers
    )
    assert waiting.json() == []
    notes = client.get("/api/v1/me/notifications", headers=lesson.student).json()
    assert "review.reply" in [n["kind"] for n in notes["items"]]


def test_sorting_and_pagination(client: TestClient[Any]) -> None:
    teacher = tutor(client)
    admin = account(client, "admin")
    ids = {}
    for stars in (3, 5, 1, 4, 2):
        lesson = completed_lesson(client, teacher, admin=admin)
        ids[stars] = review(client, lesson, stars).json()["id"]
    base = f"/api/v1/tutors/{teacher.id}/reviews"

    def ratings(query: str) -> list[int]:
        return [r["rating"] for r in client.get(base + query).json()["reviews"]]

    assert ratings("") == [2, 4, 1, 5, 3]  # newest first
    assert ratings("?sort=highest") == [5, 4, 3, 2, 1]
    assert ratings("?sort=lowest") == [1, 2, 3, 4, 5]
    first = client.get(base + "?sort=highest&per_page=2").json()
    assert first["pages"] == 3 and first["total"] == 5 and first["page"] == 1
    assert ratings("?sort=highest&per_page=2&page=3") == [1]
    past = client.get(base + "?page=4&per_page=2")
    assert past.status_code == 422 and "page" in past.json()["fields"]
    assert client.get(base + "?sort=best").status_code == 422
    assert client.get(base + "?per_page=51").status_code == 422
    summary = client.get(base).json()["summary"]
    assert summary["distribution"] == {str(n): 1 for n in range(1, 6)}
    assert summary["average"] == 3.0 and summary["count"] == 5
    assert client.get("/api/v1/tutors/999999/reviews").status_code == 404


def test_a_suspended_tutors_reviews_are_not_listed(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review(client, lesson)
    suspended = client.post(
        f"/api/v1/admin/tutors/{lesson.tutor.id}/moderation",
        json={"action": "suspend", "reason": "Testing suspension"},
        headers=account(client, "admin"),
    )
    assert suspended.status_code == 200
    gone = client.get(f"/api/v1/tutors/{lesson.tutor.id}/reviews")
    assert gone.status_code == 404 and gone.json()["code"] == "tutor_not_found"


def test_review_text_is_escaped_on_pages(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review(client, lesson, 5, "<script>alert(1)</script> **bold**")
    html = client.get(f"/tutors/{lesson.tutor.id}").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold**" in html
