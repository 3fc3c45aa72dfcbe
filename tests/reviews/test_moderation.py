"""Reports by anyone logged in; admins hide, restore or dismiss with a recorded reason; hidden
reviews leave the tutor's page, the aggregates and the search index."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from marketplace.tasks import DramatiqQueue
from tests.conftest import run_jobs
from tests.helpers import account
from tests.reviews.helpers import completed_lesson, review, tutor
from tests.scheduling.helpers import sql, student


def _moderate(
    client: TestClient[Any], admin: dict[str, str], review_id: int, action: str, reason: str
) -> Any:
    return client.post(
        f"/api/v1/admin/reviews/{review_id}/moderation",
        json={"action": action, "reason": reason},
        headers=admin,
    )


def _search_row(client: TestClient[Any], tutor_id: int) -> dict[str, Any]:
    rows = sql(
        client,
        "SELECT rating, review_count, ranking_score, document->>'review_count' AS doc_count "
        "FROM search_documents WHERE tutor_id = $1",
        tutor_id,
    )
    assert len(rows) == 1
    return dict(rows[0])


def test_reports_from_anyone_logged_in_once_each(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 1, "Terrible, call me at +44 20 7946 0000").json()["id"]
    path = f"/api/v1/reviews/{review_id}/reports"
    assert client.post(path, json={"reason": "spam"}).status_code == 401
    by_tutor = client.post(path, json={"reason": "personal_info"}, headers=lesson.tutor.headers)
    assert by_tutor.status_code == 201 and by_tutor.json()["resolved_at"] is None
    again = client.post(path, json={"reason": "spam"}, headers=lesson.tutor.headers)
    assert again.status_code == 409 and again.json()["code"] == "already_reported"
    _, other = student(client)
    bad = client.post(path, json={"reason": "boring"}, headers=other)
    assert bad.status_code == 422 and "reason" in bad.json()["fields"]
    vague = client.post(path, json={"reason": "other"}, headers=other)
    assert vague.status_code == 422 and "details" in vague.json()["fields"]
    long = client.post(path, json={"reason": "spam", "details": "x" * 1001}, headers=other)
    assert long.status_code == 422 and "details" in long.json()["fields"]
    ok = client.post(path, json={"reason": "other", "details": "Not a real lesson"}, headers=other)
    assert ok.status_code == 201
    own = client.post(path, json={"reason": "spam"}, headers=lesson.student)
    assert own.status_code == 403 and own.json()["code"] == "own_review"
    missing = client.post("/api/v1/reviews/999999/reports", json={"reason": "spam"}, headers=other)
    assert missing.status_code == 404 and missing.json()["code"] == "review_not_found"
    queue = client.get("/api/v1/admin/reviews", headers=account(client, "admin")).json()
    assert [(item["review"]["id"], item["open_reports"]) for item in queue] == [(review_id, 2)]


def test_hide_and_restore_with_recorded_reasons(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    teacher = tutor(client)
    admin = account(client, "admin")
    kept = review(client, completed_lesson(client, teacher, admin=admin), 5).json()["id"]
    bad = completed_lesson(client, teacher, admin=admin)
    bad_id = review(client, bad, 1, "Rude words").json()["id"]
    client.post(
        f"/api/v1/reviews/{bad_id}/reports",
        json={"reason": "offensive"},
        headers=teacher.headers,
    )
    run_jobs(queue)
    before = _search_row(client, teacher.id)
    assert before["review_count"] == 2 and before["rating"] == 3.0

    no_reason = _moderate(client, admin, bad_id, "hide", "  ")
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    assert _moderate(client, admin, bad_id, "erase", "x").status_code == 422
    for role in ("student", "tutor"):
        refused = _moderate(client, account(client, role), bad_id, "hide", "x")
        assert refused.status_code == 403 and refused.json()["code"] == "admin_only"

    hidden = _moderate(client, admin, bad_id, "hide", "Insults, against the guidelines")
    assert hidden.status_code == 200, hidden.text
    body = hidden.json()
    assert body["review"]["status"] == "hidden" and body["open_reports"] == 0
    assert [(h["action"], h["reason"]) for h in body["history"]] == [
        ("hide", "Insults, against the guidelines")
    ]
    assert body["reports"][0]["resolution"] == "hidden"
    twice = _moderate(client, admin, bad_id, "hide", "again")
    assert twice.status_code == 409 and twice.json()["code"] == "already_hidden"

    page = client.get(f"/api/v1/tutors/{teacher.id}/reviews").json()
    assert [r["id"] for r in page["reviews"]] == [kept]
    assert page["summary"]["count"] == 1 and page["summary"]["average"] == 5.0
    assert client.get(f"/api/v1/reviews/{bad_id}").status_code == 404  # not public
    assert client.get(f"/api/v1/reviews/{bad_id}", headers=bad.student).status_code == 200
    assert f"review-{bad_id}" not in client.get(f"/tutors/{teacher.id}").text
    run_jobs(queue)
    after = _search_row(client, teacher.id)
    assert (after["review_count"], after["rating"], after["doc_count"]) == (1, 5.0, "1")
    assert after["ranking_score"] == pytest.approx((40 + 5) / 11, abs=1e-4)
    notes = client.get("/api/v1/me/notifications", headers=bad.student).json()["items"]
    assert notes[0]["kind"] == "review.hidden" and "Insults" in notes[0]["body"]
    reply = client.post(
        f"/api/v1/reviews/{bad_id}/reply", json={"text": "Hm"}, headers=teacher.headers
    )
    assert reply.status_code == 409 and reply.json()["code"] == "review_hidden"

    assert [i["review"]["id"] for i in client.get(
        "/api/v1/admin/reviews?filter=hidden", headers=admin
    ).json()] == [bad_id]  # fmt: skip
    restored = _moderate(client, admin, bad_id, "restore", "Appeal accepted")
    assert restored.status_code == 200 and restored.json()["review"]["status"] == "published"
    assert [h["action"] for h in restored.json()["history"]] == ["hide", "restore"]
    assert _moderate(client, admin, bad_id, "restore", "x").json()["code"] == "not_hidden"
    assert client.get(f"/api/v1/tutors/{teacher.id}/reviews").json()["summary"]["count"] == 2
    run_jobs(queue)
    assert _search_row(client, teacher.id)["review_count"] == 2


def test_dismissing_reports_keeps_the_review(client: TestClient[Any]) -> None:
    lesson = completed_lesson(client)
    review_id = review(client, lesson, 2, "Honest but harsh").json()["id"]
    admin = account(client, "admin")
    nothing = _moderate(client, admin, review_id, "dismiss_reports", "Nothing to dismiss")
    assert nothing.status_code == 409 and nothing.json()["code"] == "no_open_reports"
    client.post(
        f"/api/v1/reviews/{review_id}/reports",
        json={"reason": "not_about_lesson"},
        headers=lesson.tutor.headers,
    )
    dismissed = _moderate(client, admin, review_id, "dismiss_reports", "Fair criticism")
    assert dismissed.status_code == 200
    assert dismissed.json()["review"]["status"] == "published"
    assert dismissed.json()["reports"][0]["resolution"] == "dismissed"
    assert client.get("/api/v1/admin/reviews", headers=admin).json() == []
    rows = sql(client, "SELECT action, reason, admin_id FROM review_moderations")
    assert [(r["action"], r["reason"]) for r in rows] == [("dismiss_reports", "Fair criticism")]
    assert rows[0]["admin_id"] is not None


def test_the_search_document_follows_reviews_and_edits(
    client: TestClient[Any], queue: DramatiqQueue
) -> None:
    lesson = completed_lesson(client)
    run_jobs(queue)
    assert _search_row(client, lesson.tutor.id)["review_count"] == 0
    review_id = review(client, lesson, 3).json()["id"]
    run_jobs(queue)
    row = _search_row(client, lesson.tutor.id)
    assert (row["review_count"], row["rating"]) == (1, 3.0)
    assert row["ranking_score"] == pytest.approx((40 + 3) / 11, abs=1e-4)
    client.put(f"/api/v1/reviews/{review_id}", json={"rating": 5}, headers=lesson.student)
    run_jobs(queue)
    assert _search_row(client, lesson.tutor.id)["rating"] == 5.0
    hit = client.get("/api/v1/tutors/search?sort=rating").json()["hits"][0]
    assert (hit["id"], hit["rating"], hit["review_count"]) == (lesson.tutor.id, 5.0, 1)
    assert "★" in client.get("/search?sort=rating").text


def test_moderation_queue_needs_an_admin(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/admin/reviews").status_code == 401
    assert client.get("/api/v1/admin/reviews", headers=account(client, "tutor")).status_code == 403
    admin = account(client, "admin")
    assert client.get("/api/v1/admin/reviews?filter=odd", headers=admin).status_code == 422
    assert client.get("/api/v1/admin/reviews/123", headers=admin).status_code == 404
