"""Courses over the API: catalogue, authoring, enrolment, progress and completion."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.lessons.helpers import (
    COURSE,
    course,
    finish_course,
    item,
    module,
    published_course,
    user,
)


def test_catalogue_lists_published_courses_with_filters(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    published_course(client, tutor)
    published_course(
        client,
        tutor,
        title="Piano from zero",
        instrument="piano",
        level="intermediate",
        language="pt",
    )
    course(client, tutor, title="A draft nobody sees")
    everything = client.get("/api/v1/courses").json()
    assert everything["total"] == 2
    assert {c["title"] for c in everything["items"]} == {COURSE["title"], "Piano from zero"}
    assert client.get("/api/v1/courses?instrument=piano").json()["total"] == 1
    assert client.get("/api/v1/courses?level=beginner").json()["total"] == 1
    assert client.get("/api/v1/courses?language=pt&instrument=piano").json()["total"] == 1
    assert client.get("/api/v1/courses?language=de").json()["total"] == 0
    assert client.get("/api/v1/courses?q=zero").json()["items"][0]["title"] == "Piano from zero"
    assert client.get("/api/v1/courses?per_page=500").status_code == 422
    page = client.get("/courses?instrument=piano")
    assert page.status_code == 200 and "Piano from zero" in page.text
    assert COURSE["title"] not in page.text


def test_authoring_validates_and_reorders(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    bad = client.post(
        "/api/v1/tutor/courses",
        json={**COURSE, "title": "x", "instrument": "kazoo-9000", "price_minor": 5},
        headers=tutor,
    )
    assert bad.status_code == 422
    assert {"title", "instrument", "price_minor"} <= set(bad.json()["fields"])
    c = course(client, tutor)
    m1 = module(client, tutor, c["id"], "One")
    m2 = module(client, tutor, c["id"], "Two")
    a = item(client, tutor, c["id"], m1, "text", "A", body="a")
    b = item(client, tutor, c["id"], m1, "text", "B", body="b")
    base = f"/api/v1/tutor/courses/{c['id']}"
    moved = client.post(f"{base}/items/{a['id']}/move", json={"direction": "down"}, headers=tutor)
    assert [i["title"] for i in moved.json()["modules"][0]["items"]] == ["B", "A"]
    across = client.post(f"{base}/items/{a['id']}/move", json={"direction": "down"}, headers=tutor)
    assert [i["title"] for i in across.json()["modules"][1]["items"]] == ["A"]
    order = {"modules": [{"id": m2, "items": [b["id"], a["id"]]}, {"id": m1, "items": []}]}
    r = client.put(f"{base}/order", json=order, headers=tutor)
    assert r.status_code == 200
    assert [m["title"] for m in r.json()["modules"]] == ["Two", "One"]
    incomplete = client.put(
        f"{base}/order", json={"modules": [{"id": m2, "items": [a["id"]]}]}, headers=tutor
    )
    assert incomplete.status_code == 422
    html = client.post(
        f"{base}/items",
        json={
            "kind": "text",
            "title": "XSS",
            "module_id": m1,
            "body": "<script>alert(1)</script> **bold**",
        },
        headers=tutor,
    ).json()
    assert "<script>" not in html["body_html"] and "<strong>bold</strong>" in html["body_html"]
    video = item(client, tutor, c["id"], m1, "video", "No upload yet")
    refused = client.post(f"{base}/publish", headers=tutor)
    assert refused.status_code == 422
    assert f"items[{video['id']}]" in refused.json()["fields"]
    _, other = user(client, "tutor")
    assert client.put(base, json=COURSE, headers=other).status_code == 404
    assert client.get(f"/api/v1/courses/{c['id']}").status_code == 404  # a draft is not public
    assert client.get(f"/api/v1/courses/{c['id']}", headers=tutor).status_code == 200  # preview


def test_enrolment_free_paid_twice_and_own(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    free = published_course(client, tutor)["course"]["id"]
    paid = published_course(client, tutor, title="Paid one", price_minor=2500)["course"]["id"]
    _, student = user(client, "student")
    first = client.post(f"/api/v1/courses/{free}/enrol", headers=student)
    assert first.status_code == 201 and first.json()["source"] == "free"
    twice = client.post(f"/api/v1/courses/{free}/enrol", headers=student)
    assert twice.status_code == 409 and twice.json()["code"] == "already_enrolled"
    pay = client.post(f"/api/v1/courses/{paid}/enrol", headers=student)
    assert pay.status_code == 409 and pay.json()["code"] == "payment_required"
    buy = client.post(f"/api/v1/courses/{paid}/buy", headers=student)  # the tutor has no payouts
    assert buy.status_code == 409 and buy.json()["code"] == "payouts_not_enabled"
    assert client.get(f"/api/v1/courses/{paid}").json()["price_minor"] == 2500
    assert client.post(f"/api/v1/courses/{free}/enrol", headers=tutor).status_code == 403
    assert client.post("/api/v1/me/roles", json={"role": "student"}, headers=tutor).is_success
    tutor_enrols = client.post(f"/api/v1/courses/{free}/enrol", headers=tutor)
    assert tutor_enrols.status_code == 409 and tutor_enrols.json()["code"] == "own_course"
    assert client.post(f"/api/v1/courses/{free}/enrol").status_code == 401
    mine = client.get("/api/v1/me/courses", headers=student).json()
    assert [e["course_id"] for e in mine] == [free]


async def test_grant_enrolment_is_idempotent_for_the_payment_path(
    sessions: Any, client: TestClient[Any]
) -> None:
    from lessons.courses.enrolment import grant_enrolment

    student_id, _ = user(client, "student")
    _, tutor = user(client, "tutor")
    paid = published_course(client, tutor, price_minor=2500)["course"]["id"]
    async with sessions() as session, session.begin():
        first, created = await grant_enrolment(
            session, paid, student_id, source="purchase", reference="pay_123"
        )
        again, created_again = await grant_enrolment(
            session, paid, student_id, source="purchase", reference="pay_123"
        )
    assert created and not created_again and first.id == again.id
    assert first.source == "purchase" and first.reference == "pay_123"


def test_progress_completion_and_certificate(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid = built["course"]["id"]
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{cid}/enrol", headers=student)
    quiz_done = client.post(
        f"/api/v1/courses/{cid}/items/{built['quiz']['id']}/progress",
        json={"completed": True},
        headers=student,
    )
    assert quiz_done.status_code == 422  # a quiz is completed by passing it
    mine = client.get("/api/v1/me/courses", headers=student).json()[0]
    assert mine["continue_item_id"] == built["text"]["id"] and mine["progress_percent"] == 0
    finish_course(client, student, built)
    mine = client.get("/api/v1/me/courses", headers=student).json()[0]
    assert mine["progress_percent"] == 100 and mine["completed_at"]
    code = mine["certificate_code"]
    assert code
    status = client.get(f"/api/v1/certificates/{code}").json()
    assert status["status"] == "valid" and status["signature_valid"] is True
    assert status["course_title"] == COURSE["title"]
    progress = client.get(f"/api/v1/tutor/courses/{cid}/students", headers=tutor).json()
    assert progress[0]["progress_percent"] == 100 and progress[0]["certificate_code"] == code
    assert list(progress[0]["quiz_best"].values()) == [100.0]
    assert client.get(f"/api/v1/tutor/courses/{cid}/students", headers=student).status_code == 403


def test_media_position_resumes_and_completes_near_the_end(client: TestClient[Any]) -> None:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid = built["course"]["id"]
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{cid}/enrol", headers=student)
    url = f"/api/v1/courses/{cid}/items/{built['text']['id']}/progress"
    r = client.post(url, json={"position_seconds": 42.5}, headers=student)
    assert r.json()["position_seconds"] == 42.5 and r.json()["completed"] is False
    detail = client.get(f"/api/v1/courses/{cid}", headers=student).json()
    text = detail["modules"][0]["items"][0]
    assert text["position_seconds"] == 42.5 and text["body_html"]
    assert client.post(url, json={"position_seconds": -1}, headers=student).status_code == 422
    _, stranger = user(client, "student")
    assert client.post(url, json={"completed": True}, headers=stranger).status_code == 404
    public = client.get(f"/api/v1/courses/{cid}").json()
    assert public["modules"][0]["items"][0]["body_html"] == ""  # content is for the enrolled


def test_only_approved_tutors_publish_and_suspension_hides_their_courses(
    client: TestClient[Any],
) -> None:
    from tests.helpers import account, login, register

    draft_tutor = register(client, "tutor")
    headers = login(client, draft_tutor["email"])
    c = course(client, headers)
    m = module(client, headers, c["id"], "M")
    item(client, headers, c["id"], m, "text", "T", body="text")
    r = client.post(f"/api/v1/tutor/courses/{c['id']}/publish", headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "tutor_not_approved"
    tutor_id, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    cid = built["course"]["id"]
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{cid}/enrol", headers=student)
    admin = account(client, "admin")
    client.post(
        f"/api/v1/admin/tutors/{tutor_id}/moderation",
        json={"action": "suspend", "reason": "Reported content"},
        headers=admin,
    )
    assert client.get("/api/v1/courses").json()["total"] == 0
    assert client.get(f"/api/v1/courses/{cid}").status_code == 404
    assert client.get(f"/api/v1/courses/{cid}", headers=student).status_code == 200  # enrolled
